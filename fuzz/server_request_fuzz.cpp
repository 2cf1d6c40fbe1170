// libFuzzer target: the HTTP request bodies of POST /v1/chat/completions and /v1/completions
// through the layer the server runs before any model work: parse_completion_request, the
// sampling checks, the prompt (the real SmolLM2 chat template rendered with the messages and
// tools, or the prompt text, encoded by its tokenizer), a forced tool call's grammar, the
// tool-call reader, the stop strings applied to that text in pieces,
// and the error body of a rejected request. Errors must be ApiError (answered as a 400) or
// smol::Error; anything else is a bug.
#include <cstdlib>

#include "fuzz/fuzz_util.hpp"
#include "server/openai_api.hpp"
#include "server/stop_matcher.hpp"
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

void stop_strings(const std::vector<std::string>& stops, const std::string& text) {
  smol::server::StopMatcher matcher(stops);
  std::string out;
  for (size_t i = 0; i < text.size() && !matcher.matched(); i += 3) out += matcher.push(text.substr(i, 3));
  if (!matcher.matched()) out += matcher.flush();
  if (out.size() > text.size() || text.compare(0, out.size(), out) != 0) std::abort();  // a prefix of the text
}

void request(const std::string& body, smol::server::Endpoint endpoint) {
  const Model& m = model();
  try {
    const smol::server::CompletionParams params = smol::server::parse_completion_request(body, endpoint);
    try {
      params.sampling.validate();
    } catch (const smol::Error&) {
      return;
    }
    std::string text;
    if (endpoint == smol::server::Endpoint::Chat) {
      text = smol::server::render_chat_prompt(m.chat, params);
      if (params.tools) {
        const auto& tools = *params.tools;
        if (tools.choice == smol::server::ToolChoice::Required || tools.choice == smol::server::ToolChoice::Function) {
          smol::server::tool_call_grammar(tools, smol::server::ToolCallSyntax::Hermes);
          smol::server::tool_call_grammar(tools, smol::server::ToolCallSyntax::SmolLM2List);
        }
        // The rendered prompt as if it were an answer: the tool-call reader on arbitrary text.
        const smol::server::ParsedAnswer answer = smol::server::parse_tool_calls(text, tools.names);
        if (answer.calls.empty() && answer.content != text) std::abort();  // without calls the text is kept
      }
    } else if (params.prompt_ids.empty()) {
      text = params.prompt;
    } else {
      text = m.tokenizer.decode(params.prompt_ids);
    }
    smol::fuzz::touch(m.tokenizer.decode(m.tokenizer.encode(text)));
    stop_strings(params.stop, text);
  } catch (const smol::server::ApiError& e) {
    if (e.status != 400) std::abort();
    smol::fuzz::touch(smol::server::error_body(e).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  } catch (const smol::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(smol::fuzz::as_text(data, size));
  request(body, smol::server::Endpoint::Chat);
  request(body, smol::server::Endpoint::Completion);
  return 0;
}
