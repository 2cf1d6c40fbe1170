#include "smol/init_weights.hpp"

#include <fmt/format.h>

#include <fstream>
#include <random>

#include "smol/error.hpp"
#include "smol/half.hpp"
#include "smol/json_file.hpp"
#include "smol/safetensors.hpp"
#include "smol/seq2seq.hpp"

namespace smol {

namespace {

struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
  bool is_norm;       // all ones
  bool zero = false;  // all zeros (biases, final_logits_bias)
  int zero_row = -1;  // an embedding's padding_idx row, zero as nn.Embedding initialises it
};

// BartPreTrainedModel._init_weights (and Marian's, mBART's): Linear and Embedding weights
// ~ normal(0, init_std), biases 0, LayerNorm 1 and 0, the padding row 0, final_logits_bias 0.
// Names as save_pretrained writes them: a shared embedding once as model.shared.weight, no
// lm_head when tied, no sinusoidal tables.
std::vector<TensorSpec> seq2seq_tensor_specs(const Seq2SeqConfig& c) {
  const int64_t d = c.d_model;
  const int pad = c.pad_token_id;
  std::vector<TensorSpec> specs;
  specs.push_back({"final_logits_bias", {1, c.decoder_vocab_size}, false, true});
  if (c.share_embeddings) {
    specs.push_back({"model.shared.weight", {c.vocab_size, d}, false, false, pad});
  } else {
    specs.push_back({"model.encoder.embed_tokens.weight", {c.vocab_size, d}, false, false, pad});
    specs.push_back({"model.decoder.embed_tokens.weight", {c.decoder_vocab_size, d}, false, false, pad});
  }
  auto norm = [&](const std::string& m) {
    specs.push_back({m + ".weight", {d}, true});
    specs.push_back({m + ".bias", {d}, false, true});
  };
  auto linear = [&](const std::string& m, int64_t out, int64_t in) {
    specs.push_back({m + ".weight", {out, in}, false});
    specs.push_back({m + ".bias", {out}, false, true});
  };
  for (const bool encoder : {true, false}) {
    const std::string stack = encoder ? "model.encoder" : "model.decoder";
    const Seq2SeqStack& s = encoder ? c.encoder : c.decoder;
    if (c.arch.positions == PositionKind::Learned) {
      specs.push_back({stack + ".embed_positions.weight", {c.max_position_embeddings + c.arch.position_offset, d}, false});
    }
    for (int l = 0; l < s.layers; ++l) {
      const std::string p = fmt::format("{}.layers.{}.", stack, l);
      for (const char* proj : {"k_proj", "v_proj", "q_proj", "out_proj"}) linear(p + "self_attn." + proj, d, d);
      norm(p + "self_attn_layer_norm");
      if (!encoder) {
        for (const char* proj : {"k_proj", "v_proj", "q_proj", "out_proj"}) linear(p + "encoder_attn." + proj, d, d);
        norm(p + "encoder_attn_layer_norm");
      }
      linear(p + "fc1", s.ffn, d);
      linear(p + "fc2", d, s.ffn);
      norm(p + "final_layer_norm");
    }
    if (c.arch.embedding_norm) norm(stack + ".layernorm_embedding");
    if (c.arch.final_norm) norm(stack + ".layer_norm");
  }
  if (!c.tie_word_embeddings) specs.push_back({"lm_head.weight", {c.decoder_vocab_size, d}, false});
  return specs;
}

std::vector<TensorSpec> tensor_specs(const ModelConfig& c) {
  const int64_t hidden = c.hidden_size, ffn = c.intermediate_size;
  const int64_t q_dim = static_cast<int64_t>(c.num_attention_heads) * c.head_dim;
  const int64_t kv_dim = static_cast<int64_t>(c.num_key_value_heads) * c.head_dim;
  std::vector<TensorSpec> specs = {{"model.embed_tokens.weight", {c.vocab_size, hidden}, false}};
  for (int l = 0; l < c.num_hidden_layers; ++l) {
    const std::string p = fmt::format("model.layers.{}.", l);
    specs.push_back({p + "input_layernorm.weight", {hidden}, true});
    specs.push_back({p + "self_attn.q_proj.weight", {q_dim, hidden}, false});
    specs.push_back({p + "self_attn.k_proj.weight", {kv_dim, hidden}, false});
    specs.push_back({p + "self_attn.v_proj.weight", {kv_dim, hidden}, false});
    specs.push_back({p + "self_attn.o_proj.weight", {hidden, q_dim}, false});
    specs.push_back({p + "post_attention_layernorm.weight", {hidden}, true});
    specs.push_back({p + "mlp.gate_proj.weight", {ffn, hidden}, false});
    specs.push_back({p + "mlp.up_proj.weight", {ffn, hidden}, false});
    specs.push_back({p + "mlp.down_proj.weight", {hidden, ffn}, false});
  }
  specs.push_back({"model.norm.weight", {hidden}, true});
  if (!c.tie_word_embeddings) specs.push_back({"lm_head.weight", {c.vocab_size, hidden}, false});
  return specs;
}

const char* torch_dtype_name(DType dtype) {
  switch (dtype) {
    case DType::F32: return "float32";
    case DType::BF16: return "bfloat16";
    case DType::F16: return "float16";
    default: throw Error(fmt::format("init: dtype {} is not supported (use F32, BF16 or F16)", dtype_name(dtype)));
  }
}

}  // namespace

