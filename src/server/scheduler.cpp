#include "server/scheduler.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "server/stop_matcher.hpp"
#include "smol/error.hpp"
#include "smol/generate.hpp"

namespace smol::server {

struct Scheduler::Sequence {
  Sequence(std::shared_ptr<Job> job_, int slot_, KvCache& kv_, const Engine& engine)
      : job(std::move(job_)),
        slot(slot_),
        kv(kv_),
        sampler(job->request().sampling),
        decoder(engine.tokenizer()),
        stops(job->request().stop),
        history(job->request().prompt) {
    const std::vector<int>& eos = engine.model().config().eos_token_ids;
    constraint = make_output_constraint(engine, job->request().grammar, job->request().span_of,
                                        std::vector<int32_t>(eos.begin(), eos.end()));
  }

  const std::vector<int32_t>& prompt() const { return job->request().prompt; }
  bool prefilling() const { return prefilled < static_cast<int>(prompt().size()); }

  std::shared_ptr<Job> job;
  int slot;
  KvCache& kv;
  Sampler sampler;
  StreamDecoder decoder;
  StopMatcher stops;
  std::unique_ptr<SequenceConstraint> constraint;  // the request's response_format / grammar / span
  std::vector<int32_t> history;  // prompt + generated, for the penalties
  int prefilled = 0;
  int generated = 0;
  int32_t next_input = -1;  // the last sampled token, fed at the next step
  bool done = false;
};

Scheduler::Scheduler(Engine& engine, const SchedulerOptions& options, Metrics& metrics)
    : engine_(engine), options_(options), metrics_(metrics) {
  const ModelConfig& config = engine.model().config();
  if (options_.parallel < 1) throw Error("--parallel must be at least 1");
  if (options_.context < 2) throw Error("--ctx must be at least 2");
  if (options_.context > config.max_position_embeddings) {
    throw Error(fmt::format("--ctx {} exceeds the model's max_position_embeddings of {}", options_.context,
                            config.max_position_embeddings));
  }
  KvCache::bytes_per_token(config, options_.cache_type);  // the slots' caches are made later: check the type now
  // Every active sequence needs its decode token in each step.
  options_.batch_tokens = std::max(options_.batch_tokens, options_.parallel);
  caches_.resize(options_.parallel);  // allocated on first use: an idle slot costs nothing
  for (int s = options_.parallel - 1; s >= 0; --s) free_slots_.push_back(s);
  buffers_ = std::make_unique<ForwardBuffers>(config, options_.batch_tokens, engine.pool().size(), options_.context);
  thread_ = std::thread([this] { loop(); });
}

Scheduler::~Scheduler() { shutdown(std::chrono::milliseconds(0)); }

std::shared_ptr<Job> Scheduler::submit(GenerationRequest request, Rejection& why) {
  std::lock_guard lock(mutex_);
  why = Rejection::None;
  if (draining_) {
    why = Rejection::ShuttingDown;
    return nullptr;
  }
  // Free slots are counted by the scheduler thread; what the queue may hold beyond them is
  // the limit, so a burst of `parallel` requests never waits for admission to refuse.
  const int busy = metrics_.active.load() + static_cast<int>(waiting_.size());
  if (busy >= options_.parallel + options_.queue_limit) {
    why = Rejection::QueueFull;
    return nullptr;
  }
  auto job = std::make_shared<Job>(std::move(request));
  waiting_.push_back(job);
  metrics_.queued = static_cast<int>(waiting_.size());
  cv_.notify_all();
  return job;
}

void Scheduler::shutdown(std::chrono::milliseconds grace) {
  {
    std::lock_guard lock(mutex_);
    if (!draining_) {
      draining_ = true;
      deadline_ = std::chrono::steady_clock::now() + grace;
    } else if (deadline_ && std::chrono::steady_clock::now() + grace < *deadline_) {
      deadline_ = std::chrono::steady_clock::now() + grace;
    }
    for (auto& job : waiting_) job->finish(JobResult::failure("the server is shutting down"));
    waiting_.clear();
    metrics_.queued = 0;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Scheduler::loop() {
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [&] { return !active_.empty() || !waiting_.empty() || draining_; });
      if (draining_ && active_.empty()) return;
      admit(lock);
      if (draining_ && deadline_ && std::chrono::steady_clock::now() >= *deadline_) {
        lock.unlock();
        fail_active("the server is shutting down");
        continue;
      }
    }
    for (auto& seq : active_) {
      if (!seq->done && seq->job->cancelled()) {
        seq->done = true;
        ++metrics_.requests_cancelled;
        seq->job->finish(JobResult::failure("cancelled"));
      }
    }
    release_finished();
    if (active_.empty()) continue;
    try {
      step();
    } catch (const std::exception& e) {
      fail_active(e.what());
    }
    release_finished();
    if (options_.step_delay.count() > 0) std::this_thread::sleep_for(options_.step_delay);
  }
}

