// config.json of an encoder-decoder checkpoint -> Seq2SeqConfig. The defaults are those of
// transformers' BartConfig, MBartConfig and MarianConfig, so a config.json that leaves a key
// out means what it means there.
#include <algorithm>
#include <array>
#include <string_view>

#include <fmt/format.h>

#include "formats/json_reader.hpp"
#include "smol/error.hpp"
#include "smol/json_file.hpp"
#include "smol/seq2seq.hpp"

namespace smol {
namespace {

using nlohmann::json;

// Encoder-decoders whose modeling files differ from BART's in ways this engine does not
// compute (relative position buckets, gated FFNs, local attention...).
constexpr std::array<std::string_view, 14> kOtherSeq2Seq = {
    "t5", "mt5", "umt5", "longt5", "pegasus", "pegasus_x", "led", "m2m_100", "nllb-moe", "fsmt",
    "prophetnet", "blenderbot", "blenderbot-small", "plbart"};

Seq2SeqArch arch_for(const std::string& family) {
  Seq2SeqArch a;
  a.family = family;
  if (family == "marian") {
    a.positions = PositionKind::Sinusoidal;  // MarianSinusoidalPositionalEmbedding, no offset
  } else {
    a.positions = PositionKind::Learned;     // Bart/MBartLearnedPositionalEmbedding
    a.position_offset = 2;
    a.embedding_norm = true;                 // layernorm_embedding
  }
  if (family == "mbart") {
    a.pre_norm = true;
    a.final_norm = true;                     // encoder.layer_norm, decoder.layer_norm
  }
  return a;
}

Activation activation_for(const JsonReader& r) {
  const std::string name = r.string("activation_function", "gelu");
  if (name == "gelu") return Activation::GELU;
  if (name == "relu") return Activation::ReLU;
  if (name == "silu" || name == "swish") return Activation::SiLU;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast") return Activation::GELUTanh;
  r.fail("activation_function", fmt::format("'{}' is not supported (gelu, gelu_new, relu, silu/swish)", name));
}

}  // namespace

bool Seq2SeqConfig::is_seq2seq(const json& config) {
  if (!config.is_object()) return false;
  const auto it = config.find("model_type");
  if (it != config.end() && it->is_string()) {
    const auto& t = it->get_ref<const std::string&>();
    if (t == "bart" || t == "mbart" || t == "marian") return true;
    if (std::find(kOtherSeq2Seq.begin(), kOtherSeq2Seq.end(), t) != kOtherSeq2Seq.end()) return true;
  }
  const auto enc = config.find("is_encoder_decoder");
  return enc != config.end() && enc->is_boolean() && enc->get<bool>();
}

Seq2SeqConfig Seq2SeqConfig::from_json(const json& config, const std::string& source_name) {
  if (!config.is_object()) throw Error(fmt::format("{}: must be a JSON object", source_name));
  const JsonReader r(config, source_name);
  Seq2SeqConfig c;
  c.model_type = r.string("model_type", "");
  if (c.model_type != "bart" && c.model_type != "mbart" && c.model_type != "marian") {
    if (c.model_type.empty()) r.fail("model_type", "is missing (supported encoder-decoders: bart, mbart, marian)");
    r.fail("model_type", fmt::format("'{}' is an encoder-decoder smol does not run (supported: bart, mbart, marian)",
                                     c.model_type));
  }
  c.arch = arch_for(c.model_type);
  const bool marian = c.model_type == "marian";
  c.d_model = r.optional_positive("d_model", marian ? 512 : 1024);
  c.encoder.layers = r.optional_positive("encoder_layers", marian ? 6 : 12);
  c.decoder.layers = r.optional_positive("decoder_layers", marian ? 6 : 12);
  c.encoder.heads = r.optional_positive("encoder_attention_heads", marian ? 8 : 16);
  c.decoder.heads = r.optional_positive("decoder_attention_heads", marian ? 8 : 16);
  c.encoder.ffn = r.optional_positive("encoder_ffn_dim", marian ? 2048 : 4096);
  c.decoder.ffn = r.optional_positive("decoder_ffn_dim", marian ? 2048 : 4096);
  c.vocab_size = r.optional_positive("vocab_size", marian ? 58101 : (c.model_type == "bart" ? 50265 : 50265));
  c.decoder_vocab_size = marian ? r.optional_positive("decoder_vocab_size", c.vocab_size) : c.vocab_size;
  c.max_position_embeddings = r.optional_positive("max_position_embeddings", 1024);
  c.activation = activation_for(r);
  c.scale_embedding = r.boolean("scale_embedding", false);
  c.tie_word_embeddings = r.boolean("tie_word_embeddings", true);
  c.share_embeddings = marian ? r.boolean("share_encoder_decoder_embeddings", true) : true;
  if (c.share_embeddings && c.decoder_vocab_size != c.vocab_size) {
    r.fail("decoder_vocab_size", fmt::format("{} differs from vocab_size {}, but the embeddings are shared",
                                             c.decoder_vocab_size, c.vocab_size));
  }
  for (const auto* stack : {&c.encoder, &c.decoder}) {
    if (c.d_model % stack->heads != 0) {
      r.fail(stack == &c.encoder ? "encoder_attention_heads" : "decoder_attention_heads",
             fmt::format("{} does not divide d_model {}", stack->heads, c.d_model));
    }
  }
  c.pad_token_id = r.has("pad_token_id") ? r.optional_token_id("pad_token_id") : (marian ? 58100 : 1);
  c.bos_token_id = r.has("bos_token_id") ? r.optional_token_id("bos_token_id") : (marian ? -1 : 0);
  c.eos_token_id = r.has("eos_token_id") ? r.optional_token_id("eos_token_id") : (marian ? 0 : 2);
  c.decoder_start_token_id = r.has("decoder_start_token_id") ? r.optional_token_id("decoder_start_token_id")
                                                             : (marian ? c.pad_token_id : 2);
  c.torch_dtype = r.string("torch_dtype", "");
  return c;
}

Seq2SeqConfig Seq2SeqConfig::from_folder(const std::filesystem::path& dir) {
  const std::filesystem::path path = dir / "config.json";
  return from_json(read_json_file(path), path.string());
}

KvView EncodedSource::keys(int layer, int d_model) const {
  return {WeightType::F32, cross_keys.data() + static_cast<size_t>(layer) * length * d_model,
          static_cast<size_t>(d_model)};
}

KvView EncodedSource::values(int layer, int d_model) const {
  return {WeightType::F32, cross_values.data() + static_cast<size_t>(layer) * length * d_model,
          static_cast<size_t>(d_model)};
}

}  // namespace smol
