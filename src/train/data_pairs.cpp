// Source/target pairs for encoder-decoder training: JSONL or TSV, tokenized once with the
// model's own tokenizer and cached beside the data file.
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "smol/atomic_file.hpp"
#include "smol/error.hpp"
#include "smol/tokenizer.hpp"
#include "smol/train_data.hpp"

namespace smol {

namespace {

constexpr char kMagic[8] = {'S', 'M', 'O', 'L', 'P', 'A', 'I', 'R'};
constexpr uint64_t kFormatVersion = 1;  // bump when tokenize_pairs changes its output

struct CacheHeader {
  char magic[8];
  uint64_t version, key, data_size;
  int64_t data_mtime_ns;
  uint64_t n_pairs, n_source, n_target, truncated_sources, truncated_targets;
};

uint64_t fnv1a(uint64_t h, std::string_view bytes) {
  for (unsigned char c : bytes) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

std::string slurp_if_exists(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return {};
  return std::string(std::istreambuf_iterator<char>(in), {});
}

bool is_jsonl(const std::filesystem::path& p) {
  const std::string ext = p.extension().string();
  return ext == ".jsonl" || ext == ".json" || ext == ".ndjson";
}

// Truncates as transformers' tokenizers do with truncation=True: the text is cut, the
// special tokens that end the sequence are kept.
bool truncate(std::vector<int32_t>& ids, int max_len, int32_t eos) {
  if (max_len <= 0 || static_cast<int>(ids.size()) <= max_len) return false;
  const int32_t last = ids.back();
  ids.resize(static_cast<size_t>(max_len));
  if (last == eos && eos >= 0) ids.back() = eos;
  return true;
}

void write_cache(const std::filesystem::path& path, const PairData& d, uint64_t key, uint64_t size, int64_t mtime) {
  CacheHeader h{};
  std::memcpy(h.magic, kMagic, sizeof(kMagic));
  h.version = kFormatVersion;
  h.key = key;
  h.data_size = size;
  h.data_mtime_ns = mtime;
  h.n_pairs = d.size();
  h.n_source = d.source_tokens.size();
  h.n_target = d.target_tokens.size();
  h.truncated_sources = static_cast<uint64_t>(d.truncated_sources);
  h.truncated_targets = static_cast<uint64_t>(d.truncated_targets);
  AtomicFile out(path);
  out.write(&h, sizeof(h));
  auto write = [&](const auto& v) { out.write(v.data(), v.size() * sizeof(v[0])); };
  write(d.source_offsets);
  write(d.target_offsets);
  write(d.source_tokens);
  write(d.target_tokens);
  out.commit();
}

// Empty data when the cache is missing, stale or not ours.
PairData read_cache(const std::filesystem::path& path, uint64_t key, uint64_t size, int64_t mtime) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  CacheHeader h{};
  if (!in.read(reinterpret_cast<char*>(&h), sizeof(h))) return {};
  if (std::memcmp(h.magic, kMagic, 8) != 0 || h.version != kFormatVersion || h.key != key || h.data_size != size ||
      h.data_mtime_ns != mtime || h.n_pairs == 0) {
    return {};
  }
  const uint64_t need = sizeof(h) + 2 * (h.n_pairs + 1) * 8 + (h.n_source + h.n_target) * 4;
  std::error_code ec;
  if (std::filesystem::file_size(path, ec) != need) return {};
  PairData d;
  d.source_offsets.resize(h.n_pairs + 1);
  d.target_offsets.resize(h.n_pairs + 1);
  d.source_tokens.resize(h.n_source);
  d.target_tokens.resize(h.n_target);
  auto read = [&](auto& v) {
    in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(v[0])));
  };
  read(d.source_offsets);
  read(d.target_offsets);
  read(d.source_tokens);
  read(d.target_tokens);
  if (!in || d.source_offsets.back() != h.n_source || d.target_offsets.back() != h.n_target) return {};
  d.truncated_sources = static_cast<int64_t>(h.truncated_sources);
  d.truncated_targets = static_cast<int64_t>(h.truncated_targets);
  return d;
}

}  // namespace

