// Opening and validating a GGUF file. Every byte of the header is untrusted: counts are
// checked against the bytes left before anything is allocated, and each tensor's type, shape,
// offset and extent are checked before a TensorView is made.
#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "formats/text_util.hpp"
#include "smol/error.hpp"
#include "smol/gguf.hpp"

namespace smol {
namespace {

using formats_detail::printable;

static_assert(std::endian::native == std::endian::little, "GGUF is read as little-endian");

constexpr uint64_t kDefaultAlignment = 32;
constexpr uint32_t kMaxDims = 4;  // GGML_MAX_DIMS

// Reads little-endian values from the mapped header, failing with the byte offset and what
// was being read when the file ends early.
class Cursor {
 public:
  Cursor(const MappedFile& file) : data_(file.data()), size_(file.size()), path_(file.path().string()) {}

  size_t pos() const { return pos_; }
  size_t remaining() const { return size_ - pos_; }
  const std::string& path() const { return path_; }

  template <typename T>
  T read(std::string_view what) {
    need(sizeof(T), what);
    T value;
    std::memcpy(&value, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return value;
  }

  std::string read_string(std::string_view what) {
    const auto n = read<uint64_t>(what);
    if (n > remaining()) {
      throw Error(fmt::format("{}: {} at byte {} claims {} bytes, past the end of the file", path_, what, pos_ - 8, n));
    }
    std::string s(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return s;
  }

  // Fails unless `count` items of at least `min_bytes` each can still follow.
  void check_count(uint64_t count, uint64_t min_bytes, std::string_view what) const {
    if (count > remaining() / min_bytes) {
      throw Error(fmt::format("{}: {} count {} is impossible: only {} bytes remain", path_, what, count, remaining()));
    }
  }

 private:
  void need(size_t n, std::string_view what) const {
    if (n > remaining()) throw Error(fmt::format("{}: file ends at byte {} while reading {}", path_, size_, what));
  }

  const std::byte* data_;
  size_t size_;
  size_t pos_ = 0;
  std::string path_;
};

// Smallest encoding of one value of `type`, for count checks (a string is at least its length).
uint64_t min_value_bytes(GgufValueType type) {
  switch (type) {
    case GgufValueType::U8: case GgufValueType::I8: case GgufValueType::BOOL: return 1;
    case GgufValueType::U16: case GgufValueType::I16: return 2;
    case GgufValueType::U32: case GgufValueType::I32: case GgufValueType::F32: return 4;
    default: return 8;
  }
}

bool is_known_value_type(uint32_t t) { return t <= static_cast<uint32_t>(GgufValueType::F64); }

GgufValue::Scalar read_scalar(Cursor& in, GgufValueType type, const std::string& where) {
  switch (type) {
    case GgufValueType::U8: return uint64_t{in.read<uint8_t>(where)};
    case GgufValueType::I8: return int64_t{in.read<int8_t>(where)};
    case GgufValueType::U16: return uint64_t{in.read<uint16_t>(where)};
    case GgufValueType::I16: return int64_t{in.read<int16_t>(where)};
    case GgufValueType::U32: return uint64_t{in.read<uint32_t>(where)};
    case GgufValueType::I32: return int64_t{in.read<int32_t>(where)};
    case GgufValueType::F32: return double{in.read<float>(where)};
    case GgufValueType::U64: return in.read<uint64_t>(where);
    case GgufValueType::I64: return in.read<int64_t>(where);
    case GgufValueType::F64: return in.read<double>(where);
    case GgufValueType::STRING: return in.read_string(where);
    case GgufValueType::BOOL: {
      const auto b = in.read<uint8_t>(where);
      if (b > 1) throw Error(fmt::format("{}: {} is a bool with byte value {}", in.path(), where, b));
      return b == 1;
    }
    case GgufValueType::ARRAY: break;
  }
  throw Error(fmt::format("{}: {} has an invalid type", in.path(), where));  // callers exclude ARRAY
}

GgufValue read_value(Cursor& in, const std::string& where) {
  const auto type_id = in.read<uint32_t>(where + " type");
  if (!is_known_value_type(type_id)) throw Error(fmt::format("{}: {} has unknown value type {}", in.path(), where, type_id));
  GgufValue value;
  value.type = static_cast<GgufValueType>(type_id);
  if (value.type != GgufValueType::ARRAY) {
    value.scalar = read_scalar(in, value.type, where);
    return value;
  }
  const auto elem_id = in.read<uint32_t>(where + " element type");
  if (!is_known_value_type(elem_id)) {
    throw Error(fmt::format("{}: {} is an array of unknown value type {}", in.path(), where, elem_id));
  }
  value.array_type = static_cast<GgufValueType>(elem_id);
  if (value.array_type == GgufValueType::ARRAY) {
    throw Error(fmt::format("{}: {} is an array of arrays, which llama.cpp and smol do not support", in.path(), where));
  }
  const auto count = in.read<uint64_t>(where + " length");
  in.check_count(count, min_value_bytes(value.array_type), where + " array");
  value.array.reserve(count);
  for (uint64_t i = 0; i < count; ++i) value.array.push_back(read_scalar(in, value.array_type, where));
  return value;
}

uint64_t read_alignment(const GgufMetadata& metadata, const std::string& path) {
  const GgufValue* v = metadata.find("general.alignment");
  if (!v) return kDefaultAlignment;
  if (v->type != GgufValueType::U32) {
    throw Error(fmt::format("{}: metadata 'general.alignment' must be u32, got {}", path, v->type_name()));
  }
  const uint64_t a = std::get<uint64_t>(v->scalar);
  if (a == 0 || !std::has_single_bit(a)) {
    throw Error(fmt::format("{}: metadata 'general.alignment' is {}, not a power of two", path, a));
  }
  return a;
}

struct TensorInfo {
  TensorView view;
  uint64_t offset = 0;
  uint64_t nbytes = 0;
};

TensorInfo read_tensor_info(Cursor& in, uint64_t index, uint64_t alignment) {
  TensorInfo info;
  info.view.name = in.read_string(fmt::format("tensor {} name", index));
  const std::string where = fmt::format("{}: tensor '{}'", in.path(), printable(info.view.name));
  const auto n_dims = in.read<uint32_t>("tensor dimension count");
  if (n_dims == 0 || n_dims > kMaxDims) {
    throw Error(fmt::format("{} has {} dimensions (1 to {} allowed)", where, n_dims, kMaxDims));
  }
  std::vector<int64_t> ne(n_dims);
  for (auto& d : ne) {
    const auto extent = in.read<uint64_t>("tensor dimensions");
    if (extent > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      throw Error(fmt::format("{} has dimension {}, out of range", where, extent));
    }
    d = static_cast<int64_t>(extent);
  }
  info.view.shape.assign(ne.rbegin(), ne.rend());
  const auto type = in.read<uint32_t>("tensor type");
  const auto dtype = dtype_from_ggml(type);
  if (!dtype) {
    throw Error(fmt::format("{} has GGML type {}, which smol does not support (F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K, Q5_0)",
                            where, ggml_type_name(type)));
  }
  info.view.dtype = *dtype;
  const auto bytes = tensor_bytes(*dtype, info.view.shape);
  if (!bytes) {
    if (ne[0] % static_cast<int64_t>(dtype_block_elements(*dtype)) != 0) {
      throw Error(fmt::format("{}: {} rows of {} elements are not a whole number of {}-element blocks", where,
                              ggml_type_name(type), ne[0], dtype_block_elements(*dtype)));
    }
    throw Error(fmt::format("{}: shape [{}] overflows 64-bit sizes", where, fmt::join(info.view.shape, ", ")));
  }
  info.nbytes = *bytes;
  info.offset = in.read<uint64_t>("tensor offset");
  if (info.offset % alignment != 0) {
    throw Error(fmt::format("{}: data offset {} is not a multiple of the alignment {}", where, info.offset, alignment));
  }
  return info;
}

void check_extents(std::vector<TensorInfo>& infos, uint64_t data_size, const std::string& path) {
  for (const auto& t : infos) {
    if (t.offset > data_size || t.nbytes > data_size - t.offset) {
      throw Error(fmt::format("{}: tensor '{}' [{}, +{}) runs past the end of the data ({} bytes)", path,
                              printable(t.view.name), t.offset, t.nbytes, data_size));
    }
  }
  std::vector<const TensorInfo*> sorted;
  for (const auto& t : infos) {
    if (t.nbytes > 0) sorted.push_back(&t);  // empty tensors occupy nothing
  }
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < sorted.size(); ++i) {
    const TensorInfo& prev = *sorted[i - 1];
    const TensorInfo& cur = *sorted[i];
    if (cur.offset < prev.offset + prev.nbytes) {
      throw Error(fmt::format("{}: tensors '{}' [{}, {}) and '{}' [{}, {}) overlap", path, printable(prev.view.name),
                              prev.offset, prev.offset + prev.nbytes, printable(cur.view.name), cur.offset,
                              cur.offset + cur.nbytes));
    }
  }
}

}  // namespace

GgufFile GgufFile::open(const std::filesystem::path& path, LoadMode mode) {
  GgufFile file;
  file.file_ = MappedFile::load(path, mode);
  const std::string path_text = path.string();
  Cursor in(file.file_);

  const auto magic = in.read<uint32_t>("the magic number");
  if (magic != 0x46554747u) {  // "GGUF"
    throw Error(fmt::format("{}: not a GGUF file (bad magic number)", path_text));
  }
  file.version_ = in.read<uint32_t>("the version");
  if (file.version_ != 2 && file.version_ != 3) {
    throw Error(fmt::format("{}: GGUF version {} is not supported (2 and 3 are)", path_text, file.version_));
  }
  const auto n_tensors = in.read<uint64_t>("the tensor count");
  const auto n_kv = in.read<uint64_t>("the metadata count");
  // A key/value needs at least a length, a type and a one-byte value; a tensor info at least a
  // length, a dimension count, one dimension, a type and an offset.
  in.check_count(n_kv, 8 + 4 + 1, "metadata");
  in.check_count(n_tensors, 8 + 4 + 8 + 4 + 8, "tensor");

  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = in.read_string(fmt::format("metadata key {}", i));
    const std::string where = fmt::format("metadata '{}'", printable(key));
    if (file.metadata_.find(key)) throw Error(fmt::format("{}: {} appears twice", path_text, where));
    file.metadata_.set(key, read_value(in, where));
  }
  file.alignment_ = read_alignment(file.metadata_, path_text);

