// GGUF's type tables and typed metadata access.
#include <array>
#include <limits>

#include <fmt/format.h>

#include "formats/text_util.hpp"
#include "smol/error.hpp"
#include "smol/gguf.hpp"

namespace smol {
namespace {

using formats_detail::printable;

struct GgmlTypeInfo {
  uint32_t id;
  std::string_view name;
  std::optional<DType> dtype;
};

// Every type ggml defines, so that a file using one smol cannot compute with is named in the
// error rather than reported as garbage.
constexpr std::array<GgmlTypeInfo, 31> kGgmlTypes{{
    {0, "F32", DType::F32},    {1, "F16", DType::F16},   {2, "Q4_0", DType::Q4_0},  {3, "Q4_1", {}},
    {6, "Q5_0", DType::Q5_0},           {7, "Q5_1", {}},          {8, "Q8_0", DType::Q8_0},  {9, "Q8_1", {}},
    {10, "Q2_K", {}},          {11, "Q3_K", {}},         {12, "Q4_K", DType::Q4_K}, {13, "Q5_K", {}},
    {14, "Q6_K", DType::Q6_K}, {15, "Q8_K", {}},         {16, "IQ2_XXS", {}},       {17, "IQ2_XS", {}},
    {18, "IQ3_XXS", {}},       {19, "IQ1_S", {}},        {20, "IQ4_NL", {}},        {21, "IQ3_S", {}},
    {22, "IQ2_S", {}},         {23, "IQ4_XS", {}},       {24, "I8", {}},            {25, "I16", {}},
    {26, "I32", {}},           {27, "I64", {}},          {28, "F64", {}},           {29, "IQ1_M", {}},
    {30, "BF16", DType::BF16}, {34, "TQ1_0", {}},        {35, "TQ2_0", {}},
}};

const GgmlTypeInfo* ggml_info(uint32_t id) {
  for (const auto& t : kGgmlTypes) {
    if (t.id == id) return &t;
  }
  return nullptr;
}

bool is_signed(GgufValueType t) {
  return t == GgufValueType::I8 || t == GgufValueType::I16 || t == GgufValueType::I32 || t == GgufValueType::I64;
}

bool is_unsigned(GgufValueType t) {
  return t == GgufValueType::U8 || t == GgufValueType::U16 || t == GgufValueType::U32 || t == GgufValueType::U64;
}

std::optional<int64_t> scalar_int(const GgufValue::Scalar& s) {
  if (const auto* u = std::get_if<uint64_t>(&s)) {
    if (*u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(*u);
  }
  if (const auto* i = std::get_if<int64_t>(&s)) return *i;
  return std::nullopt;
}

[[noreturn]] void wrong_type(std::string_view key, const std::string& source, std::string_view wanted,
                             const GgufValue& value) {
  throw Error(fmt::format("{}: metadata '{}' must be {}, got {}", source, printable(key), wanted, value.type_name()));
}

}  // namespace

std::optional<DType> dtype_from_ggml(uint32_t ggml_type) {
  const GgmlTypeInfo* info = ggml_info(ggml_type);
  return info ? info->dtype : std::nullopt;
}

GgmlType ggml_type_from_dtype(DType dtype) {
  for (const auto& t : kGgmlTypes) {
    if (t.dtype == dtype) return static_cast<GgmlType>(t.id);
  }
  throw Error(fmt::format("GGUF has no tensor type for dtype {}", dtype_name(dtype)));
}

std::string ggml_type_name(uint32_t ggml_type) {
  const GgmlTypeInfo* info = ggml_info(ggml_type);
  return info ? std::string(info->name) : fmt::format("type {}", ggml_type);
}

std::optional<uint64_t> tensor_bytes(DType dtype, std::span<const int64_t> shape) {
  uint64_t numel = 1;
  for (const int64_t d : shape) {
    if (d < 0 || __builtin_mul_overflow(numel, static_cast<uint64_t>(d), &numel)) return std::nullopt;
  }
  const uint64_t block = dtype_block_elements(dtype);
  const uint64_t inner = shape.empty() ? 1 : static_cast<uint64_t>(shape.back());
  if (inner % block != 0) return std::nullopt;
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(numel / block, dtype_size(dtype), &bytes)) return std::nullopt;
  if (bytes > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
  return bytes;
}

std::string_view gguf_value_type_name(GgufValueType type) {
  static constexpr std::array<std::string_view, 13> kNames{"u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
                                                           "bool", "string", "array", "u64", "i64", "f64"};
  const auto i = static_cast<uint32_t>(type);
  return i < kNames.size() ? kNames[i] : "unknown";
}

GgufValue GgufValue::strings(const std::vector<std::string>& values) {
  GgufValue v{GgufValueType::ARRAY, GgufValueType::STRING, uint64_t{0}, {}};
  v.array.assign(values.begin(), values.end());
  return v;
}

GgufValue GgufValue::i32s(const std::vector<int32_t>& values) {
  GgufValue v{GgufValueType::ARRAY, GgufValueType::I32, uint64_t{0}, {}};
  v.array.reserve(values.size());
  for (const int32_t x : values) v.array.emplace_back(int64_t{x});
  return v;
}

bool GgufValue::is_integer() const { return is_signed(type) || is_unsigned(type); }

std::string GgufValue::type_name() const {
  if (type == GgufValueType::ARRAY) return fmt::format("array of {}", gguf_value_type_name(array_type));
  return std::string(gguf_value_type_name(type));
}

void GgufMetadata::set(const std::string& key, GgufValue value) {
  if (const auto it = index_.find(key); it != index_.end()) {
    entries_[it->second].second = std::move(value);
    return;
  }
  index_.emplace(key, entries_.size());
  entries_.emplace_back(key, std::move(value));
}

void GgufMetadata::erase(const std::string& key) {
  const auto it = index_.find(key);
  if (it == index_.end()) return;
  entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(it->second));
  index_.clear();
  for (size_t i = 0; i < entries_.size(); ++i) index_.emplace(entries_[i].first, i);
}

const GgufValue* GgufMetadata::find(std::string_view key) const {
  const auto it = index_.find(key);
  return it == index_.end() ? nullptr : &entries_[it->second].second;
}

std::optional<int64_t> GgufMetadata::get_int(std::string_view key, const std::string& source) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (!v->is_integer()) wrong_type(key, source, "an integer", *v);
  const auto i = scalar_int(v->scalar);
  if (!i) throw Error(fmt::format("{}: metadata '{}' is too large", source, printable(key)));
  return i;
}

