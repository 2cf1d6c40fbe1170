// smol pull OWNER/NAME: download a model from the Hugging Face Hub into its cache.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "smol/hub.hpp"

namespace smol::cli {

namespace {

struct PullArgs {
  std::string repo;
  std::string revision = "main";
};

std::string megabytes(int64_t bytes) { return fmt::format("{:.1f} MB", bytes / 1e6); }

// One progress line per file on a terminal, redrawn at most 10 times a second; elsewhere
// (logs, tests) just a line when a file is done.
class ProgressBar {
 public:
  void update(const std::string& file, int64_t done, int64_t total) {
    const auto now = std::chrono::steady_clock::now();
    if (file != file_) {
      finish();
      file_ = file;
      start_ = now;
    }
    done_ = done;
    total_ = total;
    if (!tty_ || now - drawn_ < std::chrono::milliseconds(100)) return;
    drawn_ = now;
    draw(now);
  }

  void finish() {
    if (file_.empty()) return;
    const auto now = std::chrono::steady_clock::now();
    if (tty_) {
      draw(now);
      std::fputc('\n', stderr);
    } else {
      std::fprintf(stderr, "%s", fmt::format("smol pull: {} {}\n", file_, megabytes(done_)).c_str());
    }
    file_.clear();
  }

 private:
  void draw(std::chrono::steady_clock::time_point now) {
    const double secs = std::max(1e-3, std::chrono::duration<double>(now - start_).count());
    const double frac = total_ > 0 ? std::min(1.0, static_cast<double>(done_) / total_) : 0.0;
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(frac * kWidth);
    std::fprintf(stderr, "%s",
                 fmt::format("\r{:<28.28} [{}{}] {:3.0f}% {} / {} {:.1f} MB/s\x1b[K", file_, std::string(filled, '#'),
                             std::string(kWidth - filled, '.'), frac * 100, megabytes(done_),
                             total_ > 0 ? megabytes(total_) : "?", done_ / secs / 1e6).c_str());
    std::fflush(stderr);
  }

  bool tty_ = isatty(fileno(stderr));
  std::string file_;
  int64_t done_ = 0, total_ = 0;
  std::chrono::steady_clock::time_point start_, drawn_;
};

int run_pull(const PullArgs& args) {
  const HubConfig hub = HubConfig::from_environment();
  ProgressBar bar;
  PullEvents events;
  events.progress = [&](const std::string& file, int64_t done, int64_t total) { bar.update(file, done, total); };
  events.note = [&](const std::string& message) {
    bar.finish();
    std::fprintf(stderr, "smol pull: %s\n", message.c_str());
  };
  const auto dir = pull_model(hub, args.repo, args.revision, events);
  bar.finish();
  // stdout: the folder, so scripts can use it.
  std::printf("%s\n", dir.string().c_str());
  return 0;
}

}  // namespace

Command add_pull_command(CLI::App& root) {
  auto args = std::make_shared<PullArgs>();
  CLI::App* app = root.add_subcommand(
      "pull", "Download a model from the Hugging Face Hub into its cache (HF_HOME, HF_ENDPOINT, HF_TOKEN)");
  app->add_option("repo", args->repo, "OWNER/NAME")->required()->check([](const std::string& s) {
    return is_hub_repo_id(s) ? std::string() : "expected OWNER/NAME, got '" + s + "'";
  });
  app->add_option("--revision", args->revision, "Branch, tag or commit")->capture_default_str();
  return {app, [args] { return run_pull(*args); }};
}

}  // namespace smol::cli
