// Repetition, presence and frequency penalties: the one sampling stage that looks at history.
#include <algorithm>
#include <string>

#include "smol/error.hpp"
#include "smol/sampler.hpp"

namespace smol {

void Sampler::apply_penalties(std::span<float> logits, std::span<const int32_t> history) {
  if (!params_.penalties_enabled() || history.empty()) return;
  size_t n = history.size();
  if (params_.repeat_last_n > 0) n = std::min(n, static_cast<size_t>(params_.repeat_last_n));

  // Sorting a copy of the window gives distinct ids with their counts without a vocab-sized
  // table; the window is small (64 by default) and the buffer is reused.
  window_.assign(history.end() - static_cast<std::ptrdiff_t>(n), history.end());
  std::sort(window_.begin(), window_.end());

  const auto vocab = static_cast<int64_t>(logits.size());
  const float repeat = params_.repeat_penalty;
  for (size_t i = 0; i < window_.size();) {
    const int32_t id = window_[i];
    size_t j = i;
    while (j < window_.size() && window_[j] == id) ++j;
    const auto count = static_cast<float>(j - i);
    i = j;
    if (id < 0 || id >= vocab)
      throw Error("sampler: history token id " + std::to_string(id) +
                  " is outside the vocabulary [0, " + std::to_string(vocab) + ")");
    float& logit = logits[static_cast<size_t>(id)];
    if (repeat != 1.0f) logit = logit > 0.0f ? logit / repeat : logit * repeat;
    logit -= count * params_.frequency_penalty + params_.presence_penalty;
  }
}

}  // namespace smol
