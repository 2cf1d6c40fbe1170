// libFuzzer target: a sharded model's index (`model.safetensors.index.json`, and
// `pytorch_model.bin.index.json`) read by TensorStore::open_folder, in folders that hold two
// valid shards each (tensors a, b in shard 1 and c, d in shard 2, as the seeds name them).
// Shard names are hostile input: only plain names in the folder may be opened. Anything but
// success or smol::Error is a bug.
#include <cstdlib>

#include "fuzz/fuzz_util.hpp"
#include "smol/error.hpp"
#include "smol/safetensors.hpp"

namespace {

struct Folders {
  std::filesystem::path safetensors, bin;
};

const Folders& folders() {
  static const Folders f = [] {
    Folders out{smol::fuzz::scratch_dir() / "st", smol::fuzz::scratch_dir() / "bin"};
    std::filesystem::create_directories(out.safetensors);
    std::filesystem::create_directories(out.bin);
    static const float values[4] = {1, 2, 3, 4};
    smol::write_safetensors(out.safetensors / "model-00001-of-00002.safetensors",
                            {smol::tensor_view("a", {2, 2}, values), smol::tensor_view("b", {4}, values)});
    smol::write_safetensors(out.safetensors / "model-00002-of-00002.safetensors",
                            {smol::tensor_view("c", {1, 4}, values), smol::tensor_view("d", {1}, std::span(values, 1))});
    const auto fixtures = smol::fuzz::source_dir() / "tests/fixtures/pytorch_bin/sharded";
    for (const char* shard : {"pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin"}) {
      std::filesystem::copy_file(fixtures / shard, out.bin / shard, std::filesystem::copy_options::overwrite_existing);
    }
    return out;
  }();
  return f;
}

void open(const std::filesystem::path& dir, const char* index_name, std::string_view index) {
  smol::fuzz::write_file(dir / index_name, index);
  try {
    const smol::TensorStore store = smol::TensorStore::open_folder(dir);
    for (const std::string& name : store.names()) {
      const smol::TensorView& view = store.get(name);
      smol::fuzz::touch(std::span(view.data, view.nbytes));
    }
  } catch (const smol::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Folders& f = folders();
  open(f.safetensors, "model.safetensors.index.json", smol::fuzz::as_text(data, size));
  open(f.bin, "pytorch_model.bin.index.json", smol::fuzz::as_text(data, size));
  return 0;
}
