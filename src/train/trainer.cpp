// One optimizer step over the global batch: this rank's share in micro-batches, gradients
// summed over ranks, then clipping and AdamW (fp16: with dynamic loss scaling).
#include <fmt/format.h>

#include <chrono>
#include <algorithm>
#include <cmath>

#include "smol/error.hpp"
#include "smol/thread_pool.hpp"
#include "smol/train.hpp"
#include "smol/train_distributed.hpp"
#include "train/random.hpp"

namespace smol {

namespace {

int micro_batch_size(const TrainOptions& o, int ranks) {
  const int per_rank = o.batch / ranks;
  if (o.batch % ranks != 0 || per_rank % o.grad_accum != 0) {
    throw Error(fmt::format("--batch {} must split evenly over {} MPI ranks x --grad-accum {}", o.batch, ranks,
                            o.grad_accum));
  }
  return per_rank / o.grad_accum;
}

}  // namespace

Trainer::Trainer(const TrainOptions& options, TrainModel model, const TokenData& data, ThreadPool& pool,
                 Distributed& dist, const Checkpoint* resume)
    : options_(options),
      model_(std::move(model)),
      pool_(pool),
      dist_(dist),
      precision_(parse_precision(options.precision)),
      micro_batch_(micro_batch_size(options, dist.size())) {
  if (model_.arch != TrainArch::DecoderOnly) {
    throw Error("this model is an encoder-decoder: train it on source/target pairs (JSONL or TSV)");
  }
  if (options.seq_len < 1) throw Error("--seq-len is required (tokens per window) for a decoder-only model");
  if (options.label_smoothing != 0.0) throw Error("--label-smoothing is for encoder-decoder models");
  windows_ = std::make_unique<WindowSampler>(data, options.seq_len, options.val_fraction, options.shuffle, options.seed);
  if (options_.dropout < 0.0f) options_.dropout = 0.0f;
  init(resume);
  acts_ = std::make_unique<Activations>(model_.config, micro_batch_, options.seq_len, options_.dropout > 0.0f);
  inputs_.resize(static_cast<size_t>(micro_batch_) * options.seq_len);
  targets_.resize(inputs_.size());
}

Trainer::Trainer(const TrainOptions& options, TrainModel model, const PairData& pairs, ThreadPool& pool,
                 Distributed& dist, const Checkpoint* resume)
    : options_(options),
      model_(std::move(model)),
      pair_data_(&pairs),
      pool_(pool),
      dist_(dist),
      precision_(parse_precision(options.precision)),
      micro_batch_(micro_batch_size(options, dist.size())) {
  if (model_.arch != TrainArch::EncoderDecoder) {
    throw Error("source/target pairs train an encoder-decoder; this model is decoder-only (use text or JSONL text)");
  }
  pairs_ = std::make_unique<PairSampler>(pairs, options.batch, options.val_fraction, options.shuffle, options.seed);
  // Unset rates come from config.json, as transformers' modules read them.
  auto rate = [&](float& flag, const char* key) {
    if (flag < 0.0f) flag = model_.config_json.value(key, 0.0f);
    if (!(flag >= 0.0f && flag < 1.0f)) throw Error(fmt::format("{} must be in [0, 1)", key));
  };
  rate(options_.dropout, "dropout");
  rate(options_.attention_dropout, "attention_dropout");
  rate(options_.activation_dropout, "activation_dropout");
  init(resume);
  int max_source = 1, max_target = 1;
  for (size_t i = 0; i < pairs.size(); ++i) {
    max_source = std::max(max_source, static_cast<int>(pairs.source(i).size()));
    max_target = std::max(max_target, static_cast<int>(pairs.target(i).size()));
  }
  const Seq2SeqConfig& c = model_.seq2seq;
  if (std::max(max_source, max_target) > c.max_position_embeddings) {
    throw Error(fmt::format("pairs of up to {} source / {} target tokens exceed max_position_embeddings {}; lower "
                            "--max-source-len / --max-target-len",
                            max_source, max_target, c.max_position_embeddings));
  }
  // Sized for the longest batch once, so the step loop never reallocates.
  seq2seq_acts_ = std::make_unique<Seq2SeqActivations>(c, micro_batch_, max_source, max_target);
  if (options_.dropout > 0 || options_.attention_dropout > 0 || options_.activation_dropout > 0) {
    seq2seq_acts_->allocate_masks();
  }
}

void Trainer::init(const Checkpoint* resume) {
  options_.validate();
  schedule_ = {parse_schedule(options_.schedule), options_.lr, options_.steps, options_.warmup, options_.min_lr,
               options_.decay_fraction};
  adamw_.beta1 = options_.beta1;
  adamw_.beta2 = options_.beta2;
  adamw_.eps = options_.eps;
  adamw_.weight_decay = options_.weight_decay;
  adamw_.layer_decay = options_.layer_decay;
  if (resume) {
    optimizer_ = resume->optimizer;
    state_ = resume->state;
    if (precision_ != Precision::FP16) state_.loss_scale = 1.0;
  } else {
    state_.seed = options_.seed;
    state_.loss_scale = precision_ == Precision::FP16 ? options_.initial_loss_scale : 1.0;
  }
  // A resumed run keeps its data order and dropout stream: both are functions of the seed.
  if (resume && state_.seed != options_.seed) options_.seed = state_.seed;
  state_.options = options_.to_json();
  grads_.assign(model_.layout.size(), 0.0f);
}

Trainer::~Trainer() = default;

size_t Trainer::activation_bytes() const { return acts_ ? acts_->bytes() : seq2seq_acts_->bytes(); }

ForwardOptions Trainer::forward_options(bool train) const {
  ForwardOptions fo;
  fo.precision = precision_;
  fo.label_smoothing = options_.label_smoothing;
  if (train) {
    fo.dropout = options_.dropout;
    fo.attention_dropout = std::max(0.0f, options_.attention_dropout);
    fo.activation_dropout = std::max(0.0f, options_.activation_dropout);
    fo.dropout_seed = mix_seed(state_.seed, 0xd509, static_cast<uint64_t>(state_.step));
  }
  return fo;
}

void Trainer::fill_pairs(const int64_t* indices, int n) {
  std::vector<std::vector<int32_t>> sources(n), targets(n);
  for (int b = 0; b < n; ++b) {
    const auto s = pair_data_->source(indices[b]), t = pair_data_->target(indices[b]);
    sources[b].assign(s.begin(), s.end());
    targets[b].assign(t.begin(), t.end());
  }
  pair_batch_ = make_seq2seq_batch(model_.seq2seq, sources, targets);
}

void Trainer::run_micro_batches(int64_t first_row, double dloss, double& loss_sum) {
  const int T = options_.seq_len;
  const ParamPtrs params = model_.layout.bind(model_.params.data());
  const ParamPtrs grads = model_.layout.bind(grads_.data());
  std::vector<int64_t> indices(static_cast<size_t>(micro_batch_));
  for (int k = 0; k < options_.grad_accum; ++k) {
    const int64_t row0 = first_row + static_cast<int64_t>(k) * micro_batch_;
    ForwardOptions fo = forward_options(true);
    fo.first_row = row0;
    if (pairs_) {
      for (int b = 0; b < micro_batch_; ++b) indices[b] = pairs_->train_pair(row0 + b);
      fill_pairs(indices.data(), micro_batch_);
      const Seq2SeqConfig& c = model_.seq2seq;
      loss_sum += model_forward(c, params, pair_batch_, *seq2seq_acts_, pool_, fo);
      model_backward(c, params, grads, pair_batch_, dloss, *seq2seq_acts_, pool_, fo);
      continue;
    }
    for (int b = 0; b < micro_batch_; ++b) {
      windows_->train_row(row0 + b, inputs_.data() + static_cast<size_t>(b) * T, targets_.data() + static_cast<size_t>(b) * T);
    }
    loss_sum += model_forward(model_.config, params, inputs_.data(), targets_.data(), *acts_, pool_, fo);
    model_backward(model_.config, params, grads, inputs_.data(), targets_.data(), dloss, *acts_, pool_, fo);
  }
}

StepResult Trainer::compute_gradients() {
  const auto start = std::chrono::steady_clock::now();
  StepResult r;
  r.step = state_.step + 1;
  r.lr = learning_rate(schedule_, state_.step);
  const int B = options_.batch, T = options_.seq_len;
  const int64_t first_row = state_.step * B;

  // The loss is a mean over every scored target of the global batch, so each token's share
  // of the gradient is 1/scored however the batch is split.
  if (pairs_) {
    for (int b = 0; b < B; ++b) {
      const int64_t i = pairs_->train_pair(first_row + b);
      r.scored += static_cast<int64_t>(pair_data_->target(i).size());
      r.tokens += static_cast<int64_t>(pair_data_->source(i).size() + pair_data_->target(i).size());
    }
  } else {
    std::vector<int32_t> in(T), tgt(T);
    for (int b = 0; b < B; ++b) r.scored += windows_->train_row(first_row + b, in.data(), tgt.data());
    r.tokens = static_cast<int64_t>(B) * T;
  }
  const double dloss = r.scored > 0 ? state_.loss_scale / static_cast<double>(r.scored) : 0.0;

  std::fill(grads_.begin(), grads_.end(), 0.0f);
  double loss_sum = 0.0;
  run_micro_batches(first_row + static_cast<int64_t>(dist_.rank()) * (B / dist_.size()), dloss, loss_sum);
  dist_.allreduce_sum(grads_.data(), grads_.size());
  dist_.allreduce_sum(&loss_sum, 1);
  if (state_.loss_scale != 1.0) {
    const auto inv = static_cast<float>(1.0 / state_.loss_scale);
    pool_.parallel_for(grads_.size(), [&](size_t begin, size_t end) {
      for (size_t i = begin; i < end; ++i) grads_[i] *= inv;
    });
  }
  r.grad_norm = global_norm(grads_.data(), grads_.size());
  r.loss = r.scored > 0 ? loss_sum / static_cast<double>(r.scored) : 0.0;
  r.loss_scale = state_.loss_scale;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

void Trainer::apply_update(StepResult& r) {
  const auto start = std::chrono::steady_clock::now();
  if (!std::isfinite(r.grad_norm)) {
    if (precision_ != Precision::FP16) {
      throw Error(fmt::format("training diverged at step {}: the gradient is not finite (loss {}); try a lower --lr",
                              r.step, r.loss));
    }
    // fp16: the scaled gradient overflowed; skip the update and retry with half the scale.
    r.skipped = true;
    state_.loss_scale /= 2.0;
    state_.good_steps = 0;
    state_.skipped_steps += 1;
  } else {
    clip_by_global_norm(grads_.data(), grads_.size(), r.grad_norm, options_.grad_clip);
    adamw_update(pool_, model_.layout, model_.params.data(), grads_.data(), optimizer_, r.lr, adamw_);
    if (precision_ == Precision::FP16 && ++state_.good_steps >= options_.loss_scale_window) {
      state_.loss_scale *= 2.0;
      state_.good_steps = 0;
    }
  }
  state_.step += 1;
  state_.tokens_seen += r.tokens;
  r.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

StepResult Trainer::step() {
  StepResult r = compute_gradients();
  apply_update(r);
  return r;
}

EvalResult Trainer::evaluate_pairs() {
  EvalResult e;
  const int64_t n = std::min<int64_t>(pairs_->val_pairs(), static_cast<int64_t>(options_.eval_batches) * options_.batch);
  if (n == 0) return e;
  const ParamPtrs params = model_.layout.bind(model_.params.data());
  const ForwardOptions fo = forward_options(false);
  const int64_t chunks = (n + micro_batch_ - 1) / micro_batch_;
  double sums[2] = {0.0, 0.0};  // loss, scored targets
  std::vector<int64_t> indices;
  for (int64_t c = dist_.rank(); c < chunks; c += dist_.size()) {
    indices.clear();
    for (int64_t i = c * micro_batch_; i < std::min(n, (c + 1) * micro_batch_); ++i) {
      indices.push_back(pairs_->val_pair(i));
      sums[1] += static_cast<double>(pair_data_->target(indices.back()).size());
    }
    fill_pairs(indices.data(), static_cast<int>(indices.size()));
    sums[0] += model_forward(model_.seq2seq, params, pair_batch_, *seq2seq_acts_, pool_, fo);
  }
  dist_.allreduce_sum(sums, 2);
  e.tokens = static_cast<int64_t>(sums[1]);
  e.loss = sums[1] > 0 ? sums[0] / sums[1] : 0.0;
  e.perplexity = std::exp(e.loss);
  return e;
}

EvalResult Trainer::evaluate() {
  if (pairs_) return evaluate_pairs();
  EvalResult e;
  const int T = options_.seq_len;
  const int64_t windows = std::min<int64_t>(windows_->val_windows(), static_cast<int64_t>(options_.eval_batches) * options_.batch);
  if (windows == 0) return e;
  const ParamPtrs params = model_.layout.bind(model_.params.data());
  ForwardOptions fo;
  fo.precision = precision_;
  const int64_t chunks = (windows + micro_batch_ - 1) / micro_batch_;
  double sums[2] = {0.0, 0.0};  // loss, scored targets
  for (int64_t c = dist_.rank(); c < chunks; c += dist_.size()) {
    for (int b = 0; b < micro_batch_; ++b) {
      int32_t* in = inputs_.data() + static_cast<size_t>(b) * T;
      int32_t* tgt = targets_.data() + static_cast<size_t>(b) * T;
      const int64_t w = c * micro_batch_ + b;
      if (w < windows) {
        sums[1] += windows_->val_row(w, in, tgt);
      } else {  // padding row of the last chunk: run but not scored
        windows_->val_row(0, in, tgt);
        std::fill(tgt, tgt + T, -1);
      }
    }
    sums[0] += model_forward(model_.config, params, inputs_.data(), targets_.data(), *acts_, pool_, fo);
  }
  dist_.allreduce_sum(sums, 2);
  e.tokens = static_cast<int64_t>(sums[1]);
  e.loss = sums[1] > 0 ? sums[0] / sums[1] : 0.0;
  e.perplexity = std::exp(e.loss);
  return e;
}

void Trainer::save(const std::filesystem::path& dir) {
  if (tokenizer_dir_.empty()) {
    tokenizer_dir_ = options_.resume.empty() ? options_.model : resolve_checkpoint_dir(options_.resume);
  }
  tokenizer_dir_ = save_checkpoint(dir, model_, optimizer_, state_,
                                   options_.save_dtype == "bf16" ? DType::BF16 : DType::F32, tokenizer_dir_);
}

}  // namespace smol