std::optional<double> GgufMetadata::get_float(std::string_view key, const std::string& source) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (const auto* d = std::get_if<double>(&v->scalar); d && v->type != GgufValueType::ARRAY) return *d;
  if (v->is_integer()) return static_cast<double>(*get_int(key, source));
  wrong_type(key, source, "a number", *v);
}

std::optional<bool> GgufMetadata::get_bool(std::string_view key, const std::string& source) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (v->type != GgufValueType::BOOL) wrong_type(key, source, "a bool", *v);
  return std::get<bool>(v->scalar);
}

std::optional<std::string> GgufMetadata::get_string(std::string_view key, const std::string& source) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (v->type != GgufValueType::STRING) wrong_type(key, source, "a string", *v);
  return std::get<std::string>(v->scalar);
}

std::optional<std::vector<std::string>> GgufMetadata::get_strings(std::string_view key,
                                                                  const std::string& source) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (v->type != GgufValueType::ARRAY || v->array_type != GgufValueType::STRING) {
    wrong_type(key, source, "an array of strings", *v);
  }
  std::vector<std::string> out;
  out.reserve(v->array.size());
  for (const auto& s : v->array) out.push_back(std::get<std::string>(s));
  return out;
}

std::optional<std::vector<int64_t>> GgufMetadata::get_ints(std::string_view key, const std::string& source) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (v->type != GgufValueType::ARRAY || !(is_signed(v->array_type) || is_unsigned(v->array_type))) {
    wrong_type(key, source, "an array of integers", *v);
  }
  std::vector<int64_t> out;
  out.reserve(v->array.size());
  for (const auto& s : v->array) {
    const auto i = scalar_int(s);
    if (!i) throw Error(fmt::format("{}: metadata '{}' holds a value too large", source, printable(key)));
    out.push_back(*i);
  }
  return out;
}

int64_t GgufMetadata::require_int(std::string_view key, const std::string& source) const {
  if (auto v = get_int(key, source)) return *v;
  throw Error(fmt::format("{}: metadata '{}' is missing", source, printable(key)));
}

std::string GgufMetadata::require_string(std::string_view key, const std::string& source) const {
  if (auto v = get_string(key, source)) return *v;
  throw Error(fmt::format("{}: metadata '{}' is missing", source, printable(key)));
}

}  // namespace smol
