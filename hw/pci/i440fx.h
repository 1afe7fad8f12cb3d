// The Intel 82441FX PMC (i440FX host bridge), as QEMU's "pc" has it: PCI configuration
// mechanism #1 on ports 0xcf8 (CONFIG_ADDRESS) and 0xcfc-0xcff (CONFIG_DATA), and function 00.0
// (8086:1237 rev 2) with the PAM shadow-RAM attribute registers (0x59-0x5f) and SMRAM (0x72).
//
// PAM: the bridge only keeps the registers; what a segment's read/write enables mean for the
// memory map (ROM or RAM underneath) is the board's, told through a callback on every change.
// SMM is not modelled: SMRAM's bits are stored and an attempt to open or enable SMRAM is named
// under -d unimp.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>

#include "hw/core/log.h"
#include "hw/core/mmio.h"
#include "hw/core/resettable.h"
#include "hw/pci/pci_bus.h"
#include "hw/pci/pci_device.h"

namespace orrery::hw::pci {

/// One PAM segment: where it is and whether reads/writes go to DRAM (otherwise to PCI/ROM).
struct PamSegment {
  uint64_t base = 0;
  uint64_t size = 0;
  bool read_dram = false;
  bool write_dram = false;
};

/// 0xf0000-0xfffff (PAM0's high nibble), then 0xc0000-0xeffff in twelve 16 KiB segments
/// (PAM1..PAM6, low nibble first).
inline constexpr unsigned kPamSegmentCount = 13;

/// Function 00.0 of the 82441FX.
class I440fxFunction : public PciDevice {
 public:
  static constexpr unsigned kPam0 = 0x59, kPamCount = 7, kSmram = 0x72;
  static constexpr uint8_t kSmramDOpen = 1 << 6, kSmramDCls = 1 << 5, kSmramDLck = 1 << 4,
                           kSmramGSmrame = 1 << 3, kSmramCBaseSeg = 0x02;
  /// Called with each segment whose attributes changed (holding only the bridge's PAM lock:
  /// the callback must not access this function's configuration space).
  using PamCallback = std::function<void(unsigned index, const PamSegment& segment)>;

  I440fxFunction(const AddressSpace& as, Log& log);

  void set_pam_callback(PamCallback cb) { pam_cb_ = std::move(cb); }
  /// A segment's current attributes (index < kPamSegmentCount).
  PamSegment pam_segment(unsigned index);
  void reset() override;

 protected:
  void config_written(unsigned offset, unsigned size) override;

 private:
  /// Compares the PAM registers against the last state told and calls the callback.
  void update_pam();

  PamCallback pam_cb_;
  std::mutex pam_mu_;                          // serializes update_pam and the SMRAM lock
  std::array<uint8_t, kPamCount> pam_seen_{};  // under pam_mu_
  bool smram_locked_ = false;                  // D_LCK was set; under pam_mu_
  uint8_t smram_locked_value_ = 0;             // under pam_mu_
};

/// CONFIG_ADDRESS/CONFIG_DATA at ports 0xcf8-0xcff (map it at 0xcf8, 8 bytes). Byte 0xcf9 is
/// the PIIX3's reset control register, which shares the dword: byte accesses there go to the
/// device given to set_reset_control.
class I440fxConfigPorts : public MmioDevice, public Resettable {
 public:
  static constexpr uint64_t kSize = 8;
  static constexpr uint32_t kEnable = 1u << 31;

  I440fxConfigPorts(PciBus& bus, Log& log) : bus_(bus), log_(log) {}
  void set_reset_control(MmioDevice& rcr) { rcr_ = &rcr; }
  uint32_t config_address() const { return addr_.load(std::memory_order_relaxed); }
  void reset() override { addr_.store(0, std::memory_order_relaxed); }

  MemResult read(uint64_t offset, unsigned size, uint64_t& value) override;
  MemResult write(uint64_t offset, unsigned size, uint64_t value) override;
  AccessRules valid() const override { return {1, 4, false}; }
  AccessRules impl() const override { return {1, 4, false}; }

 private:
  PciBus& bus_;
  Log& log_;
  MmioDevice* rcr_ = nullptr;
  std::atomic<uint32_t> addr_{0};  // CONFIG_ADDRESS; a guest race between vCPUs is its own
};

}  // namespace orrery::hw::pci
