// The encoder-decoder's backward pass: seq2seq_train_forward.cpp read bottom to top. The
// decoder runs first; its cross-attention K/V projections accumulate the gradient of the
// encoder's output (denc), which then starts the encoder's backward. Every use of a shared or
// tied embedding (encoder input, decoder input, lm_head) adds to the same gradient.
#include <algorithm>
#include <cmath>

#include "smol/thread_pool.hpp"
#include "smol/train_seq2seq.hpp"

namespace smol {

namespace {

template <typename Real>
void zero(std::vector<Real>& v, size_t n) {
  std::fill(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(n), Real(0));
}

template <typename Real>
struct StackBackward {
  using Acts = BasicSeq2SeqActivations<Real>;
  const Seq2SeqConfig& c;
  const BasicSeq2SeqStackParams<Real>& w;
  const BasicSeq2SeqStackParams<Real>& g;
  Acts& acts;
  typename Acts::Stack& s;
  ThreadPool& pool;
  Precision prec;
  int batch, len, heads, ffn;

  int rows() const { return batch * len; }
  size_t size() const { return static_cast<size_t>(rows()) * c.d_model; }

  // acts.dres holds d(stack output); leaves d(last layer's output) there.
  void finish() {
    if (!c.arch.final_norm) return;
    zero(acts.dsum, size());
    layernorm_backward(acts.dsum.data(), g.final_norm.w, g.final_norm.b, acts.dres.data(), s.last.data(),
                       w.final_norm.w, s.final_mean.data(), s.final_rstd.data(), rows(), c.d_model);
    std::copy_n(acts.dsum.begin(), size(), acts.dres.begin());
  }

  // acts.dres: d(x') in, d(x) out. f_back(dbranch, dinput) accumulates d(branch input).
  template <class F>
  void residual(typename Acts::Residual& r, const BasicNormParams<Real>& norm, const BasicNormParams<Real>& gnorm,
                F&& f_back) {
    const int d = c.d_model;
    const Real* mask = acts.hidden_masks ? r.mask.data() : nullptr;
    const size_t n = size();
    if (c.arch.pre_norm) {
      for (size_t i = 0; i < n; ++i) acts.dbranch[i] = mask ? acts.dres[i] * mask[i] : acts.dres[i];
      zero(acts.dnorm, n);
      f_back(acts.dbranch.data(), acts.dnorm.data());
      layernorm_backward(acts.dres.data(), gnorm.w, gnorm.b, acts.dnorm.data(), r.x.data(), norm.w, r.mean.data(),
                         r.rstd.data(), rows(), d);
    } else {
      zero(acts.dsum, n);
      layernorm_backward(acts.dsum.data(), gnorm.w, gnorm.b, acts.dres.data(), r.sum.data(), norm.w, r.mean.data(),
                         r.rstd.data(), rows(), d);
      for (size_t i = 0; i < n; ++i) {
        acts.dres[i] = acts.dsum[i];
        acts.dbranch[i] = mask ? acts.dsum[i] * mask[i] : acts.dsum[i];
      }
      f_back(acts.dbranch.data(), acts.dres.data());
    }
  }

  // dkv_in: where the K/V inputs' gradient goes (din itself for self-attention).
  void attention(typename Acts::Attention& a, const BasicAttentionParams<Real>& p, const BasicAttentionParams<Real>& gp,
                 const Real* dbranch, const Real* in, Real* din, const Real* kv_in, Real* dkv_in, int kv_len,
                 const int32_t* key_lengths, bool causal) {
    const int d = c.d_model, kv_rows = batch * kv_len;
    zero(acts.dctx, size());
    linear_backward(pool, acts.dctx.data(), gp.o.w, gp.o.b, dbranch, a.ctx.data(), p.o.w, rows(), d, d, prec);
    const MhaShape shape{batch, len, kv_len, heads, d / heads, causal};
    mha_backward(pool, acts.dq.data(), acts.dk.data(), acts.dv.data(), acts.dctx.data(), a.probs.data(), a.q.data(),
                 a.k.data(), a.v.data(), acts.attention_masks ? a.mask.data() : nullptr, key_lengths, shape);
    linear_backward(pool, din, gp.q.w, gp.q.b, acts.dq.data(), in, p.q.w, rows(), d, d, prec);
    // k_proj.bias adds the same q·b to every score of a query row, which softmax cancels: its
    // gradient is exactly 0, so it is left at 0 rather than at float32 rounding noise (which
    // AdamW would normalise into full-size random steps).
    linear_backward<Real>(pool, dkv_in, gp.k.w, nullptr, acts.dk.data(), kv_in, p.k.w, kv_rows, d, d, prec);
    linear_backward(pool, dkv_in, gp.v.w, gp.v.b, acts.dv.data(), kv_in, p.v.w, kv_rows, d, d, prec);
  }

