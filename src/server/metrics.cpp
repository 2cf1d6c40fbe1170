#include "server/metrics.hpp"

#include <fmt/format.h>

namespace smol::server {

void Metrics::record_step(int generated, std::chrono::steady_clock::time_point now) {
  ++forward_steps;
  record_tokens(generated, now);
}

void Metrics::record_tokens(int generated, std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(mutex_);
  recent_.emplace_back(now, generated);
  while (!recent_.empty() && now - recent_.front().first > window) recent_.pop_front();
}

double Metrics::tokens_per_second(std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(mutex_);
  while (!recent_.empty() && now - recent_.front().first > window) recent_.pop_front();
  if (recent_.empty()) return 0.0;
  int64_t tokens = 0;
  for (const auto& [t, n] : recent_) tokens += n;
  // Over the span actually covered, so a burst that started 2 s ago is not divided by 10.
  const double span = std::chrono::duration<double>(now - recent_.front().first).count();
  return tokens / std::max(span, 1.0);
}

std::string Metrics::prometheus_text(int slots_total) {
  const double tps = tokens_per_second(std::chrono::steady_clock::now());
  std::string out;
  auto add = [&](const char* name, const char* type, const char* help, auto value) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, value);
  };
  add("smol_requests_total", "counter", "Completion requests received.", requests_total.load());
  add("smol_requests_rejected_total", "counter", "Requests answered with an error before generating.",
      requests_rejected.load());
  add("smol_requests_cancelled_total", "counter", "Requests whose client disconnected before the end.",
      requests_cancelled.load());
  add("smol_prompt_tokens_total", "counter", "Prompt tokens processed.", prompt_tokens.load());
  add("smol_generated_tokens_total", "counter", "Tokens generated.", generated_tokens.load());
  add("smol_forward_steps_total", "counter", "Batched forward steps run.", forward_steps.load());
  add("smol_queue_length", "gauge", "Requests waiting for a slot.", queued.load());
  add("smol_active_slots", "gauge", "Slots generating now.", active.load());
  add("smol_slots_total", "gauge", "Slots (--parallel).", slots_total);
  add("smol_tokens_per_second", "gauge", "Generated tokens per second over the last 10 s.", fmt::format("{:.3f}", tps));
  return out;
}

}  // namespace smol::server
