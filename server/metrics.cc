#include "server/metrics.h"

#include <cstdio>

namespace runledger::server {

void Metrics::RecordRequest(std::string_view route, unsigned status, double seconds) {
  std::lock_guard lock(mutex_);
  Series& series = requests_[{std::string(route), status}];
  ++series.count;
  series.sum += seconds;
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) ++series.buckets[i];
  }
}

std::string Metrics::Render(const std::map<std::string, double>& gauges) const {
  std::string out;
  char line[512];
  out += "# TYPE runledger_http_requests_total counter\n";
  out += "# TYPE runledger_http_request_duration_seconds histogram\n";
  std::lock_guard lock(mutex_);
  for (const auto& [key, series] : requests_) {
    const auto& [route, status] = key;
    std::snprintf(line, sizeof line, "runledger_http_requests_total{route=\"%s\",status=\"%u\"} %llu\n",
                  route.c_str(), status, static_cast<unsigned long long>(series.count));
    out += line;
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      std::snprintf(line, sizeof line,
                    "runledger_http_request_duration_seconds_bucket{route=\"%s\",status=\"%u\",le=\"%g\"} %llu\n",
                    route.c_str(), status, kBuckets[i], static_cast<unsigned long long>(series.buckets[i]));
      out += line;
    }
    std::snprintf(line, sizeof line,
                  "runledger_http_request_duration_seconds_bucket{route=\"%s\",status=\"%u\",le=\"+Inf\"} %llu\n"
                  "runledger_http_request_duration_seconds_sum{route=\"%s\",status=\"%u\"} %g\n"
                  "runledger_http_request_duration_seconds_count{route=\"%s\",status=\"%u\"} %llu\n",
                  route.c_str(), status, static_cast<unsigned long long>(series.count), route.c_str(),
                  status, series.sum, route.c_str(), status,
                  static_cast<unsigned long long>(series.count));
    out += line;
  }
  out += "# TYPE runledger_appended_events_total counter\n";
  out += "runledger_appended_events_total " + std::to_string(appends_.load()) + "\n";
  for (const auto& [name, value] : gauges) {
    std::snprintf(line, sizeof line, "# TYPE %s gauge\n%s %g\n", name.c_str(), name.c_str(), value);
    out += line;
  }
  return out;
}

}  // namespace runledger::server
