// Test helper: plays a virtio driver (as Linux's does) against Orrery's devices. Descriptor and
// available-ring writes for any transport, and virtio-mmio register access.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>

#include "hw/core/guest_memory.h"
#include "hw/virtio/virtio_device.h"
#include "hw/virtio/virtio_mmio.h"

namespace orrery::hw::test {

/// Writes descriptor i of the table at `table`.
inline void write_desc(const GuestMemory& mem, uint64_t table, uint16_t i, uint64_t addr,
                       uint32_t len, uint16_t flags, uint16_t next = 0) {
  EXPECT_TRUE(mem.store(table + 16 * i, addr));
  EXPECT_TRUE(mem.store(table + 16 * i + 8, len));
  EXPECT_TRUE(mem.store(table + 16 * i + 12, flags));
  EXPECT_TRUE(mem.store(table + 16 * i + 14, next));
}

/// Makes chain `head` available in the ring of `size` entries at `avail`, whose index the
/// caller keeps in `idx`. With event_idx, used_event asks for an interrupt once it is used.
inline void make_available(const GuestMemory& mem, uint64_t avail, uint16_t size, uint16_t& idx,
                           uint16_t head, bool set_used_event = false) {
  if (set_used_event) {
    EXPECT_TRUE(mem.store<uint16_t>(avail + 4 + 2 * size, idx));
  }
  EXPECT_TRUE(mem.store<uint16_t>(avail + 4 + 2 * (idx % size), head));
  EXPECT_TRUE(mem.store<uint16_t>(avail + 2, ++idx));
}

/// virtio-mmio registers (virtio 1.2, 4.2.2) as the driver uses them.
struct MmioRegs {
  virtio::VirtioMmio& mmio;

  uint32_t rd(uint64_t off) {
    uint64_t v = 0;
    EXPECT_EQ(mmio.read(off, 4, v), MemResult::Ok);
    return uint32_t(v);
  }
  void wr(uint64_t off, uint32_t v) { EXPECT_EQ(mmio.write(off, 4, v), MemResult::Ok); }
  uint64_t features() {
    wr(0x14, 0);
    uint64_t lo = rd(0x10);
    wr(0x14, 1);
    return lo | uint64_t(rd(0x10)) << 32;
  }
  /// Reset, ACKNOWLEDGE, DRIVER, the feature words, FEATURES_OK; true if the device kept it.
  bool negotiate(uint64_t want) {
    wr(0x70, 0);
    wr(0x70, virtio::kStatusAcknowledge);
    wr(0x70, virtio::kStatusAcknowledge | virtio::kStatusDriver);
    wr(0x24, 0);
    wr(0x20, uint32_t(want));
    wr(0x24, 1);
    wr(0x20, uint32_t(want >> 32));
    wr(0x70, virtio::kStatusAcknowledge | virtio::kStatusDriver | virtio::kStatusFeaturesOk);
    return rd(0x70) & virtio::kStatusFeaturesOk;
  }
  /// Configures and enables queue q; false if its maximum size is below `size`.
  bool setup_queue(unsigned q, uint16_t size, uint64_t desc, uint64_t avail, uint64_t used) {
    wr(0x30, q);
    if (rd(0x34) < size) return false;
    wr(0x38, size);
    wr(0x80, uint32_t(desc));
    wr(0x84, uint32_t(desc >> 32));
    wr(0x90, uint32_t(avail));
    wr(0x94, uint32_t(avail >> 32));
    wr(0xa0, uint32_t(used));
    wr(0xa4, uint32_t(used >> 32));
    wr(0x44, 1);
    return true;
  }
  void driver_ok() {
    wr(0x70, virtio::kStatusAcknowledge | virtio::kStatusDriver | virtio::kStatusFeaturesOk |
                 virtio::kStatusDriverOk);
  }
};

}  // namespace orrery::hw::test
