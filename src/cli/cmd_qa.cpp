// smol qa -m MODEL --context FILE -q QUESTION [--extractive] [--json]: a chat model answers a
// question about a text. --extractive keeps the answer a verbatim span of the text
// (SpanConstraint). stdout holds the answer (one line), or with --json
// {"answer", "start", "end"}: code-point offsets of the answer's first occurrence in the
// context, null when a free answer does not occur in it. The offsets also go to stderr.
#include <cstdio>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "cli/seq2seq_options.hpp"
#include "smol/chat_template.hpp"
#include "smol/error.hpp"
#include "smol/generate.hpp"
#include "smol/qa.hpp"

namespace smol::cli {

namespace {

struct QaArgs {
  std::string model;
  LoadMode load = LoadMode::Read;
  std::string context_file;
  std::string question;
  bool extractive = false;
  bool json = false;
  int n_predict = 64;
  int context = 0;
  int threads = 1;
  SamplingParams sampling;
};

int run_qa(const QaArgs& args) {
  args.sampling.validate();
  const std::string context = read_text_file(args.context_file);
  if (context.empty()) throw Error(fmt::format("{}: the context file is empty", args.context_file));
  const std::filesystem::path dir = resolve_model(args.model);
  if (is_seq2seq_folder(dir)) throw Error("smol qa needs a decoder-only chat model; this folder is an encoder-decoder");
  Engine engine(dir, args.threads, args.load);
  const std::string prompt =
      engine.chat_template().render(qa_messages(context, args.question, args.extractive), /*add_generation_prompt=*/true);

  GenerateOptions options;
  options.max_new_tokens = args.n_predict;
  options.sampling = args.sampling;
  options.context = args.context;
  if (args.extractive) options.span_of = context;
  std::string text;
  const GenerateResult result = generate(engine, engine.tokenizer().encode(prompt), options, [&](std::string_view piece) {
    text += piece;
    return true;
  });

  std::optional<AnswerSpan> span;
  std::string answer;
  if (args.extractive) {
    span = extractive_span(context, generated_bytes(engine.tokenizer(), result.tokens));
    answer = span->answer;
  } else {
    answer = std::string(trim_answer(text));
    span = find_span(context, answer);
  }
  if (args.json) {
    const nlohmann::ordered_json out = {{"answer", answer},
                                {"start", span ? nlohmann::ordered_json(span->start) : nlohmann::ordered_json(nullptr)},
                                {"end", span ? nlohmann::ordered_json(span->end) : nlohmann::ordered_json(nullptr)}};
    std::puts(out.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace).c_str());
  } else {
    std::fwrite(answer.data(), 1, answer.size(), stdout);
    std::fputc('\n', stdout);
  }
  std::fflush(stdout);
  const std::string where = span ? fmt::format("characters {}-{} of the context", span->start, span->end)
                                 : std::string("the answer does not occur in the context");
  std::fprintf(stderr, "%s", fmt::format("smol qa: {}; prompt {} tokens, generated {} tokens, stop: {}\n", where,
                                         result.prompt_tokens, result.tokens.size(), result.finish_reason)
                                 .c_str());
  return 0;
}

}  // namespace

Command add_qa_command(CLI::App& root) {
  auto args = std::make_shared<QaArgs>();
  args->sampling.temperature = 0.0f;  // greedy unless asked
  CLI::App* app = root.add_subcommand("qa", "Answer a question about a text with a chat model");
  add_model_option(*app, args->model);
  add_mmap_option(*app, args->load);
  app->add_option("--context", args->context_file, "The text the question is about (a UTF-8 file)")
      ->required()
      ->check(CLI::ExistingFile);
  app->add_option("-q,--question", args->question, "The question")->required();
  app->add_flag("--extractive", args->extractive, "Answer with a verbatim span of the context");
  app->add_flag("--json", args->json,
                "Print {\"answer\", \"start\", \"end\"} (code-point offsets of the answer in the context)");
  app->add_option("-n,--n-predict", args->n_predict, "Most tokens in the answer")
      ->check(positive_number())
      ->capture_default_str();
  app->add_option("-c,--ctx", args->context, "Context size in tokens (default: prompt + n, up to the model's maximum)")
      ->check(non_negative_number());
  add_threads_option(*app, args->threads);
  add_sampling_options(*app, args->sampling);
  return {app, [args] { return run_qa(*args); }};
}

}  // namespace smol::cli
