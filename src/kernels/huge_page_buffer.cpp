#include "smol/huge_page_buffer.hpp"

#include <cstdlib>
#include <cstring>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace smol {

namespace {
constexpr size_t kHugePage = size_t{2} << 20;
}

void HugePageBuffer::Free::operator()(uint8_t* p) const { std::free(p); }

HugePageBuffer::HugePageBuffer(size_t bytes) : size_(bytes) {
  if (bytes == 0) return;
  const size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
  auto* p = static_cast<uint8_t*>(std::aligned_alloc(kHugePage, rounded));
  if (!p) throw std::bad_alloc();
  data_.reset(p);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  madvise(p, rounded, MADV_HUGEPAGE);  // advice only: ordinary pages if THP is off
#endif
  std::memset(p, 0, rounded);  // fault the pages in now, as huge pages, not on first use
}

}  // namespace smol
