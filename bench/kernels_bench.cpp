// Kernel throughput on the SmolLM2-135M shapes, per weight type and thread count:
//   matvec  rows x cols  -> microseconds per call and GB/s of weights streamed from memory
//           (enough copies of each matrix are cycled that none stays in cache, as in a decode
//           step where every weight is read once per token)
//   decode  all 30 layers' q,k,v,o,gate,up,down + the tied 49152 x 576 head, one token:
//           the matmul-only ceiling of decode tokens/s (fused QKV and gate/up dispatches)
//   prefill the same matrices for 512 tokens -> GFLOP/s and the matmul-only tokens/s
//   attention all layers' causal attention for a 512-token prompt and for one decode token
//   dispatch ThreadPool::run round trip
//   batch   (--batch) 2048 x 512 and 512 x 2048 (an opus-mt FFN) for 1-128 tokens: GFLOP/s of
//           the small-batch paths of batched and beam decoder steps, weights in cache
//
//   multi   (--multi) one 135M / 360M layer's matmuls for 1-16 tokens, weights from memory: n
//           one-token calls against the batch-invariant multi-token kernels (MatmulPath::
//           PerToken) and the default path, microseconds per token
//
//   kernels_bench [--types Q8_0,F16,...] [--threads 1,2] [--quick] [--huge] [--no-matvec] [--no-model] [--batch]
//                 [--multi [--tokens 1,2,4,8,16]]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <sys/mman.h>

#include "smol/kernels.hpp"
#include "smol/quant.hpp"
#include "smol/thread_pool.hpp"

namespace {

using smol::MatrixView;
using smol::WeightType;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// CPU seconds of the calling thread: with one thread this is the time the work itself took,
// without the time slices a busy (shared) machine gave to other programs.
double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// Best (minimum) seconds per call of `fn` over `reps` timed calls after one warm-up; the
// minimum is what the hardware can do when the (shared) machine leaves us alone.
double best_seconds(int reps, const std::function<void()>& fn) {
  fn();
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto start = Clock::now();
    fn();
    best = std::min(best, seconds_since(start));
  }
  return best;
}

// Weight storage, optionally on transparent huge pages (--huge): streaming hundreds of MB
// through 4 KiB pages costs a TLB miss per page and stops the hardware prefetchers at every
// page boundary; a model loader can opt in the same way (madvise(MADV_HUGEPAGE)).
template <class T>
struct WeightAllocator {
  using value_type = T;
  bool huge = false;
  WeightAllocator() = default;
  explicit WeightAllocator(bool h) : huge(h) {}
  template <class U>
  WeightAllocator(const WeightAllocator<U>& o) : huge(o.huge) {}
  T* allocate(size_t n) {
    constexpr size_t kHuge = 2u << 20;
    const size_t bytes = (n * sizeof(T) + kHuge - 1) / kHuge * kHuge;
    void* p = std::aligned_alloc(kHuge, bytes);
    if (!p) throw std::bad_alloc();
    if (huge) madvise(p, bytes, MADV_HUGEPAGE);
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t) { std::free(p); }
  bool operator==(const WeightAllocator& o) const { return huge == o.huge; }
};
using Bytes = std::vector<uint8_t, WeightAllocator<uint8_t>>;

// Random rows quantized once and then copied, so building hundreds of MB stays quick.
Bytes make_weights(WeightType type, int64_t rows, int64_t cols, uint32_t seed, bool huge) {
  const int64_t rb = smol::row_bytes(type, cols);
  const int64_t distinct = std::min<int64_t>(rows, 64);
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 0.05f);
  std::vector<float> row(cols);
  Bytes bytes(rows * rb, WeightAllocator<uint8_t>(huge));
  for (int64_t r = 0; r < distinct; ++r) {
    for (float& f : row) f = dist(rng);
    smol::quantize_row(type, row.data(), bytes.data() + r * rb, cols);
  }
  for (int64_t r = distinct; r < rows; ++r) std::memcpy(bytes.data() + r * rb, bytes.data() + (r % distinct) * rb, rb);
  return bytes;
}

std::vector<float> make_input(size_t n) {
  std::mt19937 rng(99);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(n);
  for (float& f : x) f = dist(rng);
  return x;
}

