// Event delivery (Intel SDM vol. 3A, 6.12-6.15 and 7; long mode 6.14): real-mode IVT, protected
// and virtual-8086 mode through interrupt and trap gates, long mode through 64-bit gates with IST,
// and the double/triple fault rules.
#include "cpu/x86/exception.h"

#include <cinttypes>

#include "cpu/x86/cpu.h"
#include "cpu/x86/seg.h"
#include "cpu/x86/task.h"
#include "hw/core/log.h"

namespace orrery::cpu::x86 {

namespace {

const char* vector_name(unsigned v) {
  static const char* const kNames[] = {"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
                                       "#DF", "",    "#TS", "#NP", "#SS", "#GP", "#PF", "",
                                       "#MF", "#AC", "#MC", "#XM", "#VE", "#CP"};
  return v < sizeof kNames / sizeof kNames[0] ? kNames[v] : "";
}

bool contributory(unsigned v) {
  return v == vec::kDe || v == vec::kTs || v == vec::kNp || v == vec::kSs || v == vec::kGp;
}

/// Pushes onto a stack: segment base, stack pointer (wrapped to mask), width 2, 4 or 8.
struct StackPusher {
  X86Cpu& cpu;
  uint64_t base;
  uint64_t sp;
  uint64_t mask;
  unsigned mmu_idx;
  void push(uint64_t v, unsigned width) {
    sp = (sp - width) & mask;
    uint64_t la = base + sp;
    if (mask != ~0ull) la &= 0xffffffffu;  // legacy modes: linear addresses wrap at 4 GiB
    cpu.write_linear(la, width, v, mmu_idx);
  }
};

unsigned mmu_idx_for(unsigned cpl) {
  return cpl == 3 ? kMmuIdxUser : kMmuIdxKernelNoSmap;
}

/// Whether the event counts as external for the EXT bit of error codes raised while
/// delivering it (hardware interrupts, NMI and exceptions; not INT n/INT3/INTO).
uint32_t ext_bit(const Event& ev) {
  return ev.kind == EventKind::SoftwareInt || ev.kind == EventKind::SoftwareExc ? 0 : errc::kExt;
}

uint64_t return_rip(const X86Cpu& cpu, const Event& ev) {
  return ev.kind == EventKind::Fault || ev.kind == EventKind::External || ev.kind == EventKind::Nmi
             ? cpu.rip()
             : ev.next_rip;
}

void deliver_real(X86Cpu& cpu, const Event& ev) {
  X86State& s = cpu.state();
  const uint64_t off = uint64_t(ev.vector) * 4;
  if (off + 3 > s.idtr.limit) throw GuestFault{vec::kGp, uint32_t(ev.vector) * 8 + 2};
  const uint64_t entry = cpu.read_linear(s.idtr.base + off, 4, kMmuIdxImplicit);
  StackPusher st{cpu, s.seg[kSs].base, s.gpr[kRsp], 0xffff, kMmuIdxKernelNoSmap};
  const uint64_t ip = return_rip(cpu, ev);
  st.push(read_eflags(s) & 0xffff, 2);
  st.push(s.seg[kCs].selector, 2);
  st.push(ip & 0xffff, 2);
  s.gpr[kRsp] = (s.gpr[kRsp] & ~0xffffull) | st.sp;
  write_eflags(s, read_eflags(s) & ~(eflags::kIf | eflags::kTf | eflags::kAc | eflags::kRf));
  const uint16_t sel = uint16_t(entry >> 16);
  s.seg[kCs].selector = sel;
  s.seg[kCs].base = uint64_t(sel) << 4;
  s.common.pc = s.seg[kCs].base + (entry & 0xffff);
}

/// Protected mode (16/32-bit gates), including interrupts out of virtual-8086 mode.
void deliver_protected(X86Cpu& cpu, const Event& ev) {
  X86State& s = cpu.state();
  const uint32_t ext = ext_bit(ev);
  const uint32_t idt_err = uint32_t(ev.vector) * 8 + errc::kIdt + ext;
  const bool soft = ev.kind == EventKind::SoftwareInt || ev.kind == EventKind::SoftwareExc;
  const unsigned cpl = cpu.cpl();
  if (vm86(s) && ev.kind == EventKind::SoftwareInt &&
      ((s.eflags & eflags::kIoplMask) >> eflags::kIoplShift) < 3)
    throw GuestFault{vec::kGp, 0};
  if (uint64_t(ev.vector) * 8 + 7 > s.idtr.limit) throw GuestFault{vec::kGp, idt_err};
  Descriptor g;
  const uint64_t raw = cpu.read_linear(s.idtr.base + ev.vector * 8u, 8, kMmuIdxImplicit);
  g.lo = uint32_t(raw);
  g.hi = uint32_t(raw >> 32);
  const unsigned type = g.type();
  if (g.s() || !(type == 5 || type == 6 || type == 7 || type == 14 || type == 15))
    throw GuestFault{vec::kGp, idt_err};
  if (soft && g.dpl() < cpl) throw GuestFault{vec::kGp, idt_err};
  if (!g.present()) throw GuestFault{vec::kNp, idt_err};
  if (type == 5) {
    event_task_switch(cpu, g, ext, return_rip(cpu, ev), ev.has_error, ev.error_code);
    return;
  }
  const bool gate32 = type >= 14;
  const unsigned width = gate32 ? 4 : 2;
  const uint16_t sel = g.gate_selector();
  if ((sel & 0xfffc) == 0) throw GuestFault{vec::kGp, ext};
  Descriptor cs = read_descriptor(cpu, sel, ext);
  if (!cs.code() || cs.dpl() > cpl) throw GuestFault{vec::kGp, sel_error(sel, ext)};
  if (!cs.present()) throw GuestFault{vec::kNp, sel_error(sel, ext)};
  uint64_t target = g.gate_offset() & 0xffffffffu;
  if (!gate32) target &= 0xffff;
  if (target > cs.limit()) throw GuestFault{vec::kGp, ext};
  const uint64_t eflags_now = read_eflags(s);
  const uint64_t ip = return_rip(cpu, ev);
  const bool from_vm86 = vm86(s);
  unsigned new_cpl = cpl;
  if (!cs.conforming() && cs.dpl() < cpl) {
    new_cpl = cs.dpl();
    if (from_vm86 && new_cpl != 0) throw GuestFault{vec::kGp, sel_error(sel, ext)};
    uint16_t ss_sel;
    uint64_t sp;
    tss_stack(cpu, new_cpl, 0, ss_sel, sp, ext);
    if ((ss_sel & 0xfffc) == 0) throw GuestFault{vec::kTs, ext};
    if ((ss_sel & 3) != new_cpl) throw GuestFault{vec::kTs, sel_error(ss_sel, ext)};
    Descriptor ssd = read_descriptor(cpu, ss_sel, ext);
    if (ssd.dpl() != new_cpl || !ssd.writable_data())
      throw GuestFault{vec::kTs, sel_error(ss_sel, ext)};
    if (!ssd.present()) throw GuestFault{vec::kSs, sel_error(ss_sel, ext)};
    const uint64_t mask = ssd.db() ? 0xffffffffull : 0xffff;
    StackPusher st{cpu, ssd.base(), sp & mask, mask, mmu_idx_for(new_cpl)};
    if (from_vm86) {
      st.push(s.seg[kGs].selector, width);
      st.push(s.seg[kFs].selector, width);
      st.push(s.seg[kDs].selector, width);
      st.push(s.seg[kEs].selector, width);
    }
    st.push(s.seg[kSs].selector, width);
    st.push(s.gpr[kRsp] & (width == 4 ? 0xffffffffull : 0xffff), width);
    st.push(eflags_now, width);
    st.push(s.seg[kCs].selector, width);
    st.push(ip, width);
    if (ev.has_error) st.push(ev.error_code, width);
    set_accessed(cpu, ssd);
    s.seg[kSs] = make_cache(ss_sel, ssd);
    s.gpr[kRsp] = mask == 0xffff ? (sp & ~0xffffull) | st.sp : st.sp;
    if (from_vm86) {
      for (unsigned r : {kEs, kDs, kFs, kGs}) s.seg[r] = null_segment(0, 0);
    }
  } else {
    if (from_vm86) throw GuestFault{vec::kGp, sel_error(sel, ext)};
    const uint64_t mask = stack_mask(s);
    StackPusher st{cpu, s.seg[kSs].base, s.gpr[kRsp] & mask, mask, mmu_idx_for(cpl)};
    st.push(eflags_now, width);
    st.push(s.seg[kCs].selector, width);
    st.push(ip, width);
    if (ev.has_error) st.push(ev.error_code, width);
    s.gpr[kRsp] = (s.gpr[kRsp] & ~mask) | st.sp;
  }
  set_accessed(cpu, cs);
  uint64_t f = eflags_now & ~(eflags::kTf | eflags::kNt | eflags::kVm | eflags::kRf);
  if (!(type & 1)) f &= ~eflags::kIf;  // interrupt gate
  write_eflags(s, f);
  set_cs(s, uint16_t((sel & 0xfffc) | new_cpl), cs, new_cpl, target);
}

void deliver_long(X86Cpu& cpu, const Event& ev) {
  X86State& s = cpu.state();
  const uint32_t ext = ext_bit(ev);
  const uint32_t idt_err = uint32_t(ev.vector) * 16 + errc::kIdt + ext;
  const bool soft = ev.kind == EventKind::SoftwareInt || ev.kind == EventKind::SoftwareExc;
  const unsigned cpl = cpu.cpl();
  if (uint64_t(ev.vector) * 16 + 15 > s.idtr.limit)
    throw GuestFault{vec::kGp, uint32_t(ev.vector) * 8 + errc::kIdt + ext};
  Descriptor g;
  const uint64_t base = s.idtr.base + ev.vector * 16u;
  const uint64_t raw = cpu.read_linear(base, 8, kMmuIdxImplicit);
  g.lo = uint32_t(raw);
  g.hi = uint32_t(raw >> 32);
  g.high = cpu.read_linear(base + 8, 8, kMmuIdxImplicit);
  // Error codes name the vector as index * 8 in both formats (the IDT bit marks it).
  const uint32_t err = uint32_t(ev.vector) * 8 + errc::kIdt + ext;
  (void)idt_err;
  if (g.s() || !(g.type() == 14 || g.type() == 15)) throw GuestFault{vec::kGp, err};
  if (soft && g.dpl() < cpl) throw GuestFault{vec::kGp, err};
  if (!g.present()) throw GuestFault{vec::kNp, err};
  const uint16_t sel = g.gate_selector();
  if ((sel & 0xfffc) == 0) throw GuestFault{vec::kGp, ext};
  Descriptor cs = read_descriptor(cpu, sel, ext);
  if (!cs.code() || cs.dpl() > cpl || !cs.l() || cs.db())
    throw GuestFault{vec::kGp, sel_error(sel, ext)};
  if (!cs.present()) throw GuestFault{vec::kNp, sel_error(sel, ext)};
  const uint64_t eflags_now = read_eflags(s);
  const uint64_t ip = return_rip(cpu, ev);
  unsigned new_cpl = cpl;
  uint64_t sp = s.gpr[kRsp];
  const uint16_t old_ss = s.seg[kSs].selector;
  const uint64_t old_rsp = s.gpr[kRsp];
  const bool outer = !cs.conforming() && cs.dpl() < cpl;
  if (outer) new_cpl = cs.dpl();
  if (outer || g.gate_ist()) {
    uint16_t unused;
    tss_stack(cpu, new_cpl, g.gate_ist(), unused, sp, ext);
  }
  sp &= ~0xfull;
  StackPusher st{cpu, 0, sp, ~0ull, mmu_idx_for(new_cpl)};
  st.push(old_ss, 8);
  st.push(old_rsp, 8);
  st.push(eflags_now, 8);
  st.push(s.seg[kCs].selector, 8);
  st.push(ip, 8);
  if (ev.has_error) st.push(ev.error_code, 8);
  if (outer) s.seg[kSs] = null_segment(uint16_t(new_cpl), new_cpl);
  s.gpr[kRsp] = st.sp;
  set_accessed(cpu, cs);
  uint64_t f = eflags_now & ~(eflags::kTf | eflags::kNt | eflags::kVm | eflags::kRf);
  if (g.type() == 14) f &= ~eflags::kIf;
  write_eflags(s, f);
  set_cs(s, uint16_t((sel & 0xfffc) | new_cpl), cs, new_cpl, g.gate_offset());
}

void deliver_once(X86Cpu& cpu, const Event& ev) {
  X86State& s = cpu.state();
  if (ev.vector == vec::kPf) s.cr2 = ev.cr2;
  if (!protected_mode(s)) {
    deliver_real(cpu, ev);
  } else if (s.efer & efer::kLma) {
    deliver_long(cpu, ev);
  } else {
    deliver_protected(cpu, ev);
  }
  // Delivery ends any interrupt shadow.
  s.inhibit_irq = 0;
}

void log_event(X86Cpu& cpu, const Event& ev, uint64_t from_pc) {
  hw::Log& log = cpu.log();
  if (!log.enabled(hw::kLogInt)) return;
  const X86State& s = cpu.state();
  const char* kind = ev.kind == EventKind::External      ? "interrupt"
                     : ev.kind == EventKind::Nmi         ? "NMI"
                     : ev.kind == EventKind::SoftwareInt ? "INT"
                                                         : "exception";
  char err[32] = "";
  if (ev.has_error) std::snprintf(err, sizeof err, " error 0x%x", ev.error_code);
  log.log(hw::kLogInt,
          "x86: cpu%u: %s %u %s%s at linear PC 0x%016" PRIx64 " -> %04x:%016" PRIx64 "%s\n",
          cpu.index(), kind, ev.vector, vector_name(ev.vector), err, from_pc, s.seg[kCs].selector,
          cpu.rip(), ev.vector == vec::kPf ? "" : "");
  if (ev.vector == vec::kPf) log.log(hw::kLogInt, "x86:   CR2 0x%016" PRIx64 "\n", s.cr2);
}

}  // namespace

Event fault_event(const GuestFault& f) {
  Event ev;
  ev.vector = f.vector;
  ev.kind = EventKind::Fault;
  ev.has_error = has_error_code(f.vector);
  ev.error_code = f.error_code;
  ev.cr2 = f.cr2;
  return ev;
}

void deliver_event(X86Cpu& cpu, const Event& first) {
  X86State& s = cpu.state();
  const uint64_t from_pc = s.common.pc;
  cpu.count_event();
  Event ev = first;
  // Faults during delivery: handled serially, or combined into #DF, or a triple fault.
  for (int depth = 0; depth < 4; ++depth) {
    try {
      deliver_once(cpu, ev);
      log_event(cpu, ev, from_pc);
      s.common.pending_exit = uint32_t(tcg::PendingExit::Exception);
      cpu.mode_changed();
      return;
    } catch (const GuestFault& f) {
      const unsigned a = ev.vector, b = f.vector;
      const bool a_hw = ev.kind == EventKind::Fault || ev.kind == EventKind::Trap;
      if (a_hw && a == vec::kDf) {
        cpu.triple_fault();
        return;
      }
      Event next = fault_event(f);
      // Error codes of faults raised while delivering an external event or an exception carry
      // EXT; delivery code sets it, and page faults have no selector.
      if (a_hw && ((contributory(a) && contributory(b)) ||
                   (a == vec::kPf && (contributory(b) || b == vec::kPf)))) {
        next = Event{};
        next.vector = vec::kDf;
        next.kind = EventKind::Fault;
        next.has_error = true;
        next.error_code = 0;
        if (b == vec::kPf) s.cr2 = f.cr2;
      }
      if (cpu.log().enabled(hw::kLogInt))
        cpu.log().log(hw::kLogInt, "x86: cpu%u: %s while delivering vector %u\n", cpu.index(),
                      vector_name(b), a);
      ev = next;
    }
  }
  cpu.triple_fault();
}

void raise_exception(X86Cpu& cpu, uint8_t vector, uint32_t error_code) {
  raise_fault(cpu, GuestFault{vector, error_code, 0});
}

void raise_fault(X86Cpu& cpu, const GuestFault& f) {
  cpu.state().halted = 0;
  deliver_event(cpu, fault_event(f));
}

namespace {

/// A bare X86State without an X86Cpu (frontend unit tests): no IDT to deliver through, so the
/// vector is recorded and the vCPU stops at the instruction (after it for INT n).
void record_without_cpu(X86State& s, unsigned vector, uint64_t pc) {
  s.pending_exception = int32_t(vector);
  s.common.pc = pc;
  s.common.pending_exit = uint32_t(tcg::PendingExit::Stop);
  s.common.stop_message = "x86: exception on a vCPU state without an X86Cpu";
}

}  // namespace

void raise_exception(X86State& s, unsigned vector, int32_t error_code, uint64_t insn_pc) {
  if (!s.owner) return record_without_cpu(s, vector, insn_pc);
  s.common.pc = insn_pc;
  GuestFault f{uint8_t(vector), error_code < 0 ? 0u : uint32_t(error_code), 0};
  Event ev = fault_event(f);
  ev.has_error = error_code >= 0;
  deliver_event(*s.owner, ev);
}

void raise_software_interrupt(X86State& s, unsigned vector, unsigned kind, uint64_t insn_pc,
                              uint64_t next_pc) {
  if (!s.owner) return record_without_cpu(s, vector, next_pc);
  s.common.pc = insn_pc;
  X86Cpu& cpu = *s.owner;
  Event ev;
  ev.vector = uint8_t(vector);
  ev.kind = kind == 0   ? EventKind::SoftwareInt
            : kind == 3 ? EventKind::Icebp
                        : EventKind::SoftwareExc;
  ev.next_rip = next_pc - s.seg[kCs].base;
  deliver_event(cpu, ev);
}

}  // namespace orrery::cpu::x86
