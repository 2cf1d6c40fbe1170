#pragma once
#include <cstdint>
#include <list>
#include <utility>
#include <vector>

#include "smol/kernels.hpp"

namespace smol {

// `m` converted to `type` into `storage`; a matrix whose rows are not whole blocks of `type`
// is returned unchanged.
MatrixView convert_matrix(const MatrixView& m, WeightType type, std::vector<uint8_t>& storage);

// Converts many matrices, once each: tied matrices (one embedding used as input and output
// layer) stay one matrix. Owns the converted bytes.
class MatrixConverter {
 public:
  explicit MatrixConverter(WeightType type) : type_(type) {}
  void convert(MatrixView& m);

 private:
  WeightType type_;
  std::list<std::vector<uint8_t>> storage_;  // a list: converted views must not move
  std::vector<std::pair<const void*, MatrixView>> done_;
  friend class Model;
  friend class Seq2SeqModel;
};

}  // namespace smol
