#include "server/seq2seq_scheduler.hpp"

#include <algorithm>
#include <functional>
#include <random>

#include "server/stop_matcher.hpp"
#include "smol/error.hpp"
#include "smol/sampler.hpp"

namespace smol::server {

namespace {

// Thrown between passes when no row has a client left: ends the search early.
struct Abandoned {};

// Greedy and sampled rows end on their own (a row that stops leaves the search), so their
// lengths may differ within a batch, unless forced_eos_token_id makes the last position
// depend on max_length. A seeded sample runs alone: its generator is seeded by its row, so
// only then does the same seed give the same text.
bool batchable(const GenerationConfig& a, std::optional<uint64_t> a_seed, const GenerationConfig& b,
               std::optional<uint64_t> b_seed) {
  if ((a.do_sample && a_seed) || (b.do_sample && b_seed)) return false;
  GenerationConfig x = a;
  GenerationConfig y = b;
  if (!x.is_beam() && x.forced_eos_token_id.empty()) {
    y.max_new_tokens = x.max_new_tokens;
    y.max_length = x.max_length;
    y.max_length_set_by_caller = x.max_length_set_by_caller;
  }
  return x == y;
}

}  // namespace

GenerationConfig seq2seq_generation(const GenerationConfig& folder, const GenerationRequest& request,
                                    int max_position_embeddings) {
  GenerationConfig g = folder;
  // The decoder start token takes position 0.
  if (request.max_tokens_set) g.max_new_tokens = std::clamp(request.max_tokens, 1, std::max(1, max_position_embeddings - 1));
  if (request.temperature_set) {
    g.do_sample = request.sampling.temperature > 0.0f;
    if (g.do_sample) g.temperature = request.sampling.temperature;
  }
  if (request.top_p_set) g.top_p = request.sampling.top_p;
  if (request.num_beams) g.num_beams = *request.num_beams;
  g.num_return_sequences = 1;  // n = 1: one choice per request
  g.validate();
  return g;
}

struct Seq2SeqScheduler::Row {
  Row(Waiting w, const Tokenizer& tokenizer, int max_position_embeddings)
      : job(std::move(w.job)),
        decoder(tokenizer, /*skip_special=*/true),  // as transformers' pipelines print outputs
        stops(job->request().stop),
        max_tokens(resolve_lengths(w.generation, 1, max_position_embeddings).max_length - 1),
        generation(std::move(w.generation)) {}
  std::shared_ptr<Job> job;
  StreamDecoder decoder;
  StopMatcher stops;
  int max_tokens;     // tokens this row may take, its eos included
  GenerationConfig generation;
  int taken = 0;      // tokens taken, eos included
  int generated = 0;  // completion_tokens: the eos is not counted
  bool done = false;
};

// One batch from its encoder pass to its last row.
class Seq2SeqScheduler::Batch {
 public:
  Batch(Seq2SeqScheduler& owner, std::vector<Waiting> waiting) : owner_(owner), metrics_(owner.metrics_) {
    const Seq2SeqModel& model = owner_.engine_.model();
    const int positions = model.config().max_position_embeddings;
    seed_ = waiting.front().seed;
    for (Waiting& w : waiting) rows_.emplace_back(std::move(w), owner_.engine_.tokenizer(), positions);
  }

