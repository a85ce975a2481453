#pragma once

// Files of server/web/ embedded at build time (cmake/embed_assets.cmake).

#include <string_view>

namespace runledger::server {

struct WebAsset {
  std::string_view path;          // "/index.html"
  std::string_view content_type;
  std::string_view body;
};

// nullptr when no embedded file has this path.
const WebAsset* FindWebAsset(std::string_view path);

}  // namespace runledger::server
