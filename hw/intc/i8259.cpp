#include "hw/intc/i8259.h"

namespace orrery::hw {

I8259::I8259(Log& log) : log_(log), ports_{{*this, 0}, {*this, 1}}, elcr_(*this) {
  chip_[0].master = true;
  chip_[0].elcr_mask = kElcrMaskMaster;
  chip_[1].elcr_mask = kElcrMaskSlave;
  reset();
}

void I8259::init_reset(Chip& c) {
  // ICW1 (datasheet "Initialization command words"): edge sense reset, IMR cleared, IR7 lowest
  // priority, special mask off, status read set to IRR, ICW4 functions cleared.
  c.last_irr = 0;
  c.irr &= c.elcr;  // a level input still asserted stays requested
  c.imr = 0;
  c.isr = 0;
  c.priority_add = 0;
  c.irq_base = 0;
  c.read_isr = false;
  c.poll = false;
  c.special_mask = false;
  c.init_state = 0;
  c.auto_eoi = false;
  c.rotate_on_auto_eoi = false;
  c.special_fully_nested = false;
  c.icw4_needed = false;
  c.single = false;
}

void I8259::reset() {
  std::lock_guard lk(mu_);
  for (Chip& c : chip_) {
    init_reset(c);
    c.irr = 0;
    c.elcr = 0;
    c.icw3 = 0;
  }
  update_locked();
}

uint8_t I8259::irr(unsigned chip) const {
  std::lock_guard lk(mu_);
  return chip_[chip & 1].irr;
}
uint8_t I8259::isr(unsigned chip) const {
  std::lock_guard lk(mu_);
  return chip_[chip & 1].isr;
}
uint8_t I8259::imr(unsigned chip) const {
  std::lock_guard lk(mu_);
  return chip_[chip & 1].imr;
}

IrqTrigger I8259::trigger(unsigned irq) const {
  std::lock_guard lk(mu_);
  return (chip_[(irq >> 3) & 1].elcr >> (irq & 7)) & 1 ? IrqTrigger::kLevel : IrqTrigger::kEdge;
}

int I8259::priority(const Chip& c, uint8_t mask) {
  if (!mask) return 8;
  int p = 0;
  while (!(mask & (1u << ((p + c.priority_add) & 7)))) ++p;
  return p;
}

int I8259::pending_irq(const Chip& c) {
  const int p = priority(c, c.irr & ~c.imr);
  if (p == 8) return -1;
  // In-service levels block equal and lower priorities; in special mask mode only unmasked
  // ones do, and in special fully nested mode the cascade input does not block the slave.
  uint8_t in_service = c.isr;
  if (c.special_mask) in_service &= ~c.imr;
  if (c.special_fully_nested && c.master) in_service &= ~(1u << kCascadeIrq);
  if (p < priority(c, in_service)) return (p + c.priority_add) & 7;
  return -1;
}

void I8259::set_chip_irq_locked(Chip& c, unsigned irq, bool level) {
  const uint8_t m = uint8_t(1u << irq);
  if (c.elcr & m) {
    c.irr = level ? c.irr | m : c.irr & ~m;
    c.last_irr = level ? c.last_irr | m : c.last_irr & ~m;
  } else if (level) {
    if (!(c.last_irr & m)) c.irr |= m;  // a rising edge
    c.last_irr |= m;
  } else {
    // The request is the edge latch and the input together: an input that falls before the
    // acknowledge withdraws it (the datasheet's "default IR7" case).
    c.last_irr &= ~m;
    c.irr &= ~m;
  }
}

void I8259::update_locked() {
  // The slave's INT drives the master's IR2.
  set_chip_irq_locked(chip_[0], kCascadeIrq, pending_irq(chip_[1]) >= 0);
  intr_.set(pending_irq(chip_[0]) >= 0);
}

void I8259::set_irq(unsigned irq, bool level) {
  if (irq >= kIrqs) return;
  std::lock_guard lk(mu_);
  set_chip_irq_locked(chip_[irq >> 3], irq & 7, level);
  update_locked();
}

void I8259::intack_locked(Chip& c, unsigned irq) {
  if (c.auto_eoi) {
    if (c.rotate_on_auto_eoi) c.priority_add = uint8_t((irq + 1) & 7);
  } else {
    c.isr |= uint8_t(1u << irq);
  }
  // A level-sensitive request stays in IRR while its input is high.
  if (!(c.elcr & (1u << irq))) c.irr &= uint8_t(~(1u << irq));
}

int I8259::acknowledge() {
  std::lock_guard lk(mu_);
  Chip& m = chip_[0];
  Chip& s = chip_[1];
  int vector;
  const int irq = pending_irq(m);
  if (irq < 0) {
    vector = m.irq_base + 7;  // spurious IRQ 7: nothing set in service
  } else {
    if (irq == int(kCascadeIrq)) {
      const int irq2 = pending_irq(s);
      if (irq2 >= 0) {
        intack_locked(s, unsigned(irq2));
        vector = s.irq_base + irq2;
      } else {
        vector = s.irq_base + 7;  // spurious IRQ 15
      }
    } else {
      vector = m.irq_base + irq;
    }
    intack_locked(m, unsigned(irq));
  }
  update_locked();
  return vector;
}

uint8_t I8259::port_read_locked(unsigned chip, unsigned a0) {
  Chip& c = chip_[chip];
  if (c.poll) {
    // Poll command: the read is the acknowledge (bit 7: an interrupt, bits 2:0 its level).
    c.poll = false;
    const int irq = pending_irq(c);
    if (irq < 0) return 0;
    intack_locked(c, unsigned(irq));
    update_locked();
    return uint8_t(0x80 | irq);
  }
  if (a0) return c.imr;
  return c.read_isr ? c.isr : c.irr;
}

void I8259::port_write_locked(unsigned chip, unsigned a0, uint8_t v) {
  Chip& c = chip_[chip];
  const char* name = chip ? "slave" : "master";
  if (!a0) {
    if (v & 0x10) {  // ICW1
      init_reset(c);
      c.init_state = 1;
      c.icw4_needed = v & 1;
      c.single = v & 2;
      if (v & 8)
        log_.log(kLogUnimp, "unimp: i8259 %s: ICW1.LTIM (the ELCR sets level mode)\n", name);
    } else if (v & 0x08) {  // OCW3
      if (v & 0x04) c.poll = true;
      if (v & 0x02) c.read_isr = v & 1;
      if (v & 0x40) c.special_mask = (v >> 5) & 1;
    } else {  // OCW2
      const unsigned cmd = v >> 5, level = v & 7;
      switch (cmd) {
        case 0:  // rotate in automatic EOI mode (clear)
        case 4:  // (set)
          c.rotate_on_auto_eoi = cmd >> 2;
          break;
        case 1:    // non-specific EOI
        case 5: {  // rotate on non-specific EOI
          const int p = priority(c, c.isr);
          if (p != 8) {
            const unsigned irq = (unsigned(p) + c.priority_add) & 7;
            c.isr &= uint8_t(~(1u << irq));
            if (cmd == 5) c.priority_add = uint8_t((irq + 1) & 7);
          }
          break;
        }
        case 3:  // specific EOI
          c.isr &= uint8_t(~(1u << level));
          break;
        case 6:  // set priority: level becomes the lowest
          c.priority_add = uint8_t((level + 1) & 7);
          break;
        case 7:  // rotate on specific EOI
          c.isr &= uint8_t(~(1u << level));
          c.priority_add = uint8_t((level + 1) & 7);
          break;
        default:  // 2: no operation
          break;
      }
    }
  } else {
    switch (c.init_state) {
      case 0:  // OCW1
        c.imr = v;
        break;
      case 1:  // ICW2: T7-T3 (x86 mode)
        c.irq_base = v & 0xf8;
        c.init_state = c.single ? (c.icw4_needed ? 3 : 0) : 2;
        break;
      case 2:  // ICW3: slave bitmap (master) or slave ID (slave); the cascade is fixed at IR2
        c.icw3 = v;
        c.init_state = c.icw4_needed ? 3 : 0;
        break;
      case 3:  // ICW4
        if (!(v & 1))
          log_.log(kLogUnimp, "unimp: i8259 %s: ICW4 MCS-80/85 mode (treated as 8086)\n", name);
        c.auto_eoi = v & 2;
        c.special_fully_nested = v & 0x10;
        c.init_state = 0;
        break;
    }
  }
  update_locked();
}

MemResult I8259::Ports::read(uint64_t offset, unsigned size, uint64_t& value) {
  (void)size;
  std::lock_guard lk(pic_.mu_);
  value = pic_.port_read_locked(chip_, unsigned(offset & 1));
  return MemResult::Ok;
}

MemResult I8259::Ports::write(uint64_t offset, unsigned size, uint64_t value) {
  (void)size;
  std::lock_guard lk(pic_.mu_);
  pic_.port_write_locked(chip_, unsigned(offset & 1), uint8_t(value));
  return MemResult::Ok;
}

MemResult I8259::Elcr::read(uint64_t offset, unsigned size, uint64_t& value) {
  (void)size;
  std::lock_guard lk(pic_.mu_);
  value = pic_.chip_[offset & 1].elcr;
  return MemResult::Ok;
}

MemResult I8259::Elcr::write(uint64_t offset, unsigned size, uint64_t value) {
  (void)size;
  std::lock_guard lk(pic_.mu_);
  Chip& c = pic_.chip_[offset & 1];
  c.elcr = uint8_t(value) & c.elcr_mask;
  pic_.update_locked();
  return MemResult::Ok;
}

}  // namespace orrery::hw
