#include "convert/convert_source.hpp"

#include <cstring>

#include <fmt/format.h>

#include "smol/error.hpp"
#include "smol/json_file.hpp"
#include "smol/quant.hpp"
#include "smol/seq2seq.hpp"
#include "smol/thread_pool.hpp"

namespace smol {
namespace {

WeightType weight_type(DType dtype, const std::string& tensor) {
  switch (dtype) {
    case DType::F32: return WeightType::F32;
    case DType::F16: return WeightType::F16;
    case DType::BF16: return WeightType::BF16;
    case DType::Q8_0: return WeightType::Q8_0;
    case DType::Q4_0: return WeightType::Q4_0;
    case DType::Q4_K: return WeightType::Q4_K;
    case DType::Q6_K: return WeightType::Q6_K;
    default: throw Error(fmt::format("tensor {}: dtype {} cannot be converted", tensor, dtype_name(dtype)));
  }
}

}  // namespace

ConvertSource ConvertSource::open(const std::filesystem::path& path) {
  ConvertSource s;
  s.path = path;
  if (std::filesystem::is_regular_file(path)) {
    s.gguf = open_gguf_weights(path, LoadMode::Map);
    s.config = s.gguf->config;
    s.name = s.gguf->file.metadata().get_string("general.name", path.string()).value_or(path.stem().string());
  } else {
    if (std::filesystem::exists(path / "config.json") && Seq2SeqConfig::is_seq2seq(read_json_file(path / "config.json"))) {
      // llama.cpp has no BART/Marian architecture to load such a GGUF into.
      throw Error(path.string() +
                  ": is an encoder-decoder model; GGUF export supports decoder-only (Llama) models only. "
                  "For quantized speed use --weights q8_0 when running it");
    }
    s.config = ModelConfig::from_folder(path);
    s.store = TensorStore::open_folder(path);
    s.name = std::filesystem::absolute(path).lexically_normal().filename().string();
    if (s.name.empty()) s.name = std::filesystem::absolute(path).lexically_normal().parent_path().filename().string();
  }
  return s;
}

const TensorView& ConvertSource::get(const std::string& hf_name) const {
  const TensorView* t = nullptr;
  if (gguf) {
    const auto it = gguf->by_hf_name.find(hf_name);
    if (it != gguf->by_hf_name.end()) t = &it->second;
  } else {
    t = store.find(hf_name);
  }
  if (!t) throw Error(fmt::format("{}: tensor {} is missing", path.string(), hf_name));
  return *t;
}

std::vector<std::string> hf_tensor_names(const ModelConfig& c) {
  std::vector<std::string> names = {"model.embed_tokens.weight"};
  for (int l = 0; l < c.num_hidden_layers; ++l) {
    for (const char* part : {"input_layernorm", "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                             "self_attn.o_proj", "post_attention_layernorm", "mlp.gate_proj", "mlp.up_proj",
                             "mlp.down_proj"}) {
      names.push_back(fmt::format("model.layers.{}.{}.weight", l, part));
    }
  }
  names.push_back("model.norm.weight");
  if (!c.tie_word_embeddings) names.push_back("lm_head.weight");
  return names;
}

void convert_rows(const TensorView& src, DType dtype, std::span<const int64_t> row_order, std::span<std::byte> out,
                  ThreadPool& pool) {
  const int64_t cols = src.shape.empty() ? 1 : src.shape.back();
  const int64_t rows = cols == 0 ? 0 : src.numel() / cols;
  const WeightType from = weight_type(src.dtype, src.name);
  const WeightType to = weight_type(dtype, src.name);
  const auto in_row = static_cast<size_t>(row_bytes(from, cols));
  const auto out_row = static_cast<size_t>(row_bytes(to, cols));
  if (out.size() != out_row * rows || src.nbytes != in_row * rows) {
    throw Error(fmt::format("tensor {}: size mismatch while converting", src.name));
  }
  if (!row_order.empty() && static_cast<int64_t>(row_order.size()) != rows) {
    throw Error(fmt::format("tensor {}: row order covers {} of {} rows", src.name, row_order.size(), rows));
  }
  pool.parallel_for(static_cast<size_t>(rows), [&](size_t begin, size_t end) {
    std::vector<float> buffer(from == to ? 0 : cols);
    for (size_t r = begin; r < end; ++r) {
      const int64_t source_row = row_order.empty() ? static_cast<int64_t>(r) : row_order[r];
      const std::byte* in = src.data + source_row * in_row;
      std::byte* dst = out.data() + r * out_row;
      if (from == to) {
        std::memcpy(dst, in, out_row);
      } else {
        dequantize_row(from, in, buffer.data(), cols);
        quantize_row(to, buffer.data(), dst, cols);
      }
    }
  });
}

}  // namespace smol
