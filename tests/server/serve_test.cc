// `runledger serve` as a process (SPEC sections 5 and 7): signals, the
// tokens file reload, the stale-run reaper, local mode's loopback-only
// listening, a data directory held against offline commands, and HTTPS
// with --tls-cert/--tls-key.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <mutex>
#include <thread>

#include "tests/testing/server_harness.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_certificate.h"

extern char** environ;

namespace runledger::server {
namespace {

using namespace std::chrono_literals;
using runledger::testing::ClientTlsContext;
using runledger::testing::CreatedBody;
using runledger::testing::CreateRun;
using runledger::testing::HttpClient;
using runledger::testing::IsProblem;
using runledger::testing::MakeTestCertificate;
using runledger::testing::ParseBody;
using runledger::testing::SseReader;
using runledger::testing::Str;
using runledger::testing::TempDir;
using runledger::testing::TestCertificate;
using runledger::testing::TestToken;
using runledger::testing::TokenFor;
using runledger::testing::WaitFor;

// The PORT of "listening on HOST:PORT" in `text`; 0 if it is not there.
int ListenedPort(const std::string& text) {
  constexpr std::string_view kListening = "listening on ";
  const size_t at = text.find(kListening);
  if (at == std::string::npos) return 0;
  const size_t begin = at + kListening.size();
  const size_t end = text.find_first_of(" ,\n", begin);
  if (end == std::string::npos) return 0;  // the line is still arriving
  const std::string address = text.substr(begin, end - begin);
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon + 1 == address.size() ||
      address.find_first_not_of("0123456789", colon + 1) != std::string::npos) {
    return 0;
  }
  return std::stoi(address.substr(colon + 1));
}

// `runledger <args>` with its output collected (continuously: the server
// logs every request to stderr and must never block on a full pipe).
class Process {
 public:
  explicit Process(std::vector<std::string> args) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) std::abort();  // dup2 clears it in the child
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    args.insert(args.begin(), RUNLEDGER_BINARY);
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, RUNLEDGER_BINARY, &actions, nullptr, argv.data(), environ) != 0)
      pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    reader_ = std::thread([this, fd = fds[0]] {
      char buffer[4096];
      for (ssize_t n; (n = read(fd, buffer, sizeof buffer)) > 0;) {
        std::lock_guard lock(mutex_);
        output_.append(buffer, static_cast<size_t>(n));
      }
      close(fd);
    });
  }
  ~Process() {
    if (pid_ > 0 && !exit_code_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (reader_.joinable()) reader_.join();
  }

  bool started() const { return pid_ > 0; }
  std::string output() const {
    std::lock_guard lock(mutex_);
    return output_;
  }
  // The port of "listening on HOST:PORT"; 0 if it did not say so in time.
  std::uint16_t WaitForPort() {
    int port = 0;
    WaitFor([&] {
      port = ListenedPort(output());
      return port != 0 || Exited();
    });
    return static_cast<std::uint16_t>(port);
  }
  void Signal(int signal) { kill(pid_, signal); }
  // The exit code, once the process ended within `timeout`.
  std::optional<int> WaitForExit(
      std::chrono::milliseconds timeout = runledger::testing::kDeadline) {
    WaitFor([&] { return Exited(); }, timeout);
    // All it wrote is read once the pipe reports its end.
    if (exit_code_ && reader_.joinable()) reader_.join();
    return exit_code_;
  }

 private:
  bool Exited() {
    if (exit_code_) return true;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) != pid_) return false;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return true;
  }

  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  mutable std::mutex mutex_;
  std::string output_;
  std::thread reader_;
};

void WriteTokens(const std::string& path, const std::vector<TestToken>& tokens) {
  const std::string temp = path + ".tmp";
  std::ofstream(temp) << runledger::testing::TokensJson(tokens);
  chmod(temp.c_str(), 0600);
  std::rename(temp.c_str(), path.c_str());
}

class ServeTest : public ::testing::Test {
 protected:
  std::string data() const { return dir_.str() + "/data"; }
  std::string tokens() const { return dir_.str() + "/tokens.json"; }

  TempDir dir_;
};

