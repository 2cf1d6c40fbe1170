#pragma once
// The training loop: the options of `smol train`, a Trainer that performs optimizer steps
// over a token stream (data-parallel across MPI ranks, with gradient accumulation), and
// run_training, which adds checkpoints, validation, logs and the loss curve.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "smol/train_checkpoint.hpp"
#include "smol/train_data.hpp"
#include "smol/train_model.hpp"
#include "smol/train_optim.hpp"
#include "smol/train_seq2seq.hpp"

namespace smol {

class Distributed;
class ThreadPool;

struct TrainOptions {
  std::filesystem::path model, data, out, resume;
  int64_t steps = 0;
  int batch = 0;    // sequences (pairs) per optimizer step, over all ranks and micro-batches
  int seq_len = 0;  // decoder-only: tokens per window
  double lr = 0.0;
  double beta1 = 0.9, beta2 = 0.95, eps = 1e-8, weight_decay = 0.1, grad_clip = 1.0;
  std::string schedule = "constant";
  int64_t warmup = 0;
  double min_lr = 0.0;
  double decay_fraction = 0.2;  // WSD: share of the steps spent decaying
  double layer_decay = 1.0;
  // Negative: the model's own rate (an encoder-decoder's config.json `dropout`,
  // `attention_dropout`, `activation_dropout`; 0 for decoder-only models).
  float dropout = 0.0f;
  float attention_dropout = -1.0f, activation_dropout = -1.0f;  // encoder-decoders
  double label_smoothing = 0.0;  // encoder-decoders: Seq2SeqTrainer's label_smoothing_factor
  int max_source_len = 0, max_target_len = 0;  // encoder-decoders; 0: max_position_embeddings
  std::string precision = "fp32";  // fp32 | bf16 | fp16
  int grad_accum = 1;              // micro-batches per rank per step (the batch is split, not grown)
  int64_t save_every = 0;          // 0: only at the end
  std::string save_dtype = "f32";  // f32 | bf16
  double val_fraction = 0.05;
  uint64_t seed = 0;
  bool shuffle = true;
  int threads = 1;
  int64_t eval_every = 0;       // 0: at every save and at the end
  int eval_batches = 4;         // validation batches (of `batch` windows) per evaluation
  double initial_loss_scale = 65536.0;  // fp16
  int64_t loss_scale_window = 1000;     // fp16: finite steps before the scale doubles

  void validate() const;  // smol::Error for inconsistent values
  nlohmann::json to_json() const;
};

Precision parse_precision(const std::string& name);

struct StepResult {
  int64_t step = 0;        // 1-based index of the step just taken
  double loss = 0.0;       // mean cross-entropy of the batch before the update
  double grad_norm = 0.0;  // global norm of the unscaled, unclipped gradient
  double lr = 0.0;
  int64_t tokens = 0;      // input tokens in the global batch
  int64_t scored = 0;      // targets that counted towards the loss
  bool skipped = false;    // fp16 overflow: no update
  double loss_scale = 1.0;
  double seconds = 0.0;
};

struct EvalResult {
  double loss = 0.0;
  double perplexity = 0.0;
  int64_t tokens = 0;
};

class Trainer {
 public:
  // `state` (from a checkpoint) restores the optimizer and the step; otherwise a fresh run.
  Trainer(const TrainOptions& options, TrainModel model, const TokenData& data, ThreadPool& pool, Distributed& dist,
          const Checkpoint* resume = nullptr);
  // An encoder-decoder on source/target pairs: the same steps, optimizer and checkpoints.
  Trainer(const TrainOptions& options, TrainModel model, const PairData& pairs, ThreadPool& pool, Distributed& dist,
          const Checkpoint* resume = nullptr);
  ~Trainer();

  // Forward + backward over the global batch of the next step, gradients summed over ranks
  // and unscaled (no update). Returns the loss; the norm is in grad_norm().
  StepResult compute_gradients();
  // Clips and applies AdamW (or skips on fp16 overflow), advancing the step.
  void apply_update(StepResult& result);
  StepResult step();  // both

  EvalResult evaluate();  // mean loss over the held-out windows (no dropout)

  const TrainModel& model() const { return model_; }
  const AdamWState& optimizer() const { return optimizer_; }
  const TrainerState& state() const { return state_; }
  const std::vector<float>& grads() const { return grads_; }
  const WindowSampler& sampler() const { return *windows_; }  // decoder-only
  const PairSampler& pair_sampler() const { return *pairs_; }  // encoder-decoder
  bool is_seq2seq() const { return pairs_ != nullptr; }
  const TrainOptions& options() const { return options_; }  // dropout rates resolved
  size_t activation_bytes() const;
  // A crash-safe checkpoint under `dir` (see save_checkpoint).
  void save(const std::filesystem::path& dir);

 private:
  void init(const Checkpoint* resume);
  void run_micro_batches(int64_t first_row, double dloss, double& loss_sum);
  ForwardOptions forward_options(bool train) const;
  void fill_pairs(const int64_t* indices, int n);  // seq2seq: the batch of these pairs
  EvalResult evaluate_pairs();

  TrainOptions options_;
  TrainModel model_;
  std::unique_ptr<WindowSampler> windows_;
  const PairData* pair_data_ = nullptr;
  std::unique_ptr<PairSampler> pairs_;
  ThreadPool& pool_;
  Distributed& dist_;
  Precision precision_;
  ScheduleConfig schedule_;
  AdamWConfig adamw_;
  AdamWState optimizer_;
  TrainerState state_;
  std::vector<float> grads_;
  int micro_batch_;
  std::unique_ptr<Activations> acts_;
  std::unique_ptr<Seq2SeqActivations> seq2seq_acts_;
  std::vector<int32_t> inputs_, targets_;
  Seq2SeqBatch pair_batch_;
  // Where the next checkpoint copies the tokenizer files from: the model or resumed folder at
  // first, then the last checkpoint written (the one resumed from is removed by then).
  std::filesystem::path tokenizer_dir_;
};

// What run_training reports as it goes (the CLI prints it); called on rank 0 only.
struct TrainCallbacks {
  std::function<void(const std::string&)> message;  // one-line notes
  std::function<void(const StepResult&, int64_t total_steps, double elapsed_s)> step;
  std::function<void(int64_t step, const EvalResult&)> eval;
};

// The whole `smol train` run: loads the model (or the checkpoint to resume), tokenizes the
// data (cached), trains for options.steps steps in total, evaluating, logging to
// <out>/train_log.jsonl, plotting <out>/loss_curve.svg and saving checkpoints into <out>.
void run_training(const TrainOptions& options, Distributed& dist, const TrainCallbacks& callbacks);

}  // namespace smol
