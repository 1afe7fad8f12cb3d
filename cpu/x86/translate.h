// The x86 translation context every translator uses: the decoded instruction (Zydis 4), operand
// access at any width, effective addresses, the stack, lazy flags, condition evaluation, block
// ends, helper calls and exceptions.
//
// A translator is `bool fn(TranslateContext&)`, named by a row of insn_table.inc. It returns
// false for an operand form it does not implement, before emitting anything that matters (the
// frontend drops what it emitted, logs the mnemonic under -d unimp and raises #UD). Addresses
// are linear (segment base added) unless a name says "offset"; PCs are linear as
// CpuCommon::pc, EIPs are CS-relative.
#pragma once

#include <Zydis/Zydis.h>

#include <cstdint>
#include <initializer_list>

#include "cpu/x86/injected_bug.h"
#include "cpu/x86/state.h"
#include "tcg/ir/emitter.h"

namespace orrery::cpu::x86 {

class TranslateContext;
using TranslateFn = bool (*)(TranslateContext&);

/// Condition codes in encoding order (the low nibble of Jcc, SETcc and CMOVcc).
enum CondCode : uint8_t {
  kCondO,
  kCondNo,
  kCondB,
  kCondAe,
  kCondE,
  kCondNe,
  kCondBe,
  kCondA,
  kCondS,
  kCondNs,
  kCondP,
  kCondNp,
  kCondL,
  kCondGe,
  kCondLe,
  kCondG
};

/// Runtime helpers the translators share (defined in translate.cpp).
/// raise: fn(cpu, vector | uint32_t(error_code) << 32, insn_pc) -> raise_exception.
extern const tcg::ir::Helper kHelperRaise;
/// compute_eflags of the state (reads cc_* and eflags).
extern const tcg::ir::Helper kHelperReadEflags;

class TranslateContext {
 public:
  using Value = tcg::ir::Value;
  using Type = tcg::ir::Type;

  /// s: the vCPU state at translation time (only its CS base, which is part of the block key,
  /// is baked in).
  TranslateContext(tcg::ir::Emitter& e, const X86State& s, uint64_t tb_flags);

  // ---- The instruction (set by the frontend) ----
  void begin(uint64_t pc, const ZydisDecodedInstruction& insn, const ZydisDecodedOperand* ops);
  const ZydisDecodedInstruction& insn() const { return *insn_; }
  ZydisMnemonic mnemonic() const { return insn_->mnemonic; }
  /// Operand i (visible ones first, then implicit/hidden ones, as Zydis orders them).
  const ZydisDecodedOperand& op(unsigned i) const { return ops_[i]; }
  unsigned num_visible_ops() const { return insn_->operand_count_visible; }
  unsigned num_ops() const { return insn_->operand_count; }
  bool is_reg(unsigned i) const { return ops_[i].type == ZYDIS_OPERAND_TYPE_REGISTER; }
  bool is_mem(unsigned i) const { return ops_[i].type == ZYDIS_OPERAND_TYPE_MEMORY; }
  bool is_imm(unsigned i) const { return ops_[i].type == ZYDIS_OPERAND_TYPE_IMMEDIATE; }
  bool has_lock() const { return insn_->attributes & ZYDIS_ATTRIB_HAS_LOCK; }
  bool has_rep() const {
    return insn_->attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE);
  }
  bool has_repne() const { return insn_->attributes & ZYDIS_ATTRIB_HAS_REPNE; }

  tcg::ir::Emitter& e() { return e_; }
  uint64_t pc() const { return pc_; }            // linear address of the first byte
  uint64_t next_pc() const { return next_pc_; }  // linear address after the instruction
  uint64_t eip() const { return pc_ - cs_base_; }
  uint64_t next_eip() const { return wrap_ip(next_pc_ - cs_base_); }
  uint64_t cs_base() const { return cs_base_; }
  uint64_t tb_flags() const { return flags_; }
  bool code64() const { return flags_ & tb_flags::kCode64; }
  unsigned cpl() const { return unsigned(flags_ & tb_flags::kCplMask); }
  unsigned iopl() const { return unsigned((flags_ & tb_flags::kIoplMask) >> tb_flags::kIoplShift); }
  bool protected_mode() const { return flags_ & tb_flags::kPe; }
  bool vm86() const { return flags_ & tb_flags::kVm86; }
  /// Operand and address sizes in bits (16, 32, 64).
  unsigned op_bits() const { return insn_->operand_width; }
  unsigned addr_bits() const { return insn_->address_width; }
  Type op_type() const { return type_of_bits(op_bits()); }
  /// Stack pointer width in bits (64 in 64-bit mode, else SS.B).
  unsigned stack_bits() const;
  /// The MMU index of data accesses in this mode.
  unsigned mmu_idx() const;
  /// Data accesses of this block raise #AC when misaligned (tb_flags::kAlignCheck).
  bool align_check() const { return (flags_ & tb_flags::kAlignCheck) != 0; }

