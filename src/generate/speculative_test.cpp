// Speculative decoding on the fixtures: greedy output is token for token plain greedy's, with
// the same model as draft (which then agrees with every check), a random model of the same
// vocabulary, and prompt lookup; and the combinations it cannot make exact are refused.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "smol/error.hpp"
#include "smol/generate.hpp"
#include "smol/init_weights.hpp"
#include "test_support/fixtures.hpp"
#include "test_support/temp_files.hpp"

namespace smol {
namespace {

using Ids = std::vector<int32_t>;

std::vector<Ids> fixture_prompts(const std::string& name) {
  std::ifstream in(testing::fixtures_dir() / name / "expected.json");
  const nlohmann::json expected = nlohmann::json::parse(in);
  std::vector<Ids> prompts;
  for (const auto& p : expected["prompts"]) prompts.push_back(p["ids"].get<Ids>());
  return prompts;
}

GenerateResult run(Engine& engine, const Ids& prompt, GenerateOptions options) {
  return generate(engine, prompt, options, [](std::string_view) { return true; });
}

GenerateOptions greedy(int n) {
  GenerateOptions o;
  o.max_new_tokens = n;
  o.sampling.temperature = 0.0f;
  o.stop_ids = Ids{};  // random weights: run the whole length
  return o;
}

class SpeculativeGreedy : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    random_dir_ = new testing::TempDir();
    init_random_model(testing::fixtures_dir() / "tiny-f32" / "config.json", random_dir_->path(), DType::F32, 7);
  }
  static void TearDownTestSuite() {
    delete random_dir_;
    random_dir_ = nullptr;
  }

  // Every fixture prompt, plain and speculative, with `edit` setting up the speculation.
  template <class Edit>
  SpeculativeStats expect_same_as_plain(Engine& target, GenerateOptions options, Edit edit) {
    SpeculativeStats total;
    for (const Ids& prompt : fixture_prompts(GetParam())) {
      const GenerateResult plain = run(target, prompt, options);
      GenerateOptions spec = options;
      edit(spec.speculative);
      const GenerateResult fast = run(target, prompt, spec);
      EXPECT_EQ(fast.tokens, plain.tokens) << "prompt of " << prompt.size() << " tokens";
      EXPECT_EQ(fast.finish_reason, plain.finish_reason);
      total.steps += fast.speculative.steps;
      total.drafted += fast.speculative.drafted;
      total.accepted += fast.speculative.accepted;
    }
    return total;
  }

  static testing::TempDir* random_dir_;
};
testing::TempDir* SpeculativeGreedy::random_dir_ = nullptr;

TEST_P(SpeculativeGreedy, SameModelAsDraftAgreesWithEveryCheck) {
  Engine target(testing::fixtures_dir() / GetParam(), 2);
  Engine draft(testing::fixtures_dir() / GetParam(), 1);
  for (int draft_max : {3, 16}) {  // 16 + 1 rows: past every batch-size switch of the kernels
    const SpeculativeStats s = expect_same_as_plain(target, greedy(24), [&](SpeculativeOptions& o) {
      o.draft = &draft;
      o.draft_max = draft_max;
      o.draft_p_min = 0.0f;
    });
    EXPECT_GT(s.drafted, 0);
    // The checks compute every row as plain decoding does, so a copy of the model never loses.
    EXPECT_EQ(s.accepted, s.drafted) << "draft_max " << draft_max;
    EXPECT_LT(s.steps, 24 * 6 / 2) << "speculation saved no target steps";
  }
}

TEST_P(SpeculativeGreedy, RandomDraftOfTheSameVocabulary) {
  Engine target(testing::fixtures_dir() / GetParam(), 2);
  Engine draft(random_dir_->path(), 1);
  for (WeightType cache : {WeightType::F32, WeightType::Q8_0}) {
    if (cache != WeightType::F32 && GetParam() != "tiny-f32") continue;  // one quantized cache is enough
    GenerateOptions o = greedy(24);
    o.cache_type = cache;
    const SpeculativeStats s = expect_same_as_plain(target, o, [&](SpeculativeOptions& spec) {
      spec.draft = &draft;
      spec.draft_max = 3;
      spec.draft_p_min = 0.0f;
    });
    EXPECT_GT(s.drafted, s.accepted) << "a random draft should be rejected sometimes";
  }
}

