// GenerationConfig: transformers' defaults, generation_config.json over config.json, and
// one-line errors for values transformers rejects.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "smol/error.hpp"
#include "smol/generation_config.hpp"

namespace smol {
namespace {

using nlohmann::json;

GenerationConfig parse(const std::string& text, bool from_model_config = false) {
  return GenerationConfig::from_json(json::parse(text), "test.json", from_model_config);
}

std::string error_of(const std::string& text) {
  try {
    parse(text);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Found by fuzz/generation_config_fuzz: a whole float beyond int64 was cast (undefined).
TEST(GenerationConfig, HugeFloatCountsAreErrors) {
  EXPECT_NE(error_of(R"({"max_length": 3e48})"), "");
  EXPECT_NE(error_of(R"({"num_beams": -1e300})"), "");
  EXPECT_EQ(parse(R"({"max_length": 30.0})").max_length, 30);
}

TEST(GenerationConfig, DefaultsAreTransformers) {
  const GenerationConfig c = parse("{}");
  EXPECT_EQ(c.max_length, 20);
  EXPECT_FALSE(c.max_new_tokens);
  EXPECT_EQ(c.min_length, 0);
  EXPECT_FALSE(c.min_new_tokens);
  EXPECT_EQ(c.early_stopping, EarlyStopping::False);
  EXPECT_FALSE(c.do_sample);
  EXPECT_EQ(c.num_beams, 1);
  EXPECT_EQ(c.temperature, 1.0);
  EXPECT_EQ(c.top_k, 50);
  EXPECT_EQ(c.top_p, 1.0);
  EXPECT_EQ(c.repetition_penalty, 1.0);
  EXPECT_EQ(c.length_penalty, 1.0);
  EXPECT_EQ(c.no_repeat_ngram_size, 0);
  EXPECT_FALSE(c.bad_words_ids);
  EXPECT_FALSE(c.forced_bos_token_id);
  EXPECT_TRUE(c.forced_eos_token_id.empty());
  EXPECT_TRUE(c.eos_token_id.empty());
  EXPECT_FALSE(c.decoder_start_token_id);
  EXPECT_EQ(c.num_return_sequences, 1);
  EXPECT_FALSE(c.max_length_set_by_caller);
}

TEST(GenerationConfig, ReadsTheFieldsOfABartStyleConfig) {
  const GenerationConfig c = parse(R"({
    "_from_model_config": true, "bos_token_id": 0, "decoder_start_token_id": 2, "early_stopping": true,
    "eos_token_id": 2, "forced_bos_token_id": 0, "forced_eos_token_id": 2, "length_penalty": 2.0,
    "max_length": 142, "min_length": 56, "no_repeat_ngram_size": 3, "num_beams": 4, "pad_token_id": 1,
    "bad_words_ids": [[5], [6, 7]], "transformers_version": "4.27.0.dev0"})");
  EXPECT_EQ(c.bos_token_id, 0);
  EXPECT_EQ(c.decoder_start_token_id, 2);
  EXPECT_EQ(c.early_stopping, EarlyStopping::True);
  EXPECT_EQ(c.eos_token_id, (std::vector<int32_t>{2}));
  EXPECT_EQ(c.forced_bos_token_id, 0);
  EXPECT_EQ(c.forced_eos_token_id, (std::vector<int32_t>{2}));
  EXPECT_EQ(c.length_penalty, 2.0);
  EXPECT_EQ(c.max_length, 142);
  EXPECT_EQ(c.min_length, 56);
  EXPECT_EQ(c.no_repeat_ngram_size, 3);
  EXPECT_EQ(c.num_beams, 4);
  EXPECT_EQ(c.pad_token_id, 1);
  EXPECT_EQ(*c.bad_words_ids, (std::vector<std::vector<int32_t>>{{5}, {6, 7}}));
}

TEST(GenerationConfig, EarlyStoppingNeverAndEosLists) {
  const GenerationConfig c = parse(R"({"early_stopping": "never", "eos_token_id": [2, 7], "num_beams": 3,
                                       "max_new_tokens": 5, "min_new_tokens": 2, "do_sample": true,
                                       "temperature": 0.7, "top_k": 0, "top_p": 0.9})");
  EXPECT_EQ(c.early_stopping, EarlyStopping::Never);
  EXPECT_EQ(c.eos_token_id, (std::vector<int32_t>{2, 7}));
  EXPECT_EQ(c.max_new_tokens, 5);
  EXPECT_EQ(c.min_new_tokens, 2);
  EXPECT_TRUE(c.do_sample);
  EXPECT_DOUBLE_EQ(c.temperature, 0.7);
  EXPECT_EQ(c.top_k, 0);
  EXPECT_DOUBLE_EQ(c.top_p, 0.9);
  EXPECT_EQ(parse(R"({"early_stopping": false})").early_stopping, EarlyStopping::False);
}

TEST(GenerationConfig, ModelConfigIgnoresOtherKeysAndNulls) {
  const GenerationConfig c = parse(R"({"d_model": 512, "model_type": "marian", "max_length": 512, "num_beams": 4,
                                       "bad_words_ids": [[58100]], "decoder_start_token_id": 58100,
                                       "forced_eos_token_id": 0, "eos_token_id": 0, "pad_token_id": 58100,
                                       "min_length": null, "top_k": null})",
                                   true);
  EXPECT_EQ(c.max_length, 512);
  EXPECT_EQ(c.num_beams, 4);
  EXPECT_EQ(c.min_length, 0);
  EXPECT_EQ(c.top_k, 50);
  EXPECT_EQ(c.decoder_start_token_id, 58100);
}