void Scheduler::admit(std::unique_lock<std::mutex>&) {
  const ModelConfig& config = engine_.model().config();
  while (!free_slots_.empty() && !waiting_.empty()) {
    std::shared_ptr<Job> job = std::move(waiting_.front());
    waiting_.pop_front();
    if (job->cancelled()) {
      ++metrics_.requests_cancelled;
      job->finish(JobResult::failure("cancelled"));
      continue;
    }
    const auto& prompt = job->request().prompt;
    if (prompt.empty() || static_cast<int>(prompt.size()) >= options_.context) {
      job->finish(JobResult::failure("the prompt does not fit the context"));
      continue;
    }
    const int slot = free_slots_.back();
    free_slots_.pop_back();
    if (!caches_[slot]) caches_[slot] = std::make_unique<KvCache>(config, options_.context, options_.cache_type);
    caches_[slot]->clear();
    try {
      active_.push_back(std::make_unique<Sequence>(job, slot, *caches_[slot], engine_));
    } catch (const std::exception& e) {  // e.g. sampling parameters the Sampler refuses
      free_slots_.push_back(slot);
      job->finish(JobResult::failure(e.what()));
      continue;
    }
    metrics_.prompt_tokens += static_cast<int64_t>(prompt.size());
  }
  metrics_.queued = static_cast<int>(waiting_.size());
  metrics_.active = static_cast<int>(active_.size());
}

void Scheduler::step() {
  const Model& model = engine_.model();
  const int vocab = model.config().vocab_size;
  std::vector<int32_t> tokens;
  std::vector<TokenSlot> slots;
  std::vector<int> rows;
  std::vector<Sequence*> owners;  // the sequence of each logits row
  int budget = options_.batch_tokens;

  for (auto& seq : active_) {
    if (seq->prefilling()) continue;
    rows.push_back(static_cast<int>(tokens.size()));
    owners.push_back(seq.get());
    tokens.push_back(seq->next_input);
    slots.push_back({&seq->kv, seq->kv.size()});
    --budget;
  }
  // Prompts in arrival order, so an early long prompt is not starved by later short ones.
  for (auto& seq : active_) {
    if (!seq->prefilling() || budget <= 0) continue;
    const int remaining = static_cast<int>(seq->prompt().size()) - seq->prefilled;
    const int n = std::min(budget, remaining);
    for (int i = 0; i < n; ++i) {
      tokens.push_back(seq->prompt()[seq->prefilled + i]);
      slots.push_back({&seq->kv, seq->kv.size() + i});
    }
    seq->prefilled += n;
    budget -= n;
    if (!seq->prefilling()) {
      rows.push_back(static_cast<int>(tokens.size()) - 1);
      owners.push_back(seq.get());
    }
  }
  if (tokens.empty()) return;

  model.forward_batch(tokens, slots, rows, *buffers_, engine_.pool());

  const std::vector<int>& eos = model.config().eos_token_ids;
  int generated = 0;
  for (size_t r = 0; r < owners.size(); ++r) {
    Sequence& seq = *owners[r];
    std::span<float> logits(buffers_->logits.data() + r * static_cast<size_t>(vocab), vocab);
    if (seq.constraint) {
      if (seq.constraint->finished()) {  // only an end token could follow
        finish(seq, "stop");
        continue;
      }
      // Samples left, this one included: the sequence ends at max_tokens or a full cache.
      seq.constraint->set_remaining(std::min<int64_t>(seq.job->request().max_tokens - seq.generated,
                                                   static_cast<int64_t>(seq.kv.capacity()) - seq.kv.size() + 1));
    }
    const int32_t token = seq.sampler.sample(logits, seq.history, seq.constraint.get());
    if (std::find(eos.begin(), eos.end(), token) != eos.end()) {
      finish(seq, "stop");
      continue;
    }
    if (seq.constraint) seq.constraint->accept(token);
    ++generated;
    ++seq.generated;
    ++metrics_.generated_tokens;
    seq.history.push_back(token);
    emit(seq, seq.decoder.push(token));
    if (seq.stops.matched() || (seq.constraint && seq.constraint->finished())) {  // finished: only an end token could follow
      finish(seq, "stop");
    } else if (seq.generated >= seq.job->request().max_tokens || seq.kv.size() >= seq.kv.capacity()) {
      finish(seq, "length");
    } else {
      seq.next_input = token;
    }
  }
  metrics_.record_step(generated, std::chrono::steady_clock::now());
}

void Scheduler::emit(Sequence& seq, const std::string& text) {
  if (text.empty()) return;
  seq.job->push_text(seq.stops.push(text));
}

void Scheduler::finish(Sequence& seq, const std::string& reason) {
  if (!seq.stops.matched()) {
    emit(seq, seq.decoder.flush());
    seq.job->push_text(seq.stops.flush());
  }
  seq.done = true;
  JobResult result;
  result.finish_reason = seq.stops.matched() ? "stop" : reason;
  result.prompt_tokens = static_cast<int>(seq.prompt().size());
  result.completion_tokens = seq.generated;
  result.completion_ids.assign(seq.history.end() - seq.generated, seq.history.end());
  seq.job->finish(std::move(result));
}

void Scheduler::fail_active(const std::string& message) {
  for (auto& seq : active_) {
    if (seq->done) continue;
    seq->done = true;
    seq->job->finish(JobResult::failure(message));
  }
  release_finished();
}

void Scheduler::release_finished() {
  std::lock_guard lock(mutex_);
  for (auto& seq : active_) {
    if (seq->done) free_slots_.push_back(seq->slot);
  }
  std::erase_if(active_, [](const auto& seq) { return seq->done; });
  metrics_.active = static_cast<int>(active_.size());
}

}  // namespace smol::server
