// JSON Schema → GBNF: what each keyword lets through, and the errors for what is refused.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "smol/error.hpp"
#include "smol/grammar.hpp"

namespace smol {
namespace {

std::shared_ptr<const GrammarVocab> byte_vocab() {
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.push_back(std::string(1, static_cast<char>(b)));
  tokens.push_back("");
  return std::make_shared<GrammarVocab>(tokens);
}

struct Schema {
  explicit Schema(const std::string& schema) : gbnf(json_schema_to_gbnf(schema)), grammar(Grammar::from_gbnf(gbnf)) {}
  bool accepts(std::string_view text) const {
    GrammarMatcher m(grammar, byte_vocab(), {256});
    return m.accept_bytes(text) && m.can_end();
  }
  std::string gbnf;
  Grammar grammar;
};

std::string error_of(const std::string& schema) {
  try {
    json_schema_to_gbnf(schema);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(JsonSchema, ObjectsKeepSchemaOrderRequiredAndOptional) {
  const Schema s(R"({"type": "object", "properties": {"b": {"type": "integer"}, "a": {"type": "string"},
                     "c": {"type": "boolean"}}, "required": ["a"]})");
  EXPECT_TRUE(s.accepts(R"({"a": "x"})")) << s.gbnf;
  EXPECT_TRUE(s.accepts(R"({"b": 1, "a": "x", "c": true})"));
  EXPECT_TRUE(s.accepts(R"({"b": 1,"a": "x"})"));
  EXPECT_TRUE(s.accepts("{\n  \"a\": \"x\",\n  \"c\": false\n}"));
  EXPECT_FALSE(s.accepts(R"({"b": 1})"));             // a is required
  EXPECT_FALSE(s.accepts(R"({"a": "x", "b": 1})"));   // schema order
  EXPECT_FALSE(s.accepts(R"({"a": "x", "a": "y"})"));  // once
  EXPECT_FALSE(s.accepts(R"({"a": "x", "d": 1})"));   // no extra keys unless allowed
  EXPECT_FALSE(s.accepts(R"({"a": "x",})"));
  EXPECT_FALSE(s.accepts(R"({  "a": "x"})"));  // bounded whitespace
}

TEST(JsonSchema, AdditionalPropertiesNeverRepeatADeclaredName) {
  const Schema s(R"({"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"],
                     "additionalProperties": {"type": "string"}})");
  EXPECT_TRUE(s.accepts(R"({"id": 1, "i": "a", "idx": "b", "": "c"})")) << s.gbnf;
  EXPECT_FALSE(s.accepts(R"({"id": 1, "id": "a"})"));
  EXPECT_FALSE(s.accepts(R"({"id": 1, "x": 2})"));
  EXPECT_FALSE(s.accepts(R"({"id": 1, "\u0069d": "a"})")) << "extra keys have no escapes";
  const Schema any(R"({"type": "object"})");
  EXPECT_TRUE(any.accepts(R"({"k": [1, {"z": null}], "e": "\ud83d\ude00"})"));
  EXPECT_FALSE(any.accepts(R"({"k": "\ud83d"})")) << "a lone surrogate escape";
  EXPECT_FALSE(any.accepts("[]"));
}

TEST(JsonSchema, ArraysStringsEnumsConst) {
  const Schema arr(R"({"type": "array", "items": {"enum": ["a", 1, null]}, "minItems": 1, "maxItems": 2})");
  EXPECT_TRUE(arr.accepts(R"(["a"])")) << arr.gbnf;
  EXPECT_TRUE(arr.accepts(R"([1, null])"));
  EXPECT_FALSE(arr.accepts("[]"));
  EXPECT_FALSE(arr.accepts(R"([1, 1, 1])"));
  EXPECT_FALSE(arr.accepts(R"(["b"])"));
  const Schema tuple(R"({"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}], "items": false})");
  EXPECT_TRUE(tuple.accepts("[]"));
  EXPECT_TRUE(tuple.accepts(R"([1, "x"])"));
  EXPECT_FALSE(tuple.accepts(R"([1, "x", 2])"));
  EXPECT_FALSE(tuple.accepts(R"(["x"])"));
  const Schema str(R"({"type": "string", "minLength": 2, "maxLength": 3})");
  EXPECT_TRUE(str.accepts(R"("\u00e9\n")"));
  EXPECT_TRUE(str.accepts("\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\""));  // code points, not bytes
  EXPECT_FALSE(str.accepts(R"("a")"));
  EXPECT_FALSE(str.accepts(R"("abcd")"));
  const Schema c(R"({"const": {"k": [true, "q\""]}})");
  EXPECT_TRUE(c.accepts(R"({"k":[true,"q\""]})"));
  const Schema typed_enum(R"({"type": "string", "enum": ["x", 1]})");
  EXPECT_TRUE(typed_enum.accepts(R"("x")"));
  EXPECT_FALSE(typed_enum.accepts("1")) << "an enum value the type refuses is dropped";
}

