// The sampling chain after penalties: top-k, temperature, softmax, top-p, min-p, draw.
// Work is O(vocab) per token and nothing is fully sorted: top-k keeps a k-item heap, top-p
// without top-k uses a probability-weighted quickselect, and min-p needs no order at all.
#include <algorithm>
#include <cmath>
#include <limits>

#include "smol/error.hpp"
#include "smol/sampler.hpp"

namespace smol {
namespace {

uint64_t resolve_seed(uint64_t requested) {
  if (requested != SamplingParams::kRandomSeed) return requested;
  std::random_device device;
  return (static_cast<uint64_t>(device()) << 32) | device();
}

// argmax() that also rejects rows nothing sensible can come from; one pass over the row.
int32_t checked_argmax(std::span<const float> logits) {
  size_t best = 0;
  float best_value = -std::numeric_limits<float>::infinity();
  bool any_nan = false;
  for (size_t i = 0; i < logits.size(); ++i) {
    const float x = logits[i];
    any_nan |= x != x;
    if (x > best_value) {
      best_value = x;
      best = i;
    }
  }
  if (any_nan) throw Error("sampler: the logits contain NaN (is the model file corrupt?)");
  if (best_value == -std::numeric_limits<float>::infinity())
    throw Error("sampler: every logit is -inf, nothing can be sampled");
  return static_cast<int32_t>(best);
}

}  // namespace

int32_t argmax(std::span<const float> logits) {
  size_t best = 0;
  float best_value = -std::numeric_limits<float>::infinity();
  for (size_t i = 0; i < logits.size(); ++i) {
    if (logits[i] > best_value) {  // strict: the first of equal values wins; NaN never does
      best_value = logits[i];
      best = i;
    }
  }
  return static_cast<int32_t>(best);
}

Sampler::Sampler(const SamplingParams& params) : params_(params) {
  params_.validate();
  seed_ = resolve_seed(params_.seed);
  rng_.seed(seed_);
}

double Sampler::uniform01() {
  // Built by hand rather than with std::uniform_real_distribution, whose output differs
  // between standard libraries; mt19937_64 itself is specified bit for bit.
  return static_cast<double>(rng_() >> 11) * 0x1.0p-53;
}

// Ties on logit are broken by id so that results do not depend on the standard library's
// heap/partition/sort internals.
constexpr auto better = [](const auto& a, const auto& b) {
  return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
};

// Puts the k best logits, best first, in cands_[0, k). A heap whose front is the worst kept
// candidate rejects almost every logit with one comparison, so this costs about one read of
// the row instead of writing vocab-sized candidates and running nth_element over them.
void Sampler::select_top_k(std::span<const float> logits, size_t k) {
  cands_.resize(k);
  for (size_t i = 0; i < k; ++i) cands_[i] = {logits[i], 0.0f, static_cast<int32_t>(i)};
  std::make_heap(cands_.begin(), cands_.end(), better);
  float worst = cands_.front().logit;
  for (size_t i = k; i < logits.size(); ++i) {
    // Later ids lose ties, so a strictly greater logit is exactly "better than the worst".
    if (logits[i] > worst) {
      std::pop_heap(cands_.begin(), cands_.end(), better);
      cands_.back() = {logits[i], 0.0f, static_cast<int32_t>(i)};
      std::push_heap(cands_.begin(), cands_.end(), better);
      worst = cands_.front().logit;
    }
  }
  std::sort_heap(cands_.begin(), cands_.end(), better);
}

// Keeps the smallest best-first prefix whose mass reaches top_p (at least one token) and
// returns its length. Unsorted candidates go through a quickselect weighted by probability:
// expected O(n), where sorting even a growing prefix costs several passes when the nucleus
// spans thousands of tokens (flat distributions, high temperature). The prefix it leaves is
// the right set but not in order, which nothing downstream needs.
size_t Sampler::keep_top_p(size_t n, bool sorted) {
  const double top_p = params_.top_p;
  size_t lo = 0, hi = n;
  double mass_before = 0.0;  // mass of cands_[0, lo), all better than anything in [lo, hi)
  constexpr size_t kSortBelow = 16;
  while (!sorted && hi - lo > kSortBelow) {
    const Candidate pivot = cands_[lo + (hi - lo) / 2];
    auto first = cands_.begin() + static_cast<std::ptrdiff_t>(lo);
    auto last = cands_.begin() + static_cast<std::ptrdiff_t>(hi);
    auto mid_it = std::partition(first, last, [&](const Candidate& c) { return better(c, pivot); });
    std::iter_swap(mid_it, std::find_if(mid_it, last, [&](const Candidate& c) { return c.id == pivot.id; }));
    const size_t mid = static_cast<size_t>(mid_it - cands_.begin());
    double mass_better = 0.0;
    for (size_t i = lo; i < mid; ++i) mass_better += cands_[i].p;
    if (mass_before + mass_better >= top_p) {
      hi = mid;
    } else if (mass_before + mass_better + pivot.p >= top_p) {
      return mid + 1;
    } else {
      mass_before += mass_better + pivot.p;
      lo = mid + 1;
    }
  }
  if (!sorted) std::sort(cands_.begin() + static_cast<std::ptrdiff_t>(lo),
                         cands_.begin() + static_cast<std::ptrdiff_t>(hi), better);
  for (size_t i = lo; i < hi; ++i) {
    mass_before += cands_[i].p;
    if (mass_before >= top_p) return i + 1;
  }
  return hi;  // the whole range, or a rounding hair short of top_p at its end
}

// Keeps tokens with p >= min_p * p_max, compacting them to the front of cands_.
size_t Sampler::keep_min_p(size_t n, bool sorted) {
  float p_max = 0.0f;
  if (sorted) {
    p_max = cands_[0].p;
  } else {
    for (size_t i = 0; i < n; ++i) p_max = std::max(p_max, cands_[i].p);
  }
  const float threshold = params_.min_p * p_max;
  size_t kept = 0;
  for (size_t i = 0; i < n; ++i)
    if (cands_[i].p >= threshold) cands_[kept++] = cands_[i];
  return kept;
}

int32_t Sampler::sample(std::span<float> logits, std::span<const int32_t> history) {
  if (logits.empty()) throw Error("sampler: the logits row is empty");
  apply_penalties(logits, history);
  return draw(logits);
}

int32_t Sampler::sample(std::span<float> logits, std::span<const int32_t> history, TokenConstraint* constraint) {
  if (!constraint) return sample(logits, history);
  if (logits.empty()) throw Error("sampler: the logits row is empty");
  apply_penalties(logits, history);
  const int32_t first = draw(logits);
  if (constraint->allows(first)) return first;
  constraint->mask(logits);
  bool any = false;
  for (float x : logits) any |= x != -std::numeric_limits<float>::infinity();
  if (!any) throw Error("sampler: the grammar allows no token here (does it need text this vocabulary cannot spell?)");
  return draw(logits);
}

size_t Sampler::keep_candidates(std::span<const float> logits, int32_t best, double& kept_mass) {
  const float max_logit = logits[static_cast<size_t>(best)];
  const size_t vocab = logits.size();
  size_t n = vocab;
  bool sorted = false;  // cands_[0, n) best first?
  if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < vocab) {
    n = static_cast<size_t>(params_.top_k);
    select_top_k(logits, n);
    sorted = true;
  } else {
    cands_.resize(vocab);
    for (size_t i = 0; i < vocab; ++i) cands_[i] = {logits[i], 0.0f, static_cast<int32_t>(i)};
  }

