#include "hw/intc/gicv3.h"

#include <algorithm>
#include <cstdio>

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

// The SGI_base frame's GICR_IGROUPR0 ... GICR_ICACTIVER0 sit at the distributor's offsets and
// hold the first (private) word of the same registers.
static_assert(Gicv3::GICR_IGROUPR0 == Gicv3::GICD_IGROUPR &&
              Gicv3::GICR_ISENABLER0 == Gicv3::GICD_ISENABLER &&
              Gicv3::GICR_ICENABLER0 == Gicv3::GICD_ICENABLER &&
              Gicv3::GICR_ISPENDR0 == Gicv3::GICD_ISPENDR &&
              Gicv3::GICR_ICPENDR0 == Gicv3::GICD_ICPENDR &&
              Gicv3::GICR_ISACTIVER0 == Gicv3::GICD_ISACTIVER &&
              Gicv3::GICR_ICACTIVER0 == Gicv3::GICD_ICACTIVER);
const BitRange* private_bit_reg(uint64_t sgi_offset) {
  for (const BitRange& r : kBitRegs)
    if (sgi_offset == r.base) return &r;
  return nullptr;
}

uint64_t size_mask(unsigned size) {
  return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

// IRQ_ROUTING_MODE plus Aff3..Aff0.
constexpr uint64_t kIrouterMask = 0xFF'8000'0000ull | 0xFF'FFFFull;

constexpr const char* kDistFrame = "gicv3: GICD";
constexpr unsigned kMaxIntids = 1020;  // INTIDs 1020-1023 are special: no registers

// Layout beyond the registers Gicv3 names (IHI 0069 tables 12-25, 12-27, 12-29).
constexpr uint64_t kDistMbi = 0x0040, kDistMbiEnd = 0x0060;  // GICD_SETSPI/CLRSPI_NSR/SR
constexpr uint64_t kDistItargetsrEnd = 0x0C00, kDistNsacrEnd = 0x0F00;
constexpr uint64_t kDistCpendsgir = 0x0F10, kDistSpendsgirEnd = 0x0F30;
// At the same offsets in GICD and GICR RD_base: IMPLEMENTATION DEFINED space, then the ID
// registers (GICD/GICR_PIDR4 .. CIDR3), of which only PIDR2 is implemented.
constexpr uint64_t kImpDef = 0xC000, kIdRegs = 0xFFD0, kIdRegsEnd = 0x10000;
// GICR RD_base registers that exist only with LPIs (GICR_TYPER.PLPIS = 0 here).
struct Range {
  uint64_t begin, end;
};
constexpr Range kLpiRegs[] = {
    {0x0040, 0x0050},  // GICR_SETLPIR, GICR_CLRLPIR
    {0x0070, 0x0080},  // GICR_PROPBASER, GICR_PENDBASER
    {0x00A0, 0x00A8},  // GICR_INVLPIR
    {0x00B0, 0x00B8},  // GICR_INVALLR
    {0x00C0, 0x00C4},  // GICR_SYNCR
};

bool naturally_aligned(uint64_t off, unsigned size) {
  return (size == 1 || size == 2 || size == 4 || size == 8) && (off & (size - 1)) == 0;
}

// IMPLEMENTATION DEFINED space and unimplemented ID registers; empty for other offsets.
Ignored impdef_or_id(uint64_t off, bool write) {
  static_assert(Gicv3::GICD_PIDR2 == Gicv3::GICR_PIDR2);
  if (off >= kImpDef && off < kIdRegs) return unimplemented("implementation-defined register");
  if (off >= kIdRegs && off < kIdRegsEnd && off != Gicv3::GICD_PIDR2)
    return write ? guest_error("read-only identification register")
                 : unimplemented("identification register other than PIDR2");
  return {};
}

// The distributor's 32-bit-only registers: bitmaps, GICD_ICFGR and the named ones.
bool dist_word_register(uint64_t off) {
  if (off >= Gicv3::GICD_IGROUPR && off < Gicv3::GICD_IPRIORITYR) return true;
  if (off >= Gicv3::GICD_ICFGR && off < Gicv3::GICD_ICFGR + 0x100) return true;
  for (uint64_t r : {Gicv3::GICD_CTLR, Gicv3::GICD_TYPER, Gicv3::GICD_IIDR, Gicv3::GICD_TYPER2,
                     Gicv3::GICD_STATUSR, Gicv3::GICD_PIDR2})
    if (off == r) return true;
  return false;
}

// Distributor offsets no named register claims.
Ignored dist_other(uint64_t off) {
  // One security state (DS = 1): GICD_IGRPMODRn and GICD_NSACRn are RAZ/WI by the architecture.
  if (off >= Gicv3::GICD_IGRPMODR && off < kDistNsacrEnd) return {};
  if (off >= kDistMbi && off < kDistMbiEnd)
    return guest_error("GICD_SETSPI/CLRSPI without message-based SPIs");
  if (off >= Gicv3::GICD_ITARGETSR && off < kDistItargetsrEnd)
    return guest_error("GICD_ITARGETSR with affinity routing");
  if (off == Gicv3::GICD_SGIR) return guest_error("GICD_SGIR with affinity routing");
  if (off >= kDistCpendsgir && off < kDistSpendsgirEnd)
    return guest_error("GICD_CPENDSGIR/SPENDSGIR with affinity routing");
  return guest_error("reserved");
}

}  // namespace