  std::vector<TensorInfo> infos;
  infos.reserve(n_tensors);
  for (uint64_t i = 0; i < n_tensors; ++i) {
    infos.push_back(read_tensor_info(in, i, file.alignment_));
    const std::string& name = infos.back().view.name;
    if (!file.index_.emplace(name, i).second) {
      throw Error(fmt::format("{}: tensor '{}' appears twice", path_text, printable(name)));
    }
  }

  const uint64_t header_end = in.pos();
  file.data_offset_ = (header_end + file.alignment_ - 1) / file.alignment_ * file.alignment_;
  const uint64_t size = file.file_.size();
  if (file.data_offset_ > size && n_tensors > 0) {
    throw Error(fmt::format("{}: file ends at byte {}, before the data section at {}", path_text, size,
                            file.data_offset_));
  }
  const uint64_t data_size = size > file.data_offset_ ? size - file.data_offset_ : 0;
  check_extents(infos, data_size, path_text);

  const std::byte* data = file.file_.data() + file.data_offset_;
  file.tensors_.reserve(infos.size());
  for (auto& t : infos) {
    t.view.data = data + t.offset;
    t.view.nbytes = static_cast<size_t>(t.nbytes);
    file.tensors_.push_back(std::move(t.view));
  }
  return file;
}

const TensorView* GgufFile::find(std::string_view name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace smol
