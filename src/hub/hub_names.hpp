#pragma once
// Checks on every name smol pull joins into a cache path. They come from outside: the user
// (repo id, --revision), the Hub's answers (commit, file names, blob hashes) and the repo's
// own files (the shard names of an index). HF_ENDPOINT may point at any mirror, so none of
// them is trusted: a "../" or an absolute path would make a cache write (or the removal
// before it) land anywhere the user can write.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace smol::hub {

// Each check throws smol::Error naming the value and `where` it came from (e.g. "--revision",
// "the Hub's file list of OWNER/NAME").
void check_repo_id(const std::string& repo, std::string_view where);
// A branch or tag (git's ref name rules, '/' allowed as in refs/pr/1) or a 40-hex commit.
void check_revision(const std::string& revision, std::string_view where);
// The commit a revision resolves to: 40 lowercase hex digits.
void check_commit(const std::string& commit, std::string_view where);
// A file of the repo: relative, '/'-separated, every component a real name.
void check_repo_file_name(const std::string& name, std::string_view where);
bool is_repo_file_name(const std::string& name);
void check_git_blob_id(const std::string& id, std::string_view where);  // 40 lowercase hex
void check_lfs_sha256(const std::string& sha, std::string_view where);  // 64 lowercase hex

// `path` with its folder resolved (links followed; the last component is left as it is, since
// it may be a link about to be replaced); throws unless that lies strictly inside `root`.
std::filesystem::path inside_cache(const std::filesystem::path& root, const std::filesystem::path& path);

// `text` quoted and with control and non-ASCII bytes as \xNN, so an error naming a hostile
// value stays one line and sends no escape codes to the terminal.
std::string quoted(std::string_view text);

}  // namespace smol::hub
