// generate_search over the real decoder-only model (DecoderStepModel) on the fixtures:
// greedy equals the reference's greedy ids, beam search finds a sequence at least as likely
// as greedy's (scored by a separate forward pass), and batching changes nothing.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "smol/decoder_step_model.hpp"
#include "smol/generate.hpp"
#include "smol/thread_pool.hpp"
#include "test_support/fixtures.hpp"

namespace smol {
namespace {

using Ids = std::vector<int32_t>;

class DecoderSearch : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    model_ = Model::load(testing::fixtures_dir() / GetParam());
    std::ifstream in(testing::fixtures_dir() / GetParam() / "expected.json");
    expected_ = nlohmann::json::parse(in);
  }

  // log p(ids | prompt) from one full forward pass.
  double log_prob(const Ids& prompt, const Ids& ids) {
    Ids all = prompt;
    all.insert(all.end(), ids.begin(), ids.end());
    const int n = static_cast<int>(all.size());
    KvCache kv(model_->config(), n);
    ForwardBuffers buf(model_->config(), n, pool_.size(), n);
    model_->forward(all, kv, buf, pool_, Logits::All);
    const int vocab = model_->config().vocab_size;
    double total = 0.0;
    for (size_t i = 0; i < ids.size(); ++i) {
      const size_t pos = prompt.size() - 1 + i;
      total -= token_nll(std::span<const float>(buf.logits.data() + pos * vocab, vocab), ids[i]);
    }
    return total;
  }

  std::vector<SearchResult> search(const std::vector<Ids>& prompts, const GenerationConfig& c) {
    size_t longest = 0;
    for (const Ids& p : prompts) longest = std::max(longest, p.size());
    DecoderStepModel step(*model_, pool_, static_cast<int>(longest) + *c.max_new_tokens);
    return generate_search(step, prompts, c, 0);
  }

  ThreadPool pool_{2};
  std::unique_ptr<Model> model_;
  nlohmann::json expected_;
};

GenerationConfig config(int beams, int new_tokens) {
  GenerationConfig c;
  c.num_beams = beams;
  c.max_new_tokens = new_tokens;  // no eos: the fixtures' greedy ids run 24 tokens
  return c;
}

TEST_P(DecoderSearch, GreedyMatchesTheReferenceIds) {
  for (const auto& prompt : expected_["prompts"]) {
    const Ids ids = prompt["ids"].get<Ids>();
    const auto r = search({ids}, config(1, 24));
    EXPECT_EQ(r[0].best().ids, prompt["greedy_ids"].get<Ids>()) << prompt["text"];
  }
}

TEST_P(DecoderSearch, BeamsFindASequenceAtLeastAsLikelyAsGreedy) {
  const int n = 12;
  int strictly_better = 0;
  for (const auto& prompt : expected_["prompts"]) {
    const Ids ids = prompt["ids"].get<Ids>();
    const Ids greedy = search({ids}, config(1, n))[0].best().ids;
    const GeneratedSequence beam = search({ids}, config(4, n))[0].best();
    ASSERT_EQ(beam.ids.size(), static_cast<size_t>(n));
    const double beam_lp = log_prob(ids, beam.ids), greedy_lp = log_prob(ids, greedy);
    EXPECT_GE(beam_lp, greedy_lp - 1e-4) << prompt["text"];
    // The reported score is the float32 sum of log-probs over the length (penalty 1).
    EXPECT_NEAR(beam.score, beam_lp / n, 1e-3) << prompt["text"];
    strictly_better += beam_lp > greedy_lp + 1e-6;
  }
  EXPECT_GT(strictly_better, 0) << "beam search never beat greedy: the test would not notice a beam that is greedy";
}

TEST_P(DecoderSearch, BatchedPromptsEqualEachAlone) {
  std::vector<Ids> prompts;
  for (const auto& prompt : expected_["prompts"]) prompts.push_back(prompt["ids"].get<Ids>());
  GenerationConfig c = config(3, 8);
  c.eos_token_id = {model_->config().eos_token_ids.begin(), model_->config().eos_token_ids.end()};
  const auto together = search(prompts, c);
  for (size_t i = 0; i < prompts.size(); ++i) {
    const auto alone = search({prompts[i]}, c);
    EXPECT_EQ(together[i].best().ids, alone[0].best().ids) << i;
    EXPECT_NEAR(together[i].best().score, alone[0].best().score, 1e-4) << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, DecoderSearch, ::testing::Values("tiny-f32", "tiny-f16-untied-sharded"),
                         [](const auto& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace smol
