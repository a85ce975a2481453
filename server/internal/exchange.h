#pragma once

// The Exchange a session hands to the Handler with each request. It holds
// the session weakly and no asio object: answering after the connection
// (or the server) is gone is a no-op (see PostGate).

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>

#include "server/http.h"
#include "server/internal/sse_stream.h"

namespace runledger::server::internal {

class ServerCore;
class Session;

class ExchangeImpl final : public Exchange {
 public:
  // `seq` numbers the request within its connection.
  ExchangeImpl(std::shared_ptr<ServerCore> core, std::weak_ptr<Session> session,
               std::uint64_t seq);
  // Unanswered: the session answers 500, so the connection never stalls.
  ~ExchangeImpl() override;

  void Send(Response response) override;
  std::shared_ptr<EventStream> StartStream(Response headers) override;
  std::unique_ptr<BodyWriter> StartBody(Response headers) override;
  void Defer(std::function<void()> work) override;

 private:
  // Both kinds of stream: hands `headers` and a new stream to the session.
  std::shared_ptr<SseStream> Start(StreamMode mode, Response headers);
  // Posts the answer (nullopt: abandoned) to the session's strand.
  void PostAnswer(std::optional<Response> response);

  const std::shared_ptr<ServerCore> core_;
  const std::weak_ptr<Session> session_;
  const std::uint64_t seq_;
  std::atomic<bool> answered_{false};
};

}  // namespace runledger::server::internal