Gicv3::Gicv3(std::vector<uint64_t> mpidrs, unsigned num_irqs, Log& log,
             const GuestMemory* lpi_memory)
    : core_(GicVersion::V3, unsigned(mpidrs.size()), num_irqs, mpidrs, log),
      lpi_mem_(lpi_memory),
      lpi_regs_(mpidrs.size()),
      dist_(core_, lpi_memory != nullptr),
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
  for (LpiRegs& r : lpi_regs_) r = {};
  // PMR resets to 0 (everything masked) on real GICs; Linux programs it before enabling.
}

// ---- Distributor ----

MemResult Gicv3::Dist::read(uint64_t off, unsigned size, uint64_t& value) {
  std::lock_guard<std::mutex> g(core_.mu());
  value = 0;
  log_ignored(core_.log(), kDistFrame, false, off, size, read_locked(off, size, value));
  return MemResult::Ok;
}

MemResult Gicv3::Dist::write(uint64_t off, unsigned size, uint64_t value) {
  std::lock_guard<std::mutex> g(core_.mu());
  log_ignored(core_.log(), kDistFrame, true, off, size, write_locked(off, size, value));
  return MemResult::Ok;
}

Ignored Gicv3::Dist::read_locked(uint64_t off, unsigned size, uint64_t& value) {
  const unsigned n = core_.num_irqs();
  if (!naturally_aligned(off, size)) return guest_error("bad access size");
  if (Ignored ig = impdef_or_id(off, false)) return ig;
  if (off >= GICD_IPRIORITYR && off < GICD_IPRIORITYR + kMaxIntids) {
    const unsigned first = unsigned(off - GICD_IPRIORITYR);
    // With affinity routing, private interrupts live in the redistributors. n is a multiple
    // of 32, so an aligned access is wholly private, wholly beyond n, or neither.
    if (first < kGicNumPrivate) return guest_error("private INTID: use GICR_IPRIORITYR");
    if (first >= n) return guest_error("INTID not implemented");
    for (unsigned b = 0; b < size; ++b)
      value |= uint64_t(core_.read_priority(0, first + b)) << (8 * b);
    return {};
  }
  if (off >= GICD_IROUTER && off < GICD_IROUTER + 8 * kMaxIntids) {
    const unsigned id = unsigned((off - GICD_IROUTER) / 8);
    if (size < 4) return guest_error("bad access size");
    if (id < kGicNumPrivate) return guest_error("GICD_IROUTER of a private INTID");
    if (id >= n) return guest_error("INTID not implemented");
    value = (core_.spi_route(id) >> (8 * (off & 7))) & size_mask(size);
    return {};
  }
  if (size != 4) return dist_word_register(off) ? guest_error("word register") : dist_other(off);
  for (const BitRange& r : kBitRegs) {
    if (off >= r.base && off < r.base + 0x80) {
      const unsigned first = unsigned(off - r.base) * 8;
      if (first < kGicNumPrivate) return guest_error("private INTIDs: use the redistributor");
      if (first >= n) return guest_error("INTID not implemented");
      value = core_.read_bits(0, r.reg, first);
      return {};
    }
  }
  if (off >= GICD_ICFGR && off < GICD_ICFGR + 0x100) {
    const unsigned first = unsigned(off - GICD_ICFGR) * 4;
    if (first < kGicNumPrivate) return guest_error("private INTIDs: use the redistributor");
    if (first >= n) return guest_error("INTID not implemented");
    value = core_.read_config(0, first);
    return {};
  }
  switch (off) {
    case GICD_CTLR:
      value = uint32_t(core_.dist_grp_enable[0]) * GICD_CTLR_EnableGrp0 |
              uint32_t(core_.dist_grp_enable[1]) * GICD_CTLR_EnableGrp1 | GICD_CTLR_ARE |
              GICD_CTLR_DS;
      return {};
    case GICD_TYPER:
      // ITLinesNumber, CPUNumber, IDbits: 10-bit INTIDs, or 16 bits and LPIS with LPIs; no
      // MBIs, ESPIs.
      value = (n / 32 - 1) | (core_.num_cpus() - 1) << 5;
      value |= lpis_ ? (kLpiIdBits - 1) << 19 | 1u << 17 : 9u << 19;
      return {};
    case GICD_IIDR:
      value = kGicv3Iidr;
      return {};
    case GICD_TYPER2:   // no vPEs, no extended features: all fields zero
    case GICD_STATUSR:  // optional; absent, so RAZ/WI
      return {};
    case GICD_PIDR2:
      value = kPidr2Gicv3;
      return {};
    default:
      return dist_other(off);
  }
}

