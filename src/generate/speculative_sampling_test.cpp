// Speculative sampling keeps the model's distribution: the acceptance rule on its own (many
// draws against hand-made p and q), and whole generations with a perturbed draft model and
// with prompt lookup, under the whole sampling chain (top-k, top-p, min-p, penalties),
// compared by a chi-square test with the exact distribution of the first three tokens.
// Seeds are fixed, so the outcome is the same on every run; the bounds (p = 1e-6) keep a
// correct rule far inside them, and each broken rule tried (always accepting, drawing a
// rejected token's replacement from p instead of norm(max(0, p - q))) lands far outside.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "generate/speculative_sampling.hpp"
#include "smol/generate.hpp"
#include "smol/init_weights.hpp"
#include "test_support/fixtures.hpp"
#include "test_support/temp_files.hpp"

namespace smol {
namespace {

using Ids = std::vector<int32_t>;

// The chi-square value a statistic with `dof` degrees of freedom exceeds with probability
// 1e-6 (Wilson-Hilferty).
double chi_square_bound(int dof) {
  const double k = dof, z = 4.753;
  return k * std::pow(1.0 - 2.0 / (9.0 * k) + z * std::sqrt(2.0 / (9.0 * k)), 3.0);
}

struct ChiSquare {
  double statistic = 0.0;
  int dof = 0;
};

// Observed counts against expected probabilities; cells expecting fewer than 5 are pooled.
template <class Key>
ChiSquare chi_square(const std::map<Key, int>& observed, const std::map<Key, double>& expected, int n) {
  ChiSquare r;
  double pooled_expected = 0.0, pooled_observed = 0.0, seen = 0.0;
  int cells = 0;
  for (const auto& [key, p] : expected) {
    const auto it = observed.find(key);
    const double o = it == observed.end() ? 0.0 : it->second, e = p * n;
    seen += o;
    if (e < 5.0) {
      pooled_expected += e;
      pooled_observed += o;
      continue;
    }
    r.statistic += (o - e) * (o - e) / e;
    ++cells;
  }
  pooled_observed += n - seen;  // outcomes the exact distribution gives no mass at all
  if (pooled_expected > 0.0 || pooled_observed > 0.0) {
    const double e = std::max(pooled_expected, 1e-9);
    r.statistic += (pooled_observed - e) * (pooled_observed - e) / e;
    ++cells;
  }
  r.dof = cells - 1;
  return r;
}

std::map<int32_t, double> as_map(std::span<const TokenProb> d) {
  std::map<int32_t, double> m;
  for (const TokenProb& t : d) m[t.id] += t.p;
  return m;
}

SamplingParams plain_sampling(uint64_t seed) {
  SamplingParams s;
  s.temperature = 1.0f;
  s.top_k = 0;
  s.top_p = 1.0f;
  s.min_p = 0.0f;
  s.seed = seed;
  return s;
}

// Drafts x ~ q, judges it against p, counts what comes out.
void expect_rule_keeps_p(const std::vector<TokenProb>& p, const std::vector<TokenProb>& q) {
  constexpr int kDraws = 60000;
  detail::DraftJudge judge(16);
  Sampler target(plain_sampling(1)), draft(plain_sampling(2));
  std::map<int32_t, int> counts;
  int accepted = 0;
  for (int i = 0; i < kDraws; ++i) {
    const int32_t x = draft.draw_from(q);
    const detail::DraftVerdict v = judge.judge(p, q, x, target);
    ++counts[v.token];
    accepted += v.accepted;
  }
  const ChiSquare c = chi_square(counts, as_map(p), kDraws);
  EXPECT_LT(c.statistic, chi_square_bound(c.dof)) << "dof " << c.dof;
  // The acceptance rate is sum_x min(p(x), q(x)).
  double expected_rate = 0.0;
  const auto qm = as_map(q);
  for (const TokenProb& t : p) expected_rate += std::min<double>(t.p, qm.count(t.id) ? qm.at(t.id) : 0.0);
  expected_rate = std::min(expected_rate, 1.0);
  const double sd = std::sqrt(expected_rate * (1 - expected_rate) / kDraws);
  EXPECT_NEAR(static_cast<double>(accepted) / kDraws, expected_rate, 5 * sd + 1e-12);
}

TEST(SpeculativeSampling, AcceptanceRuleKeepsTheTargetDistribution) {
  const std::vector<TokenProb> p = {{0, 0.5f}, {1, 0.2f}, {2, 0.15f}, {3, 0.1f}, {4, 0.05f}};
  // q overlaps p, favours other tokens, and proposes one p never gives (5).
  expect_rule_keeps_p(p, {{0, 0.1f}, {1, 0.4f}, {2, 0.05f}, {5, 0.3f}, {3, 0.15f}});
  expect_rule_keeps_p(p, {{2, 1.0f}});  // a deterministic draft (prompt lookup)
  expect_rule_keeps_p(p, {{7, 1.0f}});  // one that is always wrong
  expect_rule_keeps_p(p, p);            // a perfect draft: always accepted
}

TEST(SpeculativeSampling, GreedyNeedsNoRandomNumbers) {
  detail::DraftJudge judge(8);
  Sampler s(plain_sampling(3));
  const std::vector<TokenProb> p = {{4, 1.0f}};
  EXPECT_TRUE(judge.judge(p, p, 4, s).accepted);
  const detail::DraftVerdict v = judge.judge(p, {{{2, 1.0f}}}, 2, s);
  EXPECT_FALSE(v.accepted);
  EXPECT_EQ(v.token, 4);
}

// Whole generations: the exact distribution of the first three tokens after `prompt`, by
// forward passes over every branch of the sampling chain's support.
class SpeculativeDistribution : public ::testing::Test {
 protected:
  static constexpr int kRuns = 1500;

