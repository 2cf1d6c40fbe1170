// Why this file exists: smol pull builds cache paths (blobs/<hash>, snapshots/<commit>/<file>,
// refs/<revision>) out of names it does not choose, and removes what is at a path before it
// writes there. A mirror named by HF_ENDPOINT, or a repo's own index.json, is free to answer
// "../../.bashrc" or "/etc/x"; every such name is checked here, once, with the Hub's own rules,
// before it is joined to anything.
#include "hub/hub_names.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "smol/error.hpp"
#include "smol/hub.hpp"

namespace smol {

namespace fs = std::filesystem;

namespace {

bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

// One half of OWNER/NAME as the Hub allows it: letters, digits, '-', '_', '.', starting with a
// letter or digit, not ending in '-' or '.', at most 96 characters. No ".." (a path step) and
// no "--" (the cache folder models--OWNER--NAME would be ambiguous).
bool is_repo_id_part(std::string_view part) {
  if (part.empty() || part.size() > 96 || !is_alnum(part.front())) return false;
  if (part.back() == '-' || part.back() == '.') return false;
  if (part.find("..") != std::string_view::npos || part.find("--") != std::string_view::npos) return false;
  return std::all_of(part.begin(), part.end(), [](char c) { return is_alnum(c) || c == '-' || c == '_' || c == '.'; });
}

bool is_lower_hex(std::string_view text, size_t length) {
  return text.size() == length &&
         std::all_of(text.begin(), text.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool is_control(char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }

// Why a '/'-separated relative name is no plain path below its folder, or "" when it is.
std::string relative_name_problem(std::string_view name) {
  if (name.empty()) return "is empty";
  if (name.size() > 1024) return "is longer than 1024 bytes";
  if (name.front() == '/') return "is an absolute path";
  if (name.find('\\') != std::string_view::npos) return "has a backslash";
  if (std::any_of(name.begin(), name.end(), is_control)) return "has a control character";
  size_t start = 0;
  while (true) {
    const size_t end = std::min(name.find('/', start), name.size());
    const std::string_view part = name.substr(start, end - start);
    if (part.empty()) return "has an empty path component";
    if (part == "..") return "has a '..' component";
    if (part == ".") return "has a '.' component";
    if (part.size() > 255) return "has a component longer than 255 bytes";
    if (end == name.size()) return "";
    start = end + 1;
  }
}

// git check-ref-format's rules, which the Hub's branch and tag names follow.
std::string revision_problem(std::string_view rev) {
  if (rev.empty()) return "is empty";
  if (rev.size() > 255) return "is longer than 255 bytes";
  if (rev.front() == '/' || rev.back() == '/') return "starts or ends with '/'";
  if (rev.find("..") != std::string_view::npos) return "has '..'";
  if (rev.find("//") != std::string_view::npos) return "has an empty path component";
  if (rev.find('\\') != std::string_view::npos) return "has a backslash";
  if (std::any_of(rev.begin(), rev.end(), is_control)) return "has a control character";
  if (rev.find_first_of(" ~^:?*[") != std::string_view::npos) return "has a character git refuses in a ref name";
  if (rev.front() == '.' || rev.find("/.") != std::string_view::npos) return "has a component starting with '.'";
  if (rev.ends_with(".lock") || rev.ends_with(".")) return "ends with '.lock' or '.'";
  return "";
}

[[noreturn]] void refuse(std::string_view where, std::string_view what, std::string_view value, std::string_view why) {
  throw Error(fmt::format("{}: {} {} {}; refusing to use it in a cache path", where, what, hub::quoted(value), why));
}

}  // namespace

bool is_hub_repo_id(std::string_view text) {
  const size_t slash = text.find('/');
  return slash != std::string_view::npos && is_repo_id_part(text.substr(0, slash)) &&
         is_repo_id_part(text.substr(slash + 1));  // a second '/' fails the name's characters
}

namespace hub {

std::string quoted(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (is_control(c) || static_cast<unsigned char>(c) >= 0x80 || c == '\'' || c == '\\') {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    } else {
      out += c;
    }
  }
  return out + "'";
}

void check_repo_id(const std::string& repo, std::string_view where) {
  if (!is_hub_repo_id(repo)) {
    refuse(where, "repo id", repo, "is not OWNER/NAME (letters, digits, '-', '_', '.'; no '..' or '--')");
  }
}

void check_revision(const std::string& revision, std::string_view where) {
  if (const std::string why = revision_problem(revision); !why.empty()) refuse(where, "revision", revision, why);
}

void check_commit(const std::string& commit, std::string_view where) {
  if (!is_lower_hex(commit, 40)) refuse(where, "commit", commit, "is not 40 lowercase hex digits");
}

bool is_repo_file_name(const std::string& name) { return relative_name_problem(name).empty(); }

void check_repo_file_name(const std::string& name, std::string_view where) {
  if (const std::string why = relative_name_problem(name); !why.empty()) refuse(where, "file name", name, why);
}

void check_git_blob_id(const std::string& id, std::string_view where) {
  if (!is_lower_hex(id, 40)) refuse(where, "git blob id", id, "is not 40 lowercase hex digits");
}

void check_lfs_sha256(const std::string& sha, std::string_view where) {
  if (!is_lower_hex(sha, 64)) refuse(where, "LFS sha256", sha, "is not 64 lowercase hex digits");
}

fs::path inside_cache(const fs::path& root, const fs::path& path) {
  const fs::path base = fs::weakly_canonical(root);
  const fs::path resolved = fs::weakly_canonical(path.parent_path()) / path.filename();
  auto [b, r] = std::mismatch(base.begin(), base.end(), resolved.begin(), resolved.end());
  const bool below = b == base.end() && r != resolved.end() && !path.filename().empty() &&
                     path.filename() != "." && path.filename() != "..";
  if (!below) {
    throw Error(fmt::format("{} resolves to {}, outside the cache {}; refusing to write there",
                            hub::quoted(path.string()), hub::quoted(resolved.string()), hub::quoted(base.string())));
  }
  return resolved;
}

}  // namespace hub
}  // namespace smol
