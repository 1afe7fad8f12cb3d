// A PCI bus (bus 0 of a host bridge; no bridges yet): up to 32 slots of 8 functions, their
// configuration space, the decode of their BARs inside the host bridge's memory and I/O windows,
// and the four INTx lines. Shared by every board's host bridge (ECAM on virt, 0xcf8/0xcfc on a
// PC).
//
// BAR decode: each window is a container region that the board maps (virt: in guest memory;
// pc: in pieces of the I/O-port space through aliases). Every enabled BAR is an alias of its
// function's MMIO region inside that container, moved, enabled and disabled as the guest writes
// the BAR or the command register, so the softmmu reaches the function without a decode table.
// A BAR is visible only inside its window (clipped to it): one programmed over RAM or outside
// the window decodes nothing. Overlapping BARs resolve by priority (the higher devfn and BAR
// number wins); what no BAR covers is a master abort that reads all-ones.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "hw/core/address_space.h"
#include "hw/core/irq.h"
#include "hw/core/log.h"
#include "hw/core/mmio.h"
#include "hw/core/resettable.h"
#include "hw/pci/pci_device.h"

namespace orrery::hw::pci {

inline constexpr unsigned kNumDevfn = 256;

constexpr unsigned pci_devfn(unsigned slot, unsigned fn) {
  return slot << 3 | fn;
}

/// The INTx line (0..3 = A..D) a function's pin (1..4) in a slot drives: the standard
/// swizzle, as QEMU's gpex and the device tree's interrupt-map use it.
constexpr unsigned pci_swizzle(unsigned slot, unsigned pin) {
  return (slot + pin - 1) % 4;
}

/// The plain MSI: a 4-byte write of the data into an address space (virt's GICv2m doorbell).
class MemoryMsiSink final : public MsiSink {
 public:
  explicit MemoryMsiSink(const AddressSpace& as) : as_(as) {}
  bool deliver_msi(const MsiMessage& msg) override;

 private:
  const AddressSpace& as_;
};

/// An interrupt controller's MSI doorbell that must know which function wrote (the GICv3 ITS
/// takes the DeviceID from the PCI requester ID). Kept minimal until MmioDevice accesses carry
/// their requester.
class MsiDoorbell {
 public:
  /// A message write of data at offset into the doorbell's region by requester_id (bus << 8 |
  /// devfn).
  virtual void msi_write(uint32_t requester_id, uint64_t offset, uint32_t data) = 0;

 protected:
  ~MsiDoorbell() = default;
};

class PciBus : public Resettable {
 public:
  /// mem_base/mem_size: the bus addresses the memory window covers (identity-mapped on virt);
  /// the I/O window covers ports io_base..io_base+io_size-1 (offset 0 of io_window() is io_base:
  /// 0 on virt, above the ISA ports on a PC).
  PciBus(Log& log, uint64_t mem_base, uint64_t mem_size, uint64_t io_size, uint64_t io_base = 0);
  PciBus(const PciBus&) = delete;
  PciBus& operator=(const PciBus&) = delete;

  /// Plugs a function (before the guest runs); empty string or why not.
  std::string plug(PciDevice& dev, unsigned devfn);
  PciDevice* device(unsigned devfn) const { return devfn < kNumDevfn ? devs_[devfn] : nullptr; }
  /// The lowest free slot from `first`, or -1.
  int free_slot(unsigned first) const;

  /// Configuration accesses; absent functions read all-ones and ignore writes.
  uint32_t config_read(unsigned devfn, unsigned offset, unsigned size);
  void config_write(unsigned devfn, unsigned offset, unsigned size, uint32_t value);

  /// The containers a board maps at its windows (offset 0 is mem_base / io_base). Each is
  /// mapped once, directly or through aliases.
  MemoryRegion& mem_window() { return *mem_region_; }
  MemoryRegion& io_window() { return *io_region_; }

  /// The bus's INTA..INTD outputs.
  IrqLine& intx(unsigned n) { return intx_[n]; }

