#include "cli/options.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "smol/error.hpp"
#include "smol/hub.hpp"
#include "smol/quant.hpp"

namespace smol::cli {

namespace {

// CLI11's own range checks print the whole double range when the value is not a number;
// this says what was expected in words.
CLI::Validator number_at_least(double low, bool inclusive) {
  return CLI::Validator(
      [low, inclusive](std::string& value) -> std::string {
        double x = 0.0;
        size_t used = 0;
        try {
          x = std::stod(value, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used != value.size() || value.empty()) return "expected a number, got '" + value + "'";
        if (inclusive ? x < low : x <= low) {
          return "must be " + std::string(inclusive ? ">= " : "> ") + CLI::detail::to_string(low) + ", got " + value;
        }
        return "";
      },
      inclusive ? "NUMBER >= 0" : "NUMBER > 0");
}

struct CacheTypeName {
  const char* name;
  WeightType type;
};
constexpr CacheTypeName kCacheTypes[] = {
    {"f32", WeightType::F32}, {"f16", WeightType::F16}, {"bf16", WeightType::BF16}, {"q8_0", WeightType::Q8_0}};

}  // namespace

CLI::Validator non_negative_number() { return number_at_least(0.0, true); }

CLI::Validator positive_number() { return number_at_least(0.0, false); }

int default_threads() { return std::max(1u, std::thread::hardware_concurrency()); }

void add_model_option(CLI::App& app, std::string& model) {
  app.add_option("-m,--model", model, "Model: a Hugging Face model folder, a .gguf file or a Hub repo OWNER/NAME")->required();
}

void add_mmap_option(CLI::App& app, LoadMode& load) {
  load = LoadMode::Read;
  app.add_flag_callback(
      "--mmap", [&load] { load = LoadMode::Map; },
      "Map the model file instead of reading it into memory: loads faster and shares the page cache "
      "between processes, but decodes slower (4 KB pages instead of huge pages)");
}

std::filesystem::path resolve_model(const std::string& model) {
  std::filesystem::path path(model);
  if (std::filesystem::is_directory(path)) return path;
  if (std::filesystem::is_regular_file(path) && path.extension() == ".gguf") return path;
  if (!std::filesystem::exists(path) && is_hub_repo_id(model)) {
    // OWNER/NAME: the Hub cache, downloading first when it is not there (and not offline).
    PullEvents events;
    events.note = [](const std::string& m) { std::fprintf(stderr, "smol: %s\n", m.c_str()); };
    return resolve_hub_model(model, events);
  }
  if (!std::filesystem::exists(path)) {
    throw Error(model + ": model not found (expected a Hugging Face model folder, a .gguf file or OWNER/NAME)");
  }
  throw Error(model + ": not a model (expected a folder with config.json and model.safetensors, or a .gguf file)");
}

void add_threads_option(CLI::App& app, int& threads) {
  threads = default_threads();
  app.add_option("-t,--threads", threads, "Number of threads")->check(CLI::Range(1, 1024))->capture_default_str();
}

void add_sampling_options(CLI::App& app, SamplingParams& p) {
  app.add_option("--temp", p.temperature, "Temperature; 0 is greedy")->check(non_negative_number())->capture_default_str();
  app.add_option("--top-k", p.top_k, "Keep the K most likely tokens (0: off)")->check(non_negative_number())->capture_default_str();
  app.add_option("--top-p", p.top_p, "Nucleus sampling mass (1: off)")->check(CLI::Range(0.0, 1.0))->capture_default_str();
  app.add_option("--min-p", p.min_p, "Drop tokens below P times the best one's probability (0: off)")
      ->check(CLI::Range(0.0, 1.0))->capture_default_str();
  app.add_option("--repeat-penalty", p.repeat_penalty, "Penalty for repeated tokens (1: off)")
      ->check(positive_number())->capture_default_str();
  app.add_option("--repeat-last-n", p.repeat_last_n, "Window of recent tokens for penalties (-1: all)")
      ->check(CLI::Range(-1, 1 << 30))->capture_default_str();
  app.add_option("--seed", p.seed, "Random seed (default: random, reported on stderr)");
}

void add_speculative_options(CLI::App& app, SpeculativeFlags& f) {
  auto* draft = app.add_option("--draft", f.draft,
                               "Speculative decoding with this draft model (same tokenizer; a folder, .gguf or OWNER/NAME)");
  auto* lookup = app.add_option("--lookup", f.lookup,
                                "Speculative decoding by prompt lookup: propose what followed the last N tokens before")
                     ->check(CLI::Range(1, 64));
  draft->excludes(lookup);
  app.add_option("--draft-max", f.draft_max, "Most tokens proposed per step")->check(CLI::Range(1, 64))->capture_default_str();
  app.add_option("--draft-min", f.draft_min, "Fewer proposed tokens than this are not checked")
      ->check(CLI::Range(0, 64))->capture_default_str();
  app.add_option("--draft-p-min", f.draft_p_min, "The draft stops proposing when its top probability is below P")
      ->check(CLI::Range(0.0, 1.0))->capture_default_str();
}

CLI::Validator cache_type_names() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        for (const auto& t : kCacheTypes) {
          if (value == t.name) return "";
        }
        return "expected f32, f16, bf16 or q8_0, got '" + value + "'";
      },
      "f32|f16|bf16|q8_0");
}

WeightType cache_type_from_name(const std::string& name) {
  for (const auto& t : kCacheTypes) {
    if (name == t.name) return t.type;
  }
  throw Error("unknown KV cache type '" + name + "': use f32, f16, bf16 or q8_0");
}

const char* cache_type_name(WeightType type) {
  for (const auto& t : kCacheTypes) {
    if (type == t.type) return t.name;
  }
  return weight_type_name(type);
}

void add_cache_type_option(CLI::App& app, WeightType& type) {
  type = WeightType::F32;
  app.add_option_function<std::string>(
         "--cache-type", [&type](const std::string& name) { type = cache_type_from_name(name); },
         "KV cache storage: f32, f16 or bf16 (half the memory), q8_0 (0.27x)")
      ->check(cache_type_names())
      ->default_str("f32");
}

std::string read_text_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path.string() + ": cannot open file");
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) throw Error(path.string() + ": read error");
  return out.str();
}

}  // namespace smol::cli
