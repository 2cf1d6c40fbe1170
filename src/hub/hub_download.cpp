#include "hub/hub_download.hpp"

#include <curl/curl.h>
#include <unistd.h>
#include <openssl/evp.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <memory>

#include <fmt/format.h>

#include "smol/atomic_file.hpp"
#include "smol/error.hpp"

namespace smol::hub {

namespace fs = std::filesystem;

namespace {

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using CurlHandle = std::unique_ptr<CURL, CurlDeleter>;
using Headers = std::unique_ptr<curl_slist, SlistDeleter>;

CurlHandle new_handle(const std::string& url, const std::string& token, const HubTransferLimits& limits,
                      Headers& headers) {
  CurlHandle curl(curl_easy_init());
  if (!curl) throw Error("cannot start libcurl");
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_MAXREDIRS, limits.max_redirects);
  // A redirect may lead to another host (the CDN), never to file:// or another protocol.
  curl_easy_setopt(curl.get(), CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl.get(), CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl.get(), CURLOPT_USERAGENT, "smol/0.1");
  curl_easy_setopt(curl.get(), CURLOPT_CONNECTTIMEOUT, 30L);
  // A stalled or dripping transfer is dropped (and resumed), not waited on forever.
  curl_easy_setopt(curl.get(), CURLOPT_LOW_SPEED_LIMIT, limits.low_speed_bytes_per_s);
  curl_easy_setopt(curl.get(), CURLOPT_LOW_SPEED_TIME, limits.low_speed_seconds);
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  // Only to the Hub's host: libcurl drops custom Authorization headers on redirects to
  // other hosts (the CDN's signed URLs need none).
  if (!token.empty()) headers.reset(curl_slist_append(headers.release(), ("Authorization: Bearer " + token).c_str()));
  if (headers) curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers.get());
  return curl;
}

std::string http_error(const std::string& url, long status) {
  switch (status) {
    case 401:
    case 403: return fmt::format("{}: HTTP {} (a gated or private repo: set HF_TOKEN)", url, status);
    case 404: return fmt::format("{}: HTTP 404 (no such repo, revision or file)", url);
    default: return fmt::format("{}: HTTP {}", url, status);
  }
}

// libcurl's failures in words a user can act on; the limits name the numbers involved.
std::string transfer_error(const std::string& url, CURLcode rc, const HubTransferLimits& limits, bool whole_timeout) {
  switch (rc) {
    case CURLE_TOO_MANY_REDIRECTS:
      return fmt::format("{}: more than {} redirects (a redirect loop?)", url, limits.max_redirects);
    case CURLE_OPERATION_TIMEDOUT:
      return fmt::format("{}: timed out (under {} bytes/s for {} s{})", url, limits.low_speed_bytes_per_s,
                         limits.low_speed_seconds,
                         whole_timeout ? fmt::format(", or over {} s in all", limits.answer_seconds) : "");
    default: return fmt::format("{}: {}", url, curl_easy_strerror(rc));
  }
}

struct FileSink {
  std::FILE* file = nullptr;
  long status = 0;  // of the final response, checked on its first body bytes
  CURL* curl = nullptr;
  bool restart = false;  // the server ignored Range: start the file over
  int64_t written = 0;
  int64_t limit = -1;       // bytes this response may add
  int64_t full_size = -1;   // the whole file, for a response that starts over
  bool failed = false;
  int write_errno = 0;  // the disk refused the bytes (ENOSPC, EFBIG, EIO)
};

size_t write_file(char* data, size_t size, size_t n, void* user) {
  auto& sink = *static_cast<FileSink*>(user);
  const size_t bytes = size * n;
  if (sink.status == 0) {
    curl_easy_getinfo(sink.curl, CURLINFO_RESPONSE_CODE, &sink.status);
    if (sink.status == 200 && sink.restart) {
      if (std::fflush(sink.file) != 0 || ftruncate(fileno(sink.file), 0) != 0) {
        sink.write_errno = errno ? errno : EIO;
        return 0;
      }
      std::fseek(sink.file, 0, SEEK_SET);
      sink.limit = sink.full_size;
    }
    if (sink.status != 200 && sink.status != 206) return 0;  // an error page is not the file
  }
  if (sink.limit >= 0 && sink.written + static_cast<int64_t>(bytes) > sink.limit) {
    sink.failed = true;  // more than the file's size: the server is not sending this file
    return 0;
  }
  if (std::fwrite(data, 1, bytes, sink.file) != bytes) {
    sink.write_errno = errno ? errno : EIO;
    return 0;
  }
  sink.written += static_cast<int64_t>(bytes);
  return bytes;
}

struct ProgressState {
  const ProgressFn* fn;
  int64_t offset;
  int64_t total;
};

int on_progress(void* user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t, curl_off_t) {
  auto& p = *static_cast<ProgressState*>(user);
  if (*p.fn) (*p.fn)(p.offset + dlnow, p.total >= 0 ? p.total : (dltotal > 0 ? p.offset + dltotal : 0));
  return 0;
}

