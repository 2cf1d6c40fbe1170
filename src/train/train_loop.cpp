// `smol train` from start to end: data, model, the step loop, evaluation, checkpoints, logs.
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <ctime>

#include "smol/error.hpp"
#include "smol/json_file.hpp"
#include "smol/thread_pool.hpp"
#include "smol/train.hpp"
#include "smol/train_distributed.hpp"
#include "train/train_log.hpp"

namespace smol {

namespace {

nlohmann::json step_record(const StepResult& r, double elapsed, int64_t tokens_this_run, Precision precision) {
  nlohmann::json j = {{"type", "train"},
                      {"step", r.step},
                      {"loss", r.loss},
                      {"lr", r.lr},
                      {"grad_norm", std::isfinite(r.grad_norm) ? nlohmann::json(r.grad_norm) : nlohmann::json("inf")},
                      {"tokens", r.tokens},
                      {"step_seconds", r.seconds},
                      {"tokens_per_s", elapsed > 0 ? tokens_this_run / elapsed : 0.0},
                      {"elapsed_s", elapsed},
                      {"time", static_cast<int64_t>(std::time(nullptr))}};
  if (precision == Precision::FP16) j["loss_scale"] = r.loss_scale;
  if (r.skipped) {
    j["skipped"] = true;
    j["note"] = fmt::format("fp16 gradient overflow at loss scale {}: update skipped, scale halved to {}", r.loss_scale,
                            r.loss_scale / 2);
  }
  return j;
}

}  // namespace

void run_training(const TrainOptions& options_in, Distributed& dist, const TrainCallbacks& cb) {
  TrainOptions options = options_in;
  options.validate();
  // --resume OUT reads the checkpoint OUT/latest names, which is whole whatever a crash cut.
  if (!options.resume.empty()) options.resume = resolve_checkpoint_dir(options.resume);
  auto say = [&](const std::string& m) {
    if (dist.is_root() && cb.message) cb.message(m);
  };
  const std::filesystem::path model_dir = options.resume.empty() ? options.model : options.resume;

  const bool seq2seq = Seq2SeqConfig::is_seq2seq(read_json_file(model_dir / "config.json"));
  std::unique_ptr<Checkpoint> checkpoint;
  TrainModel model;
  if (!options.resume.empty()) {
    checkpoint = std::make_unique<Checkpoint>(load_checkpoint(options.resume));
    model = std::move(checkpoint->model);
    say(fmt::format("resuming {} at step {}", options.resume.string(), checkpoint->state.step));
  } else {
    model = TrainModel::load(options.model);
  }
  ThreadPool pool(options.threads);

  // Rank 0 tokenizes and writes the cache; the other ranks then read it.
  LoadedData loaded;
  LoadedPairs pairs;
  std::unique_ptr<Trainer> trainer_ptr;
  if (seq2seq) {
    const Seq2SeqConfig& c = model.seq2seq;
    PairLimits limits;
    limits.max_source_len = options.max_source_len > 0 ? options.max_source_len : c.max_position_embeddings;
    limits.max_target_len = options.max_target_len > 0 ? options.max_target_len : c.max_position_embeddings;
    limits.eos_token_id = c.eos_token_id;
    if (dist.is_root()) pairs = load_pair_data(options.data, model_dir, limits);
    dist.barrier();
    if (!dist.is_root()) pairs = load_pair_data(options.data, model_dir, limits);
    say(fmt::format("data: {} pairs ({} source + {} target tokens) {} {}", pairs.data.size(),
                    pairs.data.source_tokens.size(), pairs.data.target_tokens.size(),
                    pairs.from_cache ? "read from" : "tokenized, cached in", pairs.cache_path.string()));
    if (!pairs.note.empty()) say(pairs.note);
    trainer_ptr = std::make_unique<Trainer>(options, std::move(model), pairs.data, pool, dist, checkpoint.get());
  } else {
    if (dist.is_root()) loaded = load_training_data(options.data, model_dir);
    dist.barrier();
    if (!dist.is_root()) loaded = load_training_data(options.data, model_dir);
    say(fmt::format("data: {} tokens {} {}", loaded.data.size(), loaded.from_cache ? "read from" : "tokenized, cached in",
                    loaded.cache_path.string()));
    if (!loaded.note.empty()) say(loaded.note);
    trainer_ptr = std::make_unique<Trainer>(options, std::move(model), loaded.data, pool, dist, checkpoint.get());
  }
  Trainer& trainer = *trainer_ptr;
  checkpoint.reset();

  if (seq2seq) {
    const Seq2SeqConfig& c = trainer.model().seq2seq;
    const TrainOptions& r = trainer.options();
    say(fmt::format("model: {} parameters ({} {}+{} layers, d_model {}); {} training pairs, {} held out; {} rank(s) x "
                    "{} micro-batch(es) of {} pairs; dropout {} / attention {} / activation {}, label smoothing {}; "
                    "activations {:.1f} MiB per rank",
                    trainer.model().layout.size(), c.model_type, c.encoder.layers, c.decoder.layers, c.d_model,
                    trainer.pair_sampler().train_pairs(), trainer.pair_sampler().val_pairs(), dist.size(),
                    options.grad_accum, options.batch / dist.size() / options.grad_accum, r.dropout,
                    r.attention_dropout, r.activation_dropout, r.label_smoothing,
                    trainer.activation_bytes() / 1048576.0));
  } else {
    const auto& c = trainer.model().config;
    say(fmt::format("model: {} parameters ({} layers, hidden {}, {}); {} training windows of {} tokens, {} held out; "
                    "{} rank(s) x {} micro-batch(es) of {} rows; activations {:.1f} MiB per rank",
                    trainer.model().layout.size(), c.num_hidden_layers, c.hidden_size,
                    c.tie_word_embeddings ? "tied embeddings" : "separate lm_head", trainer.sampler().train_windows(),
                    options.seq_len, trainer.sampler().val_windows(), dist.size(), options.grad_accum,
                    options.batch / dist.size() / options.grad_accum, trainer.activation_bytes() / 1048576.0));
  }
  if (trainer.state().step >= options.steps) {
    say(fmt::format("already at step {} of {}: nothing to train", trainer.state().step, options.steps));
    return;
  }

  std::unique_ptr<TrainLog> log;
  const auto log_path = options.out / "train_log.jsonl";
  const auto svg_path = options.out / "loss_curve.svg";
  if (dist.is_root()) {
    std::error_code ec;
    std::filesystem::create_directories(options.out, ec);
    if (ec) throw Error(fmt::format("{}: cannot create the output folder: {}", options.out.string(), ec.message()));
    log = std::make_unique<TrainLog>(log_path, trainer.state().step);
  }

  const Precision precision = parse_precision(options.precision);
  const auto start = std::chrono::steady_clock::now();
  int64_t tokens_this_run = 0;
  const bool can_eval = seq2seq ? trainer.pair_sampler().val_pairs() > 0 : trainer.sampler().val_windows() > 0;
  while (trainer.state().step < options.steps) {
    const StepResult r = trainer.step();
    tokens_this_run += r.tokens;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (dist.is_root()) {
      log->append(step_record(r, elapsed, tokens_this_run, precision));
      if (r.skipped) {
        say(fmt::format("step {}: fp16 gradient overflow at loss scale {}; update skipped, scale now {}", r.step,
                        r.loss_scale, trainer.state().loss_scale));
      }
      if (cb.step) cb.step(r, options.steps, elapsed);
    }
    const int64_t s = r.step;
    const bool last = s == options.steps;
    const bool save = last || (options.save_every > 0 && s % options.save_every == 0);
    const bool eval = can_eval && (save || (options.eval_every > 0 && s % options.eval_every == 0));
    if (eval) {
      const EvalResult e = trainer.evaluate();  // collective: every rank takes part
      if (dist.is_root()) {
        log->append({{"type", "eval"}, {"step", s}, {"val_loss", e.loss}, {"val_ppl", e.perplexity},
                     {"tokens", e.tokens}});
        if (cb.eval) cb.eval(s, e);
      }
    }
    if (save && dist.is_root()) {
      trainer.save(options.out);
      write_loss_svg(svg_path, log->records());
    }
  }
  dist.barrier();
}

}  // namespace smol
