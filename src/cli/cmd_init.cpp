#include <cstdio>
#include <memory>

#include "cli/commands.hpp"
#include "smol/error.hpp"
#include "smol/init_weights.hpp"

namespace smol::cli {

namespace {

struct InitArgs {
  std::string config;
  std::string out;
  std::string dtype = "bf16";
  uint64_t seed = 0;
  std::string from;  // --from: a noisy copy of this folder instead of a random model
  float noise = 0.0f;
};

int run_init(const InitArgs& args) {
  if (!args.from.empty()) {
    perturb_model(args.from, args.out, args.noise, args.seed);
    std::fprintf(stderr, "smol: wrote %s with noise %g x RMS on every matrix to %s\n", args.from.c_str(),
                 static_cast<double>(args.noise), args.out.c_str());
    return 0;
  }
  if (args.config.empty()) throw Error("smol init needs --config CONFIG (a random model) or --from MODEL (a noisy copy)");
  const DType dtype = args.dtype == "f32" ? DType::F32 : args.dtype == "f16" ? DType::F16 : DType::BF16;
  init_random_model(args.config, args.out, dtype, args.seed);
  std::fprintf(stderr, "smol: wrote a randomly initialised model to %s\n", args.out.c_str());
  return 0;
}

}  // namespace

Command add_init_command(CLI::App& root) {
  auto args = std::make_shared<InitArgs>();
  CLI::App* app = root.add_subcommand("init", "Write a randomly initialised model of a config's shape");
  auto* config = app->add_option("--config", args->config,
                                 "config.json of the architecture (tokenizer files beside it are copied)")
                      ->check(CLI::ExistingFile);
  auto* from = app->add_option("--from", args->from,
                               "Instead: copy this model folder with Gaussian noise on its matrices (a draft for benchmarks)")
                   ->check(CLI::ExistingDirectory);
  config->excludes(from);
  app->add_option("--noise", args->noise, "With --from: noise standard deviation relative to each matrix's RMS")
      ->check(CLI::Range(0.0, 100.0))->capture_default_str();
  app->add_option("--out", args->out, "Output folder")->required();
  app->add_option("--seed", args->seed, "Random seed")->capture_default_str();
  app->add_option("--dtype", args->dtype, "Weight dtype")->check(CLI::IsMember({"f32", "bf16", "f16"}))->capture_default_str();
  return {app, [args] { return run_init(*args); }};
}

}  // namespace smol::cli
