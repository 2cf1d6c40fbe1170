// smol train: fine-tune or pretrain a model on a text / JSONL / chat JSONL file.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "smol/error.hpp"
#include "smol/train.hpp"
#include "smol/train_distributed.hpp"

namespace smol::cli {

namespace {

struct TrainArgs {
  TrainOptions o;
  std::string model, data, out, resume;
  bool no_shuffle = false;
  bool quiet = false;
  int64_t log_every = 1;
  CLI::Option* threads_option = nullptr;
  CLI::Option* dropout_option = nullptr;
};

std::string format_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e8) return "?";
  const auto s = static_cast<int64_t>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}h{:02}m", s / 3600, s / 60 % 60);
  if (s >= 60) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

// Ranks sharing this machine split its cores, unless -t says otherwise.
int threads_per_rank(const Distributed& dist) {
  int local = dist.size();
  if (const char* v = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE")) local = std::max(1, std::atoi(v));
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / local);
}

int run_train(TrainArgs& args) {
  Distributed dist;
  try {
    TrainOptions o = args.o;
    if (args.model.empty() && args.resume.empty()) throw Error("-m/--model is required (or --resume DIR)");
    if (!args.model.empty()) o.model = resolve_model(args.model);
    o.data = args.data;
    o.out = args.out;
    o.resume = args.resume;
    o.shuffle = !args.no_shuffle;
    if (!args.threads_option->count() && dist.size() > 1) o.threads = threads_per_rank(dist);
    if (!args.dropout_option->count()) o.dropout = -1.0f;  // the model's own (0 for decoder-only models)

    const bool tty = isatty(fileno(stderr));
    int64_t first_step = -1;
    TrainCallbacks cb;
    cb.message = [&](const std::string& m) {
      if (!args.quiet) std::fprintf(stderr, "%ssmol train: %s\n", tty ? "\r\033[K" : "", m.c_str());
    };
    cb.step = [&](const StepResult& r, int64_t total, double elapsed) {
      if (args.quiet) return;
      if (first_step < 0) first_step = r.step - 1;
      const int64_t done = r.step - first_step;
      const double eta = elapsed / done * static_cast<double>(total - r.step);
      const std::string line = fmt::format(
          "step {}/{} | loss {:.4f} | lr {:.3e} | grad norm {:.3f} | {:.0f} tok/s | ETA {}{}", r.step, total, r.loss,
          r.lr, r.grad_norm, elapsed > 0 ? static_cast<double>(done * r.tokens) / elapsed : 0.0, format_duration(eta),
          r.skipped ? " | skipped (fp16 overflow)" : "");
      if (tty) {
        std::fprintf(stderr, "\r\033[K%s", line.c_str());
        if (r.step == total) std::fputc('\n', stderr);
      } else if (r.step % args.log_every == 0 || r.step == total) {
        std::fprintf(stderr, "%s\n", line.c_str());
      }
      std::fflush(stderr);
    };
    cb.eval = [&](int64_t step, const EvalResult& e) {
      cb.message(fmt::format("step {}: validation loss {:.4f}, perplexity {:.2f} ({} tokens)", step, e.loss,
                             e.perplexity, e.tokens));
    };
    run_training(o, dist, cb);
    if (dist.is_root() && !args.quiet) {
      std::fprintf(stderr, "smol train: saved %s (log: train_log.jsonl, plot: loss_curve.svg)\n", o.out.c_str());
    }
    return 0;
  } catch (const std::exception& e) {
    if (dist.size() > 1) {
      std::fprintf(stderr, "smol train: error on rank %d: %s\n", dist.rank(), e.what());
      dist.abort(1);
    }
    throw;
  }
}

}  // namespace

