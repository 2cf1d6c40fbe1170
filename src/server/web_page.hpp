#pragma once
// The chat page served at /: one self-contained HTML document (no CDN, no build step).
#include <string_view>

namespace smol::server {

std::string_view web_page_html();

}  // namespace smol::server
