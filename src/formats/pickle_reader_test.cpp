// The restricted unpickler on hand-written pickles: what torch.save emits is read, everything
// else (globals, opcodes, malformed streams) is a one-line smol::Error.
#include "formats/pickle_reader.hpp"

#include <gtest/gtest.h>

#include "test_support/temp_files.hpp"

// GCC 12 warns falsely about std::string concatenation at -O2 (GCC bug 105329).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wrestrict"
#endif

namespace smol::formats_detail {
namespace {

using testing::expect_error;
using namespace std::string_literals;

// Pickle fragments, spelled as torch.save (protocol 2) writes them.
std::string str(const std::string& text) {
  std::string out = "X";
  for (int i = 0; i < 4; ++i) out += static_cast<char>((text.size() >> (8 * i)) & 0xff);
  return out + text;
}
std::string global(const std::string& module, const std::string& name) { return "c" + module + "\n" + name + "\n"; }
std::string int1(int v) { return std::string("K") + static_cast<char>(v); }
std::string ints(const std::vector<int>& v) {
  std::string out = "(";
  for (const int x : v) out += int1(x);
  return out + "t";
}
std::string pid(const std::string& type, const std::string& key, int numel) {
  return "(" + str("storage") + global("torch", type) + str(key) + str("cpu") + int1(numel) + "tQ";
}
std::string tensor(const std::string& pid_bytes, int offset, const std::vector<int>& shape, const std::vector<int>& stride) {
  return global("torch._utils", "_rebuild_tensor_v2") + "(" + pid_bytes + int1(offset) + ints(shape) + ints(stride) +
         "\x89" + global("collections", "OrderedDict") + ")RtR";
}
std::string state_dict(const std::vector<std::pair<std::string, std::string>>& entries) {
  std::string out = "\x80\x02" + global("collections", "OrderedDict") + ")R(";
  for (const auto& [name, value] : entries) out += str(name) + value;
  return out + "u.";
}

PickledStateDict read(const std::string& bytes) {
  return read_state_dict_pickle(std::as_bytes(std::span(bytes.data(), bytes.size())), "data.pkl");
}

TEST(PickleReader, ReadsTensorsAndSharedStorages) {
  const std::string p = pid("HalfStorage", "0", 12);
  // The second tensor names the storage through the memo, as torch does for tied weights.
  const PickledStateDict d = read(state_dict({{"a", tensor(p, 2, {2, 3}, {3, 1})},
                                              {"b", tensor(p, 0, {3, 2}, {1, 3})},
                                              {"s", tensor(pid("LongStorage", "1", 1), 0, {}, {})}}));
  ASSERT_EQ(d.storages.size(), 2u);
  EXPECT_EQ(d.storages[0].key, "0");
  EXPECT_EQ(d.storages[0].dtype, DType::F16);
  EXPECT_EQ(d.storages[0].numel, 12u);
  EXPECT_EQ(d.storages[1].dtype, DType::I64);
  ASSERT_EQ(d.tensors.size(), 3u);
  EXPECT_EQ(d.tensors[0].name, "a");
  EXPECT_EQ(d.tensors[0].offset, 2u);
  EXPECT_EQ(d.tensors[0].shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(d.tensors[1].stride, (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(d.tensors[1].storage, 0u);
  EXPECT_TRUE(d.tensors[2].shape.empty());
}

TEST(PickleReader, RepeatedKeyReplacesAsInPython) {
  const PickledStateDict d = read(state_dict({{"a", tensor(pid("FloatStorage", "0", 1), 0, {1}, {1})},
                                              {"a", tensor(pid("FloatStorage", "1", 2), 0, {2}, {1})}}));
  ASSERT_EQ(d.tensors.size(), 1u);
  EXPECT_EQ(d.tensors[0].shape, std::vector<int64_t>{2});
}

TEST(PickleReader, ParameterIsItsTensor) {
  const std::string t = tensor(pid("FloatStorage", "0", 2), 0, {2}, {1});
  const std::string param = global("torch._utils", "_rebuild_parameter") + "(" + t + "\x88" +
                            global("collections", "OrderedDict") + ")RtR";
  EXPECT_EQ(read(state_dict({{"p", param}})).tensors.at(0).shape, std::vector<int64_t>{2});
}

TEST(PickleReader, ForbiddenGlobalsAreNamed) {
  for (const auto& [module, name] : std::vector<std::pair<std::string, std::string>>{
           {"os", "system"}, {"builtins", "eval"}, {"subprocess", "Popen"}, {"torch", "load"}, {"torch._utils", "x"}}) {
    const std::string bytes = "\x80\x02" + global(module, name) + str("echo hi") + "\x85R.";
    const std::string msg = expect_error([&] { read(bytes); }, {});
    EXPECT_EQ(msg, "data.pkl: pickle global " + module + "." + name + " is not allowed (only tensor storage is loaded)");
  }
  // STACK_GLOBAL (protocol 4) is checked the same way.
  expect_error([] { read("\x80\x04" + str("os") + str("system") + "\x93."); }, {"pickle global os.system is not allowed"});
}

TEST(PickleReader, ForbiddenOpcodesAreNamed) {
  expect_error([] { read("\x80\x02" + global("collections", "OrderedDict") + ")\x81."); },
               {"pickle opcode NEWOBJ (0x81) at byte 28 is not allowed (only tensor storage is loaded)"});
  expect_error([] { read("(ios\nsystem\n."); }, {"pickle opcode INST (0x69)"});
  expect_error([] { read("\x80\x02\x82\x01."); }, {"pickle opcode EXT1"});
  expect_error([] { read("\x80\x03""C\x02hi."); }, {"pickle opcode SHORT_BINBYTES"});
  expect_error([] { read("\x80\x02\xff."); }, {"unknown pickle opcode 0xff"});
}

TEST(PickleReader, StorageTypesWithoutADtypeAreRefused) {
  expect_error([] { read(state_dict({{"a", tensor(pid("ShortStorage", "0", 1), 0, {1}, {1})}})); },
               {"torch.ShortStorage", "no dtype"});
  expect_error([] { read(state_dict({{"a", tensor(pid("EvilStorage", "0", 1), 0, {1}, {1})}})); },
               {"pickle global torch.EvilStorage is not allowed"});
}

TEST(PickleReader, AllowedGlobalsCannotBeMisused) {
  // Calling a storage type, a tensor with the wrong arguments, OrderedDict with arguments.
  expect_error([] { read("\x80\x02" + global("torch", "FloatStorage") + ")R."); }, {"pickle calls torch.FloatStorage"});
  expect_error([] { read("\x80\x02" + global("torch._utils", "_rebuild_tensor_v2") + ")R."); },
               {"_rebuild_tensor_v2 called with 0 arguments"});
  expect_error([] { read("\x80\x02" + global("collections", "OrderedDict") + "(K\x01tR."); },
               {"OrderedDict called with arguments"});
  expect_error([] { read("\x80\x02" + str("x") + ")R."); }, {"REDUCE calls a string"});
  expect_error([] { read("\x80\x02" + str("x") + "Q."); }, {"persistent id is not"});
}

TEST(PickleReader, MalformedStreamsAreErrors) {
  const std::string good = state_dict({{"a", tensor(pid("FloatStorage", "0", 1), 0, {1}, {1})}});
  expect_error([&] { read(good.substr(0, good.size() - 1)); }, {"ends without STOP"});
  expect_error([] { read("\x80\x02X\xff\xff\xff\x00"s); }, {"truncated"});
  expect_error([] { read("\x80\x02h\x05."); }, {"memo entry 5 was never stored"});
  expect_error([] { read("\x80\x02R."); }, {"stack underflow"});
  expect_error([] { read("\x80\x02(K\x01u."); }, {"stack underflow"});  // nothing below the mark
  expect_error([] { read("\x80\x02K\x01(K\x01K\x02u."); }, {"SETITEMS on a int, not a dict"});
  expect_error([] { read("\x80\x02t."); }, {"no MARK"});
  expect_error([] { read("\x80\x09."); }, {"protocol 9"});
  expect_error([] { read("\x80\x02" "cos"); }, {"no terminating newline"});
  expect_error([] { read("\x80\x02]."); }, {"holds a list, not a state dict"});
  expect_error([] { read("\x80\x02}" + str("a") + "K\x01s."); }, {"entry 'a' is a int, not a tensor"});
  expect_error([] { read("\x80\x02}K\x01K\x01s."); }, {"key is a int"});
  expect_error([] { read("\x80\x02\x8a\x09\x01\x01\x01\x01\x01\x01\x01\x01\x01."); }, {"does not fit in 64 bits"});
  expect_error([] { read(state_dict({{"a", tensor(pid("FloatStorage", "0", 1), 0, {1, 1}, {1})}})); },
               {"size and stride have different lengths"});
  const std::string negative = global("torch._utils", "_rebuild_tensor_v2") + "(" + pid("FloatStorage", "0", 1) +
                               "K\x00(J\xff\xff\xff\xfft(K\x01t\x89}tR"s;
  expect_error([&] { read(state_dict({{"a", negative}})); }, {"negative or non-integer"});
  expect_error([] { read(state_dict({{"a", tensor(pid("FloatStorage", "0", 1), 0, {1}, {1})},
                                     {"b", tensor(pid("HalfStorage", "0", 1), 0, {1}, {1})}})); },
               {"storage '0' is named with two types or sizes"});
}

TEST(PickleReader, CyclesAndWideIntegersAreHarmless) {
  // A list appended to itself through the memo, then dropped: no recursion, no leak under ASan.
  EXPECT_TRUE(read("\x80\x02]q\x00h\x00" "a0}."s).tensors.empty());
  // LONG1 with sign-extension bytes beyond 8 still fits; a 9-byte -1 is -1.
  const std::string p = "(" + str("storage") + global("torch", "FloatStorage") + str("0") + str("cpu") +
                        "\x8a\x09\x02\x00\x00\x00\x00\x00\x00\x00\x00tQ"s;
  EXPECT_EQ(read(state_dict({{"a", tensor(p, 0, {2}, {1})}})).storages.at(0).numel, 2u);
}

}  // namespace
}  // namespace smol::formats_detail
