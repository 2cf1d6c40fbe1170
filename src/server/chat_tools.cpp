// `tools`, `tool_choice` and `parallel_tool_calls`, and the grammar of a forced tool call:
// the tools' parameter schemas become one JSON Schema (each under $defs, its local $refs
// moved with it) for {"name": <a tool's name>, "arguments": <valid under its parameters>},
// compiled by the JSON Schema → GBNF converter and wrapped in <tool_call> tags.
#include <fmt/format.h>

#include <set>

#include "server/chat_request.hpp"
#include "server/openai_api.hpp"
#include "smol/error.hpp"

namespace smol::server {

using nlohmann::ordered_json;

namespace {

// OpenAI's rule for function names.
bool valid_function_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  }
  return true;
}

// A tool without `parameters` takes none: its arguments are {}.
ordered_json parameters_of(const ordered_json& tool) {
  if (const ordered_json* p = non_null_member(tool["function"], "parameters")) return *p;
  return {{"type", "object"}, {"properties", ordered_json::object()}, {"additionalProperties", false}};
}

// Moves a schema under #/$defs/KEY: its local references "#..." become "#/$defs/KEY...".
// Values (const, enum, default, examples) are data, not schemas, and are left alone.
void rebase_refs(ordered_json& schema, const std::string& key) {
  if (schema.is_array()) {
    for (ordered_json& item : schema) rebase_refs(item, key);
    return;
  }
  if (!schema.is_object()) return;
  for (auto& [name, value] : schema.items()) {
    if (name == "const" || name == "enum" || name == "default" || name == "examples") continue;
    if (name == "$ref" && value.is_string() && value.get<std::string>().starts_with("#")) {
      value = "#/$defs/" + key + value.get<std::string>().substr(1);
    } else {
      rebase_refs(value, key);
    }
  }
}

std::string compile_check(const ordered_json& schema, const std::string& param) {
  try {
    return json_schema_to_gbnf(schema.dump());
  } catch (const Error& e) {
    throw ApiError(400, fmt::format("'{}': {}", param, e.what()), "invalid_request_error", param);
  }
}

ToolChoice parse_choice(const ordered_json& choice, const std::vector<std::string>& names, std::string& function) {
  if (choice.is_string()) {
    const std::string c = choice.get<std::string>();
    if (c == "none") return ToolChoice::None;
    if (c == "auto") return ToolChoice::Auto;
    if (c == "required") return ToolChoice::Required;
    throw bad_field("tool_choice", fmt::format("'{}' is not one of 'none', 'auto', 'required' or a function", c));
  }
  const ordered_json* type = choice.is_object() ? non_null_member(choice, "type") : nullptr;
  const ordered_json* fn = choice.is_object() ? non_null_member(choice, "function") : nullptr;
  const ordered_json* name = fn && fn->is_object() ? non_null_member(*fn, "name") : nullptr;
  if (!type || *type != "function" || !name || !name->is_string()) {
    throw bad_field("tool_choice",
                    "must be 'none', 'auto', 'required' or {\"type\": \"function\", \"function\": {\"name\": ...}}");
  }
  function = name->get<std::string>();
  if (std::find(names.begin(), names.end(), function) == names.end()) {
    throw ApiError(400, fmt::format("'tool_choice' names the function '{}', which is not in 'tools'", function),
                   "invalid_request_error", "tool_choice.function.name");
  }
  return ToolChoice::Function;
}

// A rule name the schema's grammar does not define.
std::string free_rule_name(const std::string& gbnf, std::string name) {
  const std::string base = name;
  for (int i = 2; gbnf.starts_with(name + " ::=") || gbnf.find("\n" + name + " ::=") != std::string::npos; ++i) {
    name = fmt::format("{}-{}", base, i);
  }
  return name;
}

}  // namespace

ToolCallSyntax tool_call_syntax(const ChatTemplate& chat_template) {
  return chat_template.source().find("<tool_call>") != std::string::npos ? ToolCallSyntax::Hermes
                                                                          : ToolCallSyntax::SmolLM2List;
}

