// Emitter: the typed builder frontends use to append IR to a Block.
#pragma once

#include <cassert>

#include "tcg/ir/helpers.h"
#include "tcg/ir/ir.h"
#include "tcg/ir/vec_eval.h"

namespace orrery::tcg::ir {

class Emitter {
 public:
  explicit Emitter(Block& b) : b_(b) {}

  Block& block() { return b_; }
  Type type_of(Value v) const { return b_.type_of(v); }

  Value konst(Type t, uint64_t v) { return emit(Opcode::Const, t, {}, v & mask(t)); }
  Value c64(uint64_t v) { return konst(Type::I64, v); }
  Value c32(uint64_t v) { return konst(Type::I32, v); }
  Value c1(bool v) { return konst(Type::I1, v); }
  /// A value derived from the guest PC (ir::Opcode::PcRel): PC-relative in stored code.
  Value pc_rel(uint64_t v) { return emit(Opcode::PcRel, Type::I64, {}, v); }

  Value get_reg(Type t, uint32_t offset) { return emit(Opcode::GetReg, t, {}, offset); }
  void set_reg(uint32_t offset, Value v) { emit(Opcode::SetReg, type_of(v), {v}, offset); }

  Value add(Value a, Value b) { return bin(Opcode::Add, a, b); }
  Value sub(Value a, Value b) { return bin(Opcode::Sub, a, b); }
  Value mul(Value a, Value b) { return bin(Opcode::Mul, a, b); }
  Value mulhu(Value a, Value b) { return bin(Opcode::MulHiU, a, b); }
  Value mulhs(Value a, Value b) { return bin(Opcode::MulHiS, a, b); }
  Value divu(Value a, Value b) { return bin(Opcode::DivU, a, b); }
  Value divs(Value a, Value b) { return bin(Opcode::DivS, a, b); }
  Value and_(Value a, Value b) { return bin(Opcode::And, a, b); }
  Value or_(Value a, Value b) { return bin(Opcode::Or, a, b); }
  Value xor_(Value a, Value b) { return bin(Opcode::Xor, a, b); }
  Value shl(Value a, Value b) { return bin(Opcode::Shl, a, b); }
  Value lshr(Value a, Value b) { return bin(Opcode::Lshr, a, b); }
  Value ashr(Value a, Value b) { return bin(Opcode::Ashr, a, b); }
  Value rotr(Value a, Value b) { return bin(Opcode::Rotr, a, b); }
  Value not_(Value a) { return un(Opcode::Not, a); }
  Value neg(Value a) { return un(Opcode::Neg, a); }
  Value clz(Value a) { return un(Opcode::Clz, a); }
  Value ctz(Value a) { return un(Opcode::Ctz, a); }
  Value popcnt(Value a) { return un(Opcode::Popcnt, a); }
  Value bswap(Value a) { return un(Opcode::Bswap, a); }
  Value bitrev(Value a) { return un(Opcode::Bitrev, a); }

  Value addc(Value a, Value b, Value cin) { return emit(Opcode::AddC, type_of(a), {a, b, cin}); }
  Value add_carry(Value a, Value b, Value cin) {
    return emit(Opcode::AddCarry, Type::I1, {a, b, cin}, 0, 0, type_of(a));
  }
  Value add_ovf(Value a, Value b, Value cin) {
    return emit(Opcode::AddOvf, Type::I1, {a, b, cin}, 0, 0, type_of(a));
  }

  Value zext(Type t, Value a) { return type_of(a) == t ? a : emit(Opcode::ZExt, t, {a}); }
  Value sext(Type t, Value a) { return type_of(a) == t ? a : emit(Opcode::SExt, t, {a}); }
  Value trunc(Type t, Value a) { return type_of(a) == t ? a : emit(Opcode::Trunc, t, {a}); }
  Value extract_u(Value a, unsigned pos, unsigned len) {
    return emit(Opcode::ExtractU, type_of(a), {a}, pos, len);
  }
  Value extract_s(Value a, unsigned pos, unsigned len) {
    return emit(Opcode::ExtractS, type_of(a), {a}, pos, len);
  }
  Value deposit(Value base, Value field, unsigned pos, unsigned len) {
    return emit(Opcode::Deposit, type_of(base), {base, field}, pos, len);
  }

  Value cmp(Cond c, Value a, Value b) {
    return emit(Opcode::Cmp, Type::I1, {a, b}, uint64_t(c), 0, type_of(a));
  }
  Value select(Value c, Value a, Value b) { return emit(Opcode::Select, type_of(a), {c, a, b}); }

