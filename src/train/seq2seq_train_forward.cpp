// The encoder-decoder's training forward pass: Seq2SeqModel's encode + teacher-forced decode
// (src/model/seq2seq_forward.cpp) over a padded batch, keeping what the backward
// (train/seq2seq_train_backward.cpp) needs, with dropout where transformers' modeling_bart.py
// puts it: after the embeddings, on attention probabilities, after the FFN activation and on
// every residual branch.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "smol/error.hpp"
#include "smol/thread_pool.hpp"
#include "smol/train_seq2seq.hpp"
#include "train/random.hpp"

namespace smol {

namespace {

template <typename T>
void fill_mask(std::vector<T>& mask, size_t rows, float p, uint64_t seed_base, int64_t first_row, uint64_t stream) {
  const size_t per_row = mask.size() / rows;
  std::vector<float> tmp(per_row);
  for (size_t b = 0; b < rows; ++b) {
    fill_dropout_mask(tmp.data(), per_row, p, mix_seed(seed_base, static_cast<uint64_t>(first_row) + b, stream));
    std::copy(tmp.begin(), tmp.end(), mask.begin() + b * per_row);
  }
}

// Every dropout mask of the forward, a pure function of (seed, global row, stack, layer, kind).
template <typename T>
void draw_masks(BasicSeq2SeqActivations<T>& a, const ForwardOptions& o) {
  const size_t B = a.batch();
  for (int stack = 0; stack < 2; ++stack) {
    auto& s = stack == 0 ? a.encoder : a.decoder;
    auto stream = [&](int layer, int kind) { return static_cast<uint64_t>(stack) << 32 | (layer + 1) << 4 | kind; };
    if (a.hidden_masks) fill_mask(s.emb_mask, B, o.dropout, o.dropout_seed, o.first_row, stream(-1, 0));
    for (size_t l = 0; l < s.layers.size(); ++l) {
      auto& L = s.layers[l];
      const int li = static_cast<int>(l);
      if (a.hidden_masks) {
        fill_mask(L.self_res.mask, B, o.dropout, o.dropout_seed, o.first_row, stream(li, 1));
        fill_mask(L.ffn_res.mask, B, o.dropout, o.dropout_seed, o.first_row, stream(li, 2));
        if (stack == 1) fill_mask(L.cross_res.mask, B, o.dropout, o.dropout_seed, o.first_row, stream(li, 3));
      }
      if (a.attention_masks) {
        fill_mask(L.self.mask, B, o.attention_dropout, o.dropout_seed, o.first_row, stream(li, 4));
        if (stack == 1) fill_mask(L.cross.mask, B, o.attention_dropout, o.dropout_seed, o.first_row, stream(li, 5));
      }
      if (a.activation_masks) fill_mask(L.ffn.mask, B, o.activation_dropout, o.dropout_seed, o.first_row, stream(li, 6));
    }
  }
}

template <typename Real>
struct StackForward {
  using Acts = BasicSeq2SeqActivations<Real>;
  const Seq2SeqConfig& c;
  const BasicSeq2SeqStackParams<Real>& w;
  Acts& acts;
  typename Acts::Stack& s;
  ThreadPool& pool;
  Precision prec;
  int batch, len, heads, ffn;

  int rows() const { return batch * len; }
  size_t size() const { return static_cast<size_t>(rows()) * c.d_model; }

  // Where sublayer `sub` (0 self, 1 cross, 2 ffn) of layer l writes: the next sublayer's input.
  Real* output_of(int l, int sub, bool decoder) {
    const int subs = decoder ? 3 : 2;
    const int next = sub + 1;
    if (next < subs) {
      auto& L = s.layers[l];
      return (decoder && next == 1 ? L.cross_res : L.ffn_res).x.data();
    }
    return l + 1 < static_cast<int>(s.layers.size()) ? s.layers[l + 1].self_res.x.data() : s.last.data();
  }

  void embed(const int32_t* tokens, int vocab) {
    const int d = c.d_model;
    const Real scale = c.scale_embedding ? static_cast<Real>(std::sqrt(static_cast<double>(d))) : Real(1);
    for (int n = 0; n < rows(); ++n) {
      if (tokens[n] < 0 || tokens[n] >= vocab) {
        throw Error(fmt::format("token id {} is outside the vocabulary of {} ids", tokens[n], vocab));
      }
      const int pos = n % len;
      const Real* e = w.embed + static_cast<size_t>(tokens[n]) * d;
      const Real* p = w.positions ? w.positions + static_cast<size_t>(pos + c.arch.position_offset) * d
                                  : acts.positions.data() + static_cast<size_t>(pos) * d;
      Real* x = s.embedded.data() + static_cast<size_t>(n) * d;
      for (int i = 0; i < d; ++i) x[i] = e[i] * scale + p[i];
    }
    const Real* src = s.embedded.data();
    if (c.arch.embedding_norm) {
      layernorm_forward(s.emb_normed.data(), s.emb_mean.data(), s.emb_rstd.data(), s.embedded.data(),
                        w.embedding_norm.w, w.embedding_norm.b, rows(), d, c.layer_norm_eps);
      src = s.emb_normed.data();
    }
    Real* x0 = s.layers.empty() ? s.last.data() : s.layers[0].self_res.x.data();
    if (acts.hidden_masks) {
      dropout_forward(x0, src, s.emb_mask.data(), size());
    } else {
      std::copy(src, src + size(), x0);
    }
  }

