// `smol pull` and MODEL given as OWNER/NAME, against a fake Hub on 127.0.0.1.
#include <gtest/gtest.h>
#include <unistd.h>

#include "test_support/fake_hub.hpp"
#include "test_support/fixtures.hpp"
#include "test_support/run_process.hpp"

namespace smol {
namespace {

namespace fs = std::filesystem;

class PullCli : public ::testing::Test {
 protected:
  void SetUp() override {
    home_ = fs::temp_directory_path() / ("smol-pull-cli-" + std::to_string(getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(home_);
    hub_.add_repo("test-org/tiny", testing::fixtures_dir() / "tiny-f32");
  }
  void TearDown() override { fs::remove_all(home_); }

  // Runs smol with the Hub variables set (through env(1), so this process's stay untouched).
  // `wrap`: a command line to run it under.
  testing::ProcessResult smol(std::vector<std::string> args, bool offline = false, std::vector<std::string> wrap = {}) {
    std::vector<std::string> all = wrap;
    all.insert(all.end(), {"/usr/bin/env", "HF_HOME=" + home_.string(), "HF_ENDPOINT=" + hub_.endpoint(),
                                    "HF_TOKEN=", offline ? "HF_HUB_OFFLINE=1" : "HF_HUB_OFFLINE=0",
                           "HF_HUB_CACHE=" + (home_ / "hub").string(), testing::smol_binary().string()});
    all.insert(all.end(), args.begin(), args.end());
    return testing::run_process(all);
  }

  testing::FakeHub hub_;
  fs::path home_;
};

TEST_F(PullCli, PullThenUseByNameOffline) {
  auto pull = smol({"pull", "test-org/tiny"});
  ASSERT_EQ(pull.exit_code, 0) << pull.err;
  const fs::path snapshot = home_ / "hub" / "models--test-org--tiny" / "snapshots" / testing::FakeHub::kCommit;
  EXPECT_EQ(pull.out, snapshot.string() + "\n");
  EXPECT_NE(pull.err.find("model.safetensors"), std::string::npos) << pull.err;

  const size_t requests = hub_.requests().size();
  const std::string folder = (testing::fixtures_dir() / "tiny-f32").string();
  auto by_folder = testing::run_process({testing::smol_binary().string(), "generate", "-m", folder, "-p", "Hello",
                                         "-n", "8", "--temp", "0"});
  auto by_name = smol({"generate", "-m", "test-org/tiny", "-p", "Hello", "-n", "8", "--temp", "0"}, /*offline=*/true);
  ASSERT_EQ(by_name.exit_code, 0) << by_name.err;
  EXPECT_EQ(by_name.out, by_folder.out);
  // Online but cached: still no network call.
  auto cached = smol({"generate", "-m", "test-org/tiny", "-p", "Hello", "-n", "8", "--temp", "0"});
  EXPECT_EQ(cached.out, by_folder.out);
  EXPECT_EQ(hub_.requests().size(), requests);
}

// A disk that takes only the first MiB (RLIMIT_FSIZE, SIGXFSZ ignored: short writes, then
// EFBIG, as a full disk gives ENOSPC): one line, exit 1, no model file in the snapshot; the
// next pull resumes the partial download and completes.
TEST_F(PullCli, AFullDiskIsOneLineAndThePullResumesLater) {
  auto full = smol({"pull", "test-org/tiny"}, false, {"/bin/bash", "-c", "trap '' XFSZ; ulimit -f 1024; exec \"$@\"", "-"});
  EXPECT_EQ(full.exit_code, 1) << full.err;
  EXPECT_NE(full.err.find("cannot write the download: File too large"), std::string::npos) << full.err;
  const size_t error_at = full.err.find("smol pull: error: ");
  ASSERT_NE(error_at, std::string::npos) << full.err;
  EXPECT_EQ(full.err.find('\n', error_at), full.err.size() - 1) << "not one line: " << full.err;
  const fs::path repo = home_ / "hub" / "models--test-org--tiny";
  EXPECT_FALSE(fs::exists(repo / "snapshots" / testing::FakeHub::kCommit / "model.safetensors"));
  for (const auto& e : fs::directory_iterator(repo / "blobs")) {
    if (fs::file_size(e.path()) > (1 << 20) - 1) EXPECT_EQ(e.path().extension(), ".incomplete") << e.path();
  }
  auto again = smol({"pull", "test-org/tiny"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_TRUE(fs::is_regular_file(repo / "snapshots" / testing::FakeHub::kCommit / "model.safetensors"));
}

TEST_F(PullCli, ModelByNameDownloadsWhenNotCached) {
  auto r = smol({"generate", "-m", "test-org/tiny", "-p", "Hello", "-n", "4", "--temp", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(r.out.empty());
  EXPECT_GT(hub_.requests().size(), 0u);
}

TEST_F(PullCli, OfflineWithoutCacheAndCorruptDownloadFail) {
  auto offline = smol({"generate", "-m", "test-org/tiny", "-p", "Hello", "-n", "4"}, /*offline=*/true);
  EXPECT_EQ(offline.exit_code, 1);
  EXPECT_NE(offline.err.find("HF_HUB_OFFLINE"), std::string::npos) << offline.err;
  EXPECT_TRUE(hub_.requests().empty());

  hub_.corrupt("model.safetensors");
  auto corrupt = smol({"pull", "test-org/tiny"});
  EXPECT_EQ(corrupt.exit_code, 1);
  EXPECT_NE(corrupt.err.find("corrupt"), std::string::npos) << corrupt.err;
  EXPECT_FALSE(fs::exists(home_ / "hub" / "models--test-org--tiny" / "snapshots"));

  auto bad = smol({"pull", "not a repo"});
  EXPECT_EQ(bad.exit_code, 2);
}

}  // namespace
}  // namespace smol
