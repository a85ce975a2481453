#include "tools/reliability/crash_model.h"

#include <cstdio>
#include <utility>

namespace runledger::tools::reliability {
namespace {

// Violations kept word for word; the rest are only counted.
constexpr size_t kViolationsKept = 50;

}  // namespace

bool Book::Ack(const EventKey& key, const Placement& placement) {
  std::lock_guard lock(mutex_);
  auto [it, inserted] = acked_.emplace(key, placement);
  if (runs_set_.insert(key.run_id).second) runs_.push_back(key.run_id);
  if (inserted || it->second == placement) return true;
  ++violation_count_;
  if (violations_.size() < kViolationsKept) {
    violations_.push_back(
        "event " + key.run_id + "/" + key.client_id +
        " acknowledged twice at different places: seq " + std::to_string(it->second.seq) +
        " position " + std::to_string(it->second.position) + ", then seq " +
        std::to_string(placement.seq) + " position " + std::to_string(placement.position));
  }
  return false;
}

std::optional<Placement> Book::Acked(const EventKey& key) const {
  std::lock_guard lock(mutex_);
  auto it = acked_.find(key);
  if (it == acked_.end()) return std::nullopt;
  return it->second;
}

std::map<EventKey, Placement> Book::AckedSnapshot() const {
  std::lock_guard lock(mutex_);
  return acked_;
}

size_t Book::acked_count() const {
  std::lock_guard lock(mutex_);
  return acked_.size();
}

std::vector<std::string> Book::Runs() const {
  std::lock_guard lock(mutex_);
  return runs_;
}

std::string Book::RandomRun(std::uint64_t random) const {
  std::lock_guard lock(mutex_);
  return runs_.empty() ? "" : runs_[random % runs_.size()];
}

void Book::AddInDoubt(InDoubt in_doubt) {
  std::lock_guard lock(mutex_);
  in_doubt_.push_back(std::move(in_doubt));
}

std::vector<InDoubt> Book::TakeInDoubt() {
  std::lock_guard lock(mutex_);
  return std::exchange(in_doubt_, {});
}

void Book::Observed(const std::string& run_id, std::uint32_t version) {
  std::lock_guard lock(mutex_);
  auto& seen = observed_[run_id];
  if (version > seen) seen = version;
}

std::map<std::string, std::uint32_t> Book::ObservedSnapshot() const {
  std::lock_guard lock(mutex_);
  return observed_;
}

void Book::Violation(std::string what) {
  std::lock_guard lock(mutex_);
  ++violation_count_;
  if (violations_.size() < kViolationsKept) violations_.push_back(std::move(what));
}

std::vector<std::string> Book::Violations() const {
  std::lock_guard lock(mutex_);
  return violations_;
}

size_t Book::violation_count() const {
  std::lock_guard lock(mutex_);
  return violation_count_;
}

}  // namespace runledger::tools::reliability
