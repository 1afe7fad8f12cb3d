#include "hw/intc/gicv2.h"

#include "hw/core/requester.h"

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

unsigned requester(const GicCore& core) {
  unsigned cpu = current_requester();
  return cpu < core.num_cpus() ? cpu : 0;
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
  std::lock_guard<std::mutex> g(core_.mu());
  unsigned cpu = requester(core_);
  value = 0;
  unsigned n = core_.num_irqs();
  // Byte-accessible registers: one INTID per byte.
  if ((off >= GICD_IPRIORITYR && off < GICD_IPRIORITYR + n) ||
      (off >= GICD_ITARGETSR && off < GICD_ITARGETSR + n) ||
      (off >= GICD_CPENDSGIR && off < GICD_SPENDSGIR + 16)) {
    for (unsigned b = 0; b < size; ++b) {
      uint64_t o = off + b;
      uint8_t v = 0;
      if (o >= GICD_IPRIORITYR && o < GICD_IPRIORITYR + n) {
        v = core_.read_priority(cpu, unsigned(o - GICD_IPRIORITYR));
      } else if (o >= GICD_ITARGETSR && o < GICD_ITARGETSR + n) {
        unsigned id = unsigned(o - GICD_ITARGETSR);
        // Private interrupts read as the accessing CPU's own bit.
        v = id < kGicNumPrivate ? uint8_t(1u << cpu) : core_.spi_target(id);
      } else if (o >= GICD_CPENDSGIR && o < GICD_SPENDSGIR + 16) {
        v = core_.sgi_sources(cpu, unsigned(o & 0xF));
      }
      value |= uint64_t(v) << (8 * b);
    }
    return MemResult::Ok;
  }
  if (size != 4 || (off & 3)) {
    core_.log().log(kLogGuestErrors, "gicv2: %u-byte read of GICD+0x%03llx (word register)\n", size,
                    (unsigned long long)off);
    return MemResult::Ok;
  }
  for (const BitRange& r : kBitRegs) {
    if (off >= r.base && off < r.base + 0x80) {
      unsigned first = unsigned(off - r.base) * 8;
      value = first < n ? core_.read_bits(cpu, r.reg, first) : 0;
      return MemResult::Ok;
    }
  }
  if (off >= GICD_ICFGR && off < GICD_ICFGR + 0x100) {
    unsigned first = unsigned(off - GICD_ICFGR) * 4;
    value = first < n ? core_.read_config(cpu, first) : 0;
    return MemResult::Ok;
  }
  switch (off) {
    case GICD_CTLR:
      value = uint32_t(core_.dist_grp_enable[0]) | uint32_t(core_.dist_grp_enable[1]) << 1;
      return MemResult::Ok;
    case GICD_TYPER:
      value = (n / 32 - 1) | (core_.num_cpus() - 1) << 5;
      return MemResult::Ok;
    case GICD_IIDR:
      value = kGicv2Iidr;
      return MemResult::Ok;
    case GICD_PIDR2:
      value = 0x2B;  // ArchRev 2
      return MemResult::Ok;
    case GICD_SGIR:
      core_.log().log(kLogGuestErrors, "gicv2: read of write-only GICD_SGIR\n");
      return MemResult::Ok;
    default:
      // Reserved and implementation-defined space, GICD_NSACR: RAZ.
      return MemResult::Ok;
  }
}

