#pragma once
// A restricted reader for the pickle torch.save writes as data.pkl: a dict of tensors, each
// rebuilt by torch._utils._rebuild_tensor_v2 from a storage named by a persistent id. It
// interprets the opcodes as data and never calls anything: the only globals it accepts are the
// few that tensor storage needs, and any other global or opcode is a smol::Error naming it.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "smol/dtype.hpp"

namespace smol::formats_detail {

// ('storage', torch.<T>Storage, key, location, numel): the bytes are the archive's data/<key>.
struct PickledStorage {
  std::string key;
  DType dtype = DType::F32;
  uint64_t numel = 0;
};

// A view into a storage, as _rebuild_tensor_v2 describes it (offset and strides in elements).
// Values are as pickled: ranks, sizes and strides are checked non-negative, nothing more.
struct PickledTensor {
  std::string name;
  size_t storage = 0;  // index into PickledStateDict::storages
  uint64_t offset = 0;
  std::vector<int64_t> shape;
  std::vector<int64_t> stride;
};

struct PickledStateDict {
  std::vector<PickledStorage> storages;  // one per distinct key (tied weights share one)
  std::vector<PickledTensor> tensors;    // in the dict's order
};

// `where` starts every error message (e.g. "pytorch_model.bin").
PickledStateDict read_state_dict_pickle(std::span<const std::byte> pickle, const std::string& where);

}  // namespace smol::formats_detail
