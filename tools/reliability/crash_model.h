#pragma once

// What the crash harness knows about the ledger it drives: every write it
// sent, every append the server acknowledged (with the seq and position it
// answered), the writes that were in flight when the server died, and the
// run versions its readers saw. Thread-safe (one mutex; contention is low
// next to an HTTP round trip).

#include <compare>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace runledger::tools::reliability {

// An event as the harness names it: its run and its client event id. The
// `created` event that POST /v1/runs makes has no client id; it is named
// kCreatedKey.
inline constexpr const char* kCreatedKey = "<created>";
struct EventKey {
  std::string run_id;
  std::string client_id;
  auto operator<=>(const EventKey&) const = default;
};

struct Placement {
  std::uint32_t seq = 0;
  std::uint64_t position = 0;
  bool operator==(const Placement&) const = default;
};

// One HTTP request that appends the events `keys`, in order.
struct WriteOp {
  enum class Kind { kCreate, kAppend, kBulk };
  Kind kind = Kind::kAppend;
  std::string target;
  std::string body;
  std::string content_type = "application/json";
  std::vector<EventKey> keys;
  bool ends_run = false;  // its last event is the run's `ended`
};

// A write whose answer never came: the server died (or the connection
// broke) after the request may have reached it. `sent` is false when the
// connection could not even be opened, so the server cannot have seen it.
struct InDoubt {
  size_t writer = 0;
  WriteOp op;
  bool sent = true;
};

class Book {
 public:
  // Records an acknowledged event; false (and a violation) if the same event
  // was acknowledged before at another place.
  bool Ack(const EventKey& key, const Placement& placement);
  std::optional<Placement> Acked(const EventKey& key) const;
  std::map<EventKey, Placement> AckedSnapshot() const;
  size_t acked_count() const;
  std::vector<std::string> Runs() const;  // runs with an acknowledged event
  std::string RandomRun(std::uint64_t random) const;

  void AddInDoubt(InDoubt in_doubt);
  std::vector<InDoubt> TakeInDoubt();

  // Readers: the largest version seen for a run.
  void Observed(const std::string& run_id, std::uint32_t version);
  std::map<std::string, std::uint32_t> ObservedSnapshot() const;

  // Violations found by any thread; the harness fails if there is one.
  void Violation(std::string what);
  std::vector<std::string> Violations() const;
  size_t violation_count() const;

 private:
  mutable std::mutex mutex_;
  std::map<EventKey, Placement> acked_;
  std::set<std::string> runs_set_;
  std::vector<std::string> runs_;
  std::vector<InDoubt> in_doubt_;
  std::map<std::string, std::uint32_t> observed_;
  std::vector<std::string> violations_;
  size_t violation_count_ = 0;
};

}  // namespace runledger::tools::reliability
