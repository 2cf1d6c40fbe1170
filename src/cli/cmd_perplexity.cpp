#include <cstdio>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "smol/generate.hpp"

namespace smol::cli {

namespace {

struct PerplexityArgs {
  std::string model;
  LoadMode load = LoadMode::Read;
  std::string file;
  int context = 0;
  int threads = 1;
  WeightType cache_type = WeightType::F32;
  bool json = false;
};

int run_perplexity(const PerplexityArgs& args) {
  const std::string text = read_text_file(args.file);
  Engine engine(resolve_model(args.model), args.threads, args.load);
  const std::vector<int32_t> tokens = engine.tokenizer().encode(text);
  const int context = args.context > 0 ? args.context : std::min(engine.model().config().max_position_embeddings, 2048);
  const PerplexityResult r = perplexity(engine.model(), engine.pool(), tokens, context, 256, args.cache_type);
  if (args.json) {
    nlohmann::json out = {{"tokens", r.tokens_scored}, {"nll_sum", r.nll_sum}, {"nll_mean", r.nll_mean()},
                          {"ppl", r.ppl()}};
    std::printf("%s\n", out.dump().c_str());
  } else {
    std::printf("%s", fmt::format("tokens scored: {}\nnll mean: {:.6f}\nperplexity: {:.4f}\n", r.tokens_scored,
                                  r.nll_mean(), r.ppl()).c_str());
  }
  return 0;
}

}  // namespace

Command add_perplexity_command(CLI::App& root) {
  auto args = std::make_shared<PerplexityArgs>();
  CLI::App* app = root.add_subcommand("perplexity", "Score a text file: mean negative log-likelihood and perplexity");
  add_model_option(*app, args->model);
  add_mmap_option(*app, args->load);
  app->add_option("-f,--file", args->file, "Text file to score")->required();
  app->add_option("-c,--ctx", args->context, "Window size in tokens (default: min(2048, model maximum))")
      ->check(non_negative_number());
  app->add_flag("--json", args->json, "Print {\"tokens\", \"nll_sum\", \"nll_mean\", \"ppl\"} as JSON");
  add_threads_option(*app, args->threads);
  add_cache_type_option(*app, args->cache_type);
  return {app, [args] { return run_perplexity(*args); }};
}

}  // namespace smol::cli
