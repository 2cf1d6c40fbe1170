// Binds a BART-family checkpoint's tensors to Seq2SeqWeights through the name table, and
// converts matrices to another weight type once at load time (--weights).
#include <fmt/format.h>

#include "model/arch_tables.hpp"
#include "model/bind_weights.hpp"
#include "smol/error.hpp"
#include "smol/seq2seq.hpp"

namespace smol {
namespace {

using Names = arch::BartNames;

struct Binder {
  const TensorLookup& find;
  const std::string& source;
  int64_t d;

  Linear linear(const std::string& module, int64_t rows, int64_t cols) const {
    Linear l;
    l.w = bind_matrix(find, module + ".weight", rows, cols, source);
    if (find(module + ".bias")) l.bias = bind_vector(find, module + ".bias", rows, source);
    return l;
  }
  Norm norm(const std::string& module) const {
    return {bind_vector(find, module + ".weight", d, source), bind_vector(find, module + ".bias", d, source)};
  }
  AttentionWeights attention(const std::string& module) const {
    const std::string p = module + ".";
    return {linear(p + Names::q, d, d), linear(p + Names::k, d, d), linear(p + Names::v, d, d),
            linear(p + Names::o, d, d)};
  }
  // The first of `names` the checkpoint has: tied embeddings are saved under one of their names.
  MatrixView first_matrix(std::initializer_list<std::string> names, int64_t rows) const {
    for (const std::string& n : names) {
      if (find(n)) return bind_matrix(find, n, rows, d, source);
    }
    throw Error(fmt::format("{}: tensor {} is missing", source, *names.begin()));
  }
};

Seq2SeqStackWeights bind_stack(const Seq2SeqConfig& c, const Binder& b, bool encoder, MatrixView embed) {
  Seq2SeqStackWeights s;
  s.embed = embed;
  const Seq2SeqStack& stack = encoder ? c.encoder : c.decoder;
  if (c.arch.positions == PositionKind::Learned) {
    s.positions = bind_matrix(b.find, Names::stack(encoder, Names::positions),
                              c.max_position_embeddings + c.arch.position_offset, c.d_model, b.source);
  }
  if (c.arch.embedding_norm) s.embedding_norm = b.norm(Names::stack(encoder, Names::embedding_norm));
  for (int l = 0; l < stack.layers; ++l) {
    Seq2SeqLayer layer;
    layer.self_norm = b.norm(Names::layer(encoder, l, Names::self_norm));
    layer.self_attn = b.attention(Names::layer(encoder, l, Names::self_attn));
    if (!encoder) {
      layer.cross_norm = b.norm(Names::layer(encoder, l, Names::cross_norm));
      layer.cross_attn = b.attention(Names::layer(encoder, l, Names::cross_attn));
    }
    layer.ffn_norm = b.norm(Names::layer(encoder, l, Names::ffn_norm));
    layer.fc1 = b.linear(Names::layer(encoder, l, Names::fc1), stack.ffn, c.d_model);
    layer.fc2 = b.linear(Names::layer(encoder, l, Names::fc2), c.d_model, stack.ffn);
    s.layers.push_back(std::move(layer));
  }
  if (c.arch.final_norm) s.final_norm = b.norm(Names::stack(encoder, Names::final_norm));
  return s;
}

}  // namespace

Seq2SeqWeights bind_seq2seq_weights(const Seq2SeqConfig& c, const TensorLookup& find, const std::string& source) {
  const Binder b{find, source, c.d_model};
  const std::string enc_embed = Names::stack(true, Names::embed), dec_embed = Names::stack(false, Names::embed);
  Seq2SeqWeights w;
  MatrixView encoder_embed, decoder_embed;
  if (c.share_embeddings) {
    // One embedding (weight sharing): saved once, under whichever name the writer kept.
    encoder_embed = b.first_matrix({Names::shared, enc_embed, dec_embed}, c.vocab_size);
    decoder_embed = encoder_embed;
  } else {
    encoder_embed = b.first_matrix({enc_embed, Names::shared}, c.vocab_size);
    decoder_embed = b.first_matrix({dec_embed}, c.decoder_vocab_size);
  }
  w.encoder = bind_stack(c, b, true, encoder_embed);
  w.decoder = bind_stack(c, b, false, decoder_embed);
  // transformers ties lm_head to the decoder's input embedding and ignores a stored copy.
  w.lm_head = c.tie_word_embeddings ? decoder_embed : b.first_matrix({Names::lm_head}, c.decoder_vocab_size);
  if (const TensorView* bias = find(Names::final_logits_bias)) {
    const std::vector<int64_t> expected = {1, c.decoder_vocab_size};
    if (bias->shape != expected) {
      throw Error(fmt::format("{}: tensor final_logits_bias has the wrong shape (expected [1, {}])", source,
                              c.decoder_vocab_size));
    }
    TensorView flat = *bias;
    flat.shape = {c.decoder_vocab_size};
    const TensorLookup one = [&](const std::string& name) { return name == "final_logits_bias" ? &flat : nullptr; };
    w.final_logits_bias = bind_vector(one, "final_logits_bias", c.decoder_vocab_size, source);
  }
  return w;
}

}  // namespace smol
