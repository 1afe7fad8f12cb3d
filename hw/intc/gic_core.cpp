#include "hw/intc/gic_core.h"

#include <bit>
#include <cinttypes>

namespace orrery::hw::intc {

GicCore::GicCore(GicVersion version, unsigned num_cpus, unsigned num_irqs,
                 std::vector<uint64_t> mpidrs, Log& log)
    : version_(version),
      num_cpus_(num_cpus),
      num_irqs_(num_irqs),
      mpidrs_(std::move(mpidrs)),
      log_(log),
      irq_out_(new IrqLine[num_cpus]),
      fiq_out_(new IrqLine[num_cpus]),
      private_(num_cpus),
      spis_(num_irqs - kGicNumPrivate),
      targets_(num_irqs - kGicNumPrivate),
      routes_(num_irqs - kGicNumPrivate),
      sgi_src_(num_cpus),
      cpus_(num_cpus),
      lpis_(num_cpus) {
  reset();
}

void GicCore::reset() {
  std::lock_guard<std::mutex> g(mu_);
  for (auto& bank : private_) {
    for (unsigned i = 0; i < kGicNumPrivate; ++i) {
      bool level = bank[i].level;  // input lines keep their level across a reset
      bank[i] = {};
      bank[i].level = level;
      // SGIs are always edge-triggered and (GICv2) always enabled.
      if (i < kGicNumSgis) {
        bank[i].edge = true;
        bank[i].enabled = version_ == GicVersion::V2;
      }
    }
  }
  for (Irq& s : spis_) {
    bool level = s.level;
    s = {};
    s.level = level;
  }
  for (auto& t : targets_) t = 0;
  for (auto& r : routes_) r = 0;
  for (auto& s : sgi_src_) s = {};
  for (CpuIf& c : cpus_) c = {};
  for (auto& l : lpis_) l.clear();
  dist_grp_enable[0] = dist_grp_enable[1] = false;
  update();
}

GicCore::Irq* GicCore::irq(unsigned cpu, unsigned intid) {
  if (intid < kGicNumPrivate) return cpu < num_cpus_ ? &private_[cpu][intid] : nullptr;
  if (intid < num_irqs_) return &spis_[intid - kGicNumPrivate];
  return nullptr;
}

bool GicCore::pending(unsigned cpu, unsigned intid) {
  if (version_ == GicVersion::V2 && intid < kGicNumSgis) return sgi_src_[cpu][intid] != 0;
  Irq* q = irq(cpu, intid);
  if (!q) return false;
  return q->latch || (!q->edge && q->level);
}

void GicCore::set_pending(unsigned cpu, unsigned intid, bool on) {
  if (Irq* q = irq(cpu, intid)) q->latch = on;
}

void GicCore::send_sgi(unsigned source, unsigned target, unsigned sgi) {
  if (target >= num_cpus_ || sgi >= kGicNumSgis) return;
  if (version_ == GicVersion::V2)
    sgi_src_[target][sgi] |= uint8_t(1u << source);
  else
    private_[target][sgi].latch = true;
}

void GicCore::set_irq(unsigned line, bool level) {
  std::lock_guard<std::mutex> g(mu_);
  Irq* q = nullptr;
  if (line >= kGicNumPrivate && line < num_irqs_) {
    q = &spis_[line - kGicNumPrivate];
  } else if (line >= num_irqs_) {
    unsigned rel = line - num_irqs_;
    unsigned cpu = rel / kGicNumPrivate;
    if (cpu < num_cpus_) q = &private_[cpu][rel % kGicNumPrivate];
  }
  if (!q) {
    log_.log(kLogGuestErrors, "gic: interrupt input %u does not exist\n", line);
    return;
  }
  // Devices set their line at every register access that may change it (the PL011 at every
  // character): an unchanged level changes no state, and the outputs' recomputation (a scan of
  // every interrupt for each CPU) was ~4% of a boot printing its log to the serial console.
  if (level == q->level) return;
  // Edge-triggered interrupts latch on a rising edge.
  if (level && q->edge) q->latch = true;
  q->level = level;
  update();
}

bool GicCore::targets_cpu(unsigned cpu, unsigned intid) {
  if (intid < kGicNumPrivate) return true;  // the banked copy belongs to cpu
  if (version_ == GicVersion::V2) return (spi_target(intid) >> cpu) & 1;
  uint64_t r = spi_route(intid);
  if (r & (1ull << 31)) return true;  // IRM: 1 of N, any participating CPU
  return (r & 0xFF'00FF'FFFFull) == mpidr_affinity(mpidrs_[cpu]);
}

unsigned GicCore::hppi(unsigned cpu) {
  unsigned best = kGicSpurious;
  unsigned best_prio = 0x100;
  for (unsigned id = 0; id < num_irqs_; ++id) {
    Irq* q = irq(cpu, id);
    if (!q->enabled || q->active || q->priority >= best_prio) continue;
    if (!dist_grp_enable[q->group1]) continue;
    if (!pending(cpu, id) || !targets_cpu(cpu, id)) continue;
    best = id;
    best_prio = q->priority;
  }
  if (dist_grp_enable[1]) {
    for (const auto& [id, cfg] : lpis_[cpu]) {
      const uint8_t prio = cfg & 0xFC;
      if ((cfg & 1) && prio < best_prio) {
        best = id;
        best_prio = prio;
      }
    }
  }
  return best;
}

void GicCore::group_and_priority(unsigned cpu, unsigned intid, bool& group1, uint8_t& priority) {
  if (intid >= kGicFirstLpi) {
    group1 = true;
    priority = lpis_[cpu][intid] & 0xFC;
    return;
  }
  const Irq* q = irq(cpu, intid);
  group1 = q->group1;
  priority = q->priority;
}

uint8_t GicCore::group_priority(unsigned cpu, bool group1, uint8_t prio) {
  const CpuIf& c = cpus_[cpu];
  unsigned b = (group1 && !c.cbpr) ? c.bpr[1] : c.bpr[0];
  if (b > 7) b = 7;
  return uint8_t(prio & ~((2u << b) - 1));
}

uint8_t GicCore::running_priority(unsigned cpu) {
  const CpuIf& c = cpus_[cpu];
  for (unsigned w = 0; w < 4; ++w) {
    uint32_t bits = c.apr[0][w] | c.apr[1][w];
    if (bits) return uint8_t((w * 32 + unsigned(std::countr_zero(bits))) << 1);
  }
  return 0xFF;
}

unsigned GicCore::acknowledge(unsigned cpu, bool allow_group0, bool allow_group1) {
  unsigned id = hppi(cpu);
  if (id == kGicSpurious) return kGicSpurious;
  bool group1;
  uint8_t priority;
  group_and_priority(cpu, id, group1, priority);
  CpuIf& c = cpus_[cpu];
  if (priority >= c.pmr || group_priority(cpu, group1, priority) >= running_priority(cpu))
    return kGicSpurious;
  if (group1 ? !allow_group1 : !allow_group0) {
    // GICv2: a group 1 interrupt read through GICC_IAR without AckCtl gives 1022.
    return (version_ == GicVersion::V2 && group1 && allow_group0) ? 1022 : kGicSpurious;
  }
  if (id >= kGicFirstLpi) {
    // An LPI has no active state: acknowledging it only clears its pending bit.
    lpis_[cpu].erase(id);
    const unsigned gp = group_priority(cpu, true, priority) >> 1;
    c.apr[1][gp / 32] |= 1u << (gp % 32);
    update();
    return id;
  }
  Irq* q = irq(cpu, id);
  unsigned result = id;
  if (version_ == GicVersion::V2 && id < kGicNumSgis) {
    // The lowest-numbered source first; the SGI stays pending while other sources remain.
    uint8_t& src = sgi_src_[cpu][id];
    unsigned s = unsigned(std::countr_zero(unsigned(src)));
    src = uint8_t(src & ~(1u << s));
    result |= s << 10;
  }
  q->latch = false;
  q->active = true;
  unsigned gp = group_priority(cpu, q->group1, q->priority) >> 1;
  c.apr[q->group1][gp / 32] |= 1u << (gp % 32);
  update();
  return result;
}

void GicCore::end_of_interrupt(unsigned cpu, uint32_t value, bool group1) {
  // GICv2's EOIR has a 10-bit INTID (the CPUID of an SGI above it); GICv3's is 24 bits, so
  // masking to 10 bits there would alias an invalid INTID onto a real one.
  const unsigned id = version_ == GicVersion::V2 ? value & 0x3FF : value & 0xFF'FFFF;
  if (id >= 1020 && id <= kGicSpurious) return;  // special INTIDs: no effect
  CpuIf& c = cpus_[cpu];
  // Priority drop: the highest active priority of this group.
  bool dropped = false;
  for (unsigned w = 0; w < 4 && !dropped; ++w) {
    uint32_t& bits = c.apr[group1][w];
    if (bits) {
      bits &= bits - 1;
      dropped = true;
    }
  }
  if (!dropped)
    log_.log(kLogGuestErrors, "gic: cpu %u EOI of INTID %u with no active priority\n", cpu, id);
  if (!c.eoi_mode) deactivate(cpu, id);
  update();
}

void GicCore::deactivate(unsigned cpu, unsigned id) {
  if (id >= kGicFirstLpi && version_ == GicVersion::V3) return;  // LPIs have no active state
  Irq* q = irq(cpu, id);
  if (!q) {
    log_.log(kLogGuestErrors, "gic: cpu %u deactivates INTID %u, which does not exist\n", cpu, id);
    return;
  }
  if (!q->active)
    log_.log(kLogGuestErrors, "gic: cpu %u deactivates INTID %u, which is not active\n", cpu, id);
  q->active = false;
  update();
}

void GicCore::update() {
  for (unsigned cpu = 0; cpu < num_cpus_; ++cpu) {
    bool irq = false, fiq = false;
    unsigned id = hppi(cpu);
    if (id != kGicSpurious) {
      bool group1;
      uint8_t priority;
      group_and_priority(cpu, id, group1, priority);
      CpuIf& c = cpus_[cpu];
      if (c.grp_enable[group1] && priority < c.pmr &&
          group_priority(cpu, group1, priority) < running_priority(cpu)) {
        // GICv3 (no security): group 0 is FIQ. GICv2: group 0 is FIQ only with FIQEn.
        bool as_fiq = !group1 && (version_ == GicVersion::V3 || c.fiq_en);
        (as_fiq ? fiq : irq) = true;
      }
    }
    if (irq_out_[cpu].level() != irq) irq_out_[cpu].set(irq);
    if (fiq_out_[cpu].level() != fiq) fiq_out_[cpu].set(fiq);
  }
}

uint32_t GicCore::read_bits(unsigned cpu, BitReg reg, unsigned first) {
  uint32_t v = 0;
  for (unsigned i = 0; i < 32; ++i) {
    Irq* q = irq(cpu, first + i);
    if (!q) break;
    bool bit = false;
    switch (reg) {
      case BitReg::Group:
        bit = q->group1;
        break;
      case BitReg::SetEnable:
      case BitReg::ClearEnable:
        bit = q->enabled;
        break;
      case BitReg::SetPending:
      case BitReg::ClearPending:
        bit = pending(cpu, first + i);
        break;
      case BitReg::SetActive:
      case BitReg::ClearActive:
        bit = q->active;
        break;
    }
    v |= uint32_t(bit) << i;
  }
  return v;
}

void GicCore::write_bits(unsigned cpu, BitReg reg, unsigned first, uint32_t value) {
  for (unsigned i = 0; i < 32; ++i) {
    unsigned id = first + i;
    Irq* q = irq(cpu, id);
    if (!q) break;
    bool bit = (value >> i) & 1;
    // GICv2 SGIs are permanently enabled and made pending only through GICD_SGIR/SPENDSGIR.
    bool v2_sgi = version_ == GicVersion::V2 && id < kGicNumSgis;
    switch (reg) {
      case BitReg::Group:
        q->group1 = bit;
        break;
      case BitReg::SetEnable:
        if (bit && !v2_sgi) q->enabled = true;
        break;
      case BitReg::ClearEnable:
        if (bit && !v2_sgi) q->enabled = false;
        break;
      case BitReg::SetPending:
        if (bit && !v2_sgi) q->latch = true;
        break;
      case BitReg::ClearPending:
        if (bit && !v2_sgi) q->latch = false;
        break;
      case BitReg::SetActive:
        if (bit) q->active = true;
        break;
      case BitReg::ClearActive:
        if (bit) q->active = false;
        break;
    }
  }
  update();
}

uint32_t GicCore::read_config(unsigned cpu, unsigned first) {
  uint32_t v = 0;
  for (unsigned i = 0; i < 16; ++i)
    if (Irq* q = irq(cpu, first + i)) v |= uint32_t(q->edge) << (2 * i + 1);
  return v;
}

void GicCore::write_config(unsigned cpu, unsigned first, uint32_t value) {
  for (unsigned i = 0; i < 16; ++i) {
    unsigned id = first + i;
    Irq* q = irq(cpu, id);
    if (!q || id < kGicNumSgis) continue;  // SGIs are always edge-triggered
    q->edge = (value >> (2 * i + 1)) & 1;
  }
  update();
}

uint8_t GicCore::read_priority(unsigned cpu, unsigned intid) {
  Irq* q = irq(cpu, intid);
  return q ? q->priority : 0;
}

void GicCore::write_priority(unsigned cpu, unsigned intid, uint8_t value) {
  if (Irq* q = irq(cpu, intid)) q->priority = value;
  update();
}

void log_ignored(Log& log, const char* frame, bool write, uint64_t offset, unsigned size,
                 Ignored ig) {
  if (!ig) return;
  log.log(ig.mask, "%s %s %s at offset 0x%" PRIx64 " size %u (%s)\n", frame,
          ig.mask == kLogUnimp ? "unimplemented" : "bad", write ? "write" : "read", offset, size,
          ig.why);
}

}  // namespace orrery::hw::intc