  SamplingParams chain(uint64_t seed) const {
    SamplingParams s;
    s.temperature = temperature_;
    s.top_k = 5;
    s.top_p = 0.95f;
    s.min_p = 0.02f;
    s.repeat_penalty = 1.3f;
    s.repeat_last_n = 4;  // penalises the draft too, not the whole prompt (see PromptLookup)
    s.seed = seed;
    return s;
  }

  // Adds P(continuation) * mass for every continuation of `depth` tokens, keyed by the
  // tokens after the first `prompt_len`.
  void exact(const Engine& engine, const Ids& prefix, size_t prompt_len, int depth, double mass,
             std::map<Ids, double>& out) {
    const Model& model = engine.model();
    const int n = static_cast<int>(prefix.size());
    KvCache kv(model.config(), n);
    ForwardBuffers buf(model.config(), n, pool_.size(), n);
    model.forward(prefix, kv, buf, pool_, Logits::Last);
    Sampler sampler(chain(0));
    std::vector<TokenProb> dist;
    sampler.distribution(std::span<float>(buf.logits.data(), model.config().vocab_size), prefix, dist);
    for (const TokenProb& t : dist) {
      Ids next = prefix;
      next.push_back(t.id);
      if (depth == 1) {
        out[Ids(next.begin() + static_cast<std::ptrdiff_t>(prompt_len), next.end())] += mass * t.p;
      } else {
        exact(engine, next, prompt_len, depth - 1, mass * t.p, out);
      }
    }
  }

  // Returns the tokens drafted over all runs.
  int64_t expect_distribution(Engine& target, const Ids& prompt, SpeculativeOptions spec) {
    std::map<Ids, double> expected;
    exact(target, prompt, prompt.size(), 3, 1.0, expected);
    std::map<Ids, int> observed;
    int64_t drafted = 0;
    for (int run = 0; run < kRuns; ++run) {
      GenerateOptions o;
      o.max_new_tokens = 3;
      o.sampling = chain(1000 + run);
      o.stop_ids = Ids{};
      o.speculative = spec;
      const GenerateResult r = generate(target, prompt, o, [](std::string_view) { return true; });
      ++observed[r.tokens];
      drafted += r.speculative.drafted;
    }
    const ChiSquare c = chi_square(observed, expected, kRuns);
    EXPECT_LT(c.statistic, chi_square_bound(c.dof)) << "dof " << c.dof;
    return drafted;
  }

  ThreadPool pool_{1};
  float temperature_ = 1.5f;  // flat enough for many outcomes, and for a draft to overlap
};

TEST_F(SpeculativeDistribution, PerturbedDraftModel) {
  testing::TempDir dir;
  perturb_model(testing::fixtures_dir() / "tiny-bf16", dir.path(), 0.25f, 11);
  Engine target(testing::fixtures_dir() / "tiny-bf16", 1);
  Engine draft(dir.path(), 1);
  SpeculativeOptions spec;
  spec.draft = &draft;
  spec.draft_p_min = 0.0f;
  const Ids prompt = {504, 3575, 282, 4649, 314};
  EXPECT_GE(expect_distribution(target, prompt, spec), kRuns);
}

TEST_F(SpeculativeDistribution, PromptLookup) {
  Engine target(testing::fixtures_dir() / "tiny-bf16", 1);
  SpeculativeOptions spec;
  spec.lookup_ngram = 1;
  temperature_ = 1.0f;  // at 1.5 the first token's support keeps moving as the prompt grows
  // A prompt that holds every token the model may say first after it, so that lookup always
  // finds the first token earlier and proposes what followed it: grown until it does. (The
  // random model gives those proposals no probability, so this checks the wiring of
  // rejections; AcceptanceRuleKeepsTheTargetDistribution checks accepted point masses.)
  const Ids tail = {504, 3575, 282, 4649, 314};
  Ids seen, prompt = tail;
  for (int round = 0; round < 20; ++round) {
    std::map<Ids, double> first;
    exact(target, prompt, prompt.size(), 1, 1.0, first);
    bool all_in = true;
    for (const auto& [ids, p] : first) {
      if (std::find(seen.begin(), seen.end(), ids[0]) != seen.end()) continue;
      seen.push_back(ids[0]);
      all_in = false;
    }
    prompt = seen;
    prompt.insert(prompt.end(), tail.begin(), tail.end());
    if (all_in) break;
  }
  EXPECT_GE(expect_distribution(target, prompt, spec), kRuns);
}

}  // namespace
}  // namespace smol
