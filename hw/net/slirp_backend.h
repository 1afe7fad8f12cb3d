// User-mode networking (QEMU's -netdev user) on libslirp, driven by the EventLoop. The guest
// gets DHCP, DNS and NAT to the host's network; 10.0.2.2 reaches the host's loopback, and
// hostfwd= rules forward host ports to the guest.
//
// libslirp is not thread-safe: every slirp call runs on the loop thread (frames from the guest
// and rx_ready are posted there), except creation and slirp_cleanup, which run on the thread
// that creates or destroys the backend while no loop handler can touch slirp.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "hw/core/clock.h"
#include "hw/core/event_loop.h"
#include "hw/core/log.h"
#include "hw/net/net_backend.h"
#include "hw/net/netdev_options.h"

namespace orrery::hw::net {

struct SlirpBackendConfig {
  /// The clock slirp's TCP and router-advertisement timers run on. QEMU gives slirp its
  /// virtual clock, so a paused machine's connections do not time out; so does Orrery.
  ClockType clock = ClockType::kVirtual;
  /// Frames held for a device with no receive buffers before new ones are dropped.
  size_t rx_queue_limit = 256;
  /// guest_errors: slirp's complaints about guest packets, and receive-queue drops.
  Log* log = nullptr;
};

class SlirpBackend final : public NetBackend {
 public:
  /// Starts slirp and its host forwards. Returns null and sets error (one line) if a hostfwd
  /// port cannot be bound or slirp cannot start. The loop must outlive the backend.
  static std::unique_ptr<SlirpBackend> create(EventLoop& loop, const NetdevUserOptions& options,
                                              std::string& error,
                                              const SlirpBackendConfig& config = {});
  /// Stops slirp (closing its sockets); safe while the loop thread runs.
  ~SlirpBackend() override;

  void receive_from_guest(std::span<const uint8_t> frame) override;
  void set_frame_sink(FrameSink sink) override;
  void rx_ready() override;
  NetStats stats() const override;

  /// slirp's own address (the guest's gateway), in host byte order.
  uint32_t host_addr() const { return host_addr_; }

  struct Core;  // the state loop handlers share (public only for the C callbacks)

 private:
  SlirpBackend(EventLoop& loop, std::shared_ptr<Core> core, uint32_t host_addr)
      : loop_(loop), core_(std::move(core)), host_addr_(host_addr) {}

  EventLoop& loop_;
  std::shared_ptr<Core> core_;
  const uint32_t host_addr_;
};

}  // namespace orrery::hw::net
