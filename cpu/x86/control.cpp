// Control, debug and extended control registers, CPUID, the time-stamp counter and TLB
// maintenance instructions (Intel SDM vol. 3A 2.5, 4.10; vol. 2 for each instruction).
#include <cinttypes>

#include "cpu/x86/cpu.h"
#include "cpu/x86/seg.h"
#include "cpu/x86/system.h"
#include "hw/core/log.h"

namespace orrery::cpu::x86 {

namespace {

bool canonical(uint64_t a) {
  return int64_t(a << 16) >> 16 == int64_t(a);
}

[[noreturn]] void gp0() {
  throw GuestFault{vec::kGp, 0};
}

}  // namespace

void require_cpl0(X86Cpu& cpu) {
  if (cpu.cpl() != 0) gp0();
}

uint64_t read_cr(X86Cpu& cpu, unsigned n) {
  require_cpl0(cpu);
  const X86State& s = cpu.state();
  switch (n) {
    case 0:
      return s.cr0;
    case 2:
      return s.cr2;
    case 3:
      return s.cr3;
    case 4:
      return s.cr4;
    case 8:
      return cpu.local_apic() ? cpu.local_apic()->read_cr8() : s.cr8;
    default:
      throw GuestFault{vec::kUd, 0};
  }
}

void write_cr(X86Cpu& cpu, unsigned n, uint64_t v) {
  require_cpl0(cpu);
  X86State& s = cpu.state();
  const bool lma = (s.efer & efer::kLma) != 0;
  switch (n) {
    case 0: {
      constexpr uint64_t kValid = cr0::kPe | cr0::kMp | cr0::kEm | cr0::kTs | cr0::kEt | cr0::kNe |
                                  cr0::kWp | cr0::kAm | cr0::kNw | cr0::kCd | cr0::kPg;
      if (v >> 32) gp0();
      v = (v & kValid) | cr0::kEt;  // reserved bits 28:19 etc. are ignored; ET is hardwired
      if ((v & cr0::kPg) && !(v & cr0::kPe)) gp0();
      if ((v & cr0::kNw) && !(v & cr0::kCd)) gp0();
      const uint64_t old = s.cr0;
      if ((v & cr0::kPg) && !(old & cr0::kPg) && (s.efer & efer::kLme)) {
        // Activating long mode: PAE paging and a CS that is not 64-bit already.
        if (!(s.cr4 & cr4::kPae)) gp0();
        if (s.seg[kCs].attr & seg_attr::kL) gp0();
        s.efer |= efer::kLma;
      } else if (!(v & cr0::kPg) && (old & cr0::kPg) && lma) {
        if (code64(s)) gp0();
        s.efer &= ~efer::kLma;
      }
      s.cr0 = v;
      if ((old ^ v) & (cr0::kPg | cr0::kWp | cr0::kPe)) cpu.flush_tlb_all();
      cpu.mode_changed();
      return;
    }
    case 2:
      s.cr2 = v;
      return;
    case 3: {
      uint64_t value = v;
      if (lma) {
        if (s.cr4 & cr4::kPcide) value &= ~(1ull << 63);  // bit 63: keep the PCID's entries
        if (value >> cpu.model().phys_bits) gp0();
      } else {
        value &= 0xffffffffu;
      }
      // The TLB holds only the current PCID's entries, so any CR3 write drops the non-global
      // ones (the no-flush hint is allowed to be ignored): those of the PCID being left, so
      // before CR3 names the new one.
      cpu.flush_tlb_nonglobal();
      s.cr3 = value;
      return;
    }
    case 4: {
      if (v & ~cr4_valid_bits(cpu.model())) gp0();
      const uint64_t old = s.cr4;
      if (lma && !(v & cr4::kPae)) gp0();
      if ((v & cr4::kPcide) && !(old & cr4::kPcide) && (!lma || (s.cr3 & 0xfff))) gp0();
      s.cr4 = v;
      if ((old ^ v) & (cr4::kPge | cr4::kPae | cr4::kPse | cr4::kSmep | cr4::kSmap | cr4::kPcide))
        cpu.flush_tlb_all();
      cpu.mode_changed();
      return;
    }
    case 8:
      if (v & ~0xfull) gp0();
      s.cr8 = v;
      if (cpu.local_apic()) cpu.local_apic()->write_cr8(uint8_t(v));
      return;
    default:
      throw GuestFault{vec::kUd, 0};
  }
}

uint64_t read_dr(X86Cpu& cpu, unsigned n) {
  X86State& s = cpu.state();
  if ((n == 4 || n == 5) && (s.cr4 & cr4::kDe)) throw GuestFault{vec::kUd, 0};
  require_cpl0(cpu);
  if (n == 4 || n == 5) n += 2;
  if (n > 7) throw GuestFault{vec::kUd, 0};
  return s.dr[n];
}

void write_dr(X86Cpu& cpu, unsigned n, uint64_t v) {
  X86State& s = cpu.state();
  if ((n == 4 || n == 5) && (s.cr4 & cr4::kDe)) throw GuestFault{vec::kUd, 0};
  require_cpl0(cpu);
  if (n == 4 || n == 5) n += 2;
  if (n > 7) throw GuestFault{vec::kUd, 0};
  if ((n == 6 || n == 7) && (v >> 32)) gp0();
  if (n == 6) v = (v & 0xe00f) | 0xffff0ff0;
  if (n == 7) {
    v = (v & 0xffff2bff) | 0x400;
    if (v & 0xff)
      cpu.log().log(hw::kLogUnimp,
                    "unimp: x86 hardware breakpoints (DR7 0x%" PRIx64 ") do not trigger\n", v);
  }
  s.dr[n] = v;
}

void lmsw(X86Cpu& cpu, uint16_t value) {
  require_cpl0(cpu);
  X86State& s = cpu.state();
  // Sets PE (never clears it), MP, EM and TS.
  const uint64_t v = (s.cr0 & ~0xeull) | (value & 0xf) | (s.cr0 & cr0::kPe);
  write_cr(cpu, 0, v);
}

void clts(X86Cpu& cpu) {
  require_cpl0(cpu);
  cpu.state().cr0 &= ~cr0::kTs;
  cpu.mode_changed();
}

uint64_t read_xcr(X86Cpu& cpu, uint32_t index) {
  const X86State& s = cpu.state();
  if (!(s.cr4 & cr4::kOsxsave)) throw GuestFault{vec::kUd, 0};
  if (index != 0) gp0();
  return s.xcr0;
}

void write_xcr(X86Cpu& cpu, uint32_t index, uint64_t v) {
  X86State& s = cpu.state();
  if (!(s.cr4 & cr4::kOsxsave)) throw GuestFault{vec::kUd, 0};
  require_cpl0(cpu);
  if (index != 0) gp0();
  if (!(v & 1) || (v & ~xcr0_supported(cpu.model())) || ((v & 4) && !(v & 2))) gp0();
  s.xcr0 = v;
  cpu.mode_changed();
}

void cpuid_insn(X86Cpu& cpu) {
  X86State& s = cpu.state();
  const CpuidResult r = cpuid(cpu.model(), uint32_t(s.gpr[kRax]), uint32_t(s.gpr[kRcx]),
                              cpu.index(), (s.cr4 & cr4::kOsxsave) != 0, s.xcr0);
  s.gpr[kRax] = r.eax;
  s.gpr[kRbx] = r.ebx;
  s.gpr[kRcx] = r.ecx;
  s.gpr[kRdx] = r.edx;
}

void rdtsc_insn(X86Cpu& cpu, bool rdtscp) {
  X86State& s = cpu.state();
  if ((s.cr4 & cr4::kTsd) && cpu.cpl() != 0) gp0();
  const uint64_t t = cpu.read_tsc();
  s.gpr[kRax] = uint32_t(t);
  s.gpr[kRdx] = t >> 32;
  if (rdtscp) s.gpr[kRcx] = uint32_t(s.msr.tsc_aux);
}

uint64_t rdpid_insn(X86Cpu& cpu) {
  return cpu.state().msr.tsc_aux;
}

void invlpg(X86Cpu& cpu, uint64_t la) {
  require_cpl0(cpu);
  cpu.flush_tlb_page(la);
}

void invpcid(X86Cpu& cpu, uint64_t type, uint64_t desc) {
  require_cpl0(cpu);
  X86State& s = cpu.state();
  const uint64_t lo = cpu.read_linear(desc, 8, cpu.data_mmu_idx());
  const uint64_t la = cpu.read_linear(desc + 8, 8, cpu.data_mmu_idx());
  if (lo >> 12) gp0();
  const uint64_t pcid = lo & 0xfff;
  const bool pcide = (s.cr4 & cr4::kPcide) != 0;
  const uint64_t current = pcide ? (s.cr3 & 0xfff) : 0;
  switch (type) {
    case 0:  // one address of one PCID
      if (!canonical(la) || (!pcide && pcid)) gp0();
      if (pcid == current) cpu.flush_tlb_page(la);
      return;
    case 1:  // one PCID's non-global entries
      if (!pcide && pcid) gp0();
      if (pcid == current) cpu.flush_tlb_nonglobal();
      return;
    case 2:  // everything, global entries too
      cpu.flush_tlb_all();
      return;
    case 3:  // every PCID's non-global entries (only the current one is cached)
      cpu.flush_tlb_nonglobal();
      return;
    default:
      gp0();
  }
}

}  // namespace orrery::cpu::x86
