// Opening and validating a safetensors file. The header is untrusted: every offset, size and
// type is checked before a TensorView is made, so later code may index views without checks.
#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "formats/text_util.hpp"
#include "smol/error.hpp"
#include "smol/safetensors.hpp"

namespace smol {
namespace {

using formats_detail::json_type_name;
using formats_detail::printable;
using nlohmann::json;

static_assert(std::endian::native == std::endian::little, "views hand out little-endian bytes as-is");

constexpr uint64_t kPrefixBytes = 8;
// The reference implementation refuses headers over 100 MB; real ones are a few hundred KB.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
// Payload alignment smol guarantees: the widest dtype (F64/I64).
constexpr uint64_t kPayloadAlignment = 8;

uint64_t read_header_length(const MappedFile& file) {
  const std::string path = file.path().string();
  if (file.size() < kPrefixBytes) {
    throw Error(fmt::format("{}: file is {} bytes, too small for a safetensors header", path, file.size()));
  }
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | std::to_integer<uint64_t>(file.data()[i]);
  if (n > file.size() - kPrefixBytes) {
    throw Error(fmt::format("{}: header length {} exceeds the file size ({} bytes)", path, n, file.size()));
  }
  if (n > kMaxHeaderBytes) {
    throw Error(fmt::format("{}: header length {} exceeds the {} byte limit", path, n, kMaxHeaderBytes));
  }
  return n;
}

// Parses the header JSON, rejecting duplicate tensor names (nlohmann would silently keep the
// last one, hiding a tensor).
json parse_header(const MappedFile& file, uint64_t n) {
  const auto* begin = reinterpret_cast<const char*>(file.data() + kPrefixBytes);
  std::string duplicate;
  bool has_duplicate = false;
  std::set<std::string> seen;
  const json::parser_callback_t check_keys = [&](int depth, json::parse_event_t event, json& parsed) {
    if (depth == 1 && event == json::parse_event_t::key && parsed.is_string()) {
      if (!seen.insert(parsed.get_ref<const std::string&>()).second && !has_duplicate) {
        has_duplicate = true;
        duplicate = parsed.get<std::string>();
      }
    }
    return true;
  };
  json header;
  try {
    header = json::parse(begin, begin + n, check_keys);
  } catch (const json::exception& e) {
    throw Error(fmt::format("{}: header is not valid JSON: {}", file.path().string(),
                            formats_detail::describe_parse_error(e)));
  }
  if (!header.is_object()) {
    throw Error(fmt::format("{}: header must be a JSON object, got {}", file.path().string(),
                            json_type_name(header)));
  }
  if (has_duplicate) {
    throw Error(fmt::format("{}: tensor '{}' appears twice in the header", file.path().string(),
                            printable(duplicate)));
  }
  return header;
}

// A non-negative JSON integer that fits in uint64, or an error naming `what`.
uint64_t get_count(const json& value, const std::string& where, std::string_view what) {
  if (value.is_number_unsigned()) return value.get<uint64_t>();
  if (value.is_number_integer()) {
    throw Error(fmt::format("{}: {} {} is negative", where, what, value.get<int64_t>()));
  }
  throw Error(fmt::format("{}: {} must be a non-negative integer, got {} {}", where, what,
                          json_type_name(value), printable(value.dump(), 40)));
}

const json& require(const json& entry, const char* key, const std::string& where) {
  const auto it = entry.find(key);
  if (it == entry.end()) throw Error(fmt::format("{}: missing '{}'", where, key));
  return *it;
}

struct Range {
  uint64_t begin;
  uint64_t end;
  const std::string* name;
};

TensorView parse_tensor(const std::string& name, const json& entry, const std::byte* data,
                        uint64_t data_length, const std::string& where, Range& range) {
  if (!entry.is_object()) {
    throw Error(fmt::format("{}: entry must be an object, got {}", where, json_type_name(entry)));
  }
  TensorView view;
  view.name = name;

  const json& dtype = require(entry, "dtype", where);
  if (!dtype.is_string()) {
    throw Error(fmt::format("{}: 'dtype' must be a string, got {}", where, json_type_name(dtype)));
  }
  const auto parsed = parse_dtype(dtype.get_ref<const std::string&>());
  if (!parsed) {
    throw Error(fmt::format("{}: unknown dtype '{}'", where, printable(dtype.get_ref<const std::string&>())));
  }
  view.dtype = *parsed;
  const uint64_t element_size = dtype_size(view.dtype);

  const json& shape = require(entry, "shape", where);
  if (!shape.is_array()) {
    throw Error(fmt::format("{}: 'shape' must be an array, got {}", where, json_type_name(shape)));
  }
  uint64_t numel = 1;
  bool overflow = false;
  for (const json& dim : shape) {
    const uint64_t extent = get_count(dim, where, "shape entry");
    overflow = overflow || extent > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
               __builtin_mul_overflow(numel, extent, &numel);
    view.shape.push_back(static_cast<int64_t>(extent));
  }
  uint64_t expected_bytes = 0;
  overflow = overflow || numel > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
             __builtin_mul_overflow(numel, element_size, &expected_bytes);
  if (overflow) {
    throw Error(fmt::format("{}: shape {} overflows 64-bit sizes", where, printable(shape.dump(), 80)));
  }

  const json& offsets = require(entry, "data_offsets", where);
  if (!offsets.is_array() || offsets.size() != 2) {
    throw Error(fmt::format("{}: 'data_offsets' must be an array [begin, end]", where));
  }
  const uint64_t begin = get_count(offsets[0], where, "data_offsets begin");
  const uint64_t end = get_count(offsets[1], where, "data_offsets end");
  if (begin > end) throw Error(fmt::format("{}: data_offsets begin {} is after end {}", where, begin, end));
  if (end > data_length) {
    throw Error(fmt::format("{}: data_offsets end {} is past the end of the data ({} bytes)", where, end,
                            data_length));
  }
  if (end - begin != expected_bytes) {
    throw Error(fmt::format("{}: holds {} bytes but {} shape [{}] needs {}", where, end - begin,
                            dtype_name(view.dtype), fmt::join(view.shape, ", "), expected_bytes));
  }
  if (begin % element_size != 0) {
    throw Error(fmt::format("{}: data_offsets begin {} is not a multiple of the {} element size {}", where,
                            begin, dtype_name(view.dtype), element_size));
  }
  view.data = data + begin;
  view.nbytes = static_cast<size_t>(expected_bytes);
  range = Range{begin, end, nullptr};
  return view;
}

std::map<std::string, std::string> parse_metadata(const json& value, const std::string& path) {
  std::map<std::string, std::string> metadata;
  if (value.is_null()) return metadata;
  if (!value.is_object()) {
    throw Error(fmt::format("{}: '__metadata__' must be an object of strings, got {}", path, json_type_name(value)));
  }
  for (const auto& [key, item] : value.items()) {
    if (!item.is_string()) {
      throw Error(fmt::format("{}: '__metadata__' value '{}' must be a string, got {}", path, printable(key),
                              json_type_name(item)));
    }
    metadata.emplace(key, item.get<std::string>());
  }
  return metadata;
}

void check_overlaps(std::vector<Range>& ranges, const std::string& path) {
  // Empty tensors occupy no bytes, so they cannot collide with anything.
  std::erase_if(ranges, [](const Range& r) { return r.begin == r.end; });
  std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < ranges.size(); ++i) {
    const Range& prev = ranges[i - 1];
    const Range& cur = ranges[i];
    if (cur.begin < prev.end) {
      throw Error(fmt::format("{}: tensors '{}' [{}, {}) and '{}' [{}, {}) overlap", path, printable(*prev.name),
                              prev.begin, prev.end, printable(*cur.name), cur.begin, cur.end));
    }
  }
}

}  // namespace

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (const int64_t d : shape) n *= d;
  return n;
}

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path, LoadMode mode) {
  MappedFile mapped = MappedFile::load(path, mode);
  uint64_t n = read_header_length(mapped);
  if ((kPrefixBytes + n) % kPayloadAlignment != 0) {
    // Unpadded header (old writers): a copy placed so the payload is aligned keeps every typed
    // pointer handed to the kernels valid.
    const size_t lead = kPayloadAlignment - (kPrefixBytes + n) % kPayloadAlignment;
    mapped = MappedFile::read_copy(path, lead);
    n = read_header_length(mapped);
    if (reinterpret_cast<uintptr_t>(mapped.data() + kPrefixBytes + n) % kPayloadAlignment != 0) {
      throw Error(fmt::format("{}: file changed while being read", path.string()));
    }
  }
  const std::string path_text = path.string();
  const json header = parse_header(mapped, n);

  SafetensorsFile file;
  const std::byte* data = mapped.data() + kPrefixBytes + n;
  const uint64_t data_length = mapped.size() - kPrefixBytes - n;
  std::vector<Range> ranges;
  ranges.reserve(header.size());
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      file.metadata_ = parse_metadata(entry, path_text);
      continue;
    }
    const std::string where = fmt::format("{}: tensor '{}'", path_text, printable(name));
    Range range{};
    TensorView view = parse_tensor(name, entry, data, data_length, where, range);
    const auto inserted = file.tensors_.emplace(name, std::move(view));
    range.name = &inserted.first->first;
    ranges.push_back(range);
  }
  check_overlaps(ranges, path_text);
  file.file_ = std::move(mapped);
  return file;
}

const TensorView* SafetensorsFile::find(const std::string& name) const {
  const auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

const TensorView& SafetensorsFile::get(const std::string& name) const {
  if (const TensorView* view = find(name)) return *view;
  throw Error(fmt::format("{}: tensor '{}' missing", path().string(), printable(name)));
}

}  // namespace smol
