// Checking `smol train`'s options once, with messages that name the flag.
#include <fmt/format.h>

#include "smol/error.hpp"
#include "smol/train.hpp"

namespace smol {

Precision parse_precision(const std::string& name) {
  if (name == "fp32") return Precision::FP32;
  if (name == "bf16") return Precision::BF16;
  if (name == "fp16") return Precision::FP16;
  throw Error(fmt::format("--precision: unknown precision '{}' (use fp32, bf16 or fp16)", name));
}

void TrainOptions::validate() const {
  auto require = [](bool ok, const std::string& message) {
    if (!ok) throw Error(message);
  };
  require(steps >= 1, "--steps must be at least 1");
  require(batch >= 1, "--batch must be at least 1");
  require(seq_len >= 0, "--seq-len must be at least 1");
  require(lr > 0.0, "--lr must be positive");
  require(beta1 >= 0.0 && beta1 < 1.0, "--beta1 must be in [0, 1)");
  require(beta2 >= 0.0 && beta2 < 1.0, "--beta2 must be in [0, 1)");
  require(eps > 0.0, "--eps must be positive");
  require(weight_decay >= 0.0, "--weight-decay must not be negative");
  require(grad_clip >= 0.0, "--grad-clip must not be negative (0 disables clipping)");
  parse_schedule(schedule);
  require(warmup >= 0, "--warmup must not be negative");
  require(min_lr >= 0.0 && min_lr <= lr, "--min-lr must be in [0, --lr]");
  require(decay_fraction > 0.0 && decay_fraction <= 1.0, "--decay-fraction must be in (0, 1]");
  require(layer_decay > 0.0 && layer_decay <= 1.0, "--layer-decay must be in (0, 1]");
  // Negative rates mean "the model's own" and are resolved by the Trainer.
  require(dropout < 1.0f, "--dropout must be in [0, 1)");
  require(attention_dropout < 1.0f, "--attention-dropout must be in [0, 1)");
  require(activation_dropout < 1.0f, "--activation-dropout must be in [0, 1)");
  require(label_smoothing >= 0.0 && label_smoothing < 1.0, "--label-smoothing must be in [0, 1)");
  require(max_source_len >= 0 && max_target_len >= 0, "--max-source-len / --max-target-len must not be negative");
  parse_precision(precision);
  require(grad_accum >= 1, "--grad-accum must be at least 1");
  require(batch % grad_accum == 0,
          fmt::format("--batch {} must be a multiple of --grad-accum {} (the batch is split into micro-batches)",
                      batch, grad_accum));
  require(save_every >= 0, "--save-every must not be negative");
  require(save_dtype == "f32" || save_dtype == "bf16", "--save-dtype must be f32 or bf16");
  require(val_fraction >= 0.0 && val_fraction < 1.0, "--val-fraction must be in [0, 1)");
  require(threads >= 1, "--threads must be at least 1");
  require(eval_every >= 0, "--eval-every must not be negative");
  require(eval_batches >= 1, "--eval-batches must be at least 1");
  require(initial_loss_scale > 0.0, "the initial loss scale must be positive");
  require(!out.empty(), "--out is required");
}

nlohmann::json TrainOptions::to_json() const {
  return {{"model", model.string()},      {"data", data.string()},
          {"out", out.string()},          {"resume", resume.string()},
          {"steps", steps},               {"batch", batch},
          {"seq_len", seq_len},           {"lr", lr},
          {"beta1", beta1},               {"beta2", beta2},
          {"eps", eps},                   {"weight_decay", weight_decay},
          {"grad_clip", grad_clip},       {"schedule", schedule},
          {"warmup", warmup},             {"min_lr", min_lr},
          {"decay_fraction", decay_fraction}, {"layer_decay", layer_decay},
          {"dropout", dropout},           {"precision", precision},
          {"grad_accum", grad_accum},     {"save_every", save_every},
          {"save_dtype", save_dtype},     {"val_fraction", val_fraction},
          {"seed", seed},                 {"shuffle", shuffle},
          {"threads", threads},           {"eval_every", eval_every},
          {"eval_batches", eval_batches}, {"attention_dropout", attention_dropout},
          {"activation_dropout", activation_dropout}, {"label_smoothing", label_smoothing},
          {"max_source_len", max_source_len}, {"max_target_len", max_target_len}};
}

}  // namespace smol
