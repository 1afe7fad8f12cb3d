#include "cpu/arm64/frontend.h"

#include <capstone/capstone.h>

#include "cpu/arm64/cpu.h"
#include "cpu/arm64/debug.h"
#include "cpu/arm64/decoder.h"
#include "cpu/arm64/exception.h"
#include "cpu/arm64/helpers.h"
#include "cpu/arm64/mte.h"
#include "cpu/arm64/pmu.h"
#include "cpu/arm64/state.h"
#include "cpu/arm64/translate.h"

namespace orrery::cpu::arm64 {

using tcg::ir::ExitReason;

Arm64Frontend::Arm64Frontend(hw::Log& log) : log_(log) {
  csh h = 0;
  if (cs_open(CS_ARCH_ARM64, CS_MODE_ARM, &h) == CS_ERR_OK) capstone_ = h;
}

Arm64Frontend::~Arm64Frontend() {
  if (capstone_) {
    csh h = capstone_;
    cs_close(&h);
  }
}

namespace {
// Whether the first branch at or after `from` (within the code available) is a direct branch
// back to `start`: the block from start would then loop on itself.
bool loops_back_from(const tcg::exec::CodeReader& code, uint64_t from, uint64_t start) {
  for (uint64_t pc = from;; pc += 4) {
    const std::optional<uint32_t> insn = code.read<uint32_t>(pc);
    if (!insn) return false;
    const std::optional<InsnId> id = decode(*insn);
    switch (id.value_or(InsnId::kCount)) {
      case InsnId::B:
      case InsnId::B_cond:
      case InsnId::CBZ:
      case InsnId::CBNZ:
      case InsnId::TBZ:
      case InsnId::TBNZ: {  // the offset is field i, in words
        const int64_t offset = sext(field(*insn, *id, 'i'), field_width(*id, 'i'));
        return pc + uint64_t(offset * 4) == start;
      }
      default:
        // Any other branch, exception or system instruction (A64's op0 group 101x).
        if (((*insn >> 26) & 7) == 5) return false;
    }
  }
}
}  // namespace

void Arm64Frontend::translate(tcg::CpuCommon& cpu, const tcg::exec::CodeReader& code,
                              const tcg::exec::TranslateOptions& opt, tcg::ir::Block& b) {
  tcg::ir::Emitter e(b);
  Translator tr(e, cpu.tb_flags);
  tr.set_id_isar0(state_of(cpu).id_aa64isar0_el1);
  tr.set_id_pfr0(state_of(cpu).id_aa64pfr0_el1);
  tr.set_id_pfr1(state_of(cpu).id_aa64pfr1_el1);
  uint64_t pc = b.guest_pc;
  // Every PC-derived value below is a PcRel, an InsnStart or a terminal's PC, and the only
  // decisions on the PC are on its low bits: the block runs at any address with the same page
  // offset. Breakpoints (the debugger's, the guest's) are decisions on the whole PC.
  b.pc_relative = !opt.stop_before && !(cpu.tb_flags & tb_flags::kBkpt);

  if ((pc & 3) || (cpu.tb_flags & tb_flags::kIllegal)) {
    // A PC alignment fault (FAR = the PC), or PSTATE.IL after an illegal exception return.
    e.insn_start(pc);
    const bool align = pc & 3;
    const uint32_t esr = make_esr(align ? ec::kPcAlignment : ec::kIllegalState);
    e.call(kHelperException,
           {e.c64(esr | (align ? kExceptionFarValid : 0)), e.pc_rel(pc), e.pc_rel(pc)});
    e.exit_pc_in_state(ExitReason::Exception);
    b.guest_size = 4;
    return;
  }

  const uint64_t flags = cpu.tb_flags;
  if (flags & tb_flags::kSsPending) {
    // Software step, active-pending (Arm ARM D2.12): the step exception comes before any
    // instruction (the state after an ERET with SPSR.SS = 0, or an MDSCR_EL1.SS write).
    e.insn_start(pc);
    e.call(kHelperStepDone, {e.pc_rel(pc)});
    e.exit_pc_in_state(ExitReason::Lookup);
    b.guest_size = 4;
    return;
  }
  const Arm64State& st = state_of(cpu);
  unsigned max_insns = opt.max_insns ? opt.max_insns : 1;
  if (flags & tb_flags::kSs) max_insns = 1;  // software step: one instruction, then the step
  for (unsigned n = 0;; ++n) {
    if (n == max_insns) {
      e.jump(pc);
      break;
    }
    if (opt.stop_before && opt.stop_before(pc)) {  // a debugger breakpoint (tcg/exec/debug.h)
      n == 0 ? e.exit(ExitReason::Breakpoint, pc, tcg::exec::kDebugBreakpointArg) : e.jump(pc);
      break;
    }
    if ((flags & tb_flags::kBkpt) && breakpoint_at(st, pc)) {  // a guest hardware breakpoint
      if (n != 0) {
        e.jump(pc);
        break;
      }
      e.insn_start(pc);
      const uint32_t ec_value = st.el == 0 ? ec::kBreakpointLower : ec::kBreakpointSame;
      e.call(kHelperException,
             {e.c64(make_esr(ec_value, kDebugFaultStatus)), e.pc_rel(pc), e.c64(0)});
      e.exit_pc_in_state(ExitReason::Exception);
      pc += 4;
      break;
    }
    std::optional<uint32_t> insn = code.read<uint32_t>(pc);
    // At its page's end a block that loops on itself runs on into the next page (when that
    // page can be fetched without a fault), so a loop across a page boundary is one block that
    // links to itself (tcg/exec/engine.cpp links a two-page block only to itself). Any other
    // block stops there: as a one-page block it stays a target other blocks link to, and the
    // next block's fetch raises whatever fault there is.
    if (!insn && code.extend()) {
      if (loops_back_from(code, pc, b.guest_pc))
        insn = code.read<uint32_t>(pc);
      else
        code.unextend();
    }
    if (!insn) {
      e.jump(pc);
      break;
    }
    e.insn_start(pc);
    const size_t mark = b.insts.size();
    const bool pmu_first = (flags & tb_flags::kPmu) && is_exception_generating(*insn);
    if (pmu_first) emit_pmu_count(e, st.el, *insn, 0);
    tr.begin(pc, *insn);
    std::optional<InsnId> id = decode(*insn);
    if (!id || !dispatch(tr, *id, *insn)) {
      b.insts.resize(mark);  // drop whatever the rejected instruction emitted
      // Encodings the architecture leaves unallocated (or UNDEFINED in this configuration)
      // raise UNDEFINED here. Allocated encodings this CPU does not implement end the block
      // with an Undefined exit at their PC: Arm64Cpu::run raises UNDEFINED for them too (the
      // model does not advertise their features) or, with -accel tcg,unimp=stop, stops.
      // Unimplemented ones are logged when they execute, once per encoding and PC.
      bool undefined;
      if (!id) {
        undefined = is_unallocated_space(*insn);
        if (undefined)
          log_.log(hw::kLogUnimp, "arm64: unallocated encoding 0x%08x at PC 0x%016llx\n", *insn,
                   (unsigned long long)pc);
      } else if (tr.why().empty()) {
        undefined = true;
        log_.log(hw::kLogUnimp, "arm64: unallocated encoding 0x%08x (%s) at PC 0x%016llx\n", *insn,
                 decode_row(*id).desc, (unsigned long long)pc);
      } else {
        undefined = tr.why_is_undefined();
        if (undefined)
          log_.log(hw::kLogUnimp, "arm64: UNDEFINED: %s (0x%08x at PC 0x%016llx)\n",
                   tr.why().c_str(), *insn, (unsigned long long)pc);
      }
      if (undefined) {
        e.call(kHelperException, {e.c64(make_esr(ec::kUnknown)), e.pc_rel(pc), e.c64(0)});
        e.exit_pc_in_state(ExitReason::Exception);
      } else {
        e.exit(ExitReason::Undefined, pc, *insn);
      }
      pc += 4;
      break;
    }
    if ((flags & tb_flags::kPmu) && !pmu_first) {
      unsigned mem_ops = 0;
      for (size_t i = mark; i < b.insts.size(); ++i) {
        const tcg::ir::Opcode op = b.insts[i].op;
        mem_ops += op == tcg::ir::Opcode::Load || op == tcg::ir::Opcode::Store ||
                   op == tcg::ir::Opcode::AtomicRmw || op == tcg::ir::Opcode::AtomicCmpxchg;
      }
      emit_pmu_count(e, st.el, *insn, mem_ops);
    }
    pc += 4;
    if (tr.ended()) break;
  }
  b.guest_size = uint32_t(pc - b.guest_pc);
  if (flags & tb_flags::kPmu) e.call(kHelperPmuTick);  // overflow interrupts
  if (flags & tb_flags::kSs) end_stepped_block(e, b);
}

void Arm64Frontend::end_stepped_block(tcg::ir::Emitter& e, tcg::ir::Block& b) {
  // The stepped instruction completed: PSTATE.SS = 0 and the step exception before the next
  // one. Instructions that took an exception (their entry set SPSR.SS), returned from one
  // (ERET sets PSTATE.SS from SPSR.SS) or leave to the board keep their ending.
  using Kind = tcg::ir::Terminal::Kind;
  const tcg::ir::Terminal t = b.term;
  tcg::ir::Value next;
  switch (t.kind) {
    case Kind::Jump:
      next = e.pc_rel(t.target);
      break;
    case Kind::Branch:
      next = e.select(t.cond, e.pc_rel(t.target), e.pc_rel(t.target2));
      break;
    case Kind::Indirect:
      next = t.value;
      break;
    case Kind::Exit:
      // WFI/WFE complete at once while stepping (they may, architecturally).
      if (t.pc_in_state || (t.reason != ExitReason::Lookup && t.reason != ExitReason::Halt)) return;
      next = e.pc_rel(t.target);
      break;
    case Kind::None:
      return;
  }
  e.call(kHelperStepDone, {next});
  b.term = tcg::ir::Terminal{};
  e.exit_pc_in_state(ExitReason::Lookup);
}

bool Arm64Frontend::is_unallocated_space(uint32_t insn) {
  // A64 top-level groups (op0 = bits 28:25): 0000 reserved (UDF), 0001 and 0011 unallocated,
  // 0010 SVE (not implemented by any model here, so UNDEFINED). In the branch, exception and
  // system group (x101) every allocated ARMv8.0 encoding that EL0/EL1 can execute has a decode
  // row; the others (SMC without EL3, DCPS*, DRPS, HLT, SYSL) are UNDEFINED here.
  const unsigned op0 = (insn >> 25) & 0xf;
  return op0 <= 3 || (op0 & 0xe) == 0xa;
}

unsigned Arm64Frontend::fetch_mmu_idx(const tcg::CpuCommon& cpu) const {
  return state_of(cpu).el == 0 ? kMmuIdxEl0 : kMmuIdxEl1;
}

uint64_t Arm64Frontend::compute_tb_flags(const tcg::CpuCommon& cpu) const {
  const Arm64State& s = state_of(cpu);
  uint64_t f = uint64_t(s.el & tb_flags::kElMask) << tb_flags::kElShift;
  if (s.el != 0 && s.spsel) f |= tb_flags::kSpSel;        // SPSel has no effect at EL0
  const unsigned fpen = unsigned(s.cpacr_el1 >> 20) & 3;  // 01: EL1 only, 11: EL0 and EL1
  if (fpen == 3 || (fpen == 1 && s.el != 0)) f |= tb_flags::kFpEnabled;
  if (s.il) f |= tb_flags::kIllegal;
  if (s.sctlr_el1 & (s.el == 0 ? sctlr::kSa0 : sctlr::kSa)) f |= tb_flags::kSpAlign;
  if (s.el == 0) {
    const uint64_t sc = s.sctlr_el1, k = s.cntkctl_el1;
    if (sc & sctlr::kUct) f |= tb_flags::kEl0Uct;
    if (sc & sctlr::kDze) f |= tb_flags::kEl0Dze;
    if (sc & sctlr::kUci) f |= tb_flags::kEl0Uci;
    if (sc & sctlr::kUma) f |= tb_flags::kEl0Uma;
    if (k & 1) f |= tb_flags::kEl0Pcten;
    if (k & 2) f |= tb_flags::kEl0Vcten;
    if (k & (1u << 8)) f |= tb_flags::kEl0Vten;
    if (k & (1u << 9)) f |= tb_flags::kEl0Pten;
  } else {
    // EL1 never traps these; DZE also gates DCZID_EL0.DZP only at EL0.
    f |= tb_flags::kEl0Uct | tb_flags::kEl0Dze | tb_flags::kEl0Uci | tb_flags::kEl0Uma;
  }
  if (s.owner && s.owner->gic_cpu_interface()) f |= tb_flags::kGicSysregs;
  f |= debug_tb_flags(s);
  f |= pmu_tb_flags(s);
  f |= mte_tb_flags(s);
  return f;
}

uint64_t Arm64Frontend::cs_base(const tcg::CpuCommon& cpu) const {
  const Arm64State& s = state_of(cpu);
  return (cpu.tb_flags & tb_flags::kBkpt) ? s.dbg.bkpt_key : 0;
}

std::string Arm64Frontend::disassemble(uint64_t pc, const uint8_t* bytes, size_t len) const {
  if (!capstone_) return {};
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

}  // namespace orrery::cpu::arm64
