#include "hw/intc/gicv3.h"

#include <algorithm>

namespace orrery::hw::intc {

namespace {

using BitReg = GicCore::BitReg;

constexpr uint32_t kGicv3Iidr = 0x0300'043B;  // ARM, GICv3 (as QEMU's model reports)
constexpr uint32_t kPidr2Gicv3 = 0x3B;        // ArchRev 3

struct BitRange {
  uint64_t base;
  BitReg reg;
};
constexpr BitRange kBitRegs[] = {
    {Gicv3::GICD_IGROUPR, BitReg::Group},         {Gicv3::GICD_ISENABLER, BitReg::SetEnable},
    {Gicv3::GICD_ICENABLER, BitReg::ClearEnable}, {Gicv3::GICD_ISPENDR, BitReg::SetPending},
    {Gicv3::GICD_ICPENDR, BitReg::ClearPending},  {Gicv3::GICD_ISACTIVER, BitReg::SetActive},
    {Gicv3::GICD_ICACTIVER, BitReg::ClearActive},
};

uint64_t size_mask(unsigned size) {
  return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

// IRQ_ROUTING_MODE plus Aff3..Aff0.
constexpr uint64_t kIrouterMask = 0xFF'8000'0000ull | 0xFF'FFFFull;

}  // namespace

Gicv3::Gicv3(std::vector<uint64_t> mpidrs, unsigned num_irqs, Log& log)
    : core_(GicVersion::V3, unsigned(mpidrs.size()), num_irqs, mpidrs, log),
      dist_(core_),
      redist_(*this),
      sleeping_(mpidrs.size(), true) {
  for (unsigned i = 0; i < mpidrs.size(); ++i)
    cpu_ifs_.push_back(std::make_unique<CpuIf>(core_, i));
  reset();
}

void Gicv3::reset() {
  core_.reset();
  std::lock_guard<std::mutex> g(core_.mu());
  for (unsigned i = 0; i < sleeping_.size(); ++i) sleeping_[i] = true;
  // PMR resets to 0 (everything masked) on real GICs; Linux programs it before enabling.
}

// ---- Distributor ----

MemResult Gicv3::Dist::read(uint64_t off, unsigned size, uint64_t& value) {
  std::lock_guard<std::mutex> g(core_.mu());
  unsigned n = core_.num_irqs();
  value = 0;
  if (off >= GICD_IPRIORITYR && off < GICD_IPRIORITYR + 1020) {
    for (unsigned b = 0; b < size; ++b) {
      unsigned id = unsigned(off - GICD_IPRIORITYR) + b;
      // With affinity routing, private interrupts live in the redistributors.
      if (id >= kGicNumPrivate && id < n) value |= uint64_t(core_.read_priority(0, id)) << (8 * b);
    }
    return MemResult::Ok;
  }
  if (off >= GICD_IROUTER + 8 * kGicNumPrivate && off < GICD_IROUTER + 8 * 1020) {
    unsigned id = unsigned((off - GICD_IROUTER) / 8);
    uint64_t full = id < n ? core_.spi_route(id) : 0;
    value = (full >> (8 * (off & 7))) & size_mask(size);
    return MemResult::Ok;
  }
  if (size != 4 || (off & 3)) {
    core_.log().log(kLogGuestErrors, "gicv3: %u-byte read of GICD+0x%04llx\n", size,
                    (unsigned long long)off);
    return MemResult::Ok;
  }
  for (const BitRange& r : kBitRegs) {
    if (off >= r.base && off < r.base + 0x80) {
      unsigned first = unsigned(off - r.base) * 8;
      value = (first >= kGicNumPrivate && first < n) ? core_.read_bits(0, r.reg, first) : 0;
      return MemResult::Ok;
    }
  }
  if (off >= GICD_ICFGR && off < GICD_ICFGR + 0x100) {
    unsigned first = unsigned(off - GICD_ICFGR) * 4;
    value = (first >= kGicNumPrivate && first < n) ? core_.read_config(0, first) : 0;
    return MemResult::Ok;
  }
  switch (off) {
    case GICD_CTLR:
      value = uint32_t(core_.dist_grp_enable[0]) * GICD_CTLR_EnableGrp0 |
              uint32_t(core_.dist_grp_enable[1]) * GICD_CTLR_EnableGrp1 | GICD_CTLR_ARE |
              GICD_CTLR_DS;
      break;
    case GICD_TYPER:
      // ITLinesNumber, CPUNumber, IDbits = 9 (10-bit INTIDs); no LPIs, MBIs, ESPIs.
      value = (n / 32 - 1) | (core_.num_cpus() - 1) << 5 | 9u << 19;
      break;
    case GICD_IIDR:
      value = kGicv3Iidr;
      break;
    case GICD_PIDR2:
      value = kPidr2Gicv3;
      break;
    default:
      break;  // GICD_TYPER2, STATUSR, IGRPMODR, NSACR, ITARGETSR (ARE=1), reserved: RAZ
  }
  return MemResult::Ok;
}

MemResult Gicv3::Dist::write(uint64_t off, unsigned size, uint64_t value) {
  std::lock_guard<std::mutex> g(core_.mu());
  unsigned n = core_.num_irqs();
  if (off >= GICD_IPRIORITYR && off < GICD_IPRIORITYR + 1020) {
    for (unsigned b = 0; b < size; ++b) {
      unsigned id = unsigned(off - GICD_IPRIORITYR) + b;
      if (id >= kGicNumPrivate && id < n) core_.write_priority(0, id, uint8_t(value >> (8 * b)));
    }
    return MemResult::Ok;
  }
  if (off >= GICD_IROUTER + 8 * kGicNumPrivate && off < GICD_IROUTER + 8 * 1020) {
    unsigned id = unsigned((off - GICD_IROUTER) / 8);
    if (id >= n) return MemResult::Ok;
    unsigned shift = unsigned(8 * (off & 7));
    uint64_t mask = size_mask(size) << shift;
    uint64_t full = (core_.spi_route(id) & ~mask) | ((value << shift) & mask);
    core_.set_spi_route(id, full & kIrouterMask);
    core_.update();
    return MemResult::Ok;
  }
  if (size != 4 || (off & 3)) {
    core_.log().log(kLogGuestErrors, "gicv3: %u-byte write to GICD+0x%04llx\n", size,
                    (unsigned long long)off);
    return MemResult::Ok;
  }
  uint32_t v = uint32_t(value);
  for (const BitRange& r : kBitRegs) {
    if (off >= r.base && off < r.base + 0x80) {
      unsigned first = unsigned(off - r.base) * 8;
      if (first >= kGicNumPrivate && first < n) core_.write_bits(0, r.reg, first, v);
      return MemResult::Ok;
    }
  }
  if (off >= GICD_ICFGR && off < GICD_ICFGR + 0x100) {
    unsigned first = unsigned(off - GICD_ICFGR) * 4;
    if (first >= kGicNumPrivate && first < n) core_.write_config(0, first, v);
    return MemResult::Ok;
  }
  switch (off) {
    case GICD_CTLR:
      core_.dist_grp_enable[0] = v & GICD_CTLR_EnableGrp0;
      core_.dist_grp_enable[1] = v & GICD_CTLR_EnableGrp1;
      core_.update();
      break;
    case GICD_SGIR:
      core_.log().log(kLogGuestErrors, "gicv3: GICD_SGIR write with affinity routing enabled\n");
      break;
    case GICD_TYPER:
    case GICD_IIDR:
    case GICD_PIDR2:
      core_.log().log(kLogGuestErrors, "gicv3: write to read-only GICD+0x%04llx\n",
                      (unsigned long long)off);
      break;
    default:
      break;
  }
  return MemResult::Ok;
}

// ---- Redistributors ----

MemResult Gicv3::Redist::read(uint64_t off, unsigned size, uint64_t& value) {
  GicCore& core = gic_.core_;
  std::lock_guard<std::mutex> g(core.mu());
  unsigned cpu = unsigned(off / kRedistStride);
  value = 0;
  if (cpu >= core.num_cpus()) return MemResult::Ok;
  uint64_t o = off % kRedistStride;
  if (o < kSgiBase) {
    uint64_t full = 0;
    switch (o & ~7ull) {
      case GICR_CTLR:  // and GICR_IIDR at +4
        full = uint64_t(kGicv3Iidr) << 32;
        break;
      case GICR_TYPER: {
        uint64_t aff = core.mpidr(cpu);
        uint64_t aff32 = (aff & 0xFF'FFFF) | ((aff >> 32) & 0xFF) << 24;
        full =
            aff32 << 32 | uint64_t(cpu) << 8 | (cpu + 1 == core.num_cpus() ? GICR_TYPER_Last : 0);
        break;
      }
      case GICR_STATUSR:  // and GICR_WAKER at +4
        if (gic_.sleeping_[cpu])
          full = uint64_t(GICR_WAKER_ProcessorSleep | GICR_WAKER_ChildrenAsleep) << 32;
        break;
      case GICR_PIDR2:
        full = kPidr2Gicv3;
        break;
      default:
        break;  // PROPBASER/PENDBASER (no LPIs), reserved: RAZ
    }
    value = (full >> (8 * (o & 7))) & size_mask(size);
    return MemResult::Ok;
  }
  o -= kSgiBase;
  if (o >= GICR_IPRIORITYR && o < GICR_IPRIORITYR + kGicNumPrivate) {
    for (unsigned b = 0; b < size && o + b < GICR_IPRIORITYR + kGicNumPrivate; ++b)
      value |= uint64_t(core.read_priority(cpu, unsigned(o - GICR_IPRIORITYR) + b)) << (8 * b);
    return MemResult::Ok;
  }
  if (size != 4 || (o & 3)) {
    core.log().log(kLogGuestErrors, "gicv3: %u-byte read of GICR%u SGI_base+0x%04llx\n", size, cpu,
                   (unsigned long long)o);
    return MemResult::Ok;
  }
  switch (o) {
    case GICR_IGROUPR0:
      value = core.read_bits(cpu, BitReg::Group, 0);
      break;
    case GICR_ISENABLER0:
    case GICR_ICENABLER0:
      value = core.read_bits(cpu, BitReg::SetEnable, 0);
      break;
    case GICR_ISPENDR0:
    case GICR_ICPENDR0:
      value = core.read_bits(cpu, BitReg::SetPending, 0);
      break;
    case GICR_ISACTIVER0:
    case GICR_ICACTIVER0:
      value = core.read_bits(cpu, BitReg::SetActive, 0);
      break;
    case GICR_ICFGR0:
      value = core.read_config(cpu, 0);
      break;
    case GICR_ICFGR1:
      value = core.read_config(cpu, 16);
      break;
    default:
      break;  // IGRPMODR0, NSACR, reserved: RAZ
  }
  return MemResult::Ok;
}

MemResult Gicv3::Redist::write(uint64_t off, unsigned size, uint64_t value) {
  GicCore& core = gic_.core_;
  std::lock_guard<std::mutex> g(core.mu());
  unsigned cpu = unsigned(off / kRedistStride);
  if (cpu >= core.num_cpus()) return MemResult::Ok;
  uint64_t o = off % kRedistStride;
  if (o < kSgiBase) {
    if (o == GICR_WAKER && size == 4) {
      gic_.sleeping_[cpu] = value & GICR_WAKER_ProcessorSleep;
    } else if (o == GICR_CTLR && size == 4) {
      if (value & 1)
        core.log().log(kLogGuestErrors, "gicv3: GICR_CTLR.EnableLPIs set, but LPIs are absent\n");
    } else if (o == GICR_TYPER || o == GICR_TYPER + 4 || o == GICR_IIDR || o == GICR_PIDR2) {
      core.log().log(kLogGuestErrors, "gicv3: write to read-only GICR%u+0x%04llx\n", cpu,
                     (unsigned long long)o);
    }
    return MemResult::Ok;
  }
  o -= kSgiBase;
  if (o >= GICR_IPRIORITYR && o < GICR_IPRIORITYR + kGicNumPrivate) {
    for (unsigned b = 0; b < size && o + b < GICR_IPRIORITYR + kGicNumPrivate; ++b)
      core.write_priority(cpu, unsigned(o - GICR_IPRIORITYR) + b, uint8_t(value >> (8 * b)));
    return MemResult::Ok;
  }
  if (size != 4 || (o & 3)) {
    core.log().log(kLogGuestErrors, "gicv3: %u-byte write to GICR%u SGI_base+0x%04llx\n", size, cpu,
                   (unsigned long long)o);
    return MemResult::Ok;
  }
  uint32_t v = uint32_t(value);
  switch (o) {
    case GICR_IGROUPR0:
      core.write_bits(cpu, BitReg::Group, 0, v);
      break;
    case GICR_ISENABLER0:
      core.write_bits(cpu, BitReg::SetEnable, 0, v);
      break;
    case GICR_ICENABLER0:
      core.write_bits(cpu, BitReg::ClearEnable, 0, v);
      break;
    case GICR_ISPENDR0:
      core.write_bits(cpu, BitReg::SetPending, 0, v);
      break;
    case GICR_ICPENDR0:
      core.write_bits(cpu, BitReg::ClearPending, 0, v);
      break;
    case GICR_ISACTIVER0:
      core.write_bits(cpu, BitReg::SetActive, 0, v);
      break;
    case GICR_ICACTIVER0:
      core.write_bits(cpu, BitReg::ClearActive, 0, v);
      break;
    case GICR_ICFGR0:
      core.write_config(cpu, 0, v);
      break;
    case GICR_ICFGR1:
      core.write_config(cpu, 16, v);
      break;
    default:
      break;
  }
  return MemResult::Ok;
}

// ---- CPU interface (ICC_*_EL1) ----

uint64_t Gicv3::CpuIf::read(IccReg reg) {
  std::lock_guard<std::mutex> g(core_.mu());
  GicCore::CpuIf& c = core_.cpu_if(cpu_);
  switch (reg) {
    case IccReg::IAR0:
      return core_.acknowledge(cpu_, true, false);
    case IccReg::IAR1:
      return core_.acknowledge(cpu_, false, true);
    case IccReg::HPPIR0:
    case IccReg::HPPIR1: {
      unsigned id = core_.hppi(cpu_);
      if (id != kGicSpurious && core_.irq(cpu_, id)->group1 != (reg == IccReg::HPPIR1))
        id = kGicSpurious;
      return id;
    }
    case IccReg::BPR0:
      return c.bpr[0];
    case IccReg::BPR1:
      return c.cbpr ? std::min<unsigned>(c.bpr[0] + 1u, 7) : c.bpr[1];
    case IccReg::AP0R0:
    case IccReg::AP0R1:
    case IccReg::AP0R2:
    case IccReg::AP0R3:
      return c.apr[0][unsigned(reg) - unsigned(IccReg::AP0R0)];
    case IccReg::AP1R0:
    case IccReg::AP1R1:
    case IccReg::AP1R2:
    case IccReg::AP1R3:
      return c.apr[1][unsigned(reg) - unsigned(IccReg::AP1R0)];
    case IccReg::PMR:
      return c.pmr;
    case IccReg::CTLR:
      // PRIbits = 7 (8 priority bits), IDbits = 0 (16-bit), no SEIS/A3V/RSS.
      return (c.cbpr ? ICC_CTLR_CBPR : 0) | (c.eoi_mode ? ICC_CTLR_EOImode : 0) | 7u << 8;
    case IccReg::SRE:
      return 7;  // SRE, DFB, DIB: system registers only (RAO/WI)
    case IccReg::IGRPEN0:
      return c.grp_enable[0];
    case IccReg::IGRPEN1:
      return c.grp_enable[1];
    case IccReg::RPR:
      return core_.running_priority(cpu_);
    case IccReg::EOIR0:
    case IccReg::EOIR1:
    case IccReg::SGI0R:
    case IccReg::SGI1R:
    case IccReg::ASGI1R:
    case IccReg::DIR:
    case IccReg::kCount:
      core_.log().log(kLogGuestErrors, "gicv3: cpu %u read of write-only %s\n", cpu_,
                      reg < IccReg::kCount ? icc_reg_info(reg).name : "?");
      return 0;
  }
  return 0;
}

void Gicv3::CpuIf::generate_sgi(uint64_t v, bool group1) {
  (void)group1;  // one security state: the SGI's group is whatever GICR_IGROUPR0 says
  unsigned sgi = unsigned(v >> 24) & 0xF;
  uint64_t aff3 = (v >> 48) & 0xFF, aff2 = (v >> 32) & 0xFF, aff1 = (v >> 16) & 0xFF;
  unsigned rs = unsigned(v >> 44) & 0xF;
  bool irm = (v >> 40) & 1;
  uint32_t list = uint32_t(v & 0xFFFF);
  for (unsigned t = 0; t < core_.num_cpus(); ++t) {
    uint64_t m = core_.mpidr(t);
    bool hit;
    if (irm) {
      hit = t != cpu_;  // all but self
    } else {
      unsigned aff0 = unsigned(m & 0xFF);
      hit = ((m >> 32) & 0xFF) == aff3 && ((m >> 16) & 0xFF) == aff2 && ((m >> 8) & 0xFF) == aff1 &&
            aff0 / 16 == rs && ((list >> (aff0 % 16)) & 1);
    }
    if (hit) core_.send_sgi(cpu_, t, sgi);
  }
  core_.update();
}

void Gicv3::CpuIf::write(IccReg reg, uint64_t v) {
  std::lock_guard<std::mutex> g(core_.mu());
  GicCore::CpuIf& c = core_.cpu_if(cpu_);
  switch (reg) {
    case IccReg::EOIR0:
    case IccReg::EOIR1:
      core_.end_of_interrupt(cpu_, uint32_t(v), reg == IccReg::EOIR1);
      return;
    case IccReg::DIR:
      core_.deactivate(cpu_, unsigned(v) & 0xFFFFFF);
      return;
    case IccReg::BPR0:
      c.bpr[0] = uint8_t(v & 7);
      break;
    case IccReg::BPR1:
      if (!c.cbpr) c.bpr[1] = uint8_t(std::max<unsigned>(unsigned(v & 7), 1));
      break;
    case IccReg::AP0R0:
    case IccReg::AP0R1:
    case IccReg::AP0R2:
    case IccReg::AP0R3:
      c.apr[0][unsigned(reg) - unsigned(IccReg::AP0R0)] = uint32_t(v);
      break;
    case IccReg::AP1R0:
    case IccReg::AP1R1:
    case IccReg::AP1R2:
    case IccReg::AP1R3:
      c.apr[1][unsigned(reg) - unsigned(IccReg::AP1R0)] = uint32_t(v);
      break;
    case IccReg::PMR:
      c.pmr = uint8_t(v);
      break;
    case IccReg::CTLR:
      c.cbpr = v & ICC_CTLR_CBPR;
      c.eoi_mode = v & ICC_CTLR_EOImode;
      break;
    case IccReg::SRE:
      break;  // RAO/WI
    case IccReg::IGRPEN0:
      c.grp_enable[0] = v & 1;
      break;
    case IccReg::IGRPEN1:
      c.grp_enable[1] = v & 1;
      break;
    case IccReg::SGI0R:
      generate_sgi(v, false);
      return;
    case IccReg::SGI1R:
    case IccReg::ASGI1R:
      generate_sgi(v, true);
      return;
    case IccReg::IAR0:
    case IccReg::IAR1:
    case IccReg::HPPIR0:
    case IccReg::HPPIR1:
    case IccReg::RPR:
    case IccReg::kCount:
      core_.log().log(kLogGuestErrors, "gicv3: cpu %u write to read-only %s\n", cpu_,
                      reg < IccReg::kCount ? icc_reg_info(reg).name : "?");
      return;
  }
  core_.update();
}

}  // namespace orrery::hw::intc
