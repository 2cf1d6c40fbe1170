// libFuzzer target: the real SmolLM2 chat template (its tokenizer_config.json from ../shared)
// rendered with fuzzed conversations, and the prompt encoded by its tokenizer, as `smol chat`
// and the server do. The input is cut into messages: a role (one of the usual ones, or any
// text) and a content each. Anything but success or smol::Error is a bug.
#include <fuzzer/FuzzedDataProvider.h>

#include "fuzz/fuzz_util.hpp"
#include "smol/chat_template.hpp"
#include "smol/error.hpp"
#include "smol/tokenizer.hpp"

namespace {

struct Model {
  smol::ChatTemplate chat;
  smol::Tokenizer tokenizer;
};

const Model& model() {
  static const Model m{smol::ChatTemplate::from_tokenizer_config(smol::fuzz::smollm2_dir() / "tokenizer_config.json"),
                       smol::Tokenizer::from_file(smol::fuzz::smollm2_dir() / "tokenizer.json")};
  return m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Model& m = model();
  FuzzedDataProvider in(data, size);
  const bool add_generation_prompt = in.ConsumeBool();
  std::vector<smol::ChatMessage> messages;
  static const char* const kRoles[] = {"system", "user", "assistant", "tool"};
  while (in.remaining_bytes() > 0 && messages.size() < 64) {
    smol::ChatMessage message;
    const uint8_t pick = in.ConsumeIntegralInRange<uint8_t>(0, 4);
    message.role = pick < 4 ? kRoles[pick] : in.ConsumeRandomLengthString(16);
    message.content = in.ConsumeRandomLengthString(256);
    messages.push_back(std::move(message));
  }
  try {
    const std::string prompt = m.chat.render(messages, add_generation_prompt);
    const std::vector<int32_t> ids = m.tokenizer.encode(prompt);
    smol::fuzz::touch(m.tokenizer.decode(ids));
  } catch (const smol::Error&) {
  }
  return 0;
}
