// The encoder-decoder's whole-model backward against central finite differences in float64
// (the same templated code the trainer runs in float32): BART-like post-norm, mBART-like
// pre-norm with final norms, Marian-like sinusoidal positions with separate vocabularies;
// tied and untied lm_head, dropout of all three kinds with fixed masks, padding in sources and
// targets, label smoothing.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <random>
#include <vector>

#include "smol/thread_pool.hpp"
#include "smol/train_seq2seq.hpp"

namespace smol {
namespace {

using Vec = std::vector<double>;

struct Case {
  const char* name;
  nlohmann::json config;
  float dropout, attention_dropout, activation_dropout;
  double label_smoothing;
};

nlohmann::json base_config(const char* family) {
  return {{"model_type", family}, {"d_model", 8},  {"encoder_layers", 2},        {"decoder_layers", 2},
          {"encoder_attention_heads", 2},         {"decoder_attention_heads", 4}, {"encoder_ffn_dim", 12},
          {"decoder_ffn_dim", 10},                {"vocab_size", 13},             {"max_position_embeddings", 12},
          {"pad_token_id", 1},                    {"eos_token_id", 2},            {"decoder_start_token_id", 2}};
}

std::vector<Case> cases() {
  std::vector<Case> v;
  nlohmann::json bart = base_config("bart");
  bart["activation_function"] = "gelu";
  v.push_back({"BartPostNormTied", bart, 0.2f, 0.25f, 0.3f, 0.0});
  nlohmann::json bart_untied = base_config("bart");
  bart_untied["activation_function"] = "relu";
  bart_untied["scale_embedding"] = true;
  bart_untied["tie_word_embeddings"] = false;
  v.push_back({"BartPostNormUntiedSmoothed", bart_untied, 0.2f, 0.0f, 0.0f, 0.1});
  nlohmann::json mbart = base_config("mbart");
  mbart["activation_function"] = "gelu_new";
  mbart["scale_embedding"] = true;
  v.push_back({"MbartPreNormTied", mbart, 0.15f, 0.2f, 0.1f, 0.2});
  nlohmann::json marian = base_config("marian");
  marian["activation_function"] = "swish";
  marian["scale_embedding"] = true;
  marian["share_encoder_decoder_embeddings"] = false;
  marian["decoder_vocab_size"] = 11;
  marian["tie_word_embeddings"] = false;
  marian["pad_token_id"] = 10;
  marian["decoder_start_token_id"] = 10;
  marian["eos_token_id"] = 0;
  v.push_back({"MarianUnsharedUntied", marian, 0.2f, 0.2f, 0.2f, 0.0});
  nlohmann::json marian_tied = marian;
  marian_tied["share_encoder_decoder_embeddings"] = true;
  marian_tied.erase("decoder_vocab_size");
  marian_tied["tie_word_embeddings"] = true;
  v.push_back({"MarianSharedTied", marian_tied, 0.0f, 0.0f, 0.0f, 0.0});
  return v;
}

class Seq2SeqGradCheck : public ::testing::TestWithParam<Case> {};

TEST_P(Seq2SeqGradCheck, EveryParameterInFloat64) {
  const Case& k = GetParam();
  const Seq2SeqConfig c = Seq2SeqConfig::from_json(k.config, k.name);
  const ParamLayout layout(c);
  const bool tied = c.tie_word_embeddings;
  EXPECT_EQ(layout.find("lm_head.weight") == nullptr, tied);
  EXPECT_EQ(layout.find("model.shared.weight") != nullptr, c.share_embeddings);

  std::mt19937_64 rng(77);
  std::normal_distribution<double> normal(0.0, 0.4);
  Vec params(layout.size());
  for (const ParamTensor& t : layout.tensors()) {
    const bool norm_weight = t.name.find("norm") != std::string::npos && t.name.ends_with(".weight");
    for (size_t i = 0; i < t.numel; ++i) params[t.offset + i] = (norm_weight ? 1.0 : 0.0) + normal(rng);
  }
  // Padding in both: sources of 5, 3 and 4 tokens, targets of 4, 2 and 3.
  const int pad = c.pad_token_id;
  const std::vector<std::vector<int32_t>> sources = {{3, 4, 5, 6, 2}, {7, pad, 2}, {8, 9, 3, 2}};
  const std::vector<std::vector<int32_t>> targets = {{4, 5, 3, 0}, {6, 0}, {7, pad == 1 ? 8 : 9, 0}};
  const Seq2SeqBatch batch = make_seq2seq_batch(c, sources, targets);
  ASSERT_EQ(batch.source_len, 5);
  ASSERT_EQ(batch.target_len, 4);
  int scored = 0;
  for (int32_t l : batch.labels) scored += l >= 0;
  ASSERT_EQ(scored, 9);
  const double dloss = 1.0 / scored;

  ThreadPool pool(2);
  BasicSeq2SeqActivations<double> acts(c, batch.batch, batch.source_len, batch.target_len);
  ForwardOptions fo;
  fo.dropout = k.dropout;
  fo.attention_dropout = k.attention_dropout;
  fo.activation_dropout = k.activation_dropout;
  fo.label_smoothing = k.label_smoothing;
  fo.dropout_seed = 99;
  fo.first_row = 5;
  auto objective = [&] { return dloss * model_forward(c, layout.bind(params.data()), batch, acts, pool, fo); };
  const double value = objective();
  EXPECT_TRUE(std::isfinite(value));
  EXPECT_EQ(objective(), value) << "the masks are not a pure function of the seed";
  if (k.dropout > 0) {
    ForwardOptions off;
    off.label_smoothing = k.label_smoothing;
    EXPECT_NE(dloss * model_forward(c, layout.bind(params.data()), batch, acts, pool, off), value)
        << "dropout had no effect";
  }

  objective();
  Vec grads(layout.size(), 0.0);
  model_backward(c, layout.bind(params.data()), layout.bind(grads.data()), batch, dloss, acts, pool, fo);

  constexpr double h = 1e-5;
  double worst_all = 0.0;
  for (const ParamTensor& t : layout.tensors()) {
    double worst = 0.0, largest = 0.0;
    for (size_t i = 0; i < t.numel; ++i) {
      const size_t j = t.offset + i;
      const double analytic = grads[j];
      // nn.Embedding(padding_idx): torch gives the pad row no gradient from its lookups, though
      // the forward reads it; only the tied lm_head's share reaches it (the fixture test checks).
      const bool token_table = t.name.find("embed_tokens") != std::string::npos || t.name == "model.shared.weight";
      if (token_table && static_cast<int>(i / c.d_model) == pad) continue;
      if (!t.trainable) {
        EXPECT_EQ(analytic, 0.0) << t.name << " is a buffer and must get no gradient";
        continue;
      }
      const double saved = params[j];
      params[j] = saved + h;
      const double up = objective();
      params[j] = saved - h;
      const double down = objective();
      params[j] = saved;
      const double numeric = (up - down) / (2 * h);
      const double err = std::fabs(numeric - analytic) / (1.0 + std::fabs(numeric));
      worst = std::max(worst, err);
      worst_all = std::max(worst_all, err);
      largest = std::max(largest, std::fabs(analytic));
      EXPECT_LT(err, 1e-7) << t.name << "[" << i << "]: numeric " << numeric << " analytic " << analytic;
    }
    // A key bias shifts every score of a query row alike, which softmax ignores: its true
    // gradient is 0 (only rounding is left), in torch too.
    if (t.trainable && !t.name.ends_with("k_proj.bias")) {
      EXPECT_GT(worst, 0.0) << t.name << ": a perfect match in double suggests nothing was checked";
      EXPECT_GT(largest, 1e-8) << t.name << ": no gradient reached this tensor";
    }
  }
  std::printf("%s: worst |numeric - analytic| / (1 + |numeric|) = %.3g over %zu values\n", k.name, worst_all,
              layout.size());
}

INSTANTIATE_TEST_SUITE_P(Arch, Seq2SeqGradCheck, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

}  // namespace
}  // namespace smol
