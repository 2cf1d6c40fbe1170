// A model folder's tensors, from one file or from shards named by an index file.

#include <fmt/format.h>

#include "formats/text_util.hpp"
#include "smol/error.hpp"
#include "smol/json_file.hpp"
#include "smol/safetensors.hpp"

namespace smol {
namespace {

using formats_detail::json_type_name;
using formats_detail::printable;

// In the order transformers looks for them (safetensors first); smol has always taken the
// safetensors index before the single file.
constexpr const char* kSafetensorsIndex = "model.safetensors.index.json";
constexpr const char* kSafetensorsFile = "model.safetensors";
constexpr const char* kBinFile = "pytorch_model.bin";
constexpr const char* kBinIndex = "pytorch_model.bin.index.json";

// Shard names come from a file that may be hostile: only plain names inside the folder.
bool is_plain_file_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
         name.find('\0') == std::string::npos;
}

bool is_bin_path(const std::filesystem::path& path) {
  const std::string ext = path.extension().string();
  return ext == ".bin" || ext == ".pt" || ext == ".pth";
}

template <typename File>
void add_single(const std::filesystem::path& path, LoadMode mode, std::vector<File>& files,
                std::map<std::string, const TensorView*>& index) {
  files.push_back(File::open(path, mode));
  for (const auto& [name, view] : files.back().tensors()) index.emplace(name, &view);
}

// {"weight_map": {tensor: shard file}}: every shard opened once, every tensor found in its shard.
template <typename File>
void add_shards(const std::filesystem::path& dir, const std::filesystem::path& index_path, LoadMode mode,
                std::vector<File>& files, std::map<std::string, const TensorView*>& index_out) {
  std::error_code ec;
  const std::string where = index_path.string();
  const nlohmann::json index = read_json_file(index_path);
  if (!index.is_object()) throw Error(fmt::format("{}: must be a JSON object", where));
  const auto map_it = index.find("weight_map");
  if (map_it == index.end()) throw Error(fmt::format("{}: missing 'weight_map'", where));
  if (!map_it->is_object()) {
    throw Error(fmt::format("{}: 'weight_map' must be an object, got {}", where, json_type_name(*map_it)));
  }
  if (map_it->empty()) throw Error(fmt::format("{}: 'weight_map' is empty", where));

  // Open each shard once, in name order; reserve so File objects never move while index_out is
  // being filled (their maps would survive a move, but this keeps it obvious).
  std::map<std::string, size_t> shard_slot;
  for (const auto& [tensor, shard] : map_it->items()) {
    if (!shard.is_string()) {
      throw Error(fmt::format("{}: shard for tensor '{}' must be a string, got {}", where, printable(tensor),
                              json_type_name(shard)));
    }
    const auto& shard_name = shard.template get_ref<const std::string&>();
    if (!is_plain_file_name(shard_name)) {
      throw Error(fmt::format("{}: shard name '{}' for tensor '{}' must be a file name in the folder", where,
                              printable(shard_name), printable(tensor)));
    }
    shard_slot.emplace(shard_name, 0);
  }
  files.reserve(shard_slot.size());
  for (auto& [shard_name, slot] : shard_slot) {
    const std::filesystem::path shard_path = dir / shard_name;
    if (!std::filesystem::exists(shard_path, ec)) {
      throw Error(fmt::format("{}: shard '{}' does not exist", where, printable(shard_name)));
    }
    slot = files.size();
    files.push_back(File::open(shard_path, mode));
  }

  for (const auto& [tensor, shard] : map_it->items()) {
    const auto& shard_name = shard.template get_ref<const std::string&>();
    const File& file = files[shard_slot.at(shard_name)];
    const TensorView* view = file.find(tensor);
    if (view == nullptr) {
      throw Error(fmt::format("{}: tensor '{}' is mapped to '{}' but that shard does not contain it", where,
                              printable(tensor), printable(shard_name)));
    }
    index_out.emplace(tensor, view);
  }
}

}  // namespace

TensorStore TensorStore::open_folder(const std::filesystem::path& dir, LoadMode mode) {
  std::error_code ec;
  TensorStore store;
  store.source_ = dir;
  if (std::filesystem::is_regular_file(dir, ec)) {
    if (is_bin_path(dir)) {
      add_single(dir, mode, store.bin_files_, store.index_);
    } else {
      add_single(dir, mode, store.files_, store.index_);
    }
    return store;
  }
  if (!std::filesystem::is_directory(dir, ec)) {
    throw Error(fmt::format("{}: no such model folder", dir.string()));
  }
  const auto has = [&](const char* name) { return std::filesystem::exists(dir / name, ec); };
  if (has(kSafetensorsIndex)) {
    add_shards(dir, dir / kSafetensorsIndex, mode, store.files_, store.index_);
  } else if (has(kSafetensorsFile)) {
    add_single(dir / kSafetensorsFile, mode, store.files_, store.index_);
  } else if (has(kBinFile)) {
    add_single(dir / kBinFile, mode, store.bin_files_, store.index_);
  } else if (has(kBinIndex)) {
    add_shards(dir, dir / kBinIndex, mode, store.bin_files_, store.index_);
  } else {
    throw Error(fmt::format("{}: no {}, {}, {} or {} in the folder", dir.string(), kSafetensorsFile, kSafetensorsIndex,
                            kBinFile, kBinIndex));
  }
  return store;
}

const TensorView* TensorStore::find(const std::string& name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : it->second;
}

const TensorView& TensorStore::get(const std::string& name) const {
  if (const TensorView* view = find(name)) return *view;
  throw Error(fmt::format("{}: tensor '{}' missing", source_.string(), printable(name)));
}

std::vector<std::string> TensorStore::names() const {
  std::vector<std::string> out;
  out.reserve(index_.size());
  for (const auto& entry : index_) out.push_back(entry.first);
  return out;
}

}  // namespace smol
