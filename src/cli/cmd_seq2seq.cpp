// smol translate / smol summarize: sources in (-p TEXT, or -f FILE with one source per line),
// one output line per source out, in input order. Encoder-decoder folders run through the
// seq2seq engine (sources batched: one encoder pass and one decoder pass per step for the
// whole batch); decoder-only Instruct models get the task as a chat message instead.
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "cli/seq2seq_options.hpp"
#include "smol/chat_template.hpp"
#include "smol/error.hpp"
#include "smol/extractive.hpp"
#include "smol/generate.hpp"
#include "smol/seq2seq_generate.hpp"

namespace smol::cli {
namespace {

enum class Task { Translate, Summarize };

struct Seq2SeqArgs {
  Task task;
  std::string model;
  LoadMode load = LoadMode::Read;
  std::string prompt;
  std::string file;
  std::string target_language = "English";
  bool json = false;
  bool ids = false;
  bool extractive = false;
  int sentences = 3;
  int batch = 16;
  int threads = 1;
  WeightType cache_type = WeightType::F32;
  std::string weights;
  SearchFlags search;
};

std::vector<std::string> read_sources(const Seq2SeqArgs& args) {
  if (!args.prompt.empty() && !args.file.empty()) throw Error("give either -p TEXT or -f FILE, not both");
  if (!args.file.empty()) return read_lines(args.file);
  return {args.prompt};
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

struct Output {
  std::string text;
  std::vector<int32_t> ids;
  double score = 0.0;
  std::string finish_reason;
  nlohmann::json extra;
};

void print_outputs(const Seq2SeqArgs& args, const std::vector<Output>& outputs, double seconds, int64_t target_tokens) {
  if (args.json) {
    nlohmann::json list = nlohmann::json::array();
    for (const Output& o : outputs) {
      nlohmann::json item = {{"text", o.text}, {"ids", o.ids}, {"score", o.score}, {"finish_reason", o.finish_reason}};
      if (!o.extra.is_null()) item.update(o.extra);
      list.push_back(std::move(item));
    }
    const nlohmann::json doc = {
        {"outputs", list},
        {"timings",
         {{"seconds", seconds},
          {"sources", outputs.size()},
          {"target_tokens", target_tokens},
          {"sentences_per_second", seconds > 0 ? outputs.size() / seconds : 0.0},
          {"tokens_per_second", seconds > 0 ? target_tokens / seconds : 0.0}}}};
    std::printf("%s\n", doc.dump().c_str());
  }
  std::fflush(stdout);
  std::fprintf(stderr, "%s",
               fmt::format("smol: {} sources, {} target tokens in {:.3f} s ({:.2f} sentences/s, {:.1f} tok/s)\n",
                           outputs.size(), target_tokens, seconds, seconds > 0 ? outputs.size() / seconds : 0.0,
                           seconds > 0 ? target_tokens / seconds : 0.0)
                   .c_str());
}

int run_seq2seq_model(const Seq2SeqArgs& args, const std::filesystem::path& dir, const std::vector<std::string>& sources) {
  std::optional<WeightType> weights;
  if (!args.weights.empty()) weights = weight_type_from_flag(args.weights);
  Seq2SeqEngine engine(dir, args.threads, args.load, weights);
  std::string prefix;
  Seq2SeqRequest request = seq2seq_request(engine, args.search, args.cache_type);
  request.generation = apply_search_flags(
      with_task_params(dir, args.task == Task::Summarize ? "summarization" : "", engine.generation(), prefix),
      args.search);
  // Token ids in and out need no tokenizer: --ids reads each line as a JSON array of ids.
  auto source_ids = [&](const std::string& line) {
    if (!args.ids) return engine.tokenizer().encode_with_special(line);
    nlohmann::json parsed = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!parsed.is_array()) throw Error("--ids: each source must be a JSON array of token ids, got: " + line.substr(0, 60));
    std::vector<int32_t> ids;
    for (const auto& v : parsed) {
      if (!v.is_number_integer()) throw Error("--ids: token ids must be integers, got: " + v.dump());
      ids.push_back(v.get<int32_t>());
    }
    return ids;
  };

  const auto start = std::chrono::steady_clock::now();
  std::vector<Output> outputs;
  int64_t target_tokens = 0;
  for (size_t first = 0; first < sources.size(); first += args.batch) {
    const size_t count = std::min<size_t>(args.batch, sources.size() - first);
    std::vector<std::vector<int32_t>> ids;
    for (size_t i = 0; i < count; ++i) ids.push_back(source_ids(args.ids ? sources[first + i] : prefix + sources[first + i]));
    const std::vector<SearchResult> results = generate_seq2seq(engine.model(), engine.pool(), ids, request);
    for (size_t i = 0; i < count; ++i) {
      const GeneratedSequence& best = results[i].best();
      Output o;
      o.ids = best.ids;
      o.score = best.score;
      o.finish_reason = finish_reason_name(best.finish);
      const std::string abstractive = args.ids ? "" : engine.tokenizer().decode(best.ids, /*skip_special=*/true);
      target_tokens += static_cast<int64_t>(best.ids.size());
      if (args.extractive) {
        const ExtractiveSummary summary = extract_sentences(engine.model(), engine.pool(), engine.tokenizer(), sources[first + i],
                                                            best.ids, decoder_start_token(engine.model(), request.generation), args.sentences);
        o.text = summary.text;
        o.extra = {{"abstractive", abstractive}, {"sentences", summary.chosen}};
      } else {
        o.text = abstractive;
      }
      if (!args.json) std::printf("%s\n", args.ids ? nlohmann::json(o.ids).dump().c_str() : one_line(o.text).c_str());
      std::fflush(stdout);
      outputs.push_back(std::move(o));
    }
    if (sources.size() > count) {
      std::fprintf(stderr, "\rsmol: %zu/%zu sources", first + count, sources.size());
      if (first + count == sources.size()) std::fputc('\n', stderr);
    }
  }
  print_outputs(args, outputs, seconds_since(start), target_tokens);
  return 0;
}

// A decoder-only Instruct model: the task becomes a user message through the chat template.
int run_chat_model(const Seq2SeqArgs& args, const std::filesystem::path& dir, const std::vector<std::string>& sources) {
  if (args.extractive) throw Error("--extractive needs an encoder-decoder summarization model");
  Engine engine(dir, args.threads, args.load);
  const auto start = std::chrono::steady_clock::now();
  std::vector<Output> outputs;
  int64_t target_tokens = 0;
  for (const std::string& source : sources) {
    const std::string instruction =
        args.task == Task::Summarize
            ? "Summarize the following text in one or two sentences.\n\n" + source
            : fmt::format("Translate the following text into {}. Reply with the translation only.\n\n{}",
                          args.target_language, source);
    const std::string text = engine.chat_template().render({{"user", instruction}}, /*add_generation_prompt=*/true);
    GenerateOptions options;
    options.max_new_tokens = args.search.max_new_tokens.value_or(128);
    options.sampling.temperature = args.search.temperature.value_or(0.0f);
    options.sampling.seed = args.search.seed;
    options.cache_type = args.cache_type;
    GenerateResult result = generate(engine, engine.tokenizer().encode(text), options, [](std::string_view) { return true; });
    Output o;
    o.ids = result.tokens;
    o.text = engine.tokenizer().decode(result.tokens, /*skip_special=*/true);
    o.finish_reason = result.finish_reason;
    target_tokens += static_cast<int64_t>(result.tokens.size());
    if (!args.json) std::printf("%s\n", one_line(o.text).c_str());
    std::fflush(stdout);
    outputs.push_back(std::move(o));
  }
  print_outputs(args, outputs, seconds_since(start), target_tokens);
  return 0;
}

int run(const Seq2SeqArgs& args) {
  if (args.prompt.empty() && args.file.empty()) throw Error("give the source text with -p TEXT or -f FILE");
  const std::filesystem::path dir = resolve_model(args.model);
  const std::vector<std::string> sources = read_sources(args);
  if (is_seq2seq_folder(dir)) return run_seq2seq_model(args, dir, sources);
  return run_chat_model(args, dir, sources);
}

Command add_command(CLI::App& root, Task task) {
  auto args = std::make_shared<Seq2SeqArgs>();
  args->task = task;
  const bool summarize = task == Task::Summarize;
  CLI::App* app = root.add_subcommand(summarize ? "summarize" : "translate",
                                      summarize ? "Summarize text with an encoder-decoder (BART) or Instruct model"
                                                : "Translate text with an encoder-decoder (Marian, mBART) or Instruct model");
  add_model_option(*app, args->model);
  add_mmap_option(*app, args->load);
  app->add_option("-p,--prompt", args->prompt, "Source text");
  app->add_option("-f,--file", args->file, "File with one source per line")->check(CLI::ExistingFile);
  app->add_flag("--json", args->json, "Print one JSON document: texts, ids, scores and timings");
  app->add_flag("--ids", args->ids, "Sources are JSON arrays of token ids and outputs are ids (no tokenizer needed)");
  app->add_option("--batch", args->batch, "Sources encoded and decoded together")
      ->check(CLI::PositiveNumber)->capture_default_str();
  if (summarize) {
    app->add_flag("--extractive", args->extractive,
                  "Return whole sentences of the source, chosen by how much each raises the likelihood of the "
                  "model's abstractive summary");
    app->add_option("--sentences", args->sentences, "Sentences for --extractive")
        ->check(CLI::PositiveNumber)->capture_default_str();
  } else {
    app->add_option("--to", args->target_language, "Target language for Instruct models")->capture_default_str();
  }
  add_threads_option(*app, args->threads);
  add_cache_type_option(*app, args->cache_type);
  add_weights_option(*app, args->weights);
  add_search_options(*app, args->search);
  return {app, [args] { return run(*args); }};
}

}  // namespace

Command add_translate_command(CLI::App& root) { return add_command(root, Task::Translate); }
Command add_summarize_command(CLI::App& root) { return add_command(root, Task::Summarize); }

}  // namespace smol::cli
