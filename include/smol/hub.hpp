#pragma once
// Models from the Hugging Face Hub, kept in the Hub's own cache layout so that other tools
// (transformers, huggingface-cli) share the files:
//   $HF_HUB_CACHE (default $HF_HOME/hub, HF_HOME default ~/.cache/huggingface)
//     models--OWNER--NAME/blobs/<sha256 or git sha1>      the files, named by content
//                        /refs/<revision>                  the commit a branch or tag points at
//                        /snapshots/<commit>/<file>        relative links into blobs/
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace smol {

// What a Hub answer may cost before smol pull gives up on it: the endpoint may be any mirror,
// so an endless body, a redirect loop or a trickle of bytes must end in an error, not a hang
// or a full disk. Tests shorten them.
struct HubTransferLimits {
  int64_t max_file_bytes = int64_t{1} << 40;  // 1 TiB; the Hub itself caps a file at 50 GB
  int64_t max_answer_bytes = 64 << 20;        // an API answer (JSON file list)
  long max_redirects = 10;
  long answer_seconds = 120;  // whole API request
  // A transfer slower than this many bytes/s for this many seconds is dropped (and resumed).
  long low_speed_bytes_per_s = 1024;
  long low_speed_seconds = 60;
  int tries = 4;  // per file, resuming after a dropped or stalled connection
};

struct HubConfig {
  std::string endpoint = "https://huggingface.co";  // HF_ENDPOINT
  std::string token;                                // HF_TOKEN, else the file $HF_HOME/token
  std::filesystem::path cache_dir;                  // HF_HUB_CACHE, else $HF_HOME/hub
  bool offline = false;                             // HF_HUB_OFFLINE=1: never touch the network
  HubTransferLimits limits;
  static HubConfig from_environment();
};

// "OWNER/NAME" with the Hub's characters (letters, digits, '-', '_', '.'; no ".." or "--").
bool is_hub_repo_id(std::string_view text);

// The folder holding a repo's cache: <cache_dir>/models--OWNER--NAME.
std::filesystem::path hub_repo_dir(const HubConfig& hub, const std::string& repo);

// The snapshot folder of a complete cached model (config, tokenizer and every weight file
// present) for a revision (branch, tag or commit), or nullopt. Never uses the network.
std::optional<std::filesystem::path> find_cached_model(const HubConfig& hub, const std::string& repo,
                                                       const std::string& revision = "main");

struct PullEvents {
  // Bytes of one file so far, of `total` (0 while unknown). Called often: throttle drawing.
  std::function<void(const std::string& file, int64_t done, int64_t total)> progress;
  // One line about what happens: "config.json: cached", "resuming model.safetensors at 12 MB".
  std::function<void(const std::string& message)> note;
};

// Downloads what a model needs (config, generation config, tokenizer files, chat template,
// safetensors weights, sharded via their index) for `revision` and returns the snapshot
// folder. Interrupted downloads resume from blobs/<name>.incomplete with an HTTP Range
// request; every file's size and sha256 (git sha1 for small non-LFS files) is checked before
// it becomes a blob, and the snapshot links and refs/<revision> are written only once every
// file is verified. Offline (or with a complete cache when `offline`), returns the cache.
// Throws smol::Error with the file and the reason.
std::filesystem::path pull_model(const HubConfig& hub, const std::string& repo, const std::string& revision,
                                 const PullEvents& events = {});

// MODEL given as OWNER/NAME: the cached snapshot when it is complete (no network call);
// otherwise, unless offline, a pull of "main" first.
std::filesystem::path resolve_hub_model(const std::string& repo, const PullEvents& events = {});

}  // namespace smol
