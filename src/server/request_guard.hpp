#pragma once
// What a request must pass before a handler sees it: the API key, compared in constant time,
// and the browser origin it comes from (CORS is off unless `--cors ORIGIN`).
#include <string_view>

namespace smol::server {

// Whether `given` equals `expected`, in a time that depends only on their lengths, not on
// where the first wrong byte is: the key cannot be guessed byte by byte from response times.
bool constant_time_equal(std::string_view given, std::string_view expected);

// An origin as browsers send it ("scheme://host[:port]", no path), or "*": what --cors takes.
bool is_cors_origin(std::string_view origin);

// Whether a request with this Origin header may be served. No Origin: not a browser (curl,
// SDKs), or a same-origin GET. The server's own origin (http://<Host header>): the built-in
// web page. Anything else only when it is the --cors origin (or --cors is "*"), so a page on
// another site cannot drive the local server, not even with "simple" requests that skip the
// preflight.
bool origin_allowed(std::string_view origin, std::string_view host_header, std::string_view cors);

}  // namespace smol::server
