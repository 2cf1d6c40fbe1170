#include "smol/seq2seq_generate.hpp"

#include <optional>

#include <fmt/format.h>

#include "smol/error.hpp"

namespace smol {

namespace {

// The search's model with a hook before every decoder pass (Seq2SeqRequest::before_pass).
class HookedStepModel final : public StepModel {
 public:
  HookedStepModel(StepModel& inner, const std::function<void()>& before_pass)
      : inner_(inner), before_pass_(before_pass) {}
  int vocab_size() const override { return inner_.vocab_size(); }
  int max_position_embeddings() const override { return inner_.max_position_embeddings(); }
  std::span<const float> start(std::span<const std::vector<int32_t>> prefixes) override {
    before_pass_();
    return inner_.start(prefixes);
  }
  void reorder(std::span<const int> parents) override { inner_.reorder(parents); }
  std::span<const float> step(std::span<const int32_t> tokens) override {
    before_pass_();
    return inner_.step(tokens);
  }

 private:
  StepModel& inner_;
  const std::function<void()>& before_pass_;
};

}  // namespace

Seq2SeqStepModel::Seq2SeqStepModel(const Seq2SeqModel& model, ThreadPool& pool, std::span<const EncodedSource> sources,
                                   int capacity, WeightType cache_type)
    : model_(model), pool_(pool), sources_(sources), capacity_(capacity), cache_type_(cache_type) {
  if (capacity <= 0) throw Error("the target length must be positive");
}

std::span<const float> Seq2SeqStepModel::start(std::span<const std::vector<int32_t>> prefixes) {
  if (prefixes.size() != sources_.size()) throw Error("start: one decoder prefix per source is required");
  rows_.clear();
  std::vector<int32_t> tokens;
  slots_.clear();
  logit_rows_.clear();
  for (size_t i = 0; i < prefixes.size(); ++i) {
    if (prefixes[i].empty()) throw Error("start: a decoder prefix is empty");
    if (static_cast<int>(prefixes[i].size()) > capacity_) throw Error("start: a decoder prefix exceeds the target length");
    rows_.push_back({static_cast<int>(i), model_.make_cache(capacity_, cache_type_)});
  }
  // Pointers into rows_ are taken only once it has stopped growing.
  for (size_t i = 0; i < prefixes.size(); ++i) {
    for (size_t p = 0; p < prefixes[i].size(); ++p) {
      tokens.push_back(prefixes[i][p]);
      slots_.push_back({&rows_[i].kv, static_cast<int>(p), &sources_[i]});
    }
    logit_rows_.push_back(static_cast<int>(tokens.size()) - 1);
  }
  model_.decode(tokens, slots_, logit_rows_, logits_, pool_, buf_);
  return {logits_.data(), static_cast<size_t>(rows_.size()) * vocab_size()};
}

void Seq2SeqStepModel::reorder(std::span<const int> parents) {
  for (const int p : parents) {
    if (p < 0 || static_cast<size_t>(p) >= rows_.size()) throw Error("reorder: parent row out of range");
  }
  // The first child of a parent takes its cache as it is; further children copy it. Copies
  // are made first, while every parent is still in place.
  auto take_spare_cache = [&] {
    if (spare_.empty()) return model_.make_cache(capacity_, cache_type_);
    KvCache kv = std::move(spare_.back().kv);
    spare_.pop_back();
    return kv;
  };
  std::vector<std::optional<Row>> placed(parents.size());
  std::vector<bool> claimed(rows_.size(), false);
  std::vector<bool> mover(parents.size(), false);
  for (size_t i = 0; i < parents.size(); ++i) {
    const int p = parents[i];
    if (!claimed[p]) {
      claimed[p] = true;
      mover[i] = true;
      continue;
    }
    KvCache kv = take_spare_cache();
    kv.copy_from(rows_[p].kv);
    placed[i] = Row{rows_[p].source, std::move(kv)};
  }
  for (size_t i = 0; i < parents.size(); ++i) {
    if (mover[i]) placed[i] = std::move(rows_[parents[i]]);
  }
  for (size_t r = 0; r < rows_.size(); ++r) {
    if (!claimed[r]) spare_.push_back(std::move(rows_[r]));
  }
  std::vector<Row> next;
  next.reserve(parents.size());
  for (auto& row : placed) next.push_back(std::move(*row));
  rows_ = std::move(next);
}

std::span<const float> Seq2SeqStepModel::step(std::span<const int32_t> tokens) {
  if (tokens.size() != rows_.size()) throw Error("step: one token per row is required");
  slots_.clear();
  logit_rows_.clear();
  for (size_t i = 0; i < rows_.size(); ++i) {
    slots_.push_back({&rows_[i].kv, rows_[i].kv.size(), &sources_[rows_[i].source]});
    logit_rows_.push_back(static_cast<int>(i));
  }
  model_.decode(tokens, slots_, logit_rows_, logits_, pool_, buf_);
  return {logits_.data(), static_cast<size_t>(rows_.size()) * vocab_size()};
}

int32_t decoder_start_token(const Seq2SeqModel& model, const GenerationConfig& g) {
  // transformers: generation config, then model config, then bos_token_id.
  if (g.decoder_start_token_id) return *g.decoder_start_token_id;
  if (model.config().decoder_start_token_id >= 0) return model.config().decoder_start_token_id;
  if (g.bos_token_id) return *g.bos_token_id;
  throw Error("the model has no decoder_start_token_id (config.json or generation_config.json)");
}

Seq2SeqEngine::Seq2SeqEngine(const std::filesystem::path& dir, int n_threads, LoadMode load,
                             std::optional<WeightType> weights)
    : model_(Seq2SeqModel::load(dir, load, weights)),
      dir_(dir),
      generation_(GenerationConfig::from_folder(dir)),
      pool_(n_threads) {
  // A folder without tokenizer files still runs on token ids (benchmarks, tests); the error
  // is kept for whoever asks for text.
  try {
    tokenizer_ = Tokenizer::from_folder(dir);
  } catch (const Error& e) {
    tokenizer_error_ = e.what();
  }
}

const Tokenizer& Seq2SeqEngine::tokenizer() const {
  if (!tokenizer_) throw Error(tokenizer_error_);
  return *tokenizer_;
}

std::vector<SearchResult> generate_seq2seq(const Seq2SeqModel& model, ThreadPool& pool,
                                           std::span<const std::vector<int32_t>> sources, const Seq2SeqRequest& request,
                                           const TokenCallback& on_token) {
  const Seq2SeqConfig& c = model.config();
  GenerationConfig g = request.generation;
  g.decoder_start_token_id = decoder_start_token(model, g);
  const int start = *g.decoder_start_token_id;
  const LengthLimits limits = resolve_lengths(g, 1, c.max_position_embeddings);
  Seq2SeqBuffers buf;
  const std::vector<EncodedSource> encoded = model.encode(sources, pool, buf);
  Seq2SeqStepModel step_model(model, pool, encoded, limits.max_length, request.cache_type);
  const std::vector<std::vector<int32_t>> prefixes(sources.size(), std::vector<int32_t>{start});
  if (!request.before_pass) return generate_search(step_model, prefixes, g, request.seed, on_token);
  HookedStepModel hooked(step_model, request.before_pass);
  return generate_search(hooked, prefixes, g, request.seed, on_token);
}

}  // namespace smol
