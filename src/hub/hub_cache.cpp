#include "hub/hub_cache.hpp"

#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>

#include <nlohmann/json.hpp>

#include "hub/hub_names.hpp"
#include "smol/atomic_file.hpp"
#include "smol/error.hpp"

namespace smol {

namespace fs = std::filesystem;

HubConfig HubConfig::from_environment() {
  auto env = [](const char* name) -> std::string {
    const char* v = std::getenv(name);
    return v ? v : "";
  };
  HubConfig hub;
  if (!env("HF_ENDPOINT").empty()) hub.endpoint = env("HF_ENDPOINT");
  while (!hub.endpoint.empty() && hub.endpoint.back() == '/') hub.endpoint.pop_back();
  fs::path home = env("HF_HOME");
  if (home.empty()) {
    const std::string xdg = env("XDG_CACHE_HOME");
    home = !xdg.empty() ? fs::path(xdg) / "huggingface" : fs::path(env("HOME")) / ".cache" / "huggingface";
  }
  hub.cache_dir = !env("HF_HUB_CACHE").empty() ? fs::path(env("HF_HUB_CACHE")) : home / "hub";
  hub.token = env("HF_TOKEN");
  if (hub.token.empty()) {
    std::ifstream in(home / "token");
    std::getline(in, hub.token);
  }
  const std::string offline = env("HF_HUB_OFFLINE");
  hub.offline = offline == "1" || offline == "true" || offline == "TRUE" || offline == "yes";
  return hub;
}

fs::path hub_repo_dir(const HubConfig& hub, const std::string& repo) {
  if (!is_hub_repo_id(repo)) throw Error(repo + ": not a Hub repo id (expected OWNER/NAME)");
  std::string name = "models--" + repo;
  name.replace(name.find('/'), 1, "--");
  return hub.cache_dir / name;
}

std::optional<fs::path> find_cached_model(const HubConfig& hub, const std::string& repo, const std::string& revision) {
  const fs::path repo_dir = hub_repo_dir(hub, repo);
  hub::check_revision(revision, "the revision asked for");
  const auto commit = hub::cached_commit(repo_dir, revision);
  if (!commit) return std::nullopt;
  const fs::path dir = repo_dir / "snapshots" / *commit;
  if (!hub::is_complete_model_dir(dir)) return std::nullopt;
  return dir;
}

namespace hub {

bool is_commit_hash(const std::string& revision) {
  static const std::regex pattern("[0-9a-f]{40}");
  return std::regex_match(revision, pattern);
}

std::optional<std::string> cached_commit(const fs::path& repo_dir, const std::string& revision) {
  if (is_commit_hash(revision)) return revision;
  std::ifstream in(repo_dir / "refs" / revision);
  std::string commit;
  if (!std::getline(in, commit) || !is_commit_hash(commit)) return std::nullopt;
  return commit;
}

void write_ref(const fs::path& repo_dir, const std::string& revision, const std::string& commit) {
  if (revision == commit) return;  // a commit needs no ref
  check_revision(revision, "the revision asked for");
  check_commit(commit, "the commit to record");
  const fs::path ref = inside_cache(repo_dir, repo_dir / "refs" / revision);
  fs::create_directories(ref.parent_path());
  write_file_atomic(ref, commit);
}

void link_snapshot_file(const fs::path& repo_dir, const std::string& commit, const std::string& file,
                        const std::string& blob) {
  check_commit(commit, "the snapshot's commit");
  check_repo_file_name(file, "the snapshot's file");
  if (blob.size() == 64) {
    check_lfs_sha256(blob, "the blob of " + file);
  } else {
    check_git_blob_id(blob, "the blob of " + file);
  }
  fs::path link = inside_cache(repo_dir, repo_dir / "snapshots" / commit / file);
  fs::create_directories(link.parent_path());
  link = inside_cache(repo_dir, link);  // again: a folder on the way may have been a link
  const fs::path blob_path = inside_cache(repo_dir, repo_dir / "blobs" / blob);
  const fs::path target = fs::relative(blob_path, link.parent_path());
  // Made beside and renamed over the old one: the snapshot never lacks the file.
  const fs::path tmp = link.string() + ".link-tmp";
  std::error_code ec;
  fs::remove(tmp, ec);
  fs::create_symlink(target, tmp, ec);
  if (!ec) fs::rename(tmp, link, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw Error(link.string() + ": cannot create link: " + ec.message());
  }
}

namespace {

// Every shard a sharded index names is present.
bool shards_present(const fs::path& dir, const std::string& index_name) {
  try {
    std::ifstream in(dir / index_name);
    const nlohmann::json index = nlohmann::json::parse(in);
    std::set<std::string> shards;
    for (const auto& [tensor, shard] : index.at("weight_map").items()) shards.insert(shard.get<std::string>());
    for (const std::string& shard : shards) {
      if (!is_repo_file_name(shard)) return false;  // the loader must not follow it out of the folder
      if (!fs::is_regular_file(dir / shard)) return false;
    }
    return !shards.empty();
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

bool is_complete_model_dir(const fs::path& dir) {
  auto present = [&](const std::string& name) { return fs::is_regular_file(dir / name); };  // follows links
  if (!present("config.json")) return false;
  const bool tokenizer = present("tokenizer.json") || (present("vocab.json") && present("merges.txt")) ||
                         (present("source.spm") && present("target.spm") && present("vocab.json"));
  if (!tokenizer) return false;
  if (present("model.safetensors") || present("pytorch_model.bin")) return true;
  if (present("model.safetensors.index.json")) return shards_present(dir, "model.safetensors.index.json");
  return present("pytorch_model.bin.index.json") && shards_present(dir, "pytorch_model.bin.index.json");
}

}  // namespace hub
}  // namespace smol
