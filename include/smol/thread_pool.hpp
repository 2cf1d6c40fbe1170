#pragma once
// One persistent pool of worker threads, created once per engine and reused for every
// operation: creating threads per token would cost more than a small model's matmuls.
//
// A decode step of a small model issues a few hundred parallel operations of tens of
// microseconds each, so a handoff must cost a few microseconds at most: idle workers poll an
// atomic generation counter (pause, then sched_yield, a few hundred microseconds in all)
// before sleeping on it, and the caller likewise waits for the last worker. Jobs are passed by reference without
// std::function, so dispatching allocates nothing.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace smol {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Calls fn(thread_index, n_threads) once on every thread (the caller is thread 0) and
  // returns when all calls have returned. Work is split by the callee, so each kernel
  // chooses its own partition (rows, heads, tokens). The first exception thrown by any call
  // is rethrown here after all calls have finished. Not reentrant: fn must not call run().
  template <class F>
  void run(F&& fn) {
    using Fn = std::remove_reference_t<F>;
    dispatch(Job{const_cast<void*>(static_cast<const void*>(&fn)),
                 [](void* f, int i, int n) { (*static_cast<Fn*>(f))(i, n); }});
  }

  // Splits [0, n) into contiguous chunks, one per thread, and calls fn(begin, end).
  template <class F>
  void parallel_for(size_t n, F&& fn) {
    run([&](int index, int count) {
      const size_t chunk = (n + count - 1) / count;
      const size_t begin = std::min(n, chunk * index);
      const size_t end = std::min(n, begin + chunk);
      if (begin < end) fn(begin, end);
    });
  }

  // A 64-byte aligned buffer of at least `bytes` for kernels' per-call temporaries (packed
  // activations, weight panels), reused across calls so the hot path does not allocate.
  // Contents are not preserved across calls that grow it. Call from the dispatching thread,
  // outside run(); valid until the next call.
  void* scratch(size_t bytes);

 private:
  struct Job {
    void* fn = nullptr;
    void (*call)(void*, int, int) = nullptr;
  };
  void dispatch(Job job);
  void worker_loop(int index);
  void execute(int index) noexcept;

  int n_threads_;
  int pause_polls_ = 0;
  std::vector<std::thread> workers_;
  Job job_;
  // Separate cache lines: workers poll generation_ while they decrement pending_.
  alignas(64) std::atomic<uint32_t> generation_{0};
  alignas(64) std::atomic<int> pending_{0};
  alignas(64) std::atomic<bool> stopping_{false};
  std::mutex error_mutex_;
  std::exception_ptr error_;
  struct FreeDeleter {
    void operator()(void* p) const;
  };
  std::unique_ptr<void, FreeDeleter> scratch_;
  size_t scratch_bytes_ = 0;
};

}  // namespace smol
