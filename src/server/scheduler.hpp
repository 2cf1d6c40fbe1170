#pragma once
// Continuous batching: one thread owns the model and, at every step, runs the next token of
// every active sequence plus a chunk of the prompts still being read, in ONE forward_batch
// call, so the weights are read once per step for all clients. Each sequence has its own
// KvCache slot; a finished or cancelled sequence frees its slot for the next queued request
// at the following step.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "server/job.hpp"
#include "server/job_runner.hpp"
#include "smol/kernels.hpp"
#include "server/metrics.hpp"

namespace smol {
class Engine;
class KvCache;
struct ForwardBuffers;
}

namespace smol::server {

struct SchedulerOptions {
  int parallel = 4;      // slots: sequences generating at once
  int queue_limit = 16;  // requests that may wait for a slot; beyond that submit() refuses
  int context = 2048;    // tokens per slot (prompt + completion)
  int batch_tokens = 256;  // tokens per forward step, prompt chunks included
  WeightType cache_type = WeightType::F32;  // KV cache storage of every slot
  std::chrono::milliseconds step_delay{0};  // test hook: slows every step down
};

class Scheduler final : public JobRunner {
 public:
  Scheduler(Engine& engine, const SchedulerOptions& options, Metrics& metrics);
  ~Scheduler() override;  // cancels what is left and joins the thread
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a request (its prompt must fit the context: the caller checks). Returns nullptr
  // and says why when the queue is full or the server is shutting down: the caller answers
  // at once instead of waiting.
  std::shared_ptr<Job> submit(GenerationRequest request, Rejection& why) override;

  // Stops taking requests; queued ones fail, active ones may finish until `grace` has passed
  // and are then ended. Returns when the thread has nothing left.
  void shutdown(std::chrono::milliseconds grace) override;

  const SchedulerOptions& options() const { return options_; }

 private:
  struct Sequence;
  void loop();
  void admit(std::unique_lock<std::mutex>& lock);
  void step();
  void emit(Sequence& seq, const std::string& text);
  void finish(Sequence& seq, const std::string& reason);
  void fail_active(const std::string& message);
  void release_finished();

  Engine& engine_;
  SchedulerOptions options_;
  Metrics& metrics_;

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> waiting_;
  bool draining_ = false;
  std::optional<std::chrono::steady_clock::time_point> deadline_;

  // Only the scheduler thread touches these.
  std::vector<std::unique_ptr<Sequence>> active_;
  std::vector<int> free_slots_;
  std::vector<std::unique_ptr<KvCache>> caches_;
  std::unique_ptr<ForwardBuffers> buffers_;
  std::thread thread_;
};

}  // namespace smol::server
