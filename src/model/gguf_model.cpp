// Loading a llama-architecture GGUF: config from metadata, tensors renamed to Hugging Face's
// names, Q/K rows put back into rotate_half order.
#include "model/gguf_model.hpp"

#include <fmt/format.h>

#include "model/bind_weights.hpp"
#include "smol/error.hpp"
#include "smol/model.hpp"

namespace smol {
namespace {

// Copies Q or K out of llama.cpp's adjacent-pair row order. A tensor of the wrong shape is
// left as it is for bind_weights to report.
void unpermute(GgufWeights& w, TensorView& view, int64_t n_heads) {
  const int64_t head_dim = w.config.head_dim;
  if (view.shape.size() != 2 || view.shape[0] != n_heads * head_dim || view.nbytes % view.shape[0] != 0) return;
  const size_t row_bytes = view.nbytes / static_cast<size_t>(view.shape[0]);
  // Moving the outer vector later keeps each copy's buffer, so the view stays valid.
  auto& copy = w.unpermuted.emplace_back(view.nbytes);
  permute_qk_rows(view.data, copy.data(), n_heads, head_dim, row_bytes, QkOrder::GgufToHf);
  view.data = copy.data();
}

}  // namespace

std::shared_ptr<const GgufWeights> open_gguf_weights(const std::filesystem::path& path) {
  auto w = std::make_shared<GgufWeights>();
  w->file = GgufFile::open(path);
  w->config = llama_config_from_gguf(w->file);
  for (const TensorView& t : w->file.tensors()) {
    const auto name = hf_tensor_name(t.name);
    if (!name) {
      throw Error(fmt::format("{}: tensor '{}' is not part of the llama architecture smol runs", path.string(), t.name));
    }
    TensorView view = t;
    view.name = *name;
    if (t.name.ends_with(".attn_q.weight")) unpermute(*w, view, w->config.num_attention_heads);
    if (t.name.ends_with(".attn_k.weight")) unpermute(*w, view, w->config.num_key_value_heads);
    w->by_hf_name.emplace(*name, std::move(view));
  }
  return w;
}

Model::Model(ModelConfig config, std::shared_ptr<const GgufWeights> gguf, const std::string& source)
    : config_(std::move(config)), gguf_(std::move(gguf)) {
  const auto& tensors = gguf_->by_hf_name;
  weights_ = bind_weights(
      config_,
      [&tensors](const std::string& name) -> const TensorView* {
        const auto it = tensors.find(name);
        return it == tensors.end() ? nullptr : &it->second;
      },
      source);
}

const GgufFile* Model::gguf() const { return gguf_ ? &gguf_->file : nullptr; }

}  // namespace smol
