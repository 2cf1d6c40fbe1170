#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "cli/seq2seq_options.hpp"
#include "smol/chat_template.hpp"
#include "smol/decoder_step_model.hpp"
#include "smol/generate.hpp"
#include "smol/error.hpp"
#include "smol/generation_config.hpp"
#include "smol/grammar.hpp"
#include "smol/seq2seq_generate.hpp"

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
  int beams = 0;  // 0: the greedy/sampling path; N >= 1: transformers-style search with N beams
  double length_penalty = 1.0;
  std::string weights;
  std::string grammar_file, json_schema_file;  // --grammar, --json-schema
  bool json = false;                           // --json
  SpeculativeFlags speculative;
  // Given on the command line (not defaults): an encoder-decoder folder's generation config
  // decides everything else.
  bool n_given = false, temp_given = false, length_penalty_given = false;
};

// An encoder-decoder folder: the prompt is the source; generation_config.json decides, with
// -n, --beams, --temp and --length-penalty applied when given.
bool constrained(const GenerateArgs& args) {
  return !args.grammar_file.empty() || !args.json_schema_file.empty() || args.json;
}

// --grammar FILE (GBNF), --json-schema FILE, --json: compiled before the model loads, so a
// bad grammar fails fast.
std::optional<Grammar> grammar_from_args(const GenerateArgs& args) {
  if (!args.grammar_file.empty()) return Grammar::from_gbnf(read_text_file(args.grammar_file));
  if (!args.json_schema_file.empty()) {
    try {
      return Grammar::from_gbnf(json_schema_to_gbnf(read_text_file(args.json_schema_file))).with_unique_json_keys();
    } catch (const Error& e) {
      throw Error(args.json_schema_file + ": " + e.what());
    }
  }
  if (args.json) return Grammar::from_gbnf(json_object_gbnf()).with_unique_json_keys();
  return std::nullopt;
}

int run_seq2seq_generate(const GenerateArgs& args, const std::filesystem::path& dir) {
  if (args.chat) throw Error("--chat needs a decoder-only chat model; this folder is an encoder-decoder");
  if (constrained(args)) {
    throw Error("--grammar, --json-schema and --json need a decoder-only model; this folder is an encoder-decoder");
  }
  std::optional<WeightType> weights;
  if (!args.weights.empty()) weights = weight_type_from_flag(args.weights);
  Seq2SeqEngine engine(dir, args.threads, args.load, weights);
  SearchFlags flags;
  if (args.n_given) flags.max_new_tokens = args.n_predict;
  if (args.beams > 0) flags.beams = args.beams;
  if (args.length_penalty_given) flags.length_penalty = static_cast<float>(args.length_penalty);
  if (args.temp_given) {
    flags.temperature = args.sampling.temperature;
    if (args.sampling.temperature > 0) {
      flags.top_k = args.sampling.top_k;
      flags.top_p = args.sampling.top_p;
    }
  }
  flags.seed = args.sampling.seed == SamplingParams::kRandomSeed ? 0 : args.sampling.seed;
  Seq2SeqRequest request;
  request.generation = apply_search_flags(engine.generation(), flags);
  request.seed = flags.seed;
  request.cache_type = args.cache_type;
  const std::vector<std::vector<int32_t>> sources = {engine.tokenizer().encode_with_special(args.prompt)};
  const auto start = std::chrono::steady_clock::now();
  const std::vector<SearchResult> results = generate_seq2seq(engine.model(), engine.pool(), sources, request);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const GeneratedSequence& best = results[0].best();
  const std::string text = engine.tokenizer().decode(best.ids, /*skip_special=*/true);
  std::fwrite(text.data(), 1, text.size(), stdout);
  if (isatty(fileno(stdout))) std::fputc('\n', stdout);
  std::fflush(stdout);
  std::fprintf(stderr, "%s", fmt::format("smol: source {} tokens, generated {} tokens in {:.3f} s, stop: {}\n",
                                         sources[0].size(), best.ids.size(), seconds, finish_reason_name(best.finish))
                                 .c_str());
  return 0;
}

