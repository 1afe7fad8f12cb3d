// Descriptor-table registers and the descriptor-inspecting instructions: LGDT/LIDT, LLDT, LTR,
// the UMIP check for SGDT/SIDT/SLDT/STR/SMSW, LAR, LSL, VERR and VERW (Intel SDM vol. 2).
#include "cpu/x86/cpu.h"
#include "cpu/x86/seg.h"
#include "cpu/x86/system.h"

namespace orrery::cpu::x86 {

void lgdt(X86Cpu& cpu, uint64_t base, uint32_t limit) {
  require_cpl0(cpu);
  cpu.state().gdtr = DescriptorTableReg{base, limit & 0xffff};
}

void lidt(X86Cpu& cpu, uint64_t base, uint32_t limit) {
  require_cpl0(cpu);
  cpu.state().idtr = DescriptorTableReg{base, limit & 0xffff};
}

void check_umip(X86Cpu& cpu) {
  if ((cpu.state().cr4 & cr4::kUmip) && cpu.cpl() != 0) throw GuestFault{vec::kGp, 0};
}

namespace {

/// A system descriptor (LDT, TSS) for LLDT/LTR: from the GDT, 16 bytes in long mode.
Descriptor system_descriptor(X86Cpu& cpu, uint16_t sel) {
  if (sel & 4) throw GuestFault{vec::kGp, sel_error(sel, 0)};
  const bool lma = (cpu.state().efer & efer::kLma) != 0;
  return read_descriptor(cpu, sel, 0, lma);
}

SegmentCache system_cache(uint16_t sel, const Descriptor& d, bool lma) {
  SegmentCache c = make_cache(sel, d);
  if (lma) c.base |= (d.high & 0xffffffffu) << 32;
  return c;
}

/// The LAR/LSL/VERR/VERW visibility rule: the descriptor exists and CPL and RPL may see it.
bool visible(X86Cpu& cpu, uint16_t sel, Descriptor& d) {
  if ((sel & 0xfffc) == 0) return false;
  try {
    d = read_descriptor(cpu, sel, 0);
  } catch (const GuestFault& f) {
    if (f.vector == vec::kGp) return false;  // beyond the table: ZF = 0, no fault
    throw;
  }
  if (d.conforming()) return true;
  return d.dpl() >= cpu.cpl() && d.dpl() >= (sel & 3u);
}

}  // namespace

void lldt(X86Cpu& cpu, uint16_t sel) {
  require_cpl0(cpu);
  X86State& s = cpu.state();
  if ((sel & 0xfffc) == 0) {
    s.seg[kLdtr] = null_segment(sel, 0);
    return;
  }
  const Descriptor d = system_descriptor(cpu, sel);
  if (d.s() || d.type() != 2) throw GuestFault{vec::kGp, sel_error(sel, 0)};
  if (!d.present()) throw GuestFault{vec::kNp, sel_error(sel, 0)};
  s.seg[kLdtr] = system_cache(sel, d, (s.efer & efer::kLma) != 0);
}

void ltr(X86Cpu& cpu, uint16_t sel) {
  require_cpl0(cpu);
  X86State& s = cpu.state();
  if ((sel & 0xfffc) == 0) throw GuestFault{vec::kGp, 0};
  const bool lma = (s.efer & efer::kLma) != 0;
  Descriptor d = system_descriptor(cpu, sel);
  const unsigned type = d.type();
  if (d.s() || !(type == 9 || (!lma && type == 1))) throw GuestFault{vec::kGp, sel_error(sel, 0)};
  if (!d.present()) throw GuestFault{vec::kNp, sel_error(sel, 0)};
  // Mark the TSS busy in the GDT.
  d.hi |= 2u << 8;
  cpu.write_linear(d.addr + 5, 1, (d.hi >> 8) & 0xff, kMmuIdxImplicit);
  s.seg[kTr] = system_cache(sel, d, lma);
}

bool lar(X86Cpu& cpu, uint16_t sel, uint32_t& value) {
  Descriptor d;
  if (!visible(cpu, sel, d)) return false;
  if (!d.s()) {
    const bool lma = (cpu.state().efer & efer::kLma) != 0;
    const unsigned t = d.type();
    const bool ok =
        lma ? (t == 2 || t == 9 || t == 11 || t == 12)
            : (t == 1 || t == 2 || t == 3 || t == 4 || t == 5 || t == 9 || t == 11 || t == 12);
    if (!ok) return false;
  }
  value = d.hi & 0x00f0ff00u;
  return true;
}

bool lsl(X86Cpu& cpu, uint16_t sel, uint32_t& value) {
  Descriptor d;
  if (!visible(cpu, sel, d)) return false;
  if (!d.s()) {
    const bool lma = (cpu.state().efer & efer::kLma) != 0;
    const unsigned t = d.type();
    const bool ok =
        lma ? (t == 2 || t == 9 || t == 11) : (t == 1 || t == 2 || t == 3 || t == 9 || t == 11);
    if (!ok) return false;
  }
  value = d.limit();
  return true;
}

bool verr(X86Cpu& cpu, uint16_t sel) {
  Descriptor d;
  if (!visible(cpu, sel, d) || !d.s()) return false;
  return d.readable();
}

bool verw(X86Cpu& cpu, uint16_t sel) {
  Descriptor d;
  if (!visible(cpu, sel, d) || !d.s()) return false;
  return d.writable_data();
}

void load_sreg(X86Cpu& cpu, unsigned r, uint16_t sel) {
  load_segment(cpu, r, sel);
  cpu.mode_changed();
}

}  // namespace orrery::cpu::x86