  /// Machine reset of every function.
  void reset() override;

  /// Registers a region through which the guest reaches this bus's functions (the windows'
  /// BARs are registered already; host bridges add their configuration regions). MSI writes aimed
  /// at them are refused: a function would re-enter itself or another function's locks.
  void add_own_region(const MmioDevice& dev) { own_regions_.push_back(&dev); }
  bool owns_region(const MmioDevice* dev) const;

  /// Where the functions' MSI/MSI-X messages go (the board's interrupt fabric: virt's
  /// MemoryMsiSink, the pc's APIC bus). Without one (bare buses in tests) a message is written
  /// into the function's address space as MemoryMsiSink does.
  void set_msi_sink(MsiSink* sink) { msi_sink_ = sink; }
  MsiSink* msi_sink() const { return msi_sink_; }
  /// Messages to guest-physical [base, base + size) go to doorbell with the writer's requester
  /// ID instead of through the address space (set before the guest runs).
  void set_msi_doorbell(uint64_t base, uint64_t size, MsiDoorbell* doorbell) {
    doorbell_ = {base, size, doorbell};
  }
  /// The doorbell covering addr, with addr's offset into it; null if none.
  MsiDoorbell* msi_doorbell(uint64_t addr, uint64_t& offset) const {
    if (!doorbell_.target || addr < doorbell_.base || addr - doorbell_.base >= doorbell_.size)
      return nullptr;
    offset = addr - doorbell_.base;
    return doorbell_.target;
  }
  /// The bus number in requester IDs (a single root bus: 0).
  unsigned bus_number() const { return 0; }

  // ---- for functions ----
  /// Moves, maps or unmaps every BAR whose decode changed (a command or BAR write, a reset).
  void remap();
  void set_device_intx(unsigned devfn, unsigned pin, bool level);

 private:
  // Where the guest's accesses that no BAR claims go: a master abort.
  class Unassigned : public MmioDevice {
   public:
    Unassigned(PciBus& bus, bool io) : bus_(bus), io_(io) {}
    MemResult read(uint64_t offset, unsigned size, uint64_t& value) override;
    MemResult write(uint64_t offset, unsigned size, uint64_t value) override;

   private:
    PciBus& bus_;
    bool io_;
  };
  // One BAR of a plugged function: its MMIO region (the whole BAR) and, while it decodes, the
  // alias that shows the part inside the window.
  struct BarRegion {
    std::unique_ptr<MemoryRegion> whole;
    std::unique_ptr<MemoryRegion> view;  // in the window's container; null before first mapped
  };
  void remap_bar_locked(PciDevice& d, unsigned n, BarRegion& b);

  Log& log_;
  uint64_t mem_base_, mem_size_, io_size_, io_base_;
  std::array<PciDevice*, kNumDevfn> devs_{};
  Unassigned mem_unassigned_{*this, false};
  Unassigned io_unassigned_{*this, true};
  // Declared before the BARs: a BAR region leaves its container before the container dies.
  std::unique_ptr<MemoryRegion> mem_region_, io_region_;
  std::unique_ptr<MemoryRegion> mem_abort_, io_abort_;

  std::vector<const MmioDevice*> own_regions_;  // fixed before the guest runs
  MsiSink* msi_sink_ = nullptr;                 // fixed before the guest runs
  struct {
    uint64_t base = 0, size = 0;
    MsiDoorbell* target = nullptr;
  } doorbell_;  // fixed before the guest runs

  // Serializes remaps (lock order: map_mu_, then a function's cfg_mu_, then the address
  // spaces' update locks).
  std::mutex map_mu_;
  std::array<std::array<BarRegion, kNumBars>, kNumDevfn> bars_;  // under map_mu_ once running

  std::mutex irq_mu_;
  std::array<unsigned, 4> intx_count_{};         // asserted functions per line, under irq_mu_
  std::array<bool, kNumDevfn> intx_asserted_{};  // under irq_mu_
  std::array<IrqLine, 4> intx_;
};

}  // namespace orrery::hw::pci
