// The Trainer beyond the fixture: exact resume from a checkpoint, bf16/fp16 tracking fp32,
// fp16 overflow handling, and the whole model's gradient with dropout by finite differences.
#include <gtest/gtest.h>

#include <fstream>

#include <cmath>
#include <random>

#include "smol/error.hpp"
#include "smol/model.hpp"
#include "smol/safetensors.hpp"
#include "smol/thread_pool.hpp"
#include "smol/tokenizer.hpp"
#include "smol/train.hpp"
#include "smol/train_distributed.hpp"
#include "test_support/fixtures.hpp"
#include "test_support/run_process.hpp"

namespace smol {
namespace {

std::filesystem::path tiny() { return testing::fixtures_dir() / "tiny-f32"; }

const TokenData& fixture_tokens() {
  static const TokenData data = TokenData::from_tokens(
      Tokenizer::from_file(tiny() / "tokenizer.json").encode(testing::slurp(testing::fixtures_dir() / "train" / "text.txt")));
  return data;
}

TrainOptions base_options() {
  TrainOptions o;
  o.model = tiny();
  o.out = "unused";
  o.steps = 4;
  o.batch = 2;
  o.seq_len = 16;
  o.lr = 1e-3;
  o.val_fraction = 0.1;
  o.threads = 2;
  return o;
}

class TempDir {
 public:
  TempDir() : path_(std::filesystem::temp_directory_path() / ("smol-trainer-test-" + std::to_string(::getpid()))) {
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

TEST(Trainer, ResumeContinuesBitForBit) {
  TrainOptions o = base_options();
  o.schedule = "cosine";
  o.warmup = 1;
  o.dropout = 0.1f;
  o.grad_accum = 2;
  o.seed = 7;
  o.save_dtype = "bf16";  // the model file loses precision; the master copy must not
  ThreadPool pool(2);
  Distributed dist;
  Trainer straight(o, TrainModel::load(tiny()), fixture_tokens(), pool, dist);
  for (int i = 0; i < 4; ++i) straight.step();

  TempDir dir;
  {
    Trainer first(o, TrainModel::load(tiny()), fixture_tokens(), pool, dist);
    first.step();
    first.step();
    first.save(dir.path());
  }
  Checkpoint ck = load_checkpoint(dir.path());
  EXPECT_EQ(ck.state.step, 2);
  TrainModel model = std::move(ck.model);
  o.resume = dir.path();
  Trainer resumed(o, std::move(model), fixture_tokens(), pool, dist, &ck);
  resumed.step();
  resumed.step();
  EXPECT_EQ(resumed.state().step, 4);
  EXPECT_EQ(resumed.model().params, straight.model().params);
  EXPECT_EQ(resumed.optimizer().m, straight.optimizer().m);
  EXPECT_EQ(resumed.optimizer().v, straight.optimizer().v);
  EXPECT_EQ(resumed.optimizer().t, 4);
}

TEST(Trainer, CheckpointIsAModelFolderAndTornOnesAreRejected) {
  TrainOptions o = base_options();
  ThreadPool pool(2);
  Distributed dist;
  Trainer t(o, TrainModel::load(tiny()), fixture_tokens(), pool, dist);
  t.step();
  TempDir dir;
  t.save(dir.path());
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                        "optimizer.safetensors", "trainer_state.json"}) {
    EXPECT_TRUE(std::filesystem::exists(dir.path() / f)) << f;
  }
  // The inference engine loads it and computes with the trained weights.
  auto model = Model::load(dir.path());
  EXPECT_EQ(model->config().hidden_size, 64);
  const SafetensorsFile w = SafetensorsFile::open(dir.path() / "model.safetensors");
  const TensorView& norm = w.get("model.norm.weight");
  const ParamTensor& pt = t.model().layout.tensors().back();
  ASSERT_EQ(pt.name, "model.norm.weight");
  EXPECT_EQ(norm.f32()[0], t.model().params[pt.offset]);