  static Type type_of_bits(unsigned bits) { return tcg::ir::type_of_bits(bits); }
  Value konst(Type t, uint64_t v) { return e_.konst(t, v); }

  // ---- Registers ----
  /// GPR r (0..15) at width t (I8 is the low byte: AL..R15B).
  Value get_gpr(unsigned r, Type t);
  /// Writes GPR r at v's width: I32 zero-extends to 64 bits, I8/I16 merge.
  void set_gpr(unsigned r, Value v);
  /// A Zydis general-purpose register (AH..BH included) at its own width.
  Value get_reg(ZydisRegister r);
  void set_reg(ZydisRegister r, Value v);
  static bool is_gpr(ZydisRegister r);
  /// Encoding number 0..15 of a GPR (AH..BH: 4..7, as in ModRM).
  static unsigned gpr_num(ZydisRegister r);
  static bool is_high_byte(ZydisRegister r) {
    return r >= ZYDIS_REGISTER_AH && r <= ZYDIS_REGISTER_BH;
  }

  // ---- Memory ----
  /// The effective address (offset in the segment) of memory operand i, wrapped to the
  /// address size, as I64. This is LEA's result.
  Value offset_of(unsigned i);
  /// The linear address of memory operand i (cached per instruction, so a read-modify-write
  /// computes it once).
  Value addr_of(unsigned i);
  /// The linear address of seg:offset: offset wrapped to addr_bits, the segment base added
  /// when the mode needs it (FS/GS always; others outside 64-bit mode), 32-bit wrap outside
  /// 64-bit mode. seg is a SegReg.
  Value linear(unsigned seg, Value offset, unsigned addr_bits);
  Value load(Type t, Value linear_addr, bool sign = false);
  /// checked = false: never alignment-checked (SGDT/SIDT, see store_dtr).
  void store(Value linear_addr, Value v, bool checked = true);

  // ---- Operands ----
  /// Operand i: a register or memory at its own width, an immediate (sign-extended as Zydis
  /// decoded it) at width t (default: operand 0's width).
  Value read(unsigned i, Type t = Type::V);
  /// Writes operand i (register or memory) at v's width.
  void write(unsigned i, Value v);
  /// The width of operand i.
  Type type_of_op(unsigned i) const { return type_of_bits(ops_[i].size); }

  // ---- Stack (SS:rSP at the stack width) ----
  /// Pushes v (its width is the push size).
  void push(Value v);
  /// Pops a value of width t.
  Value pop(Type t);
  /// rSP at the stack width, zero-extended to I64.
  Value get_sp();
  void set_sp(Value v64);  // writes rSP at the stack width
  /// The linear address of SS:offset (offset I64, wrapped to the stack width).
  Value stack_addr(Value offset);

  // ---- Lazy flags ----
  /// Records a flag-setting result: op is the B form of a group (CcOp::AddB...), t the width.
  /// dst/src/src2 are of any integer width (zero-extended to 64 bits when stored).
  void set_cc(CcOp group, Type t, Value dst, Value src, Value src2 = {});
  /// Evaluates condition cc (0..15) as I1, without computing EFLAGS when the cc_op is known.
  Value cond(unsigned cc);
  /// CF as I1.
  Value get_cf();
  /// The full EFLAGS value (I64).
  Value get_eflags();
  /// Replaces the arithmetic flags by those of v (I64; other bits ignored) and sets
  /// cc_op = Eflags. Non-arithmetic bits of `eflags` are left alone.
  void set_arith_flags(Value v);
  /// After a helper call that changed cc_op or EFLAGS: forget the statically known cc_op.
  void cc_unknown() { cc_ = CcTrack{}; }
  /// Makes `eflags` hold the arithmetic flags too (cc_op = Eflags), e.g. before a helper that
  /// reads X86State::eflags directly.
  void flush_flags();

