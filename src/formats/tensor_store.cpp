// A model folder's tensors, from one file or from shards named by the index file.

#include <fmt/format.h>

#include "formats/text_util.hpp"
#include "smol/error.hpp"
#include "smol/json_file.hpp"
#include "smol/safetensors.hpp"

namespace smol {
namespace {

using formats_detail::json_type_name;
using formats_detail::printable;

constexpr const char* kSingleFile = "model.safetensors";
constexpr const char* kIndexFile = "model.safetensors.index.json";

// Shard names come from a file that may be hostile: only plain names inside the folder.
bool is_plain_file_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
         name.find('\0') == std::string::npos;
}

}  // namespace

TensorStore TensorStore::open_folder(const std::filesystem::path& dir, LoadMode mode) {
  std::error_code ec;
  TensorStore store;
  store.source_ = dir;
  if (std::filesystem::is_regular_file(dir, ec)) {
    store.files_.push_back(SafetensorsFile::open(dir, mode));
    for (const auto& [name, view] : store.files_.back().tensors()) store.index_.emplace(name, &view);
    return store;
  }
  if (!std::filesystem::is_directory(dir, ec)) {
    throw Error(fmt::format("{}: no such model folder", dir.string()));
  }

  const std::filesystem::path index_path = dir / kIndexFile;
  if (!std::filesystem::exists(index_path, ec)) {
    const std::filesystem::path single = dir / kSingleFile;
    if (!std::filesystem::exists(single, ec)) {
      throw Error(fmt::format("{}: no {} or {} in the folder", dir.string(), kSingleFile, kIndexFile));
    }
    store.files_.push_back(SafetensorsFile::open(single, mode));
    for (const auto& [name, view] : store.files_.back().tensors()) store.index_.emplace(name, &view);
    return store;
  }

  const std::string where = index_path.string();
  const nlohmann::json index = read_json_file(index_path);
  if (!index.is_object()) throw Error(fmt::format("{}: must be a JSON object", where));
  const auto map_it = index.find("weight_map");
  if (map_it == index.end()) throw Error(fmt::format("{}: missing 'weight_map'", where));
  if (!map_it->is_object()) {
    throw Error(fmt::format("{}: 'weight_map' must be an object, got {}", where, json_type_name(*map_it)));
  }
  if (map_it->empty()) throw Error(fmt::format("{}: 'weight_map' is empty", where));

  // Open each shard once, in name order; reserve so SafetensorsFile objects never move while
  // index_ is being filled (their maps would survive a move, but this keeps it obvious).
  std::map<std::string, size_t> shard_slot;
  for (const auto& [tensor, shard] : map_it->items()) {
    if (!shard.is_string()) {
      throw Error(fmt::format("{}: shard for tensor '{}' must be a string, got {}", where, printable(tensor),
                              json_type_name(shard)));
    }
    const auto& shard_name = shard.get_ref<const std::string&>();
    if (!is_plain_file_name(shard_name)) {
      throw Error(fmt::format("{}: shard name '{}' for tensor '{}' must be a file name in the folder", where,
                              printable(shard_name), printable(tensor)));
    }
    shard_slot.emplace(shard_name, 0);
  }
  store.files_.reserve(shard_slot.size());
  for (auto& [shard_name, slot] : shard_slot) {
    const std::filesystem::path shard_path = dir / shard_name;
    if (!std::filesystem::exists(shard_path, ec)) {
      throw Error(fmt::format("{}: shard '{}' does not exist", where, printable(shard_name)));
    }
    slot = store.files_.size();
    store.files_.push_back(SafetensorsFile::open(shard_path, mode));
  }

  for (const auto& [tensor, shard] : map_it->items()) {
    const auto& shard_name = shard.get_ref<const std::string&>();
    const SafetensorsFile& file = store.files_[shard_slot.at(shard_name)];
    const TensorView* view = file.find(tensor);
    if (view == nullptr) {
      throw Error(fmt::format("{}: tensor '{}' is mapped to '{}' but that shard does not contain it", where,
                              printable(tensor), printable(shard_name)));
    }
    store.index_.emplace(tensor, view);
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
