// The vhost-user-blk backend: serves one BlockBackend to one vhost-user frontend at a time
// (QEMU, cloud-hypervisor...) over a connected unix socket. Orrery's own virtio-blk device and
// virtqueue run unchanged over the frontend's memory table, which becomes an AddressSpace of
// fd-backed RAM regions; only the transport differs (kick and call eventfds instead of
// registers and interrupts).
//
// Threads: the socket and each queue's kick eventfd are sources on one EventLoop (messages and
// kicks run on the loop thread); requests run on the BlockBackend's workers, whose completions
// signal the call eventfds. A protocol error (malformed message, bad ring address or memory
// region) is logged on stderr and drops the connection; requests in flight finish first, so
// a frontend that reconnects finds every completed write in the image.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "hw/block/backend.h"
#include "hw/core/event_loop.h"
#include "hw/core/log.h"
#include "hw/virtio/vhost_user/protocol.h"
#include "hw/virtio/virtio_blk.h"

namespace orrery::hw::virtio::vhost_user {

class BlkServer {
 public:
  BlkServer(std::shared_ptr<block::BlockBackend> disk, unsigned num_queues, EventLoop& loop,
            Log& log);
  /// Drops any connection (finishing requests in flight). Must not run on the loop thread.
  ~BlkServer();
  BlkServer(const BlkServer&) = delete;
  BlkServer& operator=(const BlkServer&) = delete;

  /// Serves a connected socket (taking it); false if one is already being served.
  bool attach(UniqueFd sock);
  /// Called on the loop thread after a connection ends (to accept the next one).
  void on_disconnect(std::function<void()> fn) { on_disconnect_ = std::move(fn); }
  bool connected() const;
  /// Waits until no connection is served.
  void wait_disconnected();
  /// Drops the connection from any thread but the loop's, waiting until it is gone.
  void disconnect();
  /// The last protocol error that dropped a connection (for tests).
  std::string last_error() const;

 private:
  struct Ring;
  class Memory;
  class Device;

  void readable(uint32_t events);
  bool handle(Message& m);
  bool reply(const std::vector<uint8_t>& bytes);
  bool fail(const std::string& why);
  void drop();
  bool rebuild_device();
  bool stop_ring(unsigned q, uint16_t& base);
  bool maybe_start(unsigned q);
  void kicked(unsigned q);
  void notify(unsigned q);
  bool translate(uint64_t user_addr, uint64_t& guest_addr) const;
  void stop_all_rings();

  std::shared_ptr<block::BlockBackend> disk_;
  const unsigned num_queues_;
  EventLoop& loop_;
  Log& log_;
  std::function<void()> on_disconnect_;

  // Connection state, touched on the loop thread only (and by attach/disconnect under mu_).
  mutable std::mutex mu_;
  std::condition_variable gone_;
  UniqueFd sock_;
  std::string last_error_;
  uint64_t features_ = 0;
  uint64_t protocol_features_ = 0;
  std::vector<Ring> rings_;
  std::unique_ptr<Memory> memory_;
  std::unique_ptr<Device> device_;
  // Call eventfds, written from completions on worker threads.
  std::mutex call_mu_;
  std::vector<int> call_fds_;
  // A device over no memory that answers GET_FEATURES and GET_CONFIG before SET_MEM_TABLE.
  AddressSpace empty_space_;
  GuestMemory empty_memory_{empty_space_};
  std::unique_ptr<VirtioBlk> template_;
};

}  // namespace orrery::hw::virtio::vhost_user
