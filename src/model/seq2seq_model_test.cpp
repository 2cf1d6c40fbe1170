// The encoder-decoder forward pass against tests/oracle's float64 reference of transformers'
// BART / mBART / Marian: the encoder's last hidden states and the teacher-forced logits at
// every decoder position, for a batch of sources of different lengths.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "smol/error.hpp"
#include "smol/json_file.hpp"
#include "smol/safetensors.hpp"
#include "smol/seq2seq.hpp"
#include "smol/thread_pool.hpp"
#include "test_support/fixtures.hpp"

namespace smol {
namespace {

constexpr float kTolerance = 1e-3f;

std::filesystem::path seq2seq_fixture(const std::string& name) {
  return testing::source_dir() / "tests" / "fixtures" / "seq2seq" / name;
}

struct Reference {
  nlohmann::json expected;
  SafetensorsFile tensors;
};

Reference read_reference(const std::filesystem::path& dir) {
  return {read_json_file(dir / "expected.json"), SafetensorsFile::open(dir / "expected_logits.safetensors")};
}

std::vector<std::vector<int32_t>> id_lists(const nlohmann::json& j) {
  return j.get<std::vector<std::vector<int32_t>>>();
}

float max_abs_diff(const float* a, const float* b, size_t n) {
  float worst = 0.0f;
  for (size_t i = 0; i < n; ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
  return worst;
}

// Teacher-forced logits of every source's decoder inputs, all sources in one decode call.
std::vector<float> teacher_forced_logits(const Seq2SeqModel& model, ThreadPool& pool,
                                         const std::vector<std::vector<int32_t>>& sources,
                                         const std::vector<std::vector<int32_t>>& decoder_inputs, WeightType cache,
                                         std::vector<EncodedSource>* encoded_out = nullptr) {
  Seq2SeqBuffers buf;
  std::vector<EncodedSource> encoded = model.encode(sources, pool, buf);
  std::vector<KvCache> caches;
  caches.reserve(sources.size());
  std::vector<int32_t> tokens;
  std::vector<DecoderSlot> slots;
  std::vector<int> rows;
  for (size_t s = 0; s < sources.size(); ++s) {
    caches.push_back(model.make_cache(static_cast<int>(decoder_inputs[s].size()), cache));
    for (size_t t = 0; t < decoder_inputs[s].size(); ++t) {
      tokens.push_back(decoder_inputs[s][t]);
      slots.push_back({&caches.back(), static_cast<int>(t), &encoded[s]});
      rows.push_back(static_cast<int>(rows.size()));
    }
  }
  std::vector<float> logits;
  model.decode(tokens, slots, rows, logits, pool, buf);
  if (encoded_out) *encoded_out = std::move(encoded);
  return logits;
}

class Seq2SeqFixture : public ::testing::TestWithParam<std::string> {
 protected:
  std::filesystem::path dir() const { return seq2seq_fixture(GetParam()); }
};

TEST_P(Seq2SeqFixture, EncoderStatesAndTeacherForcedLogitsMatchReference) {
  auto model = Seq2SeqModel::load(dir());
  const Reference ref = read_reference(dir());
  const auto sources = id_lists(ref.expected["source_ids"]);
  const auto decoder_inputs = id_lists(ref.expected["decoder_input_ids"]);
  ThreadPool pool(2);
  std::vector<EncodedSource> encoded;
  const std::vector<float> logits =
      teacher_forced_logits(*model, pool, sources, decoder_inputs, WeightType::F32, &encoded);

  const TensorView& hidden = ref.tensors.get("encoder_last_hidden_state");  // [batch, padded, d]
  const int d = model->config().d_model;
  const int64_t padded = hidden.shape[1];
  for (size_t s = 0; s < sources.size(); ++s) {
    for (size_t p = 0; p < sources[s].size(); ++p) {  // padding positions are not compared
      EXPECT_LE(max_abs_diff(encoded[s].hidden.data() + p * d, hidden.f32() + (s * padded + p) * d, d), kTolerance)
          << "source " << s << " position " << p;
    }
  }
  const TensorView& expected = ref.tensors.get("logits");  // [batch, decoder length, vocab]
  const size_t vocab = model->config().decoder_vocab_size;
  ASSERT_EQ(static_cast<size_t>(expected.shape[2]), vocab);
  size_t row = 0;
  for (size_t s = 0; s < sources.size(); ++s) {
    for (size_t t = 0; t < decoder_inputs[s].size(); ++t, ++row) {
      const float* want = expected.f32() + (s * expected.shape[1] + t) * vocab;
      EXPECT_LE(max_abs_diff(logits.data() + row * vocab, want, vocab), kTolerance)
          << "source " << s << " decoder position " << t;
    }
  }
}

TEST_P(Seq2SeqFixture, BatchedEqualsOneByOneAndIncrementalEqualsTeacherForced) {
  auto model = Seq2SeqModel::load(dir());
  const Reference ref = read_reference(dir());
  const auto sources = id_lists(ref.expected["source_ids"]);
  const auto decoder_inputs = id_lists(ref.expected["decoder_input_ids"]);
  ThreadPool pool(2);
  const std::vector<float> batched = teacher_forced_logits(*model, pool, sources, decoder_inputs, WeightType::F32);
  const size_t vocab = model->config().decoder_vocab_size;
  size_t row = 0;
  for (size_t s = 0; s < sources.size(); ++s) {
    const std::vector<float> alone = teacher_forced_logits(*model, pool, {sources[s]}, {decoder_inputs[s]}, WeightType::F32);
    // Token by token, as generation runs it.
    Seq2SeqBuffers buf;
    const std::vector<EncodedSource> enc = model->encode(std::vector<std::vector<int32_t>>{sources[s]}, pool, buf);
    KvCache kv = model->make_cache(static_cast<int>(decoder_inputs[s].size()));
    for (size_t t = 0; t < decoder_inputs[s].size(); ++t, ++row) {
      std::vector<float> step;
      const int32_t token[] = {decoder_inputs[s][t]};
      const DecoderSlot slot[] = {{&kv, static_cast<int>(t), &enc[0]}};
      const int rows[] = {0};
      model->decode(token, slot, rows, step, pool, buf);
      EXPECT_LE(max_abs_diff(batched.data() + row * vocab, alone.data() + t * vocab, vocab), 1e-5f);
      EXPECT_LE(max_abs_diff(step.data(), alone.data() + t * vocab, vocab), 1e-5f);
    }
  }
}

TEST_P(Seq2SeqFixture, SmallerCacheTypesStayCloseToTheReference) {
  auto model = Seq2SeqModel::load(dir());
  const Reference ref = read_reference(dir());
  const auto sources = id_lists(ref.expected["source_ids"]);
  const auto decoder_inputs = id_lists(ref.expected["decoder_input_ids"]);
  ThreadPool pool(1);
  const std::vector<float> exact = teacher_forced_logits(*model, pool, sources, decoder_inputs, WeightType::F32);
  float largest = 0.0f;
  for (float x : exact) largest = std::max(largest, std::fabs(x));
  for (const auto [type, budget] : {std::pair{WeightType::F16, 3e-3f}, std::pair{WeightType::BF16, 3e-2f}}) {
    const std::vector<float> approx = teacher_forced_logits(*model, pool, sources, decoder_inputs, type);
    EXPECT_LE(max_abs_diff(exact.data(), approx.data(), exact.size()), budget * largest);
  }
}

TEST_P(Seq2SeqFixture, LoadTimeConversionKeepsLogitsClose) {
  const Reference ref = read_reference(dir());
  const auto sources = id_lists(ref.expected["source_ids"]);
  const auto decoder_inputs = id_lists(ref.expected["decoder_input_ids"]);
  ThreadPool pool(1);
  auto exact_model = Seq2SeqModel::load(dir());
  auto bf16_model = Seq2SeqModel::load(dir(), LoadMode::Read, WeightType::BF16);
  EXPECT_EQ(bf16_model->weights().encoder.layers[0].fc1.w.type, WeightType::BF16);
  const std::vector<float> exact = teacher_forced_logits(*exact_model, pool, sources, decoder_inputs, WeightType::F32);
  const std::vector<float> approx = teacher_forced_logits(*bf16_model, pool, sources, decoder_inputs, WeightType::F32);
  float largest = 0.0f;
  for (float x : exact) largest = std::max(largest, std::fabs(x));
  EXPECT_LE(max_abs_diff(exact.data(), approx.data(), exact.size()), 5e-2f * largest);
}

INSTANTIATE_TEST_SUITE_P(Families, Seq2SeqFixture,
                         ::testing::Values("bart-tied", "bart-untied", "mbart", "marian-tied", "marian-untied"),
                         [](const auto& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST(Seq2SeqConfig, RefusesOtherEncoderDecodersByName) {
  const nlohmann::json t5 = {{"model_type", "t5"}, {"is_encoder_decoder", true}};
  EXPECT_TRUE(Seq2SeqConfig::is_seq2seq(t5));
  try {
    Seq2SeqConfig::from_json(t5, "config.json");
    FAIL() << "t5 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("supported: bart, mbart, marian"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(Seq2SeqConfig::is_seq2seq({{"model_type", "llama"}}));
}

TEST(Seq2SeqConfig, ReadsMarianDefaultsAndRejectsBadValues) {
  const Seq2SeqConfig c = Seq2SeqConfig::from_json({{"model_type", "marian"}, {"activation_function", "swish"}}, "c");
  EXPECT_EQ(c.d_model, 512);
  EXPECT_EQ(c.vocab_size, 58101);
  EXPECT_EQ(c.pad_token_id, 58100);
  EXPECT_EQ(c.decoder_start_token_id, 58100);
  EXPECT_EQ(c.activation, Activation::SiLU);
  EXPECT_EQ(c.arch.positions, PositionKind::Sinusoidal);
  EXPECT_FALSE(c.arch.embedding_norm);
  EXPECT_THROW(Seq2SeqConfig::from_json({{"model_type", "bart"}, {"activation_function", "mish"}}, "c"), Error);
  EXPECT_THROW(Seq2SeqConfig::from_json({{"model_type", "bart"}, {"d_model", 30}, {"encoder_attention_heads", 4}}, "c"),
               Error);
}

TEST(Seq2SeqLoad, MissingTensorIsAOneLineErrorNamingIt) {
  // A fixture folder whose safetensors lack the first encoder layer's fc1 bias would be the
  // same story; here the config promises more layers than the checkpoint has.
  const auto src = seq2seq_fixture("bart-tied");
  const auto dir = std::filesystem::temp_directory_path() / "smol_seq2seq_missing_layer";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(src / "model.safetensors", dir / "model.safetensors");
  nlohmann::json config = read_json_file(src / "config.json");
  config["encoder_layers"] = 3;
  std::ofstream(dir / "config.json") << config.dump();
  try {
    Seq2SeqModel::load(dir);
    FAIL() << "loaded a model with a missing layer";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.encoder.layers.2."), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace smol
