#pragma once

#include <atomic>

namespace runledger::ledger {

// Makes the store's file system fail writes on demand, so tests can prove
// that nothing failed is acknowledged and that writes resume after recovery.
// Thread-safe. Production stores are opened without one.
class FaultInjector {
 public:
  enum class Fault { kNone, kIOError, kNoSpace };

  void Set(Fault fault) { fault_.store(fault, std::memory_order_release); }
  Fault current() const { return fault_.load(std::memory_order_acquire); }

 private:
  std::atomic<Fault> fault_{Fault::kNone};
};

}  // namespace runledger::ledger
