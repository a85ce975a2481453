#pragma once

// The load of the crash harness: writer threads (single appends with client
// event ids, or bulk NDJSON requests) and reader threads, all parked while
// the server is down. A Coordinator tells them which server is up; each
// write they send is either acknowledged (recorded in the Book with the seq
// and position the server answered) or, when its answer never comes,
// recorded as in doubt for the harness to resolve after the restart.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "ledger/status.h"
#include "tools/reliability/crash_model.h"
#include "tools/reliability/http_client.h"

namespace runledger::tools::reliability {

// Which server generation is up. Threads wait in AwaitUp while it is down.
class Coordinator {
 public:
  // Blocks until a server generation newer than *generation is up (true,
  // with its port) or Shutdown() (false). Counts the caller as parked while
  // it waits.
  bool AwaitUp(std::uint64_t* generation, std::uint16_t* port);
  bool IsUp(std::uint64_t generation) const;

  // Controller side.
  void Release(std::uint16_t port);  // a new generation is up
  void MarkDown();
  // Waits until `threads` threads are parked in AwaitUp; false on timeout.
  bool WaitAllParked(int threads, std::chrono::milliseconds timeout);
  void Shutdown();

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::uint64_t generation_ = 0;
  std::uint16_t port_ = 0;
  bool up_ = false;
  bool shutdown_ = false;
  int parked_ = 0;
};

// One event the server answered for: its HTTP-level status (201 new, 200
// idempotent repeat) and where it is.
struct EventAnswer {
  unsigned status = 0;
  Placement placement;
};
// The answer to `op`, one entry per key; an error text if the response is
// not the shape the route promises.
Result<std::vector<EventAnswer>> ParseAnswer(const WriteOp& op, const HttpResponse& response);

// The run a writer drives: created, started, logged N times, ended; then a
// new run. Each event has a client id unique in the whole harness.
class Writer {
 public:
  Writer(size_t index, bool bulk, std::uint64_t seed);

  WriteOp NextOp();
  // Every event of `op` is acknowledged: move on.
  void Applied(const WriteOp& op);
  // The op could not be resolved: abandon the run, start a new one.
  void Abandon();

  size_t index() const { return index_; }
  bool bulk() const { return bulk_; }

 private:
  std::string NewRunId();
  std::string NextClientId();
  std::string Line(const std::string& type, const std::string& data,
                   const std::string& client_id) const;

  size_t index_;
  bool bulk_;
  std::mt19937_64 random_;
  std::string run_id_;  // empty: the next op creates a run
  int events_ = 0;      // events of the run acknowledged so far
  int planned_ = 0;     // events the run will have before `ended`
  bool ended_ = false;
  std::uint64_t next_client_id_ = 0;
};

struct WorkloadOptions {
  std::string writer_token;
  std::string reader_token;
  std::chrono::milliseconds request_timeout{60000};
};

// Thread bodies. They return once the coordinator shuts down.
void RunWriter(Writer& writer, Coordinator& coordinator, Book& book,
               const WorkloadOptions& options);
void RunReader(size_t index, Coordinator& coordinator, Book& book, const WorkloadOptions& options);

// Figures the threads count (atomically).
struct WorkloadCounters {
  std::uint64_t write_requests = 0;
  std::uint64_t read_requests = 0;
  std::uint64_t transport_errors = 0;
};
WorkloadCounters Counters();

}  // namespace runledger::tools::reliability