void bench_matvec(WeightType type, int threads, int64_t rows, int64_t cols, bool huge) {
  smol::ThreadPool pool(threads);
  const int64_t bytes = rows * smol::row_bytes(type, cols);
  const int copies = static_cast<int>(std::max<int64_t>(1, (256ll << 20) / bytes));
  std::vector<Bytes> mats;
  for (int c = 0; c < copies; ++c) mats.push_back(make_weights(type, rows, cols, 1 + c, huge));
  const std::vector<float> x = make_input(cols);
  std::vector<float> y(rows);
  int next = 0;
  const double s = best_seconds(std::max(20, 3 * copies), [&] {
    matmul(pool, x.data(), 1, MatrixView{type, mats[next].data(), rows, cols}, y.data());
    next = (next + 1) % copies;
  });
  // The same matrix again and again: from cache when it fits, so this is the compute speed.
  const double hot = best_seconds(50, [&] { matmul(pool, x.data(), 1, MatrixView{type, mats[0].data(), rows, cols}, y.data()); });
  std::printf("matvec  %-5s t=%d %6lld x %-5lld %9.1f us %7.2f GB/s   (cached: %8.1f us %7.2f GB/s)\n",
              smol::weight_type_name(type), threads, static_cast<long long>(rows), static_cast<long long>(cols),
              s * 1e6, bytes / s / 1e9, hot * 1e6, bytes / hot / 1e9);
}

struct Layer {
  Bytes q, k, v, o, gate, up, down;
};

// A decoder layer's matrices of random weights; seed advances by one per matrix.
Layer make_layer(WeightType type, int64_t hidden, int64_t kv, int64_t ffn, uint32_t& seed, bool huge) {
  Layer l;
  l.q = make_weights(type, hidden, hidden, seed++, huge);
  l.k = make_weights(type, kv, hidden, seed++, huge);
  l.v = make_weights(type, kv, hidden, seed++, huge);
  l.o = make_weights(type, hidden, hidden, seed++, huge);
  l.gate = make_weights(type, ffn, hidden, seed++, huge);
  l.up = make_weights(type, ffn, hidden, seed++, huge);
  l.down = make_weights(type, hidden, ffn, seed++, huge);
  return l;
}

// The SmolLM2-135M matrices: hidden 576, 9 heads + 3 kv heads of 64, ffn 1536, 30 layers.
constexpr int64_t kHidden = 576, kKv = 192, kFfn = 1536, kVocab = 49152;
constexpr int kLayers = 30;

