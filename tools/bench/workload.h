#pragma once

// The benchmark's workload: runs as a data-quality platform's workers report
// them. Each run is created, started, progresses about ten times, logs about
// five times and ends (80% success, 12% failure, 8% aborted by the system),
// over every operation type and 200 datastores. Event bodies are 200-600
// bytes of realistic JSON (configs, container names, counters, log lines).
//
// Every event exists in two forms: the body of the single-event routes and
// the NDJSON line of bulk ingest. The line is also what the raw RocksDB and
// PostgreSQL references store, so every system writes the same bytes.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/uuid.h"

namespace runledger::tools::bench {

struct BenchEvent {
  std::string type;       // created, started, progressed, logged, ended
  std::uint32_t seq = 0;  // 1-based place in its run
  // POST /v1/runs (created: the payload plus run_id) or POST /v1/runs/{id}/events.
  std::string body;
  // One line of POST /v1/events (run_id, id, type, occurred_at, data); no newline.
  std::string line;
  std::string_view status;  // the run's status right after this event
};

struct RunScript {
  ledger::Uuid id{};
  std::string id_text;
  std::string datastore;  // "ds-0042"
  std::string operation;
  std::vector<BenchEvent> events;
};

// Deterministic for a seed, except run ids (UUIDv7 of the current time) and
// occurred_at. Not thread-safe: one per thread.
class WorkloadGenerator {
 public:
  static constexpr int kDatastores = 200;
  explicit WorkloadGenerator(std::uint64_t seed) : state_(seed * 0x9E3779B97F4A7C15ull + 1) {}
  RunScript NextRun();

  std::uint64_t Next();            // splitmix64
  int Uniform(int low, int high);  // inclusive
  bool Chance(int percent) { return Uniform(1, 100) <= percent; }

 private:
  std::uint64_t state_;
};

// Yields the events of `open_runs` runs interleaved, round robin, replacing
// each finished run with a new one, as a fleet of workers would send them.
// With max_runs > 0 it stops once that many runs were fully yielded.
class RunInterleaver {
 public:
  RunInterleaver(WorkloadGenerator& generator, size_t open_runs, std::uint64_t max_runs = 0);
  struct View {
    const RunScript* run;
    const BenchEvent* event;
  };
  // The next event; valid until the next call. nullopt once max_runs are done.
  std::optional<View> Next();
  std::uint64_t runs_started() const { return runs_started_; }

 private:
  struct Slot {
    std::unique_ptr<RunScript> run;
    size_t next = 0;
  };
  WorkloadGenerator& generator_;
  std::uint64_t max_runs_;
  std::uint64_t runs_started_ = 0;
  std::vector<Slot> slots_;
  size_t cursor_ = 0;
};

// Sizes of a sample of lines, for the report.
struct ByteSizes {
  size_t min = 0, max = 0;
  double mean = 0;
};
ByteSizes MeasureLines(std::uint64_t seed, int runs);

}  // namespace runledger::tools::bench
