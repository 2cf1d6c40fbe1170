// Sizes of the encoder-decoder's saved activations and scratch, and building teacher-forced
// batches.
#include <fmt/format.h>

#include <algorithm>

#include "smol/error.hpp"
#include "smol/train_seq2seq.hpp"
#include "train/seq2seq_internal.hpp"

namespace smol {

Seq2SeqBatch make_seq2seq_batch(const Seq2SeqConfig& c, std::span<const std::vector<int32_t>> sources,
                                std::span<const std::vector<int32_t>> targets, int source_len, int target_len) {
  if (sources.size() != targets.size()) throw Error("make_seq2seq_batch: one target per source is required");
  Seq2SeqBatch b;
  b.batch = static_cast<int>(sources.size());
  for (size_t i = 0; i < sources.size(); ++i) {
    if (sources[i].empty() || targets[i].empty()) throw Error("a source or target is empty: give at least one token");
    if (source_len == 0) b.source_len = std::max<int>(b.source_len, static_cast<int>(sources[i].size()));
    if (target_len == 0) b.target_len = std::max<int>(b.target_len, static_cast<int>(targets[i].size()));
  }
  if (source_len > 0) b.source_len = source_len;
  if (target_len > 0) b.target_len = target_len;
  const int pad = c.pad_token_id, start = c.decoder_start_token_id;
  if (pad < 0 || start < 0) throw Error("training an encoder-decoder needs pad_token_id and decoder_start_token_id in config.json");
  b.source.assign(static_cast<size_t>(b.batch) * b.source_len, pad);
  b.decoder_inputs.assign(static_cast<size_t>(b.batch) * b.target_len, pad);
  b.labels.assign(b.decoder_inputs.size(), -1);
  for (int r = 0; r < b.batch; ++r) {
    const auto& s = sources[r];
    const auto& t = targets[r];
    const int ns = std::min<int>(static_cast<int>(s.size()), b.source_len);
    const int nt = std::min<int>(static_cast<int>(t.size()), b.target_len);
    std::copy_n(s.begin(), ns, b.source.begin() + static_cast<size_t>(r) * b.source_len);
    b.source_lengths.push_back(ns);
    int32_t* in = b.decoder_inputs.data() + static_cast<size_t>(r) * b.target_len;
    int32_t* lab = b.labels.data() + static_cast<size_t>(r) * b.target_len;
    in[0] = start;
    for (int j = 0; j < nt; ++j) {
      lab[j] = t[j];
      if (j + 1 < b.target_len) in[j + 1] = t[j];
    }
  }
  return b;
}

template <typename T>
BasicSeq2SeqActivations<T>::BasicSeq2SeqActivations(const Seq2SeqConfig& c, int batch, int source_len,
                                                    int target_len)
    : config_(c) {
  reshape(batch, source_len, target_len);
}

template <typename T>
void BasicSeq2SeqActivations<T>::size_stack(Stack& s, bool encoder, int rows, int heads, int ffn, int q_len,
                                            int kv_len, bool masks) {
  const size_t n = rows, d = config_.d_model, F = ffn;
  const size_t self_probs = static_cast<size_t>(batch_) * heads * q_len * q_len;
  const size_t cross_probs = static_cast<size_t>(batch_) * heads * q_len * kv_len;
  const bool pre = config_.arch.pre_norm;
  auto residual = [&](Residual& r) {
    r.x.resize(n * d);
    r.normed.resize(pre ? n * d : 0);
    r.sum.resize(pre ? 0 : n * d);
    r.mean.resize(n);
    r.rstd.resize(n);
    if (masks) r.mask.assign(n * d, T(1));
  };
  auto attention = [&](Attention& a, size_t probs, size_t kv_rows) {
    a.q.resize(n * d);
    a.k.resize(kv_rows * d);
    a.v.resize(kv_rows * d);
    a.probs.resize(probs);
    a.ctx.resize(n * d);
    if (masks) a.mask.assign(probs, T(1));
  };
  s.embedded.resize(n * d);
  s.emb_normed.resize(config_.arch.embedding_norm ? n * d : 0);
  s.emb_mean.resize(n);
  s.emb_rstd.resize(n);
  if (masks) s.emb_mask.assign(n * d, T(1));
  s.layers.resize(encoder ? config_.encoder.layers : config_.decoder.layers);
  for (Layer& l : s.layers) {
    residual(l.self_res);
    attention(l.self, self_probs, n);
    if (!encoder) {
      residual(l.cross_res);
      attention(l.cross, cross_probs, static_cast<size_t>(batch_) * kv_len);
    }
    residual(l.ffn_res);
    l.ffn.h.resize(n * F);
    l.ffn.act.resize(n * F);
    l.ffn.dropped.resize(n * F);
    if (masks) l.ffn.mask.assign(n * F, T(1));
  }
  s.last.resize(n * d);
  s.final_mean.resize(n);
  s.final_rstd.resize(n);
  s.out.resize(n * d);
}

template <typename T>
void BasicSeq2SeqActivations<T>::reshape(int batch, int source_len, int target_len) {
  if (batch <= 0 || source_len <= 0 || target_len <= 0) throw Error("a batch needs at least one row and one token");
  const int longest = std::max(source_len, target_len);
  if (longest > config_.max_position_embeddings) {
    throw Error(fmt::format("{} tokens exceed the model's max_position_embeddings of {}", longest,
                            config_.max_position_embeddings));
  }
  const bool masks = !encoder.emb_mask.empty();
  batch_ = batch;
  source_len_ = source_len;
  target_len_ = target_len;
  const int Ns = batch * source_len, Nt = batch * target_len;
  size_stack(encoder, true, Ns, config_.encoder.heads, config_.encoder.ffn, source_len, source_len, masks);
  size_stack(decoder, false, Nt, config_.decoder.heads, config_.decoder.ffn, target_len, source_len, masks);
  logits.resize(static_cast<size_t>(Nt) * config_.decoder_vocab_size);
  losses.resize(Nt);
  head_in.resize(static_cast<size_t>(Nt) * config_.d_model);
  head_din.resize(head_in.size());
  const size_t d = config_.d_model, rows = std::max(Ns, Nt);
  const size_t F = std::max(config_.encoder.ffn, config_.decoder.ffn);
  if (config_.arch.positions == PositionKind::Sinusoidal) {
    positions.resize(static_cast<size_t>(longest) * d);
    std::vector<float> row(d);
    for (int p = 0; p < longest; ++p) {
      sinusoidal_position_row(p, static_cast<int>(d), row.data());
      std::copy(row.begin(), row.end(), positions.begin() + static_cast<size_t>(p) * d);
    }
  }
  for (auto* v : {&branch, &dres, &dsum, &dbranch, &dnorm, &dq, &dctx}) v->resize(rows * d);
  dk.resize(static_cast<size_t>(batch) * longest * d);
  dv.resize(dk.size());
  denc.resize(static_cast<size_t>(Ns) * d);
  for (auto* v : {&dh, &dact, &ddropped}) v->resize(rows * F);
}

template <typename T>
void BasicSeq2SeqActivations<T>::allocate_masks() {
  encoder.emb_mask.assign(1, T(1));  // marks "with masks" for reshape
  reshape(batch_, source_len_, target_len_);
}

template <typename T>
size_t BasicSeq2SeqActivations<T>::bytes() const {
  size_t n = 0;
  auto add = [&](const std::vector<T>& v) { n += v.size(); };
  for (const Stack* s : {&encoder, &decoder}) {
    for (const auto* v : {&s->embedded, &s->emb_normed, &s->emb_mean, &s->emb_rstd, &s->emb_mask, &s->last,
                          &s->final_mean, &s->final_rstd, &s->out}) {
      add(*v);
    }
    for (const Layer& l : s->layers) {
      for (const Residual* r : {&l.self_res, &l.cross_res, &l.ffn_res}) {
        for (const auto* v : {&r->x, &r->normed, &r->sum, &r->mean, &r->rstd, &r->mask}) add(*v);
      }
      for (const Attention* a : {&l.self, &l.cross}) {
        for (const auto* v : {&a->q, &a->k, &a->v, &a->probs, &a->ctx, &a->mask}) add(*v);
      }
      for (const auto* v : {&l.ffn.h, &l.ffn.act, &l.ffn.dropped, &l.ffn.mask}) add(*v);
    }
  }
  for (const auto* v : {&logits, &losses, &head_in, &head_din, &positions, &branch, &dres, &dsum, &dbranch, &dnorm, &dq, &dk, &dv, &dctx,
                        &dh, &dact, &ddropped, &denc}) {
    add(*v);
  }
  return n * sizeof(T);
}

template class BasicSeq2SeqActivations<float>;
template class BasicSeq2SeqActivations<double>;

}  // namespace smol