TEST(JsonSchema, IntegerBoundsAreExact) {
  for (const auto& [lo, hi] : std::vector<std::pair<int, int>>{{-50, 50}, {7, 1234}, {-1234, -7}, {0, 0}, {95, 105}}) {
    const Schema s(fmt::format(R"({{"type": "integer", "minimum": {}, "maximum": {}}})", lo, hi));
    for (int x = lo - 30; x <= hi + 30; ++x) {
      EXPECT_EQ(s.accepts(std::to_string(x)), x >= lo && x <= hi) << x << " in [" << lo << ", " << hi << "]";
    }
    EXPECT_FALSE(s.accepts("-0"));
    EXPECT_FALSE(s.accepts("007"));
  }
  const Schema open(R"({"type": "integer", "exclusiveMinimum": 99})");
  EXPECT_FALSE(open.accepts("99"));
  EXPECT_TRUE(open.accepts("100"));
  EXPECT_TRUE(open.accepts("123456789"));
  const Schema below(R"({"type": "integer", "maximum": -7})");
  EXPECT_TRUE(below.accepts("-7"));
  EXPECT_TRUE(below.accepts("-70000"));
  EXPECT_FALSE(below.accepts("-6"));
  EXPECT_FALSE(below.accepts("0"));
}

TEST(JsonSchema, NumberBoundsProduceOnlyValuesInside) {
  const Schema s(R"({"type": "number", "minimum": -2.5, "maximum": 3.5})");
  for (const char* ok : {"-2", "3", "0", "0.75", "2.999", "-1.5", "-0.5"}) {
    EXPECT_TRUE(s.accepts(ok)) << ok << "\n" << s.gbnf;
  }
  for (const char* bad : {"-3", "4", "3.5", "-2.5", "1e2", "-0", "3.1", "-2.1", "1.0"}) EXPECT_FALSE(s.accepts(bad)) << bad;
  const Schema ex(R"({"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1})");
  EXPECT_FALSE(ex.accepts("0"));
  EXPECT_FALSE(ex.accepts("1"));
  EXPECT_FALSE(ex.accepts("0.0"));
  EXPECT_TRUE(ex.accepts("0.25"));
  EXPECT_NE(error_of(R"({"type": "number", "minimum": 0.2, "maximum": 0.7})").find("integer part"), std::string::npos);
}