void PairData::append(std::vector<int32_t> source, std::vector<int32_t> target) {
  if (source_offsets.empty()) source_offsets.push_back(0), target_offsets.push_back(0);
  source_tokens.insert(source_tokens.end(), source.begin(), source.end());
  target_tokens.insert(target_tokens.end(), target.begin(), target.end());
  source_offsets.push_back(source_tokens.size());
  target_offsets.push_back(target_tokens.size());
}

PairData tokenize_pairs(const std::filesystem::path& data, const Tokenizer& tok, const PairLimits& limits) {
  std::ifstream in(data, std::ios::binary);
  if (!in) throw Error(data.string() + ": cannot open the data file");
  const bool jsonl = is_jsonl(data);
  PairData out;
  std::string line;
  for (int line_no = 1; std::getline(in, line); ++line_no) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    const std::string where = fmt::format("{}:{}", data.string(), line_no);
    std::string source, target;
    if (jsonl) {
      nlohmann::json doc;
      try {
        doc = nlohmann::json::parse(line);
      } catch (const nlohmann::json::exception& e) {  // parse_error, and out_of_range for 1e400
        throw Error(fmt::format("{}: invalid JSON: {}", where, e.what()));
      }
      if (!doc.is_object() || !doc.contains("source") || !doc["source"].is_string() || !doc.contains("target") ||
          !doc["target"].is_string()) {
        throw Error(where + ": expected an object with string fields \"source\" and \"target\"");
      }
      source = doc["source"].get<std::string>();
      target = doc["target"].get<std::string>();
    } else {
      const size_t tab = line.find('\t');
      if (tab == std::string::npos) throw Error(where + ": expected source<TAB>target (or use a .jsonl file)");
      source = line.substr(0, tab);
      target = line.substr(tab + 1);
    }
    std::vector<int32_t> s = tok.encode_with_special(source), t = tok.encode_target(target);
    if (s.empty() || t.empty()) throw Error(where + ": an empty source or target");
    out.truncated_sources += truncate(s, limits.max_source_len, limits.eos_token_id);
    out.truncated_targets += truncate(t, limits.max_target_len, limits.eos_token_id);
    out.append(std::move(s), std::move(t));
  }
  if (out.size() == 0) throw Error(data.string() + ": no source/target pairs in the data file");
  return out;
}

LoadedPairs load_pair_data(const std::filesystem::path& data, const std::filesystem::path& model_dir,
                           const PairLimits& limits) {
  struct stat st {};
  if (::stat(data.c_str(), &st) != 0) throw Error(data.string() + ": cannot open the data file");
  const auto size = static_cast<uint64_t>(st.st_size);
  const int64_t mtime = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  uint64_t key = 0xcbf29ce484222325ull;
  for (const char* name : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json",
                           "merges.txt", "source.spm", "target.spm", "target_vocab.json", "sentencepiece.bpe.model"}) {
    key = fnv1a(fnv1a(key, name), slurp_if_exists(model_dir / name));
  }
  key = fnv1a(key, fmt::format("{}/{}/{}", limits.max_source_len, limits.max_target_len, limits.eos_token_id));
  LoadedPairs out;
  out.cache_path = std::filesystem::path(data.string() + fmt::format(".{:016x}.smolpairs", key));
  out.data = read_cache(out.cache_path, key, size, mtime);
  out.from_cache = out.data.size() > 0;
  if (!out.from_cache) {
    out.data = tokenize_pairs(data, Tokenizer::from_folder(model_dir), limits);
    try {
      write_cache(out.cache_path, out.data, key, size, mtime);
    } catch (const std::exception& e) {
      out.note = fmt::format("could not write the pair cache ({}); tokenizing again next time", e.what());
    }
  }
  const PairData& d = out.data;
  if (d.truncated_sources > 0 || d.truncated_targets > 0) {
    if (!out.note.empty()) out.note += "; ";
    out.note += fmt::format(
        "truncated {} of {} sources to --max-source-len {} and {} targets to --max-target-len {} tokens",
        d.truncated_sources, d.size(), limits.max_source_len, d.truncated_targets, limits.max_target_len);
  }
  return out;
}

}  // namespace smol
