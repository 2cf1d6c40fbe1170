// libFuzzer target: generation_config.json, and config.json's legacy generation fields
// (from_model_config), then validate(). Anything but success or smol::Error is a bug.
#include "fuzz/fuzz_util.hpp"
#include "smol/error.hpp"
#include "smol/generation_config.hpp"
#include "smol/json_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nlohmann::json object;
  try {
    object = smol::parse_json_text(smol::fuzz::as_text(data, size), "generation_config.json");
  } catch (const smol::Error&) {
    return 0;
  }
  for (bool from_model_config : {false, true}) {
    try {
      const smol::GenerationConfig c =
          smol::GenerationConfig::from_json(object, "generation_config.json", from_model_config);
      c.validate();
      smol::fuzz::touch(smol::early_stopping_name(c.early_stopping));
    } catch (const smol::Error&) {
    }
  }
  return 0;
}
