// The token cache beside a data file: tokenizing a large corpus takes a while, so it is done
// once and the result memory-mapped by every later run (and every MPI rank).
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <memory>

#include "smol/chat_template.hpp"
#include "smol/atomic_file.hpp"
#include "smol/error.hpp"
#include "smol/tokenizer.hpp"
#include "smol/train_data.hpp"

namespace smol {

namespace {

constexpr char kMagic[8] = {'S', 'M', 'O', 'L', 'T', 'O', 'K', '1'};
constexpr uint64_t kFormatVersion = 1;  // bump when tokenize_corpus changes its output

struct CacheHeader {
  char magic[8];
  uint64_t version;
  uint64_t key;
  uint64_t data_size;
  int64_t data_mtime_ns;
  uint64_t n_tokens;
  uint64_t has_mask;
  uint64_t reserved;
};
static_assert(sizeof(CacheHeader) == 64);

uint64_t fnv1a(uint64_t h, std::string_view bytes) {
  for (unsigned char c : bytes) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

std::string slurp_if_exists(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return {};
  return std::string(std::istreambuf_iterator<char>(in), {});
}

struct FileStamp {
  uint64_t size;
  int64_t mtime_ns;
};

FileStamp stamp(const std::filesystem::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) throw Error(p.string() + ": cannot open the data file");
  return {static_cast<uint64_t>(st.st_size), static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
}

void write_token_cache(const std::filesystem::path& path, const TokenData& d, uint64_t key, FileStamp s) {
  CacheHeader h{};
  std::memcpy(h.magic, kMagic, sizeof(kMagic));
  h.version = kFormatVersion;
  h.key = key;
  h.data_size = s.size;
  h.data_mtime_ns = s.mtime_ns;
  h.n_tokens = d.size();
  h.has_mask = d.scored().empty() ? 0 : 1;
  AtomicFile out(path);
  out.write(&h, sizeof(h));
  out.write(d.tokens().data(), d.size() * 4);
  out.write(d.scored().data(), d.scored().size());
  out.commit();
}

}  // namespace

TokenData read_token_cache(const std::filesystem::path& path, uint64_t key, uint64_t data_size,
                           int64_t data_mtime_ns) {
  TokenData d;
  if (!std::filesystem::exists(path)) return d;
  d.mapping_ = MappedFile::open(path);
  if (d.mapping_.size() < sizeof(CacheHeader)) return TokenData{};
  CacheHeader h;
  std::memcpy(&h, d.mapping_.data(), sizeof(h));
  const size_t need = sizeof(h) + h.n_tokens * 4 + (h.has_mask ? h.n_tokens : 0);
  if (std::memcmp(h.magic, kMagic, 8) != 0 || h.version != kFormatVersion || d.mapping_.size() != need ||
      h.key != key || h.data_size != data_size || h.data_mtime_ns != data_mtime_ns || h.n_tokens == 0) {
    return TokenData{};
  }
  const std::byte* p = d.mapping_.data() + sizeof(h);
  d.tokens_ = {reinterpret_cast<const int32_t*>(p), h.n_tokens};
  if (h.has_mask) d.scored_ = {reinterpret_cast<const uint8_t*>(p + h.n_tokens * 4), h.n_tokens};
  return d;
}

LoadedData load_training_data(const std::filesystem::path& data, const std::filesystem::path& model_dir) {
  const FileStamp s = stamp(data);
  uint64_t key = 0xcbf29ce484222325ull;
  key = fnv1a(key, slurp_if_exists(model_dir / "tokenizer.json"));
  key = fnv1a(key, slurp_if_exists(model_dir / "tokenizer_config.json"));
  LoadedData out;
  out.cache_path = std::filesystem::path(data.string() + fmt::format(".{:016x}.smoltok", key));

  // The header records the key, the data file's size and mtime: any change rebuilds.
  out.data = read_token_cache(out.cache_path, key, s.size, s.mtime_ns);
  if (out.data.size() > 0) {
    out.from_cache = true;
    return out;
  }

  const Tokenizer tok = Tokenizer::from_file(model_dir / "tokenizer.json");
  std::unique_ptr<ChatTemplate> tmpl;
  if (std::filesystem::exists(model_dir / "tokenizer_config.json")) {
    try {
      tmpl = std::make_unique<ChatTemplate>(ChatTemplate::from_tokenizer_config(model_dir / "tokenizer_config.json"));
    } catch (const Error&) {
      // No template: fine for text data; chat data reports it when it needs one.
    }
  }
  const auto separator = tok.token_id("<|endoftext|>");
  if (!separator) throw Error((model_dir / "tokenizer.json").string() + ": no <|endoftext|> token to separate documents");
  out.data = tokenize_corpus(data, tok, tmpl.get(), *separator);
  try {
    write_token_cache(out.cache_path, out.data, key, s);
  } catch (const std::exception& e) {
    out.note = fmt::format("could not write the token cache ({}); tokenizing again next time", e.what());
  }
  return out;
}

}  // namespace smol
