// smol/atomic_file.hpp, the one crash-safe writer: a file is the old one or the whole new one,
// temporaries never stay behind, and a full disk is an error naming the file.
#include "smol/atomic_file.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include "test_support/temp_files.hpp"

namespace smol {
namespace {

using testing::TempDir;

std::string read(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

size_t entries(const std::filesystem::path& dir) {
  return static_cast<size_t>(std::distance(std::filesystem::directory_iterator(dir), {}));
}

TEST(AtomicFile, WritesAndReplacesWhole) {
  TempDir dir;
  write_file_atomic(dir / "a.json", "{\"v\": 1}");
  EXPECT_EQ(read(dir / "a.json"), "{\"v\": 1}");
  write_file_atomic(dir / "a.json", "{\"v\": 2}");
  EXPECT_EQ(read(dir / "a.json"), "{\"v\": 2}");
  EXPECT_EQ(std::filesystem::status(dir / "a.json").permissions() & std::filesystem::perms::others_read,
            std::filesystem::perms::others_read);  // readable like any model file, not mkstemp's 0600
  copy_file_atomic(dir / "a.json", dir / "b.json");
  EXPECT_EQ(read(dir / "b.json"), "{\"v\": 2}");
  EXPECT_EQ(entries(dir.path()), 2u);
}

TEST(AtomicFile, AWriterThatFailsLeavesTheOldFileAndNoTemporary) {
  TempDir dir;
  write_file_atomic(dir / "model.bin", "old");
  try {
    AtomicFile out(dir / "model.bin");
    out.write("new, but only half");
    throw Error("the converter failed half-way");
  } catch (const Error&) {
  }
  EXPECT_EQ(read(dir / "model.bin"), "old");
  EXPECT_EQ(entries(dir.path()), 1u);
  EXPECT_THROW(copy_file_atomic(dir / "missing", dir / "copy"), Error);
  EXPECT_EQ(entries(dir.path()), 1u);
}

TEST(AtomicFile, AFullDiskIsAOneLineErrorNamingTheFile) {
  const int fd = ::open("/dev/full", O_WRONLY | O_CLOEXEC);
  if (fd < 0) GTEST_SKIP() << "no /dev/full";
  const std::string bytes(1 << 16, 'x');
  try {
    write_all(fd, bytes.data(), bytes.size(), "out/model.gguf");
    ADD_FAILURE() << "writing to /dev/full succeeded";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind("out/model.gguf: write error: ", 0), 0u) << what;
    EXPECT_NE(what.find("the disk is full"), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
  ::close(fd);
}

TEST(AtomicFile, CannotCreateInAMissingFolder) {
  TempDir dir;
  try {
    write_file_atomic(dir / "no" / "such" / "x", "x");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot create a temporary file"), std::string::npos) << e.what();
  }
}

TEST(AtomicFile, RenameDurablyMovesACompleteFile) {
  TempDir dir;
  testing::write_file(dir / "blob.incomplete", "bytes");
  rename_durably(dir / "blob.incomplete", dir / "blob");
  EXPECT_EQ(read(dir / "blob"), "bytes");
  EXPECT_FALSE(std::filesystem::exists(dir / "blob.incomplete"));
  EXPECT_THROW(rename_durably(dir / "gone", dir / "blob2"), Error);
}

}  // namespace
}  // namespace smol