// --beams N: transformers' generate on the folder's generation config (early_stopping,
// no_repeat_ngram_size, ...), with N beams, -n new tokens, greedy (no sampling). Prints the
// best beam's text without its eos.
int run_beam_search(Engine& engine, const GenerateArgs& args, const std::vector<int32_t>& prompt) {
  const Model& model = engine.model();
  const ModelConfig& mc = model.config();
  if (args.n_predict <= 0) throw Error("--beams needs -n of at least 1");
  GenerationConfig config;
  if (std::filesystem::is_directory(engine.model_dir())) config = GenerationConfig::from_folder(engine.model_dir());
  config.num_beams = args.beams;
  config.length_penalty = args.length_penalty;
  config.do_sample = false;
  config.num_return_sequences = 1;
  config.eos_token_id.assign(mc.eos_token_ids.begin(), mc.eos_token_ids.end());
  const int prompt_len = static_cast<int>(prompt.size());
  const int capacity = args.context > 0 ? args.context : std::min(mc.max_position_embeddings, prompt_len + args.n_predict);
  if (prompt_len >= capacity) {
    throw Error(fmt::format("the prompt has {} tokens, but the context holds only {}: shorten the prompt{}", prompt_len,
                            capacity, args.context > 0 ? " or raise --ctx" : ""));
  }
  config.max_new_tokens = std::min(args.n_predict, capacity - prompt_len);
  config.validate();

  const auto start = std::chrono::steady_clock::now();
  DecoderStepModel step(model, engine.pool(), capacity, args.cache_type);
  const std::vector<std::vector<int32_t>> prompts{prompt};
  const GeneratedSequence best = generate_search(step, prompts, config, 0)[0].best();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::vector<int32_t> ids = best.ids;
  if (best.finish == FinishReason::Eos) ids.pop_back();
  const std::string text = engine.tokenizer().decode(ids);
  std::fwrite(text.data(), 1, text.size(), stdout);
  if (isatty(fileno(stdout))) std::fputc('\n', stdout);
  std::fflush(stdout);
  std::fprintf(stderr, "%s", fmt::format("smol: prompt {} tokens, {} beams, generated {} tokens in {:.3f} s, score {:.4f}, "
                                         "stop: {}\n",
                                         prompt_len, args.beams, best.ids.size(), seconds, best.score,
                                         finish_reason_name(best.finish)).c_str());
  return 0;
}

// One line on stderr: how much of what was proposed the model kept.
void print_speculative_stats(const SpeculativeStats& s, int generated) {
  std::fprintf(stderr, "%s", fmt::format("smol: speculative: drafted {} tokens, accepted {} ({:.1f}%), {} target steps "
                                         "({:.2f} tokens per step), {:.3f} s drafting\n",
                                         s.drafted, s.accepted, 100.0 * s.acceptance_rate(), s.steps,
                                         s.steps ? static_cast<double>(generated) / s.steps : 0.0, s.draft_seconds)
                                 .c_str());
}