MemResult Gicv2::Dist::write(uint64_t off, unsigned size, uint64_t value) {
  std::lock_guard<std::mutex> g(core_.mu());
  unsigned cpu = requester(core_);
  unsigned n = core_.num_irqs();
  if ((off >= GICD_IPRIORITYR && off < GICD_IPRIORITYR + n) ||
      (off >= GICD_ITARGETSR && off < GICD_ITARGETSR + n) ||
      (off >= GICD_CPENDSGIR && off < GICD_SPENDSGIR + 16)) {
    for (unsigned b = 0; b < size; ++b) {
      uint64_t o = off + b;
      uint8_t v = uint8_t(value >> (8 * b));
      if (o >= GICD_IPRIORITYR && o < GICD_IPRIORITYR + n) {
        core_.write_priority(cpu, unsigned(o - GICD_IPRIORITYR), v);
      } else if (o >= GICD_ITARGETSR && o < GICD_ITARGETSR + n) {
        unsigned id = unsigned(o - GICD_ITARGETSR);
        if (id >= kGicNumPrivate)  // private targets are read-only
          core_.set_spi_target(id, uint8_t(v & ((1u << core_.num_cpus()) - 1)));
      } else if (o >= GICD_CPENDSGIR && o < GICD_CPENDSGIR + 16) {
        core_.sgi_sources(cpu, unsigned(o & 0xF)) &= uint8_t(~v);
      } else if (o >= GICD_SPENDSGIR && o < GICD_SPENDSGIR + 16) {
        core_.sgi_sources(cpu, unsigned(o & 0xF)) |= uint8_t(v & ((1u << core_.num_cpus()) - 1));
      }
    }
    core_.update();
    return MemResult::Ok;
  }
  if (size != 4 || (off & 3)) {
    core_.log().log(kLogGuestErrors, "gicv2: %u-byte write to GICD+0x%03llx (word register)\n",
                    size, (unsigned long long)off);
    return MemResult::Ok;
  }
  uint32_t v = uint32_t(value);
  for (const BitRange& r : kBitRegs) {
    if (off >= r.base && off < r.base + 0x80) {
      unsigned first = unsigned(off - r.base) * 8;
      if (first < n) core_.write_bits(cpu, r.reg, first, v);
      return MemResult::Ok;
    }
  }
  if (off >= GICD_ICFGR && off < GICD_ICFGR + 0x100) {
    unsigned first = unsigned(off - GICD_ICFGR) * 4;
    if (first < n) core_.write_config(cpu, first, v);
    return MemResult::Ok;
  }
  switch (off) {
    case GICD_CTLR:
      core_.dist_grp_enable[0] = v & 1;
      core_.dist_grp_enable[1] = (v >> 1) & 1;
      core_.update();
      return MemResult::Ok;
    case GICD_SGIR: {
      unsigned sgi = v & 0xF;
      unsigned filter = (v >> 24) & 3;
      unsigned list = (v >> 16) & 0xFF;
      if (filter == 1)
        list = ((1u << core_.num_cpus()) - 1) & ~(1u << cpu);
      else if (filter == 2)
        list = 1u << cpu;
      else if (filter == 3) {
        core_.log().log(kLogGuestErrors, "gicv2: GICD_SGIR with reserved TargetListFilter 3\n");
        return MemResult::Ok;
      }
      for (unsigned t = 0; t < core_.num_cpus(); ++t)
        if ((list >> t) & 1) core_.send_sgi(cpu, t, sgi);
      core_.update();
      return MemResult::Ok;
    }
    case GICD_TYPER:
    case GICD_IIDR:
    case GICD_PIDR2:
      core_.log().log(kLogGuestErrors, "gicv2: write to read-only GICD+0x%03llx\n",
                      (unsigned long long)off);
      return MemResult::Ok;
    default:
      return MemResult::Ok;  // reserved, GICD_NSACR: WI
  }
}

