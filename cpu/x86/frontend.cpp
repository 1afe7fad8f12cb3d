#include "cpu/x86/frontend.h"

#include "cpu/x86/host_features.h"

#include <capstone/capstone.h>

#include "cpu/x86/exception.h"
#include "cpu/x86/host_features.h"
#include "cpu/x86/state.h"
#include "cpu/x86/translate_system.h"
#include "cpu/x86/translators.h"

namespace orrery::cpu::x86 {

using tcg::ir::ExitReason;

namespace {

constexpr X86Frontend::Row kRows[] = {
#define X86_INSN(mnemonic, form, fn) \
  {ZYDIS_MNEMONIC_##mnemonic, X86Frontend::Form::form, fn, #mnemonic},
#include "cpu/x86/insn_table.inc"
#undef X86_INSN
};

bool has_reg_class(const ZydisDecodedInstruction& insn, const ZydisDecodedOperand* ops,
                   ZydisRegisterClass c) {
  for (unsigned i = 0; i < insn.operand_count_visible; ++i)
    if (ops[i].type == ZYDIS_OPERAND_TYPE_REGISTER && ZydisRegisterGetClass(ops[i].reg.value) == c)
      return true;
  return false;
}

constexpr unsigned kMaxInsnBytes = 15;

}  // namespace

X86Frontend::X86Frontend(hw::Log& log) : log_(log), rows_(ZYDIS_MNEMONIC_MAX_VALUE + 1) {
  for (const Row& r : kRows) rows_[r.mnemonic].push_back(r);
  csh h = 0;
  if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) == CS_ERR_OK) capstone_ = h;
}

X86Frontend::~X86Frontend() {
  if (capstone_) {
    csh h = capstone_;
    cs_close(&h);
  }
}

TranslateFn X86Frontend::lookup(const ZydisDecodedInstruction& insn,
                                const ZydisDecodedOperand* ops) const {
  if (size_t(insn.mnemonic) >= rows_.size()) return nullptr;
  for (const Row& r : rows_[insn.mnemonic]) {
    switch (r.form) {
      case Form::Any:
        return r.fn;
      case Form::Cr:
        if (has_reg_class(insn, ops, ZYDIS_REGCLASS_CONTROL)) return r.fn;
        break;
      case Form::Dr:
        if (has_reg_class(insn, ops, ZYDIS_REGCLASS_DEBUG)) return r.fn;
        break;
      case Form::Sreg:
        if (has_reg_class(insn, ops, ZYDIS_REGCLASS_SEGMENT)) return r.fn;
        break;
      case Form::Far:
        if (insn.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR) return r.fn;
        break;
      case Form::Xmm:
        if (has_reg_class(insn, ops, ZYDIS_REGCLASS_XMM)) return r.fn;
        break;
    }
  }
  return nullptr;
}

void X86Frontend::log_unimplemented(uint64_t pc, const ZydisDecodedInstruction& insn) {
  if (!log_.enabled(hw::kLogUnimp)) return;
  {
    std::lock_guard<std::mutex> lock(unimp_mu_);
    if (!unimp_logged_.insert({pc, int(insn.mnemonic)}).second) return;
  }
  log_.log(hw::kLogUnimp, "x86: unimplemented instruction %s at 0x%016llx\n",
           ZydisMnemonicGetString(insn.mnemonic), (unsigned long long)pc);
}