int run_generate(const GenerateArgs& args) {
  args.sampling.validate();
  if (constrained(args) && args.beams > 0) throw Error("--beams cannot be combined with --grammar, --json-schema or --json");
  if (args.speculative.enabled() && args.beams > 0) {
    throw Error("--beams cannot be combined with --draft or --lookup: speculative decoding covers greedy and sampling");
  }
  if (args.speculative.enabled() && constrained(args)) {
    throw Error("--draft and --lookup cannot be combined with --grammar, --json-schema or --json");
  }
  std::optional<Grammar> grammar = grammar_from_args(args);
  const std::filesystem::path dir = resolve_model(args.model);
  if (is_seq2seq_folder(dir)) {
    if (args.speculative.enabled()) throw Error("--draft and --lookup need a decoder-only model; this folder is an encoder-decoder");
    return run_seq2seq_generate(args, dir);
  }
  std::optional<WeightType> weights;
  if (!args.weights.empty()) weights = weight_type_from_flag(args.weights);
  Engine engine(dir, args.threads, args.load, weights);
  // The draft runs on the target's threads; --weights converts it too.
  std::unique_ptr<Engine> draft;
  if (!args.speculative.draft.empty()) {
    const std::filesystem::path draft_dir = resolve_model(args.speculative.draft);
    if (is_seq2seq_folder(draft_dir)) throw Error("--draft needs a decoder-only model; " + args.speculative.draft + " is an encoder-decoder");
    draft = std::make_unique<Engine>(draft_dir, 1, args.load, weights);
    check_same_vocabulary(engine, *draft);
  }

  std::string text = args.prompt;
  if (args.chat) {
    std::vector<ChatMessage> messages;
    if (!args.system.empty()) messages.push_back({"system", args.system});
    messages.push_back({"user", args.prompt});
    text = engine.chat_template().render(messages, /*add_generation_prompt=*/true);
  }
  const std::vector<int32_t> prompt = engine.tokenizer().encode(text);
  if (args.beams > 0) return run_beam_search(engine, args, prompt);

  GenerateOptions options;
  options.max_new_tokens = args.n_predict;
  options.sampling = args.sampling;
  options.context = args.context;
  options.cache_type = args.cache_type;
  options.grammar = std::move(grammar);
  options.speculative.draft = draft.get();
  options.speculative.lookup_ngram = args.speculative.lookup;
  options.speculative.draft_max = args.speculative.draft_max;
  options.speculative.draft_min = args.speculative.draft_min;
  options.speculative.draft_p_min = args.speculative.draft_p_min;
  options.speculative.validate();

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

  if (options.grammar && !result.grammar_complete) {
    std::fprintf(stderr, "smol: the output stopped before the grammar was complete (raise -n or --ctx)\n");
  }
  const int generated = static_cast<int>(result.tokens.size());
  std::fprintf(stderr, "%s", fmt::format(
      "smol: prompt {} tokens in {:.3f} s ({:.1f} tok/s), generated {} tokens in {:.3f} s ({:.1f} tok/s), "
      "stop: {}, seed {}\n",
      result.prompt_tokens, result.prefill_seconds,
      result.prefill_seconds > 0 ? result.prompt_tokens / result.prefill_seconds : 0.0, generated,
      result.decode_seconds, result.decode_seconds > 0 ? generated / result.decode_seconds : 0.0,
      result.finish_reason, options.sampling.seed).c_str());
  if (options.speculative.enabled()) print_speculative_stats(result.speculative, generated);
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
  app->add_option("--beams", args->beams,
                  "Beam search with N beams as transformers' generate (1: its greedy search); the best beam is printed")
      ->check(CLI::Range(1, 64));
  app->add_option("--length-penalty", args->length_penalty,
                  "With --beams: a finished beam scores sum(log p) / length^X (length = new tokens)")
      ->capture_default_str();
  add_weights_option(*app, args->weights);
  add_speculative_options(*app, args->speculative);
  auto* grammar = app->add_option("--grammar", args->grammar_file,
                                  "Constrain the output to a GBNF grammar file (llama.cpp's format; start rule 'root')")
                      ->check(CLI::ExistingFile);
  auto* schema = app->add_option("--json-schema", args->json_schema_file,
                                 "Constrain the output to JSON valid under this JSON Schema file")
                     ->check(CLI::ExistingFile);
  auto* json = app->add_flag("--json", args->json, "Constrain the output to one JSON object");
  grammar->excludes(schema)->excludes(json);
  schema->excludes(json);
  return {app, [args, app] {
            args->n_given = app->count("--n-predict") > 0;
            args->temp_given = app->count("--temp") > 0;
            args->length_penalty_given = app->count("--length-penalty") > 0;
            return run_generate(*args);
          }};
}

}  // namespace smol::cli
