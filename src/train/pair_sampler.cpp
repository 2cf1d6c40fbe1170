// Which source/target pair each batch row trains on: length-bucketed batches in a shuffled
// order, a pure function of (seed, epoch), so resumes and MPI ranks agree without state.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "smol/error.hpp"
#include "smol/train_data.hpp"
#include "train/random.hpp"

namespace smol {

namespace {
constexpr int64_t kBatchesPerChunk = 64;  // the window sorted by length: wider = less padding, less mixing
}

PairSampler::PairSampler(const PairData& data, int batch, double val_fraction, bool shuffle, uint64_t seed)
    : data_(&data), batch_(batch), shuffle_(shuffle), seed_(seed) {
  if (!(val_fraction >= 0.0 && val_fraction < 1.0)) throw Error("--val-fraction must be in [0, 1)");
  const auto n = static_cast<int64_t>(data.size());
  n_train_ = n - static_cast<int64_t>(std::floor(static_cast<double>(n) * val_fraction));
  if (n_train_ < 1) throw Error(fmt::format("the training data has {} pairs: too few to train on", n));
}

int64_t PairSampler::train_pair(int64_t row) const {
  const int64_t epoch = row / n_train_, pos = row % n_train_;
  if (!shuffle_) return pos;
  if (epoch != order_epoch_) {
    const std::vector<int64_t> perm = random_permutation(n_train_, mix_seed(seed_, 0x9a125, static_cast<uint64_t>(epoch)));
    auto longer = [&](int64_t a, int64_t b) {
      const auto la = std::make_pair(data_->source(a).size(), data_->target(a).size());
      const auto lb = std::make_pair(data_->source(b).size(), data_->target(b).size());
      return la < lb;
    };
    std::vector<std::vector<int64_t>> batches;
    const int64_t chunk = kBatchesPerChunk * batch_;
    for (int64_t c0 = 0; c0 < n_train_; c0 += chunk) {
      std::vector<int64_t> part(perm.begin() + c0, perm.begin() + std::min(n_train_, c0 + chunk));
      std::stable_sort(part.begin(), part.end(), longer);
      for (size_t b0 = 0; b0 < part.size(); b0 += static_cast<size_t>(batch_)) {
        batches.emplace_back(part.begin() + b0, part.begin() + std::min(part.size(), b0 + batch_));
      }
    }
    const std::vector<int64_t> order =
        random_permutation(static_cast<int64_t>(batches.size()), mix_seed(seed_, 0xb0c3e7, static_cast<uint64_t>(epoch)));
    order_.clear();
    for (int64_t b : order) order_.insert(order_.end(), batches[b].begin(), batches[b].end());
    order_epoch_ = epoch;
  }
  return order_[static_cast<size_t>(pos)];
}

}  // namespace smol
