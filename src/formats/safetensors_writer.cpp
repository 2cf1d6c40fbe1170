// Writing safetensors files (training checkpoints, converted models, test inputs).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <numeric>
#include <set>

#include <fmt/format.h>

#include "formats/text_util.hpp"
#include "smol/atomic_file.hpp"
#include "smol/error.hpp"
#include "smol/safetensors.hpp"

namespace smol {
namespace {

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian");

using formats_detail::printable;

uint64_t checked_nbytes(const TensorView& t, const std::string& where) {
  uint64_t numel = 1;
  for (const int64_t d : t.shape) {
    if (d < 0) throw Error(fmt::format("{}: negative dimension {}", where, d));
    if (__builtin_mul_overflow(numel, static_cast<uint64_t>(d), &numel)) {
      throw Error(fmt::format("{}: shape overflows 64-bit sizes", where));
    }
  }
  uint64_t nbytes = 0;
  if (__builtin_mul_overflow(numel, dtype_size(t.dtype), &nbytes)) {
    throw Error(fmt::format("{}: shape overflows 64-bit sizes", where));
  }
  return nbytes;
}

}  // namespace

TensorView tensor_view(std::string name, std::vector<int64_t> shape, std::span<const float> values) {
  TensorView view{std::move(name), DType::F32, std::move(shape), nullptr, values.size_bytes()};
  view.data = reinterpret_cast<const std::byte*>(values.data());
  return view;
}

TensorView tensor_view(std::string name, DType dtype, std::vector<int64_t> shape, std::span<const uint16_t> values) {
  if (dtype != DType::BF16 && dtype != DType::F16) {
    throw Error(fmt::format("tensor '{}': 16-bit values need dtype BF16 or F16, not {}", printable(name),
                            dtype_name(dtype)));
  }
  TensorView view{std::move(name), dtype, std::move(shape), nullptr, values.size_bytes()};
  view.data = reinterpret_cast<const std::byte*>(values.data());
  return view;
}

void write_safetensors(const std::filesystem::path& path, const std::vector<TensorView>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  const std::string path_text = path.string();
  std::set<std::string_view> names;
  for (const TensorView& t : tensors) {
    const std::string where = fmt::format("{}: tensor '{}'", path_text, printable(t.name));
    if (t.name == "__metadata__") throw Error(fmt::format("{}: the name is reserved", where));
    if (!names.insert(t.name).second) throw Error(fmt::format("{}: given twice", where));
    const uint64_t expected = checked_nbytes(t, where);
    if (expected != t.nbytes) {
      throw Error(fmt::format("{}: buffer holds {} bytes but {} shape needs {}", where, t.nbytes,
                              dtype_name(t.dtype), expected));
    }
    if (t.nbytes > 0 && t.data == nullptr) throw Error(fmt::format("{}: no data", where));
  }

  // Widest elements first: each tensor then starts aligned without padding between tensors.
  std::vector<const TensorView*> order;
  for (const TensorView& t : tensors) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](const TensorView* a, const TensorView* b) {
    const size_t sa = dtype_size(a->dtype), sb = dtype_size(b->dtype);
    return sa != sb ? sa > sb : a->name < b->name;
  });

  nlohmann::json header = nlohmann::json::object();
  uint64_t offset = 0;
  for (const TensorView* t : order) {
    header[t->name] = {{"dtype", dtype_name(t->dtype)},
                       {"shape", t->shape},
                       {"data_offsets", {offset, offset + t->nbytes}}};
    offset += t->nbytes;
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;

  std::string text;
  try {
    text = header.dump(-1, ' ', false, nlohmann::json::error_handler_t::strict);
  } catch (const nlohmann::json::type_error& e) {
    throw Error(fmt::format("{}: tensor names and metadata must be valid UTF-8", path_text));
  }
  text.append((8 - text.size() % 8) % 8, ' ');

  unsigned char prefix[8];
  uint64_t n = text.size();
  for (unsigned char& byte : prefix) {
    byte = static_cast<unsigned char>(n & 0xff);
    n >>= 8;
  }
  AtomicFile out(path);
  out.write(prefix, sizeof prefix);
  out.write(text.data(), text.size());
  for (const TensorView* t : order) out.write(t->data, t->nbytes);
  out.commit();
}

}  // namespace smol
