// smol pull against a fake Hub on 127.0.0.1 serving the fixtures: full, resumed and corrupt
// downloads, and the cache used offline. Hashes come from sha256sum and git, not our code.
#include "smol/hub.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "test_support/fake_hub.hpp"
#include "smol/error.hpp"
#include "smol/generate.hpp"
#include "test_support/fixtures.hpp"

namespace smol {
namespace {

namespace fs = std::filesystem;
using testing::command_output;
using testing::FakeHub;
using testing::read_bytes;

class HubPull : public ::testing::Test {
 protected:
  void SetUp() override {
    cache_ = fs::temp_directory_path() / ("smol-hub-test-" + std::to_string(getpid()) + "-" +
                                          ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(cache_);
    hub_.add_repo("test-org/tiny", testing::fixtures_dir() / "tiny-f32");
    hub_.add_repo("test-org/sharded", testing::fixtures_dir() / "tiny-f16-untied-sharded");
    config_.endpoint = hub_.endpoint();
    config_.cache_dir = cache_;
  }
  void TearDown() override { fs::remove_all(cache_); }

  fs::path fixture(const std::string& name) const { return testing::fixtures_dir() / name; }
  fs::path repo_dir(const std::string& repo) const { return hub_repo_dir(config_, repo); }

  int requests_for(const std::string& suffix) {
    int n = 0;
    for (const auto& r : hub_.requests()) n += r.path.ends_with(suffix);
    return n;
  }

  // Every file smol needs is in the snapshot, byte for byte the fixture's.
  void expect_snapshot_matches(const fs::path& snapshot, const fs::path& fixture_dir) {
    for (const char* name : {"config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                             "special_tokens_map.json"}) {
      EXPECT_EQ(read_bytes(snapshot / name), read_bytes(fixture_dir / name)) << name;
    }
    for (const auto& entry : fs::directory_iterator(fixture_dir)) {
      const std::string name = entry.path().filename().string();
      if (name.starts_with("model")) {
        ASSERT_TRUE(fs::is_symlink(snapshot / name)) << name;
        EXPECT_TRUE(fs::read_symlink(snapshot / name).is_relative()) << name;
        EXPECT_EQ(command_output("sha256sum '" + (snapshot / name).string() + "'"),
                  command_output("sha256sum '" + entry.path().string() + "'"))
            << name;
      }
    }
    EXPECT_FALSE(fs::exists(snapshot / "expected.json"));  // not a model file: left on the Hub
  }

  FakeHub hub_;
  HubConfig config_;
  fs::path cache_;
};

TEST_F(HubPull, FullDownloadOfAShardedModelLoadsAndGenerates) {
  hub_.require_token("hf_secret");
  config_.token = "hf_secret";
  const fs::path snapshot = pull_model(config_, "test-org/sharded", "main");
  EXPECT_EQ(snapshot, repo_dir("test-org/sharded") / "snapshots" / FakeHub::kCommit);
  expect_snapshot_matches(snapshot, fixture("tiny-f16-untied-sharded"));
  EXPECT_EQ(read_bytes(repo_dir("test-org/sharded") / "refs" / "main"), FakeHub::kCommit);
  // Blobs are named by content: sha256 for LFS files, the git blob id for the others.
  const std::string shard = command_output("sha256sum '" +
                                           (fixture("tiny-f16-untied-sharded") / "model-00001-of-00002.safetensors").string() + "'");
  EXPECT_TRUE(fs::is_regular_file(repo_dir("test-org/sharded") / "blobs" / shard));
  const std::string config = command_output("git hash-object '" + (fixture("tiny-f16-untied-sharded") / "config.json").string() + "'");
  EXPECT_TRUE(fs::is_regular_file(repo_dir("test-org/sharded") / "blobs" / config));
  for (const auto& r : hub_.requests()) {
    if (!r.path.starts_with("/cdn/")) {
      EXPECT_EQ(r.authorization, "Bearer hf_secret") << r.path;
    }
  }

  // The snapshot is a model folder: greedy generation gives the reference continuation.
  Engine engine(snapshot, 1);
  std::ifstream in(fixture("tiny-f16-untied-sharded") / "expected.json");
  const auto expected = nlohmann::json::parse(in)["prompts"][0];
  GenerateOptions options;
  options.max_new_tokens = 24;
  options.sampling.temperature = 0;
  std::string text;
  generate(engine, expected["ids"].get<std::vector<int32_t>>(), options, [&](std::string_view t) {
    text += t;
    return true;
  });
  EXPECT_EQ(text, expected["greedy_text"].get<std::string>());
}

TEST_F(HubPull, ResumesAnIncompleteFileWithARangeRequest) {
  const fs::path weights = fixture("tiny-f32") / "model.safetensors";
  const std::string bytes = read_bytes(weights);
  const std::string sha = command_output("sha256sum '" + weights.string() + "'");
  const fs::path blobs = repo_dir("test-org/tiny") / "blobs";
  fs::create_directories(blobs);
  const size_t half = bytes.size() / 2;
  std::ofstream(blobs / (sha + ".incomplete"), std::ios::binary) << bytes.substr(0, half);

  const fs::path snapshot = pull_model(config_, "test-org/tiny", "main");
  expect_snapshot_matches(snapshot, fixture("tiny-f32"));
  std::vector<std::string> ranges;
  for (const auto& r : hub_.requests()) {
    if (r.path.ends_with("model.safetensors") && r.path.starts_with("/cdn/")) ranges.push_back(r.range);
  }
  EXPECT_EQ(ranges, std::vector<std::string>{"bytes=" + std::to_string(half) + "-"});
  EXPECT_FALSE(fs::exists(blobs / (sha + ".incomplete")));
}

TEST_F(HubPull, DroppedConnectionIsResumedWhereItStopped) {
  hub_.drop_once("model.safetensors");
  const fs::path snapshot = pull_model(config_, "test-org/tiny", "main");
  expect_snapshot_matches(snapshot, fixture("tiny-f32"));
  std::vector<std::string> ranges;
  for (const auto& r : hub_.requests()) {
    if (r.path.ends_with("model.safetensors") && r.path.starts_with("/cdn/")) ranges.push_back(r.range);
  }
  ASSERT_EQ(ranges.size(), 2u);
  EXPECT_EQ(ranges[0], "");
  EXPECT_TRUE(ranges[1].starts_with("bytes=")) << ranges[1];
  EXPECT_NE(ranges[1], "bytes=0-");
}

TEST_F(HubPull, CorruptFileIsAnErrorAndLeavesNoSnapshot) {
  hub_.corrupt("model.safetensors");
  try {
    pull_model(config_, "test-org/tiny", "main");
    FAIL() << "a corrupt download was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.safetensors is corrupt (sha256"), std::string::npos) << e.what();
  }
  const fs::path dir = repo_dir("test-org/tiny");
  EXPECT_FALSE(fs::exists(dir / "snapshots"));
  EXPECT_FALSE(fs::exists(dir / "refs" / "main"));
  for (const auto& entry : fs::directory_iterator(dir / "blobs")) {
    EXPECT_FALSE(entry.path().string().ends_with(".incomplete")) << entry.path();
    EXPECT_NE(entry.file_size(), fs::file_size(fixture("tiny-f32") / "model.safetensors")) << entry.path();
  }
  EXPECT_FALSE(find_cached_model(config_, "test-org/tiny").has_value());

