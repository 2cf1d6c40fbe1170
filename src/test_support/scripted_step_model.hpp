#pragma once
// A StepModel for search tests: each row's logits are a deterministic function of the row's
// whole sequence (prefix + tokens so far), so expected outputs can be derived by hand or by
// enumeration. Records how many rows each call saw, to check that finished sources leave.
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <stdexcept>
#include <vector>

#include "smol/search.hpp"

namespace smol::testing {

class ScriptedStepModel : public StepModel {
 public:
  using LogitsFn = std::function<std::vector<float>(const std::vector<int32_t>& row)>;

  ScriptedStepModel(int vocab, LogitsFn fn, int max_positions = 0)
      : vocab_(vocab), fn_(std::move(fn)), max_positions_(max_positions) {}

  int vocab_size() const override { return vocab_; }
  int max_position_embeddings() const override { return max_positions_; }

  std::span<const float> start(std::span<const std::vector<int32_t>> prefixes) override {
    rows_.assign(prefixes.begin(), prefixes.end());
    rows_per_call.push_back(static_cast<int>(rows_.size()));
    return compute();
  }
  void reorder(std::span<const int> parents) override {
    std::vector<std::vector<int32_t>> next;
    for (int p : parents) {
      if (p < 0 || p >= static_cast<int>(rows_.size())) throw std::out_of_range("reorder: no such row");
      next.push_back(rows_[p]);
    }
    rows_ = std::move(next);
  }
  std::span<const float> step(std::span<const int32_t> tokens) override {
    if (tokens.size() != rows_.size()) throw std::logic_error("step: one token per row");
    for (size_t i = 0; i < tokens.size(); ++i) rows_[i].push_back(tokens[i]);
    rows_per_call.push_back(static_cast<int>(rows_.size()));
    return compute();
  }

  const std::vector<std::vector<int32_t>>& rows() const { return rows_; }
  std::vector<int> rows_per_call;  // start() then every step()

 private:
  std::span<const float> compute() {
    logits_.clear();
    for (const auto& row : rows_) {
      std::vector<float> l = fn_(row);
      if (static_cast<int>(l.size()) != vocab_) throw std::logic_error("logits function returned the wrong size");
      logits_.insert(logits_.end(), l.begin(), l.end());
    }
    return logits_;
  }

  int vocab_;
  LogitsFn fn_;
  int max_positions_;
  std::vector<std::vector<int32_t>> rows_;
  std::vector<float> logits_;
};

// Pseudo-random logits in [-scale, scale] from a hash of the row and the token.
inline ScriptedStepModel::LogitsFn hashed_logits(int vocab, uint64_t salt, float scale = 3.0f) {
  return [vocab, salt, scale](const std::vector<int32_t>& row) {
    uint64_t h = 1469598103934665603ull ^ salt;
    for (int32_t t : row) h = (h ^ static_cast<uint64_t>(t + 1)) * 1099511628211ull;
    std::vector<float> out(vocab);
    for (int v = 0; v < vocab; ++v) {
      uint64_t x = (h ^ (0x9E3779B97F4A7C15ull * (v + 1))) * 0xBF58476D1CE4E5B9ull;
      x ^= x >> 31;
      out[v] = scale * (static_cast<float>(x >> 40) / static_cast<float>(1ull << 24) * 2.0f - 1.0f);
    }
    return out;
  };
}

// Logits log(p) from a table of distributions keyed by the whole row; rows not in the table
// get `fallback`. Unlisted tokens of a distribution get a very low logit.
inline ScriptedStepModel::LogitsFn table_logits(int vocab, std::map<std::vector<int32_t>, std::map<int32_t, double>> table,
                                                std::map<int32_t, double> fallback) {
  return [vocab, table = std::move(table), fallback = std::move(fallback)](const std::vector<int32_t>& row) {
    const auto it = table.find(row);
    const std::map<int32_t, double>& probs = it == table.end() ? fallback : it->second;
    std::vector<float> out(vocab, -1.0e4f);
    for (const auto& [token, p] : probs) out[token] = static_cast<float>(std::log(p));
    return out;
  };
}

}  // namespace smol::testing