Ignored Gicv3::Dist::write_locked(uint64_t off, unsigned size, uint64_t value) {
  const unsigned n = core_.num_irqs();
  if (!naturally_aligned(off, size)) return guest_error("bad access size");
  if (Ignored ig = impdef_or_id(off, true)) return ig;
  if (off >= GICD_IPRIORITYR && off < GICD_IPRIORITYR + kMaxIntids) {
    const unsigned first = unsigned(off - GICD_IPRIORITYR);
    if (first < kGicNumPrivate) return guest_error("private INTID: use GICR_IPRIORITYR");
    if (first >= n) return guest_error("INTID not implemented");
    for (unsigned b = 0; b < size; ++b)
      core_.write_priority(0, first + b, uint8_t(value >> (8 * b)));
    return {};
  }
  if (off >= GICD_IROUTER && off < GICD_IROUTER + 8 * kMaxIntids) {
    const unsigned id = unsigned((off - GICD_IROUTER) / 8);
    if (size < 4) return guest_error("bad access size");
    if (id < kGicNumPrivate) return guest_error("GICD_IROUTER of a private INTID");
    if (id >= n) return guest_error("INTID not implemented");
    const unsigned shift = unsigned(8 * (off & 7));
    const uint64_t mask = size_mask(size) << shift;
    const uint64_t full = (core_.spi_route(id) & ~mask) | ((value << shift) & mask);
    core_.set_spi_route(id, full & kIrouterMask);
    core_.update();
    return {};
  }
  if (size != 4) return dist_word_register(off) ? guest_error("word register") : dist_other(off);
  const uint32_t v = uint32_t(value);
  for (const BitRange& r : kBitRegs) {
    if (off >= r.base && off < r.base + 0x80) {
      const unsigned first = unsigned(off - r.base) * 8;
      if (first < kGicNumPrivate) return guest_error("private INTIDs: use the redistributor");
      if (first >= n) return guest_error("INTID not implemented");
      core_.write_bits(0, r.reg, first, v);
      return {};
    }
  }
  if (off >= GICD_ICFGR && off < GICD_ICFGR + 0x100) {
    const unsigned first = unsigned(off - GICD_ICFGR) * 4;
    if (first < kGicNumPrivate) return guest_error("private INTIDs: use the redistributor");
    if (first >= n) return guest_error("INTID not implemented");
    core_.write_config(0, first, v);
    return {};
  }
  switch (off) {
    case GICD_CTLR:
      // ARE and DS are RAO/WI; EnableGrp1S does not exist with one security state.
      core_.dist_grp_enable[0] = v & GICD_CTLR_EnableGrp0;
      core_.dist_grp_enable[1] = v & GICD_CTLR_EnableGrp1;
      core_.update();
      return {};
    case GICD_STATUSR:
      return {};
    case GICD_TYPER:
      return guest_error("read-only GICD_TYPER");
    case GICD_IIDR:
      return guest_error("read-only GICD_IIDR");
    case GICD_TYPER2:
      return guest_error("read-only GICD_TYPER2");
    case GICD_PIDR2:
      return guest_error("read-only GICD_PIDR2");
    default:
      return dist_other(off);
  }
}

