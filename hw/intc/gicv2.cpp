#include "hw/intc/gicv2.h"

namespace orrery::hw::intc {

namespace {

using BitReg = GicCore::BitReg;

// GIC-400's implementer/product (ARM, 0x02 product, revision 0).
constexpr uint32_t kGicv2Iidr = 0x0200'043B;

struct BitRange {
  uint64_t base;
  BitReg reg;
};
constexpr BitRange kBitRegs[] = {
    {Gicv2::GICD_IGROUPR, BitReg::Group},         {Gicv2::GICD_ISENABLER, BitReg::SetEnable},
    {Gicv2::GICD_ICENABLER, BitReg::ClearEnable}, {Gicv2::GICD_ISPENDR, BitReg::SetPending},
    {Gicv2::GICD_ICPENDR, BitReg::ClearPending},  {Gicv2::GICD_ISACTIVER, BitReg::SetActive},
    {Gicv2::GICD_ICACTIVER, BitReg::ClearActive},
};

constexpr const char* kDistFrame = "gicv2: GICD";
constexpr const char* kCpuFrame = "gicv2: GICC";

// Distributor layout beyond the registers Gicv2 names (IHI 0048B table 4-1).
constexpr uint64_t kDistImpDef0 = 0x020, kDistImpDef0End = 0x040;  // implementation defined
constexpr uint64_t kDistImpDef1 = 0xD00, kDistImpDef1End = 0xE00;  // GIC-400: PPISR/SPISR
constexpr uint64_t kDistNsacrEnd = 0xF00;
constexpr uint64_t kDistIdRegs = 0xFD0;  // GICD_PIDR4 .. GICD_CIDR3
constexpr unsigned kMaxIntids = 1020;    // INTIDs 1020-1023 are special: no registers
// CPU interface (table 4-2).
constexpr uint64_t kCpuImpDef = 0x40, kCpuImpDefEnd = 0xD0;
constexpr unsigned kNumApr = 4;  // GICC_APR0-3 / NSAPR0-3: 128 preemption levels

bool naturally_aligned(uint64_t off, unsigned size) {
  return (size == 1 || size == 2 || size == 4) && (off & (size - 1)) == 0;
}

// GICD_IPRIORITYR, GICD_ITARGETSR, GICD_CPENDSGIR and GICD_SPENDSGIR: one byte per INTID (or
// per SGI), accessible with any size.
bool dist_byte_register(uint64_t off) {
  return (off >= Gicv2::GICD_IPRIORITYR && off < Gicv2::GICD_IPRIORITYR + kMaxIntids) ||
         (off >= Gicv2::GICD_ITARGETSR && off < Gicv2::GICD_ITARGETSR + kMaxIntids) ||
         (off >= Gicv2::GICD_CPENDSGIR && off < Gicv2::GICD_SPENDSGIR + 16);
}

// IMPLEMENTATION DEFINED space and the ID registers other than GICD_PIDR2; empty for other
// offsets.
Ignored dist_impdef_or_id(uint64_t off, bool write) {
  if ((off >= kDistImpDef0 && off < kDistImpDef0End) ||
      (off >= kDistImpDef1 && off < kDistImpDef1End))
    return unimplemented("implementation-defined register");
  if (off >= kDistIdRegs && off < Gicv2::kDistSize && off != Gicv2::GICD_PIDR2)
    return write ? guest_error("read-only identification register")
                 : unimplemented("identification register other than PIDR2");
  return {};
}

// The distributor's 32-bit-only registers: bitmaps, GICD_ICFGR and the named ones.
bool dist_word_register(uint64_t off) {
  if (off >= Gicv2::GICD_IGROUPR && off < Gicv2::GICD_IPRIORITYR) return true;
  if (off >= Gicv2::GICD_ICFGR && off < Gicv2::GICD_ICFGR + 0x100) return true;
  for (uint64_t r :
       {Gicv2::GICD_CTLR, Gicv2::GICD_TYPER, Gicv2::GICD_IIDR, Gicv2::GICD_SGIR, Gicv2::GICD_PIDR2})
    if (off == r) return true;
  return false;
}

// Distributor offsets no register claims.
Ignored dist_other(uint64_t off) {
  // Without the Security Extensions GICD_NSACRn are RAZ/WI by the architecture.
  if (off >= Gicv2::GICD_NSACR && off < kDistNsacrEnd) return {};
  return guest_error("reserved");
}

// The CPU whose banked registers an access sees: the requesting vCPU (anything else, a
// debugger or a DMA master, sees CPU 0's).
unsigned requester(const GicCore& core, const MemAttrs& attrs) {
  return attrs.is_cpu() && attrs.id < core.num_cpus() ? attrs.id : 0;
}

}  // namespace

Gicv2::Gicv2(unsigned num_cpus, unsigned num_irqs, Log& log)
    : core_(
          GicVersion::V2, num_cpus, num_irqs,
          [num_cpus] {
            std::vector<uint64_t> m(num_cpus);
            for (unsigned i = 0; i < num_cpus; ++i) m[i] = i;
            return m;
          }(),
          log),
      dist_(core_),
      cpu_(core_) {}

MemResult Gicv2::Dist::read(uint64_t off, unsigned size, uint64_t& value) {
  return read_attrs(off, size, value, {});
}

MemResult Gicv2::Dist::read_attrs(uint64_t off, unsigned size, uint64_t& value,
                                  const MemAttrs& attrs) {
  std::lock_guard<std::mutex> g(core_.mu());
  value = 0;
  log_ignored(core_.log(), kDistFrame, false, off, size,
              read_locked(requester(core_, attrs), off, size, value));
  return MemResult::Ok;
}

MemResult Gicv2::Dist::write(uint64_t off, unsigned size, uint64_t value) {
  return write_attrs(off, size, value, {});
}

MemResult Gicv2::Dist::write_attrs(uint64_t off, unsigned size, uint64_t value,
                                   const MemAttrs& attrs) {
  std::lock_guard<std::mutex> g(core_.mu());
  log_ignored(core_.log(), kDistFrame, true, off, size,
              write_locked(requester(core_, attrs), off, size, value));
  return MemResult::Ok;
}

Ignored Gicv2::Dist::read_locked(unsigned cpu, uint64_t off, unsigned size, uint64_t& value) {
  const unsigned n = core_.num_irqs();
  if (!naturally_aligned(off, size)) return guest_error("bad access size");
  if (Ignored ig = dist_impdef_or_id(off, false)) return ig;
  if (dist_byte_register(off)) {
    if (off >= GICD_CPENDSGIR) {
      for (unsigned b = 0; b < size; ++b)
        value |= uint64_t(core_.sgi_sources(cpu, unsigned(off + b) & 0xF)) << (8 * b);
      return {};
    }
    const bool prio = off < GICD_ITARGETSR;
    const unsigned first = unsigned(off - (prio ? GICD_IPRIORITYR : GICD_ITARGETSR));
    // n is a multiple of 32, so an aligned access is wholly below or wholly above it.
    if (first >= n) return guest_error("INTID not implemented");
    for (unsigned b = 0; b < size; ++b) {
      const unsigned id = first + b;
      uint8_t v;
      if (prio)
        v = core_.read_priority(cpu, id);
      else  // private interrupts read as the accessing CPU's own bit
        v = id < kGicNumPrivate ? uint8_t(1u << cpu) : core_.spi_target(id);
      value |= uint64_t(v) << (8 * b);
    }
    return {};
  }
  if (size != 4) return dist_word_register(off) ? guest_error("word register") : dist_other(off);
  for (const BitRange& r : kBitRegs) {
    if (off >= r.base && off < r.base + 0x80) {
      const unsigned first = unsigned(off - r.base) * 8;
      if (first >= n) return guest_error("INTID not implemented");
      value = core_.read_bits(cpu, r.reg, first);
      return {};
    }
  }
  if (off >= GICD_ICFGR && off < GICD_ICFGR + 0x100) {
    const unsigned first = unsigned(off - GICD_ICFGR) * 4;
    if (first >= n) return guest_error("INTID not implemented");
    value = core_.read_config(cpu, first);
    return {};
  }
  switch (off) {
    case GICD_CTLR:
      value = uint32_t(core_.dist_grp_enable[0]) | uint32_t(core_.dist_grp_enable[1]) << 1;
      return {};
    case GICD_TYPER:
      value = (n / 32 - 1) | (core_.num_cpus() - 1) << 5;
      return {};
    case GICD_IIDR:
      value = kGicv2Iidr;
      return {};
    case GICD_PIDR2:
      value = 0x2B;  // ArchRev 2
      return {};
    case GICD_SGIR:
      return guest_error("write-only GICD_SGIR");
    default:
      return dist_other(off);
  }
}

Ignored Gicv2::Dist::write_locked(unsigned cpu, uint64_t off, unsigned size, uint64_t value) {
  const unsigned n = core_.num_irqs();
  const uint8_t cpu_mask = uint8_t((1u << core_.num_cpus()) - 1);
  if (!naturally_aligned(off, size)) return guest_error("bad access size");
  if (Ignored ig = dist_impdef_or_id(off, true)) return ig;
  if (dist_byte_register(off)) {
    if (off >= GICD_CPENDSGIR) {
      for (unsigned b = 0; b < size; ++b) {
        const uint64_t o = off + b;
        const uint8_t v = uint8_t(value >> (8 * b));
        uint8_t& src = core_.sgi_sources(cpu, unsigned(o & 0xF));
        if (o < GICD_SPENDSGIR)
          src &= uint8_t(~v);
        else
          src |= uint8_t(v & cpu_mask);
      }
      core_.update();
      return {};
    }
    const bool prio = off < GICD_ITARGETSR;
    const unsigned first = unsigned(off - (prio ? GICD_IPRIORITYR : GICD_ITARGETSR));
    if (first >= n) return guest_error("INTID not implemented");
    // Private targets are fixed; an aligned access never mixes them with SPIs.
    if (!prio && first < kGicNumPrivate) return guest_error("read-only GICD_ITARGETSR0-7");
    for (unsigned b = 0; b < size; ++b) {
      const unsigned id = first + b;
      const uint8_t v = uint8_t(value >> (8 * b));
      if (prio)
        core_.write_priority(cpu, id, v);
      else
        core_.set_spi_target(id, uint8_t(v & cpu_mask));
    }
    core_.update();
    return {};
  }
  if (size != 4) return dist_word_register(off) ? guest_error("word register") : dist_other(off);
  const uint32_t v = uint32_t(value);
  for (const BitRange& r : kBitRegs) {
    if (off >= r.base && off < r.base + 0x80) {
      const unsigned first = unsigned(off - r.base) * 8;
      if (first >= n) return guest_error("INTID not implemented");
      core_.write_bits(cpu, r.reg, first, v);
      return {};
    }
  }
  if (off >= GICD_ICFGR && off < GICD_ICFGR + 0x100) {
    const unsigned first = unsigned(off - GICD_ICFGR) * 4;
    if (first >= n) return guest_error("INTID not implemented");
    core_.write_config(cpu, first, v);
    return {};
  }
  switch (off) {
    case GICD_CTLR:
      core_.dist_grp_enable[0] = v & 1;
      core_.dist_grp_enable[1] = (v >> 1) & 1;
      core_.update();
      return {};
    case GICD_SGIR: {
      const unsigned sgi = v & 0xF;
      const unsigned filter = (v >> 24) & 3;
      unsigned list = (v >> 16) & 0xFF;
      if (filter == 1)
        list = cpu_mask & ~(1u << cpu);
      else if (filter == 2)
        list = 1u << cpu;
      else if (filter == 3)
        return guest_error("GICD_SGIR with reserved TargetListFilter 3");
      for (unsigned t = 0; t < core_.num_cpus(); ++t)
        if ((list >> t) & 1) core_.send_sgi(cpu, t, sgi);
      core_.update();
      return {};
    }
    case GICD_TYPER:
      return guest_error("read-only GICD_TYPER");
    case GICD_IIDR:
      return guest_error("read-only GICD_IIDR");
    case GICD_PIDR2:
      return guest_error("read-only GICD_PIDR2");
    default:
      return dist_other(off);
  }
}

MemResult Gicv2::CpuInterface::read(uint64_t off, unsigned size, uint64_t& value) {
  return read_attrs(off, size, value, {});
}

MemResult Gicv2::CpuInterface::read_attrs(uint64_t off, unsigned size, uint64_t& value,
                                          const MemAttrs& attrs) {
  std::lock_guard<std::mutex> g(core_.mu());
  value = 0;
  log_ignored(core_.log(), kCpuFrame, false, off, size,
              read_locked(requester(core_, attrs), off, size, value));
  return MemResult::Ok;
}

MemResult Gicv2::CpuInterface::write(uint64_t off, unsigned size, uint64_t value) {
  return write_attrs(off, size, value, {});
}

MemResult Gicv2::CpuInterface::write_attrs(uint64_t off, unsigned size, uint64_t value,
                                           const MemAttrs& attrs) {
  std::lock_guard<std::mutex> g(core_.mu());
  log_ignored(core_.log(), kCpuFrame, true, off, size,
              write_locked(requester(core_, attrs), off, size, uint32_t(value)));
  core_.update();
  return MemResult::Ok;
}

Ignored Gicv2::CpuInterface::read_locked(unsigned cpu, uint64_t off, unsigned size,
                                         uint64_t& value) {
  GicCore::CpuIf& c = core_.cpu_if(cpu);
  if (size != 4 || (off & 3)) return guest_error("bad access size");
  if (off >= GICC_APR0 && off < GICC_APR0 + 4 * kNumApr) {
    value = c.apr[0][(off - GICC_APR0) / 4];
    return {};
  }
  if (off >= GICC_NSAPR0 && off < GICC_NSAPR0 + 4 * kNumApr) {
    value = c.apr[1][(off - GICC_NSAPR0) / 4];
    return {};
  }
  switch (off) {
    case GICC_CTLR:
      value = uint32_t(c.grp_enable[0]) * CTLR_EnableGrp0 |
              uint32_t(c.grp_enable[1]) * CTLR_EnableGrp1 | uint32_t(c.ack_ctl) * CTLR_AckCtl |
              uint32_t(c.fiq_en) * CTLR_FIQEn | uint32_t(c.cbpr) * CTLR_CBPR |
              uint32_t(c.eoi_mode) * CTLR_EOImode;
      return {};
    case GICC_PMR:
      value = c.pmr;
      return {};
    case GICC_BPR:
      value = c.bpr[0];
      return {};
    case GICC_ABPR:
      value = c.bpr[1] + 1u;  // ABPR's field is one more than the binary point it selects
      return {};
    case GICC_IAR:
      value = core_.acknowledge(cpu, true, c.ack_ctl);
      return {};
    case GICC_AIAR:
      value = core_.acknowledge(cpu, false, true);
      return {};
    case GICC_RPR:
      value = core_.running_priority(cpu);
      return {};
    case GICC_HPPIR:
    case GICC_AHPPIR: {
      unsigned id = core_.hppi(cpu);
      if (id != kGicSpurious) {
        const bool g1 = core_.irq(cpu, id)->group1;
        if (off == GICC_AHPPIR && !g1)
          id = kGicSpurious;
        else if (off == GICC_HPPIR && g1 && !c.ack_ctl)
          id = 1022;
        else if (id < kGicNumSgis)
          id |= unsigned(__builtin_ctz(core_.sgi_sources(cpu, id) | 0x100u)) << 10;
      }
      value = id;
      return {};
    }
    case GICC_IIDR:
      value = kGicv2Iidr;
      return {};
    case GICC_EOIR:
      return guest_error("write-only GICC_EOIR");
    case GICC_AEOIR:
      return guest_error("write-only GICC_AEOIR");
    case GICC_DIR:
      return guest_error("write-only GICC_DIR");
    default:
      if (off >= kCpuImpDef && off < kCpuImpDefEnd)
        return unimplemented("implementation-defined register");
      return guest_error("reserved");
  }
}

Ignored Gicv2::CpuInterface::write_locked(unsigned cpu, uint64_t off, unsigned size, uint32_t v) {
  GicCore::CpuIf& c = core_.cpu_if(cpu);
  if (size != 4 || (off & 3)) return guest_error("bad access size");
  if (off >= GICC_APR0 && off < GICC_APR0 + 4 * kNumApr) {
    c.apr[0][(off - GICC_APR0) / 4] = v;
    return {};
  }
  if (off >= GICC_NSAPR0 && off < GICC_NSAPR0 + 4 * kNumApr) {
    c.apr[1][(off - GICC_NSAPR0) / 4] = v;
    return {};
  }
  switch (off) {
    case GICC_CTLR:
      c.grp_enable[0] = v & CTLR_EnableGrp0;
      c.grp_enable[1] = v & CTLR_EnableGrp1;
      c.ack_ctl = v & CTLR_AckCtl;
      c.fiq_en = v & CTLR_FIQEn;
      c.cbpr = v & CTLR_CBPR;
      c.eoi_mode = v & CTLR_EOImode;
      return {};
    case GICC_PMR:
      c.pmr = uint8_t(v);
      return {};
    case GICC_BPR:
      c.bpr[0] = uint8_t(v & 7);
      return {};
    case GICC_ABPR:
      c.bpr[1] = uint8_t((v & 7) ? (v & 7) - 1 : 0);
      return {};
    case GICC_EOIR:
    case GICC_AEOIR: {
      // The INTID field is 10 bits, so irq() bounds the lookup; unknown INTIDs are reported by
      // the core.
      const GicCore::Irq* q = core_.irq(cpu, v & 0x3FF);
      core_.end_of_interrupt(cpu, v, q ? q->group1 : off == GICC_AEOIR);
      return {};
    }
    case GICC_DIR:
      if (!c.eoi_mode)
        core_.log().log(kLogGuestErrors, "gicv2: GICC_DIR write with GICC_CTLR.EOImode clear\n");
      core_.deactivate(cpu, v & 0x3FF);
      return {};
    case GICC_IAR:
      return guest_error("read-only GICC_IAR");
    case GICC_AIAR:
      return guest_error("read-only GICC_AIAR");
    case GICC_RPR:
      return guest_error("read-only GICC_RPR");
    case GICC_HPPIR:
      return guest_error("read-only GICC_HPPIR");
    case GICC_AHPPIR:
      return guest_error("read-only GICC_AHPPIR");
    case GICC_IIDR:
      return guest_error("read-only GICC_IIDR");
    default:
      if (off >= kCpuImpDef && off < kCpuImpDefEnd)
        return unimplemented("implementation-defined register");
      return guest_error("reserved");
  }
}

}  // namespace orrery::hw::intc
