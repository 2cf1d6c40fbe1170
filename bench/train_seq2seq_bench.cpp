// Training throughput of smol on an encoder-decoder model folder (bench/train_seq2seq_compare.sh:
// a random-weight opus-mt-en-de shape) over fixed (source, target) id pairs, one JSON line:
// tokens/s (source + target tokens, padding not counted) over the timed steps, peak memory.
// bench/train_seq2seq_compare.sh runs it beside tests/oracle/train_seq2seq_torch.py.
//
//   train_seq2seq_bench MODEL_DIR PAIRS_JSON [--threads N] [--batch B] [--steps S]
//                       [--precision fp32|bf16|fp16]
// PAIRS_JSON: {"sources": [[ids]...], "targets": [[ids]...]}, batch x (steps + 1) pairs: step k
// trains on pairs k*B .. k*B+B-1 (the first step is an untimed warm-up).
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <string>

#include <fmt/format.h>

#include "smol/error.hpp"
#include "smol/json_file.hpp"
#include "smol/thread_pool.hpp"
#include "smol/train.hpp"
#include "smol/train_distributed.hpp"
#include "train/gemm.hpp"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: train_seq2seq_bench MODEL_DIR PAIRS_JSON [--threads N] [--batch B] [--steps S] "
                         "[--precision P]\n");
    return 2;
  }
  int threads = 2, batch = 16, steps = 2;
  std::string precision = "fp32";
  for (int i = 3; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const char* v = argv[i + 1];
    if (flag == "--threads") threads = std::atoi(v);
    else if (flag == "--batch") batch = std::atoi(v);
    else if (flag == "--steps") steps = std::atoi(v);
    else if (flag == "--precision") precision = v;
    else {
      std::fprintf(stderr, "train_seq2seq_bench: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  try {
    smol::TrainModel model = smol::TrainModel::load(argv[1]);
    const size_t n_params = model.layout.size();
    const nlohmann::json pairs = smol::read_json_file(argv[2]);
    smol::PairData data;
    for (size_t i = 0; i < pairs["sources"].size(); ++i) {
      data.append(pairs["sources"][i].get<std::vector<int32_t>>(), pairs["targets"][i].get<std::vector<int32_t>>());
    }
    if (data.size() < static_cast<size_t>(batch) * (steps + 1)) throw smol::Error("not enough pairs for the steps");
    smol::TrainOptions o;
    o.out = "unused";
    o.steps = steps + 1;
    o.batch = batch;
    o.lr = 1e-4;
    o.precision = precision;
    o.val_fraction = 0.0;
    o.shuffle = false;  // the pairs in file order, as the PyTorch twin takes them
    o.dropout = o.attention_dropout = o.activation_dropout = 0.0f;
    o.threads = threads;
    smol::ThreadPool pool(threads);
    smol::Distributed dist;
    smol::Trainer trainer(o, std::move(model), data, pool, dist);

    const smol::StepResult warm = trainer.step();
    const auto start = std::chrono::steady_clock::now();
    double loss = warm.loss;
    int64_t tokens = 0;
    for (int s = 0; s < steps; ++s) {
      const smol::StepResult r = trainer.step();
      loss = r.loss;
      tokens += r.tokens;
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    std::printf("%s\n", fmt::format("{{\"impl\": \"smol\", \"precision\": \"{}\", \"threads\": {}, \"batch\": {}, "
                                    "\"params\": {}, \"steps\": {}, \"tokens_per_s\": {:.1f}, \"step_s\": {:.3f}, "
                                    "\"peak_rss_mib\": {:.0f}, \"loss\": {:.4f}, \"gemm_isa\": \"{}\"}}",
                                    precision, threads, batch, n_params, steps, tokens / seconds, seconds / steps,
                                    usage.ru_maxrss / 1024.0, loss, smol::gemm_isa())
                            .c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train_seq2seq_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