MemResult Gicv2::CpuInterface::read(uint64_t off, unsigned size, uint64_t& value) {
  (void)size;
  std::lock_guard<std::mutex> g(core_.mu());
  unsigned cpu = requester(core_);
  GicCore::CpuIf& c = core_.cpu_if(cpu);
  value = 0;
  switch (off) {
    case GICC_CTLR:
      value = uint32_t(c.grp_enable[0]) * CTLR_EnableGrp0 |
              uint32_t(c.grp_enable[1]) * CTLR_EnableGrp1 | uint32_t(c.ack_ctl) * CTLR_AckCtl |
              uint32_t(c.fiq_en) * CTLR_FIQEn | uint32_t(c.cbpr) * CTLR_CBPR |
              uint32_t(c.eoi_mode) * CTLR_EOImode;
      break;
    case GICC_PMR:
      value = c.pmr;
      break;
    case GICC_BPR:
      value = c.bpr[0];
      break;
    case GICC_ABPR:
      value = c.bpr[1] + 1u;  // ABPR's field is one more than the binary point it selects
      break;
    case GICC_IAR:
      value = core_.acknowledge(cpu, true, c.ack_ctl);
      break;
    case GICC_AIAR:
      value = core_.acknowledge(cpu, false, true);
      break;
    case GICC_RPR:
      value = core_.running_priority(cpu);
      break;
    case GICC_HPPIR:
    case GICC_AHPPIR: {
      unsigned id = core_.hppi(cpu);
      if (id != kGicSpurious) {
        bool g1 = core_.irq(cpu, id)->group1;
        if (off == GICC_AHPPIR && !g1)
          id = kGicSpurious;
        else if (off == GICC_HPPIR && g1 && !c.ack_ctl)
          id = 1022;
        else if (id < kGicNumSgis) {
          unsigned src = core_.sgi_sources(cpu, id);
          id |= unsigned(__builtin_ctz(src | 0x100)) << 10;
        }
      }
      value = id;
      break;
    }
    case GICC_APR0:
      value = c.apr[0][0];
      break;
    case GICC_NSAPR0:
      value = c.apr[1][0];
      break;
    case GICC_IIDR:
      value = kGicv2Iidr;
      break;
    case GICC_EOIR:
    case GICC_AEOIR:
    case GICC_DIR:
      core_.log().log(kLogGuestErrors, "gicv2: read of write-only GICC+0x%03llx\n",
                      (unsigned long long)off);
      break;
    default:
      break;
  }
  return MemResult::Ok;
}

MemResult Gicv2::CpuInterface::write(uint64_t off, unsigned size, uint64_t value) {
  (void)size;
  std::lock_guard<std::mutex> g(core_.mu());
  unsigned cpu = requester(core_);
  GicCore::CpuIf& c = core_.cpu_if(cpu);
  uint32_t v = uint32_t(value);
  switch (off) {
    case GICC_CTLR:
      c.grp_enable[0] = v & CTLR_EnableGrp0;
      c.grp_enable[1] = v & CTLR_EnableGrp1;
      c.ack_ctl = v & CTLR_AckCtl;
      c.fiq_en = v & CTLR_FIQEn;
      c.cbpr = v & CTLR_CBPR;
      c.eoi_mode = v & CTLR_EOImode;
      break;
    case GICC_PMR:
      c.pmr = uint8_t(v);
      break;
    case GICC_BPR:
      c.bpr[0] = uint8_t(v & 7);
      break;
    case GICC_ABPR:
      c.bpr[1] = uint8_t((v & 7) ? (v & 7) - 1 : 0);
      break;
    case GICC_EOIR:
    case GICC_AEOIR: {
      unsigned id = v & 0x3FF;
      GicCore::Irq* q = core_.irq(cpu, id);
      bool g1 = q ? q->group1 : off == GICC_AEOIR;
      core_.end_of_interrupt(cpu, v, g1);
      break;
    }
    case GICC_DIR:
      if (!c.eoi_mode)
        core_.log().log(kLogGuestErrors, "gicv2: GICC_DIR write with GICC_CTLR.EOImode clear\n");
      core_.deactivate(cpu, v & 0x3FF);
      break;
    case GICC_APR0:
      c.apr[0][0] = v;
      break;
    case GICC_NSAPR0:
      c.apr[1][0] = v;
      break;
    case GICC_IAR:
    case GICC_AIAR:
    case GICC_RPR:
    case GICC_HPPIR:
    case GICC_AHPPIR:
    case GICC_IIDR:
      core_.log().log(kLogGuestErrors, "gicv2: write to read-only GICC+0x%03llx\n",
                      (unsigned long long)off);
      break;
    default:
      break;
  }
  core_.update();
  return MemResult::Ok;
}

}  // namespace orrery::hw::intc
