#include "ledger/internal/rocks.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstring>

namespace runledger::ledger::internal {
namespace {

rocksdb::IOStatus InjectedFault(const FaultInjector& faults) {
  switch (faults.current()) {
    case FaultInjector::Fault::kNone: return rocksdb::IOStatus::OK();
    case FaultInjector::Fault::kNoSpace: return rocksdb::IOStatus::NoSpace("injected: no space left");
    case FaultInjector::Fault::kIOError: return rocksdb::IOStatus::IOError("injected: I/O error");
  }
  return rocksdb::IOStatus::OK();
}

class FaultFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  FaultFile(std::unique_ptr<rocksdb::FSWritableFile> file, std::shared_ptr<FaultInjector> faults)
      : FSWritableFileOwnerWrapper(std::move(file)), faults_(std::move(faults)) {}

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
    auto s = InjectedFault(*faults_);
    return s.ok() ? target()->Append(data, options, dbg) : s;
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           const rocksdb::DataVerificationInfo& info,
                           rocksdb::IODebugContext* dbg) override {
    auto s = InjectedFault(*faults_);
    return s.ok() ? target()->Append(data, options, info, dbg) : s;
  }
  rocksdb::IOStatus Flush(const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) override {
    auto s = InjectedFault(*faults_);
    return s.ok() ? target()->Flush(options, dbg) : s;
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) override {
    auto s = InjectedFault(*faults_);
    return s.ok() ? target()->Sync(options, dbg) : s;
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) override {
    auto s = InjectedFault(*faults_);
    return s.ok() ? target()->Fsync(options, dbg) : s;
  }

 private:
  std::shared_ptr<FaultInjector> faults_;
};

class FaultFileSystem : public rocksdb::FileSystemWrapper {
 public:
  explicit FaultFileSystem(std::shared_ptr<FaultInjector> faults)
      : FileSystemWrapper(rocksdb::FileSystem::Default()), faults_(std::move(faults)) {}

  const char* Name() const override { return "RunledgerFaultFileSystem"; }

  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override {
    auto s = InjectedFault(*faults_);
    if (!s.ok()) return s;
    std::unique_ptr<rocksdb::FSWritableFile> file;
    s = target()->NewWritableFile(name, options, &file, dbg);
    if (s.ok()) *result = std::make_unique<FaultFile>(std::move(file), faults_);
    return s;
  }

 private:
  std::shared_ptr<FaultInjector> faults_;
};

class AllButSuffixTransform : public rocksdb::SliceTransform {
 public:
  explicit AllButSuffixTransform(size_t suffix_bytes)
      : suffix_bytes_(suffix_bytes), name_("runledger.AllButSuffix." + std::to_string(suffix_bytes)) {}
  const char* Name() const override { return name_.c_str(); }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return rocksdb::Slice(key.data(), key.size() - suffix_bytes_);
  }
  bool InDomain(const rocksdb::Slice& key) const override { return key.size() >= suffix_bytes_; }

 private:
  const size_t suffix_bytes_;
  const std::string name_;
};

}  // namespace

std::shared_ptr<const rocksdb::SliceTransform> NewAllButSuffixTransform(size_t suffix_bytes) {
  return std::make_shared<AllButSuffixTransform>(suffix_bytes);
}

Status FromRocks(const rocksdb::Status& status, std::string_view what) {
  if (status.ok()) return Status::Ok();
  std::string message = std::string(what) + ": " + status.ToString();
  if (status.IsCorruption()) return Status::Corruption(std::move(message));
  if (status.IsIOError()) return Status::IOError(std::move(message));
  return Status::Internal(std::move(message));
}

std::shared_ptr<rocksdb::FileSystem> NewFaultFileSystem(std::shared_ptr<FaultInjector> faults) {
  return std::make_shared<FaultFileSystem>(std::move(faults));
}

Result<std::unique_ptr<DirectoryLock>> DirectoryLock::Acquire(const std::string& dir) {
  const std::string path = dir + "/LOCK.runledger";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError("cannot open " + path + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return Status(Code::kIOError, "data_dir_in_use",
                    "data directory " + dir +
                        " is in use by another runledger process (is a server running on it?)");
    }
    return Status::IOError("cannot lock " + path + ": " + std::strerror(err));
  }
  return std::unique_ptr<DirectoryLock>(new DirectoryLock(fd));
}

DirectoryLock::~DirectoryLock() { ::close(fd_); }

}  // namespace runledger::ledger::internal