  // Once the Hub serves good bytes again the same cache completes.
  hub_.corrupt("");
  expect_snapshot_matches(pull_model(config_, "test-org/tiny", "main"), fixture("tiny-f32"));
}

TEST_F(HubPull, SecondPullReusesBlobsAndOfflineUsesTheCacheWithoutTheNetwork) {
  const fs::path snapshot = pull_model(config_, "test-org/tiny", "main");
  const int weights_fetched = requests_for("model.safetensors");
  EXPECT_EQ(pull_model(config_, "test-org/tiny", "main"), snapshot);  // asks the Hub for the commit only
  EXPECT_EQ(requests_for("model.safetensors"), weights_fetched);
  const size_t before = hub_.requests().size();
  HubConfig offline = config_;
  offline.offline = true;
  offline.endpoint = "http://127.0.0.1:9";  // nothing listens there
  EXPECT_EQ(pull_model(offline, "test-org/tiny", "main"), snapshot);
  EXPECT_EQ(find_cached_model(offline, "test-org/tiny", "main"), snapshot);
  EXPECT_EQ(find_cached_model(offline, "test-org/tiny", FakeHub::kCommit), snapshot);
  EXPECT_EQ(hub_.requests().size(), before);
  EXPECT_THROW(pull_model(offline, "test-org/sharded", "main"), Error);
  EXPECT_FALSE(find_cached_model(offline, "test-org/sharded").has_value());
}

TEST_F(HubPull, UnknownRepoAndBadIdsAreErrors) {
  EXPECT_THROW(pull_model(config_, "test-org/missing", "main"), Error);
  EXPECT_THROW(pull_model(config_, "test-org/tiny", "no-such-branch"), Error);
  EXPECT_THROW(hub_repo_dir(config_, "../etc"), Error);
  EXPECT_TRUE(is_hub_repo_id("HuggingFaceTB/SmolLM2-135M-Instruct"));
  EXPECT_FALSE(is_hub_repo_id("a/b/c"));
  EXPECT_FALSE(is_hub_repo_id("./model"));
  EXPECT_FALSE(is_hub_repo_id("owner/.."));
}

TEST(HubConfig, ReadsTheEnvironment) {
  setenv("HF_HOME", "/tmp/smol-hf-home", 1);
  setenv("HF_ENDPOINT", "http://127.0.0.1:1234/", 1);
  setenv("HF_TOKEN", "tok", 1);
  setenv("HF_HUB_OFFLINE", "1", 1);
  unsetenv("HF_HUB_CACHE");
  const HubConfig hub = HubConfig::from_environment();
  EXPECT_EQ(hub.cache_dir, fs::path("/tmp/smol-hf-home/hub"));
  EXPECT_EQ(hub.endpoint, "http://127.0.0.1:1234");
  EXPECT_EQ(hub.token, "tok");
  EXPECT_TRUE(hub.offline);
  EXPECT_EQ(hub_repo_dir(hub, "a/b"), fs::path("/tmp/smol-hf-home/hub/models--a--b"));
  for (const char* v : {"HF_HOME", "HF_ENDPOINT", "HF_TOKEN", "HF_HUB_OFFLINE"}) unsetenv(v);
}

}  // namespace
}  // namespace smol