  // x' = x + drop(f(LN(x))) or x' = LN(x + drop(f(x))); f(in, out) writes the branch.
  template <class F>
  void residual(typename Acts::Residual& r, const BasicNormParams<Real>& norm, Real* out, F&& f) {
    const int d = c.d_model;
    const Real* mask = acts.hidden_masks ? r.mask.data() : nullptr;
    if (c.arch.pre_norm) {
      layernorm_forward(r.normed.data(), r.mean.data(), r.rstd.data(), r.x.data(), norm.w, norm.b, rows(), d,
                        c.layer_norm_eps);
      f(r.normed.data(), acts.branch.data());
      residual_forward(out, r.x.data(), acts.branch.data(), mask, size());
    } else {
      f(r.x.data(), acts.branch.data());
      residual_forward(r.sum.data(), r.x.data(), acts.branch.data(), mask, size());
      layernorm_forward(out, r.mean.data(), r.rstd.data(), r.sum.data(), norm.w, norm.b, rows(), d,
                        c.layer_norm_eps);
    }
  }

  void attention(typename Acts::Attention& a, const BasicAttentionParams<Real>& p, const Real* in, const Real* kv_in,
                 int kv_len, const int32_t* key_lengths, bool causal, Real* out) {
    const int d = c.d_model, kv_rows = batch * kv_len;
    linear_forward(pool, a.q.data(), in, p.q.w, p.q.b, rows(), d, d, prec);
    linear_forward(pool, a.k.data(), kv_in, p.k.w, p.k.b, kv_rows, d, d, prec);
    linear_forward(pool, a.v.data(), kv_in, p.v.w, p.v.b, kv_rows, d, d, prec);
    const MhaShape shape{batch, len, kv_len, heads, d / heads, causal};
    mha_forward(pool, a.ctx.data(), a.probs.data(), a.q.data(), a.k.data(), a.v.data(),
                acts.attention_masks ? a.mask.data() : nullptr, key_lengths, shape);
    linear_forward(pool, out, a.ctx.data(), p.o.w, p.o.b, rows(), d, d, prec);
  }

  void feed_forward(typename Acts::Ffn& f, const BasicSeq2SeqLayerParams<Real>& p, const Real* in, Real* out) {
    const int d = c.d_model;
    const size_t n = static_cast<size_t>(rows()) * ffn;
    linear_forward(pool, f.h.data(), in, p.fc1.w, p.fc1.b, rows(), d, ffn, prec);
    pool.parallel_for(n, [&](size_t begin, size_t end) {
      activation_forward(c.activation, f.act.data() + begin, f.h.data() + begin, end - begin);
    });
    const Real* act = f.act.data();
    if (acts.activation_masks) {
      dropout_forward(f.dropped.data(), f.act.data(), f.mask.data(), n);
      act = f.dropped.data();
    }
    linear_forward(pool, out, act, p.fc2.w, p.fc2.b, rows(), ffn, d, prec);
  }

