// Schema-independent GBNF for the JSON Schema converter: literals, digit-range grammars for
// integer bounds (the "regex for a numeric range" construction, as llama.cpp's
// json-schema-to-grammar does), the bounded-number subset, formats and JSON primitives.
#include "generate/json_schema_rules.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace smol::json_gbnf {

namespace {

constexpr int64_t kMaxAbs = 9'999'999'999'999'999;  // 16 digits, as the unbounded integer rule

std::string digit_class(char lo, char hi) {
  if (lo == hi) return fmt::format("\"{}\"", lo);
  if (lo == '0' && hi == '9') return "[0-9]";
  return fmt::format("[{}-{}]", lo, hi);
}

std::string any_digits(size_t n) {
  if (n == 0) return "";
  if (n == 1) return " [0-9]";
  return fmt::format(" [0-9]{{{}}}", n);
}

// Digit strings of one length n between a and b (a <= b, same length, no sign).
void same_length(const std::string& a, const std::string& b, std::string prefix, std::vector<std::string>& out) {
  const size_t n = a.size();
  if (n == 1) {
    out.push_back(prefix + digit_class(a[0], b[0]));
    return;
  }
  if (a[0] == b[0]) {
    same_length(a.substr(1), b.substr(1), prefix + fmt::format("\"{}\" ", a[0]), out);
    return;
  }
  const bool a_rest_zero = a.find_first_not_of('0', 1) == std::string::npos;
  const bool b_rest_nine = b.find_first_not_of('9', 1) == std::string::npos;
  char mid_lo = static_cast<char>(a[0] + 1), mid_hi = static_cast<char>(b[0] - 1);
  if (a_rest_zero) mid_lo = a[0];
  else same_length(a.substr(1), std::string(n - 1, '9'), prefix + fmt::format("\"{}\" ", a[0]), out);
  if (b_rest_nine) mid_hi = b[0];
  if (mid_lo <= mid_hi) out.push_back(prefix + digit_class(mid_lo, mid_hi) + any_digits(n - 1));
  if (!b_rest_nine) same_length(std::string(n - 1, '0'), b.substr(1), prefix + fmt::format("\"{}\" ", b[0]), out);
}

// Non-negative integers in [a, b].
void unsigned_range(int64_t a, int64_t b, std::string prefix, std::vector<std::string>& out) {
  if (a > b) return;
  std::string sa = std::to_string(a);
  const std::string sb = std::to_string(b);
  while (sa.size() < sb.size()) {
    const std::string top(sa.size(), '9');
    same_length(sa, top, prefix, out);
    sa = "1" + std::string(sa.size(), '0');
  }
  same_length(sa, sb, prefix, out);
}

std::string join(const std::vector<std::string>& alts) {
  if (alts.empty()) return "";
  std::string s = "(";
  for (size_t i = 0; i < alts.size(); ++i) s += (i ? " | " : "") + alts[i];
  return s + ")";
}

}  // namespace

std::string literal(std::string_view text) {
  std::string s = "\"";
  for (unsigned char c : text) {
    if (c == '"') s += "\\\"";
    else if (c == '\\') s += "\\\\";
    else if (c < 0x20 || c == 0x7F) s += fmt::format("\\x{:02X}", c);
    else s += static_cast<char>(c);
  }
  return s + "\"";
}

std::string class_char(uint32_t cp) {
  if (cp < 0x100) return fmt::format("\\x{:02X}", cp);
  if (cp < 0x10000) return fmt::format("\\u{:04X}", cp);
  return fmt::format("\\U{:08X}", cp);
}

std::string integer_range(std::optional<int64_t> lo, std::optional<int64_t> hi) {
  const int64_t low = std::max(lo.value_or(-kMaxAbs), -kMaxAbs);
  const int64_t high = std::min(hi.value_or(kMaxAbs), kMaxAbs);
  std::vector<std::string> alts;
  if (low <= high) {
    if (low < 0) unsigned_range(std::max<int64_t>(1, -std::min<int64_t>(high, -1)), -low, "\"-\" ", alts);
    if (high >= 0) unsigned_range(std::max<int64_t>(0, low), high, "", alts);
  }
  return join(alts);
}