TEST_F(ServeTest, SighupReloadsTheTokensFileAndClosesStreamsOfGoneTokens) {
  WriteTokens(tokens(), {{"admin", "admin", {}}, {"worker", "worker", {}}});
  Process serve({"serve", "--data", data(), "--listen", "127.0.0.1:0", "--tokens", tokens()});
  const std::uint16_t port = serve.WaitForPort();
  ASSERT_NE(port, 0) << serve.output();
  SseReader worker_stream(port, "/v1/runs/live", TokenFor("worker"));
  SseReader admin_stream(port, "/v1/runs/live", TokenFor("admin"));
  ASSERT_EQ(worker_stream.status(), 200u);
  ASSERT_EQ(admin_stream.status(), 200u);
  WriteTokens(tokens(), {{"admin", "admin", {}}, {"auditor", "auditor", {}}});
  serve.Signal(SIGHUP);
  EXPECT_TRUE(worker_stream.WaitForEnd()) << serve.output();
  HttpClient worker(port, TokenFor("worker"));
  EXPECT_TRUE(IsProblem(worker.Send("GET", "/v1/me"), 401, "unauthorized"));
  HttpClient auditor(port, TokenFor("auditor"));
  EXPECT_EQ(auditor.Send("GET", "/v1/me").result_int(), 200);
  HttpClient admin(port, TokenFor("admin"));
  const std::string id = CreateRun(admin);
  auto event = admin_stream.Next();
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(Str(ParseBody(event->data), "id"), id);
  serve.Signal(SIGTERM);
  EXPECT_EQ(serve.WaitForExit(), 0);
}

TEST_F(ServeTest, SigtermStopsCleanlyAndTheNextServeHasEveryRun) {
  std::vector<std::string> ids;
  {
    Process serve({"serve", "--data", data(), "--listen", "127.0.0.1:0"});
    const std::uint16_t port = serve.WaitForPort();
    ASSERT_NE(port, 0) << serve.output();
    EXPECT_NE(serve.output().find("no --tokens"), std::string::npos) << "local mode is said first";
    HttpClient local(port);
    for (int i = 0; i < 3; ++i) ids.push_back(CreateRun(local));
    // The offline commands refuse the directory the server holds.
    Process rebuild({"rebuild", "--data", data()});
    const std::optional<int> refused = rebuild.WaitForExit();
    ASSERT_TRUE(refused.has_value());
    EXPECT_NE(*refused, 0) << rebuild.output();
    serve.Signal(SIGTERM);
    EXPECT_EQ(serve.WaitForExit(), 0) << serve.output();
    EXPECT_NE(serve.output().find("stopped cleanly"), std::string::npos) << serve.output();
  }
  Process verify({"verify", "--data", data()});
  EXPECT_EQ(verify.WaitForExit(), 0) << verify.output();
  Process serve({"serve", "--data", data(), "--listen", "127.0.0.1:0"});
  const std::uint16_t port = serve.WaitForPort();
  ASSERT_NE(port, 0) << serve.output();
  HttpClient local(port);
  for (const std::string& id : ids)
    EXPECT_EQ(local.Send("GET", "/v1/runs/" + id).result_int(), 200) << id;
  const Response next = local.Send("POST", "/v1/runs", CreatedBody());
  EXPECT_EQ(next["X-Ledger-Position"], "4");
  serve.Signal(SIGINT);
  EXPECT_EQ(serve.WaitForExit(), 0);
}

TEST_F(ServeTest, StaleRunsAreAbortedByTheSystem) {
  Process serve({"serve", "--data", data(), "--listen", "127.0.0.1:0", "--stale-after", "1s"});
  const std::uint16_t port = serve.WaitForPort();
  ASSERT_NE(port, 0) << serve.output();
  HttpClient local(port);
  const std::string id = CreateRun(local);
  ledger::Json run;
  EXPECT_TRUE(WaitFor([&] {
    run = ParseBody(local.Send("GET", "/v1/runs/" + id));
    return Str(run, "status") == "aborted";
  }));
  ASSERT_NE(run.Find("aborted_by"), nullptr);
  EXPECT_EQ(*run.Find("aborted_by"), ParseBody(R"({"kind":"system","id":"stale-run-reaper"})"));
  serve.Signal(SIGTERM);
  EXPECT_EQ(serve.WaitForExit(), 0);
}

TEST_F(ServeTest, WithoutTokensItListensOnLoopbackOnly) {
  Process serve({"serve", "--data", data(), "--listen", "0.0.0.0:0"});
  const std::optional<int> code = serve.WaitForExit();
  ASSERT_TRUE(code.has_value()) << "it served on 0.0.0.0 without --tokens";
  EXPECT_NE(*code, 0);
  EXPECT_NE(serve.output().find("loopback"), std::string::npos) << serve.output();
}

