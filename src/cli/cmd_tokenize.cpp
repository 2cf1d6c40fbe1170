#include <cstdio>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "smol/error.hpp"
#include "smol/gguf_tokenizer.hpp"
#include "smol/tokenizer.hpp"

namespace smol::cli {

namespace {

struct TokenizeArgs {
  std::string model;
  std::string prompt;
  std::string file;
  bool jsonl = false;
};

// The tokenizer alone: no weights are loaded, so this works on tokenizer-only folders too.
Tokenizer load_model_tokenizer(const std::string& model) { return load_tokenizer(resolve_model(model)); }

std::string ids_json(const std::vector<int32_t>& ids) { return nlohmann::json(ids).dump(); }

int run_tokenize(const TokenizeArgs& args) {
  const Tokenizer tokenizer = load_model_tokenizer(args.model);
  const std::string input = args.file.empty() ? args.prompt : read_text_file(args.file);
  if (!args.jsonl) {
    std::printf("%s\n", ids_json(tokenizer.encode(input)).c_str());
    return 0;
  }
  std::istringstream lines(input);
  std::string line;
  int line_no = 0;
  while (std::getline(lines, line)) {
    ++line_no;
    if (line.empty()) continue;
    nlohmann::json value;
    try {
      value = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {  // parse_error, and out_of_range for 1e400
      throw Error("line " + std::to_string(line_no) + ": not valid JSON (" + e.what() + ")");
    }
    if (!value.is_string()) throw Error("line " + std::to_string(line_no) + ": expected a JSON string");
    std::printf("%s\n", ids_json(tokenizer.encode(value.get<std::string>())).c_str());
  }
  return 0;
}

}  // namespace

Command add_tokenize_command(CLI::App& root) {
  auto args = std::make_shared<TokenizeArgs>();
  CLI::App* app = root.add_subcommand("tokenize", "Print the token ids of a text as a JSON array");
  add_model_option(*app, args->model);
  auto* prompt = app->add_option("-p,--prompt", args->prompt, "Text to tokenize");
  auto* file = app->add_option("-f,--file", args->file, "File to tokenize");
  prompt->excludes(file);
  app->add_flag("--jsonl", args->jsonl, "Each input line is a JSON string; print one id array per line");
  app->callback([prompt, file] {
    if (prompt->count() == 0 && file->count() == 0) throw CLI::RequiredError("-p TEXT or -f FILE");
  });
  return {app, [args] { return run_tokenize(*args); }};
}

}  // namespace smol::cli
