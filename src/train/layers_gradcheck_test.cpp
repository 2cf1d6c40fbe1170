// Every layer's backward against central finite differences of its forward, in float64 (the
// layers are templates, so this is the same code the trainer runs in float32). The objective
// is sum(out * R) for a fixed random R, so the backward is called with dout = R.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <vector>

#include "smol/thread_pool.hpp"
#include "smol/train_layers.hpp"
#include "smol/train_model.hpp"
#include "train/random.hpp"

namespace smol {
namespace {

using Vec = std::vector<double>;

Vec random_vec(size_t n, uint64_t seed, double scale = 1.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, scale);
  Vec v(n);
  for (auto& x : v) x = normal(rng);
  return v;
}

double dot(const Vec& a, const Vec& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// Compares analytic[i] with (f(x + h e_i) - f(x - h e_i)) / 2h for every element of x.
void expect_gradient(Vec& x, const Vec& analytic, const std::function<double()>& objective, const char* what) {
  ASSERT_EQ(x.size(), analytic.size()) << what;
  constexpr double h = 1e-5;
  double worst = 0.0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double saved = x[i];
    x[i] = saved + h;
    const double up = objective();
    x[i] = saved - h;
    const double down = objective();
    x[i] = saved;
    const double numeric = (up - down) / (2 * h);
    const double err = std::fabs(numeric - analytic[i]) / (1.0 + std::fabs(numeric));
    worst = std::max(worst, err);
    EXPECT_LT(err, 1e-7) << what << "[" << i << "]: numeric " << numeric << " analytic " << analytic[i];
  }
  EXPECT_GT(worst, 0.0) << what << ": a perfect match in double suggests nothing was checked";
}

TEST(GradCheck, Embedding) {
  const int n = 5, dim = 3, vocab = 4;
  const std::vector<int32_t> tokens = {1, 3, 1, 0, 2};
  Vec table = random_vec(vocab * dim, 1), R = random_vec(n * dim, 2), out(n * dim);
  auto f = [&] {
    embedding_forward(out.data(), tokens.data(), table.data(), n, dim);
    return dot(out, R);
  };
  Vec dtable(table.size(), 0.0);
  embedding_backward(dtable.data(), R.data(), tokens.data(), n, dim);
  expect_gradient(table, dtable, f, "dtable");
}

TEST(GradCheck, RmsNorm) {
  const int n = 3, dim = 8;
  Vec x = random_vec(n * dim, 3), w = random_vec(dim, 4), R = random_vec(n * dim, 5), out(n * dim), rstd(n);
  auto f = [&] {
    rmsnorm_forward(out.data(), rstd.data(), x.data(), w.data(), n, dim, 1e-5);
    return dot(out, R);
  };
  f();
  Vec dx(x.size(), 0.0), dw(w.size(), 0.0);
  rmsnorm_backward(dx.data(), dw.data(), R.data(), x.data(), w.data(), rstd.data(), n, dim);
  expect_gradient(x, dx, f, "dx");
  expect_gradient(w, dw, f, "dweight");
}

TEST(GradCheck, Matmul) {
  ThreadPool pool(2);
  const int n = 4, in = 5, out_dim = 3;
  Vec x = random_vec(n * in, 6), w = random_vec(out_dim * in, 7), R = random_vec(n * out_dim, 8), out(n * out_dim);
  auto f = [&] {
    matmul_forward(pool, out.data(), x.data(), w.data(), n, in, out_dim);
    return dot(out, R);
  };
  Vec dx(x.size(), 0.0), dw(w.size(), 0.0);
  matmul_backward(pool, dx.data(), dw.data(), R.data(), x.data(), w.data(), n, in, out_dim);
  expect_gradient(x, dx, f, "dinp");
  expect_gradient(w, dw, f, "dweight");
}

TEST(GradCheck, Rope) {
  const int batch = 2, seq = 3, heads = 2, hd = 6, n = batch * seq;
  Vec cos(seq * hd / 2), sin(seq * hd / 2);
  rope_tables(cos.data(), sin.data(), seq, hd, 10000.0);
  Vec x = random_vec(n * heads * hd, 9), R = random_vec(x.size(), 10), y;
  auto f = [&] {
    y = x;
    rope_forward(y.data(), cos.data(), sin.data(), n, seq, heads, hd);
    return dot(y, R);
  };
  Vec dx = R;
  rope_backward(dx.data(), cos.data(), sin.data(), n, seq, heads, hd);
  expect_gradient(x, dx, f, "dx");
}

// Hugging Face rotate_half on a hand-worked example: position 1, head_dim 4, theta 1, so the
// angles are 1 rad (i = 0) and theta^(-1/2) = 1 rad (i = 1) too.
TEST(Rope, MatchesRotateHalfByHand) {
  Vec cos(4), sin(4);
  rope_tables(cos.data(), sin.data(), 2, 4, 1.0);
  Vec x = {1, 2, 3, 4, 1, 2, 3, 4};  // tokens at positions 0 and 1
  rope_forward(x.data(), cos.data(), sin.data(), 2, 2, 1, 4);
  EXPECT_DOUBLE_EQ(x[0], 1);  // position 0: unrotated
  const double c = std::cos(1.0), s = std::sin(1.0);
  EXPECT_NEAR(x[4], 1 * c - 3 * s, 1e-15);  // x1*cos - x2*sin with x2 = the second half
  EXPECT_NEAR(x[5], 2 * c - 4 * s, 1e-15);
  EXPECT_NEAR(x[6], 3 * c + 1 * s, 1e-15);
  EXPECT_NEAR(x[7], 4 * c + 2 * s, 1e-15);
}

class AttentionGradCheck : public ::testing::TestWithParam<bool> {};

TEST_P(AttentionGradCheck, QueryKeyValue) {
  ThreadPool pool(2);
  const AttentionShape s{2, 5, 4, 2, 4};  // GQA: 2 query heads per kv head
  const size_t n = static_cast<size_t>(s.batch) * s.seq_len;
  Vec q = random_vec(n * s.n_heads * s.head_dim, 11), k = random_vec(n * s.n_kv_heads * s.head_dim, 12);
  Vec v = random_vec(k.size(), 13), R = random_vec(q.size(), 14), out(q.size());
  Vec probs(static_cast<size_t>(s.batch) * s.n_heads * s.seq_len * s.seq_len);
  // A fixed dropout mask (p = 0.3) makes the dropout path deterministic and checkable.
  Vec mask;
  if (GetParam()) {
    std::vector<float> m(probs.size());
    fill_dropout_mask(m.data(), m.size(), 0.3f, 42);
    mask.assign(m.begin(), m.end());
  }
  const double* mp = mask.empty() ? nullptr : mask.data();
  auto f = [&] {
    attention_forward(pool, out.data(), probs.data(), q.data(), k.data(), v.data(), mp, s);
    return dot(out, R);
  };
  f();
  Vec dq(q.size()), dk(k.size()), dv(v.size());
  attention_backward(pool, dq.data(), dk.data(), dv.data(), R.data(), probs.data(), q.data(), k.data(), v.data(), mp, s);
  expect_gradient(q, dq, f, "dq");
  expect_gradient(k, dk, f, "dk");
  expect_gradient(v, dv, f, "dv");
}

INSTANTIATE_TEST_SUITE_P(Dropout, AttentionGradCheck, ::testing::Values(false, true));

TEST(Attention, IsCausalAndNormalised) {
  ThreadPool pool(1);
  const AttentionShape s{1, 4, 2, 1, 2};
  Vec q = random_vec(4 * 2 * 2, 15), k = random_vec(4 * 2, 16), v = random_vec(4 * 2, 17), out(q.size());
  Vec probs(2 * 4 * 4);
  attention_forward<double>(pool, out.data(), probs.data(), q.data(), k.data(), v.data(), nullptr, s);
  for (int h = 0; h < 2; ++h) {
    for (int t = 0; t < 4; ++t) {
      double sum = 0;
      for (int j = 0; j < 4; ++j) {
        const double p = probs[(h * 4 + t) * 4 + j];
        if (j > t) EXPECT_EQ(p, 0.0);
        sum += p;
      }
      EXPECT_NEAR(sum, 1.0, 1e-15);
    }
  }
  // Token 0 sees only itself: its output is v[0] exactly.
  EXPECT_NEAR(out[0], v[0], 1e-15);
  EXPECT_NEAR(out[1], v[1], 1e-15);
}

TEST(GradCheck, SwiGlu) {
  const size_t n = 12;
  Vec g = random_vec(n, 18, 2.0), u = random_vec(n, 19), R = random_vec(n, 20), out(n);
  auto f = [&] {
    swiglu_forward(out.data(), g.data(), u.data(), n);
    return dot(out, R);
  };
  Vec dg(n, 0.0), du(n, 0.0);
  swiglu_backward(dg.data(), du.data(), R.data(), g.data(), u.data(), n);
  expect_gradient(g, dg, f, "dgate");
  expect_gradient(u, du, f, "dup");
}

TEST(GradCheck, ResidualWithDropoutMask) {
  const size_t n = 16;
  Vec x = random_vec(n, 21), b = random_vec(n, 22), R = random_vec(n, 23), out(n);
  std::vector<float> mf(n);
  fill_dropout_mask(mf.data(), n, 0.5f, 7);
  const Vec mask(mf.begin(), mf.end());
  auto f = [&] {
    residual_forward(out.data(), x.data(), b.data(), mask.data(), n);
    return dot(out, R);
  };
  Vec dx(n, 0.0), db(n, 0.0);
  residual_backward(dx.data(), db.data(), R.data(), mask.data(), n);
  expect_gradient(x, dx, f, "dx");
  expect_gradient(b, db, f, "dbranch");
}

TEST(GradCheck, CrossEntropyWithIgnoredTarget) {
  ThreadPool pool(2);
  const int n = 4, vocab = 7;
  const std::vector<int32_t> targets = {3, -1, 0, 6};
  Vec logits = random_vec(n * vocab, 24, 3.0), probs(logits.size()), losses(n);
  const double dloss = 1.0 / 3;  // mean over the 3 scored targets
  auto f = [&] { return dloss * cross_entropy_forward(pool, losses.data(), probs.data(), logits.data(), targets.data(), n, vocab); };
  f();
  EXPECT_EQ(losses[1], 0.0);
  Vec dlogits(logits.size());
  cross_entropy_backward(pool, dlogits.data(), probs.data(), targets.data(), dloss, n, vocab);
  expect_gradient(logits, dlogits, f, "dlogits");
}

TEST(Dropout, MaskHasTheRightRateAndScale) {
  std::vector<float> m(100000);
  fill_dropout_mask(m.data(), m.size(), 0.25f, 3);
  size_t dropped = 0;
  for (float v : m) {
    if (v == 0.0f) ++dropped;
    else EXPECT_FLOAT_EQ(v, 1.0f / 0.75f);
  }
  EXPECT_NEAR(static_cast<double>(dropped) / m.size(), 0.25, 0.01);
  std::vector<float> again(m.size());
  fill_dropout_mask(again.data(), again.size(), 0.25f, 3);
  EXPECT_EQ(m, again);  // a pure function of the seed
}

// The layers composed: model_forward / model_backward (the trainer's code, run in double) on a
// small 2-layer GQA model with dropout on (fixed masks: a pure function of the seed), one
// ignored target, and the output layer tied to the embeddings (one tensor whose gradient sums
// both uses) or separate. Every element of every tensor is checked, so the residual stream,
// the final norm, the lm_head/cross-entropy and the embedding all are.
class WholeModelGradCheck : public ::testing::TestWithParam<bool> {};

TEST_P(WholeModelGradCheck, EveryParameterInFloat64) {
  const bool tied = GetParam();
  ModelConfig c;
  c.hidden_size = 8;
  c.intermediate_size = 12;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 2;
  c.vocab_size = 11;
  c.max_position_embeddings = 64;
  c.rms_norm_eps = 1e-5f;
  c.rope_theta = 10000.0f;
  c.tie_word_embeddings = tied;
  const ParamLayout layout(c);
  EXPECT_EQ(layout.tensors().back().name == "lm_head.weight", !tied);
  Vec params = random_vec(layout.size(), 30, 0.5);
  for (const ParamTensor& t : layout.tensors()) {
    if (!t.is_matrix) {
      for (size_t i = 0; i < t.numel; ++i) params[t.offset + i] += 1.0;  // norm weights near 1
    }
  }
  const int B = 2, T = 5;
  std::vector<int32_t> in(B * T), tgt(B * T);
  for (int i = 0; i < B * T; ++i) {
    in[i] = (i * 7 + 3) % c.vocab_size;
    tgt[i] = i == 3 ? -1 : (i * 5 + 2) % c.vocab_size;
  }
  const double dloss = 1.0 / (B * T - 1);  // mean over the scored targets
  ThreadPool pool(2);
  BasicActivations<double> acts(c, B, T, true);
  ForwardOptions fo;
  fo.dropout = 0.25f;
  fo.dropout_seed = 1234;
  fo.first_row = 3;
  auto objective = [&] {
    return dloss * model_forward(c, layout.bind(params.data()), in.data(), tgt.data(), acts, pool, fo);
  };
  const double with_dropout = objective();
  ForwardOptions off;
  EXPECT_NE(dloss * model_forward(c, layout.bind(params.data()), in.data(), tgt.data(), acts, pool, off),
            with_dropout)
      << "dropout had no effect";
  EXPECT_EQ(objective(), with_dropout) << "the masks are not a pure function of the seed";

  Vec grads(layout.size(), 0.0);
  const BasicParamPtrs<double> g = layout.bind(grads.data());
  if (tied) EXPECT_EQ(g.lm_head, g.embed);
  model_backward(c, layout.bind(params.data()), g, in.data(), tgt.data(), dloss, acts, pool, fo);
  for (const ParamTensor& t : layout.tensors()) {
    Vec x(params.begin() + t.offset, params.begin() + t.offset + t.numel);
    const Vec analytic(grads.begin() + t.offset, grads.begin() + t.offset + t.numel);
    expect_gradient(x, analytic, [&] {
      std::copy(x.begin(), x.end(), params.begin() + t.offset);
      return objective();
    }, t.name.c_str());
    std::copy(x.begin(), x.end(), params.begin() + t.offset);
  }
}

INSTANTIATE_TEST_SUITE_P(Output, WholeModelGradCheck, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& info) { return info.param ? "Tied" : "Untied"; });

}  // namespace
}  // namespace smol
