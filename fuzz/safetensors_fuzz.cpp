// libFuzzer target: a .safetensors file (8-byte header length, JSON header, data), opened both
// ways (mapped and read into memory). Every view must lie inside the file's bytes and hold
// exactly its shape's bytes. Anything but success or smol::Error is a bug.
#include <cstdlib>

#include "fuzz/fuzz_util.hpp"
#include "smol/error.hpp"
#include "smol/gguf.hpp"
#include "smol/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::filesystem::path path = smol::fuzz::scratch_dir() / "model.safetensors";
  smol::fuzz::write_file(path, smol::fuzz::as_text(data, size));
  for (smol::LoadMode mode : {smol::LoadMode::Map, smol::LoadMode::Read}) {
    try {
      const smol::SafetensorsFile file = smol::SafetensorsFile::open(path, mode);
      const std::byte* begin = file.mapping().data();
      const std::byte* end = begin + file.mapping().size();
      for (const auto& [name, view] : file.tensors()) {
        if (view.data < begin || view.nbytes > static_cast<size_t>(end - view.data)) std::abort();
        const auto expected = smol::tensor_bytes(view.dtype, view.shape);
        if (!expected || *expected != view.nbytes) std::abort();
        smol::fuzz::touch(std::span(view.data, view.nbytes));
        smol::fuzz::touch(name);
      }
      for (const auto& [key, value] : file.metadata()) smol::fuzz::touch(key + value);
    } catch (const smol::Error&) {
    }
  }
  return 0;
}
