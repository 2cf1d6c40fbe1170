#include "server/job.hpp"

namespace smol::server {

void Job::push_text(const std::string& text) {
  if (text.empty()) return;
  {
    std::lock_guard lock(mutex_);
    text_ += text;
  }
  cv_.notify_all();
}

void Job::finish(JobResult result) {
  {
    std::lock_guard lock(mutex_);
    if (finished_) return;
    finished_ = true;
    result_ = std::move(result);
  }
  cv_.notify_all();
}

JobEvent Job::next(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  JobEvent event;
  if (!cv_.wait_for(lock, timeout, [&] { return finished_ || !text_.empty(); })) {
    event.timed_out = true;
    return event;
  }
  event.text.swap(text_);
  event.finished = finished_;
  if (finished_) event.result = result_;
  return event;
}

JobEvent Job::wait() {
  std::unique_lock lock(mutex_);
  cv_.wait(lock, [&] { return finished_; });
  JobEvent event;
  event.text.swap(text_);
  event.finished = true;
  event.result = result_;
  return event;
}

void Job::cancel() {
  cancelled_.store(true, std::memory_order_relaxed);
  cv_.notify_all();
}

}  // namespace smol::server
