// Writing and reading training checkpoints.
#include "smol/train_checkpoint.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <fstream>

#include "smol/error.hpp"
#include "smol/json_file.hpp"
#include "smol/safetensors.hpp"

namespace smol {

namespace {

const char* torch_dtype(DType d) { return d == DType::F32 ? "float32" : d == DType::BF16 ? "bfloat16" : "float16"; }

void write_text_atomic(const std::filesystem::path& path, const std::string& text) {
  const auto tmp = std::filesystem::path(fmt::format("{}.tmp-{}", path.string(), ::getpid()));
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.flush()) throw Error(tmp.string() + ": write error");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw Error(fmt::format("{}: cannot rename into place: {}", path.string(), ec.message()));
}

void copy_atomic(const std::filesystem::path& from, const std::filesystem::path& to) {
  const auto tmp = std::filesystem::path(fmt::format("{}.tmp-{}", to.string(), ::getpid()));
  std::filesystem::copy_file(from, tmp, std::filesystem::copy_options::overwrite_existing);
  std::filesystem::rename(tmp, to);
}

std::string step_string(int64_t step) { return std::to_string(step); }

}  // namespace

nlohmann::json to_json(const TrainerState& s) {
  return {{"step", s.step},           {"tokens_seen", s.tokens_seen},     {"seed", s.seed},
          {"loss_scale", s.loss_scale}, {"good_steps", s.good_steps}, {"skipped_steps", s.skipped_steps},
          {"rng", {{"kind", "counter-based splitmix64"}, {"seed", s.seed}, {"counter", s.step}}},
          {"options", s.options}};
}

TrainerState trainer_state_from_json(const nlohmann::json& j, const std::string& source) {
  try {
    TrainerState s;
    s.step = j.at("step").get<int64_t>();
    s.tokens_seen = j.at("tokens_seen").get<int64_t>();
    s.seed = j.at("seed").get<uint64_t>();
    s.loss_scale = j.at("loss_scale").get<double>();
    s.good_steps = j.at("good_steps").get<int64_t>();
    s.skipped_steps = j.at("skipped_steps").get<int64_t>();
    s.options = j.value("options", nlohmann::json::object());
    return s;
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: not a smol trainer state: {}", source, e.what()));
  }
}

void save_checkpoint(const std::filesystem::path& dir, const TrainModel& model, const AdamWState& opt,
                     const TrainerState& state, DType save_dtype, const std::filesystem::path& tokenizer_dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error(fmt::format("{}: cannot create the checkpoint folder: {}", dir.string(), ec.message()));
  const std::map<std::string, std::string> meta = {{"format", "pt"}, {"smol_step", step_string(state.step)}};

  model.write_weights(dir / "model.safetensors", save_dtype, meta);  // what generate/transformers load
  // Optimizer moments, plus the float32 master weights when the model file lost precision.
  {
    std::vector<TensorView> views;
    for (const ParamTensor& t : model.layout.tensors()) {
      if (!opt.m.empty()) {
        views.push_back(tensor_view("m." + t.name, t.shape, std::span<const float>(opt.m.data() + t.offset, t.numel)));
        views.push_back(tensor_view("v." + t.name, t.shape, std::span<const float>(opt.v.data() + t.offset, t.numel)));
      }
      if (save_dtype != DType::F32) {
        views.push_back(
            tensor_view("master." + t.name, t.shape, std::span<const float>(model.params.data() + t.offset, t.numel)));
      }
    }
    auto opt_meta = meta;
    opt_meta["adam_t"] = std::to_string(opt.t);
    write_safetensors(dir / "optimizer.safetensors", views, opt_meta);
  }
  nlohmann::json config = model.config_json;
  config["torch_dtype"] = torch_dtype(save_dtype);
  write_text_atomic(dir / "config.json", config.dump(2) + "\n");
  if (!tokenizer_dir.empty() && !std::filesystem::equivalent(tokenizer_dir, dir, ec)) {
    // Every tokenizer layout Tokenizer::from_folder reads (Marian: the SentencePiece pair).
    for (const char* name : {"generation_config.json", "tokenizer.json", "tokenizer_config.json",
                             "special_tokens_map.json", "chat_template.jinja", "vocab.json", "merges.txt",
                             "source.spm", "target.spm", "target_vocab.json", "sentencepiece.bpe.model"}) {
      if (std::filesystem::exists(tokenizer_dir / name)) copy_atomic(tokenizer_dir / name, dir / name);
    }
  }
  write_text_atomic(dir / "trainer_state.json", to_json(state).dump(2) + "\n");
}

Checkpoint load_checkpoint(const std::filesystem::path& dir) {
  const auto state_path = dir / "trainer_state.json";
  if (!std::filesystem::exists(state_path)) {
    throw Error(fmt::format("{}: not a training checkpoint (no trainer_state.json)", dir.string()));
  }
  Checkpoint c;
  c.state = trainer_state_from_json(read_json_file(state_path), state_path.string());
  c.model = TrainModel::load(dir);
  const SafetensorsFile opt = SafetensorsFile::open(dir / "optimizer.safetensors");
  const std::string want = step_string(c.state.step);
  const SafetensorsFile weights = SafetensorsFile::open(dir / "model.safetensors");
  for (const SafetensorsFile* file : {&weights, &opt}) {
    auto it = file->metadata().find("smol_step");
    if (it == file->metadata().end() || it->second != want) {
      throw Error(fmt::format("{}: torn checkpoint ({} is not from step {} of trainer_state.json)", dir.string(),
                              file->path().filename().string(), want));
    }
  }
  const size_t n = c.model.layout.size();
  c.optimizer.t = std::stoll(opt.metadata().count("adam_t") ? opt.metadata().at("adam_t") : "0");
  if (opt.find("m." + c.model.layout.tensors().front().name)) {
    c.optimizer.m.assign(n, 0.0f);
    c.optimizer.v.assign(n, 0.0f);
  }
  for (const ParamTensor& t : c.model.layout.tensors()) {
    auto read = [&](const std::string& name, float* dst) {
      const TensorView& v = opt.get(name);
      if (v.dtype != DType::F32 || v.shape != t.shape) {
        throw Error(fmt::format("{}: optimizer tensor {} has the wrong dtype or shape", dir.string(), name));
      }
      std::copy(v.f32(), v.f32() + t.numel, dst);
    };
    if (!c.optimizer.m.empty()) {
      read("m." + t.name, c.optimizer.m.data() + t.offset);
      read("v." + t.name, c.optimizer.v.data() + t.offset);
    }
    if (opt.find("master." + t.name)) read("master." + t.name, c.model.params.data() + t.offset);
  }
  return c;
}

}  // namespace smol
