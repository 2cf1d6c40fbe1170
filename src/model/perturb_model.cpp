// A noisy copy of a model folder (smol init --from DIR --noise X).
#include <cmath>
#include <random>

#include <fmt/format.h>

#include "smol/error.hpp"
#include "smol/half.hpp"
#include "smol/init_weights.hpp"
#include "smol/safetensors.hpp"

namespace smol {

namespace {

float load(const TensorView& t, int64_t i) {
  switch (t.dtype) {
    case DType::F32: return t.f32()[i];
    case DType::BF16: return bf16_to_f32(t.u16()[i]);
    case DType::F16: return f16_to_f32(t.u16()[i]);
    default: throw Error(fmt::format("{}: tensor {} is {}; only F32, BF16 and F16 models can be perturbed", "perturb",
                                     t.name, dtype_name(t.dtype)));
  }
}

}  // namespace

void perturb_model(const std::filesystem::path& source_dir, const std::filesystem::path& out_dir,
                   float relative_noise, uint64_t seed) {
  if (!(relative_noise >= 0.0f) || !std::isfinite(relative_noise)) {
    throw Error(fmt::format("--noise must be a finite number >= 0, got {}", relative_noise));
  }
  if (!std::filesystem::is_directory(source_dir)) {
    throw Error(fmt::format("{}: not a model folder (perturbing needs a folder with safetensors)", source_dir.string()));
  }
  const TensorStore store = TensorStore::open_folder(source_dir);
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) throw Error(fmt::format("{}: cannot create folder: {}", out_dir.string(), ec.message()));

  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<std::vector<float>> f32_data;
  std::vector<std::vector<uint16_t>> u16_data;
  std::vector<TensorView> views;
  f32_data.reserve(store.names().size());
  u16_data.reserve(store.names().size());
  for (const std::string& name : store.names()) {
    const TensorView& t = store.get(name);
    const int64_t n = t.numel();
    std::vector<float> values(static_cast<size_t>(n));
    double sum_sq = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      values[i] = load(t, i);
      sum_sq += static_cast<double>(values[i]) * values[i];
    }
    if (t.shape.size() == 2 && n > 0) {
      const auto scale = static_cast<float>(relative_noise * std::sqrt(sum_sq / static_cast<double>(n)));
      for (float& v : values) v += scale * normal(rng);
    }
    if (t.dtype == DType::F32) {
      f32_data.push_back(std::move(values));
      views.push_back(tensor_view(name, t.shape, f32_data.back()));
    } else {
      std::vector<uint16_t> half(values.size());
      for (size_t i = 0; i < values.size(); ++i) {
        half[i] = t.dtype == DType::BF16 ? f32_to_bf16(values[i]) : f32_to_f16(values[i]);
      }
      u16_data.push_back(std::move(half));
      views.push_back(tensor_view(name, t.dtype, t.shape, u16_data.back()));
    }
  }
  write_safetensors(out_dir / "model.safetensors", views, {{"format", "pt"}});
  for (const char* name : {"config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                           "special_tokens_map.json", "vocab.json", "merges.txt"}) {
    if (!std::filesystem::exists(source_dir / name)) continue;
    std::filesystem::copy_file(source_dir / name, out_dir / name, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::permissions(out_dir / name, std::filesystem::perms::owner_write, std::filesystem::perm_options::add);
  }
}

}  // namespace smol
