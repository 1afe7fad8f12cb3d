// Runtime helpers called from A64 IR. They reach the softmmu through CpuCommon::mmu and the
// vCPU object through Arm64State::owner.
#include "cpu/arm64/helpers.h"

#include <chrono>

#include "cpu/arm64/cpu.h"
#include "cpu/arm64/state.h"
#include "hw/core/log.h"
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
    // Single vCPU: the store succeeds if memory still holds what LDXR saw. With SMP this
    // becomes a host compare-and-swap on the page against the same remembered value.
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
/// The system counter: host monotonic time since reset, at CNTFRQ.
uint64_t counter_now(const Arm64State& s) {
  int64_t ns = host_monotonic_ns() - s.counter_epoch_ns;
  if (ns < 0) ns = 0;
  return uint64_t((unsigned __int128)uint64_t(ns) * kCounterFrequency / 1'000'000'000u);
}
}  // namespace

uint64_t helper_read_counter(tcg::CpuCommon* c, uint64_t, uint64_t, uint64_t) {
  return counter_now(state_of(*c));
}

uint64_t helper_timer(tcg::CpuCommon* c, uint64_t op, uint64_t value, uint64_t pc) {
  Arm64State& s = state_of(*c);
  const bool virt = op & kTimerVirtual;
  uint64_t& ctl = virt ? s.cntv_ctl_el0 : s.cntp_ctl_el0;
  uint64_t& cval = virt ? s.cntv_cval_el0 : s.cntp_cval_el0;
  const uint64_t now = counter_now(s);  // no CNTVOFF: the virtual counter is the physical one
  if (op & kTimerWrite) {
    if (op & kTimerTval) {
      cval = now + uint64_t(int64_t(int32_t(uint32_t(value))));  // TVAL is a signed 32-bit delta
    } else {
      ctl = value & 3;
      if ((ctl & 3) == 1)  // enabled and unmasked: it would interrupt
        s.owner->log().log(hw::kLogUnimp,
                           "arm64: %s timer interrupts are not implemented yet (PC 0x%016llx)\n",
                           virt ? "virtual" : "physical", (unsigned long long)pc);
    }
    return 0;
  }
  if (op & kTimerTval) return uint64_t(uint32_t(cval - now));
  const bool istatus = (ctl & 1) && now >= cval;
  return ctl | (istatus ? 4 : 0);
}

uint64_t helper_write_sctlr(tcg::CpuCommon* c, uint64_t value, uint64_t pc, uint64_t) {
  Arm64State& s = state_of(*c);
  if (value & 1) {  // SCTLR_EL1.M
    c->pc = pc;
    s.owner->stop_from_helper(StopCode::MmuEnable, value);
    return 0;
  }
  s.sctlr_el1 = value;
  return 0;
}

uint64_t helper_tlb_flush(tcg::CpuCommon* c, uint64_t, uint64_t, uint64_t) {
  c->mmu->flush_all();
  return 0;
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