  void feed_forward(typename Acts::Ffn& f, const BasicSeq2SeqLayerParams<Real>& p,
                    const BasicSeq2SeqLayerParams<Real>& gp, const Real* dbranch, const Real* in, Real* din) {
    const int d = c.d_model;
    const size_t n = static_cast<size_t>(rows()) * ffn;
    const Real* act = acts.activation_masks ? f.dropped.data() : f.act.data();
    zero(acts.ddropped, n);
    linear_backward(pool, acts.ddropped.data(), gp.fc2.w, gp.fc2.b, dbranch, act, p.fc2.w, rows(), ffn, d, prec);
    const Real* dact = acts.ddropped.data();
    if (acts.activation_masks) {
      zero(acts.dact, n);
      dropout_backward(acts.dact.data(), acts.ddropped.data(), f.mask.data(), n);
      dact = acts.dact.data();
    }
    zero(acts.dh, n);
    pool.parallel_for(n, [&](size_t begin, size_t end) {
      activation_backward(c.activation, acts.dh.data() + begin, dact + begin, f.h.data() + begin, end - begin);
    });
    linear_backward(pool, din, gp.fc1.w, gp.fc1.b, acts.dh.data(), in, p.fc1.w, rows(), d, ffn, prec);
  }

  // acts.dres: d(first layer's input) -> embeddings, positions and layernorm_embedding.
  void embed(const int32_t* tokens) {
    const int d = c.d_model;
    const size_t n = size();
    Real* dsrc = acts.dres.data();
    if (acts.hidden_masks) {
      for (size_t i = 0; i < n; ++i) acts.dres[i] *= s.emb_mask[i];
    }
    if (c.arch.embedding_norm) {
      zero(acts.dsum, n);
      layernorm_backward(acts.dsum.data(), g.embedding_norm.w, g.embedding_norm.b, acts.dres.data(),
                         s.embedded.data(), w.embedding_norm.w, s.emb_mean.data(), s.emb_rstd.data(), rows(), d);
      dsrc = acts.dsum.data();
    }
    const Real scale = c.scale_embedding ? static_cast<Real>(std::sqrt(static_cast<double>(d))) : Real(1);
    for (int r = 0; r < rows(); ++r) {
      const Real* dx = dsrc + static_cast<size_t>(r) * d;
      // nn.Embedding(padding_idx=pad_token_id): the pad row gets no gradient from lookups.
      if (tokens[r] != c.pad_token_id) {
        Real* e = g.embed + static_cast<size_t>(tokens[r]) * d;
        for (int i = 0; i < d; ++i) e[i] += dx[i] * scale;
      }
      if (g.positions) {
        Real* p = g.positions + static_cast<size_t>(r % len + c.arch.position_offset) * d;
        for (int i = 0; i < d; ++i) p[i] += dx[i];
      }
    }
  }
};

}  // namespace

template <typename Real>
void model_backward(const Seq2SeqConfig& c, const BasicParamPtrs<Real>& P, const BasicParamPtrs<Real>& G,
                    const Seq2SeqBatch& batch, double dloss, BasicSeq2SeqActivations<Real>& acts, ThreadPool& pool,
                    const ForwardOptions& o) {
  const int B = batch.batch, S = batch.source_len, T = batch.target_len, d = c.d_model;
  const int V = c.decoder_vocab_size, Nt = B * T;
  const BasicSeq2SeqParams<Real>& W = P.seq2seq;
  const BasicSeq2SeqParams<Real>& Gw = G.seq2seq;

  // The LM head saw the scored rows only (model_forward): their gradient is scattered back.
  const int scored = static_cast<int>(acts.head_labels.size());
  const bool all_rows = scored == Nt;
  zero(acts.dres, static_cast<size_t>(Nt) * d);
  if (scored > 0) {
    Real* dlogits = acts.logits.data();
    smoothed_cross_entropy_backward(pool, dlogits, acts.logits.data(), acts.head_labels.data(), dloss, scored, V,
                                    o.label_smoothing);
    Real* din = all_rows ? acts.dres.data() : acts.head_din.data();
    if (!all_rows) zero(acts.head_din, static_cast<size_t>(scored) * d);
    // final_logits_bias is a buffer: no gradient.
    linear_backward<Real>(pool, din, Gw.lm_head, nullptr, dlogits, all_rows ? acts.decoder.out.data() : acts.head_in.data(),
                          W.lm_head, scored, d, V, o.precision);
    for (int r = 0; !all_rows && r < scored; ++r) {
      std::copy_n(acts.head_din.begin() + static_cast<std::ptrdiff_t>(r) * d, d,
                  acts.dres.begin() + static_cast<std::ptrdiff_t>(acts.head_rows[r]) * d);
    }
  }

  zero(acts.denc, static_cast<size_t>(B) * S * d);
  StackBackward<Real> dec{c, W.decoder, Gw.decoder, acts, acts.decoder, pool, o.precision, B, T, c.decoder.heads,
                          c.decoder.ffn};
  dec.finish();
  const Real* memory = acts.encoder.out.data();
  for (int l = c.decoder.layers - 1; l >= 0; --l) {
    auto& L = acts.decoder.layers[l];
    const auto& p = W.decoder.layers[l];
    const auto& gp = Gw.decoder.layers[l];
    dec.residual(L.ffn_res, p.ffn_norm, gp.ffn_norm, [&](const Real* dbranch, Real* din) {
      const Real* in = c.arch.pre_norm ? L.ffn_res.normed.data() : L.ffn_res.x.data();
      dec.feed_forward(L.ffn, p, gp, dbranch, in, din);
    });
    dec.residual(L.cross_res, p.cross_norm, gp.cross_norm, [&](const Real* dbranch, Real* din) {
      const Real* in = c.arch.pre_norm ? L.cross_res.normed.data() : L.cross_res.x.data();
      dec.attention(L.cross, p.cross_attn, gp.cross_attn, dbranch, in, din, memory, acts.denc.data(), S,
                    batch.source_lengths.data(), false);
    });
    dec.residual(L.self_res, p.self_norm, gp.self_norm, [&](const Real* dbranch, Real* din) {
      const Real* in = c.arch.pre_norm ? L.self_res.normed.data() : L.self_res.x.data();
      dec.attention(L.self, p.self_attn, gp.self_attn, dbranch, in, din, in, din, T, nullptr, true);
    });
  }
  dec.embed(batch.decoder_inputs.data());

  StackBackward<Real> enc{c, W.encoder, Gw.encoder, acts, acts.encoder, pool, o.precision, B, S, c.encoder.heads,
                          c.encoder.ffn};
  std::copy_n(acts.denc.begin(), static_cast<size_t>(B) * S * d, acts.dres.begin());
  enc.finish();
  for (int l = c.encoder.layers - 1; l >= 0; --l) {
    auto& L = acts.encoder.layers[l];
    const auto& p = W.encoder.layers[l];
    const auto& gp = Gw.encoder.layers[l];
    enc.residual(L.ffn_res, p.ffn_norm, gp.ffn_norm, [&](const Real* dbranch, Real* din) {
      const Real* in = c.arch.pre_norm ? L.ffn_res.normed.data() : L.ffn_res.x.data();
      enc.feed_forward(L.ffn, p, gp, dbranch, in, din);
    });
    enc.residual(L.self_res, p.self_norm, gp.self_norm, [&](const Real* dbranch, Real* din) {
      const Real* in = c.arch.pre_norm ? L.self_res.normed.data() : L.self_res.x.data();
      enc.attention(L.self, p.self_attn, gp.self_attn, dbranch, in, din, in, din, S, batch.source_lengths.data(),
                    false);
    });
  }
  enc.embed(batch.source.data());
}

template void model_backward<float>(const Seq2SeqConfig&, const BasicParamPtrs<float>&, const BasicParamPtrs<float>&,
                                    const Seq2SeqBatch&, double, BasicSeq2SeqActivations<float>&, ThreadPool&,
                                    const ForwardOptions&);
template void model_backward<double>(const Seq2SeqConfig&, const BasicParamPtrs<double>&,
                                     const BasicParamPtrs<double>&, const Seq2SeqBatch&, double,
                                     BasicSeq2SeqActivations<double>&, ThreadPool&, const ForwardOptions&);

}  // namespace smol
