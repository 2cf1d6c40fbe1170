#include "cli/seq2seq_options.hpp"

#include <fstream>

#include <nlohmann/json.hpp>

#include "smol/error.hpp"
#include "smol/json_file.hpp"
#include "smol/seq2seq.hpp"

namespace smol::cli {

void add_search_options(CLI::App& app, SearchFlags& f) {
  app.add_option("--beams", f.beams, "Beam search with N beams (num_beams)")->check(CLI::PositiveNumber);
  app.add_option("--temp", f.temperature, "Sample at this temperature (0: greedy / beam search)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--top-k", f.top_k, "Sample from the K most likely tokens (0: all)")->check(CLI::NonNegativeNumber);
  app.add_option("--top-p", f.top_p, "Nucleus sampling mass")->check(CLI::Range(0.0, 1.0));
  app.add_option("-n,--max-new-tokens", f.max_new_tokens, "Most tokens to generate per source")
      ->check(CLI::PositiveNumber);
  app.add_option("--max-length", f.max_length, "Most decoder tokens, the start token included (max_length)")
      ->check(CLI::PositiveNumber);
  app.add_option("--min-length", f.min_length, "Fewest decoder tokens before EOS is allowed (min_length)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--length-penalty", f.length_penalty, "Beam score = sum logprob / length^P (length_penalty)");
  app.add_option("--no-repeat-ngram-size", f.no_repeat_ngram_size, "Never repeat an n-gram of this size")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--repeat-penalty", f.repetition_penalty, "transformers' repetition_penalty")
      ->check(CLI::PositiveNumber);
  app.add_option("--early-stopping", f.early_stopping, "Beam search stopping rule")
      ->check(CLI::IsMember({"true", "false", "never"}));
  app.add_option("--seed", f.seed, "Seed for sampling")->capture_default_str();
}

GenerationConfig apply_search_flags(GenerationConfig g, const SearchFlags& f) {
  if (f.beams) g.num_beams = *f.beams;
  if (f.temperature) {
    g.do_sample = *f.temperature > 0.0f;
    if (g.do_sample) g.temperature = *f.temperature;
  }
  if (f.top_k) g.top_k = *f.top_k;
  if (f.top_p) g.top_p = *f.top_p;
  if (f.max_new_tokens) g.max_new_tokens = *f.max_new_tokens;
  if (f.max_length) {
    g.max_length = *f.max_length;
    g.max_new_tokens.reset();
    g.max_length_set_by_caller = true;
  }
  if (f.min_length) {
    g.min_length = *f.min_length;
    g.min_new_tokens.reset();
  }
  if (f.length_penalty) g.length_penalty = *f.length_penalty;
  if (f.no_repeat_ngram_size) g.no_repeat_ngram_size = *f.no_repeat_ngram_size;
  if (f.repetition_penalty) g.repetition_penalty = *f.repetition_penalty;
  if (f.early_stopping == "true") g.early_stopping = EarlyStopping::True;
  if (f.early_stopping == "false") g.early_stopping = EarlyStopping::False;
  if (f.early_stopping == "never") g.early_stopping = EarlyStopping::Never;
  if (g.num_return_sequences > g.num_beams) g.num_return_sequences = 1;  // only the best is printed
  g.validate();
  return g;
}

GenerationConfig with_task_params(const std::filesystem::path& dir, const std::string& task,
                                  const GenerationConfig& base, std::string& prefix) {
  prefix.clear();
  const nlohmann::json config = read_json_file(dir / "config.json");
  // Text2TextGenerationPipeline puts config.prefix before every source (a task's prefix
  // replaces it).
  if (const auto p = config.find("prefix"); p != config.end() && p->is_string()) prefix = p->get<std::string>();
  if (task.empty()) return base;
  const auto tasks = config.find("task_specific_params");
  if (tasks == config.end() || !tasks->is_object() || !tasks->contains(task)) return base;
  nlohmann::json params = (*tasks)[task];
  if (!params.is_object()) throw Error((dir / "config.json").string() + ": task_specific_params." + task + " must be an object");
  if (params.contains("prefix")) {
    if (params["prefix"].is_string()) prefix = params["prefix"].get<std::string>();
    params.erase("prefix");
  }
  // The folder's own generation settings, then the task's on top, as GenerationConfig.update.
  const bool has_generation_json = std::filesystem::exists(dir / "generation_config.json");
  nlohmann::json merged = has_generation_json ? read_json_file(dir / "generation_config.json") : config;
  for (const auto& [key, value] : params.items()) merged[key] = value;
  GenerationConfig g = GenerationConfig::from_json(merged, (dir / "config.json").string(), !has_generation_json);
  g.max_length_set_by_caller = base.max_length_set_by_caller;
  return g;
}

void add_weights_option(CLI::App& app, std::string& weights) {
  app.add_option("--weights", weights, "Convert the weights once at load time: f32, bf16 or q8_0")
      ->check(CLI::IsMember({"f32", "bf16", "q8_0"}));
}

WeightType weight_type_from_flag(const std::string& name) {
  if (name == "f32") return WeightType::F32;
  if (name == "bf16") return WeightType::BF16;
  if (name == "q8_0") return WeightType::Q8_0;
  throw Error("--weights must be f32, bf16 or q8_0, got '" + name + "'");
}

bool is_seq2seq_folder(const std::filesystem::path& dir) {
  if (!std::filesystem::is_directory(dir) || !std::filesystem::exists(dir / "config.json")) return false;
  return Seq2SeqConfig::is_seq2seq(read_json_file(dir / "config.json"));
}

Seq2SeqRequest seq2seq_request(const Seq2SeqEngine& engine, const SearchFlags& flags, WeightType cache_type) {
  Seq2SeqRequest request;
  request.generation = apply_search_flags(engine.generation(), flags);
  request.seed = flags.seed;
  request.cache_type = cache_type;
  return request;
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open the file");
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  if (in.bad()) throw Error(path + ": read error");
  return lines;
}

std::string one_line(std::string text) {
  for (char& ch : text) {
    if (ch == '\n' || ch == '\r') ch = ' ';
  }
  return text;
}

}  // namespace smol::cli
