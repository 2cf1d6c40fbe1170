// Writing and reading training checkpoints.
#include "smol/train_checkpoint.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <fstream>
#include <regex>

#include "smol/atomic_file.hpp"
#include "smol/error.hpp"
#include "smol/json_file.hpp"
#include "smol/safetensors.hpp"

namespace smol {

namespace {

const char* torch_dtype(DType d) { return d == DType::F32 ? "float32" : d == DType::BF16 ? "bfloat16" : "float16"; }

std::string step_string(int64_t step) { return std::to_string(step); }

namespace fs = std::filesystem;

constexpr const char* kLatest = "latest";  // the pointer file: the name of the newest complete checkpoint

std::string checkpoint_name(int64_t step) { return "checkpoint-" + step_string(step); }

bool is_checkpoint_name(const std::string& name) {
  static const std::regex pattern("checkpoint-[0-9]+");
  return std::regex_match(name, pattern);
}

// The files of one checkpoint, into a folder of their own.
void write_checkpoint_files(const fs::path& dir, const TrainModel& model, const AdamWState& opt,
                            const TrainerState& state, DType save_dtype, const fs::path& tokenizer_dir) {
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
  write_file_atomic(dir / "config.json", config.dump(2) + "\n");
  std::error_code ec;
  if (!tokenizer_dir.empty() && !fs::equivalent(tokenizer_dir, dir, ec)) {
    // Every tokenizer layout Tokenizer::from_folder reads (Marian: the SentencePiece pair).
    for (const char* name : {"generation_config.json", "tokenizer.json", "tokenizer_config.json",
                             "special_tokens_map.json", "chat_template.jinja", "vocab.json", "merges.txt",
                             "source.spm", "target.spm", "target_vocab.json", "sentencepiece.bpe.model"}) {
      if (fs::exists(tokenizer_dir / name)) copy_file_atomic(tokenizer_dir / name, dir / name);
    }
  }
  write_file_atomic(dir / "trainer_state.json", to_json(state).dump(2) + "\n");
}

// `out` itself stays a model folder (smol generate -m OUT, from_pretrained): its files are
// hard links to the newest checkpoint's, each replaced by a rename. Resuming reads through
// `latest`, so a crash half-way through these links costs nothing.
void link_into(const fs::path& out, const fs::path& checkpoint) {
  for (const fs::directory_entry& e : fs::directory_iterator(checkpoint)) {
    if (!e.is_regular_file()) continue;
    const fs::path target = out / e.path().filename();
    const fs::path tmp = out / fmt::format(".{}.link-{}", e.path().filename().string(), ::getpid());
    std::error_code ec;
    fs::remove(tmp, ec);
    fs::create_hard_link(e.path(), tmp, ec);
    if (ec) {  // a file system without hard links: a copy, just as atomic
      copy_file_atomic(e.path(), target);
      continue;
    }
    fs::rename(tmp, target, ec);
    if (ec) throw Error(fmt::format("{}: cannot rename into place: {}", target.string(), ec.message()));
  }
  sync_dir(out);
}

// Older checkpoints, and what writes that a crash cut short left behind, once `keep` is
// committed: staging folders, AtomicFile temporaries beside OUT's own files (`latest`,
// loss_curve.svg, train_log.jsonl: NAME.tmp-XXXXXX) and half-made links (.NAME.link-PID).
// A process killed between creating one of those and renaming it leaves it there; this
// process has renamed all of its own by now, and OUT has one writer.
void remove_stale(const fs::path& out, const std::string& keep) {
  static const std::regex temp_file(".+\\.tmp-[A-Za-z0-9]{6}");
  static const std::regex link_file("\\..+\\.link-[0-9]+");
  std::vector<fs::path> stale;
  for (const fs::directory_entry& e : fs::directory_iterator(out)) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file() && !e.is_symlink()) {
      if (std::regex_match(name, temp_file) || std::regex_match(name, link_file)) stale.push_back(e.path());
      continue;
    }
    if (!e.is_directory() || name == keep) continue;
    const bool staging = name.starts_with(".checkpoint-") && name.find(".tmp-") != std::string::npos;
    if (is_checkpoint_name(name) || staging) stale.push_back(e.path());
  }
  for (const fs::path& p : stale) {
    std::error_code ec;
    fs::remove_all(p, ec);  // best effort: what is left is removed at the next save
  }
}

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

fs::path resolve_checkpoint_dir(const fs::path& dir) {
  const fs::path pointer = dir / kLatest;
  if (!fs::exists(pointer)) return dir;
  std::ifstream in(pointer);
  std::string name;
  std::getline(in, name);
  if (!is_checkpoint_name(name)) {
    throw Error(fmt::format("{}: does not name a checkpoint folder (checkpoint-<step>); pass --resume {}/checkpoint-N",
                            pointer.string(), dir.string()));
  }
  if (!fs::is_directory(dir / name)) {
    throw Error(fmt::format("{}: names {}, which is not there; pass --resume {}/checkpoint-N", pointer.string(), name,
                            dir.string()));
  }
  return dir / name;
}

fs::path save_checkpoint(const fs::path& out, const TrainModel& model, const AdamWState& opt,
                         const TrainerState& state, DType save_dtype, const fs::path& tokenizer_dir) {
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) throw Error(fmt::format("{}: cannot create the checkpoint folder: {}", out.string(), ec.message()));
  const std::string name = checkpoint_name(state.step);
  const fs::path staging = out / fmt::format(".{}.tmp-{}", name, ::getpid());
  fs::remove_all(staging, ec);
  if (!fs::create_directory(staging, ec) || ec) {
    throw Error(fmt::format("{}: cannot create a folder: {}", staging.string(), ec.message()));
  }
  write_checkpoint_files(staging, model, opt, state, save_dtype, tokenizer_dir);
  sync_dir(staging);
  // The same step from a run killed before it moved `latest`: never the checkpoint `latest`
  // names, whose step is always lower.
  const fs::path final_dir = out / name;
  fs::remove_all(final_dir, ec);
  fs::rename(staging, final_dir, ec);
  if (ec) throw Error(fmt::format("{}: cannot rename into place: {}", final_dir.string(), ec.message()));
  sync_dir(out);
  write_file_atomic(out / kLatest, name + "\n");  // the commit: from here on, resume reads this one
  link_into(out, final_dir);
  remove_stale(out, name);
  return final_dir;
}

Checkpoint load_checkpoint(const std::filesystem::path& where) {
  const fs::path dir = resolve_checkpoint_dir(where);
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
