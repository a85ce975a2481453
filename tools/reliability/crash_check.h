#pragma once

// The crash harness's checks, run after each restart with the load parked:
// the whole ledger read back over GET /v1/events must hold every
// acknowledged append exactly once at the place it was acknowledged, with
// gap-free positions and per-run seqs; an event nobody acknowledged may be
// there only if its request was in flight at the kill, and retrying that
// request with the same ids must answer 200 with the stored event (or 201
// if it was not stored). Also: snapshots of the projections as the API
// serves them, to compare before and after `runledger rebuild`.

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "ledger/status.h"
#include "tools/reliability/crash_model.h"
#include "tools/reliability/crash_workload.h"
#include "tools/reliability/http_client.h"

namespace runledger::tools::reliability {

struct LedgerEvent {
  std::uint64_t position = 0;
  std::string run_id;
  std::uint32_t seq = 0;
  std::string client_id;  // kCreatedKey for a created event without one
  std::string type;
};

// The whole ledger, as GET /v1/events serves it to an auditor.
struct LedgerScan {
  std::vector<LedgerEvent> events;    // position order
  std::map<EventKey, size_t> by_key;  // index into events
  std::map<std::string, std::vector<size_t>> by_run;
};
Result<LedgerScan> ScanLedger(HttpConnection& auditor);

struct CycleFigures {
  std::uint64_t events = 0;           // in the ledger after the restart
  std::uint64_t acked_checked = 0;    // acknowledged appends found in place
  std::uint64_t lost = 0;             // acknowledged appends missing
  std::uint64_t in_doubt_ops = 0;     // requests in flight at the kill
  std::uint64_t in_doubt_stored = 0;  // their events found stored (then retried: 200)
  std::uint64_t in_doubt_absent = 0;  // their events not stored (then retried: 201)
  std::uint64_t runs_checked = 0;     // runs read back through /v1/runs/{id}[/events]
};

class Checker {
 public:
  Checker(Book& book, std::vector<std::unique_ptr<Writer>>& writers)
      : book_(book), writers_(writers) {}

  // With every load thread parked and the server up. `admin` reads,
  // `writer` retries in-doubt writes (as the principal that sent them).
  // Violations go to the Book.
  CycleFigures Check(HttpConnection& admin, HttpConnection& writer, bool all_runs);

 private:
  void CheckScan(const LedgerScan& scan);
  void CheckAcked(const LedgerScan& scan, CycleFigures* figures);
  void ResolveInDoubt(const LedgerScan& scan, HttpConnection& writer,
                      std::set<std::string>* touched, CycleFigures* figures);
  void CheckRun(HttpConnection& admin, const LedgerScan& scan, const std::string& run_id);

  Book& book_;
  std::vector<std::unique_ptr<Writer>>& writers_;
  std::uint64_t checked_size_ = 0;  // ledger size at the previous check
};

// GET bodies of every run, the counts and the listing, keyed by target.
using ProjectionSnapshot = std::map<std::string, std::string>;
Result<ProjectionSnapshot> SnapshotProjections(HttpConnection& admin,
                                               const std::vector<std::string>& runs);
// The targets whose bodies differ (at most `max`), described.
std::vector<std::string> CompareSnapshots(const ProjectionSnapshot& before,
                                          const ProjectionSnapshot& after, size_t max = 10);

}  // namespace runledger::tools::reliability
