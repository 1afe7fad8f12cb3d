// Architectural state of one x86 vCPU (16-, 32- and 64-bit modes), laid out for generated code:
// CpuCommon first, then plain fields reached by GetReg/SetReg byte offsets (partial registers
// such as AH/AX/EAX are narrower accesses at the right offset; x86 is little-endian like the
// host).
//
// Condition flags are lazy (QEMU's scheme): an arithmetic instruction records what it computed
// in cc_op/cc_dst/cc_src/cc_src2 and EFLAGS' arithmetic bits (CF PF AF ZF SF OF) are derived
// only when something reads them. `eflags` holds every other bit (and, while cc_op is
// CcOp::Eflags, the arithmetic bits too). Translators know the cc_op statically within a block,
// so a CMP+Jcc pair compiles to one compare; dead cc_* writes are removed by the optimiser's
// guest-register elimination.
//
// CpuCommon::pc is the linear RIP (CS base + RIP), as QEMU's TB pc; `rip` is not stored
// separately. Blocks are keyed by it, the CS base and tb_flags.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "tcg/exec/cpu_common.h"

namespace orrery::cpu::x86 {

class X86Cpu;

/// General-purpose register numbers, in encoding order.
enum Gpr : uint8_t {
  kRax,
  kRcx,
  kRdx,
  kRbx,
  kRsp,
  kRbp,
  kRsi,
  kRdi,
  kR8,
  kR9,
  kR10,
  kR11,
  kR12,
  kR13,
  kR14,
  kR15,
  kNumGprs
};

/// Segment registers, in encoding order; then the system segments.
enum SegReg : uint8_t {
  kEs,
  kCs,
  kSs,
  kDs,
  kFs,
  kGs,
  kNumSegRegs,
  kLdtr = kNumSegRegs,
  kTr,
  kNumSegs
};

/// MMU indexes (one softmmu TLB each). Supervisor accesses with SMAP enforced and not
/// (EFLAGS.AC set, or implicit supervisor accesses such as descriptor-table reads, which SMAP
/// treats as supervisor accesses regardless of AC); user accesses.
constexpr unsigned kMmuIdxUser = 0;
constexpr unsigned kMmuIdxKernel = 1;        // CPL < 3, SMAP applies when CR4.SMAP
constexpr unsigned kMmuIdxKernelNoSmap = 2;  // CPL < 3 with EFLAGS.AC, or implicit accesses
constexpr unsigned kNumMmuIdx = 3;

/// A segment register's visible selector and hidden descriptor cache. `attr` holds descriptor
/// bits 40..47 and 52..55 packed as VMX/KVM do: type(3:0) S(4) DPL(6:5) P(7) AVL(12) L(13)
/// D/B(14) G(15). `limit` is the expanded byte limit (G already applied).
struct SegmentCache {
  uint16_t selector = 0;
  uint16_t attr = 0;
  uint32_t limit = 0xffff;
  uint64_t base = 0;
};
namespace seg_attr {
constexpr uint16_t kTypeMask = 0xf, kAccessed = 1, kS = 1u << 4, kDplShift = 5, kP = 1u << 7;
constexpr uint16_t kAvl = 1u << 12, kL = 1u << 13, kDb = 1u << 14, kG = 1u << 15;
constexpr uint16_t kCode = 1u << 3;  // in the type field of a code/data (S=1) descriptor
}  // namespace seg_attr

struct DescriptorTableReg {
  uint64_t base = 0;
  uint32_t limit = 0xffff;
};

/// Lazy condition-code states: what cc_dst/cc_src/cc_src2 hold. The width suffix is the
/// operand size. Order within a group is B, W, L, Q so `op + size_log2` selects one.
enum class CcOp : uint32_t {
  Eflags,  // the arithmetic flags are in `eflags` itself (after POPF, IRET, SAHF, helpers)
  AddB,
  AddW,
  AddL,
  AddQ,  // dst = result, src = second operand
  AdcB,
  AdcW,
  AdcL,
  AdcQ,  // dst = result, src = second operand, src2 = carry in
  SubB,
  SubW,
  SubL,
  SubQ,  // dst = result, src = second operand (CMP too)
  SbbB,
  SbbW,
  SbbL,
  SbbQ,  // dst = result, src = second operand, src2 = borrow in
  LogicB,
  LogicW,
  LogicL,
  LogicQ,  // dst = result (CF = OF = 0, AF = 0)
  IncB,
  IncW,
  IncL,
  IncQ,  // dst = result, src = CF before (INC keeps CF)
  DecB,
  DecW,
  DecL,
  DecQ,  // dst = result, src = CF before
  ShlB,
  ShlW,
  ShlL,
  ShlQ,  // dst = result, src = value shifted by count-1
  SarB,
  SarW,
  SarL,
  SarQ,  // dst = result, src = value shifted by count-1 (SHR/SAR)
  MulB,
  MulW,
  MulL,
  MulQ,  // dst = low result, src = nonzero when high part is significant
  BmiB,
  BmiW,
  BmiL,
  BmiQ,  // BMI1/BMI2 ops: dst = result, src = CF source
  Count_
};

/// EFLAGS bits.
namespace eflags {
constexpr uint64_t kCf = 1u << 0, kFixed1 = 1u << 1, kPf = 1u << 2, kAf = 1u << 4;
constexpr uint64_t kZf = 1u << 6, kSf = 1u << 7, kTf = 1u << 8, kIf = 1u << 9, kDf = 1u << 10;
constexpr uint64_t kOf = 1u << 11, kIoplShift = 12, kIoplMask = 3u << 12, kNt = 1u << 14;
constexpr uint64_t kRf = 1u << 16, kVm = 1u << 17, kAc = 1u << 18, kVif = 1u << 19;
constexpr uint64_t kVip = 1u << 20, kId = 1u << 21;
constexpr uint64_t kArith = kCf | kPf | kAf | kZf | kSf | kOf;
}  // namespace eflags

namespace cr0 {
constexpr uint64_t kPe = 1u << 0, kMp = 1u << 1, kEm = 1u << 2, kTs = 1u << 3, kEt = 1u << 4;
constexpr uint64_t kNe = 1u << 5, kWp = 1u << 16, kAm = 1u << 18, kNw = 1u << 29;
constexpr uint64_t kCd = 1u << 30, kPg = 1u << 31;
}  // namespace cr0
namespace cr4 {
constexpr uint64_t kVme = 1u << 0, kPvi = 1u << 1, kTsd = 1u << 2, kDe = 1u << 3;
constexpr uint64_t kPse = 1u << 4, kPae = 1u << 5, kMce = 1u << 6, kPge = 1u << 7;
constexpr uint64_t kPce = 1u << 8, kOsfxsr = 1u << 9, kOsxmmexcpt = 1u << 10, kUmip = 1u << 11;
constexpr uint64_t kLa57 = 1u << 12, kFsgsbase = 1u << 16, kPcide = 1u << 17;
constexpr uint64_t kOsxsave = 1u << 18, kSmep = 1u << 20, kSmap = 1u << 21, kPke = 1u << 22;
}  // namespace cr4
/// MXCSR: the exception flags (bits 5:0; each mask is its flag << kMaskShift), DAZ and FTZ.
namespace mxcsr_bits {
constexpr unsigned kIe = 1u << 0, kDe = 1u << 1, kZe = 1u << 2, kOe = 1u << 3, kUe = 1u << 4;
constexpr unsigned kPe = 1u << 5, kDaz = 1u << 6, kMaskShift = 7, kFtz = 1u << 15;
}  // namespace mxcsr_bits
namespace efer {
constexpr uint64_t kSce = 1u << 0, kLme = 1u << 8, kLma = 1u << 10, kNxe = 1u << 11;
}  // namespace efer

/// Bits of CpuCommon::tb_flags: the mode a translation bakes in. Recomputed by
/// X86Frontend::compute_tb_flags whenever a mode register changes outside generated code.
namespace tb_flags {
constexpr uint64_t kCplShift = 0;  // CPL (0..3)
constexpr uint64_t kCplMask = 3;
constexpr uint64_t kCode32 = 1u << 2;   // CS.D: default operand/address size 32 (else 16)
constexpr uint64_t kCode64 = 1u << 3;   // long mode with CS.L: 64-bit code
constexpr uint64_t kStack32 = 1u << 4;  // SS.B: 32-bit stack pointer (else SP); ignored in 64-bit
constexpr uint64_t kPe = 1u << 5;       // CR0.PE: protected mode
constexpr uint64_t kVm86 = 1u << 6;     // EFLAGS.VM
constexpr uint64_t kLma = 1u << 7;      // EFER.LMA (long mode active, 64-bit or compatibility)
constexpr uint64_t kIoplShift = 8;      // EFLAGS.IOPL, for CLI/STI/IN/OUT/PUSHF privilege checks
constexpr uint64_t kIoplMask = 3u << 8;
constexpr uint64_t kTf = 1u << 10;          // EFLAGS.TF: single-step trap after each instruction
constexpr uint64_t kFpuTrap = 1u << 11;     // CR0.EM or CR0.TS: x87/MMX/SSE raise #NM (or #UD)
constexpr uint64_t kCr0Em = 1u << 12;       // CR0.EM: SSE raises #UD, x87 #NM
constexpr uint64_t kCr0Mp = 1u << 13;       // CR0.MP: WAIT/FWAIT honours TS
constexpr uint64_t kOsfxsr = 1u << 14;      // CR4.OSFXSR: SSE enabled (else #UD)
constexpr uint64_t kOsxsave = 1u << 15;     // CR4.OSXSAVE: XGETBV/XSETBV/VEX enabled
constexpr uint64_t kAvxEnabled = 1u << 16;  // XCR0 has SSE|AVX state enabled
constexpr uint64_t kInhibitIrq = 1u << 17;  // in the shadow of MOV SS/POP SS/STI
constexpr uint64_t kAddSeg = 1u << 18;      // some of DS/ES/SS has a nonzero base (16/32-bit modes)
constexpr uint64_t kSmap = 1u << 19;  // CR4.SMAP and CPL < 3: supervisor data uses kMmuIdxKernel
constexpr uint64_t kAc = 1u << 20;    // EFLAGS.AC
constexpr uint64_t kUmip = 1u << 21;  // CR4.UMIP
constexpr uint64_t kTsd = 1u << 22;   // CR4.TSD
constexpr uint64_t kCr0Ts =
    1u << 23;  // CR0.TS: VEX instructions raise #NM (CR0.EM does not matter)
// CPL 3 with CR0.AM and EFLAGS.AC: data accesses are alignment-checked (#AC). Decided per block,
// so code without it pays nothing.
constexpr uint64_t kAlignCheck = 1u << 24;
constexpr uint64_t kVme = 1u << 25;  // CR4.VME (virtual-8086 mode extensions)
constexpr uint64_t kPvi = 1u << 26;  // CR4.PVI (protected-mode virtual interrupts)
// MXCSR's control bits are 0x1f80 (round to nearest, all exceptions masked, no FTZ/DAZ): SSE
// floating point may use the IR's FP vector rows, defined in exactly that environment
// (translate_sse_fp.cpp). Whatever writes MXCSR's control bits ends the block or calls
// mode_changed.
constexpr uint64_t kMxcsrDefault = 1u << 27;
}  // namespace tb_flags

/// An x87 register as stored by FXSAVE: 64-bit significand (explicit integer bit) and 16-bit
/// sign+exponent. The host's 80-bit long double has exactly this format.
struct F80 {
  uint64_t mant = 0;
  uint16_t sign_exp = 0;
  uint16_t pad[3] = {0, 0, 0};
};
static_assert(sizeof(F80) == 16);

struct X87State {
  F80 st[8];  // physical registers R0..R7; ST(i) is st[(top + i) & 7]
  uint16_t fcw = 0x037f;
  uint16_t fsw = 0;  // without TOP (kept in `top`)
  uint8_t top = 0;
  uint8_t ftw = 0;  // abridged tag word: bit i set when R(i) is valid (FXSAVE's format)
  uint16_t fop = 0;
  uint64_t fip = 0, fdp = 0;
  uint16_t fcs = 0, fds = 0;
};

/// One 256-bit vector register (YMM; XMM is its low half; MMX registers alias the x87 file).
struct alignas(32) YmmReg {
  uint64_t q[4] = {0, 0, 0, 0};
};

/// The model-specific registers Orrery stores (others are computed or fault).
struct Msrs {
  uint64_t star = 0, lstar = 0, cstar = 0, fmask = 0;
  uint64_t kernel_gs_base = 0;
  uint64_t sysenter_cs = 0, sysenter_esp = 0, sysenter_eip = 0;
  uint64_t apic_base = 0xfee00900;  // BSP bit and global enable set at reset
  uint64_t pat = 0x0007040600070406ull;
  uint64_t tsc_aux = 0;
  uint64_t tsc_offset = 0;   // guest TSC = host-derived counter + offset (IA32_TSC writes)
  uint64_t misc_enable = 1;  // fast-strings enabled
  uint64_t spec_ctrl = 0;
  uint64_t mtrr_cap = 0, mtrr_def_type = 0;
  uint64_t mtrr_fixed[11] = {};
  uint64_t mtrr_var[16] = {};  // base/mask pairs for 8 variable ranges
  uint64_t xss = 0;
};

struct X86State {
  tcg::CpuCommon common;  // common.pc = CS.base + RIP (linear)