TEST_P(SpeculativeGreedy, PromptLookup) {
  Engine target(testing::fixtures_dir() / GetParam(), 2);
  for (int ngram : {1, 2, 3}) {
    const SpeculativeStats s = expect_same_as_plain(target, greedy(40), [&](SpeculativeOptions& o) {
      o.lookup_ngram = ngram;
      o.draft_max = 8;
    });
    if (ngram == 1) EXPECT_GT(s.accepted, 0) << "random models repeat themselves: lookup should hit";
  }
}

TEST_P(SpeculativeGreedy, WithRepetitionPenalty) {
  // Each checked row is penalised with the history and the draft before it.
  Engine target(testing::fixtures_dir() / GetParam(), 2);
  Engine draft(testing::fixtures_dir() / GetParam(), 1);
  GenerateOptions o = greedy(24);
  o.sampling.repeat_penalty = 1.5f;
  o.sampling.frequency_penalty = 0.5f;
  const SpeculativeStats s = expect_same_as_plain(target, o, [&](SpeculativeOptions& spec) {
    spec.draft = &draft;
    spec.draft_p_min = 0.0f;
  });
  EXPECT_EQ(s.accepted, s.drafted);
  expect_same_as_plain(target, o, [&](SpeculativeOptions& spec) { spec.lookup_ngram = 1; });
}

INSTANTIATE_TEST_SUITE_P(Fixtures, SpeculativeGreedy,
                         ::testing::Values("tiny-f32", "tiny-bf16", "tiny-f16-untied-sharded"));

TEST(Speculative, StopsAtEosAndLengthLikePlainDecoding) {
  Engine target(testing::fixtures_dir() / "tiny-f32", 1);
  const Ids prompt = fixture_prompts("tiny-f32")[0];
  GenerateOptions o = greedy(30);
  const Ids ids = run(target, prompt, o).tokens;
  o.stop_ids = Ids{ids[7]};  // a stop id the output reaches
  o.context = static_cast<int>(prompt.size()) + 20;
  for (int n : {1, 2, 9, 30}) {
    o.max_new_tokens = n;
    GenerateOptions spec = o;
    spec.speculative.draft = &target;
    spec.speculative.draft_p_min = 0.0f;
    const GenerateResult plain = run(target, prompt, o), fast = run(target, prompt, spec);
    EXPECT_EQ(fast.tokens, plain.tokens) << n;
    EXPECT_EQ(fast.finish_reason, plain.finish_reason) << n;
  }
}

TEST(Speculative, RefusesWhatItCannotMakeExact) {
  Engine target(testing::fixtures_dir() / "tiny-f32", 1);
  const Ids prompt = fixture_prompts("tiny-f32")[0];
  GenerateOptions o = greedy(4);
  o.speculative.lookup_ngram = 2;
  o.grammar = Grammar::from_gbnf("root ::= \"a\"+");
  EXPECT_THROW(run(target, prompt, o), Error);
  o.grammar.reset();
  o.speculative.draft = &target;  // both a draft and lookup
  EXPECT_THROW(run(target, prompt, o), Error);
  o.speculative.draft = nullptr;
  o.speculative.draft_min = 20;  // more than draft_max
  EXPECT_THROW(run(target, prompt, o), Error);
}

TEST(Speculative, RefusesADraftWithAnotherVocabulary) {
  testing::TempDir dir;
  // The fixture's shape with a smaller vocabulary: a draft that cannot speak for the model.
  nlohmann::json config;
  {
    std::ifstream in(testing::fixtures_dir() / "tiny-f32" / "config.json");
    config = nlohmann::json::parse(in);
  }
  config["vocab_size"] = 1000;
  std::filesystem::create_directories(dir / "cfg");
  testing::write_file(dir / "cfg" / "config.json", config.dump());
  init_random_model(dir / "cfg" / "config.json", dir / "draft", DType::F32, 1);
  std::filesystem::copy_file(testing::fixtures_dir() / "tiny-f32" / "tokenizer.json", dir / "draft" / "tokenizer.json");
  std::filesystem::copy_file(testing::fixtures_dir() / "tiny-f32" / "tokenizer_config.json",
                             dir / "draft" / "tokenizer_config.json");
  Engine target(testing::fixtures_dir() / "tiny-f32", 1);
  Engine draft(dir / "draft", 1);
  try {
    check_same_vocabulary(target, draft);
    ADD_FAILURE() << "a 1000-id draft was accepted for a 49152-id model";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("vocabulary"), std::string::npos) << e.what();
  }
  Engine same(testing::fixtures_dir() / "tiny-bf16", 1);
  EXPECT_NO_THROW(check_same_vocabulary(target, same));
}

}  // namespace
}  // namespace smol