  // A trainer_state.json that names another step than the weights: refused.
  auto state = nlohmann::json::parse(testing::slurp(dir.path() / "trainer_state.json"));
  state["step"] = 5;
  std::ofstream(dir.path() / "trainer_state.json") << state.dump();
  EXPECT_THROW(load_checkpoint(dir.path()), Error);
}

std::vector<double> loss_curve(const std::string& precision, int steps) {
  TrainOptions o = base_options();
  o.steps = steps;
  o.precision = precision;
  o.seed = 3;
  o.lr = 3e-3;
  ThreadPool pool(2);
  Distributed dist;
  Trainer t(o, TrainModel::load(tiny()), fixture_tokens(), pool, dist);
  std::vector<double> losses;
  for (int i = 0; i < steps; ++i) {
    const StepResult r = t.step();
    EXPECT_FALSE(r.skipped) << precision << " step " << i;
    losses.push_back(r.loss);
  }
  return losses;
}

TEST(Trainer, Bf16AndFp16TrackTheFp32LossCurve) {
  constexpr int kSteps = 50;
  const auto fp32 = loss_curve("fp32", kSteps);
  EXPECT_LT(fp32.back(), fp32.front() - 5.0);  // it does learn
  for (const char* p : {"bf16", "fp16"}) {
    const auto low = loss_curve(p, kSteps);
    double worst = 0.0;
    for (int i = 0; i < kSteps; ++i) worst = std::max(worst, std::fabs(low[i] - fp32[i]) / fp32[i]);
    if (std::getenv("SMOL_TEST_VERBOSE")) std::printf("%s: worst relative loss gap %.4f, final %.4f vs %.4f\n", p, worst, low.back(), fp32.back());
    EXPECT_LT(worst, std::string(p) == "bf16" ? 0.03 : 0.01) << p;
    EXPECT_NE(low, fp32) << p << " did not change the arithmetic";
  }
}

TEST(Trainer, Fp16OverflowSkipsTheStepAndHalvesTheScale) {
  TrainOptions o = base_options();
  o.precision = "fp16";
  o.initial_loss_scale = std::ldexp(1.0, 30);  // dlogits of ~2^30/32 overflow fp16 at once
  o.steps = 30;
  ThreadPool pool(2);
  Distributed dist;
  const TrainModel initial = TrainModel::load(tiny());
  Trainer t(o, initial, fixture_tokens(), pool, dist);
  const StepResult first = t.step();
  EXPECT_TRUE(first.skipped);
  EXPECT_EQ(t.model().params, initial.params);  // no update
  EXPECT_EQ(t.state().loss_scale, std::ldexp(1.0, 29));
  EXPECT_EQ(t.state().step, 1);
  int updates = 0;
  for (int i = 1; i < 30; ++i) updates += !t.step().skipped;
  EXPECT_GT(updates, 10);
  EXPECT_GE(t.state().skipped_steps, 1);
  EXPECT_NE(t.model().params, initial.params);
}

// A small random model, so that float32 finite differences of the full forward are usable.
TrainModel random_model(uint64_t seed) {
  TrainModel m;
  m.config.hidden_size = 16;
  m.config.intermediate_size = 24;
  m.config.num_hidden_layers = 2;
  m.config.num_attention_heads = 4;
  m.config.num_key_value_heads = 2;
  m.config.head_dim = 4;
  m.config.vocab_size = 40;
  m.config.rms_norm_eps = 1e-5f;
  m.config.rope_theta = 10000.0f;
  m.config.tie_word_embeddings = true;
  m.layout = ParamLayout(m.config);
  m.params.resize(m.layout.size());
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.3f);
  for (const ParamTensor& t : m.layout.tensors()) {
    for (size_t i = 0; i < t.numel; ++i) m.params[t.offset + i] = t.is_matrix ? normal(rng) : 1.0f + 0.1f * normal(rng);
  }
  return m;
}

// A run killed between creating a temporary in OUT and renaming it leaves NAME.tmp-XXXXXX
// (AtomicFile: `latest`, loss_curve.svg) or .NAME.link-PID (a refreshed link) behind; the
// next save removes them, and leaves the user's own files alone.
TEST(Trainer, SaveRemovesTheTemporariesOfAKilledRun) {
  TrainOptions o = base_options();
  ThreadPool pool(2);
  Distributed dist;
  Trainer t(o, TrainModel::load(tiny()), fixture_tokens(), pool, dist);
  t.step();
  TempDir dir;
  const char* leftovers[] = {"latest.tmp-AbC123", "loss_curve.svg.tmp-xYz789", ".model.safetensors.link-4242"};
  for (const char* f : leftovers) std::ofstream(dir.path() / f) << "partial";
  std::ofstream(dir.path() / "notes.txt") << "mine";
  t.save(dir.path());
  for (const char* f : leftovers) EXPECT_FALSE(std::filesystem::exists(dir.path() / f)) << f;
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "notes.txt"));
  EXPECT_EQ(load_checkpoint(dir.path()).state.step, 1);
}

TEST(ModelGradCheck, FullModelWithDropoutByFiniteDifferences) {
  TrainModel m = random_model(5);
  const int B = 2, T = 6;
  std::vector<int32_t> in(B * T), tgt(B * T);
  for (int i = 0; i < B * T; ++i) {
    in[i] = (i * 7 + 3) % 40;
    tgt[i] = i == 4 ? -1 : (i * 11 + 5) % 40;
  }
  ThreadPool pool(2);
  Activations acts(m.config, B, T, true);
  ForwardOptions fo;
  fo.dropout = 0.2f;
  fo.dropout_seed = 99;  // fixed masks: the same on every forward
  auto loss = [&] { return model_forward(m.config, m.layout.bind(m.params.data()), in.data(), tgt.data(), acts, pool, fo); };
  loss();
  std::vector<float> grads(m.layout.size(), 0.0f);
  model_backward(m.config, m.layout.bind(m.params.data()), m.layout.bind(grads.data()), in.data(), tgt.data(), 1.0,
                 acts, pool, fo);

  ForwardOptions no_dropout;
  const double clean = model_forward(m.config, m.layout.bind(m.params.data()), in.data(), tgt.data(), acts, pool, no_dropout);
  EXPECT_NE(clean, loss()) << "dropout had no effect";

  std::mt19937_64 rng(1);
  int checked = 0;
  for (const ParamTensor& t : m.layout.tensors()) {
    for (int s = 0; s < 4; ++s) {
      const size_t i = t.offset + rng() % t.numel;
      const float saved = m.params[i];
      const float h = 1e-2f;
      m.params[i] = saved + h;
      const double up = loss();
      m.params[i] = saved - h;
      const double down = loss();
      m.params[i] = saved;
      const double numeric = (up - down) / (2.0 * h);
      EXPECT_NEAR(grads[i], numeric, 2e-3 + 2e-2 * std::fabs(numeric)) << t.name << " element " << i - t.offset;
      ++checked;
    }
  }
  EXPECT_EQ(checked, static_cast<int>(m.layout.tensors().size()) * 4);
}

}  // namespace
}  // namespace smol
