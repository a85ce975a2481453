#include "server/ndjson.h"

namespace runledger::server {

std::vector<NdjsonLine> SplitNdjsonLines(std::string_view body) {
  std::vector<NdjsonLine> lines;
  std::size_t number = 0;
  for (std::size_t start = 0; start < body.size();) {
    std::size_t end = body.find('\n', start);
    if (end == std::string_view::npos) end = body.size();
    std::string_view text = body.substr(start, end - start);
    start = end + 1;
    ++number;
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (text.find_first_not_of(" \t") == std::string_view::npos) continue;
    lines.push_back({number, text});
  }
  return lines;
}

}  // namespace runledger::server
