// oneOf is honoured as an alternation only when no value can match two branches; this tells
// (conservatively) when branches exclude each other.
#include "generate/json_schema_words.hpp"

#include <algorithm>
#include <vector>

namespace smol::json_gbnf {

namespace {

struct Checker {
  const std::function<const Json&(const std::string&)>& deref;

  // What a branch of oneOf can be: a finite set of values, or values of some types.
  struct Kind {
    std::optional<std::vector<Json>> values;
    std::set<std::string> types;  // empty with no values: anything
    const Json* schema = nullptr;
  };

  Kind kind_of(const Json& s0, int depth = 0) {
    const Json* s = &s0;
    while (s->is_object() && s->contains("$ref") && depth++ < 64) s = &deref((*s)["$ref"].get<std::string>());
    Kind k;
    k.schema = s;
    if (!s->is_object()) return k;
    if (s->contains("const")) {
      k.values = std::vector<Json>{(*s)["const"]};
    } else if (s->contains("enum") && (*s)["enum"].is_array()) {
      k.values = std::vector<Json>((*s)["enum"].begin(), (*s)["enum"].end());
    }
    if (s->contains("type")) {
      const Json& t = (*s)["type"];
      if (t.is_string()) k.types.insert(t.get<std::string>());
      if (t.is_array()) {
        for (const Json& x : t) {
          if (x.is_string()) k.types.insert(x.get<std::string>());
        }
      }
      if (s->value("nullable", false)) k.types.insert("null");
    } else if (has_any(*s, kObjectWords)) {
      k.types = {"object"};
    } else if (has_any(*s, kArrayWords)) {
      k.types = {"array"};
    } else if (has_any(*s, kStringWords)) {
      k.types = {"string"};
    } else if (has_any(*s, kNumberWords)) {
      k.types = {"number"};
    }
    return k;
  }

  bool types_overlap(const std::set<std::string>& a, const std::set<std::string>& b) {
    if (a.empty() || b.empty()) return true;
    for (const auto& x : a) {
      for (const auto& y : b) {
        if (x == y || (x == "number" && y == "integer") || (x == "integer" && y == "number")) return true;
      }
    }
    return false;
  }

  bool disjoint(const Kind& a, const Kind& b) {
    if (a.values && b.values) {
      for (const Json& x : *a.values) {
        if (std::find(b.values->begin(), b.values->end(), x) != b.values->end()) return false;
      }
      return true;
    }
    if (a.values || b.values) {
      const Kind& v = a.values ? a : b;
      const Kind& t = a.values ? b : a;
      if (t.types.empty()) return false;
      for (const Json& x : *v.values) {
        for (const auto& ty : t.types) {
          if (type_accepts(ty, x)) return false;
        }
      }
      return true;
    }
    if (!types_overlap(a.types, b.types)) return true;
    // Two object schemas told apart by a property both require with different values.
    if (a.types == std::set<std::string>{"object"} && b.types == a.types) {
      const Json& sa = *a.schema;
      const Json& sb = *b.schema;
      if (!sa.contains("properties") || !sb.contains("properties") || !sa.contains("required") || !sb.contains("required")) {
        return false;
      }
      for (const Json& r : sa["required"]) {
        if (!r.is_string() || std::find(sb["required"].begin(), sb["required"].end(), r) == sb["required"].end()) continue;
        const std::string name = r.get<std::string>();
        if (!sa["properties"].contains(name) || !sb["properties"].contains(name)) continue;
        const Kind pa = kind_of(sa["properties"][name]), pb = kind_of(sb["properties"][name]);
        if (pa.values && pb.values && disjoint(pa, pb)) return true;
      }
    }
    return false;
  }

};

}  // namespace

std::optional<std::pair<size_t, size_t>> overlapping_branches(const Json& list,
                                                               const std::function<const Json&(const std::string&)>& deref) {
  Checker c{deref};
  std::vector<Checker::Kind> kinds;
  for (const Json& s : list) kinds.push_back(c.kind_of(s));
  for (size_t i = 0; i < kinds.size(); ++i) {
    for (size_t j = i + 1; j < kinds.size(); ++j) {
      if (!c.disjoint(kinds[i], kinds[j])) return std::pair{i, j};
    }
  }
  return std::nullopt;
}

}  // namespace smol::json_gbnf
