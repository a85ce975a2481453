// HTTPS on the real service (ServerOptions::tls): a certificate made by the
// test, clients that verify it, and what plain HTTP, silent clients and old
// TLS versions get on the TLS port. Past the handshake the transport
// behaves as over plain HTTP: keep-alive, pipelining, Expect: 100-continue,
// body limits, SSE, streamed export bodies, and the end of a connection
// (with close_notify).

#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include "ledger/export.h"
#include "server/tls.h"
#include "tests/server/test_client.h"
#include "tests/testing/server_harness.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_certificate.h"

namespace runledger::server {
namespace {

using namespace std::chrono_literals;
using runledger::testing::Append;
using runledger::testing::ClientTlsContext;
using runledger::testing::CreatedBody;
using runledger::testing::CreateRun;
using runledger::testing::HttpClient;
using runledger::testing::IsProblem;
using runledger::testing::kDeadline;
using runledger::testing::MakeTestCertificate;
using runledger::testing::MakeTokens;
using runledger::testing::ParseBody;
using runledger::testing::RunIn;
using runledger::testing::SseEvent;
using runledger::testing::SseReader;
using runledger::testing::StandardTokens;
using runledger::testing::Str;
using runledger::testing::TempDir;
using runledger::testing::TestCertificate;
using runledger::testing::TestServer;
using runledger::testing::TestServerOptions;
using runledger::testing::TokenFor;
using runledger::testing::WaitFor;
namespace ssl = boost::asio::ssl;

class TlsTest : public ::testing::Test {
 protected:
  // Serves HTTPS with a new certificate, loaded from files as `runledger
  // serve` loads them.
  void Start(std::chrono::milliseconds header_timeout =
                 runledger::testing::ShortTimeouts().header_timeout) {
    certificate_ = MakeTestCertificate();
    const std::string cert_path = dir_.str() + "/cert.pem";
    const std::string key_path = dir_.str() + "/key.pem";
    certificate_.WriteFiles(cert_path, key_path);
    auto tls = LoadTlsContext(cert_path, key_path);
    ASSERT_TRUE(tls) << tls.error().message();
    client_tls_.emplace(ClientTlsContext(certificate_));
    TestServerOptions options;
    options.tokens = MakeTokens(StandardTokens());
    options.http.tls = *tls;
    options.http.header_timeout = header_timeout;
    server_ = std::make_unique<TestServer>(std::move(options));
    const Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started.message();
  }

  std::uint16_t port() const { return server_->port(); }

  // An HTTPS client with `name`'s token.
  std::unique_ptr<HttpClient> Https(const std::string& name) {
    return std::make_unique<HttpClient>(port(), TokenFor(name), 0, &*client_tls_);
  }

  // The TLS version a client limited to [min_version, max_version]
  // negotiates; 0 if the handshake fails.
  int NegotiatedVersion(int min_version, int max_version) {
    ssl::context context = ClientTlsContext(certificate_);
    // Level 0 lets this client offer versions OpenSSL would otherwise
    // withhold; refusing them is the server's job here.
    SSL_CTX_set_security_level(context.native_handle(), 0);
    SSL_CTX_set_min_proto_version(context.native_handle(), min_version);
    SSL_CTX_set_max_proto_version(context.native_handle(), max_version);
    boost::asio::io_context io_context;
    ConnectionStream stream(boost::asio::ip::tcp::socket(io_context), &context);
    if (runledger::testing::ConnectTo(stream, port(), io_context)) return 0;
    return SSL_version(stream.tls_stream()->native_handle());
  }

