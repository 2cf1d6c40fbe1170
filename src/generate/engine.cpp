#include "smol/chat_template.hpp"
#include "smol/error.hpp"
#include "smol/generate.hpp"
#include "smol/gguf_tokenizer.hpp"

namespace smol {

namespace {

std::filesystem::path require_file(const std::filesystem::path& dir, const char* name) {
  std::filesystem::path p = dir / name;
  if (!std::filesystem::exists(p)) throw Error(p.string() + ": file not found");
  return p;
}

}  // namespace

Engine::Engine(const std::filesystem::path& model_dir, int n_threads, LoadMode load,
               std::optional<WeightType> weights)
    : model_dir_(model_dir),
      model_(Model::load(model_dir, load)),
      tokenizer_(model_->gguf() ? tokenizer_from_gguf(*model_->gguf())
                                : Tokenizer::from_folder(model_dir)),
      pool_(n_threads) {
  if (weights) model_->convert_weights(*weights);
}

Engine::~Engine() = default;

std::shared_ptr<const GrammarVocab> Engine::grammar_vocab() const {
  if (!grammar_vocab_) {
    grammar_vocab_ = std::make_shared<GrammarVocab>(tokenizer_, static_cast<size_t>(model_->config().vocab_size));
  }
  return grammar_vocab_;
}

const ChatTemplate& Engine::chat_template() const {
  if (!chat_template_ && model_->gguf()) {
    chat_template_ = std::make_unique<ChatTemplate>(chat_template_from_gguf(*model_->gguf(), tokenizer_));
  }
  if (!chat_template_) {
    chat_template_ = std::make_unique<ChatTemplate>(
        ChatTemplate::from_tokenizer_config(require_file(model_dir_, "tokenizer_config.json")));
  }
  return *chat_template_;
}

}  // namespace smol
