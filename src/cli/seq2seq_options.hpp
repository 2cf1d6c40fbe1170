#pragma once
// Flags that override a model's generation_config.json for one run (transformers' generate
// keyword arguments), shared by translate, summarize and generate --beams. A flag left out
// leaves the folder's value in place.
#include <CLI/CLI.hpp>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "smol/generation_config.hpp"
#include "smol/kernels.hpp"
#include "smol/seq2seq_generate.hpp"

namespace smol::cli {

struct SearchFlags {
  std::optional<int> beams;
  std::optional<float> temperature;  // > 0 samples, 0 is greedy
  std::optional<int> top_k;
  std::optional<float> top_p;
  std::optional<int> max_new_tokens;
  std::optional<int> max_length;
  std::optional<int> min_length;
  std::optional<float> length_penalty;
  std::optional<int> no_repeat_ngram_size;
  std::optional<float> repetition_penalty;
  std::string early_stopping;  // "", "true", "false" or "never"
  uint64_t seed = 0;
};

void add_search_options(CLI::App& app, SearchFlags& flags);
GenerationConfig apply_search_flags(GenerationConfig config, const SearchFlags& flags);

// transformers' pipelines apply config.json's task_specific_params[task] (e.g. BART-CNN's
// summarization: 4 beams, length_penalty 2, min/max length, no_repeat_ngram_size 3) over the
// generation config, and prepend its "prefix" (else config.json's own "prefix") to every
// source. Returns `base` unchanged when the folder has none; an empty task only reads the
// prefix.
GenerationConfig with_task_params(const std::filesystem::path& dir, const std::string& task,
                                  const GenerationConfig& base, std::string& prefix);

// --weights f32|bf16|q8_0: convert the matrices once at load time.
void add_weights_option(CLI::App& app, std::string& weights);
WeightType weight_type_from_flag(const std::string& name);

// True when <dir>/config.json describes an encoder-decoder model.
bool is_seq2seq_folder(const std::filesystem::path& dir);

// The request translate, summarize and eval-seq2seq send: the folder's generation config
// with the flags applied.
Seq2SeqRequest seq2seq_request(const Seq2SeqEngine& engine, const SearchFlags& flags, WeightType cache_type);

// One entry per line of a text file (a trailing '\r' dropped), in order; smol::Error naming
// the file when it can't be read.
std::vector<std::string> read_lines(const std::string& path);

// Newlines inside one output become spaces: one output per line is the contract.
std::string one_line(std::string text);

}  // namespace smol::cli
