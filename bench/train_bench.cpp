// Training throughput of smol on a random-weight model of a given shape (default: SmolLM2-135M),
// one JSON line per run: tokens/s over the timed steps and the process's peak memory.
// bench/train_compare.sh runs it beside bench/train_torch.py (PyTorch, same model and batch).
//
//   train_bench [--threads N] [--batch B] [--seq-len T] [--steps S] [--precision fp32|bf16|fp16]
//               [--layers L] [--grad-accum K]
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>

#include <fmt/format.h>

#include "smol/thread_pool.hpp"
#include "smol/train.hpp"
#include "smol/train_distributed.hpp"
#include "train/gemm.hpp"

namespace {

smol::TrainModel random_smollm2_135m(int layers, uint64_t seed) {
  smol::TrainModel m;
  smol::ModelConfig& c = m.config;
  c.hidden_size = 576;
  c.intermediate_size = 1536;
  c.num_hidden_layers = layers;
  c.num_attention_heads = 9;
  c.num_key_value_heads = 3;
  c.head_dim = 64;
  c.vocab_size = 49152;
  c.max_position_embeddings = 8192;
  c.rms_norm_eps = 1e-5f;
  c.rope_theta = 100000.0f;
  c.tie_word_embeddings = true;
  c.initializer_range = 0.041666668f;
  m.config_json = c.to_json();
  m.layout = smol::ParamLayout(c);
  m.params.resize(m.layout.size());
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, c.initializer_range);
  for (const auto& t : m.layout.tensors()) {
    for (size_t i = 0; i < t.numel; ++i) m.params[t.offset + i] = t.is_matrix ? normal(rng) : 1.0f;
  }
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, batch = 4, seq = 256, steps = 3, layers = 30, accum = 1;
  std::string precision = "fp32";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const char* v = argv[i + 1];
    if (flag == "--threads") threads = std::atoi(v);
    else if (flag == "--batch") batch = std::atoi(v);
    else if (flag == "--seq-len") seq = std::atoi(v);
    else if (flag == "--steps") steps = std::atoi(v);
    else if (flag == "--layers") layers = std::atoi(v);
    else if (flag == "--grad-accum") accum = std::atoi(v);
    else if (flag == "--precision") precision = v;
    else {
      std::fprintf(stderr, "train_bench: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  smol::TrainModel model = random_smollm2_135m(layers, 1);
  const size_t n_params = model.layout.size();
  std::mt19937_64 rng(2);
  std::vector<int32_t> tokens(static_cast<size_t>(batch) * seq * (steps + 1) + 1);
  for (auto& t : tokens) t = static_cast<int32_t>(rng() % 49152);
  const smol::TokenData data = smol::TokenData::from_tokens(std::move(tokens));

  smol::TrainOptions o;
  o.out = "unused";
  o.steps = steps + 1;
  o.batch = batch;
  o.seq_len = seq;
  o.lr = 1e-4;
  o.precision = precision;
  o.grad_accum = accum;
  o.val_fraction = 0.0;
  o.shuffle = false;
  o.threads = threads;
  smol::ThreadPool pool(threads);
  smol::Distributed dist;
  smol::Trainer trainer(o, std::move(model), data, pool, dist);

  const smol::StepResult warm = trainer.step();  // first touch of every buffer
  const auto start = std::chrono::steady_clock::now();
  double loss = warm.loss;
  for (int s = 0; s < steps; ++s) loss = trainer.step().loss;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::printf("%s\n", fmt::format("{{\"impl\": \"smol\", \"precision\": \"{}\", \"threads\": {}, \"batch\": {}, "
                                  "\"seq_len\": {}, \"layers\": {}, \"params\": {}, \"steps\": {}, "
                                  "\"tokens_per_s\": {:.1f}, \"step_s\": {:.3f}, \"peak_rss_mib\": {:.0f}, "
                                  "\"loss\": {:.4f}, \"gemm_isa\": \"{}\"}}",
                                  precision, threads, batch, seq, layers, n_params, steps,
                                  static_cast<double>(batch) * seq * steps / seconds, seconds / steps,
                                  usage.ru_maxrss / 1024.0, loss, smol::gemm_isa())
                          .c_str());
  return 0;
}
