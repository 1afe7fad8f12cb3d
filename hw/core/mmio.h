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

/// Who makes an access and how (QEMU's MemTxAttrs): carried on every device access, so devices
/// that bank registers per CPU (the GICv2 CPU interface, a local APIC) or check a DMA master's
/// id need no thread-local state.
struct MemAttrs {
  enum class Requester : uint8_t {
    None,    // a loader, debugger or test
    Cpu,     // vCPU number id
    Device,  // DMA (and MSI writes) by the device the board numbered id
  };
  Requester requester = Requester::None;
  uint16_t id = 0;
  bool secure = false;  // Arm Secure state / x86 SMM
  bool user = false;    // an unprivileged access (EL0, CPL 3)

  static constexpr MemAttrs cpu(unsigned index) { return {Requester::Cpu, uint16_t(index)}; }
  static constexpr MemAttrs device(unsigned id) { return {Requester::Device, uint16_t(id)}; }
  bool is_cpu() const { return requester == Requester::Cpu; }
  friend bool operator==(const MemAttrs&, const MemAttrs&) = default;
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
  /// The accesses the address space makes: with the requester's attributes. Devices that care
  /// who is accessing override these; the default ignores them.
  virtual MemResult read_attrs(uint64_t offset, unsigned size, uint64_t& value,
                               const MemAttrs& attrs) {
    (void)attrs;
    return read(offset, size, value);
  }
  virtual MemResult write_attrs(uint64_t offset, unsigned size, uint64_t value,
                                const MemAttrs& attrs) {
    (void)attrs;
    return write(offset, size, value);
  }
  /// What the guest may do; anything else is a DeviceError without calling read/write.
  virtual AccessRules valid() const { return {}; }
  /// What read/write handle; wider guest accesses are split into these, narrower ones are
  /// widened (read-modify for writes is not done: devices that need narrow writes say so).
  virtual AccessRules impl() const { return {}; }
};

}  // namespace orrery::hw
