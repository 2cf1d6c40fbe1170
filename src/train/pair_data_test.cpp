// Source/target pair data: the length-bucketed sampler and truncation.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <set>

#include "smol/tokenizer.hpp"
#include "smol/train_data.hpp"
#include "test_support/fixtures.hpp"
#include "test_support/temp_files.hpp"

namespace smol {
namespace {

PairData random_pairs(int n, uint64_t seed) {
  std::mt19937 rng(seed);
  PairData d;
  for (int i = 0; i < n; ++i) {
    d.append(std::vector<int32_t>(1 + rng() % 60, 5), std::vector<int32_t>(1 + rng() % 60, 6));
  }
  return d;
}

// Sum over batches of (longest source - each source): the padding the encoder computes on.
int64_t padding(const PairData& d, const PairSampler& s, int64_t first_row, int batch, int n_batches) {
  int64_t pad = 0;
  for (int k = 0; k < n_batches; ++k) {
    size_t longest = 0;
    std::vector<size_t> lens;
    for (int b = 0; b < batch; ++b) lens.push_back(d.source(s.train_pair(first_row + k * batch + b)).size());
    for (size_t l : lens) longest = std::max(longest, l);
    for (size_t l : lens) pad += static_cast<int64_t>(longest - l);
  }
  return pad;
}

TEST(PairSampler, EachEpochVisitsEveryTrainingPairOnceInLengthBuckets) {
  const PairData d = random_pairs(1000, 1);
  const PairSampler s(d, 8, 0.1, true, 42), again(d, 8, 0.1, true, 42), other(d, 8, 0.1, true, 43);
  ASSERT_EQ(s.train_pairs(), 900);
  ASSERT_EQ(s.val_pairs(), 100);
  for (int64_t epoch = 0; epoch < 2; ++epoch) {
    std::set<int64_t> seen;
    for (int64_t r = 0; r < 900; ++r) seen.insert(s.train_pair(epoch * 900 + r));
    EXPECT_EQ(seen.size(), 900u);
    EXPECT_LT(*seen.rbegin(), 900);  // never a held-out pair
  }
  std::vector<int64_t> a, b, c, e1;
  for (int64_t r = 0; r < 900; ++r) {
    a.push_back(s.train_pair(r));
    b.push_back(again.train_pair(r));
    c.push_back(other.train_pair(r));
    e1.push_back(s.train_pair(900 + r));
  }
  EXPECT_EQ(a, b);   // a function of the seed
  EXPECT_NE(a, c);   // and of nothing else
  EXPECT_NE(a, e1);  // each epoch its own order
  // Buckets: far less padding than batches of file-order pairs.
  const PairSampler plain(d, 8, 0.1, false, 42);
  const int64_t bucketed = padding(d, s, 0, 8, 100), unsorted = padding(d, plain, 0, 8, 100);
  EXPECT_LT(bucketed * 5, unsorted) << bucketed << " vs " << unsorted;
  EXPECT_EQ(d.source(plain.train_pair(3)).size(), d.source(3).size());
  EXPECT_EQ(plain.val_pair(0), 900);
}

TEST(PairData, JsonlAndTsvTokenizeAndTruncateKeepingEos) {
  const auto dir = testing::source_dir() / "tests" / "fixtures" / "seq2seq" / "marian-tied";
  const Tokenizer tok = Tokenizer::from_folder(dir);
  testing::TempDir tmp;
  std::ofstream(tmp.path() / "p.jsonl") << R"({"source": "the house is small and the dog is big", "target": "das Haus"})"
                                        << "\n\n" << R"({"source": "a cat", "target": "eine Katze ist hier und dort"})"
                                        << "\n";
  std::ofstream(tmp.path() / "p.tsv") << "the house is small and the dog is big\tdas Haus\na cat\teine Katze ist hier und dort\n";
  const auto tgt = tok.encode_target("das Haus");
  ASSERT_GT(tok.encode_target("eine Katze ist hier und dort").size(), tgt.size());
  const PairLimits limits{5, static_cast<int>(tgt.size()), 0};
  const PairData j = tokenize_pairs(tmp.path() / "p.jsonl", tok, limits);
  const PairData t = tokenize_pairs(tmp.path() / "p.tsv", tok, limits);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j.source_tokens, t.source_tokens);
  EXPECT_EQ(j.target_tokens, t.target_tokens);
  const auto full = tok.encode_with_special("the house is small and the dog is big");
  ASSERT_GT(full.size(), 5u);
  const auto s0 = j.source(0);
  EXPECT_EQ(std::vector<int32_t>(s0.begin(), s0.end() - 1), std::vector<int32_t>(full.begin(), full.begin() + 4));
  EXPECT_EQ(s0.back(), 0);  // </s> kept
  EXPECT_EQ(j.target(1).size(), tgt.size());
  EXPECT_EQ(j.target(1).back(), 0);
  EXPECT_EQ(j.truncated_sources, 1);
  EXPECT_EQ(j.truncated_targets, 1);
  EXPECT_EQ(std::vector<int32_t>(j.target(0).begin(), j.target(0).end()), tgt);
}

}  // namespace
}  // namespace smol