std::string bounded_number(std::optional<double> lo, bool lo_exclusive, std::optional<double> hi, bool hi_exclusive) {
  auto clamp = [](double x) { return static_cast<int64_t>(std::clamp(x, -1e16, 1e16)); };
  std::optional<int64_t> lint, hint;
  if (lo) lint = clamp(lo_exclusive ? std::floor(*lo) + 1 : std::ceil(*lo));
  if (hi) hint = clamp(hi_exclusive ? std::ceil(*hi) - 1 : std::floor(*hi));
  std::vector<std::string> alts;
  const std::string ints = integer_range(lint, hint);
  if (!ints.empty()) alts.push_back(ints);
  // A decimal whose last digit is not 0 lies strictly between its integer part and the next:
  // n.ddd in (n, n + 1) for n >= 0, -m.ddd in (-(m + 1), -m) for m >= 0. Both ends of that
  // open interval must be inside the bounds (exclusive or not).
  std::optional<int64_t> pos_lo = std::max<int64_t>(0, lo ? clamp(std::ceil(*lo)) : 0), pos_hi, neg_lo, neg_hi;
  neg_lo = std::max<int64_t>(0, hi ? -clamp(std::floor(*hi)) : 0);
  if (hi) pos_hi = clamp(std::floor(*hi)) - 1;
  if (lo) neg_hi = clamp(std::floor(-*lo)) - 1;
  std::vector<std::string> frac;
  const std::string pos = integer_range(pos_lo, pos_hi);
  if (!pos.empty()) frac.push_back(pos);
  const std::string neg = integer_range(neg_lo, neg_hi);
  if (!neg.empty()) frac.push_back("\"-\" " + neg);
  if (!frac.empty()) alts.push_back(join(frac) + " \".\" [0-9]{0,15} [1-9]");
  return join(alts);
}

const std::vector<Primitive>& primitives() {
  static const std::vector<Primitive> kPrimitives = {
      {"ws", R"(| " " | "\n" [ \t]{0,20})", {}},
      {"value", "object | array | string | number | boolean | null", {"object", "array", "string", "number", "boolean", "null"}},
      {"object", R"("{" ws ( string ":" ws value ( "," ws string ":" ws value )* ws )? "}")", {"ws", "string", "value"}},
      {"array", R"("[" ws ( value ( "," ws value )* ws )? "]")", {"ws", "value"}},
      {"string", R"("\"" char* "\"")", {"char"}},
      // Unescaped characters, simple escapes, \u escapes of non-surrogates and of surrogate
      // pairs only (a lone surrogate is not valid text).
      {"char", R"([^"\\\x00-\x1F\x7F] | "\\" ( ["\\/bfnrt] | "u" ( [0-9a-cA-CeEfF] hex hex hex | [dD] [0-7] hex hex | [dD] [89abAB] hex hex "\\u" [dD] [c-fC-F] hex hex ) ))", {"hex"}},
      {"hex", "[0-9a-fA-F]", {}},
      {"number", R"("-"? ( "0" | [1-9] [0-9]{0,15} ) ( "." [0-9]{1,16} )? ( [eE] [-+]? [0-9]{1,2} )?)", {}},
      {"integer", R"("-"? ( "0" | [1-9] [0-9]{0,15} ))", {}},
      {"boolean", R"("true" | "false")", {}},
      {"null", R"("null")", {}},
      {"date", R"(year "-" ( "0" [13578] | "1" [02] ) "-" ( "0" [1-9] | [12] [0-9] | "3" [01] ) | year "-" ( "0" [469] | "11" ) "-" ( "0" [1-9] | [12] [0-9] | "30" ) | year "-02-" ( "0" [1-9] | "1" [0-9] | "2" [0-8] ) | leap-year "-02-29")", {"year", "leap-year"}},
      {"year", "[0-9]{4}", {}},
      {"leap-year", R"([0-9]{2} ( "0" [48] | [2468] [048] | [13579] [26] ) | ( "0" [48] | [2468] [048] | [13579] [26] | "00" ) "00")", {}},
      {"time", R"(( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9] ":" [0-5] [0-9] ( "." [0-9]{1,6} )? ( "Z" | [+-] ( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9] ))", {}},
      {"date-time", R"(date "T" time)", {"date", "time"}},
      {"uuid", R"([0-9a-f]{8} "-" [0-9a-f]{4} "-" [0-9a-f]{4} "-" [0-9a-f]{4} "-" [0-9a-f]{12})", {}},
  };
  return kPrimitives;
}

const Primitive* find_primitive(std::string_view name) {
  for (const Primitive& p : primitives()) {
    if (name == p.name) return &p;
  }
  return nullptr;
}

}  // namespace smol::json_gbnf
