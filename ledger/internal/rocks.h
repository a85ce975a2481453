#pragma once

// RocksDB plumbing shared by the ledger's sources: status conversion, the
// fault-injecting file system, and the data-directory lock.

#include <rocksdb/file_system.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/status.h>

#include <memory>
#include <string>

#include "ledger/fault_injection.h"
#include "ledger/status.h"

namespace runledger::ledger::internal {

// The one place RocksDB statuses become ours.
Status FromRocks(const rocksdb::Status& status, std::string_view what);

// Wraps the default file system so writes fail while `faults` says so.
std::shared_ptr<rocksdb::FileSystem> NewFaultFileSystem(std::shared_ptr<FaultInjector> faults);

// The key without its last `suffix_bytes` bytes. Given to RocksDB as
// memtable_insert_with_hint_prefix_extractor for tables whose keys are a
// prefix then an increasing suffix (a position, a seq): the memtable keeps
// the last insert point per prefix, so such an insert skips most of the
// skip-list search.
std::shared_ptr<const rocksdb::SliceTransform> NewAllButSuffixTransform(size_t suffix_bytes);

// An exclusive advisory lock on <dir>/LOCK.runledger, held while alive, so a
// second process (or a second store in this one) cannot open the same data.
class DirectoryLock {
 public:
  static Result<std::unique_ptr<DirectoryLock>> Acquire(const std::string& dir);
  ~DirectoryLock();
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;

 private:
  explicit DirectoryLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace runledger::ledger::internal