void X86Frontend::translate(tcg::CpuCommon& cpu, const tcg::exec::CodeReader& code,
                            const tcg::exec::TranslateOptions& opt, tcg::ir::Block& b) {
  tcg::ir::Emitter e(b);
  const uint64_t flags = cpu.tb_flags;
  TranslateContext t(e, state_of(&cpu), flags);
  t.set_injected_bug(injected_bug_);

  ZydisDecoder dec;
  if (flags & tb_flags::kCode64) {
    ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  } else {
    const bool lma = flags & tb_flags::kLma;
    const bool code32 = flags & tb_flags::kCode32;
    const ZydisMachineMode mode =
        code32 ? (lma ? ZYDIS_MACHINE_MODE_LONG_COMPAT_32 : ZYDIS_MACHINE_MODE_LEGACY_32)
               : (lma ? ZYDIS_MACHINE_MODE_LONG_COMPAT_16
                  : (flags & tb_flags::kPe) && !(flags & tb_flags::kVm86)
                      ? ZYDIS_MACHINE_MODE_LEGACY_16
                      : ZYDIS_MACHINE_MODE_REAL_16);
    ZydisDecoderInit(&dec, mode,
                     (flags & tb_flags::kStack32) ? ZYDIS_STACK_WIDTH_32 : ZYDIS_STACK_WIDTH_16);
  }

  uint64_t pc = b.guest_pc;
  // In an interrupt shadow (after STI, MOV SS) one instruction runs, then the vCPU loop takes
  // what is pending: the block is that instruction alone and returns to the loop. It is an
  // ordinary cached block (the shadow is part of tb_flags), where a debugger-style single step
  // would translate it again each time (the kernel's every STI).
  const bool shadow = flags & tb_flags::kInhibitIrq;
  const unsigned max_insns = shadow ? 1 : opt.max_insns ? opt.max_insns : 1;
  ZydisDecodedInstruction insn;
  ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
  for (unsigned n = 0;; ++n) {
    if (n == max_insns) {
      e.jump(pc);
      break;
    }
    if (opt.stop_before && opt.stop_before(pc)) {  // a debugger breakpoint (tcg/exec/debug.h)
      n == 0 ? e.exit(ExitReason::Breakpoint, pc, tcg::exec::kDebugBreakpointArg) : e.jump(pc);
      break;
    }
    uint8_t bytes[kMaxInsnBytes];
    unsigned avail = unsigned(code.copy(pc, bytes, kMaxInsnBytes));
    ZyanStatus st = ZydisDecoderDecodeFull(&dec, bytes, avail, &insn, ops);
    if (!ZYAN_SUCCESS(st) && st == ZYDIS_STATUS_NO_MORE_DATA && avail < kMaxInsnBytes) {
      // The instruction continues on the next page: ask for it (two-page blocks).
      if (code.extend()) {
        avail = unsigned(code.copy(pc, bytes, kMaxInsnBytes));
        st = ZydisDecoderDecodeFull(&dec, bytes, avail, &insn, ops);
      }
      if (!ZYAN_SUCCESS(st) && st == ZYDIS_STATUS_NO_MORE_DATA && avail < kMaxInsnBytes) {
        // The next page cannot be fetched: the block ends before the instruction, or, when
        // it is the first, the engine raises the fetch fault at its start.
        n == 0 ? e.exit(ExitReason::FetchFault, pc) : e.jump(pc);
        break;
      }
    }
    e.insn_start(pc);
    if (!ZYAN_SUCCESS(st)) {  // an invalid encoding: #UD, not logged
      insn = ZydisDecodedInstruction{};
      insn.length = 1;
      t.begin(pc, insn, ops);
      t.raise(vec::kUd);
      pc += 1;
      break;
    }
    const size_t mark = b.insts.size();
    const TranslateContext::CcTrack cc = t.cc_state();
    t.begin(pc, insn, ops);
    TranslateFn fn = host_can_run(insn.meta.isa_ext) ? lookup(insn, ops) : nullptr;
    if (!fn || !fn(t)) {
      b.insts.resize(mark);  // drop whatever the rejected instruction emitted
      t.restore_cc_state(cc);
      log_unimplemented(pc, insn);
      t.raise(vec::kUd);
      pc += insn.length;
      break;
    }
    pc += insn.length;
    if (!(flags & tb_flags::kCode64)) pc &= 0xffffffff;
    if (t.ended()) break;
  }
  b.guest_size = uint32_t(pc - b.guest_pc);
  if (shadow) return_to_cpu_loop(e, b);
}

// Turns the terminal into an exit to the vCPU loop at the same next PC (ExitReason::Exception,
// which the loop treats as "look again"; Lookup would stay in the dispatcher).
void X86Frontend::return_to_cpu_loop(tcg::ir::Emitter& e, tcg::ir::Block& b) {
  using Kind = tcg::ir::Terminal::Kind;
  const tcg::ir::Terminal term = b.term;
  constexpr uint32_t kPc = offsetof(tcg::CpuCommon, pc);
  switch (term.kind) {
    case Kind::Jump:
      e.exit(ExitReason::Exception, term.target);
      break;
    case Kind::Branch:
      e.set_reg(kPc, e.select(term.cond, e.c64(term.target), e.c64(term.target2)));
      e.exit_pc_in_state(ExitReason::Exception);
      break;
    case Kind::Indirect:
      e.set_reg(kPc, term.value);
      e.exit_pc_in_state(ExitReason::Exception);
      break;
    case Kind::Exit:
      if (term.reason == ExitReason::Lookup) b.term.reason = ExitReason::Exception;
      break;
    case Kind::None:
      break;
  }
}

uint64_t X86Frontend::cs_base(const tcg::CpuCommon& cpu) const {
  if (cpu.tb_flags & tb_flags::kCode64) return 0;
  return reinterpret_cast<const X86State&>(cpu).seg[kCs].base;
}