  TempDir dir_;
  TestCertificate certificate_;
  std::optional<ssl::context> client_tls_;  // outlives the clients of a test
  std::unique_ptr<TestServer> server_;
};

TEST_F(TlsTest, AnHttpsClientAppendsReadsAndStreamsARun) {
  Start();
  auto admin = Https("admin");
  SseReader live(port(), "/v1/runs/live", TokenFor("viewer"), {}, &*client_tls_);
  ASSERT_EQ(live.status(), 200u);
  const std::string id = CreateRun(*admin);
  ASSERT_EQ(Append(*admin, id, "started", R"({"worker":"w1"})").result_int(), 201);
  const Response run = admin->Send("GET", "/v1/runs/" + id);
  ASSERT_EQ(run.result_int(), 200);
  EXPECT_EQ(Str(ParseBody(run), "status"), "running");
  EXPECT_EQ(admin->connects(), 1) << "keep-alive over one TLS connection";

  const std::optional<SseEvent> created = live.Next();
  ASSERT_TRUE(created.has_value());
  EXPECT_EQ(created->id, "1");
  EXPECT_EQ(Str(ParseBody(created->data), "id"), id);
  const std::optional<SseEvent> started = live.Next();
  ASSERT_TRUE(started.has_value());
  EXPECT_EQ(Str(ParseBody(started->data), "status"), "running");
}

TEST_F(TlsTest, AStreamThatEndsEndsCleanly) {
  Start();
  auto admin = Https("admin");
  const std::string id = RunIn(*admin, "running");
  ASSERT_EQ(Append(*admin, id, "logged", R"({"level":"info","message":"x"})").result_int(), 201);
  ASSERT_EQ(Append(*admin, id, "ended", R"({"status":"success"})").result_int(), 201);
  SseReader logs(port(), "/v1/runs/" + id + "/logs", TokenFor("viewer"), {}, &*client_tls_);
  ASSERT_EQ(logs.status(), 200u);
  std::vector<SseEvent> events;
  EXPECT_TRUE(logs.WaitForEnd(kDeadline, &events));
  EXPECT_TRUE(logs.ended_cleanly()) << "the last chunk arrived before the end";
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].id, "3");
}

TEST_F(TlsTest, AFinalResponseIsFollowedByCloseNotify) {
  Start();
  auto admin = Https("admin");
  ASSERT_TRUE(admin->WriteRaw(admin->Format("GET", "/v1/me", "", {{"Connection", "close"}})));
  const std::optional<Response> me = admin->Read();
  ASSERT_TRUE(me.has_value());
  EXPECT_EQ(me->result_int(), 200u);
  EXPECT_FALSE(me->keep_alive());
  EXPECT_FALSE(admin->Read().has_value());
  // A TCP close without close_notify reads as "stream truncated".
  EXPECT_EQ(admin->last_error(), "read: end of stream");
}

TEST_F(TlsTest, PipeliningExpectContinueAndBodyLimitsWorkAsOverHttp) {
  Start();
  auto admin = Https("admin");
  // Two requests in one write are answered in order.
  ASSERT_TRUE(admin->WriteRaw(admin->Format("GET", "/v1/me", "", {}) +
                              admin->Format("GET", "/healthz", "", {})));
  const std::optional<Response> me = admin->Read();
  const std::optional<Response> health = admin->Read();
  ASSERT_TRUE(me.has_value() && health.has_value());
  EXPECT_EQ(Str(ParseBody(*me), "name"), "admin");
  EXPECT_EQ(Str(ParseBody(*health), "status"), "ok");

  // Expect: 100-continue: the interim answer, then the body.
  const std::string body = CreatedBody();
  std::string header = admin->Format("POST", "/v1/runs", body, {{"Expect", "100-continue"}});
  header.resize(header.size() - body.size());
  ASSERT_TRUE(admin->WriteRaw(header));
  const std::optional<Response> interim = admin->Read();
  ASSERT_TRUE(interim.has_value());
  EXPECT_EQ(interim->result_int(), 100u);
  ASSERT_TRUE(admin->WriteRaw(body));
  const std::optional<Response> created = admin->Read();
  ASSERT_TRUE(created.has_value());
  EXPECT_EQ(created->result_int(), 201u);

  // A body over the limit is refused while the client is still sending it.
  // The server drains the rest (no reset, so every write succeeds) and the
  // client then reads the 413.
  auto uploader = Https("admin");
  ASSERT_TRUE(
      uploader->WriteRaw(uploader->Format("POST", "/v1/runs", std::string(8 << 20, ' '), {})))
      << uploader->last_error();
  const std::optional<Response> too_big = uploader->Read();
  ASSERT_TRUE(too_big.has_value()) << uploader->last_error();
  EXPECT_TRUE(IsProblem(*too_big, 413, "payload_too_large"));
  EXPECT_EQ(admin->Send("GET", "/healthz").result_int(), 200);
}

