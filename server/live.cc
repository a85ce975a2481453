#include "server/live.h"

namespace runledger::server {

std::string SseFrame(std::uint64_t id, std::string_view data) {
  std::string frame = "id: " + std::to_string(id) + "\ndata: ";
  frame.append(data);
  frame.append("\n\n");
  return frame;
}

void Subscription::Send(std::uint64_t id, std::string frame, bool close_after) {
  (void)id;
  stream_->Write(std::move(frame));
  if (close_after) stream_->Close();
}

void Subscription::Deliver(const LiveItem& item) {
  std::uint64_t id = 0;
  bool close_after = false;
  std::string frame = format_(item, &id, &close_after);
  if (frame.empty()) return;
  std::lock_guard lock(mutex_);
  if (!live_) {
    held_.emplace_back(id, std::move(frame), close_after);
    return;
  }
  if (id <= sent_through_) return;
  Send(id, std::move(frame), close_after);
}

void Subscription::Release(std::uint64_t sent_through) {
  std::lock_guard lock(mutex_);
  for (auto& [id, frame, close_after] : held_) {
    if (id > sent_through) Send(id, std::move(frame), close_after);
  }
  held_.clear();
  sent_through_ = sent_through;
  live_ = true;
}

std::shared_ptr<Subscription> LiveHub::Subscribe(std::shared_ptr<EventStream> stream,
                                                 std::string principal, Subscription::Format format) {
  auto subscription = std::make_shared<Subscription>(stream, std::move(principal), std::move(format));
  {
    std::lock_guard lock(mutex_);
    subscriptions_.push_back(subscription);
  }
  return subscription;
}

void LiveHub::OnChanges(std::span<const ledger::Event> events,
                        std::span<const projections::RunChange> changes) {
  std::vector<std::shared_ptr<Subscription>> live;
  {
    std::lock_guard lock(mutex_);
    std::erase_if(subscriptions_, [&live](const std::weak_ptr<Subscription>& weak) {
      auto subscription = weak.lock();
      if (!subscription || subscription->stream().closed()) return true;
      live.push_back(std::move(subscription));
      return false;
    });
  }
  if (live.empty()) return;
  for (size_t i = 0; i < events.size() && i < changes.size(); ++i) {
    const LiveItem item{events[i], changes[i]};
    for (auto& subscription : live) subscription->Deliver(item);
  }
}

void LiveHub::CloseWhere(const std::function<bool(const std::string&)>& gone) {
  std::lock_guard lock(mutex_);
  for (auto& weak : subscriptions_) {
    if (auto subscription = weak.lock(); subscription && gone(subscription->principal())) {
      subscription->stream().Close();
    }
  }
}

size_t LiveHub::size() const {
  std::lock_guard lock(mutex_);
  return subscriptions_.size();
}

}  // namespace runledger::server
