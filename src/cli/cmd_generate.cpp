#include <unistd.h>

#include <cstdio>
#include <memory>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "smol/chat_template.hpp"
#include "smol/generate.hpp"

namespace smol::cli {

namespace {

struct GenerateArgs {
  std::string model;
  LoadMode load = LoadMode::Read;
  std::string prompt;
  std::string system;
  bool chat = false;
  int n_predict = 128;
  int context = 0;
  int threads = 1;
  WeightType cache_type = WeightType::F32;
  SamplingParams sampling;
};

int run_generate(const GenerateArgs& args) {
  args.sampling.validate();
  Engine engine(resolve_model(args.model), args.threads, args.load);

  std::string text = args.prompt;
  if (args.chat) {
    std::vector<ChatMessage> messages;
    if (!args.system.empty()) messages.push_back({"system", args.system});
    messages.push_back({"user", args.prompt});
    text = engine.chat_template().render(messages, /*add_generation_prompt=*/true);
  }
  const std::vector<int32_t> prompt = engine.tokenizer().encode(text);

  GenerateOptions options;
  options.max_new_tokens = args.n_predict;
  options.sampling = args.sampling;
  options.context = args.context;
  options.cache_type = args.cache_type;

  Sampler probe(args.sampling);  // resolves a random seed once so it can be reported
  options.sampling.seed = probe.seed();

  GenerateResult result = generate(engine, prompt, options, [](std::string_view piece) {
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
    return true;
  });
  // Piped output is exactly the generated text; a terminal also gets a final newline.
  if (isatty(fileno(stdout))) std::fputc('\n', stdout);
  std::fflush(stdout);

  const int generated = static_cast<int>(result.tokens.size());
  std::fprintf(stderr, "%s", fmt::format(
      "smol: prompt {} tokens in {:.3f} s ({:.1f} tok/s), generated {} tokens in {:.3f} s ({:.1f} tok/s), "
      "stop: {}, seed {}\n",
      result.prompt_tokens, result.prefill_seconds,
      result.prefill_seconds > 0 ? result.prompt_tokens / result.prefill_seconds : 0.0, generated,
      result.decode_seconds, result.decode_seconds > 0 ? generated / result.decode_seconds : 0.0,
      result.finish_reason, options.sampling.seed).c_str());
  return 0;
}

}  // namespace

Command add_generate_command(CLI::App& root) {
  auto args = std::make_shared<GenerateArgs>();
  CLI::App* app = root.add_subcommand("generate", "Generate text from a prompt");
  add_model_option(*app, args->model);
  add_mmap_option(*app, args->load);
  app->add_option("-p,--prompt", args->prompt, "Prompt text")->required();
  app->add_option("-n,--n-predict", args->n_predict, "Number of tokens to generate")
      ->check(non_negative_number())->capture_default_str();
  app->add_option("-c,--ctx", args->context, "Context size in tokens (default: prompt + n, up to the model's maximum)")
      ->check(non_negative_number());
  app->add_flag("--chat", args->chat, "Wrap the prompt as a user message with the model's chat template");
  app->add_option("--system", args->system, "System message for --chat");
  add_threads_option(*app, args->threads);
  add_cache_type_option(*app, args->cache_type);
  add_sampling_options(*app, args->sampling);
  return {app, [args] { return run_generate(*args); }};
}

}  // namespace smol::cli
