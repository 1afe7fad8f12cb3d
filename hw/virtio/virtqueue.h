// One split virtqueue (virtio 1.2, 2.7), shared by every transport (MMIO, PCI) and by the
// vhost-user backend. The device side: pop a descriptor chain as host iovecs, push it back to
// the used ring, decide whether the driver wants an interrupt (EVENT_IDX or flags).
//
// Everything read from guest memory is checked. A malformed ring or chain (an index out of
// range, a loop, a zero length, an address outside RAM, a writable descriptor before a readable
// one, a nested indirect table) breaks the queue: it is logged once under -d guest_errors, pop()
// returns Broken until the queue is stopped, and the transport sets DEVICE_NEEDS_RESET.
//
// A queue is used by one thread at a time (its device's); the driver runs concurrently on vCPUs,
// so ring indices are read with acquire and published with release ordering.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <string>
#include <vector>

#include "hw/core/guest_memory.h"
#include "hw/core/log.h"

namespace orrery::hw::virtio {

/// A popped descriptor chain: device-readable buffers (out) then device-writable ones (in).
struct VirtqElement {
  uint16_t head = 0;
  std::vector<iovec> out;
  std::vector<iovec> in;
  std::vector<GuestRange> in_ranges;  // the guest memory behind `in`, in order
  uint64_t out_bytes = 0;
  uint64_t in_bytes = 0;

  void clear();
  /// Copies up to dst.size() bytes of the readable buffers starting at offset; returns the count.
  size_t read_out(uint64_t offset, std::span<uint8_t> dst) const;
  /// Copies src into the writable buffers starting at offset; returns the count that fit.
  size_t write_in(uint64_t offset, std::span<const uint8_t> src) const;
};

/// Where the driver put the three parts of the ring, and its size.
struct VirtqLayout {
  uint64_t desc = 0;
  uint64_t avail = 0;
  uint64_t used = 0;
  uint16_t size = 0;
};

class Virtqueue {
 public:
  static constexpr uint32_t kMaxSize = 32768;  // split rings (virtio 1.2, 2.7)

  Virtqueue(const GuestMemory& mem, Log& log, std::string name);
  Virtqueue(const Virtqueue&) = delete;
  Virtqueue& operator=(const Virtqueue&) = delete;

  /// Maps the rings when the driver enables the queue. False with the reason if the layout is
  /// unusable (size not a power of two, misaligned, not in RAM); the queue is then broken.
  bool start(const VirtqLayout& layout, bool event_idx);
  /// Forgets the rings and any error (device reset, queue disable).
  void stop();
  /// Continues a ring another device instance served (vhost-user SET_VRING_BASE): the next
  /// chain taken is last_avail, and the used index is the one already in the ring.
  void resume(uint16_t last_avail);
  bool running() const { return running_; }
  bool broken() const { return broken_; }
  const std::string& error() const { return error_; }

  enum class Pop : uint8_t { Empty, Element, Broken };
  /// Takes the next available chain. Element: e holds it and must be pushed back.
  Pop pop(VirtqElement& e);
  /// Returns a chain to the driver with `written` bytes written into its writable buffers
  /// (clamped to their size), and publishes it (with every chain staged before it).
  void push(const VirtqElement& e, uint32_t written);
  /// Like push, but the driver does not see the chain until publish(): a frame spread over
  /// several chains (virtio-net's mergeable buffers) must appear all at once.
  void stage(const VirtqElement& e, uint32_t written);
  /// Makes the staged chains visible to the driver.
  void publish();
  /// Gives back the last n chains popped and not pushed; the next pops return them again.
  void unpop(uint16_t n);
  /// How many chains the driver has made available that the device has not taken.
  uint16_t available() const;
  /// Whether the driver wants an interrupt for what was pushed since the last call.
  bool should_notify();
  /// Asks the driver to kick (true) or not to bother (false) when it adds buffers.
  void set_kicks_wanted(bool wanted);
  /// How many chains the device has taken (the shadow of avail->idx it has consumed).
  uint16_t last_avail() const { return last_avail_; }

 private:
  struct Desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
  };
  static_assert(sizeof(Desc) == 16);

  bool fail(const std::string& why);
  bool map_ring(uint64_t addr, uint64_t len, uint64_t align, const char* what, uint8_t*& host);
  bool add_buffer(VirtqElement& e, const Desc& d, bool& seen_writable);
  bool walk_chain(uint16_t head, VirtqElement& e);
  uint16_t avail_idx() const;

  const GuestMemory& mem_;
  Log& log_;
  std::string name_;
  VirtqLayout layout_;
  bool event_idx_ = false;
  bool running_ = false;
  bool broken_ = false;
  std::string error_;
  uint8_t* desc_ = nullptr;
  uint8_t* avail_ = nullptr;
  uint8_t* used_ = nullptr;
  uint16_t last_avail_ = 0;
  uint16_t used_idx_ = 0;    // published
  uint16_t staged_idx_ = 0;  // written to the ring, published up to used_idx_
  uint16_t signalled_used_ = 0;
  bool signalled_valid_ = false;
  bool pushed_ = false;         // something was pushed since the last should_notify()
  std::vector<Desc> indirect_;  // scratch copy of an indirect table
};

}  // namespace orrery::hw::virtio