namespace smol {
namespace {

// An encoder-decoder repo has no tokenizer.json: Marian's SentencePiece pair and vocab.json
// are pulled instead, the snapshot counts as complete, and it loads as a seq2seq model.
TEST(HubPullSeq2Seq, MarianRepoPullsItsTokenizerFilesAndIsCompleteOffline) {
  testing::FakeHub hub;
  const fs::path fixture = testing::source_dir() / "tests" / "fixtures" / "seq2seq" / "marian-tied";
  hub.add_repo("test-org/marian", fixture);
  HubConfig config;
  config.endpoint = hub.endpoint();
  config.cache_dir = fs::temp_directory_path() / ("smol-hub-seq2seq-" + std::to_string(getpid()));
  fs::remove_all(config.cache_dir);
  const fs::path snapshot = pull_model(config, "test-org/marian", "main");
  for (const char* name : {"config.json", "generation_config.json", "source.spm", "target.spm", "vocab.json",
                           "tokenizer_config.json", "model.safetensors"}) {
    EXPECT_EQ(testing::read_bytes(snapshot / name), testing::read_bytes(fixture / name)) << name;
  }
  EXPECT_FALSE(fs::exists(snapshot / "expected.json"));
  config.offline = true;
  EXPECT_EQ(pull_model(config, "test-org/marian", "main"), snapshot);  // complete: no network needed
  const Tokenizer tok = Tokenizer::from_folder(snapshot);
  EXPECT_EQ(tok.encode_with_special("You may copy it."), (std::vector<int32_t>{114, 92, 93, 2, 37, 21, 0}));
  fs::remove_all(config.cache_dir);
}

}  // namespace
}  // namespace smol
