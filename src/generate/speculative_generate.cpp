// Speculative decoding: a drafter proposes tokens, the target checks the pending token and
// all proposals in one forward pass (with the one-token kernels, so every row is bit for bit
// what plain decoding computes), keeps the accepted prefix and one token of its own, and
// rewinds its KV cache over the rest.
#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "generate/drafters.hpp"
#include "generate/generate_internal.hpp"
#include "generate/speculative_sampling.hpp"
#include "smol/error.hpp"

namespace smol {

void SpeculativeOptions::validate() const {
  if (draft && lookup_ngram > 0) throw Error("give either a draft model (--draft) or prompt lookup (--lookup), not both");
  if (lookup_ngram < 0) throw Error(fmt::format("--lookup must be a positive n-gram size, got {}", lookup_ngram));
  if (draft_max < 1) throw Error(fmt::format("--draft-max must be at least 1, got {}", draft_max));
  if (draft_min < 0 || draft_min > draft_max) {
    throw Error(fmt::format("--draft-min must be between 0 and --draft-max ({}), got {}", draft_max, draft_min));
  }
  if (!(draft_p_min >= 0.0f && draft_p_min <= 1.0f)) {
    throw Error(fmt::format("--draft-p-min must be in [0, 1], got {}", draft_p_min));
  }
}

void check_same_vocabulary(const Engine& target, const Engine& draft) {
  const int target_size = target.model().config().vocab_size, draft_size = draft.model().config().vocab_size;
  if (target_size != draft_size || target.tokenizer().vocab_size() != draft.tokenizer().vocab_size()) {
    throw Error(fmt::format("the draft model's vocabulary ({} ids, tokenizer {}) differs from the model's ({} ids, "
                            "tokenizer {}): use a draft with the same tokenizer",
                            draft_size, draft.tokenizer().vocab_size(), target_size, target.tokenizer().vocab_size()));
  }
  const size_t n = target.tokenizer().vocab_size();
  for (size_t i = 0; i < n; ++i) {
    const auto id = static_cast<int32_t>(i);
    if (target.tokenizer().token_text(id) != draft.tokenizer().token_text(id) ||
        target.tokenizer().is_special(id) != draft.tokenizer().is_special(id)) {
      throw Error(fmt::format("the draft model's token {} ({}) differs from the model's ({}): use a draft with the "
                              "same tokenizer",
                              id, draft.tokenizer().token_text(id).value_or("none"),
                              target.tokenizer().token_text(id).value_or("none")));
    }
  }
}

namespace detail {

GenerateResult generate_speculative(Engine& engine, std::span<const int32_t> prompt, const GenerateOptions& options,
                                    const GenerationPlan& plan, const TextCallback& on_text) {
  const SpeculativeOptions& spec = options.speculative;
  spec.validate();
  if (options.grammar || options.span_of) {
    throw Error("speculative decoding (--draft, --lookup) cannot be combined with a grammar, JSON Schema, --json or --extractive");
  }
  // The full comparison of every token is check_same_vocabulary's, once per loaded draft.
  if (spec.draft && spec.draft->model().config().vocab_size != engine.model().config().vocab_size) {
    throw Error(fmt::format("the draft model has {} token ids but the model {}: use a draft with the same tokenizer",
                            spec.draft->model().config().vocab_size, engine.model().config().vocab_size));
  }
  const Model& model = engine.model();
  const ModelConfig& config = model.config();
  ThreadPool& pool = engine.pool();
  const auto vocab = static_cast<size_t>(config.vocab_size);
  const std::vector<int32_t>& stop_ids = plan.stop_ids;

  KvCache kv(config, plan.capacity, options.cache_type);
  ForwardBuffers buf(config, std::max(plan.prefill_batch, spec.draft_max + 1), pool.size(), plan.capacity);
  Sampler sampler(options.sampling);
  DraftJudge judge(vocab);
  std::unique_ptr<Drafter> drafter = spec.draft
                                         ? make_model_drafter(spec.draft->model(), pool, options, plan.capacity, stop_ids)
                                         : make_prompt_lookup(spec.lookup_ngram);

  GenerateResult result;
  result.prompt_tokens = plan.prompt_len;
  result.finish_reason = "length";
  std::vector<int32_t> history(prompt.begin(), prompt.end());
  std::vector<int32_t> context;  // history and the draft, for the penalties of each checked row

  auto start = std::chrono::steady_clock::now();
  detail::prefill(model, prompt, kv, buf, pool, plan.prefill_batch);
  drafter->prefill(prompt);
  result.prefill_seconds = detail::seconds_since(start);
  start = std::chrono::steady_clock::now();

  StreamDecoder decoder(engine.tokenizer());
  // Emits one token; false once generation must end (a stop id, or the callback said so).
  auto emit = [&](int32_t token) {
    if (std::find(stop_ids.begin(), stop_ids.end(), token) != stop_ids.end()) {
      result.finish_reason = "stop";
      return false;
    }
    result.tokens.push_back(token);
    history.push_back(token);
    const std::string text = decoder.push(token);
    if (!text.empty() && !on_text(text)) {
      result.finish_reason = "stop";
      return false;
    }
    return true;
  };

  bool going = plan.max_tokens > 0 && emit(sampler.sample(std::span<float>(buf.logits.data(), vocab), history));
  buf.per_token_kernels = true;  // from here on every row must match a one-token step
  Draft draft;
  std::vector<TokenProb> p;
  std::vector<int32_t> batch;
  while (going) {
    const int left = plan.max_tokens - static_cast<int>(result.tokens.size());
    if (left <= 0) break;
    // The pending token (emitted, not yet in the cache) and up to left - 1 proposals.
    draft.clear();
    if (left > 1) {
      const auto drafting = std::chrono::steady_clock::now();
      drafter->propose(history, std::min(spec.draft_max, left - 1), draft);
      result.speculative.draft_seconds += detail::seconds_since(drafting);
    }
    if (static_cast<int>(draft.size()) < spec.draft_min) draft.clear();
    batch.assign(1, history.back());
    batch.insert(batch.end(), draft.tokens.begin(), draft.tokens.end());
    model.forward(batch, kv, buf, pool, Logits::All);
    ++result.speculative.steps;
    result.speculative.drafted += static_cast<int64_t>(draft.size());

    context.assign(history.begin(), history.end());
    context.insert(context.end(), draft.tokens.begin(), draft.tokens.end());
    const size_t base = history.size();
    for (size_t i = 0; i <= draft.size() && going; ++i) {
      const std::span<float> row(buf.logits.data() + i * vocab, vocab);
      const std::span<const int32_t> seen(context.data(), base + i);
      if (i == draft.size()) {  // every proposal kept: one more token from the target
        going = emit(sampler.sample(row, seen));
        break;
      }
      sampler.distribution(row, seen, p);
      const DraftVerdict verdict = judge.judge(p, draft.q[i], draft.tokens[i], sampler);
      result.speculative.accepted += verdict.accepted ? 1 : 0;
      going = emit(verdict.token);
      if (!verdict.accepted) break;
    }
    // The cache holds everything but the new pending token; the rest was a rejected draft.
    const int keep = static_cast<int>(history.size()) - 1;
    kv.truncate(std::min(kv.size(), keep));
    drafter->keep(keep);
  }
  const std::string rest = decoder.flush();
  if (!rest.empty()) on_text(rest);
  result.decode_seconds = detail::seconds_since(start);
  return result;
}

}  // namespace detail
}  // namespace smol