template <class Update>
std::string digest_file(const fs::path& path, const EVP_MD* md, Update&& prefix) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1) throw Error("cannot start a digest (libcrypto)");
  prefix(ctx.get());
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path.string() + ": cannot open");
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (in.gcount() > 0) EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(in.gcount()));
  }
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), out, &len);
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) hex += fmt::format("{:02x}", out[i]);
  return hex;
}

}  // namespace

HttpAnswer http_get(const std::string& url, const std::string& token, const HubTransferLimits& limits) {
  Headers headers;
  CurlHandle curl = new_handle(url, token, limits, headers);
  struct Sink {
    std::string body;
    int64_t limit = 0;
    bool too_large = false;
  } sink;
  sink.limit = limits.max_answer_bytes;
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, +[](char* d, size_t s, size_t n, void* u) -> size_t {
    auto& sink = *static_cast<Sink*>(u);
    if (static_cast<int64_t>(sink.body.size() + s * n) > sink.limit) {
      sink.too_large = true;
      return 0;
    }
    sink.body.append(d, s * n);
    return s * n;
  });
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT, limits.answer_seconds);
  const CURLcode rc = curl_easy_perform(curl.get());
  if (sink.too_large) {
    throw Error(fmt::format("{}: the answer is larger than {} bytes; not a Hub file list", url, limits.max_answer_bytes));
  }
  if (rc != CURLE_OK) throw Error(transfer_error(url, rc, limits, true));
  HttpAnswer answer;
  answer.body = std::move(sink.body);
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &answer.status);
  return answer;
}

int64_t download_to(const std::string& url, const std::string& token, const fs::path& partial, int64_t expected_size,
                    const HubTransferLimits& limits, const ProgressFn& progress,
                    const std::function<void(const std::string&)>& note) {
  const int tries = std::max(1, limits.tries);
  int64_t received = 0;
  for (int attempt = 1;; ++attempt) {
    std::error_code ec;
    const int64_t have = fs::exists(partial) ? static_cast<int64_t>(fs::file_size(partial, ec)) : 0;
    if (expected_size >= 0 && have == expected_size) return received;
    if (expected_size >= 0 && have > expected_size) fs::remove(partial, ec);
    const int64_t offset = fs::exists(partial) ? have : 0;
    if (offset > 0 && note) note(fmt::format("resuming at byte {}", offset));

    std::FILE* file = std::fopen(partial.c_str(), offset > 0 ? "ab" : "wb");
    if (!file) throw Error(partial.string() + ": cannot write");
    Headers headers;
    CurlHandle curl = new_handle(url, token, limits, headers);
    FileSink sink{.file = file, .curl = curl.get(), .restart = offset > 0,
                  .limit = expected_size >= 0 ? expected_size - offset : -1, .full_size = expected_size};
    ProgressState state{&progress, offset, expected_size};
    if (offset > 0) curl_easy_setopt(curl.get(), CURLOPT_RANGE, fmt::format("{}-", offset).c_str());
    curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, write_file);
    curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(curl.get(), CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl.get(), CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(curl.get(), CURLOPT_XFERINFODATA, &state);
    const CURLcode rc = curl_easy_perform(curl.get());
    errno = 0;
    const bool closed = std::fclose(file) == 0;  // flushes the last buffered bytes
    if (!closed && sink.write_errno == 0) sink.write_errno = errno ? errno : EIO;
    received += sink.written;
    long status = sink.status;
    if (status == 0) curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);

    // A redirect loop stays one on the next try (its last answer is a 3xx, not an HTTP error).
    if (rc == CURLE_TOO_MANY_REDIRECTS) throw Error(transfer_error(url, rc, limits, false));
    if (status == 416 && offset > 0) {  // nothing left past our bytes, or they are not this file
      fs::remove(partial, ec);
      continue;
    }
    if (status != 0 && status != 200 && status != 206) throw Error(http_error(url, status));
    if (sink.failed) {
      fs::remove(partial, ec);
      throw Error(fmt::format("{}: the server sent more than the expected {} bytes", url, expected_size));
    }
    // A disk that refuses the bytes stays full on the next try: no retry. The partial file
    // keeps what was written, so a later pull resumes from there.
    if (sink.write_errno != 0) throw_io_error(partial, "cannot write the download", sink.write_errno);
    if (rc == CURLE_OK) return received;
    // A dropped connection keeps what arrived; the next try asks for the rest.
    if (attempt == tries) throw Error(fmt::format("{} (after {} tries)", transfer_error(url, rc, limits, false), tries));
    if (note) note(fmt::format("transfer interrupted ({}), retrying", curl_easy_strerror(rc)));
  }
}

std::string sha256_file(const fs::path& path) {
  return digest_file(path, EVP_sha256(), [](EVP_MD_CTX*) {});
}

std::string git_blob_sha1_file(const fs::path& path) {
  const std::string header = fmt::format("blob {}", fs::file_size(path)) + std::string(1, '\0');
  return digest_file(path, EVP_sha1(), [&](EVP_MD_CTX* ctx) { EVP_DigestUpdate(ctx, header.data(), header.size()); });
}

}  // namespace smol::hub
