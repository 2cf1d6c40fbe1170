#pragma once
// Counters for GET /metrics (Prometheus text format). Written by the HTTP threads and the
// scheduler, read by whoever scrapes; plain atomics, except the throughput window.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>

namespace smol::server {

class Metrics {
 public:
  std::atomic<int64_t> requests_total{0};      // every /v1/* completion request received
  std::atomic<int64_t> requests_rejected{0};   // 4xx/5xx answered without generating
  std::atomic<int64_t> requests_cancelled{0};  // client went away before the end
  std::atomic<int64_t> prompt_tokens{0};
  std::atomic<int64_t> generated_tokens{0};
  std::atomic<int64_t> forward_steps{0};
  std::atomic<int> queued{0};
  std::atomic<int> active{0};

  // The scheduler counts generated_tokens as they are made (before a client can see its
  // request end) and reports each step's total here; tokens_per_second() averages them over
  // the last `window`.
  void record_step(int generated, std::chrono::steady_clock::time_point now);
  // Tokens for the throughput window without a step (made after a batch's last step).
  void record_tokens(int generated, std::chrono::steady_clock::time_point now);
  double tokens_per_second(std::chrono::steady_clock::time_point now);

  std::string prometheus_text(int slots_total);

 private:
  static constexpr std::chrono::seconds window{10};
  std::mutex mutex_;
  std::deque<std::pair<std::chrono::steady_clock::time_point, int>> recent_;
};

}  // namespace smol::server