  // Softmax of logit / temperature over the survivors; the global max is always among them.
  double sum = 0.0;
  const bool infinite_max = std::isinf(max_logit);  // then the +inf logits share all the mass
  const float t = params_.temperature;
  for (size_t i = 0; i < n; ++i) {
    Candidate& c = cands_[i];
    if (infinite_max)
      c.p = c.logit == max_logit ? 1.0f : 0.0f;
    else
      c.p = std::exp((c.logit - max_logit) / t);
    sum += c.p;
  }
  const auto inv_sum = static_cast<float>(1.0 / sum);
  for (size_t i = 0; i < n; ++i) cands_[i].p *= inv_sum;

  if (params_.top_p < 1.0f) n = keep_top_p(n, sorted);
  if (params_.min_p > 0.0f) n = keep_min_p(n, sorted);

  kept_mass = 0.0;
  for (size_t i = 0; i < n; ++i) kept_mass += cands_[i].p;
  return n;
}

int32_t Sampler::draw(std::span<const float> logits) {
  const int32_t best = checked_argmax(logits);
  if (params_.temperature <= 0.0f) return best;
  double kept_mass = 0.0;
  const size_t n = keep_candidates(logits, best, kept_mass);
  // Renormalizing is folded into the draw: scale the uniform by the kept mass.
  const double target = uniform01() * kept_mass;
  double cumulative = 0.0;
  for (size_t i = 0; i < n; ++i) {
    cumulative += cands_[i].p;
    if (target < cumulative) return cands_[i].id;
  }
  // Rounding left the target at the very top: take the last token that has any mass.
  for (size_t i = n; i-- > 0;)
    if (cands_[i].p > 0.0f) return cands_[i].id;
  return cands_[0].id;
}

void Sampler::distribution(std::span<float> logits, std::span<const int32_t> history, std::vector<TokenProb>& out) {
  if (logits.empty()) throw Error("sampler: the logits row is empty");
  apply_penalties(logits, history);
  const int32_t best = checked_argmax(logits);
  out.clear();
  if (params_.temperature <= 0.0f) {
    out.push_back({best, 1.0f});
    return;
  }
  double kept_mass = 0.0;
  const size_t n = keep_candidates(logits, best, kept_mass);
  const auto inv = static_cast<float>(1.0 / kept_mass);
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) out.push_back({cands_[i].id, cands_[i].p * inv});
}

int32_t Sampler::draw_from(std::span<const TokenProb> dist) {
  double total = 0.0;
  for (const TokenProb& t : dist) total += t.p;
  if (!(total > 0.0)) throw Error("sampler: the distribution to draw from has no mass");
  const double target = uniform01() * total;
  double cumulative = 0.0;
  for (const TokenProb& t : dist) {
    cumulative += t.p;
    if (target < cumulative) return t.id;
  }
  for (size_t i = dist.size(); i-- > 0;)
    if (dist[i].p > 0.0f) return dist[i].id;
  return dist[0].id;
}

}  // namespace smol
