// Runtime helpers called from A64 IR. They reach the softmmu through CpuCommon::mmu and the
// vCPU object through Arm64State::owner.
#include "cpu/arm64/helpers.h"

#include <chrono>

#include "cpu/arm64/cpu.h"
#include "cpu/arm64/exception.h"
#include "cpu/arm64/mmu.h"
#include "cpu/arm64/mte.h"
#include "cpu/arm64/state.h"
#include "hw/core/clock.h"
#include "hw/core/log.h"
#include "hw/intc/gicv3_cpu_if.h"
#include "tcg/softmmu/softmmu.h"

namespace orrery::cpu::arm64 {

using tcg::softmmu::Access;

namespace {

uint64_t reg_or_zero(const Arm64State& s, unsigned r) {
  return r == 31 ? 0 : s.x[r];
}

tcg::ir::MemOp exclusive_memop(const ExclusiveDesc& d, unsigned size_log2) {
  tcg::ir::MemOp m;
  m.size_log2 = uint8_t(size_log2);
  m.mmu_idx = uint8_t(d.mmu_idx);
  m.align = true;
  return m;
}

/// One host compare-and-swap of a naturally aligned T (the exclusive's alignment check
/// guarantees it); true if memory held `expected` and now holds `desired`.
template <typename T>
bool cas(uint8_t* host, T expected, T desired) {
  return __atomic_compare_exchange_n(reinterpret_cast<T*>(host), &expected, desired, false,
                                     __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

/// Loads the exclusive's data; false after a fault (pending_exit is set).
bool exclusive_read(tcg::CpuCommon* c, uint64_t vaddr, const ExclusiveDesc& d, uint64_t pc,
                    uint64_t& lo, uint64_t& hi) {
  tcg::softmmu::Softmmu& mmu = *c->mmu;
  const unsigned esize = 1u << d.size_log2;
  const unsigned total = d.pair ? 2 * esize : esize;
  if (vaddr & (total - 1)) {  // the pair as a whole must be aligned
    c->pc = pc;
    mmu.translator().raise_alignment_fault(vaddr, Access::Read);
    return false;
  }
  hi = 0;
  if (d.pair && esize == 8) {
    lo = mmu.load(vaddr, exclusive_memop(d, 3), pc);
    if (c->pending_exit) return false;
    hi = mmu.load(vaddr + 8, exclusive_memop(d, 3), pc);
  } else if (d.pair) {
    uint64_t v = mmu.load(vaddr, exclusive_memop(d, 3), pc);
    lo = v & 0xffffffffu;
    hi = v >> 32;
  } else {
    lo = mmu.load(vaddr, exclusive_memop(d, d.size_log2), pc);
  }
  return c->pending_exit == 0;
}

}  // namespace

int64_t host_monotonic_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

uint64_t helper_load_exclusive(tcg::CpuCommon* c, uint64_t vaddr, uint64_t desc, uint64_t pc) {
  Arm64State& s = state_of(*c);
  ExclusiveDesc d = ExclusiveDesc::decode(desc);
  uint64_t lo = 0, hi = 0;
  if (!exclusive_read(c, vaddr, d, pc, lo, hi)) return 0;
  s.monitor.addr = vaddr;
  s.monitor.value = lo;
  s.monitor.value2 = hi;
  s.monitor.size = uint8_t(d.pair ? 2u << d.size_log2 : 1u << d.size_log2);
  s.monitor.valid = 1;
  if (d.rt != 31) s.x[d.rt] = lo;
  if (d.pair && d.rt2 != 31) s.x[d.rt2] = hi;
  return 0;
}

uint64_t helper_store_exclusive(tcg::CpuCommon* c, uint64_t vaddr, uint64_t desc, uint64_t pc) {
  Arm64State& s = state_of(*c);
  ExclusiveDesc d = ExclusiveDesc::decode(desc);
  const unsigned esize = 1u << d.size_log2;
  const unsigned total = d.pair ? 2 * esize : esize;
  uint64_t status = 1;
  if (vaddr & (total - 1)) {
    c->pc = pc;
    c->mmu->translator().raise_alignment_fault(vaddr, Access::Write);
    return 0;
  }
  if (s.monitor.valid && s.monitor.addr == vaddr && s.monitor.size == total) {
    // The store succeeds if memory still holds what LDXR saw, decided by one host
    // compare-and-swap so that two vCPUs can never both succeed (as QEMU does; an ABA write of
    // the same value by another CPU goes unnoticed, which the Arm ARM permits in practice for
    // the monitor's IMPLEMENTATION DEFINED granule).
    tcg::softmmu::Softmmu& amm = *c->mmu;
    uint8_t* host = amm.atomic_host(vaddr, total, d.mmu_idx, pc);
    if (c->pending_exit) return 0;
    if (host) {
      const uint64_t v1 = reg_or_zero(s, d.rt), v2 = reg_or_zero(s, d.rt2);
      bool ok = false;
      switch (total) {
        case 1:
          ok = cas<uint8_t>(host, s.monitor.value, v1);
          break;
        case 2:
          ok = cas<uint16_t>(host, s.monitor.value, v1);
          break;
        case 4:
          ok = cas<uint32_t>(host, s.monitor.value, v1);
          break;
        case 8:
          // A pair of words is one 64-bit location; the monitor kept its halves as LDXP saw them.
          ok = d.pair
                   ? cas<uint64_t>(host, (s.monitor.value & 0xffffffffu) | (s.monitor.value2 << 32),
                                   (v1 & 0xffffffffu) | (v2 << 32))
                   : cas<uint64_t>(host, s.monitor.value, v1);
          break;
        case 16: {
          const unsigned __int128 want =
              (unsigned __int128)s.monitor.value2 << 64 | s.monitor.value;
          const unsigned __int128 give = (unsigned __int128)v2 << 64 | v1;
          ok = cas<unsigned __int128>(host, want, give);
          break;
        }
      }
      s.monitor.valid = 0;
      if (d.rs != 31) s.x[d.rs] = ok ? 0 : 1;
      return 0;
    }
    uint64_t lo = 0, hi = 0;
    if (!exclusive_read(c, vaddr, d, pc, lo, hi)) return 0;
    if (lo == s.monitor.value && hi == s.monitor.value2) {
      tcg::softmmu::Softmmu& mmu = *c->mmu;
      uint64_t v1 = reg_or_zero(s, d.rt), v2 = reg_or_zero(s, d.rt2);
      if (d.pair && esize == 8) {
        mmu.store(vaddr, v1, exclusive_memop(d, 3), pc);
        if (c->pending_exit) return 0;
        mmu.store(vaddr + 8, v2, exclusive_memop(d, 3), pc);
      } else if (d.pair) {
        mmu.store(vaddr, (v1 & 0xffffffffu) | (v2 << 32), exclusive_memop(d, 3), pc);
      } else {
        uint64_t mask = esize == 8 ? ~0ull : (1ull << (8 * esize)) - 1;
        mmu.store(vaddr, v1 & mask, exclusive_memop(d, d.size_log2), pc);
      }
      if (c->pending_exit) return 0;
      status = 0;
    }
  }
  s.monitor.valid = 0;
  if (d.rs != 31) s.x[d.rs] = status;
  return 0;
}

namespace {

/// The guest can see the timer's state through the counter and CTL.ISTATUS: a deadline that
/// has passed raises its line now, before the event-loop timer's thread gets to it, so an
/// unmasked IRQ is taken as soon as the guest knows it is due. One atomic load when none is.
void sync_timer_lines(Arm64State& s, int64_t now_ns) {
  GenericTimer& t = s.owner->timer();
  if (now_ns >= t.next_deadline()) t.poll();
}

/// The system counter at virtual time now_ns: the machine's virtual time since reset, at CNTFRQ.
uint64_t counter_at_ns(const Arm64State& s, int64_t now_ns) {
  int64_t ns = now_ns - s.counter_epoch_ns;
  if (ns < 0) ns = 0;
  return uint64_t((unsigned __int128)uint64_t(ns) * kCounterFrequency / 1'000'000'000u);
}
uint64_t counter_now(const Arm64State& s) {
  return counter_at_ns(s, s.clock->virtual_ns());
}
}  // namespace

uint64_t helper_read_counter(tcg::CpuCommon* c, uint64_t, uint64_t, uint64_t) {
  Arm64State& s = state_of(*c);
  const int64_t now_ns = s.clock->virtual_ns();
  sync_timer_lines(s, now_ns);
  return counter_at_ns(s, now_ns);
}

uint64_t helper_timer(tcg::CpuCommon* c, uint64_t op, uint64_t value, uint64_t pc) {
  (void)pc;
  Arm64State& s = state_of(*c);
  const bool virt = op & kTimerVirtual;
  uint64_t& ctl = virt ? s.cntv_ctl_el0 : s.cntp_ctl_el0;
  uint64_t& cval = virt ? s.cntv_cval_el0 : s.cntp_cval_el0;
  if (op & kTimerWrite) {
    const uint64_t now = counter_now(s);  // no CNTVOFF: the virtual counter is the physical one
    if (op & kTimerTval) {
      cval = now + uint64_t(int64_t(int32_t(uint32_t(value))));  // TVAL is a signed 32-bit delta
    } else if (op & kTimerCval) {
      cval = value;
    } else {
      ctl = value & 3;
    }
    s.owner->timer().update(virt ? TimerId::Virt : TimerId::Phys, ctl, cval);
    return 0;
  }
  if (op & kTimerCval) return cval;
  // The value read and the line agree: the line is raised first (the clock only moves on).
  const int64_t now_ns = s.clock->virtual_ns();
  sync_timer_lines(s, now_ns);
  const uint64_t now = counter_at_ns(s, now_ns);
  if (op & kTimerTval) return uint64_t(uint32_t(cval - now));
  const bool istatus = (ctl & 1) && now >= cval;
  return ctl | (istatus ? 4 : 0);
}

uint64_t helper_write_regime(tcg::CpuCommon* c, uint64_t which, uint64_t value, uint64_t) {
  Arm64State& s = state_of(*c);
  const uint16_t old_asid = current_asid(s);
  switch (which) {
    case kRegimeSctlr: {
      // EE/E0E are RES0 (no big-endian support); the rest is stored as written.
      value &= ~((1ull << 25) | (1ull << 24)) & mte_sctlr_mask(s);
      const uint64_t changed = s.sctlr_el1 ^ value;
      s.sctlr_el1 = value;
      if (changed & (sctlr::kM | sctlr::kWxn)) s.owner->regime_changed();
      return 0;
    }
    case kRegimeTtbr0:
    case kRegimeTtbr1: {
      (which == kRegimeTtbr0 ? s.ttbr0_el1 : s.ttbr1_el1) = value;
      const uint16_t asid = current_asid(s);
      if (asid != old_asid) s.owner->asid_switched(asid);
      return 0;
    }
    case kRegimeTcr:
      if (s.tcr_el1 != value) {
        s.tcr_el1 = value;
        s.owner->regime_changed();
      }
      return 0;
  }
  return 0;
}

uint64_t helper_tlbi(tcg::CpuCommon* c, uint64_t op, uint64_t operand, uint64_t) {
  Arm64State& s = state_of(*c);
  const unsigned crm = unsigned(op >> 3), op2 = unsigned(op & 7);
  const bool broadcast = crm == 3;
  TlbFlush f;
  // The VA operand holds VA[55:12] in bits 43:0; bit 55 selects the half (sign-extend it).
  const uint64_t va = uint64_t(int64_t((operand & ((1ull << 44) - 1)) << 20) >> 8);
  const uint16_t asid = uint16_t(operand >> 48) & (((s.tcr_el1 >> 36) & 1) ? 0xffff : 0xff);
  switch (op2) {
    case 0:  // VMALLE1
      f.kind = TlbFlush::Kind::All;
      break;
    case 1:  // VAE1
    case 3:  // VAAE1
    case 5:  // VALE1
    case 7:  // VAALE1
      // By VA for any ASID (over-invalidating the ASID-specific forms is allowed).
      f.kind = TlbFlush::Kind::Va;
      f.va = va;
      break;
    case 2:  // ASIDE1
      f.kind = TlbFlush::Kind::Asid;
      f.asid = asid;
      break;
    default:
      f.kind = TlbFlush::Kind::All;
      break;
  }
  s.owner->tlb_maintenance(f, broadcast);
  return 0;
}

uint64_t helper_at(tcg::CpuCommon* c, uint64_t op, uint64_t vaddr, uint64_t pc) {
  (void)pc;
  Arm64State& s = state_of(*c);
  const bool write = op & 1, el0 = op & 2;
  const WalkResult r = stage1_translate(s, c->mmu->address_space(), vaddr,
                                        write ? Access::Write : Access::Read, el0);
  s.par_el1 = par_from(r);
  return 0;
}

uint64_t helper_exception(tcg::CpuCommon* c, uint64_t esr, uint64_t return_pc, uint64_t far) {
  // The faulting instruction's PC (for -d int): SVC/HVC return past themselves.
  const uint32_t ec_value = uint32_t(esr >> 26) & 0x3f;
  c->pc = (ec_value == ec::kSvc64 || ec_value == ec::kHvc64) ? return_pc - 4 : return_pc;
  state_of(*c).owner->raise_sync(uint32_t(esr), return_pc, far, (esr & kExceptionFarValid) != 0);
  return 0;
}

uint64_t helper_eret(tcg::CpuCommon* c, uint64_t pc, uint64_t, uint64_t) {
  Arm64State& s = state_of(*c);
  const bool legal = exception_return(s);
  s.owner->log_eret(pc, legal);
  s.owner->set_local_event();  // an exception return is a WFE wake-up event (Arm ARM D1.16)
  s.owner->check_interrupts();
  return 0;
}

uint64_t helper_send_event(tcg::CpuCommon* c, uint64_t all, uint64_t, uint64_t) {
  Arm64Cpu& cpu = *state_of(*c).owner;
  if (all == kSendEventAll) {
    cpu.send_event();
  } else {
    cpu.set_local_event();
  }
  return 0;
}

uint64_t helper_check_irq(tcg::CpuCommon* c, uint64_t old_daif, uint64_t, uint64_t) {
  Arm64State& s = state_of(*c);
  if ((old_daif ^ s.daif) & 8) {
    // PSTATE.D gates debug exceptions, which the tb flags follow (software step, breakpoints):
    // recompute them and leave chained execution, as a mode change's Lookup exit would.
    s.owner->mode_changed();
    c->exit_request.store(1);
  }
  s.owner->check_interrupts();
  return 0;
}

uint64_t helper_sp_align_fault(tcg::CpuCommon* c, uint64_t, uint64_t pc, uint64_t) {
  c->pc = pc;
  state_of(*c).owner->raise_sync(make_esr(ec::kSpAlignment), pc);
  return 0;
}

uint64_t helper_icc(tcg::CpuCommon* c, uint64_t op, uint64_t value, uint64_t) {
  hw::intc::Gicv3CpuInterface* gic = state_of(*c).owner->gic_cpu_interface();
  if (!gic) return 0;  // the translator only emits this with an interface attached
  const auto reg = hw::intc::IccReg(op & 0xff);
  if (op & kIccWrite) {
    gic->write(reg, value);
    state_of(*c).owner->check_interrupts();  // e.g. a PMR or EOI change
    return 0;
  }
  return gic->read(reg);
}

uint64_t helper_ccsidr(tcg::CpuCommon* c, uint64_t, uint64_t, uint64_t) {
  // 64-byte lines everywhere: L1 D 32K 2-way, L1 I 48K 3-way, L2 2M 16-way (Cortex-A57-like).
  switch (state_of(*c).csselr_el1 & 0xf) {
    case 0:  // L1 data
      return 0x701fe00a;
    case 1:  // L1 instruction
      return 0x201fe012;
    case 2:  // L2 unified
      return 0x70ffe07a;
    default:
      return 0;
  }
}

uint64_t helper_crc32(tcg::CpuCommon*, uint64_t acc, uint64_t data, uint64_t desc) {
  // Bit-reflected polynomials: CRC-32 (0x04C11DB7) and CRC-32C (0x1EDC6F41).
  const uint32_t poly = (desc & kCrc32Castagnoli) ? 0x82f63b78u : 0xedb88320u;
  uint32_t crc = uint32_t(acc);
  for (unsigned i = 0; i < (desc & 0xf); ++i) {
    crc ^= uint8_t(data >> (8 * i));
    for (unsigned b = 0; b < 8; ++b) crc = (crc >> 1) ^ ((crc & 1) ? poly : 0);
  }
  return crc;
}

uint64_t helper_stop(tcg::CpuCommon* c, uint64_t code, uint64_t pc, uint64_t arg) {
  c->pc = pc;
  state_of(*c).owner->stop_from_helper(StopCode(code), arg);
  return 0;
}

}  // namespace orrery::cpu::arm64
