// The GICv3 Interrupt Translation Service (IHI 0069 chapter 5 and 12.19): turns an MSI (a
// write of an EventID to GITS_TRANSLATER by a device with a DeviceID) into an LPI pending on a
// redistributor. Physical LPIs only (no GICv4), GITS_TYPER.PTA = 0 (collections target
// processor numbers), 16-bit DeviceIDs, EventIDs and ICIDs, 8-byte ITT entries, flat device
// and collection tables in guest memory (GITS_BASER0 and 1; no indirect tables, no collections
// held in hardware). Commands run synchronously when GITS_CWRITER is written. A command error
// stalls the queue (GITS_CREADR.Stalled, IHI 0069 5.3.2) and is logged under -d guest_errors;
// writing GITS_CWRITER with Retry set runs the failed command again.
//
// The table entries' formats are this implementation's own (the architecture leaves them
// IMPLEMENTATION DEFINED); every guest-controlled address, ID and size is checked.
#pragma once

#include <cstdint>
#include <mutex>

#include "hw/core/guest_memory.h"
#include "hw/core/log.h"
#include "hw/core/mmio.h"
#include "hw/core/resettable.h"
#include "hw/intc/gicv3.h"
#include "hw/pci/pci_bus.h"

namespace orrery::hw::intc {

class Gicv3Its final : public MmioDevice, public Resettable, public pci::MsiDoorbell {
 public:
  static constexpr uint64_t kMmioSize = 0x20000;  // ITS_base control frame, translation frame
  // ITS_base frame (IHI 0069 table 12-28).
  static constexpr uint64_t GITS_CTLR = 0x0000, GITS_IIDR = 0x0004, GITS_TYPER = 0x0008,
                            GITS_CBASER = 0x0080, GITS_CWRITER = 0x0088, GITS_CREADR = 0x0090,
                            GITS_BASER = 0x0100, GITS_PIDR2 = 0xFFE8;
  // The translation frame (ITS_base + 0x10000).
  static constexpr uint64_t GITS_TRANSLATER = 0x10040;
  static constexpr uint32_t GITS_CTLR_Enabled = 1u << 0, GITS_CTLR_Quiescent = 1u << 31;
  static constexpr unsigned kIdBits = 16;    // DeviceID, EventID and ICID widths
  static constexpr unsigned kEntrySize = 8;  // device, collection and ITT entries
  static constexpr unsigned kCommandSize = 32;
  // Command numbers (IHI 0069 table 5-... "ITS commands").
  enum Command : uint8_t {
    kMovi = 0x01,
    kInt = 0x03,
    kClear = 0x04,
    kSync = 0x05,
    kMapd = 0x08,
    kMapc = 0x09,
    kMapti = 0x0A,
    kMapi = 0x0B,
    kInv = 0x0C,
    kInvall = 0x0D,
    kMovall = 0x0E,
    kDiscard = 0x0F,
  };

  /// gic must have LPIs; mem reads and writes the ITS's tables and command queue.
  Gicv3Its(Gicv3& gic, const GuestMemory& mem, Log& log);

  /// An MSI: device_id (the PCI requester ID on virt) wrote event_id to GITS_TRANSLATER. False
  /// if it was dropped (ITS disabled, unmapped device or event, LPIs off); logged then.
  bool translate(uint32_t device_id, uint32_t event_id);
  /// MsiDoorbell: a PCI function's message into the ITS's frames (only GITS_TRANSLATER takes
  /// messages); the requester ID is the DeviceID (the device tree's msi-map is the identity).
  void msi_write(uint32_t requester_id, uint64_t offset, uint32_t data) override;

  MemResult read(uint64_t offset, unsigned size, uint64_t& value) override;
  /// CPU writes to GITS_TRANSLATER translate with DeviceID 0 (a CPU has no requester ID).
  MemResult write(uint64_t offset, unsigned size, uint64_t value) override;
  AccessRules valid() const override { return {1, 8, false}; }
  AccessRules impl() const override { return {1, 8, false}; }
  void reset() override;

 private:
  struct Table {
    uint64_t base = 0, bytes = 0;  // 0 bytes: not valid
  };
  struct Ite {
    uint32_t intid = 0;
    uint16_t icid = 0;
  };
  // Callers hold mu_.
  Table table_locked(unsigned n) const;
  bool read_entry_locked(unsigned table, uint32_t id, uint64_t& entry, const char*& why) const;
  bool write_entry_locked(unsigned table, uint32_t id, uint64_t entry, const char*& why);
  /// The ITE of (device, event): the device's ITT entry. Sets why on failure.
  bool find_ite_locked(uint32_t device, uint32_t event, uint64_t& ite_addr, Ite& ite,
                       const char*& why) const;
  /// The processor number a collection targets. Sets why on failure.
  bool collection_target_locked(uint16_t icid, unsigned& cpu, const char*& why) const;
  /// Runs commands from CREADR up to CWRITER until done or one fails (which stalls).
  void process_locked();
  /// One command; empty on success, else why it failed.
  const char* run_command_locked(const uint64_t (&cmd)[4]);

  Gicv3& gic_;
  const GuestMemory& mem_;
  Log& log_;
  const unsigned num_cpus_;
  std::mutex mu_;
  bool enabled_ = false;
  uint64_t cbaser_ = 0, cwriter_ = 0, creadr_ = 0;
  bool stalled_ = false;
  uint64_t baser_[8] = {};
};

}  // namespace orrery::hw::intc
