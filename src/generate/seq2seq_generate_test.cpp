// Encoder-decoder generation against tests/oracle's transcription of transformers' generate
// on the float64 reference: greedy and beam-search ids (and beam scores) for a batch of
// sources, with each case's parameters and with the folder's own generation config.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "smol/generation_config.hpp"
#include "smol/json_file.hpp"
#include "smol/seq2seq_generate.hpp"
#include "smol/thread_pool.hpp"
#include "test_support/fixtures.hpp"

namespace smol {
namespace {

std::filesystem::path fixture(const std::string& name) {
  return testing::source_dir() / "tests" / "fixtures" / "seq2seq" / name;
}

// The oracle's sequences hold the decoder start token first; smol's ids start after it.
std::vector<int32_t> generated_part(const nlohmann::json& sequence) {
  std::vector<int32_t> ids = sequence.get<std::vector<int32_t>>();
  ids.erase(ids.begin());
  return ids;
}

// What generate(**params) runs with: the folder's generation config (generation_config.json,
// else config.json's legacy fields) updated by the case's keyword arguments, a null one
// unsetting the field. A max_length passed as an argument is the caller's, so the "20 means
// 20 new tokens" default rule does not apply to it.
GenerationConfig case_config(const std::filesystem::path& dir, const nlohmann::json& params) {
  const bool has_generation_json = std::filesystem::exists(dir / "generation_config.json");
  nlohmann::json object = read_json_file(dir / (has_generation_json ? "generation_config.json" : "config.json"));
  for (const auto& [key, value] : params.items()) object[key] = value;
  GenerationConfig g = GenerationConfig::from_json(object, "case", /*from_model_config=*/!has_generation_json);
  g.max_length_set_by_caller = params.contains("max_length");
  return g;
}

void expect_case(const Seq2SeqModel& model, ThreadPool& pool, const std::vector<std::vector<int32_t>>& sources,
                 const GenerationConfig& g, const nlohmann::json& expected, const std::string& label) {
  Seq2SeqRequest request;
  request.generation = g;
  const std::vector<SearchResult> results = generate_seq2seq(model, pool, sources, request);
  ASSERT_EQ(results.size(), sources.size());
  for (size_t i = 0; i < sources.size(); ++i) {
    EXPECT_EQ(results[i].best().ids, generated_part(expected["sequences_one_by_one"][i]))
        << label << ", source " << i;
    if (expected.contains("sequence_scores")) {
      EXPECT_NEAR(results[i].best().score, expected["sequence_scores"][i].get<double>(), 1e-4)
          << label << ", source " << i;
    }
  }
}

class Seq2SeqGeneration : public ::testing::TestWithParam<std::string> {};

TEST_P(Seq2SeqGeneration, EveryCaseMatchesTheReferenceBatched) {
  const auto dir = fixture(GetParam());
  const nlohmann::json expected = read_json_file(dir / "expected.json");
  auto model = Seq2SeqModel::load(dir);
  ThreadPool pool(2);
  const auto sources = expected["source_ids"].get<std::vector<std::vector<int32_t>>>();
  for (const auto& [name, c] : expected["generation"].items()) {
    expect_case(*model, pool, sources, case_config(dir, c["params"]), c, GetParam() + " " + name);
    // The lengths transformers resolved for this case.
    const LengthLimits limits = resolve_lengths(case_config(dir, c["params"]), 1, model->config().max_position_embeddings);
    EXPECT_EQ(limits.max_length, c["resolved"]["max_length"].get<int>()) << name;
    EXPECT_EQ(limits.min_length, c["resolved"]["min_length"].get<int>()) << name;
  }
}

TEST_P(Seq2SeqGeneration, FolderGenerationConfigDecidesByDefault) {
  const auto dir = fixture(GetParam());
  const nlohmann::json expected = read_json_file(dir / "expected.json");
  auto model = Seq2SeqModel::load(dir);
  ThreadPool pool(1);
  const auto sources = expected["source_ids"].get<std::vector<std::vector<int32_t>>>();
  GenerationConfig g = GenerationConfig::from_folder(dir);
  expect_case(*model, pool, sources, g, expected["generation"]["generation_config"], GetParam() + " folder config");
  g.num_beams = 1;
  expect_case(*model, pool, sources, g, expected["generation"]["generation_config_greedy"],
              GetParam() + " folder config, greedy");
}

TEST_P(Seq2SeqGeneration, EveryCacheTypeGivesTheSameGreedyIds) {
  const auto dir = fixture(GetParam());
  const nlohmann::json expected = read_json_file(dir / "expected.json");
  auto model = Seq2SeqModel::load(dir);
  ThreadPool pool(1);
  const auto sources = expected["source_ids"].get<std::vector<std::vector<int32_t>>>();
  const nlohmann::json& c = expected["generation"]["greedy_plain"];
  // f16 rounding stays well inside the oracle's decision margins (>= 1e-4 in logits is not
  // guaranteed for bf16/q8_0, so only f16 is held to identical ids).
  Seq2SeqRequest request;
  request.generation = case_config(dir, c["params"]);
  request.cache_type = WeightType::F16;
  const std::vector<SearchResult> results = generate_seq2seq(*model, pool, sources, request);
  for (size_t i = 0; i < sources.size(); ++i) {
    EXPECT_EQ(results[i].best().ids, generated_part(c["sequences_one_by_one"][i])) << "source " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Families, Seq2SeqGeneration,
                         ::testing::Values("bart-tied", "bart-untied", "mbart", "marian-tied", "marian-untied"),
                         [](const auto& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace smol
