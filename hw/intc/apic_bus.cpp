#include "hw/intc/apic_bus.h"

#include "hw/intc/lapic.h"

namespace orrery::hw {

bool decode_apic_msi(const MsiMessage& msg, ApicMessage& out) {
  if (msg.address < kMsiAddressBase || msg.address >= kMsiAddressBase + kMsiAddressSize)
    return false;
  // Address: destination ID 19:12, redirection hint 3, destination mode 2. Data: vector 7:0,
  // delivery mode 10:8, level 14, trigger mode 15 (SDM 11.11.1-2).
  out = ApicMessage{};
  out.dest = uint32_t(msg.address >> 12) & 0xff;
  out.logical = (msg.address >> 2) & 1;
  out.vector = uint8_t(msg.data);
  out.mode = ApicDelivery((msg.data >> 8) & 7);
  out.assert_level = (msg.data >> 14) & 1;
  out.level_trigger = (msg.data >> 15) & 1;
  return true;
}

unsigned ApicBus::deliver(const ApicMessage& msg) {
  const unsigned n = unsigned(lapics_.size());
  auto self = [&]() -> LocalApic* {
    return msg.source >= 0 && unsigned(msg.source) < n ? lapics_[unsigned(msg.source)] : nullptr;
  };
  switch (msg.shorthand) {
    case ApicShorthand::kSelf:
      if (LocalApic* l = self()) {
        l->receive(msg);
        return 1;
      }
      return 0;
    case ApicShorthand::kAllIncludingSelf:
    case ApicShorthand::kAllButSelf: {
      unsigned count = 0;
      for (LocalApic* l : lapics_) {
        if (msg.shorthand == ApicShorthand::kAllButSelf && l == self()) continue;
        l->receive(msg);
        ++count;
      }
      return count;
    }
    case ApicShorthand::kNone:
      break;
  }
  if (msg.mode == ApicDelivery::kLowestPriority) {
    // The lowest arbitration priority wins; ties go to the lowest index (deterministic).
    LocalApic* best = nullptr;
    unsigned best_prio = 256;
    for (LocalApic* l : lapics_) {
      if (!l->matches(msg.dest, msg.logical)) continue;
      const unsigned p = l->arbitration_priority();
      if (p < best_prio) {
        best = l;
        best_prio = p;
      }
    }
    if (!best) return 0;
    best->receive(msg);
    return 1;
  }
  unsigned count = 0;
  for (LocalApic* l : lapics_) {
    if (!l->matches(msg.dest, msg.logical)) continue;
    l->receive(msg);
    ++count;
  }
  return count;
}

void ApicBus::broadcast_eoi(uint8_t vector) {
  for (ApicEoiListener* l : eoi_listeners_) l->apic_eoi(vector);
}

bool ApicBus::deliver_msi(const MsiMessage& msg) {
  ApicMessage m;
  if (!decode_apic_msi(msg, m)) return false;
  if (deliver(m) == 0)
    log_.log(kLogGuestErrors, "apic: MSI 0x%x to 0x%llx matched no local APIC\n", msg.data,
             (unsigned long long)msg.address);
  return true;
}

MemResult ApicBus::Mmio::read(uint64_t offset, unsigned size, uint64_t& value) {
  return read_attrs(offset, size, value, {});
}

MemResult ApicBus::Mmio::write(uint64_t offset, unsigned size, uint64_t value) {
  return write_attrs(offset, size, value, {});
}

// An access without a CPU (a test, a device) goes to the first local APIC.
MemResult ApicBus::Mmio::read_attrs(uint64_t offset, unsigned size, uint64_t& value,
                                    const MemAttrs& attrs) {
  const unsigned cpu = attrs.is_cpu() ? attrs.id : 0;
  if (cpu >= bus_.lapics_.size()) {
    value = 0;
    return MemResult::Ok;
  }
  return bus_.lapics_[cpu]->mmio_read(offset, size, value);
}

MemResult ApicBus::Mmio::write_attrs(uint64_t offset, unsigned size, uint64_t value,
                                     const MemAttrs& attrs) {
  const unsigned cpu = attrs.is_cpu() ? attrs.id : 0;
  if (cpu >= bus_.lapics_.size()) return MemResult::Ok;
  return bus_.lapics_[cpu]->mmio_write(offset, size, value);
}

}  // namespace orrery::hw
