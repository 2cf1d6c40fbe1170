#pragma once
// GGUF files, llama.cpp's model format (github.com/ggml-org/ggml docs/gguf.md), versions 2 and
// 3: a header of typed key/value metadata and tensor infos, then tensor data, each tensor
// aligned to `general.alignment` (default 32) from the start of the data section. Files are
// memory-mapped; TensorViews point into the mapping (valid while the GgufFile lives).
//
// GGUF lists dimensions innermost first (ne[0] = columns); TensorView::shape here is in the
// usual row-major order (rows, cols), i.e. ne reversed, so views read like safetensors ones.
//
// The second half of this header is the Llama architecture's conventions in GGUF (what
// llama.cpp's convert_hf_to_gguf.py writes): metadata <-> ModelConfig, tensor names, the
// Q/K row permutation, and the tokenizer as `tokenizer.ggml.*` metadata.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "smol/dtype.hpp"
#include "smol/mapped_file.hpp"
#include "smol/model_config.hpp"
#include "smol/safetensors.hpp"

namespace smol {

// ---- Tensor types --------------------------------------------------------------------------

// GGML type ids of the tensor types smol reads and writes.
enum class GgmlType : uint32_t { F32 = 0, F16 = 1, Q4_0 = 2, Q5_0 = 6, Q8_0 = 8, Q4_K = 12, Q6_K = 14, BF16 = 30 };

std::optional<DType> dtype_from_ggml(uint32_t ggml_type);  // nullopt for types smol lacks
GgmlType ggml_type_from_dtype(DType dtype);                 // throws smol::Error for I32, BOOL, ...
std::string ggml_type_name(uint32_t ggml_type);             // "Q5_1", or "type 99" if unknown

// Bytes of a tensor of `shape` (row-major) in `dtype`; nullopt when the innermost dimension is
// not a whole number of blocks, a dimension is negative, or the size overflows.
std::optional<uint64_t> tensor_bytes(DType dtype, std::span<const int64_t> shape);

// ---- Metadata ------------------------------------------------------------------------------

enum class GgufValueType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, U64 = 10, I64 = 11, F64 = 12,
};
std::string_view gguf_value_type_name(GgufValueType type);  // "u32", "string", ...

// One metadata value: a scalar, or an array of scalars of one type (GGUF allows arrays of
// arrays, but llama.cpp rejects them and so does smol).
struct GgufValue {
  // Integers hold unsigned types in uint64_t and signed ones in int64_t; F32/F64 in double.
  using Scalar = std::variant<uint64_t, int64_t, double, bool, std::string>;

  GgufValueType type = GgufValueType::U32;
  GgufValueType array_type = GgufValueType::U8;  // the element type when type == ARRAY
  Scalar scalar;                                  // when type != ARRAY
  std::vector<Scalar> array;                      // when type == ARRAY

  static GgufValue u32(uint32_t v) { return {GgufValueType::U32, GgufValueType::U8, uint64_t{v}, {}}; }
  static GgufValue i32(int32_t v) { return {GgufValueType::I32, GgufValueType::U8, int64_t{v}, {}}; }
  static GgufValue f32(float v) { return {GgufValueType::F32, GgufValueType::U8, double{v}, {}}; }
  static GgufValue boolean(bool v) { return {GgufValueType::BOOL, GgufValueType::U8, v, {}}; }
  static GgufValue string(std::string v) { return {GgufValueType::STRING, GgufValueType::U8, std::move(v), {}}; }
  static GgufValue strings(const std::vector<std::string>& values);
  static GgufValue i32s(const std::vector<int32_t>& values);

  bool is_integer() const;  // scalar of an integer type
  std::string type_name() const;  // "u32", "array of string", ...
  bool operator==(const GgufValue&) const = default;
};

// Keys in file order, each once.
class GgufMetadata {
 public:
  void set(const std::string& key, GgufValue value);  // replaces in place, or appends
  void erase(const std::string& key);
  const GgufValue* find(std::string_view key) const;
  const std::vector<std::pair<std::string, GgufValue>>& entries() const { return entries_; }
  bool operator==(const GgufMetadata& other) const { return entries_ == other.entries_; }

  // Typed reads: nullopt when absent; smol::Error "<source>: metadata 'key' must be ..., got
  // <type>" when present with the wrong type (any integer type reads as an integer, any
  // number as a float).
  std::optional<int64_t> get_int(std::string_view key, const std::string& source) const;
  std::optional<double> get_float(std::string_view key, const std::string& source) const;
  std::optional<bool> get_bool(std::string_view key, const std::string& source) const;
  std::optional<std::string> get_string(std::string_view key, const std::string& source) const;
  std::optional<std::vector<std::string>> get_strings(std::string_view key, const std::string& source) const;
  std::optional<std::vector<int64_t>> get_ints(std::string_view key, const std::string& source) const;
  // Same, but absent is an error too ("<source>: metadata 'key' is missing").
  int64_t require_int(std::string_view key, const std::string& source) const;
  std::string require_string(std::string_view key, const std::string& source) const;

