#pragma once
// The special tokens a tokenizer.json post_processor puts around one sequence when special
// tokens are added (TemplateProcessing's "single", RobertaProcessing, BertProcessing).
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace smol {

struct SequenceWrap {
  std::vector<int32_t> prefix, suffix;
};

// Throws smol::Error (prefixed with `name`) for a post-processor whose effect is not reproduced.
SequenceWrap parse_post_processor(const nlohmann::json& j, const std::string& name);

}  // namespace smol
