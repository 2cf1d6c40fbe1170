// `smol train` killed with SIGKILL at random moments while it writes a checkpoint every step:
// each resume loads the checkpoint that `latest` named when the process died and continues
// from its step, the log holds every step once, and the end result equals an uninterrupted
// run bit for bit.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "smol/train_checkpoint.hpp"
#include "test_support/fixtures.hpp"
#include "test_support/run_process.hpp"

namespace smol {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr int kSteps = 120;
constexpr int kKills = 20;

std::vector<std::string> train_args(const fs::path& dir, const fs::path& out, int save_every) {
  return {testing::smol_binary().string(), "train", "-m", (testing::fixtures_dir() / "tiny-f32").string(),
          "--data", (dir / "text.txt").string(), "--out", out.string(), "--steps", std::to_string(kSteps),
          "--batch", "2", "--seq-len", "16", "--lr", "1e-3", "--dropout", "0.1", "--seed", "5",
          "--save-every", std::to_string(save_every), "--eval-every", "1000000", "-t", "2"};
}

// The step of the checkpoint out/latest names; 0 before the first one is committed.
int64_t committed_step(const fs::path& out) {
  std::ifstream in(out / "latest");
  std::string name;
  if (!std::getline(in, name)) return 0;
  return std::stoll(name.substr(std::string("checkpoint-").size()));
}

bool staging_left(const fs::path& out) {
  if (!fs::exists(out)) return false;
  for (const auto& e : fs::directory_iterator(out)) {
    if (e.path().filename().string().find(".tmp-") != std::string::npos) return true;
  }
  return false;
}

TEST(TrainCrash, SigkillDuringCheckpointWritesResumesFromTheLastCommittedStep) {
  const fs::path dir = fs::temp_directory_path() / ("smol-train-crash-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy_file(testing::fixtures_dir() / "train" / "text.txt", dir / "text.txt");
  const fs::path out = dir / "out", log = dir / "run.log";

  // The reference: the same run without interruption (and without the checkpoints between).
  const auto straight = testing::run_process(train_args(dir, dir / "straight", 0));
  ASSERT_EQ(straight.exit_code, 0) << straight.err;

  const unsigned seed = std::random_device{}();
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> delay_ms(0, 400);
  SCOPED_TRACE("random seed " + std::to_string(seed));
  int64_t before = 0;
  int kills = 0, torn_writes = 0;
  for (; kills < kKills; ++kills) {
    auto args = train_args(dir, out, 1);
    if (before > 0) args.insert(args.end(), {"--resume", out.string()});
    const pid_t pid = testing::spawn_logged(args, log);
    ASSERT_GT(pid, 0);
    // Waits until the run has loaded its checkpoint and trains, then kills it at a random point.
    const auto start = std::chrono::steady_clock::now();
    while (testing::slurp(log).find(" | loss") == std::string::npos && std::chrono::steady_clock::now() - start < 30s) {
      std::this_thread::sleep_for(2ms);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    const std::string text = testing::slurp(log);
    if (before > 0) {
      EXPECT_NE(text.find(fmt::format("checkpoint-{} at step {}", before, before)), std::string::npos)
          << "run " << kills << " did not resume from step " << before << ":\n" << text;
    }
    ASSERT_TRUE(WIFSIGNALED(status)) << "run " << kills << " ended before the kill:\n" << text;
    torn_writes += staging_left(out);
    // What `latest` names now is whole and never goes back.
    const int64_t now = committed_step(out);
    EXPECT_GE(now, before);
    if (now > 0) {
      const Checkpoint c = load_checkpoint(out);
      EXPECT_EQ(c.state.step, now);
    }
    before = now;
  }
  // The rest of the run, checkpointing only at its end (the checks need no more, and the test
  // stays short on a loaded machine).
  auto last = train_args(dir, out, 0);
  last.insert(last.end(), {"--resume", out.string()});
  const auto finish = testing::run_process(last);
  ASSERT_EQ(finish.exit_code, 0) << finish.err;
  EXPECT_NE(finish.err.find(fmt::format("at step {}", before)), std::string::npos) << finish.err;
  std::cerr << kills << " kills, " << torn_writes << " of them during a checkpoint write; last resume at step "
            << before << "\n";
  EXPECT_GT(before, 0) << "no checkpoint was ever committed: the kills came too early to test anything";

  // Every step is in the log once, in order.
  std::ifstream in(out / "train_log.jsonl");
  std::string line;
  int64_t expected = 1;
  while (std::getline(in, line)) {
    const auto r = nlohmann::json::parse(line);
    if (r["type"] == "train") EXPECT_EQ(r["step"].get<int64_t>(), expected++);
  }
  EXPECT_EQ(expected, kSteps + 1);
  // Resumed 20 times, the result is the uninterrupted one.
  for (const char* file : {"model.safetensors", "optimizer.safetensors"}) {
    EXPECT_TRUE(testing::slurp(out / file) == testing::slurp(dir / "straight" / file)) << file;
  }
  EXPECT_EQ(load_checkpoint(out).state.step, kSteps);
  EXPECT_FALSE(staging_left(out));  // the finishing run cleaned up after the dead ones
  fs::remove_all(dir);
}

}  // namespace
}  // namespace smol
