#pragma once
// One request's way through the server: the HTTP handler thread submits it and reads text
// back; the scheduler thread writes text and the end. The two sides meet only here.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "smol/grammar.hpp"
#include "smol/sampler.hpp"

namespace smol::server {

struct GenerationRequest {
  std::vector<int32_t> prompt;
  int max_tokens = 16;
  SamplingParams sampling;
  std::vector<std::string> stop;  // stop strings; the model's eos ids always stop too
  // An encoder-decoder runner starts from the folder's generation config and applies only
  // what the request set itself: these say which of the fields above it set, and num_beams.
  bool max_tokens_set = false;
  bool temperature_set = false;
  bool top_p_set = false;
  std::optional<int> num_beams;  // smol's extension: beam search (encoder-decoder models)
  std::optional<Grammar> grammar;  // constrains the output (decoder-only models)
  std::optional<std::string> span_of;  // the output is a verbatim span of this text (/v1/qa)
};

struct JobResult {
  std::string finish_reason;  // "stop" or "length"
  int prompt_tokens = 0;
  int completion_tokens = 0;
  std::vector<int32_t> completion_ids;  // the generated ids (decoder-only runner), for /v1/qa's span
  std::string error;  // non-empty: the job failed (e.g. the server is shutting down)

  static JobResult failure(std::string message) {
    JobResult r;
    r.error = std::move(message);
    return r;
  }
};

// What next() hands the reader: new text, and whether the job is over (then `result` holds).
struct JobEvent {
  std::string text;
  bool finished = false;
  bool timed_out = false;
  JobResult result;
};

class Job {
 public:
  explicit Job(GenerationRequest request) : request_(std::move(request)) {}
  const GenerationRequest& request() const { return request_; }

  // Scheduler side.
  void push_text(const std::string& text);
  void finish(JobResult result);
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }

  // Reader side: waits up to `timeout` for text or the end; text pushed since the last call
  // comes back joined.
  JobEvent next(std::chrono::milliseconds timeout);
  // Waits for the end; returns all text not yet read.
  JobEvent wait();
  // The reader is gone (client disconnected): the scheduler frees the slot at its next step.
  void cancel();

 private:
  GenerationRequest request_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::string text_;
  bool finished_ = false;
  JobResult result_;
  std::atomic<bool> cancelled_{false};
};

}  // namespace smol::server
