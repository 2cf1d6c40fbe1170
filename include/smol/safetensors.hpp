#pragma once
// Safetensors files (https://huggingface.co/docs/safetensors): an 8-byte little-endian header
// length N, N bytes of JSON describing each tensor, then the raw tensor bytes. Files are
// memory-mapped and TensorViews point straight into the mapping: nothing is copied, and a
// view stays valid as long as the SafetensorsFile/TensorStore that produced it.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "smol/dtype.hpp"
#include "smol/mapped_file.hpp"
#include "smol/pytorch_bin.hpp"
#include "smol/tensor_view.hpp"

namespace smol {

class SafetensorsFile {
 public:
  // Maps and validates the whole header: every problem throws smol::Error naming the file and,
  // where one is at fault, the tensor.
  static SafetensorsFile open(const std::filesystem::path& path, LoadMode mode = LoadMode::Map);

  const TensorView* find(const std::string& name) const;  // nullptr if absent
  const TensorView& get(const std::string& name) const;   // throws smol::Error if absent
  const std::map<std::string, TensorView>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::filesystem::path& path() const { return file_.path(); }
  // The bytes backing the views (the whole file), for bounds checks in tests and tools.
  const MappedFile& mapping() const { return file_; }

 private:
  MappedFile file_;
  std::map<std::string, TensorView> tensors_;
  std::map<std::string, std::string> metadata_;
};

// A model's complete set of tensors: `model.safetensors`, or the shards listed in
// `model.safetensors.index.json` ({"weight_map": {tensor: shard file}}); in a folder with no
// safetensors, `pytorch_model.bin` or the shards of `pytorch_model.bin.index.json` (as
// transformers, safetensors win when both are present).
class TensorStore {
 public:
  // `dir` is a model folder; a path to a single .safetensors (or .bin/.pt/.pth) file is accepted too.
  static TensorStore open_folder(const std::filesystem::path& dir, LoadMode mode = LoadMode::Map);

  const TensorView* find(const std::string& name) const;  // nullptr if absent
  const TensorView& get(const std::string& name) const;   // "<dir>: tensor X missing"
  std::vector<std::string> names() const;                 // sorted
  const std::filesystem::path& source() const { return source_; }
  const std::vector<SafetensorsFile>& files() const { return files_; }
  const std::vector<PytorchBinFile>& bin_files() const { return bin_files_; }

 private:
  std::filesystem::path source_;
  std::vector<SafetensorsFile> files_;
  std::vector<PytorchBinFile> bin_files_;
  // Points into files_' and bin_files_' maps; map nodes never move, so moving the store keeps them valid.
  std::map<std::string, const TensorView*> index_;
};

// Views over caller-owned buffers, for write_safetensors.
TensorView tensor_view(std::string name, std::vector<int64_t> shape, std::span<const float> values);
// `dtype` must be BF16 or F16: the values are raw 16-bit patterns.
TensorView tensor_view(std::string name, DType dtype, std::vector<int64_t> shape,
                       std::span<const uint16_t> values);

// Writes a safetensors file atomically (temp file in the same folder, then rename). Tensors
// are laid out by decreasing element size then name, so every tensor is aligned and the data
// is contiguous as the reference implementation requires; the header is padded to 8 bytes.
void write_safetensors(const std::filesystem::path& path, const std::vector<TensorView>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace smol
