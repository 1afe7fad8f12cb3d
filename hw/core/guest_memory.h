// Device access to guest memory (DMA). Every device reads, writes and maps guest-physical ranges
// through this one bounds-checked API; ranges may cross RAM regions. Writes tell the address
// space's write observer (the TCG engine drops translated code on those pages).
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>
#include <vector>

#include "hw/core/address_space.h"

namespace orrery::hw {

/// One guest-physical range, as devices keep them to report what they wrote.
struct GuestRange {
  uint64_t addr = 0;
  uint64_t len = 0;
};

class GuestMemory {
 public:
  explicit GuestMemory(const AddressSpace& as, MemAttrs attrs = {}) : as_(as), attrs_(attrs) {}
  /// DMA gated by a switch (a PCI function's bus-master enable): while it is off every read,
  /// write and map fails, as if the memory were absent.
  GuestMemory(const AddressSpace& as, const std::atomic<bool>& enabled, MemAttrs attrs = {})
      : as_(as), enabled_(&enabled), attrs_(attrs) {}

  /// The device making the accesses (MemAttrs::device(id)); devices that are reached through
  /// read_word/write_word (an interrupt controller taking MSI writes) see it.
  void set_attrs(MemAttrs attrs) { attrs_ = attrs; }
  const MemAttrs& attrs() const { return attrs_; }

  /// Copies len bytes at addr; false (nothing guaranteed about out) if any byte is not RAM/ROM
  /// or the range wraps.
  bool read(uint64_t addr, std::span<uint8_t> out) const;
  /// Copies into guest RAM; false if any byte is not RAM (ROM is not writable by devices) or the
  /// range wraps. Nothing is written then.
  bool write(uint64_t addr, std::span<const uint8_t> in) const;

  /// Appends host iovecs covering [addr, addr+len) to out (one per RAM region crossed). For
  /// writing, every byte must be RAM; for reading, RAM or ROM. False (out unchanged) otherwise.
  bool map(uint64_t addr, uint64_t len, bool for_write, std::vector<iovec>& out) const;
  /// Reports bytes written through iovecs from map() (invalidates translated code there).
  void written(uint64_t addr, uint64_t len) const { as_.notify_written(addr, len); }

  /// A little-endian scalar; false if not wholly in RAM/ROM.
  template <class T>
  bool load(uint64_t addr, T& v) const {
    static_assert(std::is_integral_v<T>);
    uint8_t b[sizeof(T)];
    if (!read(addr, b)) return false;
    std::memcpy(&v, b, sizeof(T));  // the host is little-endian, as both guests are
    return true;
  }
  template <class T>
  bool store(uint64_t addr, T v) const {
    static_assert(std::is_integral_v<T>);
    uint8_t b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    return write(addr, b);
  }

  /// One access of 1, 2, 4 or 8 bytes to RAM, ROM or a device, with this memory's attributes:
  /// an MSI write, or a device's access to a peer. Writes to RAM invalidate translated code.
  MemResult read_word(uint64_t addr, unsigned size, uint64_t& value) const;
  MemResult write_word(uint64_t addr, unsigned size, uint64_t value) const;

  const AddressSpace& address_space() const { return as_; }

 private:
  bool allowed() const { return !enabled_ || enabled_->load(std::memory_order_acquire); }

  const AddressSpace& as_;
  const std::atomic<bool>* enabled_ = nullptr;
  MemAttrs attrs_;
};

}  // namespace orrery::hw
