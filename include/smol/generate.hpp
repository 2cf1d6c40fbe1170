#pragma once
// Turning a model and a tokenizer into text: the generation loop with streaming output, and
// perplexity scoring.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "smol/grammar.hpp"
#include "smol/model.hpp"
#include "smol/sampler.hpp"
#include "smol/thread_pool.hpp"
#include "smol/tokenizer.hpp"

namespace smol {

class ChatTemplate;

// What a loaded model folder gives: weights, tokenizer and the threads to run them.
class Engine {
 public:
  // `weights` converts the matrices once after loading (--weights f32|bf16|q8_0).
  Engine(const std::filesystem::path& model_dir, int n_threads, LoadMode load = LoadMode::Read,
         std::optional<WeightType> weights = std::nullopt);
  ~Engine();
  const Model& model() const { return *model_; }
  const Tokenizer& tokenizer() const { return tokenizer_; }
  ThreadPool& pool() { return pool_; }
  // The folder's chat template (tokenizer_config.json); throws smol::Error when it has none.
  const ChatTemplate& chat_template() const;
  const std::filesystem::path& model_dir() const { return model_dir_; }
  // The vocabulary trie grammar-constrained generation walks, built on first use.
  std::shared_ptr<const GrammarVocab> grammar_vocab() const;

 private:
  std::filesystem::path model_dir_;
  std::unique_ptr<Model> model_;
  Tokenizer tokenizer_;
  ThreadPool pool_;
  mutable std::unique_ptr<ChatTemplate> chat_template_;
  mutable std::shared_ptr<const GrammarVocab> grammar_vocab_;
};

// Speculative decoding: something cheap proposes the next tokens and the model checks them
// all in one batched forward pass. Greedy output is token for token that of plain decoding
// (the check computes every row with the one-token kernels); sampled output keeps the model's
// distribution exactly (speculative sampling's acceptance rule over the sampler's whole chain).
struct SpeculativeOptions {
  // A draft model with the same vocabulary, run on the target engine's threads; or nullptr.
  // generate() only compares the sizes: check_same_vocabulary once when loading the draft.
  const Engine* draft = nullptr;
  // > 0 instead of a draft model: prompt lookup, proposing the tokens that followed the most
  // recent earlier occurrence of the last `lookup_ngram` tokens (prompt and output so far).
  int lookup_ngram = 0;
  int draft_max = 16;         // most tokens proposed per step
  int draft_min = 0;          // fewer proposed tokens than this are not checked (a plain step)
  float draft_p_min = 0.75f;  // a draft model stops proposing when its top probability is below this
  bool enabled() const { return draft != nullptr || lookup_ngram > 0; }
  // Throws smol::Error naming the first bad field (both a draft and lookup, sizes out of range).
  void validate() const;
};

// Throws smol::Error with one line when `draft` cannot draft for `target`: a different vocabulary
// size or a token whose text or special-ness differs.
void check_same_vocabulary(const Engine& target, const Engine& draft);

struct SpeculativeStats {
  int64_t steps = 0;     // forward passes of the target model after the prompt
  int64_t drafted = 0;   // tokens proposed and checked
  int64_t accepted = 0;  // of those, tokens kept
  double draft_seconds = 0.0;  // spent proposing (the draft model's forward passes), within decode_seconds
  double acceptance_rate() const { return drafted ? static_cast<double>(accepted) / drafted : 0.0; }
};

struct GenerateOptions {
  int max_new_tokens = 128;
  SamplingParams sampling;
  // Size of the KV cache; 0 means prompt + max_new_tokens, capped at the model's maximum.
  int context = 0;
  // Tokens ids that end generation (not printed); empty means the model's eos ids.
  std::optional<std::vector<int32_t>> stop_ids;
  int prefill_batch = 256;
  WeightType cache_type = WeightType::F32;  // KV cache storage: F32, F16, BF16 or Q8_0
  // Constrains the output to the grammar: only tokens that keep it a valid prefix, a stop id
  // only where it may end, generation ends when it is complete, and near the token limit
  // only tokens after which it can still be completed in time (GrammarMatcher).
  std::optional<Grammar> grammar;
  // Not with a grammar or a span: generate() refuses the combination.
  SpeculativeOptions speculative;
  // Constrains the output to a verbatim span of this text (extractive QA: SpanConstraint);
  // not together with `grammar`.
  std::optional<std::string> span_of;
};

// The constraint a generation follows: a GrammarMatcher for `grammar`, a SpanConstraint for
// `span_of`, nullptr for neither; throws smol::Error when both are given. `end_ids` end the
// output where the constraint may end.
std::unique_ptr<SequenceConstraint> make_output_constraint(const Engine& engine, const std::optional<Grammar>& grammar,
                                                           const std::optional<std::string>& span_of,
                                                           std::vector<int32_t> end_ids);

struct GenerateResult {
  std::vector<int32_t> tokens;  // generated ids, without the stop token
  std::string finish_reason;    // "stop" (stop token or callback) or "length"
  bool grammar_complete = false;  // with options.grammar (span_of): the output is a whole sentence of it (may end)
  int prompt_tokens = 0;
  double prefill_seconds = 0.0;
  double decode_seconds = 0.0;
  SpeculativeStats speculative;  // with options.speculative enabled
};

// Receives text as soon as it is complete UTF-8; returns false to stop generating.
using TextCallback = std::function<bool(std::string_view text)>;

GenerateResult generate(Engine& engine, std::span<const int32_t> prompt, const GenerateOptions& options,
                        const TextCallback& on_text);

struct PerplexityResult {
  int64_t tokens_scored = 0;
  double nll_sum = 0.0;
  double nll_mean() const { return tokens_scored ? nll_sum / tokens_scored : 0.0; }
  double ppl() const;
};

// Scores every token after the first given the ones before it, with no BOS added. Texts
// longer than `context` are cut into consecutive non-overlapping windows of `context`
// tokens, each scored from its second token. The KV cache is stored as `cache_type`.
PerplexityResult perplexity(const Model& model, ThreadPool& pool, std::span<const int32_t> tokens, int context,
                            int batch = 256, WeightType cache_type = WeightType::F32);

// -log softmax(logits)[target], computed in double.
double token_nll(std::span<const float> logits, int32_t target);

}  // namespace smol
