#include "tools/reliability/http_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace runledger::tools::reliability {
namespace {

using Clock = std::chrono::steady_clock;

// Answers larger than this are a harness bug or a server bug; either way,
// stop reading rather than grow without bound.
constexpr size_t kResponseBytesMax = 512u << 20;

int MillisLeft(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 1 << 30));
}

std::string Lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string Trim(std::string_view text) {
  const size_t first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return "";
  const size_t last = text.find_last_not_of(" \t\r");
  return std::string(text.substr(first, last - first + 1));
}

}  // namespace

HttpConnection::HttpConnection(std::uint16_t port, std::string token,
                               std::chrono::milliseconds timeout)
    : port_(port), token_(std::move(token)), timeout_(timeout) {}

HttpConnection::~HttpConnection() { Close(); }

void HttpConnection::Retarget(std::uint16_t port) {
  Close();
  port_ = port;
}

void HttpConnection::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buffer_.clear();
}

bool HttpConnection::Connect(int receive_buffer_bytes) {
  if (fd_ >= 0) return true;
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    last_error_ = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  if (receive_buffer_bytes > 0) {
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer_bytes, sizeof receive_buffer_bytes);
  }
  const int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port_);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    if (errno != EINPROGRESS) {
      last_error_ = std::string("connect: ") + std::strerror(errno);
      Close();
      return false;
    }
    pollfd p{fd_, POLLOUT, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(timeout_.count()));
    int error = 0;
    socklen_t length = sizeof error;
    if (ready <= 0 || ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &length) != 0 || error != 0) {
      last_error_ = std::string("connect: ") + (ready <= 0 ? "timed out" : std::strerror(error));
      Close();
      return false;
    }
  }
  return true;
}

bool HttpConnection::WriteUntil(std::string_view bytes, Clock::time_point deadline) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      last_error_ = std::string("send: ") + std::strerror(errno);
      return false;
    }
    pollfd p{fd_, POLLOUT, 0};
    if (::poll(&p, 1, MillisLeft(deadline)) <= 0) {
      last_error_ = "send: timed out";
      return false;
    }
  }
  return true;
}

bool HttpConnection::WriteAll(std::string_view bytes) {
  if (fd_ < 0) return false;
  return WriteUntil(bytes, Clock::now() + timeout_);
}

bool HttpConnection::Fill(Clock::time_point deadline) {
  char chunk[64 * 1024];
  for (;;) {
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n > 0) {
      buffer_.append(chunk, static_cast<size_t>(n));
      if (buffer_.size() <= kResponseBytesMax) return true;
      last_error_ = "response too large";
      return false;
    }
    if (n == 0) {
      last_error_ = "connection closed by the server";
      return false;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      last_error_ = std::string("recv: ") + std::strerror(errno);
      return false;
    }
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, MillisLeft(deadline)) <= 0) {
      last_error_ = "recv: timed out";
      return false;
    }
  }
}

bool HttpConnection::PeerClosed(std::chrono::milliseconds wait) {
  if (fd_ < 0) return true;
  const auto deadline = Clock::now() + wait;
  for (;;) {
    buffer_.clear();
    if (!Fill(deadline)) return last_error_.find("timed out") == std::string::npos;
  }
}

bool HttpConnection::Drain() {
  if (fd_ < 0) return false;
  char chunk[64 * 1024];
  for (;;) {
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n > 0) continue;
    if (n == 0) return false;
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
  }
}

HttpResponse HttpConnection::Send(std::string_view method, std::string_view target,
                                  std::string_view body, const HeaderList& headers,
                                  std::string_view content_type) {
  HttpResponse response;
  const auto deadline = Clock::now() + timeout_;
  if (!Connect()) {
    response.error = last_error_;
    return response;
  }
  std::string request;
  request.reserve(256 + body.size());
  request.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: 127.0.0.1:");
  request.append(std::to_string(port_)).append("\r\n");
  if (!token_.empty()) request.append("Authorization: Bearer ").append(token_).append("\r\n");
  if (!body.empty()) {
    request.append("Content-Type: ").append(content_type).append("\r\n");
  }
  if (!body.empty() || method == "POST" || method == "PUT") {
    request.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  }
  for (const auto& [name, value] : headers)
    request.append(name).append(": ").append(value).append("\r\n");
  request.append("\r\n").append(body);
  if (!WriteUntil(request, deadline)) {
    response.error = last_error_;
    Close();
    return response;
  }
  response = ReadResponse(deadline, method == "HEAD");
  if (!response.ok()) {
    Close();
  } else if (Lower(response.header("connection")) == "close") {
    Close();
  }
  return response;
}

HttpResponse HttpConnection::ReadResponse(Clock::time_point deadline, bool head) {
  HttpResponse response;
  auto fail = [&]() {
    response.status = 0;
    response.error = last_error_;
    return response;
  };
  size_t header_end;
  while ((header_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (!Fill(deadline)) return fail();
  }
  const std::string_view header(buffer_.data(), header_end);
  const size_t first_eol = header.find("\r\n");
  const std::string_view status_line = header.substr(0, first_eol);
  if (status_line.size() < 12 || !status_line.starts_with("HTTP/1.")) {
    last_error_ = "malformed status line";
    return fail();
  }
  response.status = static_cast<unsigned>(std::atoi(std::string(status_line.substr(9, 3)).c_str()));
  for (size_t start = first_eol == std::string_view::npos ? header.size() : first_eol + 2;
       start < header.size();) {
    size_t eol = header.find("\r\n", start);
    if (eol == std::string_view::npos) eol = header.size();
    const std::string_view line = header.substr(start, eol - start);
    const size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      response.headers[Lower(line.substr(0, colon))] = Trim(line.substr(colon + 1));
    }
    start = eol + 2;
  }
  buffer_.erase(0, header_end + 4);
  const bool no_body =
      head || response.status == 204 || response.status == 304 || response.status < 200;
  if (no_body) return response;
  if (Lower(response.header("transfer-encoding")).find("chunked") != std::string::npos) {
    for (;;) {
      size_t eol;
      while ((eol = buffer_.find("\r\n")) == std::string::npos) {
        if (!Fill(deadline)) return fail();
      }
      const size_t size = std::strtoull(buffer_.substr(0, eol).c_str(), nullptr, 16);
      buffer_.erase(0, eol + 2);
      if (size == 0) {  // trailer section: up to an empty line
        while ((eol = buffer_.find("\r\n")) == std::string::npos) {
          if (!Fill(deadline)) return fail();
        }
        buffer_.erase(0, eol + 2);
        return response;
      }
      while (buffer_.size() < size + 2) {
        if (!Fill(deadline)) return fail();
      }
      response.body.append(buffer_, 0, size);
      buffer_.erase(0, size + 2);
    }
  }
  const std::string length_text = response.header("content-length");
  if (length_text.empty()) {  // body until EOF
    while (Fill(deadline)) {
    }
    response.body = std::move(buffer_);
    buffer_.clear();
    Close();
    return response;
  }
  const size_t length = std::strtoull(length_text.c_str(), nullptr, 10);
  while (buffer_.size() < length) {
    if (!Fill(deadline)) return fail();
  }
  response.body = buffer_.substr(0, length);
  buffer_.erase(0, length);
  return response;
}

long RaiseOpenFileLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return -1;
  limit.rlim_cur = limit.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &limit);
  ::getrlimit(RLIMIT_NOFILE, &limit);
  return static_cast<long>(limit.rlim_cur);
}

}  // namespace runledger::tools::reliability
