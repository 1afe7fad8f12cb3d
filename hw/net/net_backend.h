// The host side of a guest network card. A device (virtio-net, an emulated NIC) hands the
// backend the Ethernet frames the guest sends, and registers a FrameSink through which the
// backend hands it frames for the guest. Nothing here knows about guests, boards or CPUs.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <span>
#include <vector>

#include "hw/core/log.h"

namespace orrery::hw::net {

/// Offers one frame (Ethernet header onwards, no FCS) to the device. Returns false, without
/// keeping the frame, when the device has no receive buffer for it now; the device then calls
/// NetBackend::rx_ready() once it has room.
using FrameSink = std::function<bool(std::span<const uint8_t>)>;

struct NetStats {
  uint64_t tx_frames = 0;     // frames the guest sent
  uint64_t rx_delivered = 0;  // frames the device took
  uint64_t rx_dropped = 0;    // frames for the guest lost because the queue was full
};

/// receive_from_guest and rx_ready never run the sink on the calling thread (they hand work to
/// the backend's thread), so a device may call them holding the lock its sink takes.
class NetBackend {
 public:
  virtual ~NetBackend() = default;
  /// A frame the guest sent. Any thread; the frame is copied before this returns.
  virtual void receive_from_guest(std::span<const uint8_t> frame) = 0;
  /// Sets where frames for the guest go (null: queue them). The sink runs on the backend's
  /// thread and must not call set_frame_sink itself; it may call receive_from_guest and
  /// rx_ready. Once this returns the previous sink is not running and is never called again,
  /// so a device clears its sink before it goes away.
  virtual void set_frame_sink(FrameSink sink) = 0;
  /// The device can take frames again: queued frames are offered in order. Any thread.
  virtual void rx_ready() = 0;
  /// Counters; any thread.
  virtual NetStats stats() const = 0;
};

/// Frames the device could not take yet: a bounded FIFO in front of a FrameSink. Frames beyond
/// the limit are dropped and counted (TCP retransmits them; QEMU's queue drops the same way).
/// Not thread-safe: its owner calls it on one thread (or under one lock).
class RxQueue {
 public:
  /// log (may be null) gets one guest_errors line when a run of drops starts.
  explicit RxQueue(size_t limit, Log* log = nullptr) : limit_(limit), log_(log) {}

  void set_sink(FrameSink sink) { sink_ = std::move(sink); }
  /// Offers frame to the sink unless older frames wait; otherwise queues a copy, or drops it.
  void push(std::span<const uint8_t> frame);
  /// Offers queued frames in order until the sink refuses one.
  void flush();

  size_t queued() const { return queue_.size(); }
  size_t limit() const { return limit_; }
  uint64_t delivered() const { return delivered_.load(std::memory_order_relaxed); }
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  const size_t limit_;
  Log* const log_;
  FrameSink sink_;
  std::deque<std::vector<uint8_t>> queue_;
  bool dropping_ = false;  // in a run of drops (logged once per run)
  std::atomic<uint64_t> delivered_{0};
  std::atomic<uint64_t> dropped_{0};
};

}  // namespace orrery::hw::net
