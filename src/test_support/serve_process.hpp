#pragma once
// For tests of `smol serve`: runs the server on a free port (--port 0, the port read from its
// "listening on" line) and reads Server-Sent Events.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "test_support/fixtures.hpp"
#include "test_support/run_process.hpp"

namespace smol::testing {

class ServeProcess {
 public:
  explicit ServeProcess(const std::vector<std::string>& extra, const std::string& model = "tiny-f32") {
    static int counter = 0;
    log_ = std::filesystem::temp_directory_path() /
           ("smol-serve-test-" + std::to_string(getpid()) + "-" + std::to_string(counter++) + ".log");
    std::vector<std::string> args = {smol_binary().string(), "serve", "-m", (fixtures_dir() / model).string(),
                                     "--port", "0", "-t", "2"};
    args.insert(args.end(), extra.begin(), extra.end());
    pid_ = spawn_logged(args, log_);
    if (pid_ < 0) return;
    const std::regex listening("listening on http://[^:]+:([0-9]+)");
    for (int i = 0; i < 300 && port_ == 0 && running(); ++i) {
      std::smatch m;
      const std::string text = log();
      if (std::regex_search(text, m, listening)) port_ = std::stoi(m[1]);
      else std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ~ServeProcess() {
    if (pid_ > 0 && running()) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    std::filesystem::remove(log_);
  }

  int port() const { return port_; }
  std::string log() const { return slurp(log_); }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(30, 0);
    return c;
  }

  bool running() {
    if (exit_code_ >= 0) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return false;
    }
    return true;
  }
  // Sends `sig` and waits up to `limit` for the exit; returns the exit status (-1: still running).
  int signal_and_wait(int sig, std::chrono::milliseconds limit) {
    kill(pid_, sig);
    const auto end = std::chrono::steady_clock::now() + limit;
    while (running() && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return running() ? -1 : exit_code_;
  }

 private:
  std::filesystem::path log_;
  pid_t pid_ = -1;
  int port_ = 0;
  int exit_code_ = -1;
};

// The `data:` payloads of an SSE body, in order.
inline std::vector<std::string> sse_data(const std::string& body) {
  std::vector<std::string> out;
  std::istringstream lines(body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("data: ", 0) == 0) out.push_back(line.substr(6));
  }
  return out;
}

inline std::string post_json(httplib::Client& c, const std::string& path, const nlohmann::json& body, int& status,
                             const httplib::Headers& headers = {}) {
  auto res = c.Post(path.c_str(), headers, body.dump(), "application/json");
  status = res ? res->status : -1;
  return res ? res->body : "";
}

inline std::string smol_generate(const std::vector<std::string>& args) {
  std::vector<std::string> all = {smol_binary().string(), "generate"};
  all.insert(all.end(), args.begin(), args.end());
  return run_process(all).out;
}

}  // namespace smol::testing
