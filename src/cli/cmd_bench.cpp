// llama-bench-style timing: pp = one batch of P random tokens; tg = N single-token decode
// steps with logits, no sampling; both after D tokens already in the cache (--depth, 0 by
// default), for each KV cache type asked for. One warm-up run, then repetitions.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "cli/seq2seq_options.hpp"
#include "smol/model.hpp"
#include "smol/thread_pool.hpp"

namespace smol::cli {

namespace {

struct BenchArgs {
  std::string model;
  LoadMode load = LoadMode::Read;
  std::string weights;  // --weights: convert the matrices at load time
  std::vector<int> prompt_sizes = {512};
  std::vector<int> gen_sizes = {128};
  std::vector<int> threads;
  std::vector<std::string> cache_types = {"f32"};
  int depth = 0;
  int repetitions = 5;
  bool json = false;
};

struct Stats {
  double mean = 0.0, sd = 0.0;
};

Stats stats(const std::vector<double>& xs) {
  Stats s;
  for (double x : xs) s.mean += x;
  s.mean /= xs.size();
  for (double x : xs) s.sd += (x - s.mean) * (x - s.mean);
  s.sd = xs.size() > 1 ? std::sqrt(s.sd / (xs.size() - 1)) : 0.0;
  return s;
}

double seconds(const std::function<void()>& fn) {
  const auto start = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::vector<int32_t> random_tokens(int n, int vocab, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int32_t> dist(0, vocab - 1);
  std::vector<int32_t> tokens(n);
  for (auto& t : tokens) t = dist(rng);
  return tokens;
}

// Tokens per second of `reps` timed runs of `run` (after one untimed warm-up).
Stats measure(int n_tokens, int reps, const std::function<void()>& run) {
  run();
  std::vector<double> rates;
  for (int r = 0; r < reps; ++r) rates.push_back(n_tokens / seconds(run));
  return stats(rates);
}

std::string weight_type_name(const Model& model) {
  switch (model.weights().layers.at(0).q.type) {
    case WeightType::F32: return "F32";
    case WeightType::BF16: return "BF16";
    case WeightType::F16: return "F16";
    default: return "quantized";
  }
}

int run_bench(const BenchArgs& args) {
  std::unique_ptr<Model> model;
  // Load time: mapping the file and any repacking, as a user waits for it before the first token.
  const double load_seconds = seconds([&] { model = Model::load(resolve_model(args.model), args.load);
    if (!args.weights.empty()) model->convert_weights(weight_type_from_flag(args.weights));
  });
  const ModelConfig& c = model->config();
  const std::string type = weight_type_name(*model);
  nlohmann::json results = nlohmann::json::array();
  if (!args.json) {
    std::printf("| model | type | kv | threads | test | t/s |\n|---|---|---|---|---|---|\n");
  }
  const int d = args.depth;
  const std::string at = d > 0 ? fmt::format(" @ d{}", d) : "";
  const auto prefix = random_tokens(d, c.vocab_size, 3);
  for (int n_threads : args.threads) {
    ThreadPool pool(n_threads);
    for (const std::string& kv_name : args.cache_types) {
      const WeightType kv_type = cache_type_from_name(kv_name);
      auto report = [&](const std::string& test, int n, const Stats& s) {
        results.push_back({{"model", args.model}, {"type", type}, {"cache_type", kv_name}, {"threads", n_threads},
                           {"test", test}, {"n_tokens", n}, {"depth", d}, {"tokens_per_second", s.mean},
                           {"stddev", s.sd}, {"repetitions", args.repetitions}, {"load_seconds", load_seconds},
                           {"kv_bytes_per_token", KvCache::bytes_per_token(c, kv_type)}});
        if (!args.json) {
          std::printf("| %s | %s | %s | %d | %s | %.2f ± %.2f |\n", args.model.c_str(), type.c_str(), kv_name.c_str(),
                      n_threads, test.c_str(), s.mean, s.sd);
          std::fflush(stdout);
        }
      };
      // The first D positions are filled once; every run rewinds to them.
      auto fill = [&](KvCache& kv, ForwardBuffers& buf) {
        for (int done = 0; done < d; done += buf.max_tokens) {
          const int n = std::min(buf.max_tokens, d - done);
          model->forward(std::span(prefix).subspan(done, n), kv, buf, pool, Logits::Last);
        }
      };
      for (int p : args.prompt_sizes) {
        if (p <= 0) continue;
        const auto tokens = random_tokens(p, c.vocab_size, 1);
        KvCache kv(c, d + p, kv_type);
        ForwardBuffers buf(c, p, pool.size(), d + p);
        fill(kv, buf);
        report(fmt::format("pp{}{}", p, at), p, measure(p, args.repetitions, [&] {
                 kv.truncate(d);
                 model->forward(tokens, kv, buf, pool, Logits::Last);
               }));
      }
      for (int n : args.gen_sizes) {
        if (n <= 0) continue;
        const auto tokens = random_tokens(n, c.vocab_size, 2);
        KvCache kv(c, d + n, kv_type);
        ForwardBuffers buf(c, std::max(1, std::min(d, 256)), pool.size(), d + n);
        fill(kv, buf);
        report(fmt::format("tg{}{}", n, at), n, measure(n, args.repetitions, [&] {
                 kv.truncate(d);
                 for (int i = 0; i < n; ++i) model->forward(std::span(tokens).subspan(i, 1), kv, buf, pool, Logits::Last);
               }));
      }
    }
  }
  if (args.json) std::printf("%s\n", results.dump(2).c_str());
  return 0;
}

}  // namespace

Command add_bench_command(CLI::App& root) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* app = root.add_subcommand("bench", "Measure prompt processing (pp) and generation (tg) speed");
  add_model_option(*app, args->model);
  add_mmap_option(*app, args->load);
  add_weights_option(*app, args->weights);
  app->add_option("-p,--n-prompt", args->prompt_sizes, "Prompt sizes, comma-separated (0: skip)")
      ->delimiter(',')->capture_default_str();
  app->add_option("-n,--n-gen", args->gen_sizes, "Generation lengths, comma-separated (0: skip)")
      ->delimiter(',')->capture_default_str();
  args->threads = {default_threads()};
  app->add_option("-t,--threads", args->threads, "Thread counts, comma-separated")
      ->delimiter(',')->check(CLI::Range(1, 1024))->capture_default_str();
  app->add_option("--cache-type", args->cache_types, "KV cache types, comma-separated: f32, f16, bf16, q8_0")
      ->delimiter(',')->check(cache_type_names())->capture_default_str();
  app->add_option("-d,--depth", args->depth, "Tokens already in the KV cache before each test (llama-bench's -d)")
      ->check(CLI::Range(0, 1 << 20))->capture_default_str();
  app->add_option("-r,--repetitions", args->repetitions, "Timed repetitions per test")
      ->check(CLI::Range(1, 1000))->capture_default_str();
  app->add_flag("--json", args->json, "Print results as JSON");
  return {app, [args] { return run_bench(*args); }};
}

}  // namespace smol::cli