void bench_model(WeightType type, int threads, bool quick, bool huge) {
  smol::ThreadPool pool(threads);
  std::vector<Layer> layers(kLayers);
  uint32_t seed = 1;
  for (Layer& l : layers) l = make_layer(type, kHidden, kKv, kFfn, seed, huge);
  // A tied head is stored like the embeddings; Q8_0 models keep it Q8_0, others the same type.
  const Bytes head = make_weights(type, kVocab, kHidden, seed++, huge);
  int64_t total_bytes = static_cast<int64_t>(head.size());
  for (const Layer& l : layers) {
    total_bytes += l.q.size() + l.k.size() + l.v.size() + l.o.size() + l.gate.size() + l.up.size() + l.down.size();
  }

  const int max_tokens = 512;
  const std::vector<float> x = make_input(max_tokens * kFfn);
  std::vector<float> a(max_tokens * kFfn), b(max_tokens * kFfn), c(max_tokens * kFfn), logits(kVocab);
  auto step = [&](int n) {
    for (const Layer& l : layers) {
      const smol::MatmulOutput qkv[] = {{MatrixView{type, l.q.data(), kHidden, kHidden}, a.data()},
                                        {MatrixView{type, l.k.data(), kKv, kHidden}, b.data()},
                                        {MatrixView{type, l.v.data(), kKv, kHidden}, c.data()}};
      smol::matmul_multi(pool, x.data(), n, qkv);
      smol::matmul(pool, a.data(), n, MatrixView{type, l.o.data(), kHidden, kHidden}, b.data());
      const smol::MatmulOutput mlp[] = {{MatrixView{type, l.gate.data(), kFfn, kHidden}, a.data()},
                                        {MatrixView{type, l.up.data(), kFfn, kHidden}, c.data()}};
      smol::matmul_multi(pool, x.data(), n, mlp);
      smol::matmul(pool, a.data(), n, MatrixView{type, l.down.data(), kHidden, kFfn}, b.data());
    }
    // Only the last token's logits, as generation and llama-bench's pp test do.
    smol::matmul(pool, x.data(), 1, MatrixView{type, head.data(), kVocab, kHidden}, logits.data());
  };
  double cpu_best = 1e30;
  const double decode = best_seconds(quick ? 5 : 40, [&] {
    const double cpu0 = thread_cpu_seconds();
    step(1);
    cpu_best = std::min(cpu_best, thread_cpu_seconds() - cpu0);
  });
  std::printf("decode  %-5s t=%d  %7.2f ms/token  %6.1f tok/s  %6.2f GB/s  (%lld MB of weights)", smol::weight_type_name(type),
              threads, decode * 1e3, 1.0 / decode, total_bytes / decode / 1e9, static_cast<long long>(total_bytes >> 20));
  if (threads == 1) std::printf("  cpu %.2f ms/token", cpu_best * 1e3);
  std::printf("\n");
  const double flops = 2.0 * max_tokens * kLayers * (2 * kHidden * kHidden + 2 * kKv * kHidden + 3 * kFfn * kHidden);
  double prefill_cpu = 1e30;
  const double prefill = best_seconds(quick ? 1 : 3, [&] {
    const double cpu0 = thread_cpu_seconds();
    step(max_tokens);
    prefill_cpu = std::min(prefill_cpu, thread_cpu_seconds() - cpu0);
  });
  std::printf("prefill %-5s t=%d  %7.1f ms/512    %6.1f tok/s  %6.1f GFLOP/s", smol::weight_type_name(type), threads,
              prefill * 1e3, max_tokens / prefill, flops / prefill / 1e9);
  if (threads == 1) std::printf("  cpu %.1f ms/512 (%.1f GFLOP/s)", prefill_cpu * 1e3, flops / prefill_cpu / 1e9);
  std::printf("\n");
}

// Attention of all 30 layers: a 512-token prompt, and one decode token at contexts 128 / 512.
void bench_attention(int threads) {
  smol::ThreadPool pool(threads);
  const int heads = 9, kv_heads = 3, hd = 64, ctx = 512;
  const std::vector<float> q = make_input(ctx * heads * hd), k = make_input(ctx * kv_heads * hd);
  std::vector<float> out(ctx * heads * hd);
  auto run = [&](int n_tokens, int start) {
    smol::AttentionArgs a;
    a.q = q.data();
    a.keys = k.data();
    a.values = k.data();
    a.kv_stride = kv_heads * hd;
    a.out = out.data();
    a.n_tokens = n_tokens;
    a.start_pos = start;
    a.n_heads = heads;
    a.n_kv_heads = kv_heads;
    a.head_dim = hd;
    a.scale = 0.125f;
    for (int l = 0; l < kLayers; ++l) smol::causal_attention(pool, a);
  };
  const double prefill = best_seconds(5, [&] { run(ctx, 0); });
  const double flops = 2.0 * 2 * heads * hd * (ctx * (ctx + 1) / 2.0) * kLayers;
  const double d128 = best_seconds(20, [&] { run(1, 127); });
  const double d512 = best_seconds(20, [&] { run(1, 511); });
  std::printf("attention t=%d  prefill 512: %7.1f ms (%5.1f GFLOP/s)  decode at 128: %6.3f ms  at 512: %6.3f ms\n",
              threads, prefill * 1e3, flops / prefill / 1e9, d128 * 1e3, d512 * 1e3);
}

void bench_dispatch(int threads) {
  smol::ThreadPool pool(threads);
  int sink[64] = {};
  const int reps = 2000;
  const double s = best_seconds(10, [&] {
    for (int r = 0; r < reps; ++r) pool.run([&](int i, int) { sink[i * 16] += 1; });
  });
  std::printf("dispatch t=%d %6.2f us per run()\n", threads, s / reps * 1e6);
}

