#include "smol/thread_pool.hpp"

#include <chrono>
#include <cstdlib>
#include <new>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace smol {

namespace {

// A waiting thread first polls with pause instructions (the fast path: the serial work
// between two kernels of a decode step takes microseconds), then polls with sched_yield,
// and finally sleeps on a futex so that an idle engine costs nothing. The pause phase is
// kept to a microsecond or two: when the thread it waits for shares its core (other
// programs crowd the machine, or the pool has more threads than cores) every pause only
// delays that thread, while a yield hands it the core at once; measured with both threads
// on one core, a 4 us pause phase made each dispatch cost 12 us. On an idle core a yield
// returns immediately, so the yield phase still reacts within a microsecond.
constexpr int kPausePolls = 64;
constexpr auto kYieldBudget = std::chrono::microseconds(500);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

// Polls `done` until it holds (true) or the budget is spent (false).
template <class Done>
bool spin_until(Done&& done, int pause_polls) {
  for (int i = 0; i < pause_polls; ++i) {
    if (done()) return true;
    cpu_relax();
  }
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < kYieldBudget) {
    if (done()) return true;
    std::this_thread::yield();
  }
  return done();
}

}  // namespace

void ThreadPool::FreeDeleter::operator()(void* p) const { std::free(p); }

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)) {
  const unsigned cores = std::thread::hardware_concurrency();
  pause_polls_ = cores != 0 && static_cast<unsigned>(n_threads_) > cores ? 0 : kPausePolls;
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
    if (!spin_until([&] { return generation_.load(std::memory_order_acquire) != seen; }, pause_polls_)) {
      // Sleep on the counter itself (a futex on Linux); notify_all is a no-op syscall-wise
      // while nobody sleeps, so the spinning fast path never enters the kernel.
      while (generation_.load(std::memory_order_acquire) == seen) generation_.wait(seen, std::memory_order_acquire);
    }
    seen = generation_.load(std::memory_order_acquire);
    if (stopping_.load(std::memory_order_acquire)) return;
    execute(index);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
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
  // The caller's share usually finishes last; if a worker was descheduled, sleep and give
  // it the core rather than spin against it.
  if (!spin_until([&] { return pending_.load(std::memory_order_acquire) == 0; }, pause_polls_)) {
    for (int left = pending_.load(std::memory_order_acquire); left != 0; left = pending_.load(std::memory_order_acquire)) {
      pending_.wait(left, std::memory_order_acquire);
    }
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
