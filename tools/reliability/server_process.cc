#include "tools/reliability/server_process.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <string_view>
#include <thread>

#include "tools/reliability/http_client.h"

namespace runledger::tools::reliability {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kPollInterval = std::chrono::milliseconds(10);

// Execs `argv` in a child with stdout and stderr on `output_fd`.
pid_t Spawn(const std::vector<std::string>& argv, int output_fd) {
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(output_fd, STDOUT_FILENO);
    ::dup2(output_fd, STDERR_FILENO);
    // The harness ignores SIGPIPE; the server sets what it needs itself.
    ::signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv(args[0], args.data());
    std::fprintf(stderr, "exec %s: %s\n", args[0], std::strerror(errno));
    ::_exit(127);
  }
  return pid;
}

// The port in "runledger: listening on HOST:PORT, data in ...", or 0.
std::uint16_t ListeningPort(const std::string& log) {
  const std::string marker = "runledger: listening on ";
  const size_t at = log.find(marker);
  if (at == std::string::npos) return 0;
  const size_t comma = log.find(',', at);
  const size_t colon = log.rfind(':', comma);
  if (comma == std::string::npos || colon == std::string::npos || colon < at) return 0;
  return static_cast<std::uint16_t>(std::atoi(log.substr(colon + 1, comma - colon - 1).c_str()));
}

std::string Tail(const std::string& text, size_t bytes = 2000) {
  return text.size() <= bytes ? text : text.substr(text.size() - bytes);
}

}  // namespace

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

Result<std::unique_ptr<ServerProcess>> ServerProcess::Start(
    const ServeConfig& config, std::chrono::milliseconds ready_timeout) {
  std::vector<std::string> argv = {config.binary,   "serve",    "--data",
                                   config.data_dir, "--listen", "127.0.0.1:0"};
  if (!config.tokens_path.empty()) {
    argv.push_back("--tokens");
    argv.push_back(config.tokens_path);
  }
  argv.insert(argv.end(), config.extra_args.begin(), config.extra_args.end());
  const int log_fd =
      ::open(config.log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0)
    return Status::IOError("cannot open " + config.log_path + ": " + std::strerror(errno));
  const pid_t pid = Spawn(argv, log_fd);
  ::close(log_fd);
  if (pid < 0) return Status::IOError(std::string("fork: ") + std::strerror(errno));
  std::unique_ptr<ServerProcess> process(new ServerProcess(pid, 0));
  const auto deadline = Clock::now() + ready_timeout;
  while (Clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      process->pid_ = -1;
      return Status::Internal("runledger serve exited early (status " + std::to_string(status) +
                              "):\n" + Tail(ReadFile(config.log_path)));
    }
    if (process->port_ == 0) process->port_ = ListeningPort(ReadFile(config.log_path));
    if (process->port_ != 0) {
      HttpConnection probe(process->port_, "", std::chrono::milliseconds(1000));
      if (probe.Send("GET", "/healthz").ok()) return process;
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  process->Kill();
  return Status::Unavailable("runledger serve did not come up in time:\n" +
                             Tail(ReadFile(config.log_path)));
}

ServerProcess::~ServerProcess() { Kill(); }

void ServerProcess::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

Status ServerProcess::Stop(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return Status::Internal("the server is not running");
  ::kill(pid_, SIGTERM);
  const auto deadline = Clock::now() + timeout;
  int status = 0;
  while (::waitpid(pid_, &status, WNOHANG) == 0) {
    if (Clock::now() >= deadline) {
      Kill();
      return Status::Unavailable("the server did not stop within the timeout after SIGTERM");
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  pid_ = -1;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Status::Internal("the server exited with status " + std::to_string(status) +
                            " after SIGTERM");
  }
  return Status::Ok();
}

CommandResult RunCommand(const std::vector<std::string>& argv) {
  CommandResult result;
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return result;
  const pid_t pid = Spawn(argv, pipe_fds[1]);
  ::close(pipe_fds[1]);
  char chunk[4096];
  ssize_t n;
  while ((n = ::read(pipe_fds[0], chunk, sizeof chunk)) > 0)
    result.output.append(chunk, static_cast<size_t>(n));
  ::close(pipe_fds[0]);
  if (pid < 0) return result;
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

Memory ReadMemory(pid_t pid) {
  Memory memory;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("VmRSS:")) memory.rss_kib = std::atol(line.c_str() + 6);
    if (line.starts_with("VmHWM:")) memory.hwm_kib = std::atol(line.c_str() + 6);
  }
  return memory;
}

long OpenFds(pid_t pid, bool sockets_only) {
  const std::string path = "/proc/" + std::to_string(pid) + "/fd";
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) return -1;
  long count = 0;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    if (sockets_only) {
      char target[64];
      const ssize_t n = ::readlink((path + "/" + entry->d_name).c_str(), target, sizeof target - 1);
      if (n <= 0 || std::string_view(target, static_cast<size_t>(n)).substr(0, 7) != "socket:")
        continue;
    }
    ++count;
  }
  ::closedir(dir);
  return count;
}

}  // namespace runledger::tools::reliability
