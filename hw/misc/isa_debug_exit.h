// QEMU's isa-debug-exit: a port device that ends the emulator when the guest writes to it, so
// bare-metal test programs can report a result as the exit status. A write of value v exits
// with status (v << 1) | 1 (as a process status, its low 8 bits), exactly as QEMU does; reads
// return 0.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <utility>

#include "hw/core/mmio.h"

namespace orrery::hw {

/// -device isa-debug-exit[,iobase=N][,iosize=N]: QEMU's defaults 0x501 and 2.
struct IsaDebugExitConfig {
  uint16_t iobase = 0x501;
  uint16_t iosize = 2;
};

/// Parses the -device properties (numbers in C notation: 0xf4, 244); the port range must lie in
/// the 64 KiB I/O-port space. Empty on success, else one line naming the property.
std::string parse_isa_debug_exit(std::span<const std::pair<std::string, std::string>> props,
                                 IsaDebugExitConfig& out);

class IsaDebugExit final : public MmioDevice {
 public:
  /// on_exit receives the exit status; it is called on the vCPU thread that wrote.
  explicit IsaDebugExit(std::function<void(int)> on_exit) : on_exit_(std::move(on_exit)) {}

  /// The status a write of value makes the emulator exit with.
  static int exit_status(uint64_t value) { return int(((value << 1) | 1) & 0xff); }

  MemResult read(uint64_t offset, unsigned size, uint64_t& value) override {
    value = 0;
    return MemResult::Ok;
  }
  MemResult write(uint64_t offset, unsigned size, uint64_t value) override {
    on_exit_(exit_status(value));
    return MemResult::Ok;
  }
  // Byte, word and dword IN/OUT reach the device whole, at any port of its range.
  AccessRules valid() const override { return {1, 4, true}; }
  AccessRules impl() const override { return {1, 4, true}; }

 private:
  std::function<void(int)> on_exit_;
};

}  // namespace orrery::hw
