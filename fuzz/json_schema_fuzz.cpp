// libFuzzer target: JSON Schema -> GBNF -> matcher. The input is a JSON Schema, then optionally
// a NUL and the bytes that steer a walk (fuzz/grammar_walk.hpp). A schema is either refused
// with smol::Error or its GBNF must compile (a schema smol accepts never yields a grammar smol
// refuses), and every document the walk completes must be strict JSON: it parses, has no
// NaN/Infinity, and is an object when the schema is {"type": "object"}-like json_object_gbnf().
#include <nlohmann/json.hpp>

#include "fuzz/fuzz_util.hpp"
#include "fuzz/grammar_walk.hpp"

namespace {

void must_be_json(const std::string& text) {
  // nlohmann rejects NaN, Infinity, leading zeros, bad escapes and invalid UTF-8.
  if (!nlohmann::json::accept(text)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto [schema, choices] = smol::fuzz::split_walk_input(smol::fuzz::as_text(data, size),
                                                                "\x01\x07\x03\x11\x05\x0d\x02\x13\x17\x1d\x0b\x09");
  std::string gbnf;
  try {
    gbnf = schema == "object" ? smol::json_object_gbnf() : smol::json_schema_to_gbnf(schema);
  } catch (const smol::Error&) {
    return 0;
  }
  const smol::Grammar grammar = smol::Grammar::from_gbnf(gbnf);  // throwing here is a finding
  smol::fuzz::walk(grammar, choices, must_be_json);
  return 0;
}
