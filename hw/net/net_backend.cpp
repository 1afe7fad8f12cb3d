#include "hw/net/net_backend.h"

namespace orrery::hw::net {

void RxQueue::push(std::span<const uint8_t> frame) {
  if (queue_.empty() && sink_ && sink_(frame)) {
    delivered_.fetch_add(1, std::memory_order_relaxed);
    dropping_ = false;
    return;
  }
  if (queue_.size() >= limit_) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    if (!dropping_ && log_) {
      log_->log(kLogGuestErrors,
                "net: the guest takes no frames; receive queue full (%zu), dropping\n", limit_);
    }
    dropping_ = true;
    return;
  }
  queue_.emplace_back(frame.begin(), frame.end());
}

void RxQueue::flush() {
  while (!queue_.empty() && sink_ && sink_(queue_.front())) {
    queue_.pop_front();
    delivered_.fetch_add(1, std::memory_order_relaxed);
    dropping_ = false;
  }
}

}  // namespace orrery::hw::net
