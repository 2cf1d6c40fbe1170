#pragma once
// The parameters of Hugging Face transformers' `generate` (GenerationConfig), with its
// defaults, read as transformers reads them: `generation_config.json` when the folder has one,
// else the legacy generation fields of `config.json` (GenerationConfig.from_model_config).
// Only the fields smol's search implements are kept; see search.hpp for their semantics.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace smol {

// transformers' early_stopping: a bool or the string "never".
enum class EarlyStopping { False, True, Never };

struct GenerationConfig {
  // Lengths count the whole row: the prompt (decoder-only) or the decoder start token
  // (encoder-decoder) plus the generated tokens, as transformers' input_ids does.
  int max_length = 20;
  std::optional<int> max_new_tokens;  // wins over max_length when set
  int min_length = 0;
  std::optional<int> min_new_tokens;  // wins over min_length when set
  EarlyStopping early_stopping = EarlyStopping::False;

  bool do_sample = false;
  int num_beams = 1;
  double temperature = 1.0;
  int top_k = 50;
  double top_p = 1.0;
  std::optional<double> min_p;
  double repetition_penalty = 1.0;
  double length_penalty = 1.0;
  int no_repeat_ngram_size = 0;
  std::optional<std::vector<std::vector<int32_t>>> bad_words_ids;
  std::optional<int32_t> forced_bos_token_id;
  std::vector<int32_t> forced_eos_token_id;  // empty: none (an int or a list in JSON)

  std::optional<int32_t> bos_token_id;
  std::vector<int32_t> eos_token_id;  // empty: none (an int or a list in JSON)
  std::optional<int32_t> pad_token_id;
  std::optional<int32_t> decoder_start_token_id;
  int num_return_sequences = 1;

  // transformers' `has_default_max_length` is true unless max_length is passed to generate()
  // itself; then a max_length of exactly 20 (the global default) means "20 new tokens"
  // (capped at max_position_embeddings). A caller that overrides max_length sets this.
  bool max_length_set_by_caller = false;

  // <dir>/generation_config.json if it exists, else <dir>/config.json (legacy fields).
  static GenerationConfig from_folder(const std::filesystem::path& dir);
  // `from_model_config`: the object is a config.json, whose unrelated keys are ignored and
  // whose nulls mean "unset" (transformers drops None values from the model config). In a
  // generation_config.json a null also leaves the default in place.
  static GenerationConfig from_json(const nlohmann::json& object, const std::string& source,
                                    bool from_model_config = false);

  // Throws smol::Error naming the first field that transformers would reject (or that would
  // make the search meaningless): num_beams < 1, max_new_tokens <= 0, num_return_sequences
  // > num_beams (or > 1 in greedy mode), negative lengths, temperature <= 0 with sampling,
  // top_k < 0, top_p or min_p outside [0, 1], repetition_penalty <= 0, no_repeat_ngram_size
  // < 0, empty bad word lists, negative token ids.
  void validate() const;

  bool is_beam() const { return num_beams > 1; }
  bool operator==(const GenerationConfig&) const = default;
};

// "false", "true" or "never".
const char* early_stopping_name(EarlyStopping value);

}  // namespace smol
