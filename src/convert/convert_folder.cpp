// Writing a model as a Hugging Face folder (F32/F16/BF16 safetensors), e.g. to get a GGUF back
// into transformers or into smol's training code.
#include <fstream>

#include <fmt/format.h>

#include "convert/convert_source.hpp"
#include "smol/error.hpp"
#include "smol/gguf.hpp"
#include "smol/thread_pool.hpp"

namespace smol {

namespace {

void write_json(const std::filesystem::path& path, const nlohmann::json& j) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << j.dump(2) << "\n";
  if (!out) throw Error(fmt::format("{}: cannot write", path.string()));
}

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

}  // namespace

void write_hf_folder(const ConvertSource& source, const std::filesystem::path& out, ConvertType type,
                     ThreadPool& pool, std::vector<ConvertedTensor>& written) {
  DType dtype = DType::F32;
  switch (type) {
    case ConvertType::F32: dtype = DType::F32; break;
    case ConvertType::F16: dtype = DType::F16; break;
    case ConvertType::BF16: dtype = DType::BF16; break;
    default:
      throw Error(fmt::format("{}: a Hugging Face folder holds f32, f16 or bf16 weights; write {} to a .gguf file",
                              out.string(), convert_type_name(type)));
  }
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
    return;
  }
  for (const char* name : {"generation_config.json", "tokenizer.json", "tokenizer_config.json",
                           "special_tokens_map.json", "chat_template.jinja"}) {
    if (!std::filesystem::exists(source.path / name)) continue;
    std::filesystem::copy_file(source.path / name, out / name, std::filesystem::copy_options::overwrite_existing, ec);
    if (ec) throw Error(fmt::format("{}: cannot copy {}: {}", out.string(), name, ec.message()));
    // Copies of read-only sources stay writable so a later convert can overwrite them.
    std::filesystem::permissions(out / name, std::filesystem::perms::owner_write, std::filesystem::perm_options::add, ec);
  }
}

}  // namespace smol