 private:
  std::vector<std::pair<std::string, GgufValue>> entries_;
  std::map<std::string, size_t, std::less<>> index_;
};

// ---- Reading -------------------------------------------------------------------------------

class GgufFile {
 public:
  // Maps and validates the whole header (counts against the file size, every string and array
  // in bounds, known value and tensor types, block-multiple rows, aligned offsets, tensor data
  // inside the file and not overlapping, unique keys and names): every problem throws
  // smol::Error naming the file and, where one is at fault, the key or tensor.
  static GgufFile open(const std::filesystem::path& path, LoadMode mode = LoadMode::Map);

  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  const GgufMetadata& metadata() const { return metadata_; }
  const std::vector<TensorView>& tensors() const { return tensors_; }  // in file order
  const TensorView* find(std::string_view name) const;                // nullptr if absent
  const std::filesystem::path& path() const { return file_.path(); }
  uint64_t data_offset() const { return data_offset_; }  // file offset of the data section
  const MappedFile& mapping() const { return file_; }

 private:
  MappedFile file_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  GgufMetadata metadata_;
  std::vector<TensorView> tensors_;
  std::map<std::string, size_t, std::less<>> index_;
};

// ---- Writing -------------------------------------------------------------------------------

struct GgufTensorToWrite {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;  // row-major (rows, cols), written reversed as GGUF's ne
  // Writes the tensor's bytes (exactly tensor_bytes(dtype, shape) of them) into `out`; called
  // once, in order, so a converter needs only one tensor in memory at a time.
  std::function<void(std::span<std::byte> out)> fill;
};

// A tensor to write from an existing view (bytes copied as they are).
GgufTensorToWrite gguf_tensor_from_view(const TensorView& view, std::string name);

// Writes a GGUF v3 file atomically (temp file in the same folder, then rename). Alignment is
// `general.alignment` when set (a power of two, u32), else 32.
void write_gguf(const std::filesystem::path& path, const GgufMetadata& metadata,
                const std::vector<GgufTensorToWrite>& tensors);

// ---- The Llama architecture in GGUF ----------------------------------------------------------

// "model.layers.3.self_attn.q_proj.weight" <-> "blk.3.attn_q.weight", "model.embed_tokens.weight"
// <-> "token_embd.weight", ...; nullopt for a name with no counterpart.
std::optional<std::string> gguf_tensor_name(std::string_view hf_name);
std::optional<std::string> hf_tensor_name(std::string_view gguf_name);

// llama.cpp's converter reorders each head's Q and K rows for its adjacent-pair RoPE: viewing
// a head's rows as [2][head_dim/2] (Hugging Face's rotate_half halves), it stores them as
// [head_dim/2][2]. Rows move whole (`row_bytes` each), so this works on quantized rows too.
// `n_heads` is num_attention_heads for Q and num_key_value_heads for K.
enum class QkOrder { HfToGguf, GgufToHf };
void permute_qk_rows(const std::byte* src, std::byte* dst, int64_t n_heads, int64_t head_dim, size_t row_bytes,
                     QkOrder order);

// `llama.*` metadata -> ModelConfig. The embeddings are tied when there is no `output.weight`
// tensor; the vocabulary size is `llama.vocab_size`, else the number of tokens; bos/eos come
// from `tokenizer.ggml.*`. Throws smol::Error naming the file and key for a missing or
// mistyped key, an architecture other than llama, partial rotary dimensions or rope scaling.
ModelConfig llama_config_from_gguf(const GgufFile& file);

// general.architecture and the llama.* keys llama.cpp requires, with the types it checks
// (u32 counts, f32 eps and theta). bos/eos are written by set_gguf_tokenizer.
void set_llama_metadata(GgufMetadata& metadata, const ModelConfig& config);

// A Hugging Face tokenizer.json equivalent to the `tokenizer.ggml.*` metadata (model "gpt2",
// i.e. byte-level BPE; pre-tokenizer from `tokenizer.ggml.pre`: "smollm", "starcoder" and
// "refact" are individual digits then GPT-2's byte-level split, "gpt2" the byte-level split
// alone). Control tokens become special added tokens, user-defined ones plain added tokens.
nlohmann::json tokenizer_json_from_gguf(const GgufMetadata& metadata, const std::string& source);
// The same as JSON text, for Tokenizer::from_json_text (much faster than building the object).
std::string tokenizer_json_text_from_gguf(const GgufMetadata& metadata, const std::string& source);

// The inverse: tokens, token types, merges, pre-tokenizer name, special token ids and the chat
// template from a tokenizer.json and (optional, may be null) tokenizer_config.json. The bos/eos
// ids fall back to `config` when tokenizer_config.json does not name them. Throws smol::Error
// for a tokenizer GGUF cannot describe (not byte-level BPE, an unknown pre-tokenizer).
void set_gguf_tokenizer(GgufMetadata& metadata, const nlohmann::json& tokenizer_json,
                        const nlohmann::json& tokenizer_config, const ModelConfig& config, const std::string& source);

}  // namespace smol
