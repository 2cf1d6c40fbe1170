#pragma once
// Training checkpoints: a Hugging Face model folder (config.json, model.safetensors,
// tokenizer files) that `smol generate` and transformers load as is, plus what resuming
// needs: optimizer.safetensors (AdamW moments, and the float32 master weights when the model
// is saved in bf16) and trainer_state.json (step, loss scale, seed, ...).
#include <cstdint>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "smol/dtype.hpp"
#include "smol/train_model.hpp"
#include "smol/train_optim.hpp"

namespace smol {

struct TrainerState {
  int64_t step = 0;          // optimizer steps completed (updates applied or skipped)
  int64_t tokens_seen = 0;   // input tokens over all ranks
  uint64_t seed = 0;         // with `step`, the whole random state (data order, dropout)
  double loss_scale = 1.0;   // fp16 dynamic loss scale
  int64_t good_steps = 0;    // fp16: finite steps since the scale last changed
  int64_t skipped_steps = 0; // fp16: steps skipped for overflowing gradients
  nlohmann::json options;    // the options of the run, for the record
};

nlohmann::json to_json(const TrainerState& s);
TrainerState trainer_state_from_json(const nlohmann::json& j, const std::string& source);

// Saves a checkpoint under `out` so that a crash (kill -9, power cut) at any moment leaves the
// previous one whole: the files go into a temporary folder, each flushed to disk, which is
// renamed to out/checkpoint-<step>; then out/latest (one line, the folder's name) is replaced
// the same way, and that is the commit. Afterwards out's own model files become hard links to
// the new checkpoint (so OUT stays a model folder for smol generate and transformers) and
// older checkpoints are removed. The weight files also carry the step in their metadata, so a
// torn folder is detected when resuming. Returns the checkpoint's folder.
std::filesystem::path save_checkpoint(const std::filesystem::path& out, const TrainModel& model,
                                      const AdamWState& optimizer, const TrainerState& state, DType save_dtype,
                                      const std::filesystem::path& tokenizer_dir);

// The folder holding the newest complete checkpoint: dir/<what dir/latest names> when there is
// a `latest` file, else `dir` itself (a checkpoint-<step> folder, or one from an older smol).
std::filesystem::path resolve_checkpoint_dir(const std::filesystem::path& dir);

struct Checkpoint {
  TrainModel model;
  AdamWState optimizer;
  TrainerState state;
};

// Reads the checkpoint resolve_checkpoint_dir(dir) names; smol::Error names what is missing or torn.
Checkpoint load_checkpoint(const std::filesystem::path& dir);

}  // namespace smol
