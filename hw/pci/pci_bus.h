// A PCI bus (bus 0 of a host bridge; no bridges yet): up to 32 slots of 8 functions, their
// configuration space, the decode of their BARs inside the host bridge's memory and I/O windows,
// and the four INTx lines. Shared by every board's host bridge (ECAM on virt, 0xcf8/0xcfc on a
// PC).
//
// BAR decode: each window is one MMIO region on the board; an access is dispatched to the BAR
// that covers it in a table rebuilt whenever a command register or BAR changes. The table is an
// immutable snapshot swapped under a mutex, so a vCPU reprogramming a BAR never races another
// vCPU's lookup. A BAR is visible only inside its window: one programmed over RAM or outside the
// window decodes nothing.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

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

  /// The regions a board maps at its windows.
  MmioDevice& mem_window() { return mem_window_; }
  MmioDevice& io_window() { return io_window_; }

  /// The bus's INTA..INTD outputs.
  IrqLine& intx(unsigned n) { return intx_[n]; }

  /// Machine reset of every function.
  void reset() override;

  /// Registers a region through which the guest reaches this bus's functions (the windows are
  /// registered already; host bridges add their configuration regions). MSI writes aimed at
  /// them are refused: a function would re-enter itself or another function's locks.
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
  /// Rebuilds the decode tables from every function's BARs.
  void remap();
  void set_device_intx(unsigned devfn, unsigned pin, bool level);

 private:
  struct Decode {
    uint64_t addr = 0;
    uint64_t size = 0;
    MmioDevice* dev = nullptr;
  };
  using Table = std::vector<Decode>;
  class Window : public MmioDevice {
   public:
    Window(PciBus& bus, bool io) : bus_(bus), io_(io) {}
    MemResult read(uint64_t offset, unsigned size, uint64_t& value) override;
    MemResult write(uint64_t offset, unsigned size, uint64_t value) override;

   private:
    PciBus& bus_;
    bool io_;
  };
  MemResult access(bool io, uint64_t offset, unsigned size, uint64_t& value, bool write);
  std::shared_ptr<const Table> table(bool io);

  Log& log_;
  uint64_t mem_base_, mem_size_, io_size_, io_base_;
  std::array<PciDevice*, kNumDevfn> devs_{};
  Window mem_window_{*this, false};
  Window io_window_{*this, true};

  std::vector<const MmioDevice*> own_regions_;  // fixed before the guest runs
  MsiSink* msi_sink_ = nullptr;                 // fixed before the guest runs
  struct {
    uint64_t base = 0, size = 0;
    MsiDoorbell* target = nullptr;
  } doorbell_;  // fixed before the guest runs

  std::mutex map_mu_;
  std::shared_ptr<const Table> mem_table_, io_table_;  // under map_mu_

  std::mutex irq_mu_;
  std::array<unsigned, 4> intx_count_{};         // asserted functions per line, under irq_mu_
  std::array<bool, kNumDevfn> intx_asserted_{};  // under irq_mu_
  std::array<IrqLine, 4> intx_;
};

}  // namespace orrery::hw::pci
