// One PCI function with a register-accurate type-0 configuration space (4 KiB, as ECAM exposes
// it): IDs, command/status, BARs with sizing, interrupt line/pin and a capabilities list. Writes
// go through per-byte masks (writable, write-1-to-clear), so read-only fields ignore writes
// exactly as hardware does. A function owns its DMA view, gated by the bus-master bit, and its
// INTx level; the bus it sits on decodes its BARs and routes INTx.
//
// Locking: cfg_mu_ guards the configuration bytes and is a leaf lock except that it is held
// while the INTx level goes to the bus (bus lock, then the interrupt controller). Hooks
// (config_written, intercept_config) run without it.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

#include "hw/core/guest_memory.h"
#include "hw/core/log.h"
#include "hw/core/mmio.h"

namespace orrery::hw::pci {

class PciBus;

// Configuration space offsets and bits (PCI Local Bus 3.0, 6.2).
inline constexpr unsigned kCfgVendorId = 0x00, kCfgDeviceId = 0x02, kCfgCommand = 0x04,
                          kCfgStatus = 0x06, kCfgRevision = 0x08, kCfgClassProg = 0x09,
                          kCfgHeaderType = 0x0e, kCfgBar0 = 0x10, kCfgSubsysVendor = 0x2c,
                          kCfgSubsysId = 0x2e, kCfgRomAddress = 0x30, kCfgCapPtr = 0x34,
                          kCfgIntLine = 0x3c, kCfgIntPin = 0x3d;
inline constexpr unsigned kConfigSize = 4096;
inline constexpr unsigned kNumBars = 6;

inline constexpr uint16_t kCmdIo = 1 << 0, kCmdMemory = 1 << 1, kCmdBusMaster = 1 << 2,
                          kCmdSerr = 1 << 8, kCmdParity = 1 << 6, kCmdIntxDisable = 1 << 10;
inline constexpr uint16_t kStatusInterrupt = 1 << 3, kStatusCapList = 1 << 4;

inline constexpr uint8_t kCapIdMsix = 0x11, kCapIdVendor = 0x09;

enum class BarType : uint8_t { None, Io, Mem32, Mem64 };

/// Identity of a function, written into its configuration header at construction.
struct PciIds {
  uint16_t vendor = 0;
  uint16_t device = 0;
  uint32_t class_code = 0;  // base class << 16 | subclass << 8 | programming interface
  uint8_t revision = 0;
  uint16_t subsys_vendor = 0;
  uint16_t subsys_id = 0;
  uint8_t int_pin = 0;  // 0 none, 1..4 INTA..INTD
};

/// Where a BAR currently decodes (from the configuration space), as the bus sees it.
struct BarMapping {
  BarType type = BarType::None;
  uint64_t addr = 0;
  uint64_t size = 0;
  bool enabled = false;  // the matching command enable is set and the address is programmed
};

class PciDevice {
 public:
  PciDevice(const AddressSpace& as, Log& log, std::string name, const PciIds& ids);
  virtual ~PciDevice() = default;
  PciDevice(const PciDevice&) = delete;
  PciDevice& operator=(const PciDevice&) = delete;

  const std::string& name() const { return name_; }

  /// Configuration access from the host bridge: offset < 4096, size 1, 2 or 4, naturally
  /// aligned (anything else reads all-ones and ignores writes, logged).
  uint32_t config_read(unsigned offset, unsigned size);
  void config_write(unsigned offset, unsigned size, uint32_t value);

  /// BAR n's current decode and the device behind it (null: no such BAR).
  BarMapping bar_mapping(unsigned n);
  MmioDevice* bar_device(unsigned n) const { return n < kNumBars ? bars_[n].dev : nullptr; }

  /// Machine reset: the configuration space returns to its power-on values.
  virtual void reset();

  /// DMA through this function: fails while bus mastering is off.
  const GuestMemory& dma() const { return dma_; }
  bool bus_master() const { return bus_master_.load(std::memory_order_acquire); }

  /// A message write (MSI/MSI-X) into the guest's physical address space, or to the bus's MSI
  /// doorbell with this function's requester ID; dropped and logged if bus mastering is off.
  void msi_write(uint64_t addr, uint32_t data);

  // ---- for the bus ----
  void attach(PciBus& bus, unsigned devfn);
  unsigned devfn() const { return devfn_; }
  uint8_t int_pin() const { return ids_.int_pin; }

 protected:
  /// Declares BAR n (before the guest runs): size a power of two (>= 16 for memory, >= 4 for
  /// I/O); a 64-bit BAR also takes n + 1. dev answers accesses at offsets 0..size-1.
  void add_bar(unsigned n, BarType type, uint64_t size, bool prefetchable, MmioDevice& dev);
  /// Appends a capability of len bytes (>= 2; its ID and next pointer are filled in) and
  /// returns its offset. Bytes after the header are read-only unless set_writable says so.
  unsigned add_capability(uint8_t id, unsigned len);
  void set_writable(unsigned offset, unsigned len, uint8_t mask = 0xff);
  /// Adds an MSI-X capability describing msix (its table and PBA in BAR bar).
  unsigned add_msix_capability(unsigned vectors, unsigned bar, uint32_t table_offset,
                               uint32_t pba_offset);
  /// Sets power-on bytes (device construction only).
  void init_bytes(unsigned offset, const void* src, unsigned len);
  uint8_t byte(unsigned offset) const { return config_[offset]; }
  /// Sets a configuration byte as the device's own state changes it (takes the lock).
  void set_config_byte(unsigned offset, uint8_t value);

  /// The device's INTx level (the pin is asserted unless INTx is disabled in the command).
  void set_intx(bool level);

  /// Called after a guest configuration write changed [offset, offset+size), without cfg_mu_.
  virtual void config_written(unsigned offset, unsigned size) {}
  /// Lets a device answer a configuration access itself (returns true), without cfg_mu_.
  virtual bool intercept_config(unsigned offset, unsigned size, bool write, uint32_t& value) {
    return false;
  }

  Log& log() { return log_; }
  std::mutex& cfg_mutex() { return cfg_mu_; }
  /// A 16-bit configuration field read under the lock (for devices' hooks).
  uint16_t config_word(unsigned offset);

 private:
  struct Bar {
    BarType type = BarType::None;
    uint64_t size = 0;
    MmioDevice* dev = nullptr;
  };
  void update_intx_locked();
  uint64_t bar_address_locked(unsigned n) const;

  const AddressSpace& as_;
  Log& log_;
  std::string name_;
  PciIds ids_;
  PciBus* bus_ = nullptr;
  unsigned devfn_ = 0;
  std::array<Bar, kNumBars> bars_{};
  unsigned next_cap_ = 0x40;
  unsigned last_cap_ = 0;  // offset of the last capability (0: none)

  std::mutex cfg_mu_;
  std::array<uint8_t, kConfigSize> config_{};
  std::array<uint8_t, kConfigSize> reset_{};  // power-on values
  std::array<uint8_t, kConfigSize> wmask_{};  // bits the guest may write
  std::array<uint8_t, kConfigSize> w1c_{};    // bits a guest 1 clears
  bool intx_level_ = false;                   // the device's internal request, under cfg_mu_
  std::atomic<bool> bus_master_{false};
  GuestMemory dma_{as_, bus_master_};
};

}  // namespace orrery::hw::pci
