#include "model/bind_weights.hpp"
#include "model/gguf_model.hpp"
#include "model/weight_conversion.hpp"
#include "smol/model.hpp"

#include <fmt/format.h>

#include "smol/error.hpp"
#include "smol/json_file.hpp"
#include "smol/seq2seq.hpp"

namespace smol {

Model::Model(ModelConfig config, TensorStore store, const std::string& source)
    : config_(std::move(config)), store_(std::move(store)) {
  // Bound after the store has moved into place, so the views point at its final mappings.
  weights_ = bind_weights(config_, store_, source);
}

void Model::convert_weights(WeightType type) {
  converter_ = std::make_shared<MatrixConverter>(type);
  converter_->convert(weights_.embed);
  for (LayerWeights& layer : weights_.layers) {
    for (MatrixView* m : {&layer.q, &layer.k, &layer.v, &layer.o, &layer.gate, &layer.up, &layer.down}) {
      converter_->convert(*m);
    }
  }
  converter_->convert(weights_.lm_head);
}

std::unique_ptr<Model> Model::load(const std::filesystem::path& folder, LoadMode mode) {
  if (std::filesystem::is_regular_file(folder)) {
    auto gguf = open_gguf_weights(folder, mode);
    ModelConfig config = gguf->config;
    return std::unique_ptr<Model>(new Model(std::move(config), std::move(gguf), folder.string()));
  }
  if (std::filesystem::exists(folder / "config.json")) {
    const nlohmann::json raw = read_json_file(folder / "config.json");
    if (Seq2SeqConfig::is_seq2seq(raw)) {
      throw Error(fmt::format("{}: is an encoder-decoder model (model_type '{}'): run it with smol translate or smol "
                              "summarize",
                              folder.string(), raw.value("model_type", std::string("?"))));
    }
  }
  ModelConfig config = ModelConfig::from_folder(folder);
  TensorStore store = TensorStore::open_folder(folder, mode);
  return std::unique_ptr<Model>(new Model(std::move(config), std::move(store), folder.string()));
}

}  // namespace smol