  void run() {
    const Seq2SeqModel& model = owner_.engine_.model();
    ThreadPool& pool = owner_.engine_.pool();
    try {
      GenerationConfig g = rows_.front().generation;
      if (!g.is_beam() && g.forced_eos_token_id.empty()) {
        int longest = 0;
        for (const Row& row : rows_) longest = std::max(longest, row.max_tokens);
        g.max_new_tokens = longest;  // each row stops at its own limit (take())
      }
      eos_ = g.eos_token_id;
      std::vector<std::vector<int32_t>> sources;
      for (const Row& row : rows_) sources.push_back(row.job->request().prompt);
      Seq2SeqRequest request;
      request.generation = g;
      request.seed = seed_.value_or((static_cast<uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}());
      request.cache_type = owner_.options_.cache_type;
      // Paced, counted and watched between passes: beam search never calls on_token.
      request.before_pass = [this] { between_passes(); };
      const std::vector<SearchResult> results = generate_seq2seq(
          model, pool, sources, request, [this](int source, int, int32_t token) { return take(rows_[source], token); });
      for (size_t i = 0; i < rows_.size(); ++i) {
        Row& row = rows_[i];
        const GeneratedSequence& best = results[i].best();
        // Beam search's text exists only now; it goes through the same decoder and stop strings.
        if (g.is_beam()) {
          for (int32_t token : best.ids) {
            if (!take(row, token)) break;
          }
        }
        if (!row.done) finish(row, finish_reason_name(best.finish));
      }
    } catch (const Abandoned&) {
    } catch (const std::exception& e) {
      for (Row& row : rows_) fail(row, e.what());
    }
    metrics_.record_tokens(step_tokens_, std::chrono::steady_clock::now());
    for (Row& row : rows_) fail(row, "generation ended without a result");  // none is left: a safety net
  }

 private:
  // Called before every decoder pass; the pass is counted here, before any row it ends can
  // answer its client, with the tokens picked since the previous one.
  void between_passes() {
    if (owner_.options_.step_delay.count() > 0) std::this_thread::sleep_for(owner_.options_.step_delay);
    for (Row& row : rows_) {
      if (!row.done && row.job->cancelled()) cancel(row);
    }
    if (owner_.past_deadline()) {
      for (Row& row : rows_) fail(row, "the server is shutting down");
    }
    if (std::all_of(rows_.begin(), rows_.end(), [](const Row& row) { return row.done; })) throw Abandoned{};
    metrics_.record_step(step_tokens_, std::chrono::steady_clock::now());
    step_tokens_ = 0;
  }

  // A token the search picked for `row`; false ends the row.
  bool take(Row& row, int32_t token) {
    if (row.done) return false;
    if (row.job->cancelled()) {
      cancel(row);
      return false;
    }
    ++row.taken;
    if (std::find(eos_.begin(), eos_.end(), token) != eos_.end()) {
      finish(row, "stop");
      return false;
    }
    ++row.generated;
    ++step_tokens_;
    ++metrics_.generated_tokens;
    emit(row, row.decoder.push(token));
    if (row.stops.matched()) {
      finish(row, "stop");
      return false;
    }
    if (row.taken >= row.max_tokens) {
      finish(row, "length");
      return false;
    }
    return true;
  }

  void emit(Row& row, const std::string& text) {
    if (!text.empty()) row.job->push_text(row.stops.push(text));
  }

  void finish(Row& row, const std::string& reason) {
    if (row.done) return;
    if (!row.stops.matched()) {
      emit(row, row.decoder.flush());
      row.job->push_text(row.stops.flush());
    }
    JobResult result;
    result.finish_reason = row.stops.matched() ? "stop" : reason;
    result.prompt_tokens = static_cast<int>(row.job->request().prompt.size());
    result.completion_tokens = row.generated;
    end(row, std::move(result));
  }

  void cancel(Row& row) {
    if (row.done) return;
    ++metrics_.requests_cancelled;
    end(row, JobResult::failure("cancelled"));
  }

  void fail(Row& row, const std::string& message) {
    if (!row.done) end(row, JobResult::failure(message));
  }

  void end(Row& row, JobResult result) {
    row.done = true;
    --metrics_.active;  // first, so whoever sees the job end sees its slot free
    row.job->finish(std::move(result));
  }