  uint64_t gpr[kNumGprs] = {};

  // Lazy flags (see the top of the file).
  uint64_t cc_dst = 0, cc_src = 0, cc_src2 = 0;
  uint32_t cc_op = uint32_t(CcOp::Eflags);
  uint32_t pad0 = 0;
  uint64_t eflags = eflags::kFixed1;  // non-arithmetic bits (+ arithmetic ones when CcOp::Eflags)

  SegmentCache seg[kNumSegs];
  DescriptorTableReg gdtr, idtr;

  uint64_t cr0 = cr0::kEt | cr0::kCd | cr0::kNw, cr2 = 0, cr3 = 0, cr4 = 0, cr8 = 0;
  uint64_t efer = 0;
  uint64_t xcr0 = 1;                                       // x87 state always enabled
  uint64_t dr[8] = {0, 0, 0, 0, 0, 0, 0xffff0ff0, 0x400};  // DR4/DR5 alias DR6/DR7

  X87State x87;
  uint32_t mxcsr = 0x1f80;
  uint32_t pad1 = 0;
  YmmReg ymm[16];
  // Scratch vector registers 16 and 17 of the VEX helpers (ymm_offset(16), (17)): a memory or
  // GPR source is loaded into 16, a result bound for memory or a GPR is left in 17.
  YmmReg vex_tmp[2];

