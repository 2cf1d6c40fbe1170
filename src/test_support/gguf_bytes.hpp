#pragma once
// GGUF files assembled byte by byte from the specification (docs/gguf.md), independently of
// smol's writer, for the reader tests.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace smol::testing {

class GgufBytes {
 public:
  template <typename T>
  GgufBytes& put(T value) {
    char raw[sizeof(T)];
    std::memcpy(raw, &value, sizeof(T));
    bytes_.append(raw, sizeof(T));
    return *this;
  }
  GgufBytes& str(std::string_view s) {
    put<uint64_t>(s.size());
    bytes_.append(s);
    return *this;
  }
  GgufBytes& header(uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    bytes_.append("GGUF");
    return put<uint32_t>(version).put<uint64_t>(n_tensors).put<uint64_t>(n_kv);
  }
  // key, type id, then the caller puts the value
  GgufBytes& key(std::string_view k, uint32_t type) { return str(k).put<uint32_t>(type); }
  GgufBytes& tensor(std::string_view name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
    str(name).put<uint32_t>(static_cast<uint32_t>(ne.size()));
    for (uint64_t d : ne) put<uint64_t>(d);
    return put<uint32_t>(type).put<uint64_t>(offset);
  }
  GgufBytes& pad(size_t alignment) {
    bytes_.resize((bytes_.size() + alignment - 1) / alignment * alignment, '\0');
    return *this;
  }
  GgufBytes& raw(std::string_view data) {
    bytes_.append(data);
    return *this;
  }
  size_t size() const { return bytes_.size(); }
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

// A small valid v3 file: one string, one u32 array, two F32 tensors (2x3 and 4) at 32-byte
// alignment, with values 0..5 and 10..13.
inline std::string small_gguf() {
  GgufBytes b;
  b.header(3, 2, 2);
  b.key("general.architecture", 8).str("llama");
  b.key("test.list", 9).put<uint32_t>(4).put<uint64_t>(3).put<uint32_t>(7).put<uint32_t>(8).put<uint32_t>(9);
  b.tensor("a", {3, 2}, 0, 0);
  b.tensor("b", {4}, 0, 32);
  b.pad(32);
  for (int i = 0; i < 6; ++i) b.put<float>(static_cast<float>(i));
  b.pad(32);
  for (int i = 10; i < 14; ++i) b.put<float>(static_cast<float>(i));
  return b.bytes();
}

}  // namespace smol::testing
