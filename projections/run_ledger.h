#pragma once

// The domain API the server calls: commands that append run events through
// the ledger's sequencer (answered once durable), and the reads of SPEC
// section 3. No HTTP types; callers map Status codes to responses.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ledger/event_store.h"
#include "projections/run_projection.h"
#include "projections/run_state.h"

namespace runledger::projections {

// Who is asking. Authorization is the server's; the domain only needs the
// name (the events' principal) and whether a member triggers runs as itself.
struct Caller {
  std::string name;
  bool member = false;
};

struct Outcome {
  bool repeated = false;                 // an idempotent repeat: nothing was appended
  std::optional<ledger::Event> event;    // the stored event (event routes)
  std::optional<RunState> run;           // the run after the command; on a 409, as it is now
};
// Called once the command's events are durable (or it failed), on the
// committer thread: must not block.
using Done = std::function<void(const Status& status, Outcome outcome)>;

struct CreateRunRequest {
  Caller caller;
  Json data;                             // the created payload, as the client sent it
  std::optional<Uuid> run_id;
  std::optional<std::string> client_event_id;
  std::optional<std::string> occurred_at;
  std::optional<std::string> idempotency_key_sha256;
};

struct AppendRequest {
  Caller caller;
  Uuid run_id{};
  std::string type;
  Json data;
  std::optional<std::string> client_event_id;
  std::optional<std::string> occurred_at;
  std::optional<std::uint32_t> if_match;  // expected version
};

enum class Action { kAbort, kResume, kRerun, kDelete };
std::string_view ActionName(Action action);

struct ActionRequest {
  Caller caller;
  Uuid run_id{};
  Action action = Action::kAbort;
  std::optional<std::string> reason;     // abort and delete
  std::optional<std::string> idempotency_key_sha256;
};

class RunLedger {
 public:
  // Opens the store at options.data_dir with the projection tables added.
  static Result<std::unique_ptr<RunLedger>> Open(ledger::StoreOptions options);
  ~RunLedger();

  ledger::EventStore& store() { return *store_; }
  // Set before any command is submitted.
  void SetListener(ChangeListener* listener) { projection_.SetListener(listener); }
  // Tests: how many runs (and counts, audit blocks) the projection caches
  // (default 200,000).
  void SetRunCacheLimit(size_t runs) { projection_.SetCacheLimit(runs); }
  // Recently changed runs as of their last durable batch (RunQueries reads it).
  RunSummaryCache& summaries() { return summaries_; }

  // POST /v1/runs (and a `created` sent to an event route).
  void CreateRun(CreateRunRequest request, Done done);
  // POST /v1/runs/{id}/events and each line of POST /v1/events.
  void AppendEvent(AppendRequest request, Done done);
  // abort, resume, rerun, delete.
  void Act(ActionRequest request, Done done);

 private:
  RunLedger() = default;
  RunSummaryCache summaries_;
  RunProjection projection_;
  std::unique_ptr<ledger::EventStore> store_;
};

}  // namespace runledger::projections