  // Vectors (I128, I256). vec_op works at the width of its operand a.
  Value vec_build(Value lo, Value hi) { return emit(Opcode::VecBuild, Type::I128, {lo, hi}); }
  Value vec_lane(Value v, unsigned q) { return emit(Opcode::VecLane, Type::I64, {v}, q); }
  Value vec_concat(Value lo, Value hi) { return emit(Opcode::VecConcat, Type::I256, {lo, hi}); }
  Value vec_half(Value v, unsigned h) { return emit(Opcode::VecHalf, Type::I128, {v}, h); }
  Value vec_op(VecOp op, Value a, Value b) {
    assert(vec_op_info(op).arity == 2);
    return emit(Opcode::VecOp2, type_of(a), {a, b}, uint64_t(op));
  }
  /// An SSE floating-point row (vec_ops.inc) with its imm2 (CmpXX predicate, kVecFpFlags).
  Value vec_fp(VecOp op, Value a, Value b, unsigned imm2) {
    assert(is_fp_vec_op(op));
    return emit(Opcode::VecOp2, Type::I128, {a, b}, uint64_t(op), imm2);
  }
  Value vec_op(VecOp op, Value a, unsigned imm8) {
    assert(vec_op_info(op).arity == 1);
    return emit(Opcode::VecOp1, type_of(a), {a}, uint64_t(op), imm8 & 0xff);
  }

  Value load(Type t, Value addr, MemOp m) { return emit(Opcode::Load, t, {addr}, m.encode()); }
  void store(Value addr, Value v, MemOp m) {
    emit(Opcode::Store, type_of(v), {addr, v}, m.encode());
  }
  /// Vector load/store of a 16-byte (I128) or 32-byte (I256) value (m.size_log2 follows it).
  Value vec_load(Value addr, MemOp m, Type t = Type::I128) {
    m.size_log2 = t == Type::I256 ? 5 : 4;
    return emit(Opcode::VecLoad, t, {addr}, m.encode());
  }
  void vec_store(Value addr, Value v, MemOp m) {
    m.size_log2 = type_of(v) == Type::I256 ? 5 : 4;
    emit(Opcode::VecStore, type_of(v), {addr, v}, m.encode());
  }
  /// Atomic read-modify-write; returns the old value (of v's type, which sets the size).
  Value atomic_rmw(AtomicOp op, Value addr, Value v, MemOp m) {
    m.size_log2 = uint8_t(__builtin_ctz(bits(type_of(v)) / 8));
    return emit(Opcode::AtomicRmw, type_of(v), {addr, v}, m.encode(), uint64_t(op));
  }
  /// Atomic compare-exchange; returns the old value (== expected iff desired was written).
  Value atomic_cmpxchg(Value addr, Value expected, Value desired, MemOp m) {
    m.size_log2 = uint8_t(__builtin_ctz(bits(type_of(expected)) / 8));
    return emit(Opcode::AtomicCmpxchg, type_of(expected), {addr, expected, desired}, m.encode());
  }
  void fence(FenceKind k) { emit(Opcode::Fence, Type::V, {}, uint64_t(k)); }
  /// If cond holds, h raises a guest exception: h.fn(cpu, arg, insn_pc, 0).
  void trap_if(Value cond, const Helper& h, uint64_t arg) {
    emit(Opcode::TrapIf, Type::V, {cond}, reinterpret_cast<uint64_t>(&h), arg);
  }

  /// Calls a helper with up to three I64 arguments; returns its I64 result.
  Value call(const Helper& h, std::initializer_list<Value> args = {}) {
    return emit(h.pure ? Opcode::CallPure : Opcode::Call, Type::I64, args,
                reinterpret_cast<uint64_t>(&h));
  }

  void insn_start(uint64_t pc) {
    emit(Opcode::InsnStart, Type::V, {}, pc);
    ++b_.num_insns;
  }

  // Terminals.
  void jump(uint64_t target) {
    b_.term = Terminal{};
    b_.term.kind = Terminal::Kind::Jump;
    b_.term.target = target;
  }
  void branch(Value cond, uint64_t taken, uint64_t not_taken) {
    b_.term = Terminal{};
    b_.term.kind = Terminal::Kind::Branch;
    b_.term.cond = cond;
    b_.term.target = taken;
    b_.term.target2 = not_taken;
  }
  void jump_indirect(Value pc) {
    b_.term = Terminal{};
    b_.term.kind = Terminal::Kind::Indirect;
    b_.term.value = pc;
  }
  /// Leave to the dispatcher with the PC set to pc.
  void exit(ExitReason r, uint64_t pc, uint64_t arg = 0) {
    b_.term = Terminal{};
    b_.term.kind = Terminal::Kind::Exit;
    b_.term.reason = r;
    b_.term.target = pc;
    b_.term.arg = arg;
  }
  /// Leave to the dispatcher; a helper already wrote the guest PC.
  void exit_pc_in_state(ExitReason r, uint64_t arg = 0) {
    exit(r, 0, arg);
    b_.term.pc_in_state = true;
  }

  Value emit(Opcode op, Type t, std::initializer_list<Value> args, uint64_t imm = 0,
             uint64_t imm2 = 0, Type operand_type = Type::V) {
    Inst i;
    i.op = op;
    i.type = operand_type == Type::V ? t : operand_type;
    i.nargs = uint8_t(args.size());
    unsigned k = 0;
    for (Value a : args) i.args[k++] = a;
    i.imm = imm;
    i.imm2 = imm2;
    b_.insts.push_back(i);
    return Value{uint32_t(b_.insts.size() - 1)};
  }

 private:
  Value bin(Opcode op, Value a, Value b) {
    assert(type_of(a) == type_of(b));
    return emit(op, type_of(a), {a, b});
  }
  Value un(Opcode op, Value a) { return emit(op, type_of(a), {a}); }

  Block& b_;
};

}  // namespace orrery::tcg::ir
