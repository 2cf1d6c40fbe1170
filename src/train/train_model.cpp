// The flat float32 parameter buffer: its layout, loading a checkpoint into it, writing it out.
#include <fmt/format.h>

#include <algorithm>

#include "smol/error.hpp"
#include "smol/half.hpp"
#include "smol/json_file.hpp"
#include "smol/safetensors.hpp"
#include "smol/train_model.hpp"
#include "train/seq2seq_internal.hpp"

namespace smol {

void ParamLayout::add(std::string name, std::vector<int64_t> shape, int depth, bool trainable) {
  ParamTensor t;
  t.name = std::move(name);
  t.shape = std::move(shape);
  t.numel = 1;
  for (int64_t d : t.shape) t.numel *= static_cast<size_t>(d);
  t.offset = size_;
  t.depth = depth;
  t.is_matrix = t.shape.size() >= 2;
  t.trainable = trainable;
  size_ += t.numel;
  tensors_.push_back(std::move(t));
}

const ParamTensor* ParamLayout::find(const std::string& name) const {
  for (const ParamTensor& t : tensors_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

ParamLayout::ParamLayout(const ModelConfig& c) : n_layers_(c.num_hidden_layers), tied_(c.tie_word_embeddings) {
  const int64_t hidden = c.hidden_size, ffn = c.intermediate_size;
  const int64_t q_dim = static_cast<int64_t>(c.num_attention_heads) * c.head_dim;
  const int64_t kv_dim = static_cast<int64_t>(c.num_key_value_heads) * c.head_dim;
  const int L = c.num_hidden_layers;
  add("model.embed_tokens.weight", {c.vocab_size, hidden}, -1);
  for (int l = 0; l < L; ++l) {
    const std::string p = fmt::format("model.layers.{}.", l);
    add(p + "input_layernorm.weight", {hidden}, l);
    add(p + "self_attn.q_proj.weight", {q_dim, hidden}, l);
    add(p + "self_attn.k_proj.weight", {kv_dim, hidden}, l);
    add(p + "self_attn.v_proj.weight", {kv_dim, hidden}, l);
    add(p + "self_attn.o_proj.weight", {hidden, q_dim}, l);
    add(p + "post_attention_layernorm.weight", {hidden}, l);
    add(p + "mlp.gate_proj.weight", {ffn, hidden}, l);
    add(p + "mlp.up_proj.weight", {ffn, hidden}, l);
    add(p + "mlp.down_proj.weight", {hidden, ffn}, l);
  }
  add("model.norm.weight", {hidden}, L);
  if (!c.tie_word_embeddings) add("lm_head.weight", {c.vocab_size, hidden}, L);
}

template <typename T>
BasicParamPtrs<T> ParamLayout::bind(T* base) const {
  // Follows the order the constructor added the tensors in.
  BasicParamPtrs<T> p;
  if (arch_ == TrainArch::EncoderDecoder) {
    p.seq2seq = bind_seq2seq(base);
    return p;
  }
  size_t i = 0;
  auto next = [&] { return base + tensors_[i++].offset; };
  p.embed = next();
  p.layers.resize(n_layers_);
  for (auto& l : p.layers) {
    l.attn_norm = next();
    l.q = next();
    l.k = next();
    l.v = next();
    l.o = next();
    l.mlp_norm = next();
    l.gate = next();
    l.up = next();
    l.down = next();
  }
  p.final_norm = next();
  p.lm_head = tied_ ? p.embed : next();
  return p;
}
template BasicParamPtrs<float> ParamLayout::bind<float>(float*) const;
template BasicParamPtrs<double> ParamLayout::bind<double>(double*) const;

namespace {

void widen(const TensorView& t, float* out) {
  const int64_t n = t.numel();
  switch (t.dtype) {
    case DType::F32: std::copy(t.f32(), t.f32() + n, out); return;
    case DType::BF16:
      for (int64_t i = 0; i < n; ++i) out[i] = bf16_to_f32(t.u16()[i]);
      return;
    case DType::F16:
      for (int64_t i = 0; i < n; ++i) out[i] = f16_to_f32(t.u16()[i]);
      return;
    default:
      throw Error(fmt::format("tensor {} has dtype {}; training reads F32, BF16 or F16", t.name, dtype_name(t.dtype)));
  }
}

}  // namespace

TrainModel TrainModel::load(const std::filesystem::path& folder) {
  TrainModel m;
  m.config_json = read_json_file(folder / "config.json");
  if (Seq2SeqConfig::is_seq2seq(m.config_json)) {
    m.arch = TrainArch::EncoderDecoder;
    m.seq2seq = Seq2SeqConfig::from_json(m.config_json, (folder / "config.json").string());
    m.layout = ParamLayout(m.seq2seq);
    m.params.assign(m.layout.size(), 0.0f);
    const TensorStore store = TensorStore::open_folder(folder);
    for (const ParamTensor& t : m.layout.tensors()) {
      const TensorView* view = nullptr;
      for (const std::string& name : seq2seq_stored_names(m.seq2seq, t.name)) {
        if ((view = store.find(name))) break;
      }
      if (!view) {
        if (t.name == "final_logits_bias") continue;  // transformers registers it as zeros
        throw Error(fmt::format("{}: tensor {} is missing", folder.string(), t.name));
      }
      if (view->shape != t.shape) {
        throw Error(fmt::format("{}: tensor {} has shape [{}], expected [{}] from config.json", folder.string(),
                                view->name, fmt::join(view->shape, ", "), fmt::join(t.shape, ", ")));
      }
      widen(*view, m.params.data() + t.offset);
    }
    return m;
  }
  m.config = ModelConfig::from_folder(folder);
  if (m.config.head_dim % 2 != 0) throw Error(fmt::format("{}: head_dim must be even for RoPE", folder.string()));
  m.layout = ParamLayout(m.config);
  m.params.assign(m.layout.size(), 0.0f);
  const TensorStore store = TensorStore::open_folder(folder);
  for (const ParamTensor& t : m.layout.tensors()) {
    const TensorView& view = store.get(t.name);
    if (view.shape != t.shape) {
      throw Error(fmt::format("{}: tensor {} has shape [{}], expected [{}] from config.json", folder.string(), t.name,
                              fmt::join(view.shape, ", "), fmt::join(t.shape, ", ")));
    }
    widen(view, m.params.data() + t.offset);
  }
  return m;
}

void TrainModel::write_weights(const std::filesystem::path& file, DType dtype,
                               const std::map<std::string, std::string>& metadata) const {
  std::vector<TensorView> views;
  std::vector<std::vector<uint16_t>> halves;
  halves.reserve(layout.tensors().size());
  for (const ParamTensor& t : layout.tensors()) {
    const float* src = params.data() + t.offset;
    if (dtype == DType::F32) {
      views.push_back(tensor_view(t.name, t.shape, std::span<const float>(src, t.numel)));
    } else if (dtype == DType::BF16 || dtype == DType::F16) {
      std::vector<uint16_t> h(t.numel);
      for (size_t i = 0; i < t.numel; ++i) h[i] = dtype == DType::BF16 ? f32_to_bf16(src[i]) : f32_to_f16(src[i]);
      halves.push_back(std::move(h));
      views.push_back(tensor_view(t.name, dtype, t.shape, halves.back()));
    } else {
      throw Error(fmt::format("cannot save weights as {} (use F32, BF16 or F16)", dtype_name(dtype)));
    }
  }
  write_safetensors(file, views, metadata);
}

}  // namespace smol
