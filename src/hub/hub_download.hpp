#pragma once
// HTTP transfers for the Hub with libcurl: small JSON answers, and files written to disk
// with resume (Range) and retries.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "smol/hub.hpp"

namespace smol::hub {

struct HttpAnswer {
  long status = 0;
  std::string body;
};

// GET into memory (follows redirects). Throws smol::Error when no answer came, or one beyond
// the limits (too many redirects, too large, too slow).
HttpAnswer http_get(const std::string& url, const std::string& token, const HubTransferLimits& limits);

using ProgressFn = std::function<void(int64_t done, int64_t total)>;

// Downloads `url` into `partial`, appending from its current size with a Range request when
// it already holds some bytes (a previous interrupted run), and resuming the same way after a
// dropped or stalled connection (limits.tries). `expected_size` (-1: unknown) bounds what may
// be written. Returns the bytes the server sent in this call. Throws smol::Error on HTTP
// errors, a redirect loop, and a body longer than `expected_size`.
int64_t download_to(const std::string& url, const std::string& token, const std::filesystem::path& partial,
                    int64_t expected_size, const HubTransferLimits& limits, const ProgressFn& progress,
                    const std::function<void(const std::string&)>& note);

// Hex digests of a file's bytes: sha256, and git's blob id (sha1 of "blob <size>\0" + bytes),
// which is how the Hub names files not stored with LFS.
std::string sha256_file(const std::filesystem::path& path);
std::string git_blob_sha1_file(const std::filesystem::path& path);

}  // namespace smol::hub