  void finish() {
    const int d = c.d_model;
    if (c.arch.final_norm) {
      layernorm_forward(s.out.data(), s.final_mean.data(), s.final_rstd.data(), s.last.data(), w.final_norm.w,
                        w.final_norm.b, rows(), d, c.layer_norm_eps);
    } else {
      std::copy(s.last.begin(), s.last.begin() + size(), s.out.begin());
    }
  }
};

}  // namespace

template <typename Real>
double model_forward(const Seq2SeqConfig& c, const BasicParamPtrs<Real>& P, const Seq2SeqBatch& batch,
                     BasicSeq2SeqActivations<Real>& acts, ThreadPool& pool, const ForwardOptions& o) {
  const int B = batch.batch, S = batch.source_len, T = batch.target_len;
  if (acts.batch() != B || acts.source_len() != S || acts.target_len() != T) acts.reshape(B, S, T);
  if (batch.source.size() != static_cast<size_t>(B) * S || batch.labels.size() != static_cast<size_t>(B) * T ||
      batch.decoder_inputs.size() != batch.labels.size() || batch.source_lengths.size() != static_cast<size_t>(B)) {
    throw Error("model_forward: the batch's arrays do not match its shape");
  }
  for (int n = 0; n < B * T; ++n) {
    if (batch.labels[n] >= c.decoder_vocab_size) {
      throw Error(fmt::format("token id {} is outside the vocabulary of {} ids", batch.labels[n], c.decoder_vocab_size));
    }
  }
  const bool any = o.dropout > 0 || o.attention_dropout > 0 || o.activation_dropout > 0;
  if (o.fixed_masks) {
    if (acts.encoder.emb_mask.empty()) throw Error("model_forward: fixed_masks needs allocate_masks() first");
    acts.hidden_masks = acts.attention_masks = acts.activation_masks = true;
  } else {
    if (any && acts.encoder.emb_mask.empty()) acts.allocate_masks();
    acts.hidden_masks = o.dropout > 0;
    acts.attention_masks = o.attention_dropout > 0;
    acts.activation_masks = o.activation_dropout > 0;
    if (any) draw_masks(acts, o);
  }
  const BasicSeq2SeqParams<Real>& W = P.seq2seq;

  StackForward<Real> enc{c, W.encoder, acts, acts.encoder, pool, o.precision, B, S, c.encoder.heads, c.encoder.ffn};
  enc.embed(batch.source.data(), c.vocab_size);
  for (int l = 0; l < c.encoder.layers; ++l) {
    auto& L = acts.encoder.layers[l];
    const auto& p = W.encoder.layers[l];
    enc.residual(L.self_res, p.self_norm, enc.output_of(l, 0, false), [&](const Real* in, Real* out) {
      enc.attention(L.self, p.self_attn, in, in, S, batch.source_lengths.data(), false, out);
    });
    enc.residual(L.ffn_res, p.ffn_norm, enc.output_of(l, 1, false),
                 [&](const Real* in, Real* out) { enc.feed_forward(L.ffn, p, in, out); });
  }
  enc.finish();

  StackForward<Real> dec{c, W.decoder, acts, acts.decoder, pool, o.precision, B, T, c.decoder.heads, c.decoder.ffn};
  dec.embed(batch.decoder_inputs.data(), c.decoder_vocab_size);
  const Real* memory = acts.encoder.out.data();
  for (int l = 0; l < c.decoder.layers; ++l) {
    auto& L = acts.decoder.layers[l];
    const auto& p = W.decoder.layers[l];
    dec.residual(L.self_res, p.self_norm, dec.output_of(l, 0, true), [&](const Real* in, Real* out) {
      dec.attention(L.self, p.self_attn, in, in, T, nullptr, true, out);
    });
    dec.residual(L.cross_res, p.cross_norm, dec.output_of(l, 1, true), [&](const Real* in, Real* out) {
      dec.attention(L.cross, p.cross_attn, in, memory, S, batch.source_lengths.data(), false, out);
    });
    dec.residual(L.ffn_res, p.ffn_norm, dec.output_of(l, 2, true),
                 [&](const Real* in, Real* out) { dec.feed_forward(L.ffn, p, in, out); });
  }
  dec.finish();

  const int V = c.decoder_vocab_size, d = c.d_model, Nt = B * T;
  acts.head_rows.clear();
  acts.head_labels.clear();
  for (int n = 0; n < Nt; ++n) {
    if (batch.labels[n] < 0) continue;
    acts.head_rows.push_back(n);
    acts.head_labels.push_back(batch.labels[n]);
  }
  const int scored = static_cast<int>(acts.head_rows.size());
  const Real* head_in = acts.decoder.out.data();
  const int32_t* labels = batch.labels.data();
  if (scored == Nt) {
    acts.head_rows.clear();
  } else {
    for (int r = 0; r < scored; ++r) {
      std::copy_n(acts.decoder.out.begin() + static_cast<std::ptrdiff_t>(acts.head_rows[r]) * d, d,
                  acts.head_in.begin() + static_cast<std::ptrdiff_t>(r) * d);
    }
    head_in = acts.head_in.data();
    labels = acts.head_labels.data();
  }
  if (scored == 0) return 0.0;
  linear_forward(pool, acts.logits.data(), head_in, W.lm_head, W.final_logits_bias, scored, d, V, o.precision);
  return smoothed_cross_entropy_forward(pool, acts.losses.data(), acts.logits.data(), acts.logits.data(), labels,
                                        scored, V, o.label_smoothing);
}

template double model_forward<float>(const Seq2SeqConfig&, const BasicParamPtrs<float>&, const Seq2SeqBatch&,
                                     BasicSeq2SeqActivations<float>&, ThreadPool&, const ForwardOptions&);
template double model_forward<double>(const Seq2SeqConfig&, const BasicParamPtrs<double>&, const Seq2SeqBatch&,
                                      BasicSeq2SeqActivations<double>&, ThreadPool&, const ForwardOptions&);

}  // namespace smol