TEST_F(TlsTest, AStreamedExportArrivesWholeAndVerifies) {
  Start();
  auto admin = Https("admin");
  for (int i = 0; i < 3; ++i) RunIn(*admin, "success");
  const std::string target = "/v1/export?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z";
  auto verifies = [&](const std::string& bundle) {
    std::istringstream in(bundle);
    ledger::VerifyExportReport report;
    const Status verified =
        ledger::VerifyExport(in, server_->ledger().store().PublicKeyPem(), std::nullopt, &report);
    EXPECT_TRUE(verified.ok()) << verified.message();
    EXPECT_EQ(report.events, 9u);
  };
  auto auditor = Https("auditor");
  const Response chunked = auditor->Send("GET", target);
  ASSERT_EQ(chunked.result_int(), 200u);
  verifies(chunked.body());

  // HTTP/1.0: the body ends with the connection, which the client can only
  // trust because close_notify comes before the TCP close.
  std::string request = auditor->Format("GET", target, "", {});
  request.replace(request.find(" HTTP/1.1\r\n"), 11, " HTTP/1.0\r\n");
  ASSERT_TRUE(auditor->WriteRaw(request));
  const std::optional<Response> until_close = auditor->Read();
  ASSERT_TRUE(until_close.has_value()) << auditor->last_error();
  EXPECT_EQ(until_close->version(), 10u);
  verifies(until_close->body());
}

TEST_F(TlsTest, PlainHttpOnTheTlsPortIsClosedUnansweredAndTheServerCarriesOn) {
  Start();
  HttpClient plain(port(), TokenFor("admin"));
  ASSERT_TRUE(plain.WriteRaw(plain.Format("GET", "/healthz", "", {})));
  EXPECT_FALSE(plain.Read().has_value()) << "an HTTP answer on the TLS port";
  EXPECT_TRUE(WaitFor([&] { return server_->http().open_connections() == 0; }));
  EXPECT_EQ(Https("admin")->Send("GET", "/healthz").result_int(), 200);
}

TEST_F(TlsTest, AClientThatNeverHandshakesIsCutAtTheHeaderTimeout) {
  constexpr std::chrono::milliseconds kHeaderTimeout = 300ms;
  Start(kHeaderTimeout);
  const auto connected = std::chrono::steady_clock::now();
  testing::Client silent(port());  // TCP only: not a byte of TLS
  // The idle timeout (30 s) is far past this wait: only the handshake's
  // deadline can end it.
  EXPECT_TRUE(silent.WaitForClose(testing::kWait));
  EXPECT_GE(std::chrono::steady_clock::now() - connected, kHeaderTimeout);
  EXPECT_TRUE(WaitFor([&] { return server_->http().open_connections() == 0; }));
  EXPECT_EQ(Https("admin")->Send("GET", "/healthz").result_int(), 200);
}

TEST_F(TlsTest, Tls13IsPreferredTls12AcceptedAndOlderVersionsRefused) {
  Start();
  EXPECT_EQ(NegotiatedVersion(TLS1_VERSION, TLS1_3_VERSION), TLS1_3_VERSION);
  EXPECT_EQ(NegotiatedVersion(TLS1_2_VERSION, TLS1_2_VERSION), TLS1_2_VERSION);
  EXPECT_EQ(NegotiatedVersion(TLS1_1_VERSION, TLS1_1_VERSION), 0);
  EXPECT_EQ(NegotiatedVersion(TLS1_VERSION, TLS1_VERSION), 0);
}

TEST_F(TlsTest, AClientThatDoesNotTrustTheCertificateIsRefusedByItsOwnCheck) {
  Start();
  // Another certificate for the same address: verification must fail, so
  // the clients above really did check what they were given.
  const TestCertificate stranger = MakeTestCertificate();
  ssl::context distrustful = ClientTlsContext(stranger);
  HttpClient client(port(), TokenFor("admin"), 0, &distrustful);
  EXPECT_FALSE(client.WriteRaw(""));
  EXPECT_NE(client.last_error().find("certificate verify failed"), std::string::npos)
      << client.last_error();
}

}  // namespace
}  // namespace runledger::server
