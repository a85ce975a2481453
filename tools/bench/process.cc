#include "tools/bench/process.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <thread>

namespace runledger::tools::bench {
namespace {

using Clock = std::chrono::steady_clock;

// The fields after the command name of /proc/<pid>/stat (field 3 first).
std::vector<std::string> StatFields(const std::string& path) {
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t close = text.rfind(')');
  std::vector<std::string> fields;
  if (close == std::string::npos) return fields;
  std::istringstream rest(text.substr(close + 1));
  for (std::string field; rest >> field;) fields.push_back(field);
  return fields;
}

double Ticks(const std::vector<std::string>& f, size_t stat_field) {
  const size_t i = stat_field - 3;
  return i < f.size() ? std::stod(f[i]) / static_cast<double>(sysconf(_SC_CLK_TCK)) : 0;
}

std::vector<char*> CArgs(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  return args;
}

// Waits for `pid` up to `timeout`; true when it exited (status in *status).
bool WaitFor(pid_t pid, std::chrono::seconds timeout, int* status) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    const pid_t r = waitpid(pid, status, WNOHANG);
    if (r == pid || r < 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

}  // namespace

double ProcessCpuSeconds(pid_t pid, pid_t tid) {
  const std::string path =
      tid ? "/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/stat"
          : "/proc/" + std::to_string(pid) + "/stat";
  const auto f = StatFields(path);
  if (f.size() < 15) return -1;
  return Ticks(f, 14) + Ticks(f, 15);
}

double ProcessTreeCpuSeconds(pid_t pid) {
  const auto self = StatFields("/proc/" + std::to_string(pid) + "/stat");
  if (self.size() < 17) return -1;
  // Children it already reaped count through cutime/cstime.
  double total = Ticks(self, 14) + Ticks(self, 15) + Ticks(self, 16) + Ticks(self, 17);
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return total;
  while (dirent* entry = readdir(proc)) {
    if (entry->d_name[0] < '1' || entry->d_name[0] > '9') continue;
    const auto f = StatFields(std::string("/proc/") + entry->d_name + "/stat");
    if (f.size() >= 15 && std::stol(f[1]) == pid) total += Ticks(f, 14) + Ticks(f, 15);
  }
  closedir(proc);
  return total;
}

double PeakRssMib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return -1;
}

bool ResetPeakRss(pid_t pid) {
  std::ofstream out("/proc/" + std::to_string(pid) + "/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

double CpuMeter::Sample() const {
  if (tree_) return ProcessTreeCpuSeconds(pid_);
  return ProcessCpuSeconds(pid_, tid_);
}

void CpuMeter::Start() {
  cpu_ = Sample();
  wall_ = std::chrono::steady_clock::now();
}

double CpuMeter::Stop() {
  const double cpu = Sample();
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_).count();
  if (cpu < 0 || cpu_ < 0 || wall <= 0) return std::nan("");
  return (cpu - cpu_) / wall;
}

Result<std::unique_ptr<ServerProcess>> ServerProcess::Start(const std::string& binary,
                                                            const std::string& data_dir,
                                                            const std::string& log_path,
                                                            int io_threads, int read_workers,
                                                            std::chrono::seconds ready_timeout) {
  const std::vector<std::string> argv = {
      binary,     "serve",       "--data",       data_dir,
      "--listen", "127.0.0.1:0", "--io-threads", std::to_string(io_threads),
      "--read-workers", std::to_string(read_workers)};
  const pid_t pid = SpawnBackground(argv, log_path);
  if (pid < 0) return Status::IOError("cannot start " + binary);
  // `serve` logs "listening on 127.0.0.1:<port>" once it accepts connections.
  const auto deadline = Clock::now() + ready_timeout;
  while (Clock::now() < deadline) {
    std::ifstream log(log_path);
    for (std::string line; std::getline(log, line);) {
      const std::string marker = "listening on 127.0.0.1:";
      if (const size_t at = line.find(marker); at != std::string::npos) {
        const int port = std::atoi(line.c_str() + at + marker.size());
        if (port > 0) {
          return std::unique_ptr<ServerProcess>(
              new ServerProcess(pid, static_cast<std::uint16_t>(port), log_path));
        }
      }
    }
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      return Status::IOError("runledger serve exited (status " + std::to_string(status) +
                             "); see " + log_path);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return Status::IOError("runledger serve did not listen within the timeout; see " + log_path);
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) (void)Stop();
}

Status ServerProcess::Stop(std::chrono::seconds timeout) {
  if (pid_ <= 0) return Status::Ok();
  kill(pid_, SIGTERM);
  int status = 0;
  if (!WaitFor(pid_, timeout, &status)) {
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return Status::IOError("runledger serve did not stop within the timeout; killed");
  }
  pid_ = -1;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Status::IOError("runledger serve exited with status " + std::to_string(status) +
                           "; see " + log_path_);
  }
  return Status::Ok();
}

pid_t SpawnBackground(const std::vector<std::string>& argv, const std::string& log_path) {
  const int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  auto args = CArgs(argv);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fd, 1);
    dup2(fd, 2);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(fd);
  return pid;
}

void StopBackground(pid_t pid, std::chrono::seconds timeout) {
  if (pid <= 0) return;
  kill(pid, SIGINT);
  int status = 0;
  if (!WaitFor(pid, timeout, &status)) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
}

Result<ChildRun> RunChild(const std::vector<std::string>& argv) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return Status::IOError("pipe failed");
  auto args = CArgs(argv);
  const auto started = Clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(pipe_fds[1], 1);
    dup2(pipe_fds[1], 2);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(pipe_fds[1]);
  if (pid < 0) {
    close(pipe_fds[0]);
    return Status::IOError("fork failed");
  }
  ChildRun run;
  char buffer[4096];
  for (ssize_t n; (n = read(pipe_fds[0], buffer, sizeof buffer)) > 0;)
    run.output.append(buffer, static_cast<size_t>(n));
  close(pipe_fds[0]);
  int status = 0;
  rusage usage{};
  wait4(pid, &status, 0, &usage);
  run.wall_seconds = std::chrono::duration<double>(Clock::now() - started).count();
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  run.cpu_seconds = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                    static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  run.peak_rss_mib = static_cast<double>(usage.ru_maxrss) / 1024.0;
  return run;
}

}  // namespace runledger::tools::bench