void init_random_model(const std::filesystem::path& config_path, const std::filesystem::path& out_dir, DType dtype,
                       uint64_t seed) {
  nlohmann::json config_json = read_json_file(config_path);
  std::vector<TensorSpec> specs;
  float init_std = 0.02f;
  if (Seq2SeqConfig::is_seq2seq(config_json)) {
    specs = seq2seq_tensor_specs(Seq2SeqConfig::from_json(config_json, config_path.string()));
    init_std = config_json.value("init_std", 0.02f);
    if (!(init_std > 0.0f)) throw Error(fmt::format("{}: init_std must be positive", config_path.string()));
  } else {
    const ModelConfig config = ModelConfig::from_json(config_json, config_path.string());
    specs = tensor_specs(config);
    init_std = config.initializer_range;
  }
  config_json["torch_dtype"] = torch_dtype_name(dtype);

  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) throw Error(fmt::format("{}: cannot create folder: {}", out_dir.string(), ec.message()));

  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, init_std);
  std::vector<std::vector<float>> f32_data;
  std::vector<std::vector<uint16_t>> u16_data;
  std::vector<TensorView> views;
  for (const auto& spec : specs) {
    int64_t n = 1;
    for (int64_t d : spec.shape) n *= d;
    std::vector<float> values(n);
    for (auto& v : values) v = spec.is_norm ? 1.0f : spec.zero ? 0.0f : normal(rng);
    if (spec.zero_row >= 0 && spec.zero_row < spec.shape[0]) {
      std::fill_n(values.begin() + spec.zero_row * spec.shape[1], spec.shape[1], 0.0f);
    }
    if (dtype == DType::F32) {
      f32_data.push_back(std::move(values));
      views.push_back(tensor_view(spec.name, spec.shape, f32_data.back()));
    } else {
      std::vector<uint16_t> half(n);
      for (int64_t i = 0; i < n; ++i) half[i] = dtype == DType::BF16 ? f32_to_bf16(values[i]) : f32_to_f16(values[i]);
      u16_data.push_back(std::move(half));
      views.push_back(tensor_view(spec.name, dtype, spec.shape, u16_data.back()));
    }
  }
  write_safetensors(out_dir / "model.safetensors", views, {{"format", "pt"}});

  std::ofstream(out_dir / "config.json") << config_json.dump(2) << "\n";
  const auto source_dir = config_path.parent_path();
  for (const char* name : {"generation_config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                           "vocab.json", "merges.txt", "source.spm", "target.spm", "target_vocab.json",
                           "sentencepiece.bpe.model"}) {
    if (std::filesystem::exists(source_dir / name) && !std::filesystem::equivalent(source_dir, out_dir)) {
      std::filesystem::copy_file(source_dir / name, out_dir / name, std::filesystem::copy_options::overwrite_existing);
      // Copies of read-only sources stay writable so a later init can overwrite them.
      std::filesystem::permissions(out_dir / name, std::filesystem::perms::owner_write,
                                   std::filesystem::perm_options::add);
    }
  }
}

}  // namespace smol