// --multi: one decoder layer's matmuls (fused QKV, o, fused gate/up, down) for n tokens, weights
// streamed from memory (enough layers cycled that none stays in cache), three ways:
//   one-token n one-token calls, each a pass over all layers (n plain decode steps), the
//             baseline;
//   per-token one call on MatmulPath::BatchInvariant: the batch-invariant multi-token kernels;
//   by-batch  one call on the default path (the GEMMs from 8 tokens: what a batched server
//             step takes), not batch-invariant.
// Rounds alternate the three, and each prints its median over the rounds, in microseconds
// per token (a shared machine's noise hits all three alike).
struct LayerShape {
  const char* name;
  int64_t hidden, kv, ffn;
};

void bench_multi(WeightType type, int threads, const LayerShape& shape, bool huge, const std::vector<int>& token_counts) {
  smol::ThreadPool pool(threads);
  const int64_t h = shape.hidden, kv = shape.kv, ffn = shape.ffn;
  const int64_t layer_bytes = smol::row_bytes(type, h) * (2 * h + 2 * kv + 2 * ffn) + smol::row_bytes(type, ffn) * h;
  const int copies = static_cast<int>(std::max<int64_t>(2, (256ll << 20) / layer_bytes));
  std::vector<Layer> layers(copies);
  uint32_t seed = 1;
  for (Layer& l : layers) l = make_layer(type, h, kv, ffn, seed, huge);
  const int max_n = *std::max_element(token_counts.begin(), token_counts.end());
  const std::vector<float> x = make_input(max_n * ffn);
  std::vector<float> a(max_n * ffn), b(max_n * ffn), c(max_n * ffn);
  auto layer = [&](const Layer& l, const float* in, int n, smol::MatmulPath path) {
    const smol::MatmulOutput qkv[] = {{MatrixView{type, l.q.data(), h, h}, a.data()},
                                      {MatrixView{type, l.k.data(), kv, h}, b.data()},
                                      {MatrixView{type, l.v.data(), kv, h}, c.data()}};
    smol::matmul_multi(pool, in, n, qkv, path);
    smol::matmul(pool, in, n, MatrixView{type, l.o.data(), h, h}, b.data(), path);
    const smol::MatmulOutput mlp[] = {{MatrixView{type, l.gate.data(), ffn, h}, a.data()},
                                      {MatrixView{type, l.up.data(), ffn, h}, c.data()}};
    smol::matmul_multi(pool, in, n, mlp, path);
    smol::matmul(pool, in, n, MatrixView{type, l.down.data(), h, ffn}, b.data(), path);
  };
  // Microseconds per token of one pass over every layer copy; the one-token calls make n
  // passes, so that each reads the weights from memory as n decode steps would.
  auto per_token_us = [&](int n, int mode) {
    const auto start = Clock::now();
    if (mode == 0) {
      for (int t = 0; t < n; ++t) {
        for (const Layer& l : layers) layer(l, x.data() + t * ffn, 1, smol::MatmulPath::ByBatchSize);
      }
    } else {
      for (const Layer& l : layers) {
        layer(l, x.data(), n, mode == 1 ? smol::MatmulPath::BatchInvariant : smol::MatmulPath::ByBatchSize);
      }
    }
    return seconds_since(start) * 1e6 / copies / n;
  };
  const int rounds = 7;
  for (int n : token_counts) {
    std::vector<double> times[3];
    for (int mode = 0; mode < 3; ++mode) per_token_us(n, mode);  // warm-up
    for (int r = 0; r < rounds; ++r) {
      for (int mode = 0; mode < 3; ++mode) times[mode].push_back(per_token_us(n, mode));
    }
    double med[3];
    for (int mode = 0; mode < 3; ++mode) {
      std::sort(times[mode].begin(), times[mode].end());
      med[mode] = times[mode][rounds / 2];
    }
    std::printf("multi   %-5s t=%d %s layer (%5.1f MB) %2d tokens: us/token one-token %7.1f  per-token %7.1f (%4.2fx)"
                "  by-batch %7.1f (%4.2fx)\n",
                smol::weight_type_name(type), threads, shape.name, layer_bytes / 1e6, n, med[0], med[1],
                med[0] / med[1], med[2], med[0] / med[2]);
  }
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t comma = s.find(',', start);
    out.push_back(s.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

WeightType parse_type(const std::string& name) {
  for (WeightType t : {WeightType::F32, WeightType::BF16, WeightType::F16, WeightType::Q8_0, WeightType::Q4_0,
                       WeightType::Q4_K, WeightType::Q6_K}) {
    if (name == smol::weight_type_name(t)) return t;
  }
  std::fprintf(stderr, "unknown type %s\n", name.c_str());
  std::exit(2);
}

void bench_batch(WeightType type, int threads) {
  smol::ThreadPool pool(threads);
  for (const auto& [rows, cols] : {std::pair<int64_t, int64_t>{2048, 512}, {512, 2048}}) {
    const Bytes w = make_weights(type, rows, cols, 7, false);
    for (int n : {1, 4, 8, 11, 12, 16, 24, 32, 48, 64, 65, 96, 128, 512}) {
      const std::vector<float> x = make_input(static_cast<size_t>(n) * cols);
      std::vector<float> y(static_cast<size_t>(n) * rows);
      const double s = best_seconds(20, [&] { matmul(pool, x.data(), n, MatrixView{type, w.data(), rows, cols}, y.data()); });
      std::printf("batch   %-5s t=%d %5lld x %-5lld %4d tokens %9.1f us %7.1f GFLOP/s\n", smol::weight_type_name(type),
                  threads, static_cast<long long>(rows), static_cast<long long>(cols), n, s * 1e6,
                  2.0 * rows * cols * n / s / 1e9);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<WeightType> types = {WeightType::Q8_0, WeightType::F16, WeightType::BF16, WeightType::Q4_0};
  std::vector<int> threads = {1, 2};
  std::vector<int> tokens = {1, 2, 4, 8, 16};
  bool quick = false, matvec = true, model = true, huge = false, batch = false, multi = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--types" && i + 1 < argc) {
      types.clear();
      for (const std::string& t : split(argv[++i])) types.push_back(parse_type(t));
    } else if (arg == "--threads" && i + 1 < argc) {
      threads.clear();
      for (const std::string& t : split(argv[++i])) threads.push_back(std::stoi(t));
    } else if (arg == "--huge") {
      huge = true;
    } else if (arg == "--quick") {
      quick = true;
    } else if (arg == "--no-matvec") {
      matvec = false;
    } else if (arg == "--no-model") {
      model = false;
    } else if (arg == "--batch") {
      batch = true;
    } else if (arg == "--multi") {
      multi = true;
    } else if (arg == "--tokens" && i + 1 < argc) {
      tokens.clear();
      for (const std::string& t : split(argv[++i])) tokens.push_back(std::stoi(t));
    } else {
      std::fprintf(stderr, "usage: kernels_bench [--types Q8_0,F16,...] [--threads 1,2] [--quick] [--huge] [--no-matvec] [--no-model] [--batch] [--multi [--tokens 1,2,4]]\n");
      return 2;
    }
  }
  if (multi) {
    for (WeightType type : types) {
      for (int t : threads) {
        for (const LayerShape& shape : {LayerShape{"135M", 576, 192, 1536}, LayerShape{"360M", 960, 320, 2560}}) {
          bench_multi(type, t, shape, huge, tokens);
        }
      }
    }
    return 0;
  }
  if (batch) {
    for (WeightType type : types) {
      for (int t : threads) bench_batch(type, t);
    }
    return 0;
  }
  for (int t : threads) bench_dispatch(t);
  for (int t : threads) bench_attention(t);
  for (WeightType type : types) {
    for (int t : threads) {
      if (matvec) {
        const bool k_quant = smol::block_elements(type) == 256;
        if (!k_quant) bench_matvec(type, t, kHidden, kFfn, huge);
        bench_matvec(type, t, kFfn, k_quant ? 1536 : kHidden, huge);
        if (!k_quant) bench_matvec(type, t, kVocab, kHidden, huge);
      }
      if (model && smol::block_elements(type) != 256) bench_model(type, t, quick, huge);
    }
  }
  return 0;
}
