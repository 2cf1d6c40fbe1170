// Writing GGUF v3: the header is built in memory, then tensors are produced and written one at
// a time, so converting a model needs one tensor's worth of memory beyond the source.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <set>

#include <fmt/format.h>

#include "formats/text_util.hpp"
#include "smol/atomic_file.hpp"
#include "smol/error.hpp"
#include "smol/gguf.hpp"

namespace smol {
namespace {

using formats_detail::printable;

constexpr uint64_t kDefaultAlignment = 32;
constexpr size_t kMaxNameBytes = 63;  // GGML_MAX_NAME - 1: llama.cpp refuses longer names

class HeaderBuffer {
 public:
  template <typename T>
  void put(T value) {
    const auto* p = reinterpret_cast<const char*>(&value);
    bytes_.append(p, sizeof(T));
  }
  void put_string(std::string_view s) {
    put<uint64_t>(s.size());
    bytes_.append(s);
  }
  void pad_to(uint64_t alignment) { bytes_.resize((bytes_.size() + alignment - 1) / alignment * alignment, '\0'); }
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

// Values are checked against their declared type, so a metadata value built by hand cannot be
// written as something llama.cpp would misread.
void put_scalar(HeaderBuffer& out, GgufValueType type, const GgufValue::Scalar& s, const std::string& key) {
  auto bad = [&]() -> Error {
    return Error(fmt::format("GGUF metadata '{}': value does not fit type {}", printable(key), gguf_value_type_name(type)));
  };
  auto as_u = [&](uint64_t max) {
    const auto* u = std::get_if<uint64_t>(&s);
    if (!u || *u > max) throw bad();
    return *u;
  };
  auto as_i = [&](int64_t min, int64_t max) {
    const auto* i = std::get_if<int64_t>(&s);
    if (!i || *i < min || *i > max) throw bad();
    return *i;
  };
  auto as_f = [&] {
    const auto* d = std::get_if<double>(&s);
    if (!d) throw bad();
    return *d;
  };
  switch (type) {
    case GgufValueType::U8: out.put<uint8_t>(as_u(UINT8_MAX)); return;
    case GgufValueType::I8: out.put<int8_t>(as_i(INT8_MIN, INT8_MAX)); return;
    case GgufValueType::U16: out.put<uint16_t>(as_u(UINT16_MAX)); return;
    case GgufValueType::I16: out.put<int16_t>(as_i(INT16_MIN, INT16_MAX)); return;
    case GgufValueType::U32: out.put<uint32_t>(as_u(UINT32_MAX)); return;
    case GgufValueType::I32: out.put<int32_t>(as_i(INT32_MIN, INT32_MAX)); return;
    case GgufValueType::U64: out.put<uint64_t>(as_u(UINT64_MAX)); return;
    case GgufValueType::I64: out.put<int64_t>(as_i(INT64_MIN, INT64_MAX)); return;
    case GgufValueType::F32: out.put<float>(static_cast<float>(as_f())); return;
    case GgufValueType::F64: out.put<double>(as_f()); return;
    case GgufValueType::BOOL: {
      const auto* b = std::get_if<bool>(&s);
      if (!b) throw bad();
      out.put<uint8_t>(*b ? 1 : 0);
      return;
    }
    case GgufValueType::STRING: {
      const auto* str = std::get_if<std::string>(&s);
      if (!str) throw bad();
      out.put_string(*str);
      return;
    }
    case GgufValueType::ARRAY: break;
  }
  throw bad();
}

void put_value(HeaderBuffer& out, const std::string& key, const GgufValue& v) {
  out.put<uint32_t>(static_cast<uint32_t>(v.type));
  if (v.type != GgufValueType::ARRAY) {
    put_scalar(out, v.type, v.scalar, key);
    return;
  }
  if (v.array_type == GgufValueType::ARRAY) {
    throw Error(fmt::format("GGUF metadata '{}': arrays of arrays are not supported", printable(key)));
  }
  out.put<uint32_t>(static_cast<uint32_t>(v.array_type));
  out.put<uint64_t>(v.array.size());
  for (const auto& s : v.array) put_scalar(out, v.array_type, s, key);
}

uint64_t write_alignment(const GgufMetadata& metadata) {
  const GgufValue* v = metadata.find("general.alignment");
  if (!v) return kDefaultAlignment;
  const auto* a = std::get_if<uint64_t>(&v->scalar);
  if (v->type != GgufValueType::U32 || !a || *a == 0 || !std::has_single_bit(*a)) {
    throw Error("GGUF metadata 'general.alignment' must be a u32 power of two");
  }
  return *a;
}

}  // namespace

GgufTensorToWrite gguf_tensor_from_view(const TensorView& view, std::string name) {
  GgufTensorToWrite t;
  t.name = std::move(name);
  t.dtype = view.dtype;
  t.shape = view.shape;
  const std::byte* data = view.data;
  const size_t nbytes = view.nbytes;
  t.fill = [data, nbytes, tensor = t.name](std::span<std::byte> out) {
    if (out.size() != nbytes) throw Error(fmt::format("tensor {}: {} bytes, expected {}", tensor, nbytes, out.size()));
    std::memcpy(out.data(), data, nbytes);
  };
  return t;
}

void write_gguf(const std::filesystem::path& path, const GgufMetadata& metadata,
                const std::vector<GgufTensorToWrite>& tensors) {
  const uint64_t alignment = write_alignment(metadata);
  HeaderBuffer header;
  header.put<uint32_t>(0x46554747u);  // "GGUF"
  header.put<uint32_t>(3);
  header.put<uint64_t>(tensors.size());
  header.put<uint64_t>(metadata.entries().size());
  for (const auto& [key, value] : metadata.entries()) {
    header.put_string(key);
    put_value(header, key, value);
  }

  std::vector<uint64_t> sizes;
  std::set<std::string_view> names;
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    const std::string where = fmt::format("{}: tensor '{}'", path.string(), printable(t.name));
    if (t.name.size() > kMaxNameBytes) throw Error(fmt::format("{}: name longer than {} bytes", where, kMaxNameBytes));
    if (!names.insert(t.name).second) throw Error(fmt::format("{}: written twice", where));
    if (t.shape.empty() || t.shape.size() > 4) throw Error(fmt::format("{}: GGUF tensors have 1 to 4 dimensions", where));
    ggml_type_from_dtype(t.dtype);
    const auto bytes = tensor_bytes(t.dtype, t.shape);
    if (!bytes) {
      throw Error(fmt::format("{}: shape [{}] does not fit {} blocks of {}", where, fmt::join(t.shape, ", "),
                              dtype_name(t.dtype), dtype_block_elements(t.dtype)));
    }
    header.put_string(t.name);
    header.put<uint32_t>(static_cast<uint32_t>(t.shape.size()));
    for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it) header.put<uint64_t>(static_cast<uint64_t>(*it));
    header.put<uint32_t>(static_cast<uint32_t>(ggml_type_from_dtype(t.dtype)));
    header.put<uint64_t>(offset);
    sizes.push_back(*bytes);
    offset += (*bytes + alignment - 1) / alignment * alignment;
  }
  header.pad_to(alignment);

  AtomicFile out(path);
  out.write(header.bytes().data(), header.bytes().size());
  std::vector<std::byte> buffer;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const uint64_t padded = (sizes[i] + alignment - 1) / alignment * alignment;
    buffer.assign(padded, std::byte{0});
    tensors[i].fill(std::span<std::byte>(buffer.data(), sizes[i]));
    out.write(buffer.data(), buffer.size());
  }
  out.commit();
}

}  // namespace smol
