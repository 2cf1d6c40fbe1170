#pragma once
// For tests: a Hugging Face Hub on 127.0.0.1 that serves fixture folders with the Hub's URL
// layout and headers (GET /api/models/OWNER/NAME[/revision/REV], GET
// /OWNER/NAME/resolve/REV/FILE with LFS files redirected to a CDN path), and can misbehave on
// demand: corrupt a file, drop a connection half way, require a token, rewrite the file list,
// or hand any request to a test's own answer (hostile_hub.hpp has the hostile ones).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

namespace smol::testing {

// Hashes by other tools than the code under test (coreutils, git).
inline std::string command_output(const std::string& command) {
  std::string out;
  if (std::FILE* p = popen(command.c_str(), "r")) {
    char buf[256];
    while (std::fgets(buf, sizeof buf, p)) out += buf;
    pclose(p);
  }
  return out.substr(0, out.find_first_of(" \n"));
}

inline std::string read_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

class FakeHub {
 public:
  static constexpr const char* kCommit = "0123456789abcdef0123456789abcdef01234567";

  FakeHub() {
    server_.Get(R"(/api/models/([^/]+/[^/]+)(/revision/([^/?]+))?)",
                [this](const httplib::Request& req, httplib::Response& res) { api(req, res); });
    server_.Get(R"(/([^/]+/[^/]+)/resolve/([^/]+)/(.+))",
                [this](const httplib::Request& req, httplib::Response& res) { resolve(req, res); });
    server_.Get(R"(/cdn/([^/]+)/(.+))", [this](const httplib::Request& req, httplib::Response& res) { cdn(req, res); });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~FakeHub() {
    server_.stop();
    thread_.join();
  }

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // Serves `folder`'s files as repo `repo` at commit kCommit (revision "main").
  void add_repo(const std::string& repo, const std::filesystem::path& folder) {
    std::lock_guard lock(mutex_);
    repos_[repo] = folder;
  }
  // The file is served with one byte changed (the metadata keeps the true hash).
  void corrupt(const std::string& file) { std::lock_guard lock(mutex_); corrupt_ = file; }
  // The next response for `file` stops half way and the connection is dropped.
  void drop_once(const std::string& file) { std::lock_guard lock(mutex_); drop_once_ = file; }
  void require_token(const std::string& token) { std::lock_guard lock(mutex_); token_ = token; }
  // Every API answer ({"id", "sha", "siblings"}) passes through `edit` before it is sent.
  void edit_listing(std::function<void(nlohmann::json&)> edit) { std::lock_guard lock(mutex_); edit_listing_ = std::move(edit); }
  // Asked first about every request (after it is recorded); true: it answered, the Hub does not.
  using Intercept = std::function<bool(const httplib::Request&, httplib::Response&)>;
  void intercept(Intercept answer) { std::lock_guard lock(mutex_); intercept_ = std::move(answer); }

  struct Seen {
    std::string path;
    std::string range;
    std::string authorization;
  };
  std::vector<Seen> requests() {
    std::lock_guard lock(mutex_);
    return seen_;
  }

 private:
  bool intercepted(const httplib::Request& req, httplib::Response& res) {
    Intercept answer;
    {
      std::lock_guard lock(mutex_);
      answer = intercept_;
    }
    return answer && answer(req, res);
  }

  bool admit(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mutex_);
    seen_.push_back({req.path, req.get_header_value("Range"), req.get_header_value("Authorization")});
    if (!token_.empty() && req.get_header_value("Authorization") != "Bearer " + token_) {
      res.status = 401;
      res.set_content(R"({"error":"Invalid credentials"})", "application/json");
      return false;
    }
    return true;
  }

  std::filesystem::path repo_dir(const std::string& repo) {
    std::lock_guard lock(mutex_);
    auto it = repos_.find(repo);
    return it == repos_.end() ? std::filesystem::path() : it->second;
  }

  static bool is_lfs(const std::string& name) { return name.ends_with(".safetensors"); }