Command add_train_command(CLI::App& root) {
  auto args = std::make_shared<TrainArgs>();
  TrainOptions& o = args->o;
  CLI::App* app = root.add_subcommand("train", "Train (fine-tune or pretrain) a model on a text or JSONL file");
  app->add_option("-m,--model", args->model, "Model folder to start from (Hugging Face layout)");
  app->add_option("--data", args->data,
                  "Training data: plain text, JSONL {\"text\"}, or chat JSONL {\"messages\"}; for encoder-decoders "
                  "JSONL {\"source\", \"target\"} or TSV source<TAB>target")
      ->required()->check(CLI::ExistingFile);
  app->add_option("--out", args->out, "Output folder: the checkpoint, train_log.jsonl and loss_curve.svg")->required();
  app->add_option("--steps", o.steps, "Total optimizer steps (a resumed run counts the steps already done)")
      ->required()->check(CLI::PositiveNumber);
  app->add_option("--batch", o.batch,
                  "Sequences (encoder-decoders: pairs) per optimizer step, over all MPI ranks and micro-batches")
      ->required()->check(CLI::PositiveNumber);
  app->add_option("--seq-len", o.seq_len, "Tokens per sequence (decoder-only models; required for them)")
      ->check(CLI::PositiveNumber);
  app->add_option("--max-source-len", o.max_source_len,
                  "Encoder-decoders: truncate sources to N tokens (default: max_position_embeddings)")
      ->check(CLI::PositiveNumber);
  app->add_option("--max-target-len", o.max_target_len,
                  "Encoder-decoders: truncate targets to N tokens (default: max_position_embeddings)")
      ->check(CLI::PositiveNumber);
  app->add_option("--label-smoothing", o.label_smoothing,
                  "Encoder-decoders: label smoothing epsilon, as Seq2SeqTrainer's label_smoothing_factor")
      ->capture_default_str();
  app->add_option("--lr", o.lr, "Peak learning rate")->required()->check(CLI::PositiveNumber);
  app->add_option("--beta1", o.beta1, "AdamW beta1")->capture_default_str();
  app->add_option("--beta2", o.beta2, "AdamW beta2")->capture_default_str();
  app->add_option("--eps", o.eps, "AdamW epsilon")->capture_default_str();
  app->add_option("--weight-decay", o.weight_decay, "Decoupled weight decay (tensors with ndim >= 2)")
      ->capture_default_str();
  app->add_option("--grad-clip", o.grad_clip, "Global gradient-norm clip (0: off)")->capture_default_str();
  app->add_option("--schedule", o.schedule, "Learning-rate schedule")
      ->check(CLI::IsMember({"constant", "cosine", "wsd"}))->capture_default_str();
  app->add_option("--warmup", o.warmup, "Linear warmup steps")->check(CLI::NonNegativeNumber)->capture_default_str();
  app->add_option("--min-lr", o.min_lr, "Learning rate at the end of cosine / WSD decay")->capture_default_str();
  app->add_option("--decay-fraction", o.decay_fraction, "WSD: fraction of the steps spent decaying")
      ->capture_default_str();
  app->add_option("--layer-decay", o.layer_decay,
                  "Layer-wise LR decay D: block l of L gets lr*D^(L-1-l), embeddings lr*D^L (1: off)")
      ->capture_default_str();
  args->dropout_option = app->add_option(
      "--dropout", o.dropout,
      "Dropout on attention probabilities and residual branches (default 0; encoder-decoders: config.json's "
      "dropout, on embeddings and residual branches)");
  app->add_option("--attention-dropout", o.attention_dropout,
                  "Encoder-decoders: dropout on attention probabilities (default: config.json's attention_dropout)");
  app->add_option("--activation-dropout", o.activation_dropout,
                  "Encoder-decoders: dropout after the FFN activation (default: config.json's activation_dropout)");
  app->add_option("--precision", o.precision, "Matmul precision (fp32 master weights and optimizer state)")
      ->check(CLI::IsMember({"fp32", "bf16", "fp16"}))->capture_default_str();
  app->add_option("--grad-accum", o.grad_accum, "Micro-batches the batch is split into (same result, less memory)")
      ->check(CLI::PositiveNumber)->capture_default_str();
  app->add_option("--save-every", o.save_every, "Checkpoint every N steps (0: only at the end)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  app->add_option("--save-dtype", o.save_dtype, "dtype of the saved model.safetensors")
      ->check(CLI::IsMember({"f32", "bf16"}))->capture_default_str();
  app->add_option("--val-fraction", o.val_fraction, "Fraction of the token stream held out for validation")
      ->capture_default_str();
  app->add_option("--eval-every", o.eval_every, "Validate every N steps (0: at each checkpoint)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  app->add_option("--eval-batches", o.eval_batches, "Batches of validation windows per evaluation")
      ->check(CLI::PositiveNumber)->capture_default_str();
  app->add_option("--seed", o.seed, "Seed of the data order and dropout")->capture_default_str();
  app->add_flag("--no-shuffle", args->no_shuffle, "Train on the windows in order (row b of step s: window s*B+b)");
  app->add_option("--resume", args->resume, "Continue exactly from a checkpoint folder written by smol train")
      ->check(CLI::ExistingDirectory);
  app->add_option("--log-every", args->log_every, "Progress line every N steps when stderr is not a terminal")
      ->check(CLI::PositiveNumber)->capture_default_str();
  app->add_flag("-q,--quiet", args->quiet, "No progress output");
  o.threads = default_threads();
  args->threads_option =
      app->add_option("-t,--threads", o.threads, "Threads per process")->check(CLI::Range(1, 1024))->capture_default_str();
  return {app, [args] { return run_train(*args); }};
}

}  // namespace smol::cli
