#pragma once

// Reference 2: PostgreSQL doing the same work, through libpq's asynchronous
// API on one Asio thread (like the HTTP client). The server is the caller's
// (tools/bench/compare.sh starts PostgreSQL 15 in a temp dir with
// synchronous_commit=on); the tables are (re)created here:
//
//   runs   (run_id uuid primary key, status, version, updated_at)
//   events (run_id uuid, seq int, body jsonb, recorded_at; primary key (run_id, seq))
//
// Each event is one statement, so one transaction: it upserts the run's
// row (taking its row lock, version + 1 = the event's seq, the new status)
// and inserts the event line as jsonb with that seq, append-only.
//
//   single:  `connections` clients, one event per transaction (prepared).
//   batched: `connections` clients, `batch_events` per transaction
//            (one simple-query message: BEGIN; EXECUTE ... x N; COMMIT).

#include <string>

#include "tools/bench/figures.h"

namespace runledger::tools::bench {

struct PostgresReferenceOptions {
  std::string conninfo;    // e.g. "host=127.0.0.1 port=5433 user=postgres dbname=postgres"
  int postmaster_pid = 0;  // for CPU (the postmaster and its backends); 0: not measured
  size_t connections = 64;
  size_t batch_events = 0;  // 0: one event per transaction
  double warmup_seconds = 1;
  double seconds = 10;
  std::uint64_t seed = 1;
};

// True when this build has libpq.
bool PostgresReferenceAvailable();
// Units are events; a failure is reported in Figure::note.
Figure MeasurePostgres(const PostgresReferenceOptions& options);

}  // namespace runledger::tools::bench
