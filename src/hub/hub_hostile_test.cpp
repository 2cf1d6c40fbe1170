// smol pull against a hostile Hub mirror (HF_ENDPOINT can name any server). Each test first
// pulls through the same server while it is honest, so the harness is shown to work; then the
// server turns hostile and the pull must fail with one line, and a folder outside the cache
// holding the files the attack aims at must be exactly as it was (and nothing new beside it).
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <fstream>

#include <nlohmann/json.hpp>

#include "hub/hub_names.hpp"
#include "smol/error.hpp"
#include "smol/hub.hpp"
#include "test_support/fake_hub.hpp"
#include "test_support/fixtures.hpp"
#include "test_support/hostile_hub.hpp"

namespace smol {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::FakeHub;
namespace hostile = testing::hostile;

class HostilePull : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("smol-hostile-" + std::to_string(getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    cache_ = root_ / "cache";
    outside_ = root_ / "outside";
    fs::remove_all(root_);
    fs::create_directories(outside_);
    // What the attacks aim at: a file to delete or replace, a partial download to append to.
    std::ofstream(outside_ / "victim.txt") << "precious, not the cache's\n";
    std::ofstream(outside_ / "x.incomplete", std::ios::binary) << std::string(100, 'o');
    hub_.add_repo("test-org/tiny", testing::fixtures_dir() / "tiny-f32");
    hub_.add_repo("test-org/sharded", testing::fixtures_dir() / "tiny-f16-untied-sharded");
    config_.endpoint = hub_.endpoint();
    config_.cache_dir = cache_;
    config_.limits.low_speed_bytes_per_s = 1000;
    config_.limits.low_speed_seconds = 1;
    config_.limits.tries = 2;
    config_.limits.max_answer_bytes = 1 << 20;
  }
  void TearDown() override { fs::remove_all(root_); }

  // The honest pull; what lies outside the cache is recorded after it.
  void benign_pull(const std::string& repo) {
    const fs::path snapshot = pull_model(config_, repo, "main");
    ASSERT_TRUE(fs::is_regular_file(snapshot / "config.json"));
    before_ = hostile::record_tree(root_, cache_);
  }

  // The hostile pull: an Error of one line containing `expected`, nothing outside the cache
  // touched, and no link in the cache leading out of it.
  std::string hostile_pull(const std::string& repo, const std::string& expected, const std::string& revision = "main") {
    std::string message;
    try {
      pull_model(config_, repo, revision);
      ADD_FAILURE() << "the hostile pull succeeded";
    } catch (const Error& e) {
      message = e.what();
    }
    EXPECT_NE(message.find(expected), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    EXPECT_EQ(hostile::record_tree(root_, cache_), before_);
    EXPECT_EQ(hostile::links_leaving(cache_), std::vector<std::string>{});
    return message;
  }

  // A copy of the sharded fixture whose index names `shard` for one tensor, served in its place.
  void serve_index_naming(const std::string& shard) {
    const fs::path served = root_ / "served";
    fs::copy(testing::fixtures_dir() / "tiny-f16-untied-sharded", served, fs::copy_options::recursive);
    json index = json::parse(testing::read_bytes(served / "model.safetensors.index.json"));
    index["weight_map"].begin().value() = shard;
    std::ofstream(served / "model.safetensors.index.json") << index.dump();
    hub_.add_repo("test-org/sharded", served);
    before_ = hostile::record_tree(root_, cache_);
  }

  // The file list also lists `name`, with the bytes and hashes of a real (already cached) shard.
  void list_as_shard(const std::string& name) {
    hub_.edit_listing([name](json& answer) {
      json copy = hostile::sibling(answer, "model-00001-of-00002.safetensors");
      copy["rfilename"] = name;
      answer["siblings"].push_back(copy);
    });
  }

  fs::path root_;
  fs::path cache_;
  fs::path outside_;
  FakeHub hub_;
  HubConfig config_;
  std::vector<std::string> before_;
};

// The cache sits at root/cache; a snapshot file at cache/models--o--n/snapshots/<commit>/F, a
// blob at cache/models--o--n/blobs/B, a ref at cache/models--o--n/refs/R. These reach root/outside.
constexpr const char* kFromSnapshot = "../../../../outside/";
constexpr const char* kFromBlobs = "../../../outside/";
constexpr const char* kFromRefs = "../../../outside/";

TEST_F(HostilePull, TraversalShardNameIsRefused) {
  benign_pull("test-org/sharded");
  const std::string evil = std::string(kFromSnapshot) + "victim.txt";
  serve_index_naming(evil);
  list_as_shard(evil);
  hostile_pull("test-org/sharded", "file name '" + evil + "' has a '..' component");
}

TEST_F(HostilePull, TraversalShardNameInTheIndexAloneIsRefused) {
  benign_pull("test-org/sharded");
  const std::string evil = std::string(kFromSnapshot) + "victim.txt";
  serve_index_naming(evil);
  hostile_pull("test-org/sharded",
               "the shards its model.safetensors.index.json names: file name '" + evil + "' has a '..' component");
}

TEST_F(HostilePull, AbsoluteShardNameIsRefused) {
  benign_pull("test-org/sharded");
  const std::string evil = (outside_ / "planted-link").string();
  serve_index_naming(evil);
  list_as_shard(evil);
  hostile_pull("test-org/sharded", "file name '" + evil + "' is an absolute path");
}

TEST_F(HostilePull, LfsSha256WithDotDotsIsRefused) {
  benign_pull("test-org/tiny");
  const std::string evil = std::string(kFromBlobs) + "x";  // would resume into outside/x.incomplete
  hub_.edit_listing([evil](json& answer) { hostile::sibling(answer, "model.safetensors")["lfs"]["sha256"] = evil; });
  hostile_pull("test-org/tiny", "LFS sha256 '" + evil + "' is not 64 lowercase hex digits");
}

TEST_F(HostilePull, AbsoluteGitBlobIdIsRefused) {
  benign_pull("test-org/tiny");
  const std::string evil = (outside_ / "planted").string();
  hub_.edit_listing([evil](json& answer) { hostile::sibling(answer, "config.json")["blobId"] = evil; });
  // A failed download would leave its .incomplete file where the blob id points.
  hub_.intercept([](const httplib::Request& req, httplib::Response& res) {
    if (!req.path.ends_with("/config.json")) return false;
    res.status = 404;
    return true;
  });
  hostile_pull("test-org/tiny", "git blob id '" + evil + "' is not 40 lowercase hex digits");
}

TEST_F(HostilePull, BlobIdNamingAnOutsideFileIsNotTakenAsCached) {
  benign_pull("test-org/tiny");
  const auto victim_size = static_cast<int64_t>(fs::file_size(outside_ / "victim.txt"));
  for (const std::string& evil : {std::string(kFromBlobs) + "victim.txt", (outside_ / "victim.txt").string()}) {
    hub_.edit_listing([=](json& answer) {
      json& config = hostile::sibling(answer, "config.json");
      config["blobId"] = evil;
      config["size"] = victim_size;
    });
    hostile_pull("test-org/tiny", "git blob id '" + evil + "' is not 40 lowercase hex digits");
  }
}

TEST_F(HostilePull, RevisionLeavingTheRefsFolderIsRefusedBeforeAnyRequest) {
  benign_pull("test-org/tiny");
  // A mirror answering any revision with the file list, so only the check stands in the way.
  hub_.intercept([](const httplib::Request& req, httplib::Response& res) {
    if (!req.path.starts_with("/api/") || req.path == "/api/models/test-org/tiny/revision/main") return false;
    res.set_redirect("/api/models/test-org/tiny/revision/main");
    return true;
  });
  const size_t requests = hub_.requests().size();
  hostile_pull("test-org/tiny", "revision '../../../outside/ref' has '..'", std::string(kFromRefs) + "ref");
  hostile_pull("test-org/tiny", "revision '" + (outside_ / "ref").string() + "' starts or ends with '/'",
               (outside_ / "ref").string());
  hostile_pull("test-org/tiny", "revision 'a\\x5cb' has a backslash", "a\\b");
  hostile_pull("test-org/tiny", "revision 'a\\x00b' has a control character", std::string("a\0b", 3));
  EXPECT_EQ(hub_.requests().size(), requests);
  // Offline, the same revision would have read a ref file outside the cache.
  HubConfig offline = config_;
  offline.offline = true;
  EXPECT_THROW(find_cached_model(offline, "test-org/tiny", std::string(kFromRefs) + "ref"), Error);
}

TEST_F(HostilePull, HashesAndCommitsOfTheWrongFormatAreRefused) {
  benign_pull("test-org/tiny");
  struct Case {
    std::function<void(json&)> edit;
    std::string expected;
  };
  const std::string upper_commit = "0123456789ABCDEF0123456789ABCDEF01234567";
  const std::vector<Case> cases = {
      {[](json& a) { hostile::sibling(a, "config.json")["blobId"] = std::string(39, 'a'); },
       "git blob id '" + std::string(39, 'a') + "' is not 40 lowercase hex digits"},
      {[](json& a) { hostile::sibling(a, "config.json")["blobId"] = std::string(40, 'A'); },
       "git blob id '" + std::string(40, 'A') + "' is not 40 lowercase hex digits"},
      {[](json& a) { hostile::sibling(a, "model.safetensors")["lfs"]["sha256"] = std::string(40, 'a'); },
       "LFS sha256 '" + std::string(40, 'a') + "' is not 64 lowercase hex digits"},
      {[](json& a) { a["sha"] = "main"; }, "commit 'main' is not 40 lowercase hex digits"},
      {[=](json& a) { a["sha"] = upper_commit; }, "commit '" + upper_commit + "' is not 40 lowercase hex digits"},
      {[](json& a) { a["sha"] = "../../../outside/c"; }, "commit '../../../outside/c' is not 40 lowercase hex"},
      {[](json& a) { hostile::sibling(a, "config.json")["rfilename"] = "a//config.json"; },
       "file name 'a//config.json' has an empty path component"},
      {[](json& a) { hostile::sibling(a, "config.json")["rfilename"] = "config\n.json"; },
       "file name 'config\\x0a.json' has a control character"},
      {[](json& a) { hostile::sibling(a, "config.json")["size"] = -5; }, "size '-5' of 'config.json' is not a byte count"},
  };
  for (const Case& c : cases) {
    hub_.edit_listing(c.edit);
    hostile_pull("test-org/tiny", c.expected);
  }
}

TEST_F(HostilePull, RedirectLoopIsAnErrorWithoutRetries) {
  benign_pull("test-org/tiny");
  // A blob the cache does not have yet, so the download happens.
  hub_.edit_listing([](json& answer) { hostile::sibling(answer, "model.safetensors")["lfs"]["sha256"] = std::string(64, 'f'); });
  hub_.intercept(hostile::redirect_loop("/model.safetensors"));
  hostile_pull("test-org/tiny", "more than 10 redirects (a redirect loop?)");
  int hops = 0;
  for (const auto& r : hub_.requests()) hops += r.path.ends_with("/model.safetensors");
  EXPECT_LE(hops, 2 + 11 + 1);  // the benign pull's two, then one round of 10 redirects only
}

TEST_F(HostilePull, EndlessFileBodyStopsAtTheAnnouncedSize) {
  benign_pull("test-org/tiny");
  // A blob the cache does not have yet, so the download happens: the file list's size is
  // the real one, the body never ends.
  hub_.edit_listing([](json& answer) { hostile::sibling(answer, "model.safetensors")["lfs"]["sha256"] = std::string(64, 'e'); });
  hub_.intercept(hostile::endless_body("/cdn/", "/model.safetensors"));
  hostile_pull("test-org/tiny", "the server sent more than the expected");
  EXPECT_FALSE(fs::exists(hub_repo_dir(config_, "test-org/tiny") / "blobs" / (std::string(64, 'e') + ".incomplete")));
}

TEST_F(HostilePull, EndlessApiAnswerStopsAtTheAnswerLimit) {
  benign_pull("test-org/tiny");
  hub_.intercept(hostile::endless_body("/api/", ""));
  hostile_pull("test-org/tiny", "the answer is larger than 1048576 bytes");
}

TEST_F(HostilePull, HugeAnnouncedSizesAreRefused) {
  benign_pull("test-org/tiny");
  auto announce = [&](int64_t size) {
    hub_.edit_listing([size](json& answer) {
      json& weights = hostile::sibling(answer, "model.safetensors");
      weights["size"] = size;
      weights["lfs"]["size"] = size;
    });
  };
  announce(int64_t{1} << 60);
  hostile_pull("test-org/tiny", "size '1152921504606846976' of 'model.safetensors' is not a byte count of at most 1099511627776");
  hub_.edit_listing([](json& answer) { hostile::sibling(answer, "model.safetensors")["size"] = 1e300; });
  hostile_pull("test-org/tiny", "of 'model.safetensors' is not a byte count");
  // Within the limit but beyond the free disk space.
  config_.limits.max_file_bytes = int64_t{1} << 62;
  const auto free = static_cast<int64_t>(fs::space(cache_).available);
  announce(free + (int64_t{1} << 30));
  hostile_pull("test-org/tiny", "model.safetensors needs");
}

TEST_F(HostilePull, SlowDripTimesOut) {
  benign_pull("test-org/tiny");
  hub_.edit_listing([](json& answer) { hostile::sibling(answer, "model.safetensors")["lfs"]["sha256"] = std::string(64, 'd'); });
  const auto size = fs::file_size(testing::fixtures_dir() / "tiny-f32" / "model.safetensors");
  hub_.intercept(hostile::slow_drip("/cdn/", "/model.safetensors", size, std::chrono::milliseconds(50)));
  const auto start = std::chrono::steady_clock::now();
  hostile_pull("test-org/tiny", "timed out (under 1000 bytes/s for 1 s) (after 2 tries)");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(8));
}

TEST(HubNames, AcceptWhatTheHubUsesAndRefuseTheRest) {
  for (const char* ok : {"config.json", "model-00001-of-00002.safetensors", "onnx/model.onnx", "a.b/c-d_e"}) {
    EXPECT_NO_THROW(hub::check_repo_file_name(ok, "test")) << ok;
  }
  for (const char* bad : {"", "/etc/passwd", "../x", "a/../../x", "a/./b", "a//b", "a/", "a\\b", "..", "."}) {
    EXPECT_THROW(hub::check_repo_file_name(bad, "test"), Error) << bad;
  }
  for (const char* ok : {"main", "v1.0", "refs/pr/1", "release-2024_01", FakeHub::kCommit}) {
    EXPECT_NO_THROW(hub::check_revision(ok, "test")) << ok;
  }
  for (const char* bad : {"", "..", "../x", "a/../b", "/main", "main/", "a//b", ".hidden", "a/.b", "a b", "x.lock", "a~1"}) {
    EXPECT_THROW(hub::check_revision(bad, "test"), Error) << bad;
  }
  EXPECT_NO_THROW(hub::check_lfs_sha256(std::string(64, 'f'), "test"));
  EXPECT_THROW(hub::check_lfs_sha256(std::string(63, 'f'), "test"), Error);
  EXPECT_NO_THROW(hub::check_git_blob_id(std::string(40, '0'), "test"));
  EXPECT_THROW(hub::check_git_blob_id(std::string(40, 'g'), "test"), Error);
  EXPECT_FALSE(is_hub_repo_id("a--b/c"));  // models--a--b--c would also be a/b--c's folder
  EXPECT_FALSE(is_hub_repo_id("owner/name-"));
  EXPECT_TRUE(is_hub_repo_id("a-b/c.d_e"));
  EXPECT_EQ(hub::quoted("a\nb\x1b[2J'"), "'a\\x0ab\\x1b[2J\\x27'");
  const fs::path root = fs::temp_directory_path();
  EXPECT_NO_THROW(hub::inside_cache(root, root / "a" / "b"));
  EXPECT_THROW(hub::inside_cache(root / "a", root / "a" / ".." / "b"), Error);
  EXPECT_THROW(hub::inside_cache(root / "a", root / "a"), Error);
}

}  // namespace
}  // namespace smol
