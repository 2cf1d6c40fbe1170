// libFuzzer target: config.json as the decoder-only (Llama/SmolLM2) and the encoder-decoder
// (BART, mBART, Marian) loaders read it, after the same JSON parse. Anything but success or
// smol::Error is a bug.
#include "fuzz/fuzz_util.hpp"
#include "smol/error.hpp"
#include "smol/json_file.hpp"
#include "smol/model_config.hpp"
#include "smol/seq2seq.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nlohmann::json config;
  try {
    config = smol::parse_json_text(smol::fuzz::as_text(data, size), "config.json");
  } catch (const smol::Error&) {
    return 0;
  }
  try {
    const smol::ModelConfig c = smol::ModelConfig::from_json(config, "config.json");
    smol::fuzz::touch(c.to_json().dump());
  } catch (const smol::Error&) {
  }
  try {
    if (smol::Seq2SeqConfig::is_seq2seq(config)) {
      const smol::Seq2SeqConfig c = smol::Seq2SeqConfig::from_json(config, "config.json");
      volatile int head_dim = c.decoder.heads > 0 ? c.head_dim() : 0;
      (void)head_dim;
    }
  } catch (const smol::Error&) {
  }
  try {
    (void)smol::Seq2SeqConfig::from_json(config, "config.json");
  } catch (const smol::Error&) {
  }
  return 0;
}
