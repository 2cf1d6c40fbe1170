// smol eval-seq2seq: translate or summarize a file of sources with an encoder-decoder through
// the same engine and flags as `smol translate`, then score the outputs against a file of
// references: corpus BLEU and chrF (sacreBLEU's definitions), ROUGE-1/2/L (rouge-score's).
// --hyps scores outputs made elsewhere, without a model.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "cli/seq2seq_options.hpp"
#include "smol/error.hpp"
#include "smol/seq2seq_generate.hpp"
#include "smol/text_metrics.hpp"

namespace smol::cli {
namespace {

struct EvalArgs {
  std::string model;
  LoadMode load = LoadMode::Read;
  std::string sources;
  std::string references;
  std::string hypotheses;
  std::string output;
  bool json = false;
  int batch = 16;
  int threads = 1;
  WeightType cache_type = WeightType::F32;
  std::string weights;
  SearchFlags search;
};

// On a terminal one bar redrawn in place; in a log a line every tenth of the way.
class Progress {
 public:
  explicit Progress(size_t total) : total_(total), start_(std::chrono::steady_clock::now()) {}

  void update(size_t done) {
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double frac = total_ > 0 ? static_cast<double>(done) / static_cast<double>(total_) : 1.0;
    const int tenth = static_cast<int>(frac * 10);
    if (!tty_ && tenth == last_tenth_ && done != total_) return;
    last_tenth_ = tenth;
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(frac * kWidth);
    const std::string line = fmt::format("smol eval-seq2seq: [{}{}] {}/{} sentences, {:.1f} s, {:.2f} sentences/s",
                                         std::string(filled, '#'), std::string(kWidth - filled, '.'), done, total_,
                                         secs, secs > 0 ? done / secs : 0.0);
    std::fprintf(stderr, tty_ ? "\r%s\x1b[K" : "%s\n", line.c_str());
    if (tty_ && done == total_) std::fputc('\n', stderr);
    std::fflush(stderr);
  }

 private:
  size_t total_;
  std::chrono::steady_clock::time_point start_;
  bool tty_ = isatty(fileno(stderr));
  int last_tenth_ = -1;
};

std::vector<std::string> generate_outputs(const EvalArgs& args, const std::vector<std::string>& sources) {
  const std::filesystem::path dir = resolve_model(args.model);
  if (!is_seq2seq_folder(dir)) {
    throw Error(args.model + " is not an encoder-decoder folder (BART, mBART, Marian); eval-seq2seq generates with one, "
                "or give --hyps FILE to score existing outputs");
  }
  std::optional<WeightType> weights;
  if (!args.weights.empty()) weights = weight_type_from_flag(args.weights);
  Seq2SeqEngine engine(dir, args.threads, args.load, weights);
  const Seq2SeqRequest request = seq2seq_request(engine, args.search, args.cache_type);
  std::vector<std::string> outputs;
  outputs.reserve(sources.size());
  Progress progress(sources.size());
  for (size_t first = 0; first < sources.size(); first += args.batch) {
    const size_t count = std::min<size_t>(args.batch, sources.size() - first);
    std::vector<std::vector<int32_t>> ids;
    for (size_t i = 0; i < count; ++i) ids.push_back(engine.tokenizer().encode_with_special(sources[first + i]));
    for (const SearchResult& result : generate_seq2seq(engine.model(), engine.pool(), ids, request)) {
      // As translate prints it: one line per output.
      outputs.push_back(one_line(engine.tokenizer().decode(result.best().ids, /*skip_special=*/true)));
    }
    progress.update(first + count);
  }
  return outputs;
}

void write_lines(const std::string& path, const std::vector<std::string>& lines) {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw Error(path + ": cannot write the file");
  for (const auto& l : lines) out << l << '\n';
  if (!out) throw Error(path + ": write error");
}

int run(const EvalArgs& args) {
  const bool generating = args.hypotheses.empty();
  if (generating && (args.model.empty() || args.sources.empty())) {
    throw Error("give -m MODEL -f SOURCES to generate the outputs, or --hyps FILE to score existing ones");
  }
  if (!generating && (!args.model.empty() || !args.sources.empty())) {
    throw Error("--hyps scores existing outputs: leave out -m and -f");
  }
  const auto start = std::chrono::steady_clock::now();
  const std::vector<std::string> references = read_lines(args.references);
  std::vector<std::string> hypotheses;
  if (generating) {
    const std::vector<std::string> sources = read_lines(args.sources);
    if (sources.size() != references.size()) {
      throw Error(fmt::format("{} has {} lines but {} has {}: give one reference line per source", args.sources,
                              sources.size(), args.references, references.size()));
    }
    hypotheses = generate_outputs(args, sources);
  } else {
    hypotheses = read_lines(args.hypotheses);
    if (hypotheses.size() != references.size()) {
      throw Error(fmt::format("{} has {} lines but {} has {}: give one reference line per hypothesis", args.hypotheses,
                              hypotheses.size(), args.references, references.size()));
    }
  }
  if (references.empty()) throw Error(args.references + " is empty: nothing to score");
  if (!args.output.empty()) write_lines(args.output, hypotheses);

  const TextMetrics m = score_corpus(hypotheses, references);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (args.json) {
    const nlohmann::json doc = {{"bleu", m.bleu},     {"chrf", m.chrf},           {"rouge1", m.rouge1},
                                {"rouge2", m.rouge2}, {"rougeL", m.rouge_l},      {"sentences", m.sentences},
                                {"seconds", seconds}};
    std::printf("%s\n", doc.dump().c_str());
  } else {
    std::printf("%s", fmt::format("BLEU {:.2f}  chrF2 {:.2f}  ROUGE-1 {:.4f}  ROUGE-2 {:.4f}  ROUGE-L {:.4f}  "
                                  "({} sentences, {:.2f} s)\n",
                                  m.bleu, m.chrf, m.rouge1, m.rouge2, m.rouge_l, m.sentences, seconds)
                          .c_str());
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace

Command add_eval_seq2seq_command(CLI::App& root) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* app = root.add_subcommand(
      "eval-seq2seq",
      "Score an encoder-decoder's outputs against references: BLEU and chrF (sacreBLEU), ROUGE-1/2/L (rouge-score)");
  app->add_option("-m,--model", args->model, "Encoder-decoder model folder or Hub repo id");
  add_mmap_option(*app, args->load);
  app->add_option("-f,--file", args->sources, "Sources, one per line")->check(CLI::ExistingFile);
  app->add_option("--refs", args->references, "References, one per line, in the order of the sources")
      ->required()
      ->check(CLI::ExistingFile);
  app->add_option("--hyps", args->hypotheses, "Score these outputs (one per line) instead of generating")
      ->check(CLI::ExistingFile);
  app->add_option("-o,--output", args->output, "Also write the generated outputs here, one per line");
  app->add_flag("--json", args->json,
                "Print {\"bleu\",\"chrf\",\"rouge1\",\"rouge2\",\"rougeL\",\"sentences\",\"seconds\"}: BLEU and chrF "
                "in 0..100, ROUGE F-measures (the mean over sentences) in 0..1");
  app->add_option("--batch", args->batch, "Sources encoded and decoded together")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  add_threads_option(*app, args->threads);
  add_cache_type_option(*app, args->cache_type);
  add_weights_option(*app, args->weights);
  add_search_options(*app, args->search);
  return {app, [args] { return run(*args); }};
}

}  // namespace smol::cli
