// Load-time conversion of weight matrices (--weights): every matrix widened row by row and
// stored again in the asked type, so users get quantized speed without a GGUF file.
#include "model/weight_conversion.hpp"

#include "smol/quant.hpp"

namespace smol {

MatrixView convert_matrix(const MatrixView& m, WeightType type, std::vector<uint8_t>& storage) {
  if (m.type == type || m.cols % block_elements(type) != 0) return m;
  const size_t out_row = static_cast<size_t>(row_bytes(type, m.cols));
  storage.resize(out_row * m.rows);
  std::vector<float> row(m.cols);
  for (int64_t r = 0; r < m.rows; ++r) {
    widen_row(m, r, row.data());
    quantize_row(type, row.data(), storage.data() + r * out_row, m.cols);
  }
  return {type, storage.data(), m.rows, m.cols};
}

void MatrixConverter::convert(MatrixView& m) {
  for (const auto& [original, converted] : done_) {
    if (original == m.data) {
      m = converted;
      return;
    }
  }
  const void* original = m.data;
  storage_.emplace_back();
  m = convert_matrix(m, type_, storage_.back());
  done_.emplace_back(original, m);
}

}  // namespace smol
