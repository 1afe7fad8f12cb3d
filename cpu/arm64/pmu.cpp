#include "cpu/arm64/pmu.h"

#include <cstddef>

#include "cpu/arm64/cpu.h"
#include "cpu/arm64/exception.h"
#include "cpu/arm64/sysregs.h"
#include "hw/core/log.h"

namespace orrery::cpu::arm64 {

namespace {

using tcg::ir::Type;

constexpr uint32_t pm_key(unsigned op1, unsigned crn, unsigned crm, unsigned op2) {
  return sysreg_key(3, op1, crn, crm, op2);
}
constexpr uint32_t kPmcr = pm_key(3, 9, 12, 0);
constexpr uint32_t kPmcntenset = pm_key(3, 9, 12, 1);
constexpr uint32_t kPmcntenclr = pm_key(3, 9, 12, 2);
constexpr uint32_t kPmovsclr = pm_key(3, 9, 12, 3);
constexpr uint32_t kPmswinc = pm_key(3, 9, 12, 4);
constexpr uint32_t kPmselr = pm_key(3, 9, 12, 5);
constexpr uint32_t kPmceid0 = pm_key(3, 9, 12, 6);
constexpr uint32_t kPmceid1 = pm_key(3, 9, 12, 7);
constexpr uint32_t kPmccntr = pm_key(3, 9, 13, 0);
constexpr uint32_t kPmxevtyper = pm_key(3, 9, 13, 1);
constexpr uint32_t kPmxevcntr = pm_key(3, 9, 13, 2);
constexpr uint32_t kPmuserenr = pm_key(3, 9, 14, 0);
constexpr uint32_t kPmovsset = pm_key(3, 9, 14, 3);
constexpr uint32_t kPmintenset = pm_key(0, 9, 14, 1);
constexpr uint32_t kPmintenclr = pm_key(0, 9, 14, 2);
constexpr uint32_t kPmccfiltr = pm_key(3, 14, 15, 7);

// PMCR_EL0: E, P and C (write-only actions), D, X, DP, LC; IMP 0x41 (Arm), IDCODE as QEMU's.
constexpr uint64_t kPmcrE = 1, kPmcrP = 2, kPmcrC = 4, kPmcrD = 8, kPmcrLc = 1u << 6;
constexpr uint64_t kPmcrStored = 0x79;
constexpr uint64_t kPmcrRo = 0x41002000ull | uint64_t(kNumPmuCounters) << 11;
constexpr uint64_t kCycleBit = 1ull << 31;
constexpr uint64_t kCounterBits = (1ull << kNumPmuCounters) - 1;
constexpr uint64_t kAllCounters = kCounterBits | kCycleBit;
// PMEVTYPER/PMCCFILTR: P (31), U (30), NSK, NSU, NSH (29..27), M (26); evtCount 15:0.
constexpr uint64_t kTyperMask = 0xfc00ffff;
constexpr uint64_t kFilterP = 1ull << 31, kFilterU = 1ull << 30;
// PMUSERENR_EL0: EN, SW, CR, ER.
constexpr uint64_t kUserEn = 1, kUserSw = 2, kUserCr = 4, kUserEr = 8;

bool event_supported(uint64_t ev) {
  using namespace pmu_event;
  switch (ev) {
    case kSwIncr:
    case kL1dCache:
    case kInstRetired:
    case kCpuCycles:
    case kBrPred:
    case kMemAccess:
    case kChain:
    case kBrRetired:
      return true;
    default:
      return false;
  }
}

/// How many of an event happened since the last sync at the ELs the filter counts.
uint64_t delta(const uint64_t now[2], const uint64_t seen[2], uint64_t filter) {
  uint64_t d = 0;
  if (!(filter & kFilterU)) d += now[0] - seen[0];
  if (!(filter & kFilterP)) d += now[1] - seen[1];
  return d;
}

bool counting(const PmuState& p, unsigned n) {
  return (p.pmcr & kPmcrE) && (p.cntenset & (1ull << n));
}

/// Adds inc to 32-bit event counter n, with overflow and chaining into counter n + 1.
void add_to_counter(PmuState& p, unsigned n, uint64_t inc) {
  if (!inc) return;
  const uint64_t sum = (p.evcntr[n] & 0xffffffff) + inc;
  p.evcntr[n] = sum & 0xffffffff;
  const uint64_t wraps = sum >> 32;
  if (!wraps) return;
  p.ovsset |= 1ull << n;
  // CHAIN on the odd counter above counts this (even) counter's overflows.
  if (!(n & 1) && n + 1 < kNumPmuCounters && counting(p, n + 1) &&
      (p.evtyper[n + 1] & 0xffff) == pmu_event::kChain)
    add_to_counter(p, n + 1, wraps);
}

void update_irq(Arm64State& s) {
  const PmuState& p = s.pmu;
  const bool level = (p.pmcr & kPmcrE) && (p.ovsset & p.intenset & kAllCounters);
  hw::IrqLine& line = s.owner->pmu_irq();
  if (line.level() != level) line.set(level);
}

/// The counter PMSELR_EL0 selects (31: the cycle counter), or -1 for a reserved value.
int selected(const PmuState& p) {
  const unsigned sel = unsigned(p.selr & 31);
  if (sel == 31) return 31;
  return sel < kNumPmuCounters ? int(sel) : -1;
}

}  // namespace

uint64_t pmu_tb_flags(const Arm64State& s) {
  const PmuState& p = s.pmu;
  return (p.pmcr & kPmcrE) && (p.cntenset & kAllCounters) ? tb_flags::kPmu : 0;
}

bool is_implemented_pmu_register(uint32_t key) {
  switch (key) {
    case kPmcr:
    case kPmcntenset:
    case kPmcntenclr:
    case kPmovsclr:
    case kPmswinc:
    case kPmselr:
    case kPmceid0:
    case kPmceid1:
    case kPmccntr:
    case kPmxevtyper:
    case kPmxevcntr:
    case kPmuserenr:
    case kPmovsset:
    case kPmintenset:
    case kPmintenclr:
    case kPmccfiltr:
      return true;
    default: {
      // PMEVCNTR<n>_EL0 (CRn 14, CRm 8..9) and PMEVTYPER<n>_EL0 (CRm 12..13).
      const unsigned op1 = (key >> 11) & 7, crn = (key >> 7) & 15, crm = (key >> 3) & 15;
      const unsigned n = (crm & 3) * 8 + (key & 7);
      return (key >> 14) == 3 && op1 == 3 && crn == 14 && (crm >> 2 == 2 || crm >> 2 == 3) &&
             n < kNumPmuCounters;
    }
  }
}

void pmu_sync(Arm64State& s) {
  PmuState& p = s.pmu;
  uint64_t d_insns[2] = {}, d_mem[2] = {}, d_br[2] = {};
  bool any = false;
  for (unsigned el = 0; el < 2; ++el) {
    d_insns[el] = p.insns[el] - p.insns_seen[el];
    d_mem[el] = p.mem[el] - p.mem_seen[el];
    d_br[el] = p.branches[el] - p.branches_seen[el];
    any |= d_insns[el] || d_mem[el] || d_br[el];
    p.insns_seen[el] = p.insns[el];
    p.mem_seen[el] = p.mem[el];
    p.branches_seen[el] = p.branches[el];
  }
  if (any && (p.pmcr & kPmcrE)) {
    const uint64_t zero[2] = {0, 0};
    auto since = [&](const uint64_t d[2], uint64_t filter) { return delta(d, zero, filter); };
    for (unsigned n = 0; n < kNumPmuCounters; ++n) {
      if (!counting(p, n)) continue;
      const uint64_t ev = p.evtyper[n] & 0xffff;
      uint64_t inc = 0;
      switch (ev) {
        case pmu_event::kInstRetired:
        case pmu_event::kCpuCycles:
          inc = since(d_insns, p.evtyper[n]);
          break;
        case pmu_event::kMemAccess:
        case pmu_event::kL1dCache:
          inc = since(d_mem, p.evtyper[n]);
          break;
        case pmu_event::kBrRetired:
        case pmu_event::kBrPred:
          inc = since(d_br, p.evtyper[n]);
          break;
        default:  // SW_INCR counts PMSWINC writes, CHAIN the counter below's overflows
          break;
      }
      add_to_counter(p, n, inc);
    }
    if (counting(p, 31)) {
      const uint64_t inc = since(d_insns, p.ccfiltr);  // one cycle per instruction
      const uint64_t old = p.ccntr;
      p.ccntr += inc;
      const bool wrapped = (p.pmcr & kPmcrLc) ? p.ccntr < old : (p.ccntr >> 32) != (old >> 32);
      if (inc && wrapped) p.ovsset |= kCycleBit;
    }
  }
  update_irq(s);
}

void emit_pmu_count(tcg::ir::Emitter& e, unsigned el, uint32_t insn, unsigned mem_ops) {
  auto add = [&](uint32_t off, uint64_t n) {
    e.set_reg(off, e.add(e.get_reg(Type::I64, off), e.c64(n)));
  };
  const uint32_t base = uint32_t(offsetof(Arm64State, pmu)) + 8 * el;
  add(base + uint32_t(offsetof(PmuState, insns)), 1);
  if (mem_ops) add(base + uint32_t(offsetof(PmuState, mem)), mem_ops);
  // B, BL; B.cond; CBZ/CBNZ; TBZ/TBNZ; BR, BLR, RET (and their authenticated forms).
  const bool branch = (insn & 0x7c000000) == 0x14000000 || (insn & 0xff000010) == 0x54000000 ||
                      (insn & 0x7e000000) == 0x34000000 || (insn & 0x7e000000) == 0x36000000 ||
                      (insn & 0xfe000000) == 0xd6000000;
  if (branch) add(base + uint32_t(offsetof(PmuState, branches)), 1);
}

uint64_t helper_pmu_tick(tcg::CpuCommon* c, uint64_t, uint64_t, uint64_t) {
  pmu_sync(state_of(*c));
  return 0;
}

uint64_t helper_pmu_reg(tcg::CpuCommon* c, uint64_t op, uint64_t value, uint64_t pc) {
  Arm64State& s = state_of(*c);
  PmuState& p = s.pmu;
  const uint32_t key = uint32_t(op);
  const bool write = op & kPmuRegWrite;
  const unsigned crm = (key >> 3) & 15, op2 = key & 7;
  const bool evcntr = ((key >> 7) & 15) == 14 && (crm >> 2) == 2;
  const bool evtyper = ((key >> 7) & 15) == 14 && (crm >> 2) == 3 && key != kPmccfiltr;
  const unsigned n = (crm & 3) * 8 + op2;

  if (s.el == 0) {  // PMUSERENR_EL0 (the translator already made the EL1-only ones UNDEFINED)
    const uint64_t u = p.userenr;
    bool ok = u & kUserEn;
    if (key == kPmuserenr) ok = !write;
    if (key == kPmswinc) ok |= (u & kUserSw) != 0;
    if (key == kPmccntr && !write) ok |= (u & kUserCr) != 0;
    if ((evcntr || key == kPmxevcntr) && !write) ok |= (u & kUserEr) != 0;
    if (key == kPmselr) ok |= (u & kUserEr) != 0;
    if (!ok) {
      c->pc = pc;
      const unsigned rt = unsigned(op >> kPmuRegRtShift) & 31;
      s.owner->raise_sync(
          make_esr(ec::kSysRegTrap,
                   sysreg_trap_iss(3, (key >> 11) & 7, (key >> 7) & 15, crm, op2, rt, !write)),
          pc);
      return 0;
    }
  }

  pmu_sync(s);   // events so far count under the configuration they happened in
  int idx = -1;  // an event counter (or 31, the cycle counter) reached through PMSELR_EL0
  if (key == kPmxevtyper || key == kPmxevcntr) {
    idx = selected(p);
    if (idx < 0) return 0;  // a reserved PMSELR_EL0.SEL: CONSTRAINED UNPREDICTABLE, RAZ/WI
  }
  uint64_t result = 0;
  if (evtyper || (key == kPmxevtyper && idx != 31)) {
    const unsigned i = evtyper ? n : unsigned(idx);
    if (!write) return p.evtyper[i];
    p.evtyper[i] = value & kTyperMask;
    if (!event_supported(value & 0xffff))
      s.owner->log().log(hw::kLogUnimp,
                         "unimp: arm64: PMU event 0x%04llx (counter %u) is not implemented: it "
                         "does not count\n",
                         (unsigned long long)(value & 0xffff), i);
  } else if (evcntr || (key == kPmxevcntr && idx != 31)) {
    const unsigned i = evcntr ? n : unsigned(idx);
    if (!write) return p.evcntr[i];
    p.evcntr[i] = value & 0xffffffff;
  } else if (key == kPmxevcntr) {  // SEL = 31: PMXEVCNTR is UNPREDICTABLE; the cycle counter
    if (!write) return p.ccntr;
    p.ccntr = value;
  } else {
    switch (key) {
      case kPmcr:
        if (!write) return kPmcrRo | (p.pmcr & kPmcrStored);
        if (value & kPmcrP)
          for (uint64_t& v : p.evcntr) v = 0;
        if (value & kPmcrC) p.ccntr = 0;
        if ((value & kPmcrD) && !(p.pmcr & kPmcrD))
          s.owner->log().log(hw::kLogUnimp,
                             "unimp: arm64: PMCR_EL0.D (cycle counter divider) is ignored\n");
        p.pmcr = value & kPmcrStored;
        break;
      case kPmcntenset:
        if (!write) return p.cntenset;
        p.cntenset |= value & kAllCounters;
        break;
      case kPmcntenclr:
        if (!write) return p.cntenset;
        p.cntenset &= ~value;
        break;
      case kPmovsset:
        if (!write) return p.ovsset;
        p.ovsset |= value & kAllCounters;
        break;
      case kPmovsclr:
        if (!write) return p.ovsset;
        p.ovsset &= ~value;
        break;
      case kPmintenset:
        if (!write) return p.intenset;
        p.intenset |= value & kAllCounters;
        break;
      case kPmintenclr:
        if (!write) return p.intenset;
        p.intenset &= ~value;
        break;
      case kPmswinc:
        for (unsigned i = 0; i < kNumPmuCounters; ++i) {
          if (!(value & (1ull << i)) || !counting(p, i)) continue;
          const uint64_t t = p.evtyper[i];
          if ((t & 0xffff) != pmu_event::kSwIncr) continue;
          if ((s.el == 0 && (t & kFilterU)) || (s.el == 1 && (t & kFilterP))) continue;
          add_to_counter(p, i, 1);
        }
        break;
      case kPmselr:
        if (!write) return p.selr;
        p.selr = value & 31;
        break;
      case kPmceid0: {
        using namespace pmu_event;
        return 1ull << kSwIncr | 1ull << kL1dCache | 1ull << kInstRetired | 1ull << kCpuCycles |
               1ull << kBrPred | 1ull << kMemAccess | 1ull << kChain;
      }
      case kPmceid1:
        return 1ull << (pmu_event::kBrRetired - 32);
      case kPmccntr:
        if (!write) return p.ccntr;
        p.ccntr = value;
        break;
      case kPmxevtyper:  // SEL = 31: PMCCFILTR_EL0
      case kPmccfiltr:
        if (!write) return p.ccfiltr;
        p.ccfiltr = value & 0xf8000000;
        break;
      case kPmuserenr:
        if (!write) return p.userenr;
        p.userenr = value & 0xf;
        break;
      default:
        break;
    }
  }
  update_irq(s);
  return result;
}

}  // namespace orrery::cpu::arm64