  Seq2SeqScheduler& owner_;
  Metrics& metrics_;
  std::vector<Row> rows_;
  std::optional<uint64_t> seed_;
  std::vector<int32_t> eos_;
  int step_tokens_ = 0;  // picked since the last pass was counted
};

Seq2SeqScheduler::Seq2SeqScheduler(Seq2SeqEngine& engine, const Seq2SeqSchedulerOptions& options, Metrics& metrics)
    : engine_(engine), options_(options), metrics_(metrics) {
  if (options_.parallel < 1) throw Error("--parallel must be at least 1");
  if (options_.queue_limit < 0) throw Error("--queue must be >= 0");
  (void)engine_.model().make_cache(1, options_.cache_type);  // an unsupported --cache-type fails now, not per request
  (void)engine_.tokenizer();  // text in and out needs the folder's tokenizer: says which files are missing
  thread_ = std::thread([this] { loop(); });
}

Seq2SeqScheduler::~Seq2SeqScheduler() { shutdown(std::chrono::milliseconds(0)); }

std::shared_ptr<Job> Seq2SeqScheduler::submit(GenerationRequest request, Rejection& why) {
  why = Rejection::None;
  Waiting w;
  w.generation = seq2seq_generation(engine_.generation(), request, engine_.model().config().max_position_embeddings);
  if (request.sampling.seed != SamplingParams::kRandomSeed) w.seed = request.sampling.seed;
  std::lock_guard lock(mutex_);
  if (draining_) {
    why = Rejection::ShuttingDown;
    return nullptr;
  }
  const int busy = metrics_.active.load() + static_cast<int>(waiting_.size());
  if (busy >= options_.parallel + options_.queue_limit) {
    why = Rejection::QueueFull;
    return nullptr;
  }
  w.job = std::make_shared<Job>(std::move(request));
  std::shared_ptr<Job> job = w.job;
  waiting_.push_back(std::move(w));
  metrics_.queued = static_cast<int>(waiting_.size());
  cv_.notify_all();
  return job;
}

void Seq2SeqScheduler::shutdown(std::chrono::milliseconds grace) {
  {
    std::lock_guard lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    if (!draining_) {
      draining_ = true;
      deadline_ = now + grace;
    } else if (deadline_ && now + grace < *deadline_) {
      deadline_ = now + grace;
    }
    for (Waiting& w : waiting_) w.job->finish(JobResult::failure("the server is shutting down"));
    waiting_.clear();
    metrics_.queued = 0;
  }
  cv_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

bool Seq2SeqScheduler::past_deadline() {
  std::lock_guard lock(mutex_);
  return draining_ && deadline_ && std::chrono::steady_clock::now() >= *deadline_;
}

void Seq2SeqScheduler::loop() {
  for (;;) {
    std::vector<Waiting> batch;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [&] { return !waiting_.empty() || draining_; });
      if (draining_) return;  // shutdown() has ended the queued requests
      batch = take_batch();
    }
    if (!batch.empty()) Batch(*this, std::move(batch)).run();
  }
}

// Under mutex_: the oldest live request and the waiting ones that can share its batch.
std::vector<Seq2SeqScheduler::Waiting> Seq2SeqScheduler::take_batch() {
  std::vector<Waiting> batch;
  for (auto it = waiting_.begin(); it != waiting_.end() && static_cast<int>(batch.size()) < options_.parallel;) {
    if (it->job->cancelled()) {
      ++metrics_.requests_cancelled;
      it->job->finish(JobResult::failure("cancelled"));
      it = waiting_.erase(it);
    } else if (batch.empty() || batchable(batch.front().generation, batch.front().seed, it->generation, it->seed)) {
      batch.push_back(std::move(*it));
      it = waiting_.erase(it);
    } else {
      ++it;
    }
  }
  for (const Waiting& w : batch) metrics_.prompt_tokens += static_cast<int64_t>(w.job->request().prompt.size());
  metrics_.queued = static_cast<int>(waiting_.size());
  metrics_.active = static_cast<int>(batch.size());
  return batch;
}

}  // namespace smol::server
