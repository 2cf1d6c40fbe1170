// The encoder-decoder forward pass (BartForConditionalGeneration and its Marian and mBART
// variants): embeddings + positions (+ embedding LayerNorm), then per layer residual
// sublayers in the family's order — post-norm (BART, Marian: x = norm(x + f(x))) or pre-norm
// (mBART: x = x + f(norm(x)), with a final norm per stack). The encoder's sublayers are
// bidirectional self-attention and the FFN; the decoder's are causal self-attention over the
// hypothesis' KV cache, cross-attention over the encoded source, and the FFN.
#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "model/blocks.hpp"
#include "smol/error.hpp"
#include "smol/seq2seq.hpp"

namespace smol {
namespace {

void grow(std::vector<float>& v, size_t n) {
  if (v.size() < n) v.resize(n);
}

struct StackPass {
  const Seq2SeqConfig& c;
  const Seq2SeqStackWeights& w;
  ThreadPool& pool;
  Seq2SeqBuffers& buf;
  int n;  // rows in this pass

  int d() const { return c.d_model; }

  // Token embedding x embed_scale + position embedding, then the embedding LayerNorm.
  void embed(std::span<const int32_t> tokens, const std::vector<int>& positions, int vocab) {
    const float scale = c.scale_embedding ? std::sqrt(static_cast<float>(c.d_model)) : 1.0f;
    std::vector<float> pos_row(d());
    for (int t = 0; t < n; ++t) {
      if (tokens[t] < 0 || tokens[t] >= vocab) {
        throw Error(fmt::format("token id {} is outside the vocabulary of {} ids", tokens[t], vocab));
      }
      if (positions[t] >= c.max_position_embeddings) {
        throw Error(fmt::format("{} tokens exceed the model's max_position_embeddings of {}", positions[t] + 1,
                                c.max_position_embeddings));
      }
      float* x = buf.x.data() + static_cast<size_t>(t) * d();
      widen_row(w.embed, tokens[t], x);
      if (c.arch.positions == PositionKind::Learned) {
        widen_row(w.positions, positions[t] + c.arch.position_offset, pos_row.data());
      } else {
        blocks::sinusoidal_row(positions[t], d(), pos_row.data());
      }
      for (int i = 0; i < d(); ++i) x[i] = x[i] * scale + pos_row[i];
    }
    if (c.arch.embedding_norm) blocks::layer_norm_rows(pool, w.embedding_norm, c.layer_norm_eps, buf.x.data(), n, d(), buf.x.data());
  }

  // One residual sublayer; `f(in, out)` computes the sublayer from n rows of `in` into `out`.
  template <class F>
  void sublayer(const Norm& norm, F&& f) {
    float* x = buf.x.data();
    const size_t size = static_cast<size_t>(n) * d();
    if (c.arch.pre_norm) {
      blocks::layer_norm_rows(pool, norm, c.layer_norm_eps, x, n, d(), buf.normed.data());
      f(buf.normed.data(), buf.proj.data());
      blocks::add_in_place(x, buf.proj.data(), size);
    } else {
      f(x, buf.proj.data());
      blocks::add_in_place(x, buf.proj.data(), size);
      blocks::layer_norm_rows(pool, norm, c.layer_norm_eps, x, n, d(), x);
    }
  }

  // q from `in`, attention over `ranges` (one per row), output projection into `out`.
  void attention(const AttentionWeights& a, int heads, const float* q, std::span<const KeyRange> ranges,
                 float* out) {
    int longest = 0;
    for (const KeyRange& r : ranges) longest = std::max(longest, r.n_keys);
    grow(buf.scores, static_cast<size_t>(pool.size()) * longest);
    const int head_dim = d() / heads;
    const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
    blocks::attend(pool, q, ranges, heads, heads, head_dim, scale, buf.scores.data(), longest, buf.attn.data());
    blocks::project(pool, buf.attn.data(), n, a.o, out);
  }

  void ffn(const Seq2SeqLayer& layer, int ffn_dim, const float* in, float* out) {
    blocks::project(pool, in, n, layer.fc1, buf.ffn.data());
    const size_t size = static_cast<size_t>(n) * ffn_dim;
    blocks::for_rows(pool, n, [&](int begin, int end) {
      activate(c.activation, buf.ffn.data() + static_cast<size_t>(begin) * ffn_dim,
               static_cast<size_t>(end - begin) * ffn_dim);
    });
    (void)size;
    blocks::project(pool, buf.ffn.data(), n, layer.fc2, out);
  }

