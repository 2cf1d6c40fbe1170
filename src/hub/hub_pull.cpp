// smol pull: which files a model needs, fetched into blobs/, verified, then published as a
// snapshot and a ref in one go at the end.
#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "hub/hub_cache.hpp"
#include "hub/hub_download.hpp"
#include "hub/hub_names.hpp"
#include "smol/atomic_file.hpp"
#include "smol/error.hpp"
#include "smol/hub.hpp"

namespace smol {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// What the Hub says about one file of a commit (GET /api/models/REPO/revision/REV?blobs=true).
struct RemoteFile {
  std::string name;
  int64_t size = -1;
  std::string sha256;    // LFS files
  std::string git_sha1;  // the blob id; what names a non-LFS file in blobs/
  std::string blob() const { return !sha256.empty() ? sha256 : git_sha1; }
};

struct RepoInfo {
  std::string commit;
  std::vector<RemoteFile> files;
};

// Files a smol model folder uses; everything else (other weight formats, READMEs, ONNX
// exports) is left on the Hub.
bool is_model_file(const std::string& name) {
  static const std::set<std::string> kNames = {
      "config.json",          "generation_config.json", "tokenizer.json",   "tokenizer_config.json",
      "special_tokens_map.json", "chat_template.jinja", "model.safetensors", "model.safetensors.index.json",
      // Tokenizers of encoder-decoder repos: GPT-2/BART BPE files and Marian's SentencePiece pair.
      "vocab.json", "merges.txt", "added_tokens.json", "source.spm", "target.spm", "target_vocab.json"};
  return kNames.count(name) > 0;
}

std::string url_escape_path(const std::string& path) {
  std::string out;
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

// A file's size from the Hub: a whole number of bytes within the limit (a mirror could announce
// 2^63 to make us preallocate or wait forever).
int64_t size_of(const json& value, const std::string& file, const std::string& where, int64_t max_bytes) {
  if (!value.is_number_integer() || (value.is_number_unsigned() && value.get<uint64_t>() > uint64_t(max_bytes)) ||
      value.get<int64_t>() < 0 || value.get<int64_t>() > max_bytes) {
    throw Error(fmt::format("{}: size {} of {} is not a byte count of at most {} (the limit for one file)", where,
                            hub::quoted(value.dump()), hub::quoted(file), max_bytes));
  }
  return value.get<int64_t>();
}

RepoInfo fetch_repo_info(const HubConfig& hub, const std::string& repo, const std::string& revision) {
  const std::string url =
      fmt::format("{}/api/models/{}/revision/{}?blobs=true", hub.endpoint, repo, url_escape_path(revision));
  const hub::HttpAnswer answer = hub::http_get(url, hub.token, hub.limits);
  if (answer.status == 401 || answer.status == 403) {
    throw Error(fmt::format("{}: HTTP {}: the repo is private or gated (set HF_TOKEN to a token with access)", repo,
                            answer.status));
  }
  if (answer.status == 404) throw Error(fmt::format("{}: no such model or revision '{}' on {}", repo, revision, hub.endpoint));
  if (answer.status != 200) throw Error(fmt::format("{}: HTTP {}", url, answer.status));
  // Every name and hash in the answer becomes part of a cache path: all are checked here,
  // before anything is written.
  const std::string where = fmt::format("{}: the Hub's file list for revision {}", repo, hub::quoted(revision));
  RepoInfo info;
  try {
    const json j = json::parse(answer.body);
    info.commit = j.at("sha").get<std::string>();
    hub::check_commit(info.commit, where);
    for (const json& s : j.at("siblings")) {
      RemoteFile f;
      f.name = s.at("rfilename").get<std::string>();
      hub::check_repo_file_name(f.name, where);
      if (s.contains("size")) f.size = size_of(s["size"], f.name, where, hub.limits.max_file_bytes);
      if (s.contains("blobId")) {
        f.git_sha1 = s["blobId"].get<std::string>();
        hub::check_git_blob_id(f.git_sha1, where + ", " + f.name);
      }
      if (s.contains("lfs") && s["lfs"].is_object()) {
        f.sha256 = s["lfs"].at("sha256").get<std::string>();
        hub::check_lfs_sha256(f.sha256, where + ", " + f.name);
        if (s["lfs"].contains("size")) f.size = size_of(s["lfs"]["size"], f.name, where, hub.limits.max_file_bytes);
      }
      info.files.push_back(std::move(f));
    }
  } catch (const json::exception& e) {
    throw Error(fmt::format("{}: unexpected answer from the Hub: {}", url, e.what()));
  }
  return info;
}

const RemoteFile* find_file(const RepoInfo& info, const std::string& name) {
  for (const RemoteFile& f : info.files) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

class Puller {
 public:
  Puller(const HubConfig& hub, const std::string& repo, const PullEvents& events)
      : hub_(hub), repo_(repo), repo_dir_(hub_repo_dir(hub, repo)), events_(events) {}

  // Downloads (or finds in blobs/) one file and checks it; returns its blob name.
  std::string fetch(const std::string& commit, const RemoteFile& file) {
    if (file.blob().empty()) throw Error(fmt::format("{}: the Hub gave no hash for {}", repo_, file.name));
    // The size bounds what the download may write; without one a mirror could send forever.
    if (file.size < 0) throw Error(fmt::format("{}: the Hub gave no size for {}", repo_, file.name));
    const fs::path blobs = repo_dir_ / "blobs";
    fs::create_directories(blobs);
    const fs::path blob = hub::inside_cache(repo_dir_, blobs / file.blob());
    const fs::path partial = hub::inside_cache(repo_dir_, blob.string() + ".incomplete");
    for (const fs::path& p : {blob, partial}) {  // a link here would send the bytes elsewhere
      if (fs::is_symlink(p)) throw Error(fmt::format("{}: is a link; a cache blob must be a file", hub::quoted(p.string())));
    }
    if (fs::is_regular_file(blob) && static_cast<int64_t>(fs::file_size(blob)) == file.size) {
      note(file.name + ": cached");
      return file.blob();
    }
    check_free_space(file, partial);
    const std::string url = fmt::format("{}/{}/resolve/{}/{}", hub_.endpoint, repo_, commit, url_escape_path(file.name));
    hub::download_to(
        url, hub_.token, partial, file.size, hub_.limits,
        [&](int64_t done, int64_t total) {
          if (events_.progress) events_.progress(file.name, done, total);
        },
        [&](const std::string& message) { note(file.name + ": " + message); });
    verify(file, partial);
    rename_durably(partial, blob);  // flushed first: a power cut cannot leave an empty blob
    return file.blob();
  }

  void note(const std::string& message) const {
    if (events_.note) events_.note(message);
  }

  const fs::path& repo_dir() const { return repo_dir_; }

 private:
  void check_free_space(const RemoteFile& file, const fs::path& partial) const {
    std::error_code ec;
    const int64_t have = fs::is_regular_file(partial) ? static_cast<int64_t>(fs::file_size(partial, ec)) : 0;
    const fs::space_info space = fs::space(partial.parent_path(), ec);
    if (ec || have >= file.size) return;  // unknown free space: the write itself will tell
    const uint64_t need = static_cast<uint64_t>(file.size - have);
    if (need > space.available) {
      throw Error(fmt::format("{}: {} needs {} more bytes but only {} are free in {}", repo_, file.name, need,
                              space.available, partial.parent_path().string()));
    }
  }

  // A file that fails its check is deleted: resuming from corrupt bytes would only fail again.
  void verify(const RemoteFile& file, const fs::path& partial) const {
    const int64_t size = static_cast<int64_t>(fs::file_size(partial));
    std::string problem;
    if (file.size >= 0 && size != file.size) {
      problem = fmt::format("size {} instead of {}", size, file.size);
    } else if (!file.sha256.empty()) {
      const std::string got = hub::sha256_file(partial);
      if (got != file.sha256) problem = fmt::format("sha256 {} instead of {}", got, file.sha256);
    } else {
      const std::string got = hub::git_blob_sha1_file(partial);
      if (got != file.git_sha1) problem = fmt::format("git blob id {} instead of {}", got, file.git_sha1);
    }
    if (problem.empty()) return;
    std::error_code ec;
    fs::remove(partial, ec);
    throw Error(fmt::format("{}: {} is corrupt ({}); it was deleted, run smol pull again", repo_, file.name, problem));
  }

  const HubConfig& hub_;
  std::string repo_;
  fs::path repo_dir_;
  const PullEvents& events_;
};

// The shard names an index (a file of the repo, so as untrusted as the Hub's answers) gives.
std::vector<std::string> shards_of(const fs::path& index_path, const std::string& where) {
  std::set<std::string> shards;
  try {
    std::ifstream in(index_path);
    const json index = json::parse(in);
    for (const auto& [tensor, shard] : index.at("weight_map").items()) shards.insert(shard.get<std::string>());
  } catch (const std::exception& e) {
    throw Error(fmt::format("{}: not a safetensors index: {}", index_path.string(), e.what()));
  }
  for (const std::string& shard : shards) hub::check_repo_file_name(shard, where);
  return {shards.begin(), shards.end()};
}

}  // namespace

fs::path pull_model(const HubConfig& hub, const std::string& repo, const std::string& revision,
                    const PullEvents& events) {
  if (hub.offline) {
    if (auto dir = find_cached_model(hub, repo, revision)) return *dir;
    throw Error(fmt::format("{} ({}) is not in the cache {} and HF_HUB_OFFLINE is set", repo, revision,
                            hub.cache_dir.string()));
  }
  Puller puller(hub, repo, events);
  hub::check_revision(revision, "the revision asked for");
  const RepoInfo info = fetch_repo_info(hub, repo, revision);
  puller.note(fmt::format("{} {} is commit {}", repo, revision, info.commit));

  std::vector<std::pair<std::string, std::string>> fetched;  // file, blob
  for (const RemoteFile& f : info.files) {
    if (is_model_file(f.name)) fetched.emplace_back(f.name, puller.fetch(info.commit, f));
  }
  auto has = [&](const std::string& name) {
    return std::any_of(fetched.begin(), fetched.end(), [&](const auto& p) { return p.first == name; });
  };
  if (!has("config.json")) throw Error(fmt::format("{}: the repo has no config.json: not a transformers model", repo));
  // Weights: safetensors when the repo has them (as transformers prefers), else the
  // pickle checkpoint; a sharded index pulls every shard it names.
  auto fetch_shards = [&](const std::string& index_name) {
    const RemoteFile* index = find_file(info, index_name);
    const std::string where = fmt::format("{}: the shards its {} names", repo, index_name);
    for (const std::string& shard : shards_of(puller.repo_dir() / "blobs" / index->blob(), where)) {
      const RemoteFile* f = find_file(info, shard);
      if (!f) throw Error(fmt::format("{}: the index names {}, which the repo does not have", repo, shard));
      fetched.emplace_back(shard, puller.fetch(info.commit, *f));
    }
  };
  if (!has("model.safetensors")) {
    if (has("model.safetensors.index.json")) {
      fetch_shards("model.safetensors.index.json");
    } else if (const RemoteFile* bin = find_file(info, "pytorch_model.bin")) {
      fetched.emplace_back(bin->name, puller.fetch(info.commit, *bin));
    } else if (const RemoteFile* bin_index = find_file(info, "pytorch_model.bin.index.json")) {
      fetched.emplace_back(bin_index->name, puller.fetch(info.commit, *bin_index));
      fetch_shards("pytorch_model.bin.index.json");
    } else {
      throw Error(fmt::format("{}: the repo has no model.safetensors, model.safetensors.index.json or "
                              "pytorch_model.bin",
                              repo));
    }
  }
  // Everything is verified: only now does the snapshot (and the ref naming it) appear.
  for (const auto& [file, blob] : fetched) hub::link_snapshot_file(puller.repo_dir(), info.commit, file, blob);
  hub::write_ref(puller.repo_dir(), revision, info.commit);
  return puller.repo_dir() / "snapshots" / info.commit;
}

fs::path resolve_hub_model(const std::string& repo, const PullEvents& events) {
  const HubConfig hub = HubConfig::from_environment();
  if (auto dir = find_cached_model(hub, repo, "main")) return *dir;
  if (hub.offline) {
    throw Error(fmt::format("{}: not in the cache {} and HF_HUB_OFFLINE is set (run smol pull {} online first)", repo,
                            hub.cache_dir.string(), repo));
  }
  return pull_model(hub, repo, "main", events);
}

}  // namespace smol
