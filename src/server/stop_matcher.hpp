#pragma once
// Stop strings on streamed text (OpenAI's `stop`): text is released only once it can no
// longer be the start of a stop string, so a client never sees part of one.
#include <string>
#include <string_view>
#include <vector>

namespace smol::server {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops);

  // Appends `text`; returns what can be released now. After a match, returns the text before
  // the earliest stop string and matched() turns true; later calls return nothing.
  std::string push(std::string_view text);
  // The end of generation: whatever was held back.
  std::string flush();
  bool matched() const { return matched_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool matched_ = false;
};

}  // namespace smol::server
