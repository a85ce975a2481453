#pragma once

// A `runledger serve` child process for the reliability tools: started on
// 127.0.0.1 with a port the OS picks (read back from its first log lines),
// its stderr (the access log) in a file of its own, stopped cleanly with
// SIGTERM or killed with SIGKILL. Also: running the offline commands
// (verify, rebuild, token add) and reading a process's memory from /proc.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ledger/status.h"

namespace runledger::tools::reliability {

struct ServeConfig {
  std::string binary;  // the runledger executable
  std::string data_dir;
  std::string tokens_path;  // empty: local mode
  std::string log_path;     // the child's stdout and stderr
  std::vector<std::string> extra_args;
};

class ServerProcess {
 public:
  // Starts the child and waits until it says it listens (and /healthz
  // answers), or fails with the reason and the tail of its log.
  static Result<std::unique_ptr<ServerProcess>> Start(const ServeConfig& config,
                                                      std::chrono::milliseconds ready_timeout);
  ~ServerProcess();  // Kill() if still running

  pid_t pid() const { return pid_; }
  std::uint16_t port() const { return port_; }
  bool running() const { return pid_ > 0; }

  // SIGKILL and reap: the crash.
  void Kill();
  // SIGTERM, then waits up to `timeout` (SIGKILL after it). Ok only if it
  // exited with status 0 in time.
  Status Stop(std::chrono::milliseconds timeout);

 private:
  ServerProcess(pid_t pid, std::uint16_t port) : pid_(pid), port_(port) {}
  pid_t pid_;
  std::uint16_t port_;
};

// Runs `argv` to completion; its exit code (-1 if it could not start or was
// killed by a signal) and its combined output.
struct CommandResult {
  int exit_code = -1;
  std::string output;
};
CommandResult RunCommand(const std::vector<std::string>& argv);

// VmRSS / VmHWM of `pid` in KiB from /proc/<pid>/status; -1 if unreadable.
struct Memory {
  long rss_kib = -1;
  long hwm_kib = -1;
};
Memory ReadMemory(pid_t pid);
// Open file descriptors of `pid` (entries of /proc/<pid>/fd), or only its
// sockets (RocksDB keeps files open as the data grows); -1 if unreadable.
long OpenFds(pid_t pid, bool sockets_only = false);

// The whole file, or "" if unreadable.
std::string ReadFile(const std::string& path);

}  // namespace runledger::tools::reliability
