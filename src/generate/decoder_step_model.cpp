// The decoder-only Model behind the StepModel interface: a KV cache per row.
#include "smol/decoder_step_model.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "smol/error.hpp"
#include "smol/thread_pool.hpp"

namespace smol {

DecoderStepModel::DecoderStepModel(const Model& model, ThreadPool& pool, int capacity, WeightType cache_type,
                                   int prefill_batch)
    : model_(model), pool_(pool), capacity_(capacity), cache_type_(cache_type), prefill_batch_(prefill_batch) {
  if (capacity <= 0) throw Error(fmt::format("context size must be positive, got {}", capacity));
  if (capacity > model.config().max_position_embeddings) {
    throw Error(fmt::format("context {} exceeds the model's max_position_embeddings of {}", capacity,
                            model.config().max_position_embeddings));
  }
  if (prefill_batch <= 0) throw Error("prefill batch must be positive");
}

DecoderStepModel::~DecoderStepModel() = default;

int DecoderStepModel::vocab_size() const { return model_.config().vocab_size; }

int DecoderStepModel::max_position_embeddings() const { return model_.config().max_position_embeddings; }

std::unique_ptr<KvCache> DecoderStepModel::take_cache() {
  if (spare_.empty()) return std::make_unique<KvCache>(model_.config(), capacity_, cache_type_);
  std::unique_ptr<KvCache> cache = std::move(spare_.back());
  spare_.pop_back();
  return cache;
}

void DecoderStepModel::ensure_buffers(int tokens) {
  if (buf_ && buf_->max_tokens >= tokens) return;
  const int size = std::max({tokens, buf_ ? buf_->max_tokens : 0, 1});
  buf_ = std::make_unique<ForwardBuffers>(model_.config(), size, pool_.size(), capacity_);
}

std::span<const float> DecoderStepModel::start(std::span<const std::vector<int32_t>> prefixes) {
  for (auto& row : rows_) spare_.push_back(std::move(row));
  rows_.clear();
  const int vocab = vocab_size();
  start_logits_.resize(prefixes.size() * static_cast<size_t>(vocab));
  for (size_t i = 0; i < prefixes.size(); ++i) {
    const std::vector<int32_t>& prefix = prefixes[i];
    const int n = static_cast<int>(prefix.size());
    if (n == 0) throw Error("generate: an input is empty: give at least one token");
    if (n >= capacity_) {
      throw Error(fmt::format("the prompt has {} tokens, but the context holds only {}: shorten the prompt or raise "
                              "the context",
                              n, capacity_));
    }
    std::unique_ptr<KvCache> cache = take_cache();
    cache->clear();
    const int batch = std::min(prefill_batch_, n);
    ensure_buffers(batch);
    for (int done = 0; done < n; done += batch) {
      const int count = std::min(batch, n - done);
      model_.forward(std::span<const int32_t>(prefix).subspan(done, count), *cache, *buf_, pool_, Logits::Last);
    }
    std::copy_n(buf_->logits.data(), vocab, start_logits_.data() + i * vocab);
    rows_.push_back(std::move(cache));
  }
  return start_logits_;
}

void DecoderStepModel::reorder(std::span<const int> parents) {
  std::vector<int> remaining(rows_.size(), 0);
  for (int p : parents) {
    if (p < 0 || p >= static_cast<int>(rows_.size())) {
      throw Error(fmt::format("reorder: row {} does not exist (there are {})", p, rows_.size()));
    }
    ++remaining[p];
  }
  std::vector<std::unique_ptr<KvCache>> next(parents.size());
  // Copies first, while every parent is still in place; the last child takes the original.
  for (size_t i = 0; i < parents.size(); ++i) {
    const int p = parents[i];
    if (remaining[p] > 1) {
      next[i] = take_cache();
      next[i]->copy_from(*rows_[p]);
      --remaining[p];
    }
  }
  for (size_t i = 0; i < parents.size(); ++i) {
    if (!next[i]) next[i] = std::move(rows_[parents[i]]);
  }
  for (auto& row : rows_) {
    if (row) spare_.push_back(std::move(row));
  }
  rows_ = std::move(next);
}

std::span<const float> DecoderStepModel::step(std::span<const int32_t> tokens) {
  const int n = static_cast<int>(tokens.size());
  if (n != rows()) throw Error(fmt::format("step: {} tokens for {} rows", n, rows()));
  if (n == 0) return {};
  ensure_buffers(n);
  slots_.clear();
  logit_rows_.clear();
  for (int i = 0; i < n; ++i) {
    slots_.push_back({rows_[i].get(), rows_[i]->size()});
    logit_rows_.push_back(i);
  }
  model_.forward_batch(tokens, slots_, logit_rows_, *buf_, pool_);
  return std::span<const float>(buf_->logits.data(), static_cast<size_t>(n) * vocab_size());
}

}  // namespace smol
