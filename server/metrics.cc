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
  for (const auto& [name, value] : gauges) {
    std::snprintf(line, sizeof line, "# TYPE %s gauge\n%s %g\n", name.c_str(), name.c_str(), value);
    out += line;
  }
  return out;
}

std::string RenderCommitStats(const ledger::CommitStats& stats) {
  // Every committed event, whoever's request it was and whether or not its
  // client was still there for the answer.
  std::string out = "# TYPE runledger_appended_events_total counter\n";
  out += "runledger_appended_events_total " + std::to_string(stats.events) + "\n";
  out += "# TYPE runledger_group_commit_events histogram\n";
  char line[256];
  using ledger::CommitStats;
  for (size_t i = 0; i < std::size(CommitStats::kBatchBuckets); ++i) {
    std::snprintf(line, sizeof line, "runledger_group_commit_events_bucket{le=\"%llu\"} %llu\n",
                  static_cast<unsigned long long>(CommitStats::kBatchBuckets[i]),
                  static_cast<unsigned long long>(stats.batch_le[i]));
    out += line;
  }
  std::snprintf(line, sizeof line,
                "runledger_group_commit_events_bucket{le=\"+Inf\"} %llu\n"
                "runledger_group_commit_events_sum %llu\nrunledger_group_commit_events_count %llu\n",
                static_cast<unsigned long long>(stats.batches), static_cast<unsigned long long>(stats.events),
                static_cast<unsigned long long>(stats.batches));
  out += line;
  out += "# TYPE runledger_group_commit_sync_seconds histogram\n";
  for (size_t i = 0; i < std::size(CommitStats::kSyncBuckets); ++i) {
    std::snprintf(line, sizeof line, "runledger_group_commit_sync_seconds_bucket{le=\"%g\"} %llu\n",
                  CommitStats::kSyncBuckets[i], static_cast<unsigned long long>(stats.sync_le[i]));
    out += line;
  }
  std::snprintf(line, sizeof line,
                "runledger_group_commit_sync_seconds_bucket{le=\"+Inf\"} %llu\n"
                "runledger_group_commit_sync_seconds_sum %g\nrunledger_group_commit_sync_seconds_count %llu\n",
                static_cast<unsigned long long>(stats.batches), stats.sync_seconds,
                static_cast<unsigned long long>(stats.batches));
  out += line;
  return out;
}

}  // namespace runledger::server