// ---- Redistributors ----

namespace {

// RD_base registers that exist only with LPIs, IMPLEMENTATION DEFINED space and unimplemented
// ID registers; empty for other offsets.
Ignored rd_unimplemented(uint64_t o, bool write) {
  for (const Range& r : kLpiRegs)
    if (o >= r.begin && o < r.end) return unimplemented("LPI register: no LPIs");
  return impdef_or_id(o, write);
}

uint64_t gicr_typer(GicCore& core, unsigned cpu) {
  const uint64_t aff = core.mpidr(cpu);
  const uint64_t aff32 = (aff & 0xFF'FFFF) | ((aff >> 32) & 0xFF) << 24;
  return aff32 << 32 | uint64_t(cpu) << 8 |
         (cpu + 1 == core.num_cpus() ? Gicv3::GICR_TYPER_Last : 0);
}

}  // namespace

template <typename Access>
MemResult Gicv3::Redist::dispatch(uint64_t off, unsigned size, bool write, Access access) {
  GicCore& core = gic_.core_;
  std::lock_guard<std::mutex> g(core.mu());
  if (off / kRedistStride >= core.num_cpus()) {
    log_ignored(core.log(), "gicv3: GICR", write, off, size, guest_error("no such redistributor"));
    return MemResult::Ok;
  }
  const unsigned cpu = unsigned(off / kRedistStride);
  if (Ignored ig = access(cpu, off % kRedistStride)) {
    char frame[24];
    std::snprintf(frame, sizeof frame, "gicv3: GICR%u", cpu);
    log_ignored(core.log(), frame, write, off % kRedistStride, size, ig);
  }
  return MemResult::Ok;
}

MemResult Gicv3::Redist::read(uint64_t off, unsigned size, uint64_t& value) {
  value = 0;
  return dispatch(off, size, false, [&](unsigned cpu, uint64_t o) {
    return read_locked(cpu, o, size, value);
  });
}

MemResult Gicv3::Redist::write(uint64_t off, unsigned size, uint64_t value) {
  return dispatch(off, size, true, [&](unsigned cpu, uint64_t o) {
    return write_locked(cpu, o, size, value);
  });
}

Ignored Gicv3::Redist::read_locked(unsigned cpu, uint64_t o, unsigned size, uint64_t& value) {
  GicCore& core = gic_.core_;
  if (!naturally_aligned(o, size)) return guest_error("bad access size");
  if (o < kSgiBase) {
    if (gic_.has_lpis() && o >= GICR_PROPBASER && o < GICR_PENDBASER + 8 && size >= 4) {
      const LpiRegs& l = gic_.lpi_regs_[cpu];
      const uint64_t reg = o < GICR_PENDBASER ? l.propbaser : l.pendbaser;
      value = size == 8 ? reg : uint32_t(reg >> (8 * (o & 4)));
      return {};
    }
    if (Ignored ig = rd_unimplemented(o, false)) return ig;
    const uint64_t typer = gicr_typer(core, cpu) | (gic_.has_lpis() ? GICR_TYPER_PLPIS : 0);
    // GICR_TYPER is the one 64-bit RD_base register this model implements.
    if (o == GICR_TYPER && size == 8) {
      value = typer;
      return {};
    }
    if (size != 4) return guest_error("bad access size");
    switch (o) {
      case GICR_CTLR:  // RWP stays 0: changes take effect at once
        value = gic_.lpi_regs_[cpu].enabled ? GICR_CTLR_EnableLPIs : 0;
        return {};
      case GICR_STATUSR:  // optional; absent, so RAZ/WI
        return {};
      case GICR_IIDR:
        value = kGicv3Iidr;
        return {};
      case GICR_TYPER:
      case GICR_TYPER + 4:
        value = uint32_t(typer >> (8 * (o & 4)));
        return {};
      case GICR_WAKER:
        value = gic_.sleeping_[cpu] ? GICR_WAKER_ProcessorSleep | GICR_WAKER_ChildrenAsleep : 0;
        return {};
      case GICR_PIDR2:
        value = kPidr2Gicv3;
        return {};
      default:
        return guest_error("reserved");
    }
  }
  o -= kSgiBase;
  if (o >= GICR_IPRIORITYR && o < GICR_IPRIORITYR + kGicNumPrivate) {
    // An aligned access of at most 8 bytes stays inside the 32 priority bytes.
    for (unsigned b = 0; b < size; ++b)
      value |= uint64_t(core.read_priority(cpu, unsigned(o - GICR_IPRIORITYR) + b)) << (8 * b);
    return {};
  }
  if (o >= kImpDef && o < kIdRegs) return unimplemented("implementation-defined register");
  if (size != 4) return guest_error("bad access size");
  if (const BitRange* r = private_bit_reg(o)) {
    value = core.read_bits(cpu, r->reg, 0);
    return {};
  }
  switch (o) {
    case GICR_ICFGR0:
      value = core.read_config(cpu, 0);
      return {};
    case GICR_ICFGR1:
      value = core.read_config(cpu, 16);
      return {};
    case GICR_IGRPMODR0:  // one security state (DS = 1): RAZ/WI by the architecture
    case GICR_NSACR:
      return {};
    default:
      return guest_error("reserved");
  }
}

Ignored Gicv3::Redist::write_locked(unsigned cpu, uint64_t o, unsigned size, uint64_t value) {
  GicCore& core = gic_.core_;
  if (!naturally_aligned(o, size)) return guest_error("bad access size");
  if (o < kSgiBase) {
    if (gic_.has_lpis() && o >= GICR_PROPBASER && o < GICR_PENDBASER + 8 && size >= 4) {
      LpiRegs& l = gic_.lpi_regs_[cpu];
      // IHI 0069 12.11.31/12.11.32: changing the tables while LPIs are enabled is
      // UNPREDICTABLE; this model keeps the old value.
      if (l.enabled) return guest_error("GICR_PROPBASER/PENDBASER write with EnableLPIs set");
      // PROPBASER: IDbits, InnerCache, Shareability, PA[51:12], OuterCache. PENDBASER: the
      // same without IDbits, PA[51:16], and PTZ (write-only).
      constexpr uint64_t kPa = ((1ull << 52) - 1) & ~0xFFFull;
      constexpr uint64_t kCommon = 7u << 7 | 3u << 10 | 7ull << 56;
      constexpr uint64_t kPtz = 1ull << 62;
      const bool prop = o < GICR_PENDBASER;
      uint64_t& reg = prop ? l.propbaser : l.pendbaser;
      const uint64_t mask = prop ? kCommon | kPa | 0x1F : kCommon | (kPa & ~0xFFFFull);
      const unsigned shift = unsigned(8 * (o & 4));
      const uint64_t lanes = (size == 8 ? ~0ull : 0xFFFF'FFFFull) << shift;
      const uint64_t full = (reg & ~lanes) | ((value << shift) & lanes);
      if (!prop && (lanes >> 32)) l.ptz = full & kPtz;
      reg = full & mask;
      return {};
    }
    if (Ignored ig = rd_unimplemented(o, true)) return ig;
    if (o == GICR_TYPER && size == 8) return guest_error("read-only GICR_TYPER");
    if (size != 4) return guest_error("bad access size");
    switch (o) {
      case GICR_CTLR:
        if (!gic_.has_lpis()) {
          // Every writable GICR_CTLR field needs LPIs or GICv4.
          if (value & 1) return guest_error("GICR_CTLR.EnableLPIs set, but LPIs are absent");
          return {};
        }
        gic_.enable_lpis_locked(cpu, value & GICR_CTLR_EnableLPIs);
        return {};
      case GICR_STATUSR:
        return {};
      case GICR_WAKER:
        gic_.sleeping_[cpu] = value & GICR_WAKER_ProcessorSleep;
        return {};
      case GICR_IIDR:
        return guest_error("read-only GICR_IIDR");
      case GICR_TYPER:
      case GICR_TYPER + 4:
        return guest_error("read-only GICR_TYPER");
      case GICR_PIDR2:
        return guest_error("read-only GICR_PIDR2");
      default:
        return guest_error("reserved");
    }
  }
  o -= kSgiBase;
  if (o >= GICR_IPRIORITYR && o < GICR_IPRIORITYR + kGicNumPrivate) {
    for (unsigned b = 0; b < size; ++b)
      core.write_priority(cpu, unsigned(o - GICR_IPRIORITYR) + b, uint8_t(value >> (8 * b)));
    return {};
  }
  if (o >= kImpDef && o < kIdRegs) return unimplemented("implementation-defined register");
  if (size != 4) return guest_error("bad access size");
  const uint32_t v = uint32_t(value);
  if (const BitRange* r = private_bit_reg(o)) {
    core.write_bits(cpu, r->reg, 0, v);
    return {};
  }
  switch (o) {
    case GICR_ICFGR0:  // SGI fields are read-only; the core keeps them edge-triggered
      core.write_config(cpu, 0, v);
      return {};
    case GICR_ICFGR1:
      core.write_config(cpu, 16, v);
      return {};
    case GICR_IGRPMODR0:  // one security state (DS = 1): RAZ/WI by the architecture
    case GICR_NSACR:
      return {};
    default:
      return guest_error("reserved");
  }
}

// ---- LPIs ----

namespace {
constexpr uint64_t kTablePa = ((1ull << 52) - 1) & ~0xFFFull;
}  // namespace

unsigned Gicv3::lpi_id_bits_locked(unsigned cpu) const {
  return std::min<unsigned>(unsigned(lpi_regs_[cpu].propbaser & 0x1F) + 1, kLpiIdBits);
}

bool Gicv3::lpi_in_range_locked(unsigned cpu, uint32_t intid) const {
  // Fewer than 14 ID bits cover no LPI at all (IHI 0069 12.11.31).
  return intid >= kGicFirstLpi && intid < (1u << lpi_id_bits_locked(cpu));
}

uint8_t Gicv3::read_lpi_config_locked(unsigned cpu, uint32_t intid) {
  const uint64_t addr = (lpi_regs_[cpu].propbaser & kTablePa) + (intid - kGicFirstLpi);
  uint8_t cfg = 0;
  if (!lpi_mem_->load(addr, cfg)) {
    core_.log().log(kLogGuestErrors,
                    "gicv3: GICR%u: LPI %u configuration at 0x%llx is not in RAM; disabled\n", cpu,
                    intid, (unsigned long long)addr);
    return 0;
  }
  return cfg;
}

void Gicv3::enable_lpis_locked(unsigned cpu, bool on) {
  LpiRegs& l = lpi_regs_[cpu];
  if (on == l.enabled) return;
  const uint64_t table = l.pendbaser & kTablePa & ~0xFFFFull;
  const unsigned bits = lpi_id_bits_locked(cpu);
  // Bytes of the pending table that hold LPIs (the first 1 KiB covers INTIDs below 8192).
  const uint64_t first = kGicFirstLpi / 8, end = bits > 13 ? (1ull << bits) / 8 : first;
  auto& pending = core_.pending_lpis(cpu);
  l.enabled = on;
  if (on) {
    // The redistributor takes over the pending table: load what the guest left pending.
    if (l.ptz || end <= first) return;
    std::vector<uint8_t> bytes(end - first);
    if (!lpi_mem_->read(table + first, bytes)) {
      core_.log().log(kLogGuestErrors,
                      "gicv3: GICR%u: LPI pending table at 0x%llx is not in RAM; ignored\n", cpu,
                      (unsigned long long)table);
      return;
    }
    for (uint64_t i = 0; i < bytes.size(); ++i)
      for (unsigned b = 0; bytes[i] >> b; ++b)
        if (bytes[i] >> b & 1) {
          const uint32_t id = uint32_t((first + i) * 8 + b);
          pending[id] = read_lpi_config_locked(cpu, id);
        }
    core_.update();
    return;
  }
  // Disabling (which this implementation allows): the pending state goes back to the table.
  for (const auto& [id, cfg] : pending) {
    const uint64_t addr = table + id / 8;
    uint8_t byte = 0;
    if (lpi_mem_->load(addr, byte)) lpi_mem_->store(addr, uint8_t(byte | 1u << (id % 8)));
  }
  pending.clear();
  core_.update();
}

bool Gicv3::lpi_in_range(unsigned cpu, uint32_t intid) {
  std::lock_guard<std::mutex> g(core_.mu());
  return cpu < lpi_regs_.size() && lpi_in_range_locked(cpu, intid);
}

bool Gicv3::set_lpi_pending(unsigned cpu, uint32_t intid, bool pending) {
  std::lock_guard<std::mutex> g(core_.mu());
  if (cpu >= lpi_regs_.size() || !lpi_regs_[cpu].enabled || !lpi_in_range_locked(cpu, intid))
    return false;
  auto& set = core_.pending_lpis(cpu);
  if (pending)
    set[intid] = read_lpi_config_locked(cpu, intid);
  else
    set.erase(intid);
  core_.update();
  return true;
}

bool Gicv3::lpi_pending(unsigned cpu, uint32_t intid) {
  std::lock_guard<std::mutex> g(core_.mu());
  return cpu < lpi_regs_.size() && core_.pending_lpis(cpu).count(intid) != 0;
}

void Gicv3::invalidate_lpi(unsigned cpu, uint32_t intid) {
  std::lock_guard<std::mutex> g(core_.mu());
  if (cpu >= lpi_regs_.size()) return;
  auto& set = core_.pending_lpis(cpu);
  auto it = set.find(intid);
  if (it == set.end()) return;  // only pending LPIs have a cached configuration
  it->second = read_lpi_config_locked(cpu, intid);
  core_.update();
}

void Gicv3::invalidate_all_lpis(unsigned cpu) {
  std::lock_guard<std::mutex> g(core_.mu());
  if (cpu >= lpi_regs_.size()) return;
  for (auto& [id, cfg] : core_.pending_lpis(cpu)) cfg = read_lpi_config_locked(cpu, id);
  core_.update();
}

void Gicv3::move_all_lpis(unsigned from, unsigned to) {
  std::lock_guard<std::mutex> g(core_.mu());
  if (from >= lpi_regs_.size() || to >= lpi_regs_.size() || from == to) return;
  auto& src = core_.pending_lpis(from);
  for (const auto& [id, cfg] : src)
    if (lpi_regs_[to].enabled && lpi_in_range_locked(to, id))
      core_.pending_lpis(to)[id] = read_lpi_config_locked(to, id);
  src.clear();
  core_.update();
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
      // LPIs are always group 1.
      const bool group1 = id >= kGicFirstLpi || (id != kGicSpurious && core_.irq(cpu_, id)->group1);
      if (id != kGicSpurious && group1 != (reg == IccReg::HPPIR1)) id = kGicSpurious;
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
