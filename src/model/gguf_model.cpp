// Loading a llama-architecture GGUF: config from metadata, tensors renamed to Hugging Face's
// names, Q/K rows put back into rotate_half order.
#include "model/gguf_model.hpp"

#include <cstring>

#include <fmt/format.h>

#include "model/bind_weights.hpp"
#include "smol/error.hpp"
#include "smol/model.hpp"
#include "smol/quant.hpp"

namespace smol {
namespace {

// Copies Q or K out of llama.cpp's adjacent-pair row order. A tensor of the wrong shape is
// left as it is for bind_weights to report.
void unpermute(GgufWeights& w, TensorView& view, int64_t n_heads) {
  const int64_t head_dim = w.config.head_dim;
  if (view.shape.size() != 2 || view.shape[0] != n_heads * head_dim || view.nbytes % view.shape[0] != 0) return;
  const size_t row_bytes = view.nbytes / static_cast<size_t>(view.shape[0]);
  // Moving the outer vector later keeps each copy's buffer, so the view stays valid.
  auto& copy = w.repacked.emplace_back(view.nbytes);
  permute_qk_rows(view.data, copy.data(), n_heads, head_dim, row_bytes, QkOrder::GgufToHf);
  view.data = copy.data();
}

// Q5_0 (ggml's block_q5_0: f16 d, 32 high bits, 16 bytes of low nibbles; x = d * (q - 16))
// is exactly a Q8_0 block with the same d and qs = q - 16, so those tensors are repacked and
// run on the Q8_0 kernels, at 34 instead of 22 bytes per 32 weights.
void repack_q5_0(GgufWeights& w, TensorView& view) {
  struct BlockQ5_0 {
    uint16_t d;
    uint8_t qh[4];
    uint8_t qs[16];
  };
  static_assert(sizeof(BlockQ5_0) == 22);
  const size_t blocks = view.nbytes / sizeof(BlockQ5_0);
  auto& copy = w.repacked.emplace_back(blocks * sizeof(BlockQ8_0));
  auto* out = reinterpret_cast<BlockQ8_0*>(copy.data());
  for (size_t b = 0; b < blocks; ++b) {
    BlockQ5_0 in;
    std::memcpy(&in, view.data + b * sizeof(BlockQ5_0), sizeof(in));
    uint32_t qh;
    std::memcpy(&qh, in.qh, sizeof(qh));
    out[b].d = in.d;
    for (int j = 0; j < 16; ++j) {
      const int high0 = ((qh >> j) << 4) & 0x10;
      const int high1 = (qh >> (j + 12)) & 0x10;
      out[b].qs[j] = static_cast<int8_t>(((in.qs[j] & 0x0f) | high0) - 16);
      out[b].qs[j + 16] = static_cast<int8_t>(((in.qs[j] >> 4) | high1) - 16);
    }
  }
  view.dtype = DType::Q8_0;
  view.data = copy.data();
  view.nbytes = copy.size();
}

}  // namespace

std::shared_ptr<const GgufWeights> open_gguf_weights(const std::filesystem::path& path, LoadMode mode) {
  auto w = std::make_shared<GgufWeights>();
  w->file = GgufFile::open(path, mode);
  w->config = llama_config_from_gguf(w->file);
  for (const TensorView& t : w->file.tensors()) {
    const auto name = hf_tensor_name(t.name);
    if (!name) {
      throw Error(fmt::format("{}: tensor '{}' is not part of the llama architecture smol runs", path.string(), t.name));
    }
    TensorView view = t;
    view.name = *name;
    if (view.dtype == DType::Q5_0) repack_q5_0(*w, view);
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
