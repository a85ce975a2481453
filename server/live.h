#pragma once

// Fans committed changes out to Server-Sent Events streams. The committer
// thread calls OnChanges after each durable batch; each subscription filters
// and queues frames on its stream (EventStream::Write never blocks, and a
// reader whose backlog passes the bound is disconnected by the transport).
//
// A subscription starts "catching up": frames from live batches are held
// while the handler sends the stored history, then Release() sends the held
// frames past what the catch-up covered, so there is no gap and no repeat.

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "projections/run_projection.h"
#include "server/http.h"

namespace runledger::server {

struct LiveItem {
  const ledger::Event& event;
  const projections::RunChange& change;
};

class Subscription {
 public:
  // Returns the frame for this item, or an empty string to skip it; and
  // whether the stream should close after it (a log stream when its run ends).
  using Format = std::function<std::string(const LiveItem& item, std::uint64_t* id, bool* close_after)>;

  Subscription(std::shared_ptr<EventStream> stream, std::string principal, Format format)
      : stream_(std::move(stream)), principal_(std::move(principal)), format_(std::move(format)) {}

  // Sends held frames whose id is above `sent_through`, then goes live. The
  // catch-up may have read a batch that is stored but not yet delivered:
  // its frames, arriving after this, are dropped by id too.
  void Release(std::uint64_t sent_through);
  void Deliver(const LiveItem& item);
  const std::string& principal() const { return principal_; }
  EventStream& stream() { return *stream_; }

 private:
  void Send(std::uint64_t id, std::string frame, bool close_after);

  std::shared_ptr<EventStream> stream_;
  std::string principal_;
  Format format_;
  std::mutex mutex_;
  bool live_ = false;
  std::uint64_t sent_through_ = 0;
  std::vector<std::tuple<std::uint64_t, std::string, bool>> held_;
};

class LiveHub : public projections::ChangeListener {
 public:
  // Registers a subscription (it is dropped when its stream closes).
  std::shared_ptr<Subscription> Subscribe(std::shared_ptr<EventStream> stream, std::string principal,
                                          Subscription::Format format);
  bool active() const override { return size() > 0; }
  void OnChanges(std::span<const ledger::Event> events,
                 std::span<const projections::RunChange> changes) override;
  // Closes the streams of principals `keep` says no longer exist (token reload).
  void CloseWhere(const std::function<bool(const std::string& principal)>& gone);
  size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::vector<std::weak_ptr<Subscription>> subscriptions_;
};

// "id: <id>\ndata: <json>\n\n"
std::string SseFrame(std::uint64_t id, std::string_view data);

}  // namespace runledger::server
