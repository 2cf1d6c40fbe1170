#pragma once
// Batching for encoder-decoder models (BART, mBART, Marian): one thread owns the model and
// takes up to `parallel` waiting requests that share their generation settings into one
// batch: one encoder pass over every source, then one decoder pass per step over every row
// (generate_seq2seq's work). Greedy and sampled rows stream their text as they grow and
// leave the batch when they end, are cancelled or hit their stop strings; beam search has no
// final tokens until it ends, so its text comes at once. Requests that arrive meanwhile wait
// for the next batch.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "server/job_runner.hpp"
#include "server/metrics.hpp"
#include "smol/kernels.hpp"
#include "smol/seq2seq_generate.hpp"

namespace smol::server {

struct Seq2SeqSchedulerOptions {
  int parallel = 4;      // requests per batch
  int queue_limit = 16;  // requests that may wait beyond those; more are refused
  WeightType cache_type = WeightType::F32;  // decoder self-attention caches
  std::chrono::milliseconds step_delay{0};  // test hook: slows every decoder pass down
};

// The folder's generation config with what the request set itself (max_tokens capped at
// the decoder's positions, temperature, top_p, num_beams; one sequence per request).
// Throws smol::Error for settings transformers would refuse.
GenerationConfig seq2seq_generation(const GenerationConfig& folder, const GenerationRequest& request,
                                    int max_position_embeddings);

class Seq2SeqScheduler final : public JobRunner {
 public:
  Seq2SeqScheduler(Seq2SeqEngine& engine, const Seq2SeqSchedulerOptions& options, Metrics& metrics);
  ~Seq2SeqScheduler() override;  // ends what is left and joins the thread
  Seq2SeqScheduler(const Seq2SeqScheduler&) = delete;
  Seq2SeqScheduler& operator=(const Seq2SeqScheduler&) = delete;

  std::shared_ptr<Job> submit(GenerationRequest request, Rejection& why) override;
  void shutdown(std::chrono::milliseconds grace) override;

 private:
  struct Waiting {
    std::shared_ptr<Job> job;
    GenerationConfig generation;
    std::optional<uint64_t> seed;
  };
  struct Row;
  class Batch;
  void loop();
  std::vector<Waiting> take_batch();
  bool past_deadline();

  Seq2SeqEngine& engine_;
  Seq2SeqSchedulerOptions options_;
  Metrics& metrics_;

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Waiting> waiting_;
  bool draining_ = false;
  std::optional<std::chrono::steady_clock::time_point> deadline_;
  std::thread thread_;
};

}  // namespace smol::server