std::optional<ChatTools> parse_chat_tools(const ordered_json& body) {
  const ordered_json* tools = non_null_member(body, "tools");
  const ordered_json* choice = non_null_member(body, "tool_choice");
  const ordered_json* parallel = non_null_member(body, "parallel_tool_calls");
  if (parallel && !parallel->is_boolean()) throw bad_field("parallel_tool_calls", "must be true or false");
  if (!tools) {
    if (choice) throw bad_field("tool_choice", "needs 'tools': there is no tool to choose");
    return std::nullopt;
  }
  if (!tools->is_array() || tools->empty()) throw bad_field("tools", "must be a non-empty list of functions");
  ChatTools out;
  out.tools = *tools;
  for (size_t i = 0; i < tools->size(); ++i) {
    const ordered_json& tool = (*tools)[i];
    const std::string where = fmt::format("tools[{}]", i);
    if (!tool.is_object()) throw bad_field(where, "must be an object");
    const ordered_json* type = non_null_member(tool, "type");
    if (!type || *type != "function") throw bad_field(where + ".type", "must be 'function' (the only tool type)");
    const ordered_json* fn = non_null_member(tool, "function");
    if (!fn || !fn->is_object()) throw bad_field(where + ".function", "must be an object");
    const ordered_json* name = non_null_member(*fn, "name");
    if (!name || !name->is_string() || !valid_function_name(name->get<std::string>())) {
      throw bad_field(where + ".function.name", "must be 1 to 64 letters, digits, '_' or '-'");
    }
    if (const ordered_json* d = non_null_member(*fn, "description"); d && !d->is_string()) {
      throw bad_field(where + ".function.description", "must be a string");
    }
    if (const ordered_json* p = non_null_member(*fn, "parameters"); p && !p->is_object()) {
      throw bad_field(where + ".function.parameters", "must be a JSON Schema object");
    }
    if (const ordered_json* s = non_null_member(*fn, "strict"); s && !s->is_boolean()) {
      throw bad_field(where + ".function.strict", "must be true or false");
    }
    const std::string n = name->get<std::string>();
    if (std::find(out.names.begin(), out.names.end(), n) != out.names.end()) {
      throw bad_field(where + ".function.name", fmt::format("'{}' is given twice: function names must differ", n));
    }
    out.names.push_back(n);
  }
  if (choice) out.choice = parse_choice(*choice, out.names, out.function);
  if (parallel) out.parallel = parallel->get<bool>();
  // A forced call is compiled from the schemas: refuse one smol cannot follow now, naming it.
  if (out.choice == ToolChoice::Required || out.choice == ToolChoice::Function) {
    for (size_t i = 0; i < tools->size(); ++i) {
      if (out.choice == ToolChoice::Function && out.names[i] != out.function) continue;
      compile_check(parameters_of((*tools)[i]), fmt::format("tools[{}].function.parameters", i));
    }
  }
  return out;
}

Grammar tool_call_grammar(const ChatTools& tools, ToolCallSyntax syntax) {
  ordered_json defs = ordered_json::object();
  ordered_json calls = ordered_json::array();
  for (size_t i = 0; i < tools.names.size(); ++i) {
    if (tools.choice == ToolChoice::Function && tools.names[i] != tools.function) continue;
    const std::string key = fmt::format("tool-{}", i);
    ordered_json params = parameters_of(tools.tools[i]);
    rebase_refs(params, key);
    defs[key] = std::move(params);
    calls.push_back({{"type", "object"},
                     {"properties", {{"name", {{"const", tools.names[i]}}}, {"arguments", {{"$ref", "#/$defs/" + key}}}}},
                     {"required", ordered_json::array({"name", "arguments"})},
                     {"additionalProperties", false}});
  }
  const ordered_json call = calls.size() == 1 ? calls[0] : ordered_json{{"anyOf", calls}};
  const bool several = tools.choice == ToolChoice::Required && tools.parallel;
  ordered_json document;
  if (syntax == ToolCallSyntax::SmolLM2List) {
    document = {{"type", "array"}, {"items", call}, {"minItems", 1}};
    if (!several) document["maxItems"] = 1;
  } else {
    document = call;
  }
  document["$defs"] = std::move(defs);
  const std::string gbnf = compile_check(document, "tools");
  const std::string top = free_rule_name(gbnf, "tool-call-answer");
  std::string wrapper;
  if (syntax == ToolCallSyntax::SmolLM2List) {
    wrapper = fmt::format("{} ::= \"<tool_call>\" root \"</tool_call>\"\n", top);
  } else {
    wrapper = fmt::format("{} ::= \"<tool_call>\\n\" root \"\\n</tool_call>\"{}\n", top,
                          several ? " (\"\\n<tool_call>\\n\" root \"\\n</tool_call>\")*" : "");
  }
  try {
    return Grammar::from_gbnf(gbnf + wrapper, top).with_unique_json_keys();
  } catch (const Error& e) {
    throw ApiError(400, fmt::format("'tools': {}", e.what()), "invalid_request_error", "tools");
  }
}

}  // namespace smol::server
