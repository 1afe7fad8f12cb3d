// Far control transfers and privilege changes (Intel SDM vol. 3A chapter 5.8, vol. 2 JMP, CALL,
// RET, IRET, INT n, SYSCALL/SYSRET, SYSENTER/SYSEXIT, SWAPGS, CLI/STI, HLT, IN/OUT).
#include <cinttypes>

#include "cpu/x86/cpu.h"
#include "cpu/x86/seg.h"
#include "cpu/x86/system.h"
#include "cpu/x86/task.h"
#include "hw/core/log.h"

namespace orrery::cpu::x86 {

namespace {

bool canonical(uint64_t a) {
  return int64_t(a << 16) >> 16 == int64_t(a);
}
[[noreturn]] void gp(uint32_t e = 0) {
  throw GuestFault{vec::kGp, e};
}

uint64_t width_mask(unsigned w) {
  return w >= 8 ? ~0ull : (1ull << (8 * w)) - 1;
}
unsigned iopl(const X86State& s) {
  return unsigned(s.eflags >> eflags::kIoplShift) & 3;
}

/// The current stack (SS:RSP) for pushes and pops at the current CPL.
struct Stack {
  X86Cpu& cpu;
  uint64_t base, sp, mask;
  unsigned mmu_idx;
  explicit Stack(X86Cpu& c)
      : cpu(c),
        base(c.state().seg[kSs].base),
        sp(c.state().gpr[kRsp]),
        mask(stack_mask(c.state())),
        mmu_idx(c.data_mmu_idx()) {}
  void push(uint64_t v, unsigned w) {
    sp = (sp & ~mask) | ((sp - w) & mask);
    cpu.write_linear(addr(), w, v, mmu_idx);
  }
  uint64_t pop(unsigned w) {
    const uint64_t v = cpu.read_linear(addr(), w, mmu_idx);
    sp = (sp & ~mask) | ((sp + w) & mask);
    return v;
  }
  void skip(uint64_t n) { sp = (sp & ~mask) | ((sp + n) & mask); }
  uint64_t addr() const {
    const uint64_t a = base + (sp & mask);
    return code64(cpu.state()) ? a : a & 0xffffffffu;
  }
  void commit() { cpu.state().gpr[kRsp] = sp; }
};

/// Real and virtual-8086 mode: CS = sel, base sel << 4.
void set_cs_real(X86State& s, uint16_t sel, uint64_t ip) {
  s.seg[kCs].selector = sel;
  s.seg[kCs].base = uint64_t(sel) << 4;
  s.common.pc = (s.seg[kCs].base + ip) & 0xffffffffu;
}

/// EFLAGS written by IRET/POPF-like returns with the privilege rules of the current CPL.
void write_flags_for_return(X86State& s, uint64_t value, unsigned opsize, unsigned cpl) {
  uint64_t mask = eflags::kArith | eflags::kTf | eflags::kDf | eflags::kNt | eflags::kRf |
                  eflags::kAc | eflags::kId;
  if (cpl == 0) mask |= eflags::kIoplMask | eflags::kVif | eflags::kVip;
  if (cpl <= iopl(s)) mask |= eflags::kIf;
  if (opsize == 2) mask &= 0xffff;
  const uint64_t old = read_eflags(s);
  write_eflags(s, (old & ~mask) | (value & mask));
}

/// POPF/IRET with CR4.VME in virtual-8086 mode at IOPL < 3 (SDM 20.3.2): the popped IF goes to
/// VIF, IOPL and IF stay; #GP(0) when that would set TF or enable virtual interrupts with one
/// pending.
void write_flags_virtual(X86State& s, uint64_t f) {
  if ((f & eflags::kTf) || ((f & eflags::kIf) && (s.eflags & eflags::kVip))) gp(0);
  const uint64_t mask = 0xffff & ~(eflags::kIf | eflags::kIoplMask);
  uint64_t v = (read_eflags(s) & ~mask) | (f & mask);
  v = (f & eflags::kIf) ? v | eflags::kVif : v & ~eflags::kVif;
  write_eflags(s, v | eflags::kFixed1);
}

/// The 32-bit TSS's interrupt redirection bitmap (32 bytes below the I/O map base): whether
/// INT vector in virtual-8086 mode with CR4.VME goes to the 8086 program's own IVT.
bool int_redirected(X86Cpu& cpu, uint8_t vector) {
  const SegmentCache& tr = cpu.state().seg[kTr];
  const unsigned type = tr.attr & seg_attr::kTypeMask;
  if (!(tr.attr & seg_attr::kP) || (type != 9 && type != 11) || tr.limit < 0x67) gp(0);
  const uint32_t iomap = uint32_t(cpu.read_linear(tr.base + 0x66, 2, kMmuIdxImplicit));
  const uint32_t at = iomap - 32 + vector / 8;
  if (iomap < 32 || at > tr.limit) gp(0);
  const uint64_t bits = cpu.read_linear((tr.base + at) & 0xffffffffu, 1, kMmuIdxImplicit);
  return !(bits & (1u << (vector & 7)));
}

/// Checks a code segment for a far JMP/CALL/RET target: conforming DPL <= priv, non-conforming
/// DPL == priv (exact), present.
void check_code_target(const Descriptor& d, uint16_t sel, unsigned priv, bool exact_nonconf,
                       bool lma) {
  if (!d.code()) gp(sel_error(sel, 0));
  if (d.conforming() ? d.dpl() > priv : (exact_nonconf ? d.dpl() != priv : d.dpl() > priv))
    gp(sel_error(sel, 0));
  if (lma && d.l() && d.db()) gp(sel_error(sel, 0));
  if (!d.present()) throw GuestFault{vec::kNp, sel_error(sel, 0)};
}

/// After a return to an outer privilege level: data segment registers the new CPL may not use
/// become null.
void null_inaccessible_segments(X86State& s, unsigned cpl) {
  for (unsigned r : {kEs, kDs, kFs, kGs}) {
    const SegmentCache& c = s.seg[r];
    const unsigned dpl = (c.attr >> seg_attr::kDplShift) & 3;
    const bool conforming_code = (c.attr & seg_attr::kCode) && (c.attr & 4);
    if ((c.attr & seg_attr::kS) && dpl < cpl && !conforming_code) s.seg[r] = null_segment(0, 0);
  }
}

/// The new SS of a return to an outer level (or any IRET in 64-bit mode).
SegmentCache check_return_ss(X86Cpu& cpu, uint16_t ss_sel, unsigned new_cpl, bool target64) {
  if ((ss_sel & 0xfffc) == 0) {
    // Long mode allows a null SS when returning to 64-bit code at CPL < 3.
    if (target64 && new_cpl < 3 && (ss_sel & 3) == new_cpl) return null_segment(ss_sel, new_cpl);
    gp(0);
  }
  if ((ss_sel & 3) != new_cpl) gp(sel_error(ss_sel, 0));
  Descriptor d = read_descriptor(cpu, ss_sel, 0);
  if (d.dpl() != new_cpl || !d.writable_data()) gp(sel_error(ss_sel, 0));
  if (!d.present()) throw GuestFault{vec::kSs, sel_error(ss_sel, 0)};
  set_accessed(cpu, d);
  return make_cache(ss_sel, d);
}

/// Far transfer through a call gate (JMP or CALL). Returns after loading CS:RIP.
void through_call_gate(X86Cpu& cpu, const Descriptor& gate_lo, uint16_t gate_sel, bool call,
                       unsigned opsize, uint64_t next_rip) {
  X86State& s = cpu.state();
  const bool lma = (s.efer & efer::kLma) != 0;
  const unsigned cpl = cpu.cpl();
  Descriptor g = gate_lo;
  if (lma) g = read_descriptor(cpu, gate_sel, 0, true);
  if (g.dpl() < cpl || g.dpl() < (gate_sel & 3u)) gp(sel_error(gate_sel, 0));
  if (!g.present()) throw GuestFault{vec::kNp, sel_error(gate_sel, 0)};
  const uint16_t sel = g.gate_selector();
  if ((sel & 0xfffc) == 0) gp(0);
  Descriptor cs = read_descriptor(cpu, sel, 0);
  if (!cs.code() || cs.dpl() > cpl) gp(sel_error(sel, 0));
  if (!call && !cs.conforming() && cs.dpl() != cpl) gp(sel_error(sel, 0));
  if (lma && (!cs.l() || cs.db())) gp(sel_error(sel, 0));
  if (!cs.present()) throw GuestFault{vec::kNp, sel_error(sel, 0)};
  const bool gate32 = g.type() == 12;
  uint64_t target = lma      ? g.gate_offset()
                    : gate32 ? g.gate_offset() & 0xffffffffu
                             : g.gate_offset() & 0xffff;
  const unsigned w = lma ? 8 : gate32 ? 4 : 2;
  (void)opsize;
  if (!lma && target > cs.limit()) gp(0);
  if (!call) {
    set_accessed(cpu, cs);
    set_cs(s, uint16_t((sel & 0xfffc) | cpl), cs, cpl, target);
    return;
  }
  if (!cs.conforming() && cs.dpl() < cpl) {
    const unsigned new_cpl = cs.dpl();
    uint16_t ss_sel;
    uint64_t sp;
    tss_stack(cpu, new_cpl, 0, ss_sel, sp, 0);
    const uint16_t old_ss = s.seg[kSs].selector;
    const uint64_t old_sp = s.gpr[kRsp];
    SegmentCache new_ss;
    uint64_t mask = ~0ull;
    if (lma) {
      new_ss = null_segment(uint16_t(new_cpl), new_cpl);
    } else {
      if ((ss_sel & 0xfffc) == 0) throw GuestFault{vec::kTs, 0};
      if ((ss_sel & 3) != new_cpl) throw GuestFault{vec::kTs, sel_error(ss_sel, 0)};
      Descriptor ssd = read_descriptor(cpu, ss_sel, 0);
      if (ssd.dpl() != new_cpl || !ssd.writable_data())
        throw GuestFault{vec::kTs, sel_error(ss_sel, 0)};
      if (!ssd.present()) throw GuestFault{vec::kSs, sel_error(ss_sel, 0)};
      new_ss = make_cache(ss_sel, ssd);
      mask = ssd.db() ? 0xffffffffull : 0xffff;
    }
    const unsigned idx = new_cpl == 3 ? kMmuIdxUser : kMmuIdxKernelNoSmap;
    // Parameters are copied from the old stack (legacy gates only).
    uint64_t params[32];
    const unsigned nparams = lma ? 0 : g.gate_param_count();
    const uint64_t old_mask = stack_mask(s);
    for (unsigned i = 0; i < nparams; ++i)
      params[i] =
          cpu.read_linear(s.seg[kSs].base + ((old_sp + i * w) & old_mask), w, cpu.data_mmu_idx());
    uint64_t nsp = lma ? (sp & ~0xfull) : (sp & mask);
    auto push = [&](uint64_t v) {
      nsp = (nsp & ~mask) | ((nsp - w) & mask);
      cpu.write_linear(new_ss.base + (nsp & mask), w, v & width_mask(w), idx);
    };
    push(old_ss);
    push(old_sp);
    for (unsigned i = nparams; i-- > 0;) push(params[i]);
    push(s.seg[kCs].selector);
    push(next_rip);
    s.seg[kSs] = new_ss;
    s.gpr[kRsp] = nsp;
    set_accessed(cpu, cs);
    set_cs(s, uint16_t((sel & 0xfffc) | new_cpl), cs, new_cpl, target);
    return;
  }
  Stack st(cpu);
  st.push(s.seg[kCs].selector, w);
  st.push(next_rip, w);
  st.commit();
  set_accessed(cpu, cs);
  set_cs(s, uint16_t((sel & 0xfffc) | cpl), cs, cpl, target);
}

void far_transfer(X86Cpu& cpu, uint16_t sel, uint64_t offset, unsigned opsize, bool call,
                  uint64_t next_rip) {
  X86State& s = cpu.state();
  offset &= width_mask(opsize);
  if (!protected_mode(s) || vm86(s)) {
    if (call) {
      Stack st(cpu);
      st.push(s.seg[kCs].selector, opsize);
      st.push(next_rip, opsize);
      st.commit();
    }
    set_cs_real(s, sel, offset);
    return;
  }
  if ((sel & 0xfffc) == 0) gp(0);
  const bool lma = (s.efer & efer::kLma) != 0;
  const unsigned cpl = cpu.cpl();
  Descriptor d = read_descriptor(cpu, sel, 0);
  if (d.s()) {
    if (d.code() && !d.conforming() && (sel & 3u) > cpl) gp(sel_error(sel, 0));
    check_code_target(d, sel, cpl, true, lma);
    const bool target64 = lma && d.l();
    if (!target64 && offset > d.limit()) gp(0);
    if (call) {
      Stack st(cpu);
      st.push(s.seg[kCs].selector, opsize);
      st.push(next_rip, opsize);
      st.commit();
    }
    set_accessed(cpu, d);
    set_cs(s, uint16_t((sel & 0xfffc) | cpl), d, cpl, offset);
    return;
  }
  switch (d.type()) {
    case 4:
    case 12:
      if (lma && d.type() != 12) gp(sel_error(sel, 0));
      through_call_gate(cpu, d, sel, call, opsize, next_rip);
      return;
    case 1:
    case 3:
    case 5:
    case 9:
    case 11:
      far_task_switch(cpu, sel, d, call, next_rip);
      return;
    default:
      gp(sel_error(sel, 0));
  }
}

}  // namespace

void far_jmp(X86Cpu& cpu, uint16_t sel, uint64_t offset, unsigned opsize, uint64_t next_rip) {
  far_transfer(cpu, sel, offset, opsize, false, next_rip);
  cpu.mode_changed();
}

void far_call(X86Cpu& cpu, uint16_t sel, uint64_t offset, unsigned opsize, uint64_t next_rip) {
  far_transfer(cpu, sel, offset, opsize, true, next_rip);
  cpu.mode_changed();
}

void far_ret(X86Cpu& cpu, unsigned opsize, uint16_t imm) {
  X86State& s = cpu.state();
  Stack st(cpu);
  const uint64_t ip = st.pop(opsize);
  const uint16_t sel = uint16_t(st.pop(opsize));
  if (!protected_mode(s) || vm86(s)) {
    st.skip(imm);
    st.commit();
    set_cs_real(s, sel, ip);
    cpu.mode_changed();
    return;
  }
  const bool lma = (s.efer & efer::kLma) != 0;
  const unsigned cpl = cpu.cpl();
  const unsigned rpl = sel & 3;
  if ((sel & 0xfffc) == 0) gp(0);
  if (rpl < cpl) gp(sel_error(sel, 0));
  Descriptor d = read_descriptor(cpu, sel, 0);
  check_code_target(d, sel, rpl, true, lma);
  const bool target64 = lma && d.l();
  if (!target64 && (opsize == 2 ? ip & 0xffff : ip & 0xffffffffu) > d.limit()) gp(0);
  if (rpl == cpl) {
    st.skip(imm);
    st.commit();
    set_accessed(cpu, d);
    set_cs(s, sel, d, cpl, ip);
    cpu.mode_changed();
    return;
  }
  st.skip(imm);
  const uint64_t sp = st.pop(opsize);
  const uint16_t ss_sel = uint16_t(st.pop(opsize));
  const SegmentCache ss = check_return_ss(cpu, ss_sel, rpl, target64);
  set_accessed(cpu, d);
  s.seg[kSs] = ss;
  const uint64_t new_mask = target64 ? ~0ull : (ss.attr & seg_attr::kDb) ? 0xffffffffull : 0xffff;
  s.gpr[kRsp] = ((opsize == 2 ? (sp & 0xffff) : sp) + imm) & new_mask;
  set_cs(s, sel, d, rpl, ip);
  null_inaccessible_segments(s, rpl);
  cpu.mode_changed();
}

void iret(X86Cpu& cpu, unsigned opsize, uint64_t next_rip) {
  X86State& s = cpu.state();
  s.nmi_blocked = 0;
  if (!protected_mode(s)) {
    Stack st(cpu);
    const uint64_t ip = st.pop(opsize);
    const uint16_t sel = uint16_t(st.pop(opsize));
    const uint64_t f = st.pop(opsize);
    st.commit();
    write_flags_for_return(s, f, opsize, 0);
    set_cs_real(s, sel, ip);
    cpu.mode_changed();
    cpu.check_interrupts();
    return;
  }
  if (vm86(s)) {
    if (iopl(s) < 3) {
      // CR4.VME: a 16-bit IRET works on VIF (SDM 20.3); anything else is #GP.
      if (!(s.cr4 & cr4::kVme) || opsize != 2) gp(0);
      Stack st(cpu);
      const uint64_t ip = st.pop(2);
      const uint16_t sel = uint16_t(st.pop(2));
      const uint64_t f = st.pop(2);
      write_flags_virtual(s, f);
      st.commit();
      set_cs_real(s, sel, ip);
      cpu.mode_changed();
      return;
    }
    Stack st(cpu);
    const uint64_t ip = st.pop(opsize);
    const uint16_t sel = uint16_t(st.pop(opsize));
    const uint64_t f = st.pop(opsize);
    st.commit();
    // IOPL and VM are not changed from virtual-8086 mode.
    uint64_t mask = eflags::kArith | eflags::kTf | eflags::kIf | eflags::kDf | eflags::kNt |
                    eflags::kRf | eflags::kAc | eflags::kId;
    if (opsize == 2) mask &= 0xffff;
    write_eflags(s, (read_eflags(s) & ~mask) | (f & mask));
    set_cs_real(s, sel, ip);
    cpu.mode_changed();
    cpu.check_interrupts();
    return;
  }
  const bool lma = (s.efer & efer::kLma) != 0;
  if (s.eflags & eflags::kNt) {
    if (lma) gp(0);
    iret_task_switch(cpu, next_rip);
    cpu.mode_changed();
    cpu.check_interrupts();
    return;
  }
  const unsigned cpl = cpu.cpl();
  Stack st(cpu);
  const uint64_t ip = st.pop(opsize);
  const uint16_t sel = uint16_t(st.pop(opsize));
  const uint64_t f = st.pop(opsize);
  if (!lma && (f & eflags::kVm) && cpl == 0 && opsize == 4) {
    // Return to virtual-8086 mode.
    const uint64_t esp = st.pop(4);
    const uint16_t ss = uint16_t(st.pop(4));
    const uint16_t es = uint16_t(st.pop(4)), ds = uint16_t(st.pop(4));
    const uint16_t fs = uint16_t(st.pop(4)), gs = uint16_t(st.pop(4));
    write_eflags(s, (f & 0x3f7fd5) | eflags::kFixed1);
    for (auto [r, v] : {std::pair{kEs, es}, {kDs, ds}, {kFs, fs}, {kGs, gs}, {kSs, ss}}) {
      load_segment_real(s, r, v, true);
    }
    load_segment_real(s, kCs, sel, true);
    s.gpr[kRsp] = esp & 0xffffffffu;
    s.common.pc = (s.seg[kCs].base + (ip & 0xffff)) & 0xffffffffu;
    cpu.mode_changed();
    cpu.check_interrupts();
    return;
  }
  const unsigned rpl = sel & 3;
  if ((sel & 0xfffc) == 0) gp(0);
  if (rpl < cpl) gp(sel_error(sel, 0));
  Descriptor d = read_descriptor(cpu, sel, 0);
  if (!d.code()) gp(sel_error(sel, 0));
  if (d.conforming() ? d.dpl() > rpl : d.dpl() != rpl) gp(sel_error(sel, 0));
  if (lma && d.l() && d.db()) gp(sel_error(sel, 0));
  if (!d.present()) throw GuestFault{vec::kNp, sel_error(sel, 0)};
  const bool target64 = lma && d.l();
  const bool from64 = code64(s);
  if (from64 && !canonical(ip) && target64) gp(0);
  if (!target64 && (opsize == 2 ? ip & 0xffff : ip & 0xffffffffu) > d.limit()) gp(0);
  if (rpl > cpl || from64) {
    const uint64_t sp = st.pop(opsize);
    const uint16_t ss_sel = uint16_t(st.pop(opsize));
    const SegmentCache ss = check_return_ss(cpu, ss_sel, rpl, target64);
    write_flags_for_return(s, f, opsize, cpl);
    set_accessed(cpu, d);
    s.seg[kSs] = ss;
    s.gpr[kRsp] = opsize == 2 ? (s.gpr[kRsp] & ~0xffffull) | (sp & 0xffff) : sp;
    if (!target64 && !(ss.attr & seg_attr::kDb)) s.gpr[kRsp] = sp & 0xffff;
    set_cs(s, sel, d, rpl, ip);
    if (rpl > cpl) null_inaccessible_segments(s, rpl);
  } else {
    st.commit();
    write_flags_for_return(s, f, opsize, cpl);
    set_accessed(cpu, d);
    set_cs(s, sel, d, cpl, ip);
  }
  cpu.mode_changed();
  cpu.check_interrupts();
}

void software_interrupt(X86Cpu& cpu, uint8_t vector, EventKind kind, uint64_t next_rip) {
  X86State& s = cpu.state();
  if (kind == EventKind::SoftwareInt && protected_mode(s) && vm86(s) && (s.cr4 & cr4::kVme) &&
      int_redirected(cpu, vector)) {
    // (Methods 2 and 4, IOPL < 3 and not redirected, are #GP(0) in deliver_protected.)
    // SDM 20.3.3 methods 5 and 6: through the 8086 program's IVT at linear 0, without leaving
    // virtual-8086 mode. With IOPL < 3 the pushed FLAGS carry VIF as IF and IOPL 3, and VIF
    // is what is cleared.
    const bool virt = iopl(s) < 3;
    const uint64_t entry = cpu.read_linear(uint64_t(vector) * 4, 4, kMmuIdxUser);
    uint64_t f = read_eflags(s) & 0xffff;
    if (virt)
      f = (f & ~eflags::kIf) | ((s.eflags & eflags::kVif) ? eflags::kIf : 0) | eflags::kIoplMask;
    Stack st(cpu);
    st.push(f, 2);
    st.push(s.seg[kCs].selector, 2);
    st.push(next_rip & 0xffff, 2);
    st.commit();
    write_eflags(
        s, read_eflags(s) & ~(eflags::kTf | eflags::kRf | (virt ? eflags::kVif : eflags::kIf)));
    set_cs_real(s, uint16_t(entry >> 16), entry & 0xffff);
    cpu.mode_changed();
    return;
  }
  Event ev;
  ev.vector = vector;
  ev.kind = kind;
  ev.next_rip = next_rip;
  deliver_event(cpu, ev);
}

void syscall_insn(X86Cpu& cpu, uint64_t next_rip) {
  X86State& s = cpu.state();
  if (!(s.efer & efer::kSce)) throw GuestFault{vec::kUd, 0};
  const uint16_t sel = uint16_t(s.msr.star >> 32) & 0xfffc;
  const uint64_t f = read_eflags(s);
  SegmentCache cs, ss;
  cs.selector = sel;
  cs.base = 0;
  cs.limit = 0xffffffff;
  ss.selector = uint16_t(sel + 8);
  ss.base = 0;
  ss.limit = 0xffffffff;
  ss.attr = seg_attr::kP | seg_attr::kS | seg_attr::kDb | seg_attr::kG | 0x3;
  if (s.efer & efer::kLma) {
    const bool from64 = code64(s);
    s.gpr[kRcx] = next_rip;
    s.gpr[kR11] = f & ~eflags::kRf;
    write_eflags(s, f & ~s.msr.fmask & ~eflags::kRf);
    cs.attr = seg_attr::kP | seg_attr::kS | seg_attr::kL | seg_attr::kG | 0xb;
    s.seg[kCs] = cs;
    s.seg[kSs] = ss;
    s.common.pc = from64 ? s.msr.lstar : s.msr.cstar;
  } else {
    s.gpr[kRcx] = uint32_t(next_rip);
    write_eflags(s, f & ~(eflags::kIf | eflags::kVm | eflags::kRf));
    cs.attr = seg_attr::kP | seg_attr::kS | seg_attr::kDb | seg_attr::kG | 0xb;
    s.seg[kCs] = cs;
    s.seg[kSs] = ss;
    s.common.pc = uint32_t(s.msr.star);
  }
  cpu.mode_changed();
}

void sysret_insn(X86Cpu& cpu, unsigned opsize) {
  X86State& s = cpu.state();
  if (!(s.efer & efer::kSce)) throw GuestFault{vec::kUd, 0};
  if (!protected_mode(s) || cpu.cpl() != 0) gp(0);
  const uint16_t base = uint16_t(s.msr.star >> 48);
  SegmentCache cs, ss;
  cs.base = ss.base = 0;
  cs.limit = ss.limit = 0xffffffff;
  ss.selector = uint16_t((base + 8) | 3);
  ss.attr = seg_attr::kP | seg_attr::kS | seg_attr::kDb | seg_attr::kG |
            (3u << seg_attr::kDplShift) | 0x3;
  if (s.efer & efer::kLma) {
    if (opsize == 8 && !canonical(s.gpr[kRcx])) gp(0);
    write_eflags(s, (s.gpr[kR11] & 0x3c7fd7) | eflags::kFixed1);
    if (opsize == 8) {
      cs.selector = uint16_t((base + 16) | 3);
      cs.attr = seg_attr::kP | seg_attr::kS | seg_attr::kL | seg_attr::kG |
                (3u << seg_attr::kDplShift) | 0xb;
      s.seg[kCs] = cs;
      s.common.pc = s.gpr[kRcx];
    } else {
      cs.selector = uint16_t(base | 3);
      cs.attr = seg_attr::kP | seg_attr::kS | seg_attr::kDb | seg_attr::kG |
                (3u << seg_attr::kDplShift) | 0xb;
      s.seg[kCs] = cs;
      s.common.pc = uint32_t(s.gpr[kRcx]);
    }
  } else {
    write_eflags(s, read_eflags(s) | eflags::kIf);
    cs.selector = uint16_t(base | 3);
    cs.attr = seg_attr::kP | seg_attr::kS | seg_attr::kDb | seg_attr::kG |
              (3u << seg_attr::kDplShift) | 0xb;
    s.seg[kCs] = cs;
    s.common.pc = uint32_t(s.gpr[kRcx]);
  }
  s.seg[kSs] = ss;
  cpu.mode_changed();
  cpu.check_interrupts();
}

void sysenter_insn(X86Cpu& cpu) {
  X86State& s = cpu.state();
  if (!protected_mode(s) || (s.msr.sysenter_cs & 0xfffc) == 0) gp(0);
  const bool lma = (s.efer & efer::kLma) != 0;
  const uint16_t sel = uint16_t(s.msr.sysenter_cs & 0xfffc);
  write_eflags(s, read_eflags(s) & ~(eflags::kVm | eflags::kIf | eflags::kRf));
  SegmentCache cs, ss;
  cs.selector = sel;
  cs.base = ss.base = 0;
  cs.limit = ss.limit = 0xffffffff;
  cs.attr = seg_attr::kP | seg_attr::kS | seg_attr::kG | 0xb | (lma ? seg_attr::kL : seg_attr::kDb);
  ss.selector = uint16_t(sel + 8);
  ss.attr = seg_attr::kP | seg_attr::kS | seg_attr::kDb | seg_attr::kG | 0x3;
  s.seg[kCs] = cs;
  s.seg[kSs] = ss;
  s.gpr[kRsp] = lma ? s.msr.sysenter_esp : uint32_t(s.msr.sysenter_esp);
  s.common.pc = lma ? s.msr.sysenter_eip : uint32_t(s.msr.sysenter_eip);
  cpu.mode_changed();
}

void sysexit_insn(X86Cpu& cpu, unsigned opsize) {
  X86State& s = cpu.state();
  if (!protected_mode(s) || (s.msr.sysenter_cs & 0xfffc) == 0 || cpu.cpl() != 0) gp(0);
  const uint16_t base = uint16_t(s.msr.sysenter_cs & 0xfffc);
  SegmentCache cs, ss;
  cs.base = ss.base = 0;
  cs.limit = ss.limit = 0xffffffff;
  ss.attr = seg_attr::kP | seg_attr::kS | seg_attr::kDb | seg_attr::kG |
            (3u << seg_attr::kDplShift) | 0x3;
  if (opsize == 8) {
    if (!canonical(s.gpr[kRdx]) || !canonical(s.gpr[kRcx])) gp(0);
    cs.selector = uint16_t((base + 32) | 3);
    ss.selector = uint16_t((base + 40) | 3);
    cs.attr = seg_attr::kP | seg_attr::kS | seg_attr::kL | seg_attr::kG |
              (3u << seg_attr::kDplShift) | 0xb;
    s.gpr[kRsp] = s.gpr[kRcx];
    s.common.pc = s.gpr[kRdx];
  } else {
    cs.selector = uint16_t((base + 16) | 3);
    ss.selector = uint16_t((base + 24) | 3);
    cs.attr = seg_attr::kP | seg_attr::kS | seg_attr::kDb | seg_attr::kG |
              (3u << seg_attr::kDplShift) | 0xb;
    s.gpr[kRsp] = uint32_t(s.gpr[kRcx]);
    s.common.pc = uint32_t(s.gpr[kRdx]);
  }
  s.seg[kCs] = cs;
  s.seg[kSs] = ss;
  cpu.mode_changed();
}

void swapgs_insn(X86Cpu& cpu) {
  X86State& s = cpu.state();
  if (!code64(s)) throw GuestFault{vec::kUd, 0};
  if (cpu.cpl() != 0) gp(0);
  std::swap(s.seg[kGs].base, s.msr.kernel_gs_base);
}

uint64_t read_seg_base(X86Cpu& cpu, unsigned r) {
  const X86State& s = cpu.state();
  if (!(s.cr4 & cr4::kFsgsbase) || !code64(s)) throw GuestFault{vec::kUd, 0};
  return s.seg[r].base;
}

void write_seg_base(X86Cpu& cpu, unsigned r, uint64_t value) {
  X86State& s = cpu.state();
  if (!(s.cr4 & cr4::kFsgsbase) || !code64(s)) throw GuestFault{vec::kUd, 0};
  if (!canonical(value)) gp(0);
  s.seg[r].base = value;
}

bool virtual_interrupts(const X86State& s, unsigned cpl) {
  if (!protected_mode(s) || cpl <= iopl(s)) return false;
  return vm86(s) ? (s.cr4 & cr4::kVme) != 0 : cpl == 3 && (s.cr4 & cr4::kPvi) != 0;
}

void cli_insn(X86Cpu& cpu) {
  X86State& s = cpu.state();
  if (virtual_interrupts(s, cpu.cpl())) {  // CR4.VME / CR4.PVI: CLI clears VIF
    s.eflags &= ~eflags::kVif;
    return;
  }
  if (protected_mode(s) && cpu.cpl() > iopl(s)) gp(0);
  s.eflags &= ~eflags::kIf;
}

void sti_insn(X86Cpu& cpu) {
  X86State& s = cpu.state();
  if (virtual_interrupts(s, cpu.cpl())) {
    if (s.eflags & eflags::kVip) gp(0);  // a virtual interrupt is pending: the monitor's turn
    s.eflags |= eflags::kVif;
    return;
  }
  if (protected_mode(s) && cpu.cpl() > iopl(s)) gp(0);
  if (!(s.eflags & eflags::kIf)) s.inhibit_irq = 1;  // the next instruction runs first
  s.eflags |= eflags::kIf;
  cpu.mode_changed();
  cpu.check_interrupts();
}

void popf_virtual(X86Cpu& cpu) {
  X86State& s = cpu.state();
  Stack st(cpu);
  write_flags_virtual(s, st.pop(2));
  st.commit();
}

void check_io(X86Cpu& cpu, uint16_t port, unsigned size) {
  X86State& s = cpu.state();
  if (!protected_mode(s) || (!vm86(s) && cpu.cpl() <= iopl(s))) return;
  // The TSS I/O permission bitmap: every bit of the accessed ports must be clear.
  const SegmentCache& tr = s.seg[kTr];
  const unsigned type = tr.attr & seg_attr::kTypeMask;
  if (!(tr.attr & seg_attr::kP) || (type != 9 && type != 11) || tr.limit < 0x67) gp(0);
  const uint32_t off = uint32_t(cpu.read_linear(tr.base + 0x66, 2, kMmuIdxImplicit));
  const uint32_t at = off + port / 8;
  if (at + 1 > tr.limit) gp(0);
  const uint64_t bits = cpu.read_linear(tr.base + at, 2, kMmuIdxImplicit);
  const uint64_t mask = ((1u << size) - 1) << (port & 7);
  if (bits & mask) gp(0);
}

}  // namespace orrery::cpu::x86
