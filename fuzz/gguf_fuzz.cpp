// libFuzzer target: a .gguf file, opened both ways (mapped and read), then what smol builds from
// its metadata: the Llama config, the tokenizer (tokenizer.ggml.*, used to encode and decode) and
// the chat template (rendered). Every tensor view must lie inside the file and hold exactly its
// shape's bytes. Anything but success or smol::Error is a bug.
#include <cstdlib>

#include "fuzz/fuzz_util.hpp"
#include "smol/error.hpp"
#include "smol/gguf.hpp"
#include "smol/gguf_tokenizer.hpp"

namespace {

void use_metadata(const smol::GgufFile& file) {
  try {
    (void)smol::llama_config_from_gguf(file);
  } catch (const smol::Error&) {
  }
  try {
    const smol::Tokenizer tok = smol::tokenizer_from_gguf(file);
    const std::vector<int32_t> ids = tok.encode("Hello world 123 <|im_start|>ünï");
    smol::fuzz::touch(tok.decode(ids));
    const smol::ChatTemplate chat = smol::chat_template_from_gguf(file, tok);
    smol::fuzz::touch(chat.render({{"user", "hi"}, {"assistant", "hello"}}, true));
  } catch (const smol::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::filesystem::path path = smol::fuzz::scratch_dir() / "model.gguf";
  smol::fuzz::write_file(path, smol::fuzz::as_text(data, size));
  for (smol::LoadMode mode : {smol::LoadMode::Map, smol::LoadMode::Read}) {
    try {
      const smol::GgufFile file = smol::GgufFile::open(path, mode);
      const std::byte* begin = file.mapping().data();
      const std::byte* end = begin + file.mapping().size();
      for (const smol::TensorView& view : file.tensors()) {
        if (view.data < begin || view.nbytes > static_cast<size_t>(end - view.data)) std::abort();
        const auto expected = smol::tensor_bytes(view.dtype, view.shape);
        if (!expected || *expected != view.nbytes) std::abort();
        smol::fuzz::touch(std::span(view.data, view.nbytes));
        if (file.find(view.name) == nullptr) std::abort();
      }
      if (mode == smol::LoadMode::Map) use_metadata(file);
    } catch (const smol::Error&) {
    }
  }
  return 0;
}
