// Loading an encoder-decoder checkpoint folder: config, tensors, binding, optional
// load-time conversion of the matrices.
#include "model/seq2seq_weights.hpp"
#include "model/weight_conversion.hpp"
#include "smol/seq2seq.hpp"

namespace smol {

Seq2SeqModel::Seq2SeqModel(Seq2SeqConfig config, TensorStore store, const std::string& source,
                           std::optional<WeightType> weights)
    : config_(std::move(config)), store_(std::move(store)) {
  // Bound after the store has moved into place, so the views point at its final mappings.
  const TensorLookup find = [this](const std::string& name) { return store_.find(name); };
  weights_ = bind_seq2seq_weights(config_, find, source);
  if (!weights) return;
  converter_ = std::make_shared<MatrixConverter>(*weights);
  auto convert = [&](MatrixView& m) { converter_->convert(m); };
  for (Seq2SeqStackWeights* stack : {&weights_.encoder, &weights_.decoder}) {
    convert(stack->embed);
    for (Seq2SeqLayer& layer : stack->layers) {
      for (AttentionWeights* a : {&layer.self_attn, &layer.cross_attn}) {
        if (!a->q.w.data) continue;
        for (Linear* l : {&a->q, &a->k, &a->v, &a->o}) convert(l->w);
      }
      convert(layer.fc1.w);
      convert(layer.fc2.w);
    }
  }
  convert(weights_.lm_head);
}

std::unique_ptr<Seq2SeqModel> Seq2SeqModel::load(const std::filesystem::path& dir, LoadMode mode,
                                                 std::optional<WeightType> weights) {
  Seq2SeqConfig config = Seq2SeqConfig::from_folder(dir);
  TensorStore store = TensorStore::open_folder(dir, mode);
  return std::unique_ptr<Seq2SeqModel>(new Seq2SeqModel(std::move(config), std::move(store), dir.string(), weights));
}

KvCache Seq2SeqModel::make_cache(int capacity, WeightType type) const {
  return KvCache(config_.decoder.layers, config_.d_model, capacity, type);
}

}  // namespace smol