  // ---- Block ends ----
  bool ended() const { return ended_; }
  /// Direct jump to a CS-relative EIP (wrapped to the operand size outside 64-bit mode).
  void jump_eip(uint64_t eip);
  /// Conditional: taken/not-taken are CS-relative EIPs.
  void branch_eip(Value cond, uint64_t taken_eip, uint64_t not_taken_eip);
  /// Jump to a computed EIP (I64; wrapped to the operand size outside 64-bit mode).
  void jump_indirect_eip(Value eip);
  /// Ends the block after this instruction with a fresh lookup (mode or tb_flags changed).
  void exit_to_next() {
    e_.exit(tcg::ir::ExitReason::Lookup, next_pc_);
    ended_ = true;
  }
  /// Ends the block after this instruction and returns to the vCPU's loop, which looks at
  /// EFLAGS.TF (single-step) and IF (pending interrupts) before running on.
  void exit_to_cpu_loop() {
    e_.exit(tcg::ir::ExitReason::Exception, next_pc_);
    ended_ = true;
  }
  /// Ends the block after this instruction with a plain jump (the next block is looked up).
  void end_at_next() { jump_linear(next_pc_); }
  void jump_linear(uint64_t pc) {
    e_.jump(pc);
    ended_ = true;
  }
  /// Ends the block with a terminal the caller set (e.g. an exit after a helper wrote the PC).
  void mark_ended() { ended_ = true; }
  /// Leaves with the PC a helper wrote (ExitReason::Lookup).
  void exit_pc_in_state() {
    e_.exit_pc_in_state(tcg::ir::ExitReason::Lookup);
    ended_ = true;
  }

  // ---- Helpers and exceptions ----
  Value call(const tcg::ir::Helper& h, std::initializer_list<Value> args = {}) {
    return e_.call(h, args);
  }
  /// Raises exception `vector` at this instruction and ends the block.
  void raise(unsigned vector, int32_t error_code = -1);
  /// Raises exception `vector` at this instruction when cond (I1) holds.
  void raise_if(Value cond, unsigned vector, int32_t error_code = -1);
  /// Raises #GP(0) and ends the block: for privilege checks; returns true so a translator can
  /// `return t.gp0();`.
  bool gp0() {
    raise(13, 0);
    return true;
  }
  /// Raises #UD and ends the block (returns true: the instruction was handled).
  bool ud() {
    raise(6);
    return true;
  }
  /// This operand form is not implemented: the frontend logs it and raises #UD.
  bool unimplemented() { return false; }

  // ---- Small IR helpers ----
  Value zext64(Value v) { return e_.zext(Type::I64, v); }
  Value i1_not(Value v) { return e_.xor_(v, e_.c1(true)); }
  Value i1_or(Value a, Value b) { return e_.or_(a, b); }
  Value i1_and(Value a, Value b) { return e_.and_(a, b); }
  /// The sign bit of v as I1.
  Value sign_of(Value v);
  /// Even parity of v's low byte as I1.
  Value parity_even(Value v);

  /// Saved and restored by the frontend around a rejected instruction.
  struct CcTrack {
    bool known = false;
    CcOp op = CcOp::Eflags;  // the full cc_op (with width)
    Type type = Type::V;
    Value dst, src, src2;
  };
  const CcTrack& cc_state() const { return cc_; }

  InjectedBug injected_bug() const { return injected_bug_; }
  void set_injected_bug(InjectedBug b) { injected_bug_ = b; }
  void restore_cc_state(const CcTrack& c) { cc_ = c; }

 private:
  uint64_t wrap_ip(uint64_t ip) const;
  Value arith_flags_now();     // the 6 arithmetic flags as I64 in EFLAGS positions
  Value arith_flags_inline();  // the same for a known, non-Eflags cc_op
  Value seg_base(unsigned seg);

  tcg::ir::Emitter& e_;
  uint64_t flags_;
  uint64_t cs_base_;
  uint64_t pc_ = 0, next_pc_ = 0;
  const ZydisDecodedInstruction* insn_ = nullptr;
  const ZydisDecodedOperand* ops_ = nullptr;
  Value addr_cache_[ZYDIS_MAX_OPERAND_COUNT];
  bool ended_ = false;
  CcTrack cc_;
  InjectedBug injected_bug_ = InjectedBug::kNone;
};

}  // namespace orrery::cpu::x86
