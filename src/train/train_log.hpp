#pragma once
// The run's record beside the checkpoint: one JSON object per line (train steps and
// evaluations), and the loss curve drawn from it as an SVG image.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <vector>

#include <nlohmann/json.hpp>

namespace smol {

class TrainLog {
 public:
  // Opens `file`. When resuming at `resume_step` > 0, the records up to that step are kept
  // (a crash after the last checkpoint may have logged steps that will now run again);
  // otherwise the log starts empty.
  TrainLog(const std::filesystem::path& file, int64_t resume_step);
  void append(const nlohmann::json& record);  // written and flushed at once
  const std::vector<nlohmann::json>& records() const { return records_; }

 private:
  std::filesystem::path file_;
  std::ofstream out_;
  std::vector<nlohmann::json> records_;
};

// Training loss (records with "type": "train") and validation loss ("type": "eval") against
// the step, written atomically.
void write_loss_svg(const std::filesystem::path& file, const std::vector<nlohmann::json>& records);

}  // namespace smol
