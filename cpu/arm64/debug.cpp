#include "cpu/arm64/debug.h"

#include <algorithm>

#include "cpu/arm64/cpu.h"
#include "cpu/arm64/exception.h"
#include "cpu/arm64/sysregs.h"
#include "hw/core/log.h"

namespace orrery::cpu::arm64 {

namespace {

constexpr uint32_t dbg_key(unsigned crn, unsigned crm, unsigned op2, unsigned op1 = 0) {
  return sysreg_key(2, op1, crn, crm, op2);
}
constexpr uint32_t kMdccintEl1 = dbg_key(0, 2, 0);
constexpr uint32_t kMdscrEl1 = dbg_key(0, 2, 2);
constexpr uint32_t kOsdtrrxEl1 = dbg_key(0, 0, 2);
constexpr uint32_t kOsdtrtxEl1 = dbg_key(0, 3, 2);
constexpr uint32_t kOseccrEl1 = dbg_key(0, 6, 2);
constexpr uint32_t kMdrarEl1 = dbg_key(1, 0, 0);
constexpr uint32_t kOslarEl1 = dbg_key(1, 0, 4);
constexpr uint32_t kOslsrEl1 = dbg_key(1, 1, 4);
constexpr uint32_t kOsdlrEl1 = dbg_key(1, 3, 4);
constexpr uint32_t kDbgprcrEl1 = dbg_key(1, 4, 4);
constexpr uint32_t kDbgclaimsetEl1 = dbg_key(7, 8, 6);
constexpr uint32_t kDbgclaimclrEl1 = dbg_key(7, 9, 6);
constexpr uint32_t kDbgauthstatusEl1 = dbg_key(7, 14, 6);
constexpr uint32_t kMdccsrEl0 = dbg_key(0, 1, 0, 3);

// DBGBCR: E, PMC, BAS, HMC, SSC, LBN, BT. DBGWCR: E, PAC, LSC, BAS, HMC, SSC, LBN, WT, MASK.
constexpr uint64_t kBcrMask = 0x00ffe1e7;
constexpr uint64_t kWcrMask = 0x1f1fffff;
// MDSCR_EL1 bits kept as written: SS, ERR, TDCC, KDE, HDE, MDE, SC2, TDA, INTdis, TXU, RXO.
constexpr uint64_t kMdscrMask = 0x0ce8f041;

/// Which DBG[BW][VC]R<n>_EL1 a key names: kind 4..7 (op2: BVR, BCR, WVR, WCR) and n (CRm).
bool bp_wp_reg(uint32_t key, unsigned& kind, unsigned& n) {
  if ((key >> 7) != (dbg_key(0, 0, 0) >> 7)) return false;  // op0=2, op1=0, CRn=0
  kind = key & 7;
  n = (key >> 3) & 15;
  if (kind < 4) return false;
  return n < (kind < 6 ? kNumBreakpoints : kNumWatchpoints);
}

/// The privilege (PMC/PAC) field of a control register allows the current EL.
bool privilege_matches(uint64_t ctl, unsigned el) {
  const unsigned pmc = unsigned(ctl >> 1) & 3;  // 01 EL1, 10 EL0, 11 both
  return el == 0 ? (pmc & 2) : (pmc & 1);
}

bool locked(const Arm64State& s) {
  // The double lock holds while DBGPRCR_EL1.CORENPDRQ is clear (no halting debug here).
  return s.dbg.oslk || (s.dbg.dlk && !s.dbg.corenpdrq);
}

}  // namespace

bool debug_exceptions_enabled(const Arm64State& s) {
  if (locked(s)) return false;
  if (s.el == 0) return true;
  return (s.dbg.mdscr & mdscr::kKde) && !(s.daif & 8);
}

bool breakpoints_active(const Arm64State& s) {
  if (!(s.dbg.mdscr & mdscr::kMde) || !debug_exceptions_enabled(s)) return false;
  for (unsigned i = 0; i < kNumBreakpoints; ++i) {
    const uint64_t c = s.dbg.bcr[i];
    if ((c & 1) && privilege_matches(c, s.el)) return true;
  }
  return false;
}

bool breakpoint_at(const Arm64State& s, uint64_t pc) {
  for (unsigned i = 0; i < kNumBreakpoints; ++i) {
    const uint64_t c = s.dbg.bcr[i];
    if (!(c & 1) || !privilege_matches(c, s.el)) continue;
    const unsigned bt = unsigned(c >> 20) & 15;
    if (bt != 0) continue;  // context and linked types: reported when written (-d unimp)
    // Unlinked address match: DBGBVR[48:2] against the PC, sign-extended from bit 48.
    const uint64_t va = uint64_t(int64_t(s.dbg.bvr[i] << 15) >> 15) & ~3ull;
    if (va == pc) return true;
  }
  return false;
}

uint64_t debug_tb_flags(const Arm64State& s) {
  uint64_t f = 0;
  const uint64_t m = s.dbg.mdscr;
  if (!(m & (mdscr::kSs | mdscr::kMde))) return 0;  // the common case: one test
  if (breakpoints_active(s)) f |= tb_flags::kBkpt;
  if ((m & mdscr::kSs) && debug_exceptions_enabled(s))
    f |= s.ss ? tb_flags::kSs : tb_flags::kSsPending;
  return f;
}

uint8_t step_state_after_eret(const Arm64State& s, uint64_t spsr) {
  if (!(s.dbg.mdscr & mdscr::kSs) || !debug_exceptions_enabled(s)) return 0;
  return (spsr >> 21) & 1;
}

bool is_implemented_debug_register(uint32_t key) {
  return debug_register_access(key) != 0;
}

unsigned debug_register_access(uint32_t key) {
  unsigned kind, n;
  if (bp_wp_reg(key, kind, n)) return 3;
  switch (key) {
    case kMdccintEl1:
    case kMdscrEl1:
    case kOsdtrrxEl1:
    case kOsdtrtxEl1:
    case kOseccrEl1:
    case kOsdlrEl1:
    case kDbgprcrEl1:
    case kDbgclaimsetEl1:
    case kDbgclaimclrEl1:
      return 3;
    case kMdrarEl1:
    case kOslsrEl1:
    case kDbgauthstatusEl1:
    case kMdccsrEl0:
      return 1;
    case kOslarEl1:
      return 2;
    default:
      return 0;
  }
}

// ---- Watchpoints ----

bool ArchWatchpoints::range(unsigned i, uint64_t& lo, uint64_t& hi) const {
  const uint64_t c = s_.dbg.wcr[i];
  if (!(c & 1)) return false;
  const uint64_t va = uint64_t(int64_t(s_.dbg.wvr[i] << 15) >> 15);
  const unsigned mask = unsigned(c >> 24) & 31;
  if (mask >= 3) {  // a 2^MASK-byte range (BAS all ones); MASK 1 and 2 are reserved
    lo = va & ~((1ull << mask) - 1);
    hi = lo + (1ull << mask) - 1;
    return true;
  }
  unsigned bas = unsigned(c >> 5) & 0xff;
  uint64_t base = va & ~7ull;
  if (va & 4) {  // a word-aligned address: BAS[3:0] selects its bytes
    bas &= 0xf;
    base += 4;
  }
  if (!bas) return false;
  lo = base + unsigned(__builtin_ctz(bas));
  hi = base + 31 - unsigned(__builtin_clz(bas));
  return true;
}

void ArchWatchpoints::update() {
  any_ = false;
  if (!(s_.dbg.mdscr & mdscr::kMde) || locked(s_)) return;
  for (unsigned i = 0; i < kNumWatchpoints; ++i) any_ |= (s_.dbg.wcr[i] & 1) != 0;
}

bool ArchWatchpoints::page_watched(uint64_t vpage) const {
  // Conservative: any enabled watchpoint, whatever the mode (watch_hit checks the mode).
  for (unsigned i = 0; i < kNumWatchpoints; ++i) {
    uint64_t lo, hi;
    if (range(i, lo, hi) && lo <= vpage + tcg::softmmu::kPageSize - 1 && hi >= vpage) return true;
  }
  return false;
}

bool ArchWatchpoints::watch_hit(uint64_t vaddr, unsigned size, bool write,
                                tcg::softmmu::WatchHit& hit) const {
  if (!(s_.dbg.mdscr & mdscr::kMde) || !debug_exceptions_enabled(s_)) return false;
  const uint64_t last = vaddr + size - 1;
  for (unsigned i = 0; i < kNumWatchpoints; ++i) {
    const uint64_t c = s_.dbg.wcr[i];
    if (!(c & 1) || !privilege_matches(c, s_.el)) continue;
    const unsigned lsc = unsigned(c >> 3) & 3;  // 01 loads, 10 stores, 11 both
    if (!(lsc & (write ? 2 : 1))) continue;
    uint64_t lo, hi;
    if (!range(i, lo, hi) || lo > last || hi < vaddr) continue;
    if (((c >> 24) & 31) < 3) {  // byte address select: the access must touch a selected byte
      const uint64_t va = uint64_t(int64_t(s_.dbg.wvr[i] << 15) >> 15);
      const uint64_t base = (va & ~7ull) + ((va & 4) ? 4 : 0);
      const unsigned bas = unsigned(c >> 5) & ((va & 4) ? 0xf : 0xff);
      bool any = false;
      for (unsigned b = 0; b < 8 && !any; ++b)
        any = (bas >> b & 1) && base + b >= vaddr && base + b <= last;
      if (!any) continue;
    }
    hit.addr = std::max(vaddr, lo);
    hit.kind = write ? 2 : 3;
    return true;
  }
  return false;
}

// ---- Register access and software step ----

uint64_t helper_debug_reg(tcg::CpuCommon* c, uint64_t op, uint64_t value, uint64_t) {
  Arm64State& s = state_of(*c);
  DebugRegs& d = s.dbg;
  const uint32_t key = uint32_t(op);
  const bool write = op & kDebugRegWrite;
  unsigned kind, n;
  if (bp_wp_reg(key, kind, n)) {
    uint64_t* reg = kind == 4   ? &d.bvr[n]
                    : kind == 5 ? &d.bcr[n]
                    : kind == 6 ? &d.wvr[n]
                                : &d.wcr[n];
    if (!write) return *reg;
    switch (kind) {
      case 4:  // DBGBVR: VA[48:2] for address matching (the context ID would be bits 31:0)
        value &= ~3ull;
        break;
      case 5:
        value &= kBcrMask;
        if ((value & 1) && (value >> 20 & 15))
          s.owner->log().log(hw::kLogUnimp,
                             "unimp: arm64: DBGBCR%u_EL1.BT=%u (context/linked breakpoint) "
                             "is not implemented: it never matches\n",
                             n, unsigned(value >> 20 & 15));
        break;
      case 6:
        value &= ~3ull;
        break;
      default:
        value &= kWcrMask;
        if ((value & 1) && (value & (1u << 20)))
          s.owner->log().log(hw::kLogUnimp,
                             "unimp: arm64: DBGWCR%u_EL1.WT=1 (linked watchpoint) is not "
                             "implemented: it matches unlinked\n",
                             n);
        break;
    }
    *reg = value;
    s.owner->debug_registers_changed();
    return 0;
  }
  switch (key) {
    case kMdscrEl1:
      if (!write) return d.mdscr;
      d.mdscr = value & kMdscrMask;
      break;
    case kMdccintEl1:
      if (!write) return d.mdccint;
      d.mdccint = value & (1u << 29 | 1u << 30);
      break;
    case kOsdtrrxEl1:
      if (!write) return d.osdtrrx;
      d.osdtrrx = uint32_t(value);
      break;
    case kOsdtrtxEl1:
      if (!write) return d.osdtrtx;
      d.osdtrtx = uint32_t(value);
      break;
    case kOseccrEl1:
      if (!write) return d.oseccr;
      d.oseccr = uint32_t(value);
      break;
    case kOslarEl1:
      d.oslk = value & 1;
      break;
    case kOslsrEl1:  // OSLM = 0b10 (bits 3 and 0): the OS lock is implemented; OSLK bit 1
      return 0x8 | uint64_t(d.oslk) << 1;
    case kOsdlrEl1:
      if (!write) return d.dlk;
      d.dlk = value & 1;
      break;
    case kDbgprcrEl1:
      if (!write) return d.corenpdrq;
      d.corenpdrq = value & 1;
      break;
    case kDbgclaimsetEl1:
      if (!write) return 0xff;  // reads: the implemented claim tags
      d.claim |= value & 0xff;
      break;
    case kDbgclaimclrEl1:
      if (!write) return d.claim;
      d.claim &= ~value & 0xff;
      break;
    case kDbgauthstatusEl1:
      // Non-secure invasive and non-invasive debug implemented and enabled; no Secure state.
      return 0xf;
    case kMdrarEl1:   // no memory-mapped debug components
    case kMdccsrEl0:  // the debug communication channel is always empty
      return 0;
    default:
      return 0;
  }
  if (write) s.owner->debug_registers_changed();
  return 0;
}

uint64_t helper_unimp_sysreg(tcg::CpuCommon* c, uint64_t op, uint64_t, uint64_t) {
  const Arm64State& s = state_of(*c);
  s.owner->log().log(
      hw::kLogUnimp, "unimp: arm64: %s %s: not modelled (reads as zero, writes ignored)\n",
      (op & kDebugRegWrite) ? "MSR to" : "MRS of", sysreg_name(uint32_t(op)).c_str());
  return 0;
}

uint64_t helper_step_done(tcg::CpuCommon* c, uint64_t next_pc, uint64_t, uint64_t) {
  Arm64State& s = state_of(*c);
  s.ss = 0;
  c->pc = next_pc;
  if ((s.dbg.mdscr & mdscr::kSs) && debug_exceptions_enabled(s)) {
    // ISV=1, EX=0 (the stepped instruction was not a load-exclusive), IFSC "debug".
    const uint32_t ec_value = s.el == 0 ? ec::kSoftStepLower : ec::kSoftStepSame;
    s.owner->raise_sync(make_esr(ec_value, (1u << 24) | kDebugFaultStatus), next_pc);
  }
  return 0;
}

}  // namespace orrery::cpu::arm64
