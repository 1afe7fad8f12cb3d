// MSI-X (PCI Local Bus 3.0, 6.8.2): the vector table and pending-bit array a function exposes
// in one of its BARs, and message delivery. A vector fires as a 4-byte write of its data to its
// address in the guest's physical address space (e.g. a GICv2m frame); while the vector or the
// whole function is masked the event is remembered in the PBA and sent on unmask.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include "hw/core/log.h"
#include "hw/core/mmio.h"
#include "hw/pci/pci_device.h"

namespace orrery::hw::pci {

class Msix : public MmioDevice {
 public:
  static constexpr unsigned kEntrySize = 16;
  static constexpr uint16_t kNoVector = 0xffff;

  /// The table at offset 0 of its BAR, the PBA at pba_offset.
  Msix(PciDevice& dev, Log& log, unsigned vectors, uint32_t pba_offset);

  unsigned vectors() const { return unsigned(table_.size() / kEntrySize); }
  uint32_t pba_offset() const { return pba_offset_; }
  /// The BAR size that holds table and PBA (a power of two, at least 4 KiB).
  uint64_t bar_size() const;

  /// The capability's message control after a configuration write (enable, function mask):
  /// sends what became unmasked.
  void control_written(uint16_t control);
  bool enabled() const { return enabled_.load(std::memory_order_acquire); }
  /// Signals vector v (ignored if out of range).
  void notify(unsigned v);
  /// Machine reset: every vector masked, nothing pending, MSI-X disabled.
  void reset();

  // MmioDevice: the table (4- or 8-byte accesses) and the read-only PBA.
  MemResult read(uint64_t offset, unsigned size, uint64_t& value) override;
  MemResult write(uint64_t offset, unsigned size, uint64_t value) override;
  AccessRules valid() const override { return {4, 8, false}; }
  AccessRules impl() const override { return {4, 4, false}; }

 private:
  bool masked_locked(unsigned v) const;
  void deliver_pending_locked();

  PciDevice& dev_;
  Log& log_;
  uint32_t pba_offset_;
  std::mutex mu_;
  std::vector<uint8_t> table_;  // under mu_
  std::vector<uint64_t> pba_;   // under mu_
  std::atomic<bool> enabled_{false};
  bool function_masked_ = false;  // under mu_
};

}  // namespace orrery::hw::pci
