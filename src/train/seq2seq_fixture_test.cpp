// Training an encoder-decoder against the float64 PyTorch ground truth in
// tests/fixtures/seq2seq_train (tests/oracle/seq2seq_train_reference.py): the checkpoint as
// save_pretrained writes it loads under the layout's names, and the step-0 loss, the gradient
// of every tensor, and the weights and losses after 3 clipped AdamW steps (layer-wise LR
// decay, label smoothing) agree within 1e-5 relative + 2.5e-5 absolute.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "smol/json_file.hpp"
#include "smol/safetensors.hpp"
#include "smol/thread_pool.hpp"
#include "smol/train_optim.hpp"
#include "smol/train_seq2seq.hpp"
#include "test_support/fixtures.hpp"

namespace smol {
namespace {

std::filesystem::path fixture(const std::string& name) {
  return testing::source_dir() / "tests" / "fixtures" / "seq2seq_train" / name;
}

// Worst (|a - b| - 2.5e-5) / (1e-5 |b|) style check: every element within 2.5e-5 + 1e-5 |b|.
double compare(const std::vector<float>& ours, const ParamLayout& layout, const SafetensorsFile& ref,
               const char* what) {
  double worst_abs = 0.0;
  for (const ParamTensor& t : layout.tensors()) {
    const TensorView& r = ref.get(t.name);
    EXPECT_EQ(r.shape, t.shape) << what << " " << t.name;
    if (r.shape != t.shape) continue;
    int bad = 0;
    for (size_t i = 0; i < t.numel; ++i) {
      const double a = ours[t.offset + i], b = r.f32()[i];
      const double err = std::fabs(a - b);
      worst_abs = std::max(worst_abs, err);
      if (err > 2.5e-5 + 1e-5 * std::fabs(b) && bad++ < 3) {
        ADD_FAILURE() << what << " " << t.name << "[" << i << "]: smol " << a << " reference " << b;
      }
    }
  }
  return worst_abs;
}

class Seq2SeqTrainFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(Seq2SeqTrainFixture, GradientsAndThreeAdamWStepsMatchPyTorch) {
  const auto dir = fixture(GetParam());
  const nlohmann::json ex = read_json_file(dir / "expected.json");
  TrainModel model = TrainModel::load(dir);
  ASSERT_EQ(model.arch, TrainArch::EncoderDecoder);
  const Seq2SeqConfig& c = model.seq2seq;
  const auto sources = ex["sources"].get<std::vector<std::vector<int32_t>>>();
  const auto targets = ex["targets"].get<std::vector<std::vector<int32_t>>>();
  const Seq2SeqBatch batch = make_seq2seq_batch(c, sources, targets);
  // Teacher forcing as transformers' shift_tokens_right builds it.
  const auto dec = ex["decoder_input_ids"].get<std::vector<std::vector<int32_t>>>();
  const auto labels = ex["labels"].get<std::vector<std::vector<int32_t>>>();
  int scored = 0;
  for (int b = 0; b < batch.batch; ++b) {
    for (int t = 0; t < batch.target_len; ++t) {
      EXPECT_EQ(batch.decoder_inputs[b * batch.target_len + t], dec[b][t]);
      EXPECT_EQ(batch.labels[b * batch.target_len + t] < 0 ? -100 : batch.labels[b * batch.target_len + t], labels[b][t]);
      scored += labels[b][t] >= 0;
    }
  }

  const nlohmann::json& o = ex["optimizer"];
  AdamWConfig adamw;
  adamw.beta1 = o["beta1"];
  adamw.beta2 = o["beta2"];
  adamw.eps = o["eps"];
  adamw.weight_decay = o["weight_decay"];
  adamw.layer_decay = ex["layer_decay"];
  AdamWState state;
  ForwardOptions fo;
  fo.label_smoothing = ex["label_smoothing"];
  ThreadPool pool(2);
  Seq2SeqActivations acts(c, batch.batch, batch.source_len, batch.target_len);
  std::vector<float> grads(model.layout.size());
  for (int step = 0; step < o["steps"].get<int>(); ++step) {
    std::fill(grads.begin(), grads.end(), 0.0f);
    const ParamPtrs p = model.layout.bind(model.params.data()), g = model.layout.bind(grads.data());
    const double loss = model_forward(c, p, batch, acts, pool, fo) / scored;
    model_backward(c, p, g, batch, 1.0 / scored, acts, pool, fo);
    const double expected_loss = ex["losses"][step];
    EXPECT_NEAR(loss, expected_loss, 1e-5 * expected_loss) << "step " << step;
    const double norm = global_norm(grads.data(), grads.size());
    EXPECT_NEAR(norm, ex["grad_norms"][step].get<double>(), 1e-5 * norm) << "step " << step;
    if (step == 0) {
      const double worst = compare(grads, model.layout, SafetensorsFile::open(dir / "grads_step0.safetensors"), "grad");
      std::printf("%s: step-0 loss %.9g vs %.9g, worst gradient |diff| %.3g\n", GetParam().c_str(), loss,
                  expected_loss, worst);
    }
    clip_by_global_norm(grads.data(), grads.size(), norm, o["grad_clip"]);
    adamw_update(pool, model.layout, model.params.data(), grads.data(), state, o["lr"], adamw);
  }
  const double worst =
      compare(model.params, model.layout, SafetensorsFile::open(dir / "weights_step3.safetensors"), "weight");
  std::printf("%s: worst weight |diff| after 3 AdamW steps %.3g\n", GetParam().c_str(), worst);
}

INSTANTIATE_TEST_SUITE_P(Families, Seq2SeqTrainFixture, ::testing::Values("bart", "marian", "mbart"));

}  // namespace
}  // namespace smol
