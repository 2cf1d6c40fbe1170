#pragma once
// Memory for weights that the kernels stream once per token. Decode reads every weight byte
// per token, so on 4 KiB pages it takes a TLB miss every 4 KiB and the hardware prefetchers
// stop at every page boundary; on 2 MiB transparent huge pages neither happens. Measured on
// the 135M model's Q8_0 matrices (kernels_bench --huge), one thread: 10.6 -> 7.7 ms of CPU
// per token. A loader that copies mmap-ed weights (file pages never become huge pages) into
// one of these buffers gets that for a memcpy at load time.
#include <cstddef>
#include <cstdint>
#include <memory>

namespace smol {

class HugePageBuffer {
 public:
  HugePageBuffer() = default;
  // 2 MiB aligned, zero-filled, madvise(MADV_HUGEPAGE) where the system supports it (falls
  // back silently to ordinary pages). Throws std::bad_alloc when memory is short.
  explicit HugePageBuffer(size_t bytes);

  uint8_t* data() { return data_.get(); }
  const uint8_t* data() const { return data_.get(); }
  size_t size() const { return size_; }

 private:
  struct Free {
    void operator()(uint8_t* p) const;
  };
  std::unique_ptr<uint8_t, Free> data_;
  size_t size_ = 0;
};

}  // namespace smol
