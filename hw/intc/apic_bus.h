// The x86 APIC bus (a system-bus message fabric on P6 and later, Intel SDM vol. 3 ch. 11): the
// messages local APICs, IOAPICs and MSIs exchange, and the bus that routes them to the local
// APICs by physical or logical destination, plus the EOI broadcast from the local APICs back to
// the IOAPICs for level-triggered vectors. Guest-neutral of TCG: a KVM accelerator reuses it.
#pragma once

#include <cstdint>
#include <mutex>
#include <vector>

#include "hw/core/irq.h"
#include "hw/core/log.h"
#include "hw/core/mmio.h"

namespace orrery::hw {

class LocalApic;

/// Delivery modes (ICR, LVT, IOAPIC redirection entry and MSI data bits 10:8).
enum class ApicDelivery : uint8_t {
  kFixed = 0,
  kLowestPriority = 1,
  kSmi = 2,
  kNmi = 4,
  kInit = 5,
  kStartup = 6,
  kExtInt = 7,
};

/// ICR destination shorthands (bits 19:18).
enum class ApicShorthand : uint8_t { kNone = 0, kSelf = 1, kAllIncludingSelf = 2, kAllButSelf = 3 };

/// One interrupt message on the bus.
struct ApicMessage {
  uint32_t dest = 0;     // APIC ID, or a logical destination (8 bits in xAPIC, 32 in x2APIC)
  bool logical = false;  // destination mode
  ApicDelivery mode = ApicDelivery::kFixed;
  uint8_t vector = 0;
  bool level_trigger = false;  // trigger mode: level vectors are EOI-broadcast
  bool assert_level = true;    // level de-assert (INIT level de-assert) when false
  ApicShorthand shorthand = ApicShorthand::kNone;
  int source = -1;  // the sending local APIC's index (shorthands), -1 for IOAPIC/MSI
};

/// Receives the local APICs' EOI broadcasts (an IOAPIC).
class ApicEoiListener {
 public:
  virtual ~ApicEoiListener() = default;
  virtual void apic_eoi(uint8_t vector) = 0;
};

/// MSI address range and fields (SDM vol. 3 11.11).
inline constexpr uint64_t kMsiAddressBase = 0xfee00000, kMsiAddressSize = 0x100000;
/// Decodes an MSI aimed at the local APICs; false when the address is outside 0xfeexxxxx.
bool decode_apic_msi(const MsiMessage& msg, ApicMessage& out);

class ApicBus final : public MsiSink {
 public:
  explicit ApicBus(Log& log) : log_(log), mmio_(*this) {}
  ApicBus(const ApicBus&) = delete;
  ApicBus& operator=(const ApicBus&) = delete;

  /// Registration (before the guest runs). A local APIC's index is its position here.
  void add_lapic(LocalApic& lapic) { lapics_.push_back(&lapic); }
  void add_eoi_listener(ApicEoiListener& l) { eoi_listeners_.push_back(&l); }
  unsigned lapic_count() const { return unsigned(lapics_.size()); }
  LocalApic& lapic(unsigned i) { return *lapics_.at(i); }

  /// Routes a message to every local APIC it names (lowest priority: to the one whose
  /// arbitration priority is lowest). Callers hold no local APIC's lock. Returns how many
  /// accepted it.
  unsigned deliver(const ApicMessage& msg);
  /// A local APIC's EOI of a level-triggered vector, to every IOAPIC.
  void broadcast_eoi(uint8_t vector);

  /// MsiSink: a message to 0xfee00000-0xfeefffff becomes an APIC message.
  bool deliver_msi(const MsiMessage& msg) override;

  /// The xAPIC page (4 KiB) at the APIC base: each access goes to the local APIC of the vCPU
  /// making it (the CPU index of its hw::MemAttrs).
  MmioDevice& mmio() { return mmio_; }

 private:
  class Mmio final : public MmioDevice {
   public:
    explicit Mmio(ApicBus& bus) : bus_(bus) {}
    MemResult read(uint64_t offset, unsigned size, uint64_t& value) override;
    MemResult write(uint64_t offset, unsigned size, uint64_t value) override;
    MemResult read_attrs(uint64_t offset, unsigned size, uint64_t& value,
                         const MemAttrs& attrs) override;
    MemResult write_attrs(uint64_t offset, unsigned size, uint64_t value,
                          const MemAttrs& attrs) override;
    AccessRules valid() const override { return {1, 8, false}; }
    AccessRules impl() const override { return {4, 4, false}; }

   private:
    ApicBus& bus_;
  };

  Log& log_;
  Mmio mmio_;
  std::vector<LocalApic*> lapics_;               // fixed before the guest runs
  std::vector<ApicEoiListener*> eoi_listeners_;  // fixed before the guest runs
};

}  // namespace orrery::hw