  void final_norm() {
    if (c.arch.final_norm) blocks::layer_norm_rows(pool, w.final_norm, c.layer_norm_eps, buf.x.data(), n, d(), buf.x.data());
  }
};

void size_buffers(Seq2SeqBuffers& buf, int n, int d, int ffn) {
  const size_t rows = static_cast<size_t>(n);
  for (auto* v : {&buf.x, &buf.normed, &buf.q, &buf.k, &buf.v, &buf.attn, &buf.proj}) grow(*v, rows * d);
  grow(buf.ffn, rows * ffn);
}

}  // namespace

std::vector<EncodedSource> Seq2SeqModel::encode(std::span<const std::vector<int32_t>> sources, ThreadPool& pool,
                                                Seq2SeqBuffers& buf) const {
  const Seq2SeqConfig& c = config_;
  const int d = c.d_model;
  std::vector<int32_t> tokens;
  std::vector<int> positions, starts;
  for (const auto& s : sources) {
    if (s.empty()) throw Error("a source is empty: give at least one token");
    starts.push_back(static_cast<int>(tokens.size()));
    for (size_t p = 0; p < s.size(); ++p) {
      tokens.push_back(s[p]);
      positions.push_back(static_cast<int>(p));
    }
  }
  const int n = static_cast<int>(tokens.size());
  size_buffers(buf, n, d, std::max(c.encoder.ffn, c.decoder.ffn));
  StackPass pass{c, weights_.encoder, pool, buf, n};
  pass.embed(tokens, positions, c.vocab_size);

  // Every row attends to all positions of its own source: the padding mask of a padded batch.
  std::vector<KeyRange> ranges(n);
  for (size_t s = 0; s < sources.size(); ++s) {
    const KvView keys{WeightType::F32, buf.k.data() + static_cast<size_t>(starts[s]) * d, static_cast<size_t>(d)};
    const KvView values{WeightType::F32, buf.v.data() + static_cast<size_t>(starts[s]) * d, static_cast<size_t>(d)};
    for (size_t p = 0; p < sources[s].size(); ++p) ranges[starts[s] + p] = {keys, values, static_cast<int>(sources[s].size())};
  }
  for (const Seq2SeqLayer& layer : weights_.encoder.layers) {
    pass.sublayer(layer.self_norm, [&](const float* in, float* out) {
      const blocks::Projection qkv[] = {{&layer.self_attn.q, buf.q.data()},
                                        {&layer.self_attn.k, buf.k.data()},
                                        {&layer.self_attn.v, buf.v.data()}};
      blocks::project(pool, in, n, qkv);
      pass.attention(layer.self_attn, c.encoder.heads, buf.q.data(), ranges, out);
    });
    pass.sublayer(layer.ffn_norm, [&](const float* in, float* out) { pass.ffn(layer, c.encoder.ffn, in, out); });
  }
  pass.final_norm();

  // Cross-attention keys and values of every decoder layer, once per source.
  std::vector<EncodedSource> out(sources.size());
  const size_t per_layer = static_cast<size_t>(n) * d;
  std::vector<float> keys(per_layer * c.decoder.layers), values(per_layer * c.decoder.layers);
  for (int l = 0; l < c.decoder.layers; ++l) {
    const AttentionWeights& a = weights_.decoder.layers[l].cross_attn;
    const blocks::Projection kv[] = {{&a.k, keys.data() + l * per_layer}, {&a.v, values.data() + l * per_layer}};
    blocks::project(pool, buf.x.data(), n, kv);
  }
  for (size_t s = 0; s < sources.size(); ++s) {
    EncodedSource& e = out[s];
    e.length = static_cast<int>(sources[s].size());
    const size_t rows = static_cast<size_t>(e.length) * d;
    const size_t first = static_cast<size_t>(starts[s]) * d;
    e.hidden.assign(buf.x.begin() + first, buf.x.begin() + first + rows);
    e.cross_keys.resize(rows * c.decoder.layers);
    e.cross_values.resize(rows * c.decoder.layers);
    for (int l = 0; l < c.decoder.layers; ++l) {
      std::copy_n(keys.data() + l * per_layer + first, rows, e.cross_keys.data() + l * rows);
      std::copy_n(values.data() + l * per_layer + first, rows, e.cross_values.data() + l * rows);
    }
  }
  return out;
}

void Seq2SeqModel::decode(std::span<const int32_t> tokens, std::span<const DecoderSlot> slots,
                          std::span<const int> logit_rows, std::vector<float>& logits, ThreadPool& pool,
                          Seq2SeqBuffers& buf) const {
  const Seq2SeqConfig& c = config_;
  const int d = c.d_model;
  const int n = static_cast<int>(tokens.size());
  if (n == 0) throw Error("decode: no tokens to process");
  if (slots.size() != tokens.size()) throw Error("decode: one slot per token is required");
  std::vector<int> positions(n);
  for (int t = 0; t < n; ++t) {
    const DecoderSlot& s = slots[t];
    if (!s.kv || !s.source) throw Error("decode: every token needs a cache and a source");
    if (s.pos >= s.kv->capacity()) {
      throw Error(fmt::format("the target is full: {} tokens do not fit a cache of {} tokens", s.pos + 1,
                              s.kv->capacity()));
    }
    positions[t] = s.pos;
  }
  size_buffers(buf, n, d, c.decoder.ffn);
  StackPass pass{c, weights_.decoder, pool, buf, n};
  pass.embed(tokens, positions, c.decoder_vocab_size);

  std::vector<KeyRange> self_ranges(n), cross_ranges(n);
  for (int l = 0; l < c.decoder.layers; ++l) {
    const Seq2SeqLayer& layer = weights_.decoder.layers[l];
    pass.sublayer(layer.self_norm, [&](const float* in, float* out) {
      const blocks::Projection qkv[] = {{&layer.self_attn.q, buf.q.data()},
                                        {&layer.self_attn.k, buf.k.data()},
                                        {&layer.self_attn.v, buf.v.data()}};
      blocks::project(pool, in, n, qkv);
      // All of this step's keys are stored first, so a teacher-forced run of one hypothesis
      // sees its own earlier positions; pos + 1 keys is the causal mask.
      for (int t = 0; t < n; ++t) {
        slots[t].kv->store(l, slots[t].pos, buf.k.data() + static_cast<size_t>(t) * d,
                           buf.v.data() + static_cast<size_t>(t) * d);
        self_ranges[t] = {slots[t].kv->keys(l), slots[t].kv->values(l), slots[t].pos + 1};
      }
      pass.attention(layer.self_attn, c.decoder.heads, buf.q.data(), self_ranges, out);
    });
    pass.sublayer(layer.cross_norm, [&](const float* in, float* out) {
      blocks::project(pool, in, n, layer.cross_attn.q, buf.q.data());
      for (int t = 0; t < n; ++t) {
        const EncodedSource& src = *slots[t].source;
        cross_ranges[t] = {src.keys(l, d), src.values(l, d), src.length};
      }
      pass.attention(layer.cross_attn, c.decoder.heads, buf.q.data(), cross_ranges, out);
    });
    pass.sublayer(layer.ffn_norm, [&](const float* in, float* out) { pass.ffn(layer, c.decoder.ffn, in, out); });
  }
  for (const DecoderSlot& s : slots) s.kv->size_ = std::max(s.kv->size_, s.pos + 1);

  const int rows = static_cast<int>(logit_rows.size());
  if (rows == 0) return;
  // Only the rows asked for go through the final norm and the output layer.
  for (int i = 0; i < rows; ++i) {
    std::copy_n(buf.x.data() + static_cast<size_t>(logit_rows[i]) * d, d, buf.normed.data() + static_cast<size_t>(i) * d);
  }
  if (c.arch.final_norm) {
    blocks::layer_norm_rows(pool, weights_.decoder.final_norm, c.layer_norm_eps, buf.normed.data(), rows, d,
                            buf.normed.data());
  }
  const int vocab = c.decoder_vocab_size;
  if (logits.size() < static_cast<size_t>(rows) * vocab) logits.resize(static_cast<size_t>(rows) * vocab);
  matmul(pool, buf.normed.data(), rows, weights_.lm_head, logits.data());
  if (!weights_.final_logits_bias.empty()) add_bias_rows(logits.data(), weights_.final_logits_bias.data(), rows, vocab);
}

}  // namespace smol
