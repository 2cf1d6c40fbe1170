#pragma once
// What the HTTP handlers hand their jobs to, whichever kind of model serves: the decoder-only
// Scheduler (continuous batching) or the Seq2SeqScheduler (encoder-decoder batches).
#include <chrono>
#include <memory>

#include "server/job.hpp"

namespace smol::server {

enum class Rejection { None, QueueFull, ShuttingDown };

class JobRunner {
 public:
  virtual ~JobRunner() = default;
  // Queues a request (its prompt fits the model: the caller checks). Returns nullptr and says
  // why when the queue is full or the server is shutting down, so the caller answers at once.
  // Throws smol::Error for a request this model cannot run (the caller answers 400).
  virtual std::shared_ptr<Job> submit(GenerationRequest request, Rejection& why) = 0;
  // Stops taking requests; queued ones fail, active ones may finish until `grace` has passed
  // and are then ended. Returns when the runner's thread has nothing left.
  virtual void shutdown(std::chrono::milliseconds grace) = 0;
};

}  // namespace smol::server
