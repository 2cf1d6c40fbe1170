// The encoder-decoder training model against the inference side: its forward gives the
// float64 reference's logits on the inference fixtures (tests/fixtures/seq2seq), a checkpoint
// it writes is what Seq2SeqModel::load reads, bit for bit, under save_pretrained's names, and
// `smol init --config` (init_random_model) makes BART- and Marian-shaped models it trains.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <set>

#include "smol/init_weights.hpp"
#include "smol/json_file.hpp"
#include "smol/safetensors.hpp"
#include "smol/thread_pool.hpp"
#include "smol/train_checkpoint.hpp"
#include "smol/train_optim.hpp"
#include "smol/train_seq2seq.hpp"
#include "test_support/fixtures.hpp"
#include "test_support/temp_files.hpp"

namespace smol {
namespace {

std::filesystem::path inference_fixture(const std::string& name) {
  return testing::source_dir() / "tests" / "fixtures" / "seq2seq" / name;
}

class Seq2SeqTrainForward : public ::testing::TestWithParam<std::string> {};

TEST_P(Seq2SeqTrainForward, LogitsMatchTheFloat64Reference) {
  const auto dir = inference_fixture(GetParam());
  const nlohmann::json ex = read_json_file(dir / "expected.json");
  const TrainModel model = TrainModel::load(dir);
  const Seq2SeqConfig& c = model.seq2seq;
  const auto ids = ex["input_ids"].get<std::vector<std::vector<int32_t>>>();
  const auto mask = ex["attention_mask"].get<std::vector<std::vector<int32_t>>>();
  const auto dec = ex["decoder_input_ids"].get<std::vector<std::vector<int32_t>>>();
  Seq2SeqBatch b;
  b.batch = static_cast<int>(ids.size());
  b.source_len = static_cast<int>(ids[0].size());
  b.target_len = static_cast<int>(dec[0].size());
  for (int r = 0; r < b.batch; ++r) {
    b.source.insert(b.source.end(), ids[r].begin(), ids[r].end());
    int n = 0;
    for (int m : mask[r]) n += m;
    b.source_lengths.push_back(n);
    b.decoder_inputs.insert(b.decoder_inputs.end(), dec[r].begin(), dec[r].end());
  }
  b.labels.assign(b.decoder_inputs.size(), 0);
  ThreadPool pool(2);
  Seq2SeqActivations acts(c, b.batch, b.source_len, b.target_len);
  model_forward(c, model.layout.bind(model.params.data()), b, acts, pool, {});
  // The loss head leaves softmax(logits) in acts.logits: compare log-probabilities.
  const SafetensorsFile ref = SafetensorsFile::open(dir / "expected_logits.safetensors");
  const TensorView& logits = ref.get("logits");
  const int V = c.decoder_vocab_size, N = b.batch * b.target_len;
  ASSERT_EQ(logits.numel(), static_cast<int64_t>(N) * V);
  double worst = 0.0;
  for (int n = 0; n < N; ++n) {
    const float* x = logits.f32() + static_cast<size_t>(n) * V;
    double mx = x[0], sum = 0.0;
    for (int i = 0; i < V; ++i) mx = std::max<double>(mx, x[i]);
    for (int i = 0; i < V; ++i) sum += std::exp(x[i] - mx);
    for (int i = 0; i < V; ++i) {
      const double want = x[i] - mx - std::log(sum);
      const double got = std::log(static_cast<double>(acts.logits[static_cast<size_t>(n) * V + i]));
      worst = std::max(worst, std::fabs(got - want));
    }
  }
  std::printf("%s: worst |log p - reference| %.3g\n", GetParam().c_str(), worst);
  EXPECT_LT(worst, 1e-3);
}

INSTANTIATE_TEST_SUITE_P(Inference, Seq2SeqTrainForward,
                         ::testing::Values("bart-tied", "bart-untied", "mbart", "marian-tied", "marian-untied"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& ch : s) ch = ch == '-' ? '_' : ch;
                           return s;
                         });

// The names save_pretrained writes (tests/oracle/make_seq2seq_fixtures.py saved_state_dict)
// are exactly the layout's, with the same shapes.
TEST(Seq2SeqLayout, NamesAndShapesAreSavePretrainedOnes) {
  for (const char* name : {"bart-tied", "bart-untied", "mbart", "marian-tied", "marian-untied"}) {
    const auto dir = inference_fixture(name);
    const ParamLayout layout(Seq2SeqConfig::from_folder(dir));
    const SafetensorsFile file = SafetensorsFile::open(dir / "model.safetensors");
    std::set<std::string> stored;
    for (const auto& [tensor_name, view] : file.tensors()) stored.insert(tensor_name);
    std::set<std::string> ours;
    for (const ParamTensor& t : layout.tensors()) {
      ours.insert(t.name);
      const TensorView* v = file.find(t.name);
      ASSERT_NE(v, nullptr) << name << ": " << t.name;
      EXPECT_EQ(v->shape, t.shape) << name << ": " << t.name;
    }
    EXPECT_EQ(ours, stored) << name;
  }
}

void expect_same_bits(const TrainModel& a, const TrainModel& b) {
  ASSERT_EQ(a.layout.size(), b.layout.size());
  EXPECT_EQ(std::memcmp(a.params.data(), b.params.data(), a.params.size() * sizeof(float)), 0);
}

// A trained checkpoint reloads in the trainer and in Seq2SeqModel bit for bit.
TEST(Seq2SeqCheckpoint, ReloadsBitForBitInTrainerAndInference) {
  const testing::TempDir tmp;
  TrainModel model = TrainModel::load(testing::source_dir() / "tests" / "fixtures" / "seq2seq_train" / "marian");
  // Move every weight off its initial value, so a reload from the wrong place shows.
  for (size_t i = 0; i < model.params.size(); ++i) model.params[i] += 1e-3f * static_cast<float>(i % 7);
  AdamWState opt;
  TrainerState state;
  state.step = 3;
  save_checkpoint(tmp.path() / "ckpt", model, opt, state, DType::F32, {});
  expect_same_bits(model, TrainModel::load(tmp.path() / "ckpt"));
  const auto inf = Seq2SeqModel::load(tmp.path() / "ckpt");
  const Seq2SeqWeights& w = inf->weights();
  auto same = [&](const MatrixView& m, const std::string& name) {
    const ParamTensor* t = model.layout.find(name);
    ASSERT_NE(t, nullptr) << name;
    ASSERT_EQ(m.type, WeightType::F32) << name;
    EXPECT_EQ(std::memcmp(m.data, model.params.data() + t->offset, t->numel * sizeof(float)), 0) << name;
  };
  same(w.encoder.embed, "model.encoder.embed_tokens.weight");
  same(w.decoder.embed, "model.decoder.embed_tokens.weight");
  same(w.lm_head, "lm_head.weight");
  same(w.decoder.layers[1].cross_attn.k.w, "model.decoder.layers.1.encoder_attn.k_proj.weight");
  same(w.encoder.layers[0].fc2.w, "model.encoder.layers.0.fc2.weight");
  const ParamTensor* bias = model.layout.find("model.decoder.layers.0.fc1.bias");
  EXPECT_EQ(std::memcmp(w.decoder.layers[0].fc1.bias.data(), model.params.data() + bias->offset,
                        bias->numel * sizeof(float)), 0);
  const ParamTensor* flb = model.layout.find("final_logits_bias");
  EXPECT_EQ(std::memcmp(w.final_logits_bias.data(), model.params.data() + flb->offset, flb->numel * sizeof(float)), 0);
}

TEST(Seq2SeqInit, MakesBartAndMarianShapedModels) {
  const testing::TempDir tmp;
  const nlohmann::json bart = {{"model_type", "bart"}, {"d_model", 32}, {"encoder_layers", 2}, {"decoder_layers", 1},
                               {"encoder_attention_heads", 4}, {"decoder_attention_heads", 4}, {"encoder_ffn_dim", 64},
                               {"decoder_ffn_dim", 64}, {"vocab_size", 100}, {"max_position_embeddings", 64},
                               {"init_std", 0.05}};
  nlohmann::json marian = bart;
  marian["model_type"] = "marian";
  marian["pad_token_id"] = 99;
  marian["decoder_start_token_id"] = 99;
  marian["eos_token_id"] = 0;
  marian["scale_embedding"] = true;
  for (const nlohmann::json& cfg : {bart, marian}) {
    const std::string family = cfg["model_type"];
    const auto dir = tmp.path() / family;
    std::filesystem::create_directories(tmp.path() / "src");
    testing::write_file(tmp.path() / "src" / "config.json", cfg.dump());
    init_random_model(tmp.path() / "src" / "config.json", dir, DType::F32, 5);
    const TrainModel m = TrainModel::load(dir);
    ASSERT_EQ(m.arch, TrainArch::EncoderDecoder) << family;
    EXPECT_EQ(m.layout.find("model.encoder.embed_positions.weight") != nullptr, family == "bart");
    const SafetensorsFile file = SafetensorsFile::open(dir / "model.safetensors");
    EXPECT_EQ(file.tensors().size(), m.layout.tensors().size()) << family;
    const ParamTensor* emb = m.layout.find("model.shared.weight");
    ASSERT_NE(emb, nullptr);
    const int pad = m.seq2seq.pad_token_id, d = m.seq2seq.d_model;
    double ss = 0.0;
    for (size_t i = 0; i < emb->numel; ++i) {
      const float v = m.params[emb->offset + i];
      if (static_cast<int>(i / d) == pad) EXPECT_EQ(v, 0.0f) << family << ": the padding row is not zero";
      ss += static_cast<double>(v) * v;
    }
    EXPECT_NEAR(std::sqrt(ss / (emb->numel - d)), 0.05, 0.005) << family;
    const ParamTensor* ln = m.layout.find("model.decoder.layers.0.final_layer_norm.weight");
    EXPECT_EQ(m.params[ln->offset], 1.0f);
    const ParamTensor* bias = m.layout.find("model.encoder.layers.1.fc1.bias");
    EXPECT_EQ(m.params[bias->offset + 3], 0.0f);
    EXPECT_NO_THROW(Seq2SeqModel::load(dir)) << family;
  }
}

}  // namespace
}  // namespace smol
