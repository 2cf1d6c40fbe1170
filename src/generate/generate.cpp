#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "generate/generate_internal.hpp"
#include "smol/error.hpp"
#include "smol/generate.hpp"
#include "smol/qa.hpp"

namespace smol {

namespace detail {

GenerationPlan plan_generation(const ModelConfig& config, std::span<const int32_t> prompt,
                               const GenerateOptions& options) {
  if (prompt.empty()) throw Error("the prompt is empty: give at least one token");
  if (options.max_new_tokens < 0) throw Error("the number of tokens to generate must be >= 0");

  GenerationPlan plan;
  plan.prompt_len = static_cast<int>(prompt.size());
  const int limit = options.context > 0 ? options.context : config.max_position_embeddings;
  if (options.context > config.max_position_embeddings) {
    throw Error(fmt::format("context {} exceeds the model's max_position_embeddings of {}", options.context,
                            config.max_position_embeddings));
  }
  if (plan.prompt_len >= limit) {
    throw Error(fmt::format("the prompt has {} tokens, but the context holds only {}: shorten the prompt{}",
                            plan.prompt_len, limit, options.context > 0 ? " or raise --ctx" : ""));
  }
  // The cache only needs room for what this call can produce.
  plan.capacity = std::min(limit, plan.prompt_len + std::max(1, options.max_new_tokens));
  plan.prefill_batch = std::max(1, std::min(options.prefill_batch, plan.prompt_len));
  plan.max_tokens = std::min(options.max_new_tokens, plan.capacity - plan.prompt_len + 1);
  plan.stop_ids = options.stop_ids.value_or(
      std::vector<int32_t>(config.eos_token_ids.begin(), config.eos_token_ids.end()));
  return plan;
}

void prefill(const Model& model, std::span<const int32_t> prompt, KvCache& kv, ForwardBuffers& buf, ThreadPool& pool,
             int batch) {
  const int total = static_cast<int>(prompt.size());
  batch = std::max(1, std::min(batch, buf.max_tokens));
  for (int done = 0; done < total; done += batch) {
    const int n = std::min(batch, total - done);
    model.forward(prompt.subspan(done, n), kv, buf, pool, Logits::Last);
  }
}

}  // namespace detail

std::unique_ptr<SequenceConstraint> make_output_constraint(const Engine& engine, const std::optional<Grammar>& grammar,
                                                           const std::optional<std::string>& span_of,
                                                           std::vector<int32_t> end_ids) {
  if (grammar && span_of) throw Error("a grammar and an extractive span cannot constrain one output together");
  if (grammar && grammar->unique_json_keys()) {
    return std::make_unique<JsonKeyGuard>(
        std::make_unique<GrammarMatcher>(*grammar, engine.grammar_vocab(), std::move(end_ids)), engine.grammar_vocab());
  }
  if (grammar) return std::make_unique<GrammarMatcher>(*grammar, engine.grammar_vocab(), std::move(end_ids));
  if (span_of) return std::make_unique<SpanConstraint>(*span_of, engine.grammar_vocab(), std::move(end_ids));
  return nullptr;
}

GenerateResult generate(Engine& engine, std::span<const int32_t> prompt, const GenerateOptions& options,
                        const TextCallback& on_text) {
  const Model& model = engine.model();
  const ModelConfig& config = model.config();
  const detail::GenerationPlan plan = detail::plan_generation(config, prompt, options);
  if (options.speculative.enabled()) return detail::generate_speculative(engine, prompt, options, plan, on_text);
  const int prompt_len = plan.prompt_len;
  const int capacity = plan.capacity;
  const std::vector<int32_t>& stop_ids = plan.stop_ids;

  KvCache kv(config, capacity, options.cache_type);
  ForwardBuffers buf(config, plan.prefill_batch, engine.pool().size(), capacity);
  Sampler sampler(options.sampling);

  GenerateResult result;
  result.prompt_tokens = prompt_len;
  result.finish_reason = "length";
  std::vector<int32_t> history(prompt.begin(), prompt.end());
  history.reserve(prompt_len + options.max_new_tokens);

  auto start = std::chrono::steady_clock::now();
  // Building the vocabulary trie (once per engine) counts as time to the first token.
  const std::unique_ptr<SequenceConstraint> constraint =
      make_output_constraint(engine, options.grammar, options.span_of, stop_ids);
  detail::prefill(model, prompt, kv, buf, engine.pool(), plan.prefill_batch);
  result.prefill_seconds = detail::seconds_since(start);

  start = std::chrono::steady_clock::now();
  StreamDecoder decoder(engine.tokenizer());
  std::span<float> logits(buf.logits.data(), config.vocab_size);
  for (int i = 0; i < options.max_new_tokens; ++i) {
    if (constraint) {
      if (constraint->finished()) {  // only a stop id could follow
        result.finish_reason = "stop";
        break;
      }
      // Tokens this call can still produce, this one included (see the breaks below).
      constraint->set_remaining(std::min(options.max_new_tokens - i, capacity - prompt_len + 1 - i));
    }
    const int32_t next = sampler.sample(logits, history, constraint.get());
    if (std::find(stop_ids.begin(), stop_ids.end(), next) != stop_ids.end()) {
      result.finish_reason = "stop";
      break;
    }
    if (constraint) constraint->accept(next);
    result.tokens.push_back(next);
    history.push_back(next);
    const std::string text = decoder.push(next);
    if (!text.empty() && !on_text(text)) {
      result.finish_reason = "stop";
      break;
    }
    if (constraint && constraint->finished()) {  // only a stop id could follow: no forward pass for it
      result.finish_reason = "stop";
      break;
    }
    if (i + 1 == options.max_new_tokens) break;
    if (kv.size() >= kv.capacity()) break;  // the context is full: stop with "length"
    const int32_t token[1] = {next};
    model.forward(token, kv, buf, engine.pool(), Logits::Last);
  }
  if (constraint) result.grammar_complete = constraint->can_end();
  const std::string rest = decoder.flush();
  if (!rest.empty()) on_text(rest);
  result.decode_seconds = detail::seconds_since(start);
  return result;
}

}  // namespace smol
