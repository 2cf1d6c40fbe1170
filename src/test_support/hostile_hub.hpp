#pragma once
// For tests: what a hostile Hub mirror answers (FakeHub interceptions: redirect loops, endless
// bodies, a slow drip), and a record of a folder tree to show an attack changed nothing in it.
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "test_support/fake_hub.hpp"

namespace smol::testing::hostile {

// The entry for `name` in an API answer's file list (the test fails loudly when absent).
inline nlohmann::json& sibling(nlohmann::json& answer, const std::string& name) {
  for (nlohmann::json& s : answer.at("siblings")) {
    if (s.at("rfilename") == name) return s;
  }
  throw std::runtime_error("the fake Hub's file list has no " + name);
}

// Requests whose path ends with `suffix` are redirected to themselves, forever.
inline FakeHub::Intercept redirect_loop(std::string suffix) {
  return [suffix](const httplib::Request& req, httplib::Response& res) {
    if (!req.path.ends_with(suffix)) return false;
    res.set_redirect(req.path);
    return true;
  };
}

// Requests whose path starts with `prefix` and ends with `suffix` get a body that never ends
// (chunked, no length), until the client hangs up.
inline FakeHub::Intercept endless_body(std::string prefix, std::string suffix) {
  return [prefix, suffix](const httplib::Request& req, httplib::Response& res) {
    if (!req.path.starts_with(prefix) || !req.path.ends_with(suffix)) return false;
    res.set_chunked_content_provider("application/octet-stream", [](size_t, httplib::DataSink& sink) {
      static const std::string block(64 << 10, '{');
      return sink.is_writable() && sink.write(block.data(), block.size());
    });
    return true;
  };
}

// Requests whose path starts with `prefix` and ends with `suffix` get `size` announced bytes
// that arrive one every `interval`: alive, but never done in useful time.
inline FakeHub::Intercept slow_drip(std::string prefix, std::string suffix, size_t size,
                                    std::chrono::milliseconds interval) {
  return [=](const httplib::Request& req, httplib::Response& res) {
    if (!req.path.starts_with(prefix) || !req.path.ends_with(suffix)) return false;
    res.set_content_provider(size, "application/octet-stream", [interval](size_t, size_t, httplib::DataSink& sink) {
      std::this_thread::sleep_for(interval);
      return sink.is_writable() && sink.write("x", 1);
    });
    return true;
  };
}

// One line per entry under `root` (links not followed; `skip` and what is in it left out):
// path, kind, size, mtime in ns, and a hash of the contents or the link's target. Equal
// records: nothing there was created, removed, replaced or written.
inline std::vector<std::string> record_tree(const std::filesystem::path& root, const std::filesystem::path& skip) {
  namespace fs = std::filesystem;
  std::vector<std::string> lines;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
    const fs::path& p = it->path();
    if (p == skip) {
      it.disable_recursion_pending();
      continue;
    }
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) throw std::runtime_error("cannot lstat " + p.string());
    std::string kind = "other", contents;
    if (S_ISLNK(st.st_mode)) {
      kind = "link";
      contents = fs::read_symlink(p).string();
    } else if (S_ISREG(st.st_mode)) {
      kind = "file";
      contents = read_bytes(p);
    } else if (S_ISDIR(st.st_mode)) {
      kind = "dir";
    }
    lines.push_back(fmt::format("{} {} {} {}.{:09} {:016x}", p.lexically_relative(root).string(), kind, st.st_size,
                                st.st_mtim.tv_sec, st.st_mtim.tv_nsec, std::hash<std::string>{}(contents)));
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

// Links under `cache` whose target lies outside it.
inline std::vector<std::string> links_leaving(const std::filesystem::path& cache) {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  if (!fs::exists(cache)) return out;
  const fs::path base = fs::canonical(cache);
  for (const auto& entry : fs::recursive_directory_iterator(cache)) {
    if (!entry.is_symlink()) continue;
    const fs::path target = fs::weakly_canonical(entry.path());
    const auto [b, t] = std::mismatch(base.begin(), base.end(), target.begin(), target.end());
    if (b != base.end()) out.push_back(entry.path().string() + " -> " + target.string());
  }
  return out;
}

}  // namespace smol::testing::hostile
