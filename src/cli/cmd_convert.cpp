// smol convert IN OUT --type T: Hugging Face folder or GGUF in, GGUF (or a Hugging Face folder)
// out, weights in T.
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "smol/convert.hpp"
#include "smol/error.hpp"

namespace smol::cli {

namespace {

struct ConvertArgs {
  std::string in;
  std::string out;
  std::string type = "f16";
  int threads = 1;
};

int run_convert(const ConvertArgs& args) {
  const auto type = parse_convert_type(args.type);
  if (!type) throw Error(fmt::format("--type {}: expected f32, f16, bf16, q8_0, q4_0 or q4_k", args.type));
  const auto start = std::chrono::steady_clock::now();
  const auto written = convert_model(resolve_model(args.in), args.out, {*type, args.threads});
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  // Which types the weights ended up in: fallbacks (e.g. q4_k on 576-column matrices) show here.
  std::map<std::string, std::pair<int, uint64_t>> by_type;
  uint64_t total = 0;
  for (const auto& t : written) {
    auto& entry = by_type[std::string(dtype_name(t.dtype))];
    entry.first += 1;
    entry.second += t.bytes;
    total += t.bytes;
  }
  std::string summary;
  for (const auto& [name, entry] : by_type) {
    summary += fmt::format("{}{} x{} ({:.1f} MB)", summary.empty() ? "" : ", ", name, entry.first, entry.second / 1e6);
  }
  std::fprintf(stderr, "%s\n",
               fmt::format("smol: wrote {} ({:.1f} MB of tensors: {}) in {:.1f} s", args.out, total / 1e6, summary,
                           seconds).c_str());
  return 0;
}

}  // namespace

Command add_convert_command(CLI::App& root) {
  auto args = std::make_shared<ConvertArgs>();
  CLI::App* app = root.add_subcommand("convert", "Convert a model to GGUF (or a Hugging Face folder) with another weight type");
  app->add_option("IN", args->in, "Input: a Hugging Face model folder or a .gguf file")->required();
  app->add_option("OUT", args->out, "Output: a .gguf file, or a folder (f32/f16/bf16 only)")->required();
  app->add_option("--type", args->type, "Weight type: f32, f16, bf16, q8_0, q4_0 or q4_k")
      ->check(CLI::IsMember({"f32", "f16", "bf16", "q8_0", "q4_0", "q4_k"}))
      ->capture_default_str();
  add_threads_option(*app, args->threads);
  return {app, [args] { return run_convert(*args); }};
}

}  // namespace smol::cli
