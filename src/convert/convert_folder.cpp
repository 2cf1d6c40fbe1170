// Writing a model as a Hugging Face folder (F32/F16/BF16 safetensors), e.g. to get a GGUF back
// into transformers or into smol's training code.
#include <unistd.h>

#include <fmt/format.h>

#include "convert/convert_source.hpp"
#include "smol/atomic_file.hpp"
#include "smol/error.hpp"
#include "smol/gguf.hpp"
#include "smol/thread_pool.hpp"

namespace smol {

namespace {

void write_json(const std::filesystem::path& path, const nlohmann::json& j) { write_file_atomic(path, j.dump(2) + "\n"); }

// A new output folder is built beside its final name and renamed into place once complete, so
// a crash or a full disk never leaves a half-converted model under that name. (An existing
// folder gets each file replaced whole.)
class StagedFolder {
 public:
  explicit StagedFolder(const std::filesystem::path& out) : final_(out.has_filename() ? out : out.parent_path()) {
    std::error_code ec;
    if (std::filesystem::exists(final_, ec)) {
      dir_ = final_;
      return;
    }
    dir_ = final_.string() + ".tmp-" + std::to_string(::getpid());
    std::filesystem::remove_all(dir_, ec);
    staged_ = true;
  }
  StagedFolder(const StagedFolder&) = delete;
  StagedFolder& operator=(const StagedFolder&) = delete;
  ~StagedFolder() {
    std::error_code ec;
    if (staged_) std::filesystem::remove_all(dir_, ec);
  }
  const std::filesystem::path& dir() const { return dir_; }
  // An error message about a file in the staging folder, naming it as it will be called.
  std::string as_final(std::string message) const {
    if (!staged_) return message;
    const std::string staging = dir_.string();
    for (size_t at = message.find(staging); at != std::string::npos; at = message.find(staging, at)) {
      message.replace(at, staging.size(), final_.string());
    }
    return message;
  }
  void commit() {
    if (!staged_) return;
    std::error_code ec;
    std::filesystem::rename(dir_, final_, ec);
    if (ec) throw Error(fmt::format("{}: cannot rename the finished folder into place: {}", final_.string(), ec.message()));
    staged_ = false;
    sync_dir(final_.parent_path());
  }

 private:
  std::filesystem::path final_, dir_;
  bool staged_ = false;
};

std::string token_text(const GgufMetadata& m, const std::vector<std::string>& tokens, const char* key,
                       const std::string& source) {
  const auto id = m.get_int(key, source);
  return id && *id >= 0 && static_cast<size_t>(*id) < tokens.size() ? tokens[*id] : std::string();
}

// tokenizer.json, tokenizer_config.json and generation_config.json for a GGUF source.
void write_tokenizer_files(const ConvertSource& source, const std::filesystem::path& out) {
  const GgufMetadata& m = source.gguf->file.metadata();
  const std::string where = source.path.string();
  write_json(out / "tokenizer.json", tokenizer_json_from_gguf(m, where));
  const auto tokens = m.get_strings("tokenizer.ggml.tokens", where).value_or(std::vector<std::string>{});
  nlohmann::json config = {{"tokenizer_class", "GPT2Tokenizer"},
                           {"add_prefix_space", false},
                           {"clean_up_tokenization_spaces", false},
                           {"model_max_length", source.config.max_position_embeddings}};
  for (const auto& [field, key] : {std::pair{"bos_token", "tokenizer.ggml.bos_token_id"},
                                   std::pair{"eos_token", "tokenizer.ggml.eos_token_id"},
                                   std::pair{"unk_token", "tokenizer.ggml.unknown_token_id"},
                                   std::pair{"pad_token", "tokenizer.ggml.padding_token_id"}}) {
    if (auto text = token_text(m, tokens, key, where); !text.empty()) config[field] = text;
  }
  if (auto chat = m.get_string("tokenizer.chat_template", where)) config["chat_template"] = *chat;
  write_json(out / "tokenizer_config.json", config);
  nlohmann::json generation = nlohmann::json::object();
  if (source.config.bos_token_id >= 0) generation["bos_token_id"] = source.config.bos_token_id;
  if (!source.config.eos_token_ids.empty()) generation["eos_token_id"] = source.config.eos_token_ids;
  write_json(out / "generation_config.json", generation);
}

// Everything the folder holds, written into `out`.
void write_folder_files(const ConvertSource& source, const std::filesystem::path& out, DType dtype, ThreadPool& pool,
                        std::vector<ConvertedTensor>& written) {
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec || !std::filesystem::is_directory(out)) {
    throw Error(fmt::format("{}: cannot create folder{}", out.string(), ec ? ": " + ec.message() : ""));
  }

  // Safetensors are written from views, so the converted tensors are all held at once.
  std::vector<std::vector<std::byte>> buffers;
  std::vector<TensorView> views;
  for (const std::string& name : hf_tensor_names(source.config)) {
    const TensorView& src = source.get(name);
    auto& bytes = buffers.emplace_back(*tensor_bytes(dtype, src.shape));
    convert_rows(src, dtype, {}, bytes, pool);
    views.push_back(TensorView{name, dtype, src.shape, bytes.data(), bytes.size()});
    written.push_back({name, dtype, bytes.size()});
  }
  write_safetensors(out / "model.safetensors", views, {{"format", "pt"}});

  ModelConfig config = source.config;
  config.torch_dtype = dtype == DType::F32 ? "float32" : dtype == DType::F16 ? "float16" : "bfloat16";
  write_json(out / "config.json", config.to_json());
  if (source.gguf) {
    write_tokenizer_files(source, out);
  } else {
    for (const char* name : {"generation_config.json", "tokenizer.json", "tokenizer_config.json",
                             "special_tokens_map.json", "chat_template.jinja"}) {
      // The copy is a new 0644 file, so a read-only source leaves it writable for a later convert.
      if (std::filesystem::exists(source.path / name)) copy_file_atomic(source.path / name, out / name);
    }
  }
}

}  // namespace

void write_hf_folder(const ConvertSource& source, const std::filesystem::path& out_folder, ConvertType type,
                     ThreadPool& pool, std::vector<ConvertedTensor>& written) {
  DType dtype = DType::F32;
  switch (type) {
    case ConvertType::F32: dtype = DType::F32; break;
    case ConvertType::F16: dtype = DType::F16; break;
    case ConvertType::BF16: dtype = DType::BF16; break;
    default:
      throw Error(fmt::format("{}: a Hugging Face folder holds f32, f16 or bf16 weights; write {} to a .gguf file",
                              out_folder.string(), convert_type_name(type)));
  }
  StagedFolder staged(out_folder);
  try {
    write_folder_files(source, staged.dir(), dtype, pool, written);
  } catch (const Error& e) {
    throw Error(staged.as_final(e.what()));  // the user knows the folder by its final name
  }
  staged.commit();
}

}  // namespace smol
