// libFuzzer target: the pytorch_model.bin reader (zip records, pickle, tensor bounds) on the
// input as a file, and the unpickler on the input as data.pkl — the zip CRC would otherwise
// turn almost every mutation of the pickle into a CRC error before the unpickler sees it.
// Anything but success or smol::Error (a crash, a sanitizer report, another exception) is a bug.
#include <cstddef>
#include <cstdint>
#include <span>

#include "formats/pickle_reader.hpp"
#include "smol/error.hpp"
#include "smol/pytorch_bin.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const std::byte> bytes = std::as_bytes(std::span(data, size));
  try {
    const smol::PytorchBinTensors out = smol::parse_pytorch_bin(bytes, "fuzz.bin");
    // Read every byte of every view, so a view out of bounds is an ASan report.
    unsigned sum = 0;
    for (const auto& [name, t] : out.tensors) {
      for (size_t i = 0; i < t.nbytes; ++i) sum += std::to_integer<unsigned>(t.data[i]);
    }
    volatile unsigned sink = sum;
    (void)sink;
  } catch (const smol::Error&) {
  }
  try {
    smol::formats_detail::read_state_dict_pickle(bytes, "fuzz.pkl");
  } catch (const smol::Error&) {
  }
  return 0;
}
