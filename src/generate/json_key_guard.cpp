// JsonKeyGuard: unique object keys in grammar-constrained JSON. A context-free grammar cannot
// forbid `{"a": 1, "a": 2}`, and a random-weight model at temperature 1 under `--json` wrote a
// repeated key in 1 of 150 documents (keys spelled by tokens such as `","`). The guard follows
// the JSON structure byte by byte (the grammar keeps it well formed) with the keys of every open
// object, decoded as a JSON parser decodes them, and refuses a token whose bytes would close a
// key that its object already has. Only tokens holding a `"` can close a key, so a check costs
// nothing for the others.
#include <cmath>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "generate/grammar_vocab.hpp"
#include "smol/error.hpp"
#include "smol/grammar.hpp"

namespace smol {

namespace {

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

// A copy is cheap: frames share their key sets, and a copy never changes a shared set (keys it
// closes go to the frame's own `fresh` list), so a token can be tried on a copy.
struct JsonKeyGuard::Tracker {
  struct Frame {
    bool object = false;
    bool expect_key = false;
    std::shared_ptr<std::set<std::string>> keys;
    std::vector<std::string> fresh;  // keys closed by a trial copy
  };
  std::vector<Frame> stack;
  bool in_string = false, is_key = false;
  int escape = 0;           // 0: none; 1: after '\'; 2..5: hex digits of \u read so far + 1
  uint32_t unit = 0;        // the \u code unit being read
  uint32_t high = 0;        // a high surrogate waiting for its low half
  std::string key;          // the decoded key so far
  bool trial = false;       // a copy being tried: never touch shared sets

  bool has_key(const Frame& f, const std::string& k) const {
    if (f.keys && f.keys->count(k)) return true;
    for (const std::string& x : f.fresh) {
      if (x == k) return true;
    }
    return false;
  }

  void key_char(uint32_t cp) {
    if (!is_key) return;
    if (high) {
      if (cp >= 0xDC00 && cp <= 0xDFFF) {
        append_utf8(key, 0x10000 + ((high - 0xD800) << 10) + (cp - 0xDC00));
        high = 0;
        return;
      }
      append_utf8(key, high);
      high = 0;
    }
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      high = cp;
      return;
    }
    append_utf8(key, cp);
  }

  // False when the byte closes a repeated key (the tracker is then left as it was before it).
  bool push(char c) {
    if (in_string) {
      if (escape == 1) {
        escape = 0;
        switch (c) {
          case 'u': escape = 2; unit = 0; return true;
          case 'b': key_char('\b'); return true;
          case 'f': key_char('\f'); return true;
          case 'n': key_char('\n'); return true;
          case 'r': key_char('\r'); return true;
          case 't': key_char('\t'); return true;
          default: key_char(static_cast<unsigned char>(c)); return true;  // " \ /
        }
      }
      if (escape >= 2) {
        const int h = hex_value(c);
        unit = unit * 16 + static_cast<uint32_t>(h < 0 ? 0 : h);
        if (++escape == 6) {
          escape = 0;
          key_char(unit);
        }
        return true;
      }
      if (c == '\\') {
        escape = 1;
        return true;
      }
      if (c != '"') {
        if (is_key) {
          if (high) {
            append_utf8(key, high);
            high = 0;
          }
          key += c;  // raw bytes, UTF-8 as it comes
        }
        return true;
      }
      in_string = false;
      if (!is_key) return true;
      if (high) {
        append_utf8(key, high);
        high = 0;
      }
      Frame& f = stack.back();
      if (has_key(f, key)) {
        in_string = true;  // as before the quote
        return false;
      }
      if (trial || !f.keys) {
        f.fresh.push_back(key);
      } else {
        f.keys->insert(key);
      }
      f.expect_key = false;
      is_key = false;
      return true;
    }
    switch (c) {
      case '{': stack.push_back({true, true, trial ? nullptr : std::make_shared<std::set<std::string>>(), {}}); break;
      case '[': stack.push_back({false, false, nullptr, {}}); break;
      case '}':
      case ']':
        if (!stack.empty()) stack.pop_back();
        break;
      case ',':
        if (!stack.empty() && stack.back().object) stack.back().expect_key = true;
        break;
      case '"':
        in_string = true;
        is_key = !stack.empty() && stack.back().object && stack.back().expect_key;
        key.clear();
        high = 0;
        break;
      default: break;  // numbers, literals, whitespace, ':' and text around the JSON
    }
    return true;
  }
};

JsonKeyGuard::JsonKeyGuard(std::unique_ptr<SequenceConstraint> inner, std::shared_ptr<const GrammarVocab> vocab)
    : inner_(std::move(inner)), vocab_(std::move(vocab)), tracker_(std::make_unique<Tracker>()) {
  if (!inner_) throw Error("JsonKeyGuard needs the constraint it guards");
  const auto& bytes = vocab_->impl().bytes;
  for (size_t t = 0; t < bytes.size(); ++t) {
    if (bytes[t].find('"') != std::string::npos) quote_tokens_.push_back(static_cast<int32_t>(t));
  }
}

JsonKeyGuard::~JsonKeyGuard() = default;

bool JsonKeyGuard::keeps_keys_unique(int32_t token) const {
  const auto& bytes = vocab_->impl().bytes;
  if (token < 0 || static_cast<size_t>(token) >= bytes.size()) return true;  // end ids: the inner constraint decides
  const std::string& b = bytes[token];
  if (b.find('"') == std::string::npos) return true;
  Tracker trial = *tracker_;
  trial.trial = true;
  for (char c : b) {
    if (!trial.push(c)) return false;
  }
  return true;
}

bool JsonKeyGuard::allows(int32_t token) { return inner_->allows(token) && keeps_keys_unique(token); }

void JsonKeyGuard::mask(std::span<float> logits) {
  inner_->mask(logits);
  std::vector<int32_t> refused;
  for (int32_t t : quote_tokens_) {
    if (static_cast<size_t>(t) < logits.size() && std::isfinite(logits[t]) && !keeps_keys_unique(t)) refused.push_back(t);
  }
  if (refused.empty()) return;
  size_t left = 0;
  for (float x : logits) left += std::isfinite(x) ? 1 : 0;
  if (left == refused.size()) return;  // refusing would leave nothing: the grammar's choice stands
  for (int32_t t : refused) logits[t] = -INFINITY;
}

void JsonKeyGuard::accept(int32_t token) {
  inner_->accept(token);
  const auto& bytes = vocab_->impl().bytes;
  if (token < 0 || static_cast<size_t>(token) >= bytes.size()) return;
  for (char c : bytes[token]) {
    if (!tracker_->push(c)) {
      // Only reachable when mask() let a repeated key through to avoid a dead end: record
      // the key as closed and go on.
      tracker_->in_string = false;
      tracker_->is_key = false;
      if (!tracker_->stack.empty()) tracker_->stack.back().expect_key = false;
    }
  }
}

bool JsonKeyGuard::accept_bytes(std::string_view bytes) {
  Tracker trial = *tracker_;
  trial.trial = true;
  for (char c : bytes) {
    if (!trial.push(c)) return false;
  }
  for (char c : bytes) tracker_->push(c);
  return true;
}

}  // namespace smol
