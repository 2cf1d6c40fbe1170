#pragma once
// pytorch_model.bin as torch.save (>= 1.6) writes it: a zip archive holding `<name>/data.pkl`
// (a pickled dict of tensors), `<name>/data/<key>` (one record per storage), `<name>/version`
// and, from torch 2.1, `<name>/byteorder`. The pickle is read by a restricted reader that runs
// nothing (see src/formats/pickle_reader.hpp). Tensors are views into the mapped file when
// their storage is stored uncompressed, they are contiguous and aligned (what torch writes);
// otherwise (transposed or strided views, deflated entries, big-endian files) they are copied
// once at load, contiguously, into memory the file object owns.
#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "smol/mapped_file.hpp"
#include "smol/tensor_view.hpp"

namespace smol {

// The tensors of one archive; views point into the bytes given to parse_pytorch_bin or into
// `buffers`.
struct PytorchBinTensors {
  struct Buffer {
    std::unique_ptr<std::byte[]> bytes;  // a heap block: it never moves with the struct
    size_t size = 0;
  };
  std::map<std::string, TensorView> tensors;
  std::vector<Buffer> buffers;  // the copies
  size_t copied_bytes = 0;      // their total; 0 for a file torch wrote little-endian
};

// Validates everything (zip records, pickle, every offset and size against its storage);
// errors are smol::Error starting with `where`. `bytes` must outlive the result.
PytorchBinTensors parse_pytorch_bin(std::span<const std::byte> bytes, const std::string& where);

class PytorchBinFile {
 public:
  static PytorchBinFile open(const std::filesystem::path& path, LoadMode mode = LoadMode::Map);

  const TensorView* find(const std::string& name) const;  // nullptr if absent
  const TensorView& get(const std::string& name) const;   // throws smol::Error if absent
  const std::map<std::string, TensorView>& tensors() const { return contents_.tensors; }
  const std::filesystem::path& path() const { return file_.path(); }
  const MappedFile& mapping() const { return file_; }
  size_t copied_bytes() const { return contents_.copied_bytes; }

 private:
  MappedFile file_;
  PytorchBinTensors contents_;
};

}  // namespace smol
