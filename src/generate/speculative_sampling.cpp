#include "generate/speculative_sampling.hpp"

#include <algorithm>

#include "smol/error.hpp"

namespace smol::detail {

namespace {

float prob_of(std::span<const TokenProb> dist, int32_t id) {
  for (const TokenProb& t : dist)
    if (t.id == id) return t.p;
  return 0.0f;
}

}  // namespace

DraftVerdict DraftJudge::judge(std::span<const TokenProb> p, std::span<const TokenProb> q, int32_t x,
                               Sampler& sampler) {
  const float px = prob_of(p, x), qx = prob_of(q, x);
  if (qx <= 0.0f) throw Error("speculative sampling: the drafted token has no probability under its own draft");
  // u < p(x) / q(x), without a division; no random number is spent when the answer is sure.
  if (px >= qx || (px > 0.0f && sampler.uniform() * qx < px)) return {true, x};

  for (const TokenProb& t : q) {
    if (t.id < 0 || static_cast<size_t>(t.id) >= q_dense_.size()) {
      throw Error("speculative sampling: a draft token id is outside the vocabulary");
    }
    q_dense_[static_cast<size_t>(t.id)] = t.p;
  }
  residual_.clear();
  for (const TokenProb& t : p) {
    const float r = t.p - q_dense_[static_cast<size_t>(t.id)];
    if (r > 0.0f) residual_.push_back({t.id, r});
  }
  for (const TokenProb& t : q) q_dense_[static_cast<size_t>(t.id)] = 0.0f;
  // p(x) < q(x) leaves mass elsewhere; only rounding could empty the residual, and then p is it.
  return {false, residual_.empty() ? sampler.draw_from(p) : sampler.draw_from(residual_)};
}

}  // namespace smol::detail
