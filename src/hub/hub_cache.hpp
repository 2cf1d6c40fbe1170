#pragma once
// The on-disk side of the Hub cache: paths, refs, and which snapshot is complete.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "smol/hub.hpp"

namespace smol::hub {

// "main" → the commit in refs/main; a 40-hex commit → itself; nullopt when unknown.
std::optional<std::string> cached_commit(const std::filesystem::path& repo_dir, const std::string& revision);
void write_ref(const std::filesystem::path& repo_dir, const std::string& revision, const std::string& commit);

// Links snapshots/<commit>/<file> to blobs/<blob> (relative, as huggingface_hub does),
// replacing an older link.
void link_snapshot_file(const std::filesystem::path& repo_dir, const std::string& commit, const std::string& file,
                        const std::string& blob);

// A folder Model::load and the tokenizer can use: config.json, tokenizer.json and the weights
// (model.safetensors, or an index and every shard it names) all resolve to files.
bool is_complete_model_dir(const std::filesystem::path& dir);

bool is_commit_hash(const std::string& revision);

}  // namespace smol::hub
