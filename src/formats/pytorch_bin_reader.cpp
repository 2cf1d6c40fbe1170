// pytorch_model.bin: the zip records and the pickled state dict joined into TensorViews. Every
// size and offset the pickle gives is checked against the storage record it points into.
#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <numeric>

#include <fmt/format.h>

#include "formats/pickle_reader.hpp"
#include "formats/text_util.hpp"
#include "formats/zip_archive.hpp"
#include "smol/error.hpp"
#include "smol/pytorch_bin.hpp"

namespace smol {
namespace {

using formats_detail::PickledStateDict;
using formats_detail::PickledTensor;
using formats_detail::printable;
using formats_detail::ZipArchive;
using formats_detail::ZipEntry;

static_assert(std::endian::native == std::endian::little, "views hand out little-endian bytes as-is");

// data.pkl of a large model is a few MB; the limit only bounds what a hostile file can ask for.
constexpr uint64_t kMaxPickleBytes = uint64_t{256} << 20;

struct Storage {
  const std::byte* data = nullptr;
  uint64_t numel = 0;
  DType dtype = DType::F32;
};

// The folder inside the archive that holds data.pkl (torch names it after the file, or "archive").
std::string archive_prefix(const ZipArchive& zip) {
  std::string prefix;
  for (const ZipEntry& e : zip.entries()) {
    const size_t slash = e.name.find('/');
    if (slash == std::string::npos || e.name.compare(slash, std::string::npos, "/data.pkl") != 0) continue;
    if (!prefix.empty()) {
      throw Error(fmt::format("{}: two data.pkl records ('{}' and '{}data.pkl')", zip.where(), printable(e.name),
                              printable(prefix)));
    }
    prefix = e.name.substr(0, slash + 1);
  }
  if (prefix.empty()) {
    throw Error(fmt::format("{}: zip archive has no <name>/data.pkl record: not a torch.save checkpoint", zip.where()));
  }
  return prefix;
}

bool big_endian(const ZipArchive& zip, const std::string& prefix) {
  const ZipEntry* entry = zip.find(prefix + "byteorder");
  if (entry == nullptr) return false;  // torch < 2.1 wrote none; it only ran little-endian then
  const std::string order = zip.read_small(*entry, 16);
  if (order == "little") return false;
  if (order == "big") return true;
  throw Error(fmt::format("{}: byteorder record says '{}' (expected little or big)", zip.where(), printable(order)));
}

uint64_t checked_mul(uint64_t a, uint64_t b, const std::string& where, std::string_view what) {
  uint64_t out = 0;
  if (__builtin_mul_overflow(a, b, &out)) throw Error(fmt::format("{}: {} overflows 64 bits", where, what));
  return out;
}

// Copies are bounded by the storages' total, twice over (a storage inflated or swapped, then
// a transposed view of it copied) plus slack, so a hostile pickle cannot make many copies of
// one storage through many overlapping views.
constexpr uint64_t kCopySlackBytes = uint64_t{64} << 20;

std::byte* new_buffer(PytorchBinTensors& out, uint64_t nbytes, uint64_t limit, const std::string& where) {
  if (nbytes > limit || out.copied_bytes > limit - nbytes) {
    throw Error(fmt::format("{}: copying non-contiguous tensors would take over {} bytes (many views of the same "
                            "storage?)", where, limit));
  }
  out.buffers.push_back({std::make_unique_for_overwrite<std::byte[]>(std::max<uint64_t>(nbytes, 1)), nbytes});
  out.copied_bytes += nbytes;
  return out.buffers.back().bytes.get();
}

// Each storage's bytes: in place when stored little-endian, else inflated and/or swapped once,
// so that tensors sharing a storage (tied weights) share the copy too.
std::vector<Storage> load_storages(const ZipArchive& zip, const std::string& prefix, const PickledStateDict& dict,
                                   bool swap, PytorchBinTensors& out) {
  std::vector<Storage> storages;
  for (const auto& s : dict.storages) {
    const std::string record = prefix + "data/" + s.key;
    const ZipEntry* entry = zip.find(record);
    if (entry == nullptr) {
      throw Error(fmt::format("{}: storage '{}' has no record {}", zip.where(), printable(s.key), printable(record)));
    }
    const size_t size = dtype_size(s.dtype);
    const uint64_t nbytes = checked_mul(s.numel, size, zip.where(), "a storage's size");
    if (entry->size != nbytes) {
      throw Error(fmt::format("{}: record {} is {} bytes but its storage is {} {} elements ({} bytes)", zip.where(),
                              printable(record), entry->size, s.numel, dtype_name(s.dtype), nbytes));
    }
    Storage storage{nullptr, s.numel, s.dtype};
    if (entry->method == formats_detail::kZipStored && !swap) {
      storage.data = zip.stored_bytes(*entry).data();
    } else {
      std::byte* buffer = new_buffer(out, nbytes, std::numeric_limits<uint64_t>::max(), zip.where());
      zip.extract(*entry, buffer);
      if (swap && size > 1) {
        for (uint64_t i = 0; i < nbytes; i += size) std::reverse(buffer + i, buffer + i + size);
      }
      storage.data = buffer;
    }
    storages.push_back(storage);
  }
  return storages;
}

// Copies a strided view element by element (rows at a time when the last stride is 1).
void gather(const PickledTensor& t, const std::byte* base, size_t size, std::byte* dst) {
  const size_t rank = t.shape.size();
  size_t inner = 1;  // elements copied per memcpy
  size_t outer_rank = rank;
  if (rank > 0 && t.stride.back() == 1) {
    inner = static_cast<size_t>(t.shape.back());
    outer_rank = rank - 1;
  }
  const uint64_t total = std::accumulate(t.shape.begin(), t.shape.begin() + static_cast<ptrdiff_t>(outer_rank),
                                         uint64_t{1}, [](uint64_t a, int64_t b) { return a * static_cast<uint64_t>(b); });
  std::vector<int64_t> index(outer_rank, 0);
  uint64_t src = t.offset;
  for (uint64_t n = 0; n < total; ++n) {
    std::memcpy(dst, base + src * size, inner * size);
    dst += inner * size;
    for (size_t d = outer_rank; d-- > 0;) {
      if (++index[d] < t.shape[d]) {
        src += static_cast<uint64_t>(t.stride[d]);
        break;
      }
      src -= static_cast<uint64_t>(t.stride[d]) * static_cast<uint64_t>(t.shape[d] - 1);
      index[d] = 0;
    }
  }
}

TensorView make_view(const PickledTensor& t, const Storage& s, const std::string& where, uint64_t copy_limit,
                     PytorchBinTensors& out) {
  const std::string name = printable(t.name);
  const std::string what = fmt::format("tensor '{}'", name);
  const size_t size = dtype_size(s.dtype);
  uint64_t numel = 1;
  for (const int64_t d : t.shape) numel = checked_mul(numel, static_cast<uint64_t>(d), where, what + "'s element count");
  const uint64_t nbytes = checked_mul(numel, size, where, what + "'s byte size");
  TensorView view{t.name, s.dtype, t.shape, nullptr, nbytes};
  if (t.offset > s.numel) {
    throw Error(fmt::format("{}: {} starts at element {} of a {}-element storage", where, what, t.offset, s.numel));
  }
  if (numel == 0) {
    view.data = s.data + t.offset * size;
    return view;
  }
  // Dimensions by increasing stride must each step past everything the smaller ones reach;
  // otherwise elements overlap (an expanded tensor), which a weight never is.
  std::vector<size_t> dims;
  for (size_t d = 0; d < t.shape.size(); ++d) {
    if (t.shape[d] > 1) dims.push_back(d);
  }
  std::sort(dims.begin(), dims.end(), [&](size_t a, size_t b) { return t.stride[a] < t.stride[b]; });
  uint64_t reach = 0;  // largest element offset reached so far
  bool contiguous = true;
  uint64_t dense = 1;
  for (const size_t d : dims) {
    const auto stride = static_cast<uint64_t>(t.stride[d]);
    if (stride <= reach) {
      throw Error(fmt::format("{}: {} has overlapping elements (size {} with stride {}); expanded tensors are not "
                              "supported", where, what, t.shape[d], stride));
    }
    contiguous = contiguous && stride == dense;
    dense *= static_cast<uint64_t>(t.shape[d]);  // <= numel, no overflow
    const uint64_t step = checked_mul(stride, static_cast<uint64_t>(t.shape[d] - 1), where, what + "'s extent");
    if (__builtin_add_overflow(reach, step, &reach)) throw Error(fmt::format("{}: {}'s extent overflows", where, what));
  }
  // Sorting by stride keeps row-major order only if the dims were already in that order.
  contiguous = contiguous && std::is_sorted(dims.begin(), dims.end(), std::greater<>());
  if (reach >= s.numel - t.offset) {
    throw Error(fmt::format("{}: {} reaches element {} of its {}-element storage", where, what, t.offset + reach, s.numel));
  }
  const std::byte* first = s.data + t.offset * size;
  if (contiguous && reinterpret_cast<uintptr_t>(first) % size == 0) {
    view.data = first;
    return view;
  }
  std::byte* copy = new_buffer(out, nbytes, copy_limit, where);
  if (contiguous) {
    std::memcpy(copy, first, nbytes);
  } else {
    gather(t, s.data, size, copy);
  }
  view.data = copy;
  return view;
}

}  // namespace

PytorchBinTensors parse_pytorch_bin(std::span<const std::byte> bytes, const std::string& where) {
  if (bytes.size() >= 2 && bytes[0] == std::byte{0x80} && std::to_integer<int>(bytes[1]) <= 5) {
    throw Error(fmt::format("{}: legacy torch.save format (torch < 1.6: a bare pickle, not a zip) is not supported; "
                            "re-save it with a current torch or convert it to safetensors", where));
  }
  const ZipArchive zip = ZipArchive::parse(bytes, where);
  const std::string prefix = archive_prefix(zip);
  const bool swap = big_endian(zip, prefix);
  const std::string pickle = zip.read_small(*zip.find(prefix + "data.pkl"), kMaxPickleBytes);
  const PickledStateDict dict =
      formats_detail::read_state_dict_pickle(std::as_bytes(std::span(pickle.data(), pickle.size())), where);

  PytorchBinTensors out;
  const std::vector<Storage> storages = load_storages(zip, prefix, dict, swap, out);
  uint64_t storage_bytes = 0;
  for (const Storage& s : storages) storage_bytes += s.numel * dtype_size(s.dtype);  // each <= its record
  const uint64_t copy_limit = 2 * storage_bytes + kCopySlackBytes;
  for (const PickledTensor& t : dict.tensors) {
    out.tensors.insert_or_assign(t.name, make_view(t, storages[t.storage], where, copy_limit, out));
  }
  return out;
}

PytorchBinFile PytorchBinFile::open(const std::filesystem::path& path, LoadMode mode) {
  PytorchBinFile file;
  file.file_ = MappedFile::load(path, mode);
  file.contents_ = parse_pytorch_bin(std::span(file.file_.data(), file.file_.size()), path.string());
  return file;
}

const TensorView* PytorchBinFile::find(const std::string& name) const {
  const auto it = contents_.tensors.find(name);
  return it == contents_.tensors.end() ? nullptr : &it->second;
}

const TensorView& PytorchBinFile::get(const std::string& name) const {
  if (const TensorView* view = find(name)) return *view;
  throw Error(fmt::format("{}: tensor '{}' missing", path().string(), printable(name)));
}

}  // namespace smol
