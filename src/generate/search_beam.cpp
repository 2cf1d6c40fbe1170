// transformers' vectorised _beam_search (and beam sampling), one source at a time: the
// running beams, the K = max(2, 1 + eos ids) * num_beams candidates of each step, the
// finished slots and the early-stop heuristic, with the same -1e9 masks in float32 (see
// smol/search.hpp for the rules this follows).
#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "generate/logits_processors.hpp"
#include "generate/search_internal.hpp"
#include "smol/error.hpp"

namespace smol::search_detail {

namespace {

constexpr float kMask = -1.0e9f;  // transformers' -1.0e9, exact in float32

struct Running {
  std::vector<int32_t> generated;
  float score = 0.0f;
  int model_row = 0;
};

struct Slot {
  std::vector<int32_t> generated;
  float score = kMask;
  bool finished = false;
};

struct Candidate {
  int parent = 0;  // running beam
  int32_t token = 0;
  float score = 0.0f;
  bool hit = false;
};

struct SourceState {
  std::vector<Running> running;
  std::vector<Slot> slots;
  bool improvable = true;  // is_early_stop_heuristic_unsatisfied
  bool done = false;
  int cur_len = 0;
  std::mt19937_64 rng;
};

// torch.topk's order: larger first (NaN above everything), equal values by index.
bool ranks_before(float a, size_t ia, float b, size_t ib) {
  const bool na = std::isnan(a), nb = std::isnan(b);
  if (na != nb) return na;
  if (!na && a != b) return a > b;
  return ia < ib;
}

// Indices of the k best of `values`, best first: one pass keeping the best k in order, as
// beam search's k (a few times num_beams) is tiny beside num_beams * vocab values.
void top_indices(std::span<const float> values, size_t k, std::vector<size_t>& out) {
  out.clear();
  k = std::min(k, values.size());
  if (k == 0) return;
  auto before = [&](size_t a, size_t b) { return ranks_before(values[a], a, values[b], b); };
  constexpr size_t kChunk = 16;
  for (size_t i = 0; i < values.size(); ++i) {
    // Once k are held, whole chunks that cannot enter (nothing above the k-th value, no NaN:
    // a later index never wins a tie) are skipped with one vectorisable test.
    if (out.size() == k && i % kChunk == 0 && i + kChunk <= values.size() && !std::isnan(values[out.back()])) {
      const float threshold = values[out.back()];
      bool any = false;
      for (size_t j = i; j < i + kChunk; ++j) any |= (values[j] > threshold) | (values[j] != values[j]);
      if (!any) {
        i += kChunk - 1;
        continue;
      }
    }
    if (out.size() == k) {
      if (!before(i, out.back())) continue;
      out.back() = i;
    } else {
      out.push_back(i);
    }
    for (size_t pos = out.size() - 1; pos > 0 && before(out[pos], out[pos - 1]); --pos) std::swap(out[pos], out[pos - 1]);
  }
}

// torch.multinomial(softmax(values), k) without replacement: draws in order.
void sample_indices(std::span<const float> values, size_t k, std::mt19937_64& rng, std::vector<size_t>& out) {
  std::vector<double> probs;
  softmax(values, probs);
  const size_t nonzero = static_cast<size_t>(std::count_if(probs.begin(), probs.end(), [](double p) { return p > 0.0; }));
  if (nonzero < k) {
    throw Error(fmt::format("beam sampling needs {} candidates but only {} tokens have a non-zero probability", k,
                            nonzero));
  }
  out.clear();
  for (size_t i = 0; i < k; ++i) {
    const int chosen = draw(probs, rng);
    out.push_back(static_cast<size_t>(chosen));
    probs[chosen] = 0.0;
  }
}

// The best hypothetical length's penalty divisor, as a float32 like the tensor it divides.
float length_divisor(int length, double length_penalty) {
  return static_cast<float>(std::pow(static_cast<double>(length), length_penalty));
}

}  // namespace

std::vector<SearchResult> beam_search(StepModel& model, std::span<const SourceSetup> sources,
                                      const GenerationConfig& config, uint64_t seed) {
  const int vocab = model.vocab_size();
  const int num_beams = config.num_beams;
  const int n_eos = static_cast<int>(config.eos_token_id.size());
  const size_t beams_to_keep = static_cast<size_t>(std::max(2, 1 + n_eos) * num_beams);
  const double length_penalty = config.length_penalty;
  LogitsProcessors processors(config, vocab, /*beam=*/true);

  std::vector<SourceState> states(sources.size());
  for (size_t s = 0; s < sources.size(); ++s) {
    SourceState& st = states[s];
    st.running.resize(num_beams);
    for (int k = 0; k < num_beams; ++k) {
      st.running[k].model_row = static_cast<int>(s);  // start() holds one row per source
      st.running[k].score = k == 0 ? 0.0f : kMask;
    }
    st.slots.resize(num_beams);
    st.cur_len = static_cast<int>(sources[s].prefix.size());
    st.rng = make_rng(seed, static_cast<int>(s), 0);
  }

  std::vector<std::vector<int32_t>> prefixes;
  for (const SourceSetup& s : sources) prefixes.push_back(s.prefix);
  std::span<const float> logits = model.start(prefixes);

  std::vector<float> accumulated(static_cast<size_t>(num_beams) * vocab);
  std::vector<int32_t> row_tokens;
  std::vector<size_t> picked, order;
  std::vector<Candidate> candidates;
  std::vector<float> keys, merged_scores;
  std::vector<int> parents;
  std::vector<int32_t> step_tokens;
  while (true) {
    for (size_t s = 0; s < sources.size(); ++s) {
      SourceState& st = states[s];
      if (st.done) continue;
      const SourceSetup& src = sources[s];
      const int prefix_len = static_cast<int>(src.prefix.size());

      // b. log_softmax, processors, plus the beam's running score.
      for (int k = 0; k < num_beams; ++k) {
        const Running& beam = st.running[k];
        std::span<float> row(accumulated.data() + static_cast<size_t>(k) * vocab, vocab);
        const float* in = logits.data() + static_cast<size_t>(beam.model_row) * vocab;
        log_softmax(std::span<const float>(in, vocab), row);
        row_tokens = src.prefix;
        row_tokens.insert(row_tokens.end(), beam.generated.begin(), beam.generated.end());
        processors.apply(row, {row_tokens, prefix_len, src.limits.max_length, src.limits.min_length});
        for (float& x : row) x += beam.score;
      }

      // c. The top K continuations over all beams (or K drawn without replacement).
      if (config.do_sample) {
        sample_indices(accumulated, beams_to_keep, st.rng, picked);
      } else {
        top_indices(accumulated, beams_to_keep, picked);
      }
      candidates.clear();
      for (size_t idx : picked) {
        Candidate c;
        c.parent = static_cast<int>(idx / vocab);
        c.token = static_cast<int32_t>(idx % vocab);
        c.score = accumulated[idx];
        // d. Stopping criteria on the extended row: eos, or max_length reached.
        c.hit = is_eos(config, c.token) || st.cur_len + 1 >= src.limits.max_length;
        candidates.push_back(c);
      }

      // e. The next running beams: the best num_beams candidates that did not stop.
      keys.clear();
      for (const Candidate& c : candidates) keys.push_back(c.score + (c.hit ? kMask : 0.0f));
      top_indices(keys, num_beams, order);
      std::vector<Running> next_running;
      for (size_t j : order) {
        const Candidate& c = candidates[j];
        Running beam;
        beam.generated = st.running[c.parent].generated;
        beam.generated.push_back(c.token);
        beam.score = keys[j];
        beam.model_row = st.running[c.parent].model_row;  // the parent's row, reordered below
        next_running.push_back(std::move(beam));
      }

      // f. Finished slots: old slots and the candidates that just finished among the top
      // num_beams, length-penalised, masked when nothing may be added.
      bool all_finished = std::all_of(st.slots.begin(), st.slots.end(), [](const Slot& x) { return x.finished; });
      const bool full = all_finished && config.early_stopping == EarlyStopping::True;
      const float divisor = length_divisor(st.cur_len + 1 - prefix_len, length_penalty);
      merged_scores.clear();
      for (const Slot& slot : st.slots) merged_scores.push_back(slot.score);
      for (size_t j = 0; j < candidates.size(); ++j) {
        const bool just_finished = candidates[j].hit && j < static_cast<size_t>(num_beams);
        float score = candidates[j].score / divisor;
        score += full ? kMask : 0.0f;
        score += st.improvable ? 0.0f : kMask;
        score += just_finished ? 0.0f : kMask;
        merged_scores.push_back(score);
      }
      top_indices(merged_scores, num_beams, order);
      std::vector<Slot> next_slots;
      for (size_t m : order) {
        if (m < st.slots.size()) {
          next_slots.push_back(st.slots[m]);
          continue;
        }
        const size_t j = m - st.slots.size();
        const Candidate& c = candidates[j];
        Slot slot;
        slot.generated = st.running[c.parent].generated;
        slot.generated.push_back(c.token);
        slot.score = merged_scores[m];
        slot.finished = c.hit && j < static_cast<size_t>(num_beams);
        next_slots.push_back(std::move(slot));
      }
      st.slots = std::move(next_slots);
      st.running = std::move(next_running);
      st.cur_len += 1;

      // g. The early-stop heuristic, then this source's part of the loop condition.
      const int best_length = config.early_stopping == EarlyStopping::Never && length_penalty > 0.0
                                  ? src.limits.max_length - prefix_len
                                  : st.cur_len - prefix_len;
      const float best_possible = st.running[0].score / length_divisor(best_length, length_penalty);
      float worst = st.slots[0].score;
      for (const Slot& slot : st.slots) worst = std::min(worst, slot.score);
      bool beats_any = false;
      for (const Slot& slot : st.slots) beats_any = beats_any || best_possible > (slot.finished ? worst : kMask);
      st.improvable = st.improvable && beats_any;
      all_finished = std::all_of(st.slots.begin(), st.slots.end(), [](const Slot& x) { return x.finished; });
      const bool all_hit = std::all_of(candidates.begin(), candidates.end(), [](const Candidate& c) { return c.hit; });
      st.done = !st.improvable || (all_finished && config.early_stopping == EarlyStopping::True) || all_hit;
    }

    // Rows for the sources still searching, each beam continuing its parent's row.
    parents.clear();
    step_tokens.clear();
    for (SourceState& st : states) {
      if (st.done) continue;
      for (Running& beam : st.running) {
        parents.push_back(beam.model_row);
        step_tokens.push_back(beam.generated.back());
        beam.model_row = static_cast<int>(parents.size()) - 1;
      }
    }
    if (parents.empty()) break;
    model.reorder(parents);
    logits = model.step(step_tokens);
  }

  std::vector<SearchResult> results(sources.size());
  for (size_t s = 0; s < sources.size(); ++s) {
    for (int k = 0; k < config.num_return_sequences; ++k) {
      const Slot& slot = states[s].slots[k];
      GeneratedSequence seq;
      seq.ids = slot.generated;
      seq.score = slot.score;
      seq.finish = !seq.ids.empty() && is_eos(config, seq.ids.back()) ? FinishReason::Eos : FinishReason::Length;
      results[s].sequences.push_back(std::move(seq));
    }
  }
  return results;
}

}  // namespace smol::search_detail
