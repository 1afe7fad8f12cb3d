// The interface every memory-mapped device implements. Devices get their IrqLines and other
// connections at construction; no void* opaque state.
#pragma once

#include <cstdint>

namespace orrery::hw {

enum class MemResult : uint8_t {
  Ok,
  DecodeError,  // nothing at this address
  DeviceError,  // the device refused (bad size, alignment, or a register that faults)
};

/// Which access sizes a device accepts from the guest (valid) or implements (impl).
struct AccessRules {
  unsigned min_size = 1;
  unsigned max_size = 8;
  bool unaligned = false;
};

class MmioDevice {
 public:
  virtual ~MmioDevice() = default;
  virtual MemResult read(uint64_t offset, unsigned size, uint64_t& value) = 0;
  virtual MemResult write(uint64_t offset, unsigned size, uint64_t value) = 0;
  /// What the guest may do; anything else is a DeviceError without calling read/write.
  virtual AccessRules valid() const { return {}; }
  /// What read/write handle; wider guest accesses are split into these, narrower ones are
  /// widened (read-modify for writes is not done: devices that need narrow writes say so).
  virtual AccessRules impl() const { return {}; }
};

}  // namespace orrery::hw