  Msrs msr;

  // Interrupt and exception bookkeeping used by helpers and the run loop.
  uint8_t inhibit_irq = 0;  // the next instruction runs in an interrupt shadow
  uint8_t nmi_blocked = 0;  // between NMI delivery and IRET
  uint8_t halted = 0;       // HLT executed, waiting for an interrupt
  uint8_t pad2[5] = {};
  int32_t pending_exception = -1;  // vector being delivered (double-fault detection), or -1

  X86Cpu* owner = nullptr;  // the vCPU, for helpers (added by x86-sys)
};

static_assert(std::is_standard_layout_v<X86State>);
static_assert(offsetof(X86State, common) == 0);
static_assert(offsetof(X86State, vex_tmp) == offsetof(X86State, ymm) + 16 * sizeof(YmmReg));
constexpr unsigned kVexSrcTmp = 16, kVexDstTmp = 17;

/// Byte offsets for GetReg/SetReg.
constexpr uint32_t gpr_offset(unsigned r) {
  return uint32_t(offsetof(X86State, gpr) + 8 * r);
}
/// The legacy high-byte registers AH, CH, DH, BH (byte 1 of RAX..RBX).
constexpr uint32_t high_byte_offset(unsigned r) {
  return gpr_offset(r) + 1;
}
constexpr uint32_t seg_base_offset(unsigned s) {
  return uint32_t(offsetof(X86State, seg) + s * sizeof(SegmentCache) +
                  offsetof(SegmentCache, base));
}
constexpr uint32_t seg_selector_offset(unsigned s) {
  return uint32_t(offsetof(X86State, seg) + s * sizeof(SegmentCache) +
                  offsetof(SegmentCache, selector));
}
constexpr uint32_t ymm_offset(unsigned r, unsigned qword = 0) {
  return uint32_t(offsetof(X86State, ymm) + r * sizeof(YmmReg) + 8 * qword);
}
constexpr uint32_t kCcDstOffset = offsetof(X86State, cc_dst);
constexpr uint32_t kCcSrcOffset = offsetof(X86State, cc_src);
constexpr uint32_t kCcSrc2Offset = offsetof(X86State, cc_src2);
constexpr uint32_t kCcOpOffset = offsetof(X86State, cc_op);
constexpr uint32_t kEflagsOffset = offsetof(X86State, eflags);

inline X86State& state_of(tcg::CpuCommon* c) {
  return *reinterpret_cast<X86State*>(c);
}

}  // namespace orrery::cpu::x86
