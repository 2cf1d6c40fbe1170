// generate_search: length resolution, validation, and transformers' _sample (greedy search
// and multinomial sampling). Beam search lives in search_beam.cpp.
#include "smol/search.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "generate/logits_processors.hpp"
#include "generate/search_internal.hpp"
#include "smol/error.hpp"

namespace smol {

namespace search_detail {

bool is_eos(const GenerationConfig& config, int32_t token) {
  return std::find(config.eos_token_id.begin(), config.eos_token_id.end(), token) != config.eos_token_id.end();
}

std::mt19937_64 make_rng(uint64_t seed, int source, int sequence) {
  // splitmix64 of the three, so neighbouring sources get unrelated streams.
  uint64_t x = seed ^ (0x9E3779B97F4A7C15ull * (static_cast<uint64_t>(source) * 1000003ull + sequence + 1));
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return std::mt19937_64(x ^ (x >> 31));
}

double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

int draw(std::span<const double> probs, std::mt19937_64& rng) {
  double total = 0.0;
  for (double p : probs) total += p;
  const double u = uniform01(rng) * total;
  double cumulative = 0.0;
  int last_nonzero = -1;
  for (size_t i = 0; i < probs.size(); ++i) {
    if (probs[i] <= 0.0) continue;
    last_nonzero = static_cast<int>(i);
    cumulative += probs[i];
    if (u < cumulative) return last_nonzero;
  }
  if (last_nonzero < 0) throw Error("cannot sample: every token has probability 0");
  return last_nonzero;  // rounding left u just above the total
}

}  // namespace search_detail

using search_detail::LogitsProcessors;
using search_detail::SourceSetup;

const char* finish_reason_name(FinishReason reason) { return reason == FinishReason::Length ? "length" : "stop"; }

LengthLimits resolve_lengths(const GenerationConfig& config, int prefix_length, int max_position_embeddings) {
  LengthLimits limits;
  limits.max_length = config.max_length;
  if (config.max_new_tokens) {
    limits.max_length = *config.max_new_tokens + prefix_length;
  } else if (!config.max_length_set_by_caller && config.max_length == GenerationConfig().max_length) {
    limits.max_length = config.max_length + prefix_length;
    if (max_position_embeddings > 0) limits.max_length = std::min(limits.max_length, max_position_embeddings);
  }
  limits.min_length = config.min_new_tokens ? *config.min_new_tokens + prefix_length : config.min_length;
  if (prefix_length >= limits.max_length) {
    throw Error(fmt::format("the input has {} tokens but max_length is {}: raise max_length or set max_new_tokens",
                            prefix_length, limits.max_length));
  }
  return limits;
}

namespace {

struct SampleRow {
  int source = 0;
  int sequence = 0;
  int model_row = 0;  // where the model holds this row now
  std::vector<int32_t> tokens;  // prefix + generated
  double score = 0.0;
  FinishReason finish = FinishReason::Length;
  std::mt19937_64 rng;
};

int32_t argmax_first(std::span<const float> scores) {
  // torch.argmax: the first of equal maxima.
  int32_t best = 0;
  for (size_t i = 1; i < scores.size(); ++i) {
    if (scores[i] > scores[best]) best = static_cast<int32_t>(i);
  }
  return best;
}

// log_softmax(scores)[token], in double.
double log_prob(std::span<const float> scores, int32_t token) {
  double max = -std::numeric_limits<double>::infinity();
  for (float s : scores) max = std::max(max, static_cast<double>(s));
  double sum = 0.0;
  for (float s : scores) sum += std::exp(static_cast<double>(s) - max);
  return static_cast<double>(scores[token]) - max - std::log(sum);
}

std::vector<SearchResult> sample_search(StepModel& model, std::span<const SourceSetup> sources,
                                        const GenerationConfig& config, uint64_t seed, const TokenCallback& on_token) {
  const int vocab = model.vocab_size();
  const int per_source = config.do_sample ? config.num_return_sequences : 1;
  LogitsProcessors processors(config, vocab, /*beam=*/false);

  std::vector<SampleRow> rows;
  for (int s = 0; s < static_cast<int>(sources.size()); ++s) {
    for (int q = 0; q < per_source; ++q) {
      SampleRow row;
      row.source = s;
      row.sequence = q;
      row.model_row = s;  // start() holds one row per source
      row.tokens = sources[s].prefix;
      row.rng = search_detail::make_rng(seed, s, q);
      rows.push_back(std::move(row));
    }
  }
  std::vector<std::vector<int32_t>> prefixes;
  for (const SourceSetup& s : sources) prefixes.push_back(s.prefix);
  std::span<const float> logits = model.start(prefixes);
  int model_rows = static_cast<int>(sources.size());

  std::vector<int> active(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) active[i] = static_cast<int>(i);
  std::vector<float> scores(vocab);
  std::vector<double> probs;
  std::vector<int> next, parents;
  std::vector<int32_t> tokens;
  while (!active.empty()) {
    next.clear();
    for (int r : active) {
      SampleRow& row = rows[r];
      const SourceSetup& src = sources[row.source];
      const float* in = logits.data() + static_cast<size_t>(row.model_row) * vocab;
      std::copy(in, in + vocab, scores.begin());
      processors.apply(scores, {row.tokens, static_cast<int>(src.prefix.size()), src.limits.max_length,
                                src.limits.min_length});
      int32_t token;
      if (config.do_sample) {
        search_detail::softmax(scores, probs);
        token = search_detail::draw(probs, row.rng);
      } else {
        token = argmax_first(scores);
      }
      row.score += log_prob(scores, token);
      row.tokens.push_back(token);
      const bool eos = search_detail::is_eos(config, token);
      const bool full = static_cast<int>(row.tokens.size()) >= src.limits.max_length;
      bool go_on = !eos && !full;
      if (eos) row.finish = FinishReason::Eos;
      if (on_token && !on_token(row.source, row.sequence, token)) {
        if (go_on) row.finish = FinishReason::Stopped;
        go_on = false;
      }
      if (go_on) next.push_back(r);
    }
    if (next.empty()) break;
    parents.clear();
    tokens.clear();
    for (int r : next) {
      parents.push_back(rows[r].model_row);
      tokens.push_back(rows[r].tokens.back());
    }
    bool identity = static_cast<int>(parents.size()) == model_rows;
    for (size_t i = 0; identity && i < parents.size(); ++i) identity = parents[i] == static_cast<int>(i);
    if (!identity) model.reorder(parents);
    for (size_t i = 0; i < next.size(); ++i) rows[next[i]].model_row = static_cast<int>(i);
    model_rows = static_cast<int>(next.size());
    logits = model.step(tokens);
    active.swap(next);
  }

  std::vector<SearchResult> results(sources.size());
  for (SampleRow& row : rows) {
    GeneratedSequence seq;
    seq.ids.assign(row.tokens.begin() + sources[row.source].prefix.size(), row.tokens.end());
    seq.score = row.score;
    seq.finish = row.finish;
    results[row.source].sequences.push_back(std::move(seq));
  }
  return results;
}

}  // namespace

std::vector<SearchResult> generate_search(StepModel& model, std::span<const std::vector<int32_t>> prefixes,
                                          const GenerationConfig& config, uint64_t seed,
                                          const TokenCallback& on_token) {
  config.validate();
  const int vocab = model.vocab_size();
  if (vocab <= 0) throw Error("generate: the model has an empty vocabulary");
  if (prefixes.empty()) return {};
  std::vector<SourceSetup> sources;
  for (const auto& prefix : prefixes) {
    if (prefix.empty()) throw Error("generate: an input is empty: give at least one token (or the decoder start token)");
    for (int32_t id : prefix) {
      if (id < 0 || id >= vocab) {
        throw Error(fmt::format("generate: input token id {} is outside the vocabulary of {} ids", id, vocab));
      }
    }
    SourceSetup s;
    s.prefix = prefix;
    s.limits = resolve_lengths(config, static_cast<int>(prefix.size()), model.max_position_embeddings());
    sources.push_back(std::move(s));
  }
  if (config.is_beam()) return search_detail::beam_search(model, sources, config, seed);
  return sample_search(model, sources, config, seed, on_token);
}

}  // namespace smol