bool X86Frontend::host_can_run(unsigned isa_ext) {
  const HostSimd& h = host_simd();
  switch (isa_ext) {
    case ZYDIS_ISA_EXT_SSE3:
      return h.sse3;
    case ZYDIS_ISA_EXT_SSSE3:
      return h.ssse3;
    case ZYDIS_ISA_EXT_SSE4:
      return h.sse41 && h.sse42;
    case ZYDIS_ISA_EXT_AES:
      return h.aes;
    case ZYDIS_ISA_EXT_PCLMULQDQ:
      return h.pclmul;
    case ZYDIS_ISA_EXT_SHA:
      return h.sha;
    case ZYDIS_ISA_EXT_AVX:
      return h.avx && h.sse42;
    case ZYDIS_ISA_EXT_AVX2:
    case ZYDIS_ISA_EXT_AVX2GATHER:
      return h.avx2 && h.sse42;
    case ZYDIS_ISA_EXT_FMA:
      return h.fma && h.avx;
    case ZYDIS_ISA_EXT_F16C:
      return h.f16c && h.avx;
    case ZYDIS_ISA_EXT_AVXAES:
      return h.avx && h.aes && h.pclmul;
    // EVEX (AVX-512), XOP, FMA4, VAES/VPCLMULQDQ on YMM: not implemented.
    case ZYDIS_ISA_EXT_AVX512EVEX:
    case ZYDIS_ISA_EXT_AVX512VEX:
    case ZYDIS_ISA_EXT_AVX_VNNI:
    case ZYDIS_ISA_EXT_VAES:
    case ZYDIS_ISA_EXT_VPCLMULQDQ:
    case ZYDIS_ISA_EXT_XOP:
    case ZYDIS_ISA_EXT_FMA4:
    case ZYDIS_ISA_EXT_GFNI:
      return false;
    default:
      return true;
  }
}

unsigned X86Frontend::fetch_mmu_idx(const tcg::CpuCommon& cpu) const {
  return (cpu.tb_flags & tb_flags::kCplMask) == 3 ? kMmuIdxUser : kMmuIdxKernel;
}

uint64_t X86Frontend::compute_tb_flags(const tcg::CpuCommon& cpu) const {
  const X86State& s = state_of(const_cast<tcg::CpuCommon*>(&cpu));
  uint64_t f = 0;
  const bool pe = s.cr0 & cr0::kPe;
  const bool vm = pe && (s.eflags & eflags::kVm);
  const unsigned cpl = !pe ? 0 : vm ? 3 : (s.seg[kCs].selector & 3);
  f |= cpl << tb_flags::kCplShift;
  const bool lma = s.efer & efer::kLma;
  const uint16_t cs_attr = s.seg[kCs].attr;
  if (lma && (cs_attr & seg_attr::kL)) {
    f |= tb_flags::kCode64;
  } else if (pe && !vm && (cs_attr & seg_attr::kDb)) {
    f |= tb_flags::kCode32;
  }
  // SS.B is ignored in 64-bit code: keeping it there split every Linux kernel block in two
  // (SYSCALL loads a flat SS, an interrupt a null one).
  if (pe && !vm && !(f & tb_flags::kCode64) && (s.seg[kSs].attr & seg_attr::kDb))
    f |= tb_flags::kStack32;
  if (pe) f |= tb_flags::kPe;
  if (vm) f |= tb_flags::kVm86;
  if (lma) f |= tb_flags::kLma;
  f |= ((s.eflags & eflags::kIoplMask) >> eflags::kIoplShift) << tb_flags::kIoplShift;
  if (s.eflags & eflags::kTf) f |= tb_flags::kTf;
  if (s.cr0 & (cr0::kEm | cr0::kTs)) f |= tb_flags::kFpuTrap;
  if (s.cr0 & cr0::kEm) f |= tb_flags::kCr0Em;
  if (s.cr0 & cr0::kTs) f |= tb_flags::kCr0Ts;
  if (s.cr0 & cr0::kMp) f |= tb_flags::kCr0Mp;
  if (s.cr4 & cr4::kOsfxsr) f |= tb_flags::kOsfxsr;
  if (s.cr4 & cr4::kOsxsave) f |= tb_flags::kOsxsave;
  if ((s.xcr0 & 6) == 6) f |= tb_flags::kAvxEnabled;
  if (s.inhibit_irq) f |= tb_flags::kInhibitIrq;
  if (!(f & tb_flags::kCode64) && (s.seg[kDs].base | s.seg[kEs].base | s.seg[kSs].base))
    f |= tb_flags::kAddSeg;
  if ((s.cr4 & cr4::kSmap) && cpl < 3) f |= tb_flags::kSmap;
  if (s.eflags & eflags::kAc) f |= tb_flags::kAc;
  if (s.cr4 & cr4::kUmip) f |= tb_flags::kUmip;
  if (s.cr4 & cr4::kTsd) f |= tb_flags::kTsd;
  if (cpl == 3 && pe && (s.cr0 & cr0::kAm) && (s.eflags & eflags::kAc)) f |= tb_flags::kAlignCheck;
  if (s.cr4 & cr4::kVme) f |= tb_flags::kVme;
  if (s.cr4 & cr4::kPvi) f |= tb_flags::kPvi;
  if ((s.mxcsr & ~0x3fu) == 0x1f80) f |= tb_flags::kMxcsrDefault;
  return f;
}

std::string X86Frontend::disassemble(uint64_t pc, const uint8_t* bytes, size_t len) const {
  if (!capstone_) return {};
  // The mode of the block is not passed here; 64-bit is the common case.
  cs_insn* insn = nullptr;
  size_t count = cs_disasm(capstone_, bytes, len, pc, 1, &insn);
  if (count == 0) return "(bad)";
  std::string out = insn[0].mnemonic;
  if (insn[0].op_str[0]) {
    out += ' ';
    out += insn[0].op_str;
  }
  cs_free(insn, count);
  return out;
}

}  // namespace orrery::cpu::x86
