#pragma once
// Flags shared by several commands, so that they mean the same thing everywhere.
#include <CLI/CLI.hpp>
#include <filesystem>
#include <string>

#include "smol/kernels.hpp"
#include "smol/mapped_file.hpp"
#include "smol/sampler.hpp"

namespace smol::cli {

int default_threads();

// Range checks with readable messages ("expected a number, got 'abc'").
CLI::Validator non_negative_number();
CLI::Validator positive_number();

// -m MODEL: a Hugging Face model folder or a .gguf file. Checked here so every command fails the same way.
void add_model_option(CLI::App& app, std::string& model);
// --mmap: keep the model file memory-mapped instead of reading it into memory (LoadMode).
void add_mmap_option(CLI::App& app, LoadMode& load);
std::filesystem::path resolve_model(const std::string& model);

void add_threads_option(CLI::App& app, int& threads);

// --temp --top-k --top-p --min-p --repeat-penalty --repeat-last-n --seed
void add_sampling_options(CLI::App& app, SamplingParams& params);

// --draft MODEL --draft-max N --draft-min N --draft-p-min P --lookup N (llama.cpp's names):
// speculative decoding with a draft model or prompt lookup (SpeculativeOptions).
struct SpeculativeFlags {
  std::string draft;  // empty: none
  int lookup = 0;
  int draft_max = 16;
  int draft_min = 0;
  float draft_p_min = 0.75f;
  bool enabled() const { return !draft.empty() || lookup > 0; }
};
void add_speculative_options(CLI::App& app, SpeculativeFlags& flags);

// --cache-type f32|f16|bf16|q8_0: how the KV cache stores keys and values (llama.cpp's
// -ctk/-ctv, one flag for both). An unknown name is a command-line error (exit 2).
void add_cache_type_option(CLI::App& app, WeightType& type);
CLI::Validator cache_type_names();
WeightType cache_type_from_name(const std::string& name);  // a name cache_type_names() accepts
const char* cache_type_name(WeightType type);                // "f32", "f16", "bf16" or "q8_0"

// Reads a whole file as bytes; smol::Error naming the file when it can't.
std::string read_text_file(const std::filesystem::path& path);

}  // namespace smol::cli
