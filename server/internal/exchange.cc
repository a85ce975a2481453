#include "server/internal/exchange.h"

#include <utility>

#include "server/internal/server_core.h"
#include "server/internal/session.h"
#include "server/internal/sse_stream.h"

namespace runledger::server::internal {

ExchangeImpl::ExchangeImpl(std::shared_ptr<ServerCore> core,
                           std::weak_ptr<Session> session,
                           std::uint64_t seq)
    : core_(std::move(core)), session_(std::move(session)), seq_(seq) {}

ExchangeImpl::~ExchangeImpl() {
  if (!answered_.exchange(true)) PostAnswer(std::nullopt);
}

void ExchangeImpl::Send(Response response) {
  if (answered_.exchange(true)) return;
  PostAnswer(std::move(response));
}

std::shared_ptr<EventStream> ExchangeImpl::StartStream(Response headers) {
  return Start(StreamMode::kEvents, std::move(headers));
}

std::unique_ptr<BodyWriter> ExchangeImpl::StartBody(Response headers) {
  return std::make_unique<StreamBodyWriter>(Start(StreamMode::kBody, std::move(headers)));
}

std::shared_ptr<SseStream> ExchangeImpl::Start(StreamMode mode, Response headers) {
  if (answered_.exchange(true) || session_.expired()) {
    return std::make_shared<SseStream>(core_);  // closed from the start
  }
  auto stream = std::make_shared<SseStream>(core_, session_, mode);
  stream->Open();
  const bool posted = Session::Post(
      *core_, session_,
      [seq = seq_, headers = std::move(headers), stream](Session& session) mutable {
        session.OnStreamStart(seq, std::move(headers), std::move(stream));
      });
  if (!posted) stream->Finish(/*discard=*/true);
  return stream;
}

void ExchangeImpl::Defer(std::function<void()> work) {
  Session::Post(*core_, session_, [work = std::move(work)](Session&) { work(); });
}

void ExchangeImpl::PostAnswer(std::optional<Response> response) {
  Session::Post(*core_, session_,
                [seq = seq_, response = std::move(response)](Session& session) mutable {
                  session.OnAnswer(seq, std::move(response));
                });
}

}  // namespace runledger::server::internal