  // The API's file list with sizes and hashes, computed once per folder.
  nlohmann::json siblings_of(const std::filesystem::path& dir) {
    {
      std::lock_guard lock(mutex_);
      if (auto it = siblings_.find(dir); it != siblings_.end()) return it->second;
    }
    nlohmann::json siblings = nlohmann::json::array();
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      const std::string name = entry.path().filename().string();
      const auto size = static_cast<int64_t>(entry.file_size());
      nlohmann::json s = {{"rfilename", name}, {"size", size},
                          {"blobId", command_output("git hash-object '" + entry.path().string() + "'")}};
      if (is_lfs(name)) {
        s["lfs"] = {{"sha256", command_output("sha256sum '" + entry.path().string() + "'")}, {"size", size},
                    {"pointerSize", 134}};
      }
      siblings.push_back(s);
    }
    std::lock_guard lock(mutex_);
    siblings_[dir] = siblings;
    return siblings;
  }

  void api(const httplib::Request& req, httplib::Response& res) {
    if (!admit(req, res) || intercepted(req, res)) return;
    const auto dir = repo_dir(req.matches[1]);
    const std::string rev = req.matches[3].matched ? std::string(req.matches[3]) : "main";
    if (dir.empty() || (rev != "main" && rev != kCommit)) {
      res.status = 404;
      res.set_content(R"({"error":"Repository not found"})", "application/json");
      return;
    }
    nlohmann::json answer = {{"id", std::string(req.matches[1])}, {"sha", kCommit}, {"siblings", siblings_of(dir)}};
    std::function<void(nlohmann::json&)> edit;
    {
      std::lock_guard lock(mutex_);
      edit = edit_listing_;
    }
    if (edit) edit(answer);
    res.set_content(answer.dump(), "application/json");
  }

  void resolve(const httplib::Request& req, httplib::Response& res) {
    if (!admit(req, res) || intercepted(req, res)) return;
    const std::string repo = req.matches[1], file = req.matches[3];
    const auto dir = repo_dir(repo);
    if (dir.empty() || !std::filesystem::is_regular_file(dir / file)) {
      res.status = 404;
      res.set_header("X-Error-Code", "EntryNotFound");
      return;
    }
    res.set_header("X-Repo-Commit", kCommit);
    if (is_lfs(file)) {  // as the Hub does: LFS files come from a CDN
      res.set_redirect("/cdn/" + repo.substr(0, repo.find('/')) + "--" + repo.substr(repo.find('/') + 1) + "/" + file);
      return;
    }
    serve(dir / file, file, req, res);
  }

  void cdn(const httplib::Request& req, httplib::Response& res) {
    const std::string name = req.matches[1];
    const size_t dashes = name.find("--");
    if (!admit_cdn(req) || intercepted(req, res)) return;
    if (dashes == std::string::npos) {
      res.status = 404;
      return;
    }
    const std::string repo = name.substr(0, dashes) + "/" + name.substr(dashes + 2);
    serve(repo_dir(repo) / std::string(req.matches[2]), req.matches[2], req, res);
  }

  bool admit_cdn(const httplib::Request& req) {
    std::lock_guard lock(mutex_);
    seen_.push_back({req.path, req.get_header_value("Range"), req.get_header_value("Authorization")});
    return true;
  }

  void serve(const std::filesystem::path& path, const std::string& file, const httplib::Request& req,
             httplib::Response& res) {
    auto body = std::make_shared<std::string>(read_bytes(path));
    bool drop = false;
    {
      std::lock_guard lock(mutex_);
      if (file == corrupt_) (*body)[body->size() / 2] ^= 0x5a;
      if (file == drop_once_) {
        drop = true;
        drop_once_.clear();
      }
    }
    // httplib answers a Range request itself (206, Content-Range), calling the provider
    // from the range's offset.
    const std::string range = req.get_header_value("Range");
    if (range.rfind("bytes=", 0) == 0 && std::stoull(range.substr(6)) >= body->size()) {
      res.status = 416;
      return;
    }
    const size_t size = body->size();
    res.set_content_provider(size, "application/octet-stream",
                             [body, size, drop](size_t at, size_t length, httplib::DataSink& sink) {
                               if (drop && at >= size / 2) return false;  // hang up half way
                               size_t n = std::min<size_t>(length, 64 << 10);
                               if (drop) n = std::min(n, size / 2 - at);
                               sink.write(body->data() + at, n);
                               return true;
                             });
  }

  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  std::map<std::string, std::filesystem::path> repos_;
  std::string corrupt_, drop_once_, token_;
  std::function<void(nlohmann::json&)> edit_listing_;
  Intercept intercept_;
  std::vector<Seen> seen_;
  std::map<std::filesystem::path, nlohmann::json> siblings_;
};

}  // namespace smol::testing