TEST_F(ServeTest, ATokensFileWithARepeatedNameIsRefusedAtStart) {
  WriteTokens(tokens(), {{"ann", "admin", {}}, {"ann", "worker", {}}});
  Process serve({"serve", "--data", data(), "--listen", "127.0.0.1:0", "--tokens", tokens()});
  const std::optional<int> code = serve.WaitForExit();
  ASSERT_TRUE(code.has_value());
  EXPECT_NE(*code, 0);
  EXPECT_NE(serve.output().find("repeated"), std::string::npos) << serve.output();
}

class ServeTlsTest : public ServeTest {
 protected:
  std::string cert() const { return dir_.str() + "/cert.pem"; }
  std::string key() const { return dir_.str() + "/key.pem"; }

  // `serve` with these TLS arguments must exit non-zero before listening,
  // saying `why`.
  void ExpectRefused(std::vector<std::string> tls_args, const std::string& why) {
    std::vector<std::string> args = {"serve", "--data", data(), "--listen", "127.0.0.1:0"};
    args.insert(args.end(), tls_args.begin(), tls_args.end());
    Process serve(args);
    const std::optional<int> code = serve.WaitForExit();
    ASSERT_TRUE(code.has_value()) << "still running with " << tls_args.back();
    EXPECT_NE(*code, 0);
    EXPECT_NE(serve.output().find(why), std::string::npos) << serve.output();
    EXPECT_EQ(serve.output().find("listening on"), std::string::npos) << serve.output();
  }

  TestCertificate certificate_ = MakeTestCertificate();
};

TEST_F(ServeTlsTest, ServesHttpsWithTheGivenCertificateAndKey) {
  certificate_.WriteFiles(cert(), key());
  Process serve({"serve", "--data", data(), "--listen", "127.0.0.1:0", "--tls-cert", cert(),
                 "--tls-key", key()});
  const std::uint16_t port = serve.WaitForPort();
  ASSERT_NE(port, 0) << serve.output();
  EXPECT_NE(serve.output().find("(HTTPS)"), std::string::npos) << serve.output();
  boost::asio::ssl::context client_tls = ClientTlsContext(certificate_);
  HttpClient local(port, "", 0, &client_tls);
  const std::string id = CreateRun(local);
  EXPECT_EQ(local.Send("GET", "/v1/runs/" + id).result_int(), 200);
  serve.Signal(SIGTERM);
  EXPECT_EQ(serve.WaitForExit(), 0) << serve.output();
}

TEST_F(ServeTlsTest, RefusesToStartWithoutUsableCertificateAndPrivateKey) {
  certificate_.WriteFiles(cert(), key());
  ExpectRefused({"--tls-cert", cert()}, "--tls-cert and --tls-key go together");
  ExpectRefused({"--tls-key", key()}, "--tls-cert and --tls-key go together");
  ExpectRefused({"--tls-cert", dir_.str() + "/missing.pem", "--tls-key", key()},
                "cannot read TLS certificate file " + dir_.str() + "/missing.pem");
  ExpectRefused({"--tls-cert", cert(), "--tls-key", dir_.str() + "/missing.pem"},
                "cannot read TLS key file " + dir_.str() + "/missing.pem");

  const std::string garbage = dir_.str() + "/garbage.pem";
  std::ofstream(garbage) << "not a certificate\n";
  chmod(garbage.c_str(), 0600);
  ExpectRefused({"--tls-cert", garbage, "--tls-key", key()},
                "TLS certificate file " + garbage + " holds no usable PEM certificate");
  ExpectRefused({"--tls-cert", cert(), "--tls-key", garbage},
                "TLS key file " + garbage + " holds no unencrypted PEM private key");

  // A key that is not the certificate's.
  const std::string other_key = dir_.str() + "/other-key.pem";
  MakeTestCertificate().WriteFiles(dir_.str() + "/other-cert.pem", other_key);
  ExpectRefused({"--tls-cert", cert(), "--tls-key", other_key},
                "TLS key file " + other_key + " holds no unencrypted PEM private key matching");
}

TEST_F(ServeTlsTest, RefusesAKeyThatGroupOrOthersMayRead) {
  certificate_.WriteFiles(cert(), key());
  for (mode_t mode : {0644, 0640, 0604, 0620}) {
    chmod(key().c_str(), mode);
    ExpectRefused({"--tls-cert", cert(), "--tls-key", key()},
                  "TLS key file " + key() + " is accessible by group or others; chmod 600 it");
  }
}

}  // namespace
}  // namespace runledger::server
