// Writing a model as GGUF for llama.cpp (and smol): llama metadata, tokenizer metadata and
// tensors in the requested type, Q/K rows permuted into llama.cpp's rotary order.
#include <array>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

#include "convert/convert_source.hpp"
#include "smol/error.hpp"
#include "smol/gguf.hpp"
#include "smol/json_file.hpp"
#include "smol/thread_pool.hpp"

namespace smol {

void write_hf_folder(const ConvertSource& source, const std::filesystem::path& out, ConvertType type,
                     ThreadPool& pool, std::vector<ConvertedTensor>& written);

namespace {

struct TypeInfo {
  ConvertType type;
  std::string_view name;
  DType dtype;
  uint32_t file_type;  // llama.cpp's llama_ftype
};

constexpr std::array<TypeInfo, 6> kTypes{{
    {ConvertType::F32, "f32", DType::F32, 0},
    {ConvertType::F16, "f16", DType::F16, 1},
    {ConvertType::BF16, "bf16", DType::BF16, 32},
    {ConvertType::Q8_0, "q8_0", DType::Q8_0, 7},
    {ConvertType::Q4_0, "q4_0", DType::Q4_0, 2},
    {ConvertType::Q4_K, "q4_k", DType::Q4_K, 14},  // MOSTLY_Q4_K_S: no Q4_K_M-style Q6_K mix
}};

const TypeInfo& info(ConvertType type) {
  for (const auto& t : kTypes) {
    if (t.type == type) return t;
  }
  return kTypes[0];
}

// The next type down when a matrix's columns do not fit the block size.
DType fallback(DType dtype) {
  switch (dtype) {
    case DType::Q4_K: return DType::Q4_0;
    case DType::Q6_K: return DType::Q8_0;
    default: return DType::F16;
  }
}

// tokenizer.json and tokenizer_config.json of a folder (the chat template may sit beside them
// in chat_template.jinja, as newer transformers save it).
void set_tokenizer_from_folder(GgufMetadata& m, const ConvertSource& source) {
  const auto dir = source.path;
  const nlohmann::json tok = read_json_file(dir / "tokenizer.json");
  nlohmann::json tok_config = std::filesystem::exists(dir / "tokenizer_config.json")
                                  ? read_json_file(dir / "tokenizer_config.json")
                                  : nlohmann::json::object();
  if (tok_config.is_object() && !tok_config.contains("chat_template") && std::filesystem::exists(dir / "chat_template.jinja")) {
    std::ifstream in(dir / "chat_template.jinja", std::ios::binary);
    tok_config["chat_template"] = std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  set_gguf_tokenizer(m, tok, tok_config, source.config, dir.string());
}

GgufMetadata gguf_metadata(const ConvertSource& source, ConvertType type) {
  GgufMetadata m;
  m.set("general.architecture", GgufValue::string("llama"));
  m.set("general.type", GgufValue::string("model"));
  m.set("general.name", GgufValue::string(source.name));
  m.set("general.file_type", GgufValue::u32(info(type).file_type));
  if (is_block_dtype(info(type).dtype)) m.set("general.quantization_version", GgufValue::u32(2));
  m.set("general.alignment", GgufValue::u32(32));
  set_llama_metadata(m, source.config);
  if (source.gguf) {
    for (const auto& [key, value] : source.gguf->file.metadata().entries()) {
      if (key.starts_with("tokenizer.")) m.set(key, value);
    }
  } else {
    set_tokenizer_from_folder(m, source);
  }
  return m;
}

// GGUF row r of a Q/K matrix comes from Hugging Face row hf_row[r].
std::vector<int64_t> qk_row_order(int64_t n_heads, int64_t head_dim) {
  std::vector<int64_t> order(n_heads * head_dim);
  const int64_t half = head_dim / 2;
  for (int64_t h = 0; h < n_heads; ++h) {
    for (int64_t j = 0; j < half; ++j) {
      for (int64_t i = 0; i < 2; ++i) order[h * head_dim + 2 * j + i] = h * head_dim + i * half + j;
    }
  }
  return order;
}

void write_gguf_model(const ConvertSource& source, const std::filesystem::path& out, ConvertType type,
                      ThreadPool& pool, std::vector<ConvertedTensor>& written) {
  const ModelConfig& c = source.config;
  const GgufMetadata metadata = gguf_metadata(source, type);
  const auto q_order = std::make_shared<std::vector<int64_t>>(qk_row_order(c.num_attention_heads, c.head_dim));
  const auto k_order = std::make_shared<std::vector<int64_t>>(qk_row_order(c.num_key_value_heads, c.head_dim));

  std::vector<GgufTensorToWrite> tensors;
  for (const std::string& hf_name : hf_tensor_names(c)) {
    const TensorView& src = source.get(hf_name);
    const std::string name = *gguf_tensor_name(hf_name);
    const int64_t cols = src.shape.empty() ? 1 : src.shape.back();
    const int64_t rows = src.shape.size() == 2 ? src.shape[0] : 1;
    const DType dtype = src.shape.size() == 1 ? DType::F32 : convert_dtype(type, name, rows, cols);
    std::shared_ptr<std::vector<int64_t>> order;
    if (name.ends_with(".attn_q.weight")) order = q_order;
    if (name.ends_with(".attn_k.weight")) order = k_order;
    if (order && src.shape != std::vector<int64_t>{static_cast<int64_t>(order->size()), c.hidden_size}) {
      throw Error(fmt::format("{}: tensor {} has an unexpected shape", source.path.string(), hf_name));
    }
    GgufTensorToWrite t;
    t.name = name;
    t.dtype = dtype;
    t.shape = src.shape;
    t.fill = [&src, dtype, order, &pool](std::span<std::byte> bytes) {
      convert_rows(src, dtype, order ? std::span<const int64_t>(*order) : std::span<const int64_t>(), bytes, pool);
    };
    written.push_back({name, dtype, *tensor_bytes(dtype, src.shape)});
    tensors.push_back(std::move(t));
  }
  write_gguf(out, metadata, tensors);
}

}  // namespace

std::optional<ConvertType> parse_convert_type(std::string_view name) {
  for (const auto& t : kTypes) {
    if (t.name == name) return t.type;
  }
  return std::nullopt;
}

std::string_view convert_type_name(ConvertType type) { return info(type).name; }

DType convert_dtype(ConvertType type, std::string_view gguf_name, int64_t rows, int64_t cols) {
  DType dtype = info(type).dtype;
  const bool embedding = gguf_name == "token_embd.weight" || gguf_name == "output.weight";
  if (embedding && (type == ConvertType::Q4_0 || type == ConvertType::Q4_K)) dtype = DType::Q6_K;
  while (cols % static_cast<int64_t>(dtype_block_elements(dtype)) != 0) dtype = fallback(dtype);
  return dtype;
}

std::vector<ConvertedTensor> convert_model(const std::filesystem::path& in, const std::filesystem::path& out,
                                           const ConvertOptions& options) {
  std::error_code ec;
  if (std::filesystem::exists(out, ec) && std::filesystem::exists(in, ec) && std::filesystem::equivalent(in, out, ec)) {
    throw Error(fmt::format("{}: the output would overwrite the input", out.string()));
  }
  const ConvertSource source = ConvertSource::open(in);
  ThreadPool pool(std::max(1, options.threads));
  std::vector<ConvertedTensor> written;
  if (out.extension() == ".gguf") {
    write_gguf_model(source, out, options.type, pool, written);
  } else {
    write_hf_folder(source, out, options.type, pool, written);
  }
  return written;
}

}  // namespace smol
