// Hardware task switching (Intel SDM vol. 3A 7.3 "Task switching", table 7-1 for the checks and
// their faults, 7.4 for task linking and the busy flag).
#include "cpu/x86/task.h"

#include "cpu/x86/cpu.h"

namespace orrery::cpu::x86 {

namespace {

enum class By : uint8_t { Jmp, Call, Iret, Event };

[[noreturn]] void fault(unsigned vector, uint32_t error) {
  throw GuestFault{uint8_t(vector), error};
}

/// A descriptor from the GDT for the task-switch checks, whose failures are #TS (not #GP).
Descriptor read_for_ts(X86Cpu& cpu, uint16_t sel, uint32_t ext) {
  try {
    return read_descriptor(cpu, sel, ext);
  } catch (const GuestFault& f) {
    if (f.vector != vec::kGp) throw;
    fault(vec::kTs, sel_error(sel, ext));
  }
}

/// Sets or clears the busy bit (type bit 1) of the TSS descriptor sel names in the GDT.
void set_busy(X86Cpu& cpu, uint16_t sel, bool busy) {
  const uint64_t addr = (cpu.state().gdtr.base + (sel & 0xfff8u) + 5) & 0xffffffffu;
  const uint64_t b = cpu.read_linear(addr, 1, kMmuIdxImplicit);
  cpu.write_linear(addr, 1, busy ? b | 2 : b & ~2ull, kMmuIdxImplicit);
}

/// The state of the new task, read in full before anything changes (SDM 7.3 step 4: every page
/// the switch touches is checked before the point of no return).
struct TssImage {
  uint32_t eip = 0, eflags = 0, cr3 = 0;
  uint32_t gpr[8] = {};
  uint16_t seg[6] = {};  // ES, CS, SS, DS, FS, GS (kEs..kGs)
  uint16_t ldt = 0;
  bool trap = false;
};

TssImage read_tss(X86Cpu& cpu, uint64_t base, bool tss32) {
  auto rd = [&](uint32_t off, unsigned size) {
    return uint32_t(cpu.read_linear((base + off) & 0xffffffffu, size, kMmuIdxImplicit));
  };
  TssImage n;
  if (tss32) {
    n.cr3 = rd(0x1c, 4);
    n.eip = rd(0x20, 4);
    n.eflags = rd(0x24, 4);
    for (unsigned i = 0; i < 8; ++i) n.gpr[i] = rd(0x28 + 4 * i, 4);
    for (unsigned i = 0; i < 6; ++i) n.seg[i] = uint16_t(rd(0x48 + 4 * i, 2));
    n.ldt = uint16_t(rd(0x60, 2));
    n.trap = rd(0x64, 2) & 1;
  } else {
    // A 16-bit (80286) TSS: the upper halves of the registers read as ones; no FS/GS/CR3.
    n.eip = rd(0x0e, 2);
    n.eflags = rd(0x10, 2);
    for (unsigned i = 0; i < 8; ++i) n.gpr[i] = rd(0x12 + 2 * i, 2) | 0xffff0000u;
    for (unsigned i = 0; i < 4; ++i) n.seg[i] = uint16_t(rd(0x22 + 2 * i, 2));
    n.ldt = uint16_t(rd(0x2a, 2));
  }
  return n;
}

/// Saves the outgoing task's dynamic state into its TSS.
void save_tss(X86Cpu& cpu, uint64_t base, bool tss32, uint64_t rip, uint64_t eflags_image) {
  X86State& s = cpu.state();
  auto wr = [&](uint32_t off, unsigned size, uint64_t v) {
    cpu.write_linear((base + off) & 0xffffffffu, size, v, kMmuIdxImplicit);
  };
  if (tss32) {
    wr(0x20, 4, rip);
    wr(0x24, 4, eflags_image);
    for (unsigned i = 0; i < 8; ++i) wr(0x28 + 4 * i, 4, s.gpr[i]);
    for (unsigned i = 0; i < 6; ++i) wr(0x48 + 4 * i, 2, s.seg[i].selector);
  } else {
    wr(0x0e, 2, rip);
    wr(0x10, 2, eflags_image);
    for (unsigned i = 0; i < 8; ++i) wr(0x12 + 2 * i, 2, s.gpr[i]);
    for (unsigned i = 0; i < 4; ++i) wr(0x22 + 2 * i, 2, s.seg[i].selector);
  }
}

/// Loads LDTR and the segment registers of the new task with the checks of table 7-1. Runs
/// after the point of no return: a fault here is taken in the new task's context.
void load_task_segments(X86Cpu& cpu, const TssImage& n, uint32_t ext) {
  X86State& s = cpu.state();
  // LDT first: the other selectors may point into it.
  s.seg[kLdtr] = null_segment(n.ldt, 0);
  if ((n.ldt & 0xfffc) != 0) {
    if (n.ldt & 4) fault(vec::kTs, sel_error(n.ldt, ext));
    const Descriptor d = read_for_ts(cpu, n.ldt, ext);
    if (d.s() || d.type() != 2 || !d.present()) fault(vec::kTs, sel_error(n.ldt, ext));
    s.seg[kLdtr] = make_cache(n.ldt, d);
  }
  if (n.eflags & eflags::kVm) {
    for (unsigned r = kEs; r <= kGs; ++r) load_segment_real(s, r, n.seg[r], true);
    return;
  }
  const uint16_t cs_sel = n.seg[kCs];
  const unsigned cpl = cs_sel & 3u;
  if ((cs_sel & 0xfffc) == 0) fault(vec::kTs, sel_error(cs_sel, ext));
  Descriptor cs = read_for_ts(cpu, cs_sel, ext);
  if (!cs.code() || (cs.conforming() ? cs.dpl() > cpl : cs.dpl() != cpl))
    fault(vec::kTs, sel_error(cs_sel, ext));
  if (!cs.present()) fault(vec::kNp, sel_error(cs_sel, ext));
  set_accessed(cpu, cs);
  s.seg[kCs] = make_cache(cs_sel, cs);

  const uint16_t ss_sel = n.seg[kSs];
  if ((ss_sel & 0xfffc) == 0) fault(vec::kTs, sel_error(ss_sel, ext));
  Descriptor ss = read_for_ts(cpu, ss_sel, ext);
  if ((ss_sel & 3u) != cpl || ss.dpl() != cpl || !ss.writable_data())
    fault(vec::kTs, sel_error(ss_sel, ext));
  if (!ss.present()) fault(vec::kSs, sel_error(ss_sel, ext));
  set_accessed(cpu, ss);
  s.seg[kSs] = make_cache(ss_sel, ss);

  for (unsigned r : {kEs, kDs, kFs, kGs}) {
    const uint16_t sel = n.seg[r];
    if ((sel & 0xfffc) == 0) {
      s.seg[r] = null_segment(sel, 0);
      continue;
    }
    Descriptor d = read_for_ts(cpu, sel, ext);
    if (!d.s() || !d.readable()) fault(vec::kTs, sel_error(sel, ext));
    if (!d.conforming() && (d.dpl() < cpl || d.dpl() < (sel & 3u)))
      fault(vec::kTs, sel_error(sel, ext));
    if (!d.present()) fault(vec::kNp, sel_error(sel, ext));
    set_accessed(cpu, d);
    s.seg[r] = make_cache(sel, d);
  }
}

/// The switch itself (SDM 7.3 steps 3-12) to the TSS descriptor d of sel. Returns the new
/// TSS's T (debug trap) bit; the caller raises the #DB once it has finished its own part.
bool task_switch(X86Cpu& cpu, uint16_t sel, const Descriptor& d, By by, uint64_t return_rip,
                 uint32_t ext) {
  X86State& s = cpu.state();
  const uint32_t err = sel_error(sel, ext);
  const unsigned type = d.type();
  if (by == By::Iret) {
    if (d.s() || (type != 3 && type != 11)) fault(vec::kTs, err);
  } else if (d.s() || (type != 1 && type != 9)) {
    fault(vec::kGp, err);
  }
  if (!d.present()) fault(vec::kNp, err);
  const bool tss32 = (type & 8) != 0;
  if (d.limit() < (tss32 ? 0x67u : 0x2bu)) fault(vec::kTs, err);
  const SegmentCache& tr = s.seg[kTr];
  const bool old32 = (tr.attr & 8) != 0;
  if (tr.limit < (old32 ? 0x5fu : 0x29u)) fault(vec::kTs, sel_error(tr.selector, ext));

  const TssImage n = read_tss(cpu, d.base(), tss32);
  const uint16_t old_sel = tr.selector;
  const uint64_t old_base = tr.base;
  uint64_t old_flags = read_eflags(s);
  if (by == By::Iret) old_flags &= ~eflags::kNt;  // the returning task is no longer nested
  save_tss(cpu, old_base, old32, return_rip, old_flags);
  if (by == By::Jmp || by == By::Iret) set_busy(cpu, old_sel, false);
  const bool nest = by == By::Call || by == By::Event;
  if (nest) cpu.write_linear(d.base() & 0xffffffffu, 2, old_sel, kMmuIdxImplicit);
  if (by != By::Iret) set_busy(cpu, sel, true);

  // The point of no return: from here on, faults belong to the new task.
  Descriptor busy = d;
  busy.hi |= 2u << 8;
  s.seg[kTr] = make_cache(sel, busy);
  s.cr0 |= cr0::kTs;
  s.dr[7] &= ~0x155ull;  // local breakpoint enables (L0-L3, LE) are per task
  if (tss32 && (s.cr0 & cr0::kPg)) {
    cpu.flush_tlb_nonglobal();  // the PCID being left (always 0 outside long mode)
    s.cr3 = n.cr3;
  }
  uint64_t flags = n.eflags;
  if (!tss32) flags = (read_eflags(s) & ~0xffffull) | (flags & 0xffff);
  if (nest) flags |= eflags::kNt;
  write_eflags(s, (flags & 0x3f7fd7) | eflags::kFixed1);
  for (unsigned i = 0; i < 8; ++i) s.gpr[i] = n.gpr[i];
  // The selectors are loaded before their descriptors are checked, so a fault below reports the
  // new task's CS:EIP.
  for (unsigned r = kEs; r <= kGs; ++r) {
    s.seg[r] = SegmentCache{};
    s.seg[r].selector = n.seg[r];
  }
  s.common.pc = n.eip;
  cpu.mode_changed();
  load_task_segments(cpu, n, ext);
  const uint32_t eip = vm86(s) ? n.eip & 0xffff : n.eip;
  if (eip > s.seg[kCs].limit) fault(vec::kGp, ext);
  s.common.pc = (s.seg[kCs].base + eip) & 0xffffffffu;
  cpu.mode_changed();
  return n.trap;
}

/// The T bit of the new TSS: a #DB trap before the new task's first instruction (DR6.BT).
void debug_trap(X86Cpu& cpu) {
  cpu.state().dr[6] |= 1u << 15;
  fault(vec::kDb, 0);
}

}  // namespace

void far_task_switch(X86Cpu& cpu, uint16_t sel, const Descriptor& d, bool call, uint64_t next_rip) {
  X86State& s = cpu.state();
  if (s.efer & efer::kLma) fault(vec::kGp, sel_error(sel, 0));  // no task switches in long mode
  const unsigned cpl = cpu.cpl();
  if (d.dpl() < cpl || d.dpl() < (sel & 3u)) fault(vec::kGp, sel_error(sel, 0));
  uint16_t tss_sel = sel;
  Descriptor tss = d;
  if (d.type() == 5) {  // task gate: it names the TSS
    if (!d.present()) fault(vec::kNp, sel_error(sel, 0));
    tss_sel = d.gate_selector();
    if (tss_sel & 4) fault(vec::kGp, sel_error(tss_sel, 0));
    tss = read_descriptor(cpu, tss_sel, 0);
  }
  const bool trap = task_switch(cpu, tss_sel, tss, call ? By::Call : By::Jmp, next_rip, 0);
  if (trap) debug_trap(cpu);
}

void iret_task_switch(X86Cpu& cpu, uint64_t next_rip) {
  X86State& s = cpu.state();
  const uint16_t link =
      uint16_t(cpu.read_linear(s.seg[kTr].base & 0xffffffffu, 2, kMmuIdxImplicit));
  if (link & 4) fault(vec::kTs, sel_error(link, 0));
  const Descriptor d = read_for_ts(cpu, link, 0);
  const bool trap = task_switch(cpu, link, d, By::Iret, next_rip, 0);
  if (trap) debug_trap(cpu);
}

void event_task_switch(X86Cpu& cpu, const Descriptor& gate, uint32_t ext, uint64_t return_rip,
                       bool has_error, uint32_t error_code) {
  X86State& s = cpu.state();
  const uint16_t tss_sel = gate.gate_selector();
  if (tss_sel & 4) fault(vec::kGp, sel_error(tss_sel, ext));
  const Descriptor d = read_descriptor(cpu, tss_sel, ext);
  const bool trap = task_switch(cpu, tss_sel, d, By::Event, return_rip, ext);
  if (has_error) {
    // On the new task's stack, as wide as its TSS.
    const unsigned width = (d.type() & 8) ? 4 : 2;
    const uint64_t mask = stack_mask(s);
    const uint64_t sp = (s.gpr[kRsp] - width) & mask;
    const unsigned idx = cpu.cpl() == 3 ? kMmuIdxUser : kMmuIdxKernelNoSmap;
    cpu.write_linear((s.seg[kSs].base + sp) & 0xffffffffu, width, error_code, idx);
    s.gpr[kRsp] = (s.gpr[kRsp] & ~mask) | sp;
  }
  if (trap) debug_trap(cpu);
}

}  // namespace orrery::cpu::x86