TEST(JsonSchema, FormatsRefsCombinators) {
  const Schema date(R"({"type": "string", "format": "date"})");
  EXPECT_TRUE(date.accepts(R"("2024-02-29")"));
  EXPECT_TRUE(date.accepts(R"("2000-02-29")"));
  EXPECT_FALSE(date.accepts(R"("1900-02-29")"));
  EXPECT_FALSE(date.accepts(R"("2023-04-31")"));
  EXPECT_FALSE(date.accepts(R"("2023-13-01")"));
  const Schema dt(R"({"type": "string", "format": "date-time"})");
  EXPECT_TRUE(dt.accepts(R"("2024-05-06T23:59:59.123+02:00")"));
  EXPECT_FALSE(dt.accepts(R"("2024-05-06T24:00:00Z")"));
  const Schema uuid(R"({"type": "string", "format": "uuid"})");
  EXPECT_TRUE(uuid.accepts(R"("123e4567-e89b-12d3-a456-426614174000")"));
  EXPECT_FALSE(uuid.accepts(R"("123e4567e89b12d3a456426614174000")"));
  const Schema tree(R"({"$defs": {"n": {"type": "object", "properties": {"c": {"type": "array", "items": {"$ref": "#/$defs/n"}}},
                        "additionalProperties": false}}, "$ref": "#/$defs/n"})");
  EXPECT_TRUE(tree.accepts(R"({"c": [{"c": [{}]}, {}]})")) << tree.gbnf;
  const Schema any_of(R"({"anyOf": [{"type": "integer"}, {"type": "string", "maxLength": 1}], "description": "x"})");
  EXPECT_TRUE(any_of.accepts("12"));
  EXPECT_TRUE(any_of.accepts(R"("a")"));
  EXPECT_FALSE(any_of.accepts(R"("ab")"));
  const Schema types(R"({"type": ["integer", "null"]})");
  EXPECT_TRUE(types.accepts("null"));
  EXPECT_FALSE(types.accepts("1.5"));
  const Schema nullable(R"({"type": "string", "nullable": true})");
  EXPECT_TRUE(nullable.accepts("null"));
  const Schema one_of(R"({"oneOf": [{"type": "object", "properties": {"k": {"const": 1}}, "required": ["k"]},
                                    {"type": "object", "properties": {"k": {"const": 2}}, "required": ["k"]}]})");
  EXPECT_TRUE(one_of.accepts(R"({"k": 2})"));
}

TEST(JsonSchema, RefusesWhatItCannotHonour) {
  EXPECT_EQ(error_of(R"({"type": "string", "pattern": "^a+$"})"),
            "JSON Schema: the keyword 'pattern' is not supported (smol would have to ignore it)");
  EXPECT_EQ(error_of(R"({"type": "object", "properties": {"x": {"type": "string", "format": "email"}}})"),
            "JSON Schema at /properties/x/format: the format 'email' is not supported (date, time, date-time, uuid are)");
  EXPECT_NE(error_of(R"({"type": "array", "uniqueItems": true})").find("uniqueItems"), std::string::npos);
  EXPECT_NE(error_of(R"({"oneOf": [{"type": "integer"}, {"type": "number"}]})").find("use anyOf"), std::string::npos);
  EXPECT_NE(error_of(R"({"$ref": "other.json#/x"})").find("not a local reference"), std::string::npos);
  EXPECT_NE(error_of(R"({"$ref": "#/$defs/missing"})").find("points at nothing"), std::string::npos);
  EXPECT_NE(error_of(R"({"type": "integer", "multipleOf": 3})").find("'multipleOf'"), std::string::npos);
  EXPECT_NE(error_of(R"({"allOf": [{"type": "integer"}, {"minimum": 1}]})").find("allOf"), std::string::npos);
  EXPECT_NE(error_of(R"({"type": "integer", "minimum": 5, "maximum": 4})").find("no integer"), std::string::npos);
  EXPECT_NE(error_of("false").find("allows no value"), std::string::npos);
  EXPECT_NE(error_of("{").find("not valid JSON"), std::string::npos);
  EXPECT_NE(error_of(R"({"type": "strin"})").find("'strin' is not a JSON Schema type"), std::string::npos);
  EXPECT_NE(error_of(R"({"anyOf": [{"type": "integer"}], "minimum": 3})").find("move it into each branch"), std::string::npos);
  EXPECT_NE(error_of(R"({"minLength": 1, "minimum": 2})").find("say which types"), std::string::npos);
}

TEST(JsonSchema, JsonObjectGrammarIsAnyObject) {
  const Grammar g = Grammar::from_gbnf(json_object_gbnf());
  GrammarMatcher m(g, byte_vocab(), {256});
  EXPECT_TRUE(m.accept_bytes(R"({"a": {"b": [1.5e-3, "x", false]}})"));
  EXPECT_TRUE(m.can_end());
}

}  // namespace
}  // namespace smol