TEST(GenerationConfig, BadValuesAreOneLineErrorsNamingTheKey) {
  EXPECT_NE(error_of(R"({"early_stopping": "sometimes"})").find("'early_stopping'"), std::string::npos);
  EXPECT_NE(error_of(R"({"num_beams": 0})").find("num_beams"), std::string::npos);
  EXPECT_NE(error_of(R"({"max_new_tokens": 0})").find("max_new_tokens"), std::string::npos);
  EXPECT_NE(error_of(R"({"num_beams": 2, "num_return_sequences": 3})").find("num_return_sequences"), std::string::npos);
  EXPECT_NE(error_of(R"({"num_return_sequences": 2})").find("num_return_sequences"), std::string::npos);
  EXPECT_NE(error_of(R"({"bad_words_ids": []})").find("bad_words_ids"), std::string::npos);
  EXPECT_NE(error_of(R"({"bad_words_ids": [[]]})").find("bad_words_ids"), std::string::npos);
  EXPECT_NE(error_of(R"({"bad_words_ids": [3]})").find("bad_words_ids"), std::string::npos);
  EXPECT_NE(error_of(R"({"eos_token_id": -3})").find("eos_token_id"), std::string::npos);
  EXPECT_NE(error_of(R"({"max_length": "long"})").find("'max_length'"), std::string::npos);
  EXPECT_NE(error_of(R"({"do_sample": true, "temperature": 0})").find("temperature"), std::string::npos);
  EXPECT_NE(error_of(R"({"top_p": 1.5})").find("top_p"), std::string::npos);
  EXPECT_NE(error_of(R"({"repetition_penalty": 0})").find("repetition_penalty"), std::string::npos);
  EXPECT_NE(error_of(R"({"num_beams": 2})"), "x");
  EXPECT_EQ(error_of(R"({"num_beams": 2})"), "");
  const std::string e = error_of(R"({"num_beams": -1})");
  EXPECT_EQ(e.find('\n'), std::string::npos);
  EXPECT_EQ(e.rfind("test.json: ", 0), 0u) << e;
}

TEST(GenerationConfig, FolderPrefersGenerationConfigJson) {
  const auto dir = std::filesystem::temp_directory_path() / ("smol-genconfig-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "config.json") << R"({"num_beams": 4, "max_length": 200, "model_type": "bart"})";
  EXPECT_EQ(GenerationConfig::from_folder(dir).num_beams, 4);
  EXPECT_EQ(GenerationConfig::from_folder(dir).max_length, 200);
  std::ofstream(dir / "generation_config.json") << R"({"num_beams": 2})";
  const GenerationConfig c = GenerationConfig::from_folder(dir);
  EXPECT_EQ(c.num_beams, 2);
  EXPECT_EQ(c.max_length, 20);  // config.json is not read when generation_config.json exists
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace smol
