// Grammar-constrained decode timer for llama.cpp's prebuilt libraries (node-llama-cpp's), the peer
// of `smol generate --grammar`: the same GGUF, the same GBNF text, --temp 1 sampling, one token per
// decode. The grammar is applied the way llama.cpp's own tools do it (common_sampler_sample with
// grammar_first = false): draw from the unconstrained chain, ask the grammar about that one token,
// and only when it is refused mask the whole row with the grammar and draw again.
// Built and run by bench/grammar_compare.sh (not by CMake: it links llama.cpp, not smol);
// prints one JSON line per run.
//   LLAMA_BINS=DIR llamacpp_grammar_bench MODEL.gguf THREADS N SEED PROMPT [GRAMMAR.gbnf]
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "ggml-backend.h"
#include "llama.h"

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

std::string read_text(const char* path) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path);
    std::exit(1);
  }
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void fill(std::vector<llama_token_data>& row, const float* logits, int n_vocab) {
  row.resize(n_vocab);
  for (int i = 0; i < n_vocab; i++) row[i] = {i, logits[i], 0.0f};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr, "usage: %s MODEL.gguf THREADS N SEED PROMPT [GRAMMAR.gbnf]\n", argv[0]);
    return 2;
  }
  const int threads = std::atoi(argv[2]), n_gen = std::atoi(argv[3]);
  const uint32_t seed = static_cast<uint32_t>(std::atoi(argv[4]));
  const std::string prompt = argv[5];
  const std::string grammar_text = argc > 6 ? read_text(argv[6]) : "";
  llama_log_set([](ggml_log_level l, const char* t, void*) {
    if (l == GGML_LOG_LEVEL_ERROR) std::fputs(t, stderr);
  }, nullptr);
  if (const char* bins = std::getenv("LLAMA_BINS")) ggml_backend_load_all_from_path(bins);
  else ggml_backend_load_all();
  llama_backend_init();
  auto mp = llama_model_default_params();
  mp.n_gpu_layers = 0;
  llama_model* model = llama_model_load_from_file(argv[1], mp);
  if (!model) {
    std::fprintf(stderr, "load failed: %s\n", argv[1]);
    return 1;
  }
  const llama_vocab* vocab = llama_model_get_vocab(model);
  std::vector<llama_token> tokens(prompt.size() + 8);
  const int n_prompt = llama_tokenize(vocab, prompt.data(), static_cast<int32_t>(prompt.size()), tokens.data(),
                                      static_cast<int32_t>(tokens.size()), true, false);
  tokens.resize(n_prompt);
  auto cp = llama_context_default_params();
  cp.n_ctx = n_prompt + n_gen + 16;
  cp.n_batch = cp.n_ubatch = 512;
  cp.n_threads = cp.n_threads_batch = threads;
  cp.no_perf = true;
  llama_context* ctx = llama_init_from_model(model, cp);
  llama_sampler* chain = llama_sampler_chain_init(llama_sampler_chain_default_params());
  llama_sampler_chain_add(chain, llama_sampler_init_temp(1.0f));
  llama_sampler_chain_add(chain, llama_sampler_init_dist(seed));
  llama_sampler* grammar = nullptr;
  if (!grammar_text.empty()) {
    grammar = llama_sampler_init_grammar(vocab, grammar_text.c_str(), "root");
    if (!grammar) {
      std::fprintf(stderr, "llama.cpp refused the grammar %s\n", argv[6]);
      return 1;
    }
  }
  const int n_vocab = llama_vocab_n_tokens(vocab);
  std::vector<llama_token_data> row;
  llama_decode(ctx, llama_batch_get_one(tokens.data(), n_prompt));
  int generated = 0, resampled = 0;
  double sampling_s = 0;
  const double t0 = now();
  for (; generated < n_gen; generated++) {
    const float* logits = llama_get_logits_ith(ctx, -1);
    const double s0 = now();
    fill(row, logits, n_vocab);
    llama_token_data_array cur = {row.data(), row.size(), -1, false};
    llama_sampler_apply(chain, &cur);
    llama_token id = cur.data[cur.selected].id;
    if (grammar) {
      llama_token_data single = {id, 1.0f, 0.0f};
      llama_token_data_array one = {&single, 1, -1, false};
      llama_sampler_apply(grammar, &one);
      if (one.data[0].logit == -INFINITY) {
        resampled++;
        fill(row, logits, n_vocab);
        cur = {row.data(), row.size(), -1, false};
        llama_sampler_apply(grammar, &cur);
        llama_sampler_apply(chain, &cur);
        id = cur.data[cur.selected].id;
      }
      llama_sampler_accept(grammar, id);
    }
    llama_sampler_accept(chain, id);
    sampling_s += now() - s0;
    if (llama_vocab_is_eog(vocab, id)) break;
    llama_decode(ctx, llama_batch_get_one(&id, 1));
  }
  const double dt = now() - t0;
  std::printf("{\"impl\":\"llama.cpp\",\"grammar\":%s,\"seed\":%u,\"tokens\":%d,\"seconds\":%.4f,\"tok_s\":%.2f,"
              "\"sampling_s\":%.4f,\"resampled\":%d}\n",
              grammar ? "true" : "false", seed, generated, dt, generated / dt, sampling_s, resampled);
  if (grammar) llama_sampler_free(grammar);
  llama_sampler_free(chain);
  llama_free(ctx);
  llama_model_free(model);
  llama_backend_free();
}
