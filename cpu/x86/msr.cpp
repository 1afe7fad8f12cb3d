// Model-specific registers (Intel SDM vol. 4). Only the MSRs the model's CPUID implies exist;
// others raise #GP(0) and are named under -d unimp.
#include <cinttypes>
#include <string_view>

#include "cpu/x86/cpu.h"
#include "cpu/x86/system.h"
#include "hw/core/log.h"

namespace orrery::cpu::x86 {

namespace msr {
constexpr uint32_t kTsc = 0x10, kApicBase = 0x1b, kSpecCtrl = 0x48, kPredCmd = 0x49;
constexpr uint32_t kBiosSignId = 0x8b, kMtrrCap = 0xfe, kSysenterCs = 0x174;
constexpr uint32_t kSysenterEsp = 0x175, kSysenterEip = 0x176, kMcgCap = 0x179;
constexpr uint32_t kMcgStatus = 0x17a, kMiscEnable = 0x1a0, kMtrrPhysBase0 = 0x200;
constexpr uint32_t kMtrrFix64k = 0x250, kMtrrFix16k0 = 0x258, kMtrrFix16k1 = 0x259;
constexpr uint32_t kMtrrFix4k0 = 0x268, kPat = 0x277, kMtrrDefType = 0x2ff;
constexpr uint32_t kEfer = 0xc0000080, kStar = 0xc0000081, kLstar = 0xc0000082;
constexpr uint32_t kCstar = 0xc0000083, kFmask = 0xc0000084, kFsBase = 0xc0000100;
constexpr uint32_t kGsBase = 0xc0000101, kKernelGsBase = 0xc0000102, kTscAux = 0xc0000103;
constexpr uint32_t kTscDeadline = 0x6e0, kX2apicFirst = 0x800, kX2apicLast = 0x8ff;
constexpr uint32_t kAmdSyscfg = 0xc0010010;  // AMD system configuration (Linux's MTRR code)
constexpr uint32_t kAmdHwcr = 0xc0010015;    // AMD hardware configuration (Linux reads it)
/// K8 interrupt pending message (C1E): Linux reads it on family 0xf CPUs such as qemu64's
/// (the AMD E400 erratum check); 0 means C1E is off, as under QEMU.
constexpr uint32_t kAmdIntPendingMsg = 0xc0010055;
}  // namespace msr

namespace {

bool canonical(uint64_t a) {
  return int64_t(a << 16) >> 16 == int64_t(a);
}

[[noreturn]] void no_msr(X86Cpu& cpu, uint32_t index, bool write) {
  cpu.log().log(hw::kLogUnimp, "unimp: x86 %s of MSR 0x%x: raising #GP\n",
                write ? "WRMSR" : "RDMSR", index);
  throw GuestFault{vec::kGp, 0};
}

/// The MTRR slot of index in Msrs::mtrr_fixed (0..10), or -1.
int fixed_mtrr_slot(uint32_t index) {
  if (index == msr::kMtrrFix64k) return 0;
  if (index == msr::kMtrrFix16k0) return 1;
  if (index == msr::kMtrrFix16k1) return 2;
  if (index >= msr::kMtrrFix4k0 && index < msr::kMtrrFix4k0 + 8)
    return 3 + int(index - msr::kMtrrFix4k0);
  return -1;
}

bool valid_memory_types(uint64_t v, bool pat) {
  // PAT entries: UC WC WT WP WB UC-; MTRR types: UC WC WT WP WB.
  for (unsigned i = 0; i < 8; ++i) {
    const unsigned t = (v >> (8 * i)) & 0xff;
    if (t == 2 || t == 3 || t > 7 || (!pat && t == 7)) return false;
  }
  return true;
}

}  // namespace

uint64_t read_msr(X86Cpu& cpu, uint32_t index) {
  X86State& s = cpu.state();
  const CpuModel& m = cpu.model();
  const bool lm = m.ext1_edx & feat::kLm;
  const bool mtrr = m.leaf1_edx & feat::kMtrr;
  if (mtrr && index >= msr::kMtrrPhysBase0 && index < msr::kMtrrPhysBase0 + 16)
    return s.msr.mtrr_var[index - msr::kMtrrPhysBase0];
  if (mtrr && fixed_mtrr_slot(index) >= 0) return s.msr.mtrr_fixed[fixed_mtrr_slot(index)];
  X86LocalApic* apic = cpu.local_apic();
  if (index >= msr::kX2apicFirst && index <= msr::kX2apicLast && apic &&
      (m.leaf1_ecx & feat::kX2apic)) {
    uint64_t v = 0;
    if (!apic->read_x2apic_msr(index, v)) throw GuestFault{vec::kGp, 0};
    return v;
  }
  switch (index) {
    case msr::kTsc:
      return cpu.read_tsc();
    case msr::kApicBase:
      return apic ? apic->apic_base() : s.msr.apic_base;
    case msr::kTscDeadline:
      if (!apic || !(m.leaf1_ecx & feat::kTscDeadline)) break;
      return apic->tsc_deadline();
    case msr::kBiosSignId:
      return 0;
    case msr::kSpecCtrl:
      if (!(m.leaf7_edx & feat::kSpecCtrl)) break;
      return s.msr.spec_ctrl;
    case msr::kMtrrCap:
      if (!mtrr) break;
      return s.msr.mtrr_cap;
    case msr::kMtrrDefType:
      if (!mtrr) break;
      return s.msr.mtrr_def_type;
    case msr::kSysenterCs:
      return s.msr.sysenter_cs;
    case msr::kSysenterEsp:
      return s.msr.sysenter_esp;
    case msr::kSysenterEip:
      return s.msr.sysenter_eip;
    case msr::kMcgCap:
    case msr::kMcgStatus:
      return 0;  // no machine-check banks
    case msr::kMiscEnable:
      return s.msr.misc_enable;
    case msr::kPat:
      return s.msr.pat;
    case msr::kEfer:
      return s.efer;
    case msr::kStar:
      return s.msr.star;
    case msr::kLstar:
      if (!lm) break;
      return s.msr.lstar;
    case msr::kCstar:
      if (!lm) break;
      return s.msr.cstar;
    case msr::kFmask:
      if (!lm) break;
      return s.msr.fmask;
    case msr::kFsBase:
      if (!lm) break;
      return s.seg[kFs].base;
    case msr::kGsBase:
      if (!lm) break;
      return s.seg[kGs].base;
    case msr::kKernelGsBase:
      if (!lm) break;
      return s.msr.kernel_gs_base;
    case msr::kTscAux:
      if (!(m.ext1_edx & feat::kRdtscp) && !(m.leaf7_ecx & feat::kRdpid)) break;
      return s.msr.tsc_aux;
    case msr::kAmdSyscfg:
    case msr::kAmdHwcr:
    case msr::kAmdIntPendingMsg:
      if (std::string_view(m.vendor) != "AuthenticAMD") break;
      return 0;
    default:
      break;
  }
  no_msr(cpu, index, false);
}

void write_msr(X86Cpu& cpu, uint32_t index, uint64_t v) {
  X86State& s = cpu.state();
  const CpuModel& m = cpu.model();
  const bool lm = m.ext1_edx & feat::kLm;
  const bool mtrr = m.leaf1_edx & feat::kMtrr;
  const uint64_t phys_mask = (1ull << m.phys_bits) - 1;
  if (mtrr && index >= msr::kMtrrPhysBase0 && index < msr::kMtrrPhysBase0 + 16) {
    const unsigned i = index - msr::kMtrrPhysBase0;
    // Base: type in 7:0, address bits; mask: valid bit 11, address bits.
    const uint64_t rsvd = (i & 1) ? ~(phys_mask & ~0x7ffull) : ~(phys_mask & ~0xf00ull);
    if ((v & rsvd) || (!(i & 1) && !valid_memory_types(v & 0xff, false)))
      throw GuestFault{vec::kGp, 0};
    s.msr.mtrr_var[i] = v;
    return;
  }
  if (index >= msr::kX2apicFirst && index <= msr::kX2apicLast && cpu.local_apic() &&
      (m.leaf1_ecx & feat::kX2apic)) {
    if (!cpu.local_apic()->write_x2apic_msr(index, v)) throw GuestFault{vec::kGp, 0};
    return;
  }
  if (mtrr && fixed_mtrr_slot(index) >= 0) {
    if (!valid_memory_types(v, false)) throw GuestFault{vec::kGp, 0};
    s.msr.mtrr_fixed[fixed_mtrr_slot(index)] = v;
    return;
  }
  switch (index) {
    case msr::kTsc:
      s.msr.tsc_offset = v - (cpu.read_tsc() - s.msr.tsc_offset);
      return;
    case msr::kApicBase: {
      // BSP (bit 8) is read-only; x2APIC (bit 10) only when offered; base within MAXPHYADDR.
      const uint64_t extd = (m.leaf1_ecx & feat::kX2apic) ? 1ull << 10 : 0;
      if (v & ~((1ull << 8) | extd | (1ull << 11) | (phys_mask & ~0xfffull)))
        throw GuestFault{vec::kGp, 0};
      if (X86LocalApic* apic = cpu.local_apic()) {
        if (!apic->set_apic_base(v)) throw GuestFault{vec::kGp, 0};
        s.msr.apic_base = apic->apic_base();
        return;
      }
      s.msr.apic_base = (v & ~(1ull << 8)) | (s.msr.apic_base & (1ull << 8));
      return;
    }
    case msr::kTscDeadline:
      if (!cpu.local_apic() || !(m.leaf1_ecx & feat::kTscDeadline)) break;
      cpu.local_apic()->set_tsc_deadline(v, cpu.read_tsc());
      return;
    case msr::kBiosSignId:
      return;  // microcode update trigger: ignored
    case msr::kSpecCtrl:
      if (!(m.leaf7_edx & feat::kSpecCtrl)) break;
      if (v & ~7ull) throw GuestFault{vec::kGp, 0};  // IBRS, STIBP, SSBD
      s.msr.spec_ctrl = v;
      return;
    case msr::kPredCmd:
      if (!(m.leaf7_edx & feat::kSpecCtrl)) break;
      if (v & ~1ull) throw GuestFault{vec::kGp, 0};
      return;  // IBPB: nothing to do
    case msr::kMtrrDefType:
      if (!mtrr) break;
      if ((v & ~0xcffull) || !valid_memory_types(v & 0xff, false)) throw GuestFault{vec::kGp, 0};
      s.msr.mtrr_def_type = v;
      return;
    case msr::kSysenterCs:
      s.msr.sysenter_cs = v & 0xffff;
      return;
    case msr::kSysenterEsp:
      if (lm && !canonical(v)) throw GuestFault{vec::kGp, 0};
      s.msr.sysenter_esp = v;
      return;
    case msr::kSysenterEip:
      if (lm && !canonical(v)) throw GuestFault{vec::kGp, 0};
      s.msr.sysenter_eip = v;
      return;
    case msr::kMcgStatus:
      if (v) throw GuestFault{vec::kGp, 0};
      return;
    case msr::kMiscEnable:
      s.msr.misc_enable = v;
      return;
    case msr::kPat:
      if (!valid_memory_types(v, true)) throw GuestFault{vec::kGp, 0};
      s.msr.pat = v;
      return;
    case msr::kEfer: {
      const uint64_t valid = efer_valid_bits(m);
      if ((v & ~valid) & ~efer::kLma) throw GuestFault{vec::kGp, 0};
      const uint64_t old = s.efer;
      // LME cannot change while paging is on; LMA is read-only.
      if ((s.cr0 & cr0::kPg) && ((v ^ old) & efer::kLme)) throw GuestFault{vec::kGp, 0};
      s.efer = (v & valid) | (old & efer::kLma);
      if ((old ^ s.efer) & efer::kNxe) cpu.flush_tlb_all();
      cpu.mode_changed();
      return;
    }
    case msr::kStar:
      s.msr.star = v;
      return;
    case msr::kLstar:
    case msr::kCstar:
    case msr::kFsBase:
    case msr::kGsBase:
    case msr::kKernelGsBase:
      if (!lm) break;
      if (!canonical(v)) throw GuestFault{vec::kGp, 0};
      if (index == msr::kLstar) s.msr.lstar = v;
      if (index == msr::kCstar) s.msr.cstar = v;
      if (index == msr::kFsBase) s.seg[kFs].base = v;
      if (index == msr::kGsBase) s.seg[kGs].base = v;
      if (index == msr::kKernelGsBase) s.msr.kernel_gs_base = v;
      return;
    case msr::kFmask:
      if (!lm) break;
      s.msr.fmask = v & 0xffffffffu;
      return;
    case msr::kTscAux:
      if (!(m.ext1_edx & feat::kRdtscp) && !(m.leaf7_ecx & feat::kRdpid)) break;
      if (v >> 32) throw GuestFault{vec::kGp, 0};
      s.msr.tsc_aux = v;
      return;
    case msr::kAmdSyscfg:
    case msr::kAmdHwcr:
    case msr::kAmdIntPendingMsg:
      if (std::string_view(m.vendor) != "AuthenticAMD") break;
      return;  // no configurable behaviour: writes are accepted and read back as 0
    default:
      break;
  }
  no_msr(cpu, index, true);
}

}  // namespace orrery::cpu::x86
