#include "smol/thread_pool.hpp"

#include <chrono>
#include <cstdlib>
#include <new>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace smol {

namespace {

// How long an idle worker polls before sleeping: long enough to bridge the serial work
// between two kernels of a decode step (norms, RoPE, sampling), short enough that an idle
// engine stops burning a core almost at once.
constexpr auto kSpinBudget = std::chrono::microseconds(1000);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

// Polls `done` with pause instructions, checking the clock only every 64 polls; returns
// false once the budget is spent.
template <class Done>
bool spin_until(Done&& done, std::chrono::microseconds budget) {
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (done()) return true;
      cpu_relax();
    }
    if (std::chrono::steady_clock::now() - start > budget) return false;
  }
}

}  // namespace

void ThreadPool::FreeDeleter::operator()(void* p) const { std::free(p); }

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)) {
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  stopping_.store(true, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  generation_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::execute(int index) noexcept {
  try {
    job_.call(job_.fn, index, n_threads_);
  } catch (...) {
    std::lock_guard lock(error_mutex_);
    if (!error_) error_ = std::current_exception();
  }
}

void ThreadPool::worker_loop(int index) {
  uint32_t seen = 0;
  for (;;) {
    if (!spin_until([&] { return generation_.load(std::memory_order_acquire) != seen; }, kSpinBudget)) {
      // Sleep on the counter itself (a futex on Linux); notify_all is a no-op syscall-wise
      // while nobody sleeps, so the spinning fast path never enters the kernel.
      while (generation_.load(std::memory_order_acquire) == seen) generation_.wait(seen, std::memory_order_acquire);
    }
    seen = generation_.load(std::memory_order_acquire);
    if (stopping_.load(std::memory_order_acquire)) return;
    execute(index);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::dispatch(Job job) {
  if (n_threads_ == 1) {
    job.call(job.fn, 0, 1);
    return;
  }
  job_ = job;
  pending_.store(n_threads_ - 1, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_acq_rel);  // publishes job_ and pending_
  generation_.notify_all();
  execute(0);
  // The caller's share is usually the last to finish; if a worker was descheduled, yield
  // the core to it rather than spin against it.
  if (!spin_until([&] { return pending_.load(std::memory_order_acquire) == 0; }, kSpinBudget)) {
    while (pending_.load(std::memory_order_acquire) != 0) std::this_thread::yield();
  }
  job_ = Job{};
  if (error_) {
    std::exception_ptr e;
    std::swap(e, error_);
    std::rethrow_exception(e);
  }
}

void* ThreadPool::scratch(size_t bytes) {
  if (bytes > scratch_bytes_) {
    const size_t rounded = (bytes + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, rounded);
    if (!p) throw std::bad_alloc();
    scratch_.reset(p);
    scratch_bytes_ = rounded;
  }
  return scratch_.get();
}

}  // namespace smol
