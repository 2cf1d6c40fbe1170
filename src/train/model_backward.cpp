// The training backward pass: model_forward (train/model_forward.cpp) read bottom to top,
// each layer's *_backward called with the arguments its *_forward had.
#include <algorithm>
#include <utility>

#include "smol/thread_pool.hpp"
#include "smol/train_model.hpp"

namespace smol {

namespace {

template <typename Real>
void zero(std::vector<Real>& v) { std::fill(v.begin(), v.end(), Real(0)); }

}  // namespace

template <typename Real>
void model_backward(const ModelConfig& c, const BasicParamPtrs<Real>& P, const BasicParamPtrs<Real>& G,
                    const int32_t* inputs, const int32_t* targets, double dloss, BasicActivations<Real>& acts,
                    ThreadPool& pool, const ForwardOptions& options) {
  const int B = acts.batch(), T = acts.seq_len(), N = B * T;
  const int H = c.hidden_size, F = c.intermediate_size, V = c.vocab_size, L = c.num_hidden_layers;
  const int q_dim = c.num_attention_heads * c.head_dim, kv_dim = c.num_key_value_heads * c.head_dim;
  const Precision prec = options.precision;
  const bool dropout = options.dropout > 0.0f;
  const size_t NH = static_cast<size_t>(N) * H;
  const AttentionShape shape{B, T, c.num_attention_heads, c.num_key_value_heads, c.head_dim};

  // logits -> dlogits in place; the lm_head gradient lands in the embedding's when tied.
  Real* dlogits = acts.logits.data();
  cross_entropy_backward(pool, dlogits, acts.logits.data(), targets, dloss, N, V);
  zero(acts.dnorm);
  matmul_backward(pool, acts.dnorm.data(), G.lm_head, dlogits, acts.norm_final.data(), P.lm_head, N, H, V, prec);
  zero(acts.dres);
  rmsnorm_backward(acts.dres.data(), G.final_norm, acts.dnorm.data(), acts.x_final.data(), P.final_norm,
                   acts.rstd_final.data(), N, H);

  for (int l = L - 1; l >= 0; --l) {
    const BasicLayerParams<Real>& w = P.layers[l];
    const BasicLayerParams<Real>& g = G.layers[l];
    typename BasicActivations<Real>::Layer& a = acts.layers[l];
    const Real* attn_mask = dropout ? a.attn_mask.data() : nullptr;
    const Real* res1_mask = dropout ? a.res1_mask.data() : nullptr;
    const Real* res2_mask = dropout ? a.res2_mask.data() : nullptr;

    // x_next = h + down(act) * mask2
    zero(acts.dres_prev);
    zero(acts.dbranch);
    residual_backward(acts.dres_prev.data(), acts.dbranch.data(), acts.dres.data(), res2_mask, NH);
    std::swap(acts.dres, acts.dres_prev);  // dres is now d(h)
    zero(acts.dact);
    matmul_backward(pool, acts.dact.data(), g.down, acts.dbranch.data(), a.act.data(), w.down, N, F, H, prec);
    zero(acts.dgate);
    zero(acts.dup);
    pool.parallel_for(static_cast<size_t>(N) * F, [&](size_t begin, size_t end) {
      swiglu_backward(acts.dgate.data() + begin, acts.dup.data() + begin, acts.dact.data() + begin,
                      a.gate.data() + begin, a.up.data() + begin, end - begin);
    });
    zero(acts.dnorm);
    matmul_backward(pool, acts.dnorm.data(), g.gate, acts.dgate.data(), a.norm2.data(), w.gate, N, H, F, prec);
    matmul_backward(pool, acts.dnorm.data(), g.up, acts.dup.data(), a.norm2.data(), w.up, N, H, F, prec);
    rmsnorm_backward(acts.dres.data(), g.mlp_norm, acts.dnorm.data(), a.h.data(), w.mlp_norm, a.rstd2.data(), N, H);

    // h = x + o(attn) * mask1
    zero(acts.dres_prev);
    zero(acts.dbranch);
    residual_backward(acts.dres_prev.data(), acts.dbranch.data(), acts.dres.data(), res1_mask, NH);
    std::swap(acts.dres, acts.dres_prev);  // dres is now d(x)
    zero(acts.dattn);
    matmul_backward(pool, acts.dattn.data(), g.o, acts.dbranch.data(), a.attn.data(), w.o, N, q_dim, H, prec);
    attention_backward(pool, acts.dq.data(), acts.dk.data(), acts.dv.data(), acts.dattn.data(), a.probs.data(),
                       a.q.data(), a.k.data(), a.v.data(), attn_mask, shape);
    rope_backward(acts.dq.data(), acts.rope_cos.data(), acts.rope_sin.data(), N, T, c.num_attention_heads, c.head_dim);
    rope_backward(acts.dk.data(), acts.rope_cos.data(), acts.rope_sin.data(), N, T, c.num_key_value_heads, c.head_dim);
    zero(acts.dnorm);
    matmul_backward(pool, acts.dnorm.data(), g.q, acts.dq.data(), a.norm1.data(), w.q, N, H, q_dim, prec);
    matmul_backward(pool, acts.dnorm.data(), g.k, acts.dk.data(), a.norm1.data(), w.k, N, H, kv_dim, prec);
    matmul_backward(pool, acts.dnorm.data(), g.v, acts.dv.data(), a.norm1.data(), w.v, N, H, kv_dim, prec);
    rmsnorm_backward(acts.dres.data(), g.attn_norm, acts.dnorm.data(), a.x.data(), w.attn_norm, a.rstd1.data(), N, H);
  }
  embedding_backward(G.embed, acts.dres.data(), inputs, N, H);
}

template void model_backward<float>(const ModelConfig&, const BasicParamPtrs<float>&, const BasicParamPtrs<float>&,
                                    const int32_t*, const int32_t*, double, BasicActivations<float>&, ThreadPool&,
                                    const ForwardOptions&);
template void model_backward<double>(const ModelConfig&, const BasicParamPtrs<double>&,
                                     const BasicParamPtrs<double>&, const int32_t*, const int32_t*, double,
                                     BasicActivations<double>&, ThreadPool&, const ForwardOptions&);

}  // namespace smol
