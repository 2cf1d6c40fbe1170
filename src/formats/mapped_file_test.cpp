// MappedFile: both ways of holding a file's bytes give the same bytes, for every small size.
#include <gtest/gtest.h>

#include <string>

#include "smol/error.hpp"
#include "smol/mapped_file.hpp"
#include "smol/safetensors.hpp"
#include "test_support/temp_files.hpp"

namespace smol {
namespace {

using testing::TempDir;
using testing::write_file;

// Found by fuzz/safetensors_fuzz: a file of fewer bytes than reader threads made read_copy's
// piece size zero, and it started threads until the process ran out of them.
TEST(MappedFile, ReadCopyOfTinyFilesHoldsTheirBytes) {
  TempDir dir;
  for (size_t size : {0, 1, 2, 7, 8, 9, 4097}) {
    const auto path = dir.path() / ("f" + std::to_string(size));
    std::string bytes(size, '\0');
    for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>('a' + i % 26);
    write_file(path, bytes);
    for (LoadMode mode : {LoadMode::Map, LoadMode::Read}) {
      const MappedFile file = MappedFile::load(path, mode);
      ASSERT_EQ(file.size(), size);
      EXPECT_EQ(std::string(reinterpret_cast<const char*>(file.data()), file.size()), bytes);
    }
  }
}

TEST(MappedFile, OneByteSafetensorsIsAnErrorInBothModes) {
  TempDir dir;
  const auto path = dir.path() / "model.safetensors";
  write_file(path, "\x08");
  EXPECT_THROW(SafetensorsFile::open(path, LoadMode::Map), Error);
  EXPECT_THROW(SafetensorsFile::open(path, LoadMode::Read), Error);
}

}  // namespace
}  // namespace smol
