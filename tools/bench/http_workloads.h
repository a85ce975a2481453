#pragma once

// The request streams `runledger bench` sends (tools/bench/http_load.h):
//
//   SingleAppends: each connection is one worker reporting one run at a
//     time, event after event: POST /v1/runs, then POST /v1/runs/{id}/events.
//   BulkIngest: each connection posts NDJSON bodies of `lines` events from
//     about 60 runs in progress, interleaved (POST /v1/events).
//   ReadMix: the Activity page's traffic over the runs written so far:
//     40% GET /v1/runs/{id}, 30% filtered Activity pages (GET /v1/runs with
//     status / operation / datastore / warning filters, limit 50), 15% a
//     run's events, 15% a run's logs.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tools/bench/http_load.h"
#include "tools/bench/workload.h"

namespace runledger::tools::bench {

struct KnownRun {
  std::string id;
  std::string datastore;
};

// Runs acknowledged as created, for the reads that follow.
using RunRegistry = std::vector<KnownRun>;

class SingleAppends : public CallSource {
 public:
  // `registry` may be null. With `any_2xx` (the hello server) any 2xx answers.
  SingleAppends(size_t connections, std::uint64_t seed, RunRegistry* registry,
                bool any_2xx = false);
  bool Next(size_t conn, HttpCall* call) override;
  void Succeeded(size_t conn, const HttpCall& call, std::string_view body) override;

 private:
  struct Worker {
    std::unique_ptr<RunScript> run;
    size_t next = 0;
  };
  WorkloadGenerator generator_;
  std::vector<Worker> workers_;
  RunRegistry* registry_;
  bool any_2xx_;
};

class BulkIngest : public CallSource {
 public:
  // With max_runs > 0, stops once that many runs were sent (spread over the
  // connections).
  BulkIngest(size_t connections, size_t lines, std::uint64_t seed, RunRegistry* registry,
             std::uint64_t max_runs = 0);
  bool Next(size_t conn, HttpCall* call) override;
  void Succeeded(size_t conn, const HttpCall& call, std::string_view body) override;

 private:
  struct Feed {
    std::unique_ptr<WorkloadGenerator> generator;
    std::unique_ptr<RunInterleaver> runs;
    std::vector<KnownRun> created_in_flight;
  };
  size_t lines_;
  std::vector<Feed> feeds_;
  RunRegistry* registry_;
};

// Pages through GET /v1/runs (newest first) on one connection to learn up
// to `max_runs` runs of a server the bench did not fill (--url).
class RunDiscovery : public CallSource {
 public:
  RunDiscovery(RunRegistry* registry, size_t max_runs) : registry_(registry), max_runs_(max_runs) {}
  bool Next(size_t conn, HttpCall* call) override;
  void Succeeded(size_t conn, const HttpCall& call, std::string_view body) override;

 private:
  RunRegistry* registry_;
  size_t max_runs_;
  std::string cursor_;
  bool done_ = false;
};

class ReadMix : public CallSource {
 public:
  static std::vector<std::string> Kinds() {
    return {"get_run", "activity", "run_events", "run_logs"};
  }
  ReadMix(const RunRegistry& registry, std::uint64_t seed)
      : registry_(registry), generator_(seed) {}
  bool Next(size_t conn, HttpCall* call) override;

 private:
  const RunRegistry& registry_;
  WorkloadGenerator generator_;
};

}  // namespace runledger::tools::bench
