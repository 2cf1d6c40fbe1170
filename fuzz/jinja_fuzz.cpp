// libFuzzer target: the Jinja engine. The input is a template, optionally followed by a NUL
// byte and a JSON object of variables (messages, tools, ...); without one the template is
// rendered with a short conversation. Parse and render errors must be smol::Error; anything
// else (a crash, a sanitizer report, another exception) is a bug.
#include "fuzz/fuzz_util.hpp"
#include "jinja/template.hpp"
#include "smol/error.hpp"

namespace {

using smol::jinja::DictValue;
using smol::jinja::Value;

const nlohmann::ordered_json& default_context() {
  static const nlohmann::ordered_json context = nlohmann::ordered_json::parse(R"({
    "messages": [
      {"role": "system", "content": "You are helpful."},
      {"role": "user", "content": "Hi <b>there</b> 😀"},
      {"role": "assistant", "content": "Hello!", "tool_calls": [{"function": {"name": "f", "arguments": {"x": 1}}}]},
      {"role": "tool", "content": "42"},
      {"role": "user", "content": ""}
    ],
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
    "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>"
  })");
  return context;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = smol::fuzz::as_text(data, size);
  const size_t nul = input.find('\0');
  const std::string_view source = input.substr(0, nul);
  nlohmann::ordered_json context = default_context();
  if (nul != std::string_view::npos) {
    const auto parsed = nlohmann::ordered_json::parse(input.substr(nul + 1), nullptr, /*allow_exceptions=*/false);
    if (parsed.is_object()) context = parsed;
  }
  try {
    const smol::jinja::Template tmpl(source, "fuzz.jinja");
    const Value vars = Value::from_json(context);
    smol::fuzz::touch(tmpl.render(vars.as_dict()));
  } catch (const smol::Error&) {
  }
  return 0;
}
