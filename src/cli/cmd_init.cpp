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
};

int run_init(const InitArgs& args) {
  const DType dtype = args.dtype == "f32" ? DType::F32 : args.dtype == "f16" ? DType::F16 : DType::BF16;
  init_random_model(args.config, args.out, dtype, args.seed);
  std::fprintf(stderr, "smol: wrote a randomly initialised model to %s\n", args.out.c_str());
  return 0;
}

}  // namespace

Command add_init_command(CLI::App& root) {
  auto args = std::make_shared<InitArgs>();
  CLI::App* app = root.add_subcommand("init", "Write a randomly initialised model of a config's shape");
  app->add_option("--config", args->config, "config.json of the architecture (tokenizer files beside it are copied)")
      ->required()->check(CLI::ExistingFile);
  app->add_option("--out", args->out, "Output folder")->required();
  app->add_option("--seed", args->seed, "Random seed")->capture_default_str();
  app->add_option("--dtype", args->dtype, "Weight dtype")->check(CLI::IsMember({"f32", "bf16", "f16"}))->capture_default_str();
  return {app, [args] { return run_init(*args); }};
}

}  // namespace smol::cli
