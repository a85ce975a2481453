#pragma once

// A small blocking HTTP/1.1 client over POSIX sockets for the reliability
// tools: one keep-alive connection to 127.0.0.1:port, every call bounded by
// a deadline, no exceptions. It also exposes the raw socket operations a
// hostile client needs (connect without sending, trickle bytes, never read).
//
// Not thread-safe: one HttpConnection per thread.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace runledger::tools::reliability {

struct HttpResponse {
  // 0 when the exchange failed at the transport (see `error`).
  unsigned status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string error;  // transport failure: connect, reset, EOF, timeout

  bool ok() const { return status != 0; }
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? "" : it->second;
  }
};

using HeaderList = std::vector<std::pair<std::string, std::string>>;

class HttpConnection {
 public:
  // `token` (if not empty) goes out as "Authorization: Bearer <token>".
  HttpConnection(std::uint16_t port, std::string token = "",
                 std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // Points later requests at another port (a restarted server); closes.
  void Retarget(std::uint16_t port);

  // Sends one request and reads its whole answer. A body goes out with
  // `content_type` (application/json unless given). Connects first if the
  // connection is closed; never retries (a harness must know exactly which
  // requests may have reached the server). After a transport failure, or an
  // answer with "Connection: close", the connection is closed.
  HttpResponse Send(std::string_view method, std::string_view target, std::string_view body = {},
                    const HeaderList& headers = {},
                    std::string_view content_type = "application/json");

  // --- raw access --------------------------------------------------------------
  // Opens the connection (if closed); `receive_buffer_bytes` > 0 shrinks
  // SO_RCVBUF first. False on failure (see last_error()).
  bool Connect(int receive_buffer_bytes = 0);
  // Writes all of `bytes` within the timeout.
  bool WriteAll(std::string_view bytes);
  // True if the peer has closed (EOF or reset) within `wait`; data that
  // arrives meanwhile is read and discarded.
  bool PeerClosed(std::chrono::milliseconds wait);
  // Reads and discards whatever is readable now; false once the peer closed.
  bool Drain();
  void Close();
  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  const std::string& last_error() const { return last_error_; }

 private:
  HttpResponse ReadResponse(std::chrono::steady_clock::time_point deadline, bool head);
  // Reads more bytes into buffer_; false on EOF, error or deadline.
  bool Fill(std::chrono::steady_clock::time_point deadline);
  bool WriteUntil(std::string_view bytes, std::chrono::steady_clock::time_point deadline);

  std::uint16_t port_;
  std::string token_;
  std::chrono::milliseconds timeout_;
  int fd_ = -1;
  std::string buffer_;
  std::string last_error_;
};

// Raises RLIMIT_NOFILE to its hard limit (for thousands of idle
// connections); returns the new soft limit.
long RaiseOpenFileLimit();

}  // namespace runledger::tools::reliability
