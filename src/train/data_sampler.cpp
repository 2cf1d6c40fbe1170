// Which window of the token stream each batch row trains on.
#include <fmt/format.h>

#include <cmath>

#include "smol/error.hpp"
#include "smol/train_data.hpp"
#include "train/random.hpp"

namespace smol {

WindowSampler::WindowSampler(const TokenData& data, int seq_len, double val_fraction, bool shuffle, uint64_t seed)
    : data_(&data), seq_len_(seq_len), shuffle_(shuffle), seed_(seed) {
  if (seq_len < 1) throw Error("--seq-len must be at least 1");
  if (!(val_fraction >= 0.0 && val_fraction < 1.0)) throw Error("--val-fraction must be in [0, 1)");
  const auto n = static_cast<int64_t>(data.size());
  const auto n_val = static_cast<int64_t>(std::floor(static_cast<double>(n) * val_fraction));
  train_end_ = n - n_val;
  train_windows_ = train_end_ > 0 ? (train_end_ - 1) / seq_len : 0;
  val_windows_ = n_val > 0 ? (n_val - 1) / seq_len : 0;
  if (train_windows_ == 0) {
    throw Error(fmt::format("the training data has {} tokens: too few for one window of {}+1 tokens", train_end_,
                            seq_len));
  }
}

int WindowSampler::fill(int64_t start, int32_t* inputs, int32_t* targets) const {
  const auto tokens = data_->tokens();
  const auto scored = data_->scored();
  int count = 0;
  for (int t = 0; t < seq_len_; ++t) {
    const auto i = static_cast<size_t>(start + t);
    inputs[t] = tokens[i];
    const bool s = scored.empty() || scored[i + 1] != 0;
    targets[t] = s ? tokens[i + 1] : -1;
    count += s;
  }
  return count;
}

int WindowSampler::train_row(int64_t row, int32_t* inputs, int32_t* targets) const {
  const int64_t epoch = row / train_windows_;
  int64_t window = row % train_windows_;
  if (shuffle_) {
    if (epoch != perm_epoch_) {
      perm_ = random_permutation(train_windows_, mix_seed(seed_, 0x5a3b1e, static_cast<uint64_t>(epoch)));
      perm_epoch_ = epoch;
    }
    window = perm_[static_cast<size_t>(window)];
  }
  return fill(window * seq_len_, inputs, targets);
}

int WindowSampler::val_row(int64_t window, int32_t* inputs, int32_t* targets) const {
  return fill(train_end_ + (window % val_windows_) * seq_len_, inputs, targets);
}

}  // namespace smol
