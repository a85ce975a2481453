#pragma once

// Processes the benchmark measures: the `runledger serve` child it starts,
// and CPU / memory figures of any process from /proc.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ledger/status.h"

namespace runledger::tools::bench {

// User + system CPU seconds of a process (or of one of its threads, with
// `tid`), from /proc/<pid>/stat; negative when unreadable.
double ProcessCpuSeconds(pid_t pid, pid_t tid = 0);
// Sum over `pid` and every process whose parent it is (e.g. a postmaster
// and its backends).
double ProcessTreeCpuSeconds(pid_t pid);
// VmHWM (peak resident set) in MiB; negative when unreadable.
double PeakRssMib(pid_t pid);
// Resets VmHWM to the current RSS (writes 5 to /proc/<pid>/clear_refs), so
// the next PeakRssMib covers one phase. False when not permitted.
bool ResetPeakRss(pid_t pid);

// Samples a process's CPU over a window: Start, then Stop gives cores used.
class CpuMeter {
 public:
  CpuMeter(pid_t pid, bool tree, pid_t tid = 0) : pid_(pid), tid_(tid), tree_(tree) {}
  void Start();
  double Stop();  // CPU seconds / wall seconds since Start; NaN when unknown

 private:
  double Sample() const;
  pid_t pid_;
  pid_t tid_;
  bool tree_;
  double cpu_ = 0;
  std::chrono::steady_clock::time_point wall_;
};

// A `runledger serve` child on 127.0.0.1 (port picked by the OS), with its
// stderr (the access log) in `log_path`.
class ServerProcess {
 public:
  static Result<std::unique_ptr<ServerProcess>> Start(const std::string& binary,
                                                      const std::string& data_dir,
                                                      const std::string& log_path, int io_threads,
                                                      int read_workers,
                                                      std::chrono::seconds ready_timeout);
  ~ServerProcess();  // Stop() if still running

  pid_t pid() const { return pid_; }
  std::uint16_t port() const { return port_; }
  // SIGTERM, then waits (SIGKILL after `timeout`). Its exit status.
  Status Stop(std::chrono::seconds timeout = std::chrono::seconds(60));

 private:
  ServerProcess(pid_t pid, std::uint16_t port, std::string log_path)
      : pid_(pid), port_(port), log_path_(std::move(log_path)) {}
  pid_t pid_;
  std::uint16_t port_;
  std::string log_path_;
};

// Runs `argv` to completion with stdout+stderr captured; its exit code,
// output, wall seconds, CPU seconds and peak RSS (from wait4).
struct ChildRun {
  int exit_code = -1;
  std::string output;
  double wall_seconds = 0;
  double cpu_seconds = 0;
  double peak_rss_mib = 0;
};
Result<ChildRun> RunChild(const std::vector<std::string>& argv);

// Starts `argv` in the background with output to `log_path`; -1 on failure.
pid_t SpawnBackground(const std::vector<std::string>& argv, const std::string& log_path);
// SIGINT then wait (SIGKILL after `timeout`).
void StopBackground(pid_t pid, std::chrono::seconds timeout);

}  // namespace runledger::tools::bench
