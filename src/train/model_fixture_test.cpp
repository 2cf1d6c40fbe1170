// The training forward/backward against the float64 PyTorch ground truth in
// fixtures/train: the step-0 loss and the full gradient of every tensor.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "smol/json_file.hpp"
#include "smol/safetensors.hpp"
#include "smol/thread_pool.hpp"
#include "smol/tokenizer.hpp"
#include "smol/train_model.hpp"
#include "test_support/fixtures.hpp"
#include "test_support/run_process.hpp"

namespace smol {
namespace {

std::filesystem::path train_dir() { return testing::fixtures_dir() / "train"; }

TEST(ModelFixture, Step0LossAndGradientsMatchReference) {
  const nlohmann::json expected = read_json_file(train_dir() / "train_expected.json");
  const int B = expected["setup"]["batch"], T = expected["setup"]["seq_len"];
  TrainModel model = TrainModel::load(testing::fixtures_dir() / "tiny-f32");
  const Tokenizer tok = Tokenizer::from_file(testing::fixtures_dir() / "tiny-f32" / "tokenizer.json");
  const std::vector<int32_t> stream = tok.encode(testing::slurp(train_dir() / "text.txt"));
  ASSERT_GE(stream.size(), static_cast<size_t>(B * T + 1));

  std::vector<int32_t> inputs(B * T), targets(B * T);
  for (int b = 0; b < B; ++b) {
    for (int t = 0; t < T; ++t) {
      inputs[b * T + t] = stream[b * T + t];
      targets[b * T + t] = stream[b * T + t + 1];
    }
  }
  ThreadPool pool(2);
  Activations acts(model.config, B, T, false);
  const ParamPtrs params = model.layout.bind(model.params.data());
  std::vector<float> grads(model.layout.size(), 0.0f);
  const ParamPtrs g = model.layout.bind(grads.data());
  const double loss_sum = model_forward(model.config, params, inputs.data(), targets.data(), acts, pool, {});
  model_backward(model.config, params, g, inputs.data(), targets.data(), 1.0 / (B * T), acts, pool, {});

  const double loss = loss_sum / (B * T), expected_loss = expected["steps"][0]["loss"];
  EXPECT_NEAR(loss, expected_loss, 1e-5 * expected_loss);

  const SafetensorsFile ref = SafetensorsFile::open(train_dir() / "grads_step0.safetensors");
  double norm2 = 0.0;
  for (const ParamTensor& t : model.layout.tensors()) {
    const TensorView& r = ref.get(t.name);
    ASSERT_EQ(r.shape, t.shape) << t.name;
    double diff2 = 0.0, ref2 = 0.0;
    for (size_t i = 0; i < t.numel; ++i) {
      const double d = static_cast<double>(grads[t.offset + i]) - r.f32()[i];
      diff2 += d * d;
      ref2 += static_cast<double>(r.f32()[i]) * r.f32()[i];
      norm2 += static_cast<double>(grads[t.offset + i]) * grads[t.offset + i];
    }
    const double rel = std::sqrt(diff2 / ref2);
    EXPECT_LT(rel, 1e-4) << t.name;
    if (std::getenv("SMOL_TEST_VERBOSE")) std::printf("%-50s rel %.3g\n", t.name.c_str(), rel);
  }
  const double expected_norm = expected["steps"][0]["grad_norm"];
  EXPECT_NEAR(std::sqrt(norm2), expected_norm, 1e-5 * expected_norm);
}

}  // namespace
}  // namespace smol
