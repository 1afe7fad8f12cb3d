// The Intel 8259A programmable interrupt controller pair of a PC (8259A datasheet), as the
// PIIX3 south bridge and QEMU's pc present it: the master at ports 0x20/0x21, the slave at
// 0xa0/0xa1 cascaded on the master's IR2, and the PIIX edge/level control registers (ELCR)
// at 0x4d0/0x4d1, which replace ICW1.LTIM (PIIX3 datasheet 2.4.1: LTIM is disabled). Both
// chips implement ICW1-ICW4 (x86 mode; MCS-80 mode is named under -d unimp), OCW1-OCW3 (EOI
// forms, priority rotation, special mask mode, IRR/ISR reads), poll mode, automatic EOI with
// rotation, special fully nested mode and spurious IRQ 7/15. The master's INT pin is the
// intr() line; the acknowledge cycle (acknowledge()) returns the vector.
#pragma once

#include <cstdint>
#include <mutex>

#include "hw/core/irq.h"
#include "hw/core/log.h"
#include "hw/core/mmio.h"
#include "hw/core/resettable.h"

namespace orrery::hw {

class I8259 final : public IrqSink, public Resettable {
 public:
  static constexpr unsigned kIrqs = 16, kCascadeIrq = 2;
  /// ELCR bits that may be set: IRQ 0, 1, 2, 8 and 13 are always edge (PIIX3, QEMU).
  static constexpr uint8_t kElcrMaskMaster = 0xf8, kElcrMaskSlave = 0xde;

  explicit I8259(Log& log);

  void reset() override;

  /// IRQ 0-15 input levels (IRQ 2 is the cascade: a device on it is not expected).
  void set_irq(unsigned irq, bool level) override;
  /// The master's INT output (to the CPU's INTR, through the local APICs' LINT0).
  IrqLine& intr() { return intr_; }
  /// The interrupt acknowledge cycle: the vector (IRQ 7/15's vector when spurious).
  int acknowledge();

  /// Port devices: two bytes each (A0 = offset).
  MmioDevice& master_ports() { return ports_[0]; }
  MmioDevice& slave_ports() { return ports_[1]; }
  MmioDevice& elcr_ports() { return elcr_; }

  /// How input irq is sampled (the ELCR's choice).
  IrqTrigger trigger(unsigned irq) const;

  /// For tests: a chip's registers (0 master, 1 slave).
  uint8_t irr(unsigned chip) const;
  uint8_t isr(unsigned chip) const;
  uint8_t imr(unsigned chip) const;

 private:
  struct Chip {
    uint8_t irr = 0, isr = 0, imr = 0, last_irr = 0, elcr = 0, elcr_mask = 0;
    uint8_t priority_add = 0;  // the IR with the highest priority
    uint8_t irq_base = 0;
    uint8_t icw3 = 0;
    uint8_t init_state = 0;  // 0 ready, 1..3: expecting ICW2..ICW4
    bool read_isr = false, poll = false, special_mask = false, auto_eoi = false,
         rotate_on_auto_eoi = false, special_fully_nested = false, icw4_needed = false,
         single = false;
    bool master = false;
  };

  class Ports final : public MmioDevice {
   public:
    Ports(I8259& pic, unsigned chip) : pic_(pic), chip_(chip) {}
    MemResult read(uint64_t offset, unsigned size, uint64_t& value) override;
    MemResult write(uint64_t offset, unsigned size, uint64_t value) override;
    AccessRules valid() const override { return {1, 1, false}; }
    AccessRules impl() const override { return {1, 1, false}; }

   private:
    I8259& pic_;
    unsigned chip_;
  };
  class Elcr final : public MmioDevice {
   public:
    explicit Elcr(I8259& pic) : pic_(pic) {}
    MemResult read(uint64_t offset, unsigned size, uint64_t& value) override;
    MemResult write(uint64_t offset, unsigned size, uint64_t value) override;
    AccessRules valid() const override { return {1, 1, false}; }
    AccessRules impl() const override { return {1, 1, false}; }

   private:
    I8259& pic_;
  };

  static int priority(const Chip& c, uint8_t mask);
  static int pending_irq(const Chip& c);
  void init_reset(Chip& c);
  void set_chip_irq_locked(Chip& c, unsigned irq, bool level);
  void intack_locked(Chip& c, unsigned irq);
  void update_locked();
  uint8_t port_read_locked(unsigned chip, unsigned a0);
  void port_write_locked(unsigned chip, unsigned a0, uint8_t v);

  Log& log_;
  mutable std::mutex mu_;
  Chip chip_[2];
  IrqLine intr_;
  Ports ports_[2];
  Elcr elcr_;
};

}  // namespace orrery::hw
