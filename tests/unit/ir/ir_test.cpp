// Printer, verifier and opcode-table tests, plus golden tests of each optimisation pass.
#include <gtest/gtest.h>

#include "tcg/ir/emitter.h"
#include "tcg/opt/passes.h"

namespace orrery::tcg::ir {
namespace {

constexpr uint32_t kX0 = 16, kX1 = 24, kFlagZ = 40;

TEST(OpTable, EveryOpcodeHasAName) {
  for (unsigned i = 0; i < kNumOpcodes; ++i) {
    const OpInfo& info = op_info(static_cast<Opcode>(i));
    ASSERT_NE(info.name, nullptr);
    EXPECT_GT(std::string(info.name).size(), 1u);
  }
  EXPECT_STREQ(op_info(Opcode::Add).name, "Add");
  EXPECT_EQ(op_info(Opcode::Add).num_args(), 2u);
  EXPECT_TRUE(is_pure(Opcode::Add));
  EXPECT_FALSE(is_pure(Opcode::Load));
  EXPECT_FALSE(is_pure(Opcode::SetReg));
}

TEST(Printer, Golden) {
  Block b;
  b.guest_pc = 0x1000;
  b.guest_size = 8;
  Emitter e(b);
  e.insn_start(0x1000);
  Value x = e.get_reg(Type::I64, kX0);
  Value y = e.add(x, e.c64(5));
  e.set_reg(kX1, y);
  e.insn_start(0x1004);
  Value z = e.cmp(Cond::Eq, y, e.c64(0));
  e.branch(z, 0x2000, 0x1008);
  EXPECT_EQ(print(b),
            "block pc=0x1000 size=8 insns=2\n"
            " ---- 0x1000\n"
            "  v1:i64 = GetReg @0x10\n"
            "  v2:i64 = Const $0x5\n"
            "  v3:i64 = Add v1, v2\n"
            "  SetReg.i64 v3,@0x18\n"
            " ---- 0x1004\n"
            "  v6:i64 = Const $0x0\n"
            "  v7:i1 = Cmp.i64 v3, v6, eq\n"
            "  branch v7 ? 0x2000 : 0x1008\n");
  EXPECT_EQ(verify(b), "");
}

TEST(Verifier, RejectsTypeMismatch) {
  Block b;
  Emitter e(b);
  Value a = e.c64(1);
  Value c = e.c32(2);
  e.emit(Opcode::Add, Type::I64, {a, c});
  e.jump(0);
  EXPECT_NE(verify(b).find("type mismatch"), std::string::npos) << verify(b);
}

TEST(Verifier, RejectsUseBeforeDef) {
  Block b;
  Emitter e(b);
  e.emit(Opcode::Not, Type::I64, {Value{3}});
  e.jump(0);
  EXPECT_NE(verify(b).find("not defined"), std::string::npos);
}

// An opcode outside the table is reported without reading past the table for its name (ASan).
TEST(Verifier, RejectsAnOpcodeOutsideTheTable) {
  Block b;
  Emitter e(b);
  e.c64(1);
  e.jump(0);
  b.insts[0].op = static_cast<Opcode>(kNumOpcodes);
  EXPECT_EQ(verify(b), "v0 (?): bad opcode");
}

TEST(Verifier, RequiresTerminal) {
  Block b;
  Emitter e(b);
  e.c64(1);
  EXPECT_EQ(verify(b), "block has no terminal");
}

TEST(Verifier, RejectsBadFieldAndNarrowingExtension) {
  {
    Block b;
    Emitter e(b);
    e.extract_u(e.c32(1), 30, 4);
    e.jump(0);
    EXPECT_NE(verify(b).find("field out of range"), std::string::npos);
  }
  {
    Block b;
    Emitter e(b);
    e.emit(Opcode::ZExt, Type::I32, {e.c64(1)});
    e.jump(0);
    EXPECT_NE(verify(b).find("narrows"), std::string::npos);
  }
}

TEST(ConstFold, FoldsArithmeticAndBranch) {
  Block b;
  Emitter e(b);
  Value s = e.add(e.c32(0xffffffff), e.c32(2));  // wraps to 1
  Value c = e.cmp(Cond::Eq, s, e.c32(1));
  e.set_reg(kX0, e.zext(Type::I64, s));
  e.branch(c, 0x10, 0x20);
  opt::const_fold(b);
  opt::dce(b);
  opt::compact(b);
  EXPECT_EQ(verify(b), "");
  EXPECT_EQ(print(b),
            "block pc=0x0 size=0 insns=0\n"
            "  v0:i64 = Const $0x1\n"
            "  SetReg.i64 v0,@0x10\n"
            "  jump 0x10\n");
}

TEST(ConstFold, Identities) {
  Block b;
  Emitter e(b);
  Value x = e.get_reg(Type::I64, kX0);
  Value y = e.or_(e.add(x, e.c64(0)), e.c64(0));
  Value z = e.and_(e.mul(y, e.c64(1)), e.c64(~0ull));
  e.set_reg(kX1, z);
  e.jump(4);
  opt::optimize(b);
  EXPECT_EQ(print(b),
            "block pc=0x0 size=0 insns=0\n"
            "  v0:i64 = GetReg @0x10\n"
            "  SetReg.i64 v0,@0x18\n"
            "  jump 0x4\n");
}

// A PC-derived value stays one (stored code moves with its PC): constant offsets fold into it
// (ADRP then ADD), but nothing decides on its value at translation.
TEST(ConstFold, PcRelTakesOffsetsButNoDecisions) {
  Block b;
  Emitter e(b);
  Value page = e.pc_rel(0x40001000);
  e.set_reg(kX0, e.sub(e.add(page, e.c64(0x234)), e.c64(4)));
  e.set_reg(kFlagZ, e.zext(Type::I64, e.cmp(Cond::Ult, page, e.c64(0x50000000))));
  e.set_reg(kX1, e.and_(e.pc_rel(0x40001234), e.c64(~0xfffull)));
  e.jump(4);
  opt::optimize(b);
  EXPECT_EQ(verify(b), "");
  EXPECT_EQ(print(b),
            "block pc=0x0 size=0 insns=0\n"
            "  v0:i64 = PcRel $0x40001000\n"
            "  v1:i64 = PcRel $0x40001230\n"
            "  SetReg.i64 v1,@0x10\n"
            "  v3:i64 = Const $0x50000000\n"
            "  v4:i1 = Cmp.i64 v0, v3, ult\n"
            "  v5:i64 = ZExt v4\n"
            "  SetReg.i64 v5,@0x28\n"
            "  v7:i64 = Const $0xfffffffffffff000\n"
            "  v8:i64 = PcRel $0x40001234\n"
            "  v9:i64 = And v8, v7\n"
            "  SetReg.i64 v9,@0x18\n"
            "  jump 0x4\n");
}

TEST(ConstFold, NegatedCompareBecomesTheInverseCompare) {
  // JNE: the x86 frontend emits Xor(Cmp eq, 1); the branch must see a compare of its own to be
  // fused with it (cmp; jcc) instead of setcc, xor, test, jcc.
  Block b;
  Emitter e(b);
  Value x = e.get_reg(Type::I64, kX0);
  Value y = e.get_reg(Type::I64, kX1);
  Value ult = e.cmp(Cond::Ult, x, y);
  e.set_reg(kFlagZ, e.zext(Type::I64, e.xor_(e.c1(true), ult)));  // constant first
  e.branch(e.xor_(e.cmp(Cond::Eq, x, e.c64(0)), e.c1(true)), 0x10, 0x20);
  opt::optimize(b);
  EXPECT_EQ(verify(b), "");
  EXPECT_EQ(print(b),
            "block pc=0x0 size=0 insns=0\n"
            "  v0:i64 = GetReg @0x10\n"
            "  v1:i64 = GetReg @0x18\n"
            "  v2:i1 = Cmp.i64 v0, v1, uge\n"
            "  v3:i64 = ZExt v2\n"
            "  SetReg.i64 v3,@0x28\n"
            "  v5:i64 = Const $0x0\n"
            "  v6:i1 = Cmp.i64 v0, v5, ne\n"
            "  branch v6 ? 0x10 : 0x20\n");
}

TEST(ConstFold, FlagLogic) {
  // What an arm64 condition on a CMP with 0 leaves: V of x - 0 (AddOvf x, ~0, 1) and of x + 0
  // are 0, !!c is c and a negated compare is the inverse compare, so GE (N == V) is x >= 0.
  Block b;
  Emitter e(b);
  Value x = e.get_reg(Type::I64, kX0);
  Value n = e.cmp(Cond::Slt, x, e.c64(0));
  Value v = e.add_ovf(x, e.c64(~0ull), e.c1(true));
  Value v2 = e.add_ovf(x, e.c64(0), e.c1(false));
  Value ge = e.not_(e.xor_(n, e.or_(v, v2)));
  e.set_reg(kX1, e.not_(e.not_(x)));
  e.branch(ge, 0x10, 0x20);
  opt::optimize(b);
  EXPECT_EQ(verify(b), "");
  EXPECT_EQ(print(b),
            "block pc=0x0 size=0 insns=0\n"
            "  v0:i64 = GetReg @0x10\n"
            "  v1:i64 = Const $0x0\n"
            "  v2:i1 = Cmp.i64 v0, v1, sge\n"
            "  SetReg.i64 v0,@0x18\n"
            "  branch v2 ? 0x10 : 0x20\n");
}

TEST(ConstFold, TruncOfAnExtensionIsItsSource) {
  // Arm64 W registers: a W register written and read again in one block is Trunc(ZExt(w)),
  // which is w; narrower and wider reads become one Trunc or one extension of w.
  constexpr uint32_t kOutA = 0x20, kOutB = 0x30, kOutC = 0x38;
  Block b;
  Emitter e(b);
  Value x = e.get_reg(Type::I64, kX0);
  // One value per statement: the order of evaluation of arguments is unspecified.
  Value low = e.trunc(Type::I32, x);
  Value one = e.c32(1);
  Value w = e.add(low, one);
  e.set_reg(kX1, e.zext(Type::I64, w));
  Value same = e.trunc(Type::I32, e.get_reg(Type::I64, kX1));
  Value wide = e.sext(Type::I64, same);
  Value byte = e.trunc(Type::I8, wide);
  Value half = e.trunc(Type::I16, low);
  Value mixed = e.xor_(same, w);
  e.set_reg(kOutA, e.zext(Type::I64, mixed));
  e.set_reg(kOutB, e.zext(Type::I64, byte));
  e.set_reg(kOutC, e.zext(Type::I64, half));
  e.jump(4);
  opt::optimize(b);
  EXPECT_EQ(verify(b), "");
  EXPECT_EQ(print(b),
            "block pc=0x0 size=0 insns=0\n"
            "  v0:i64 = GetReg @0x10\n"
            "  v1:i32 = Trunc v0\n"
            "  v2:i32 = Const $0x1\n"
            "  v3:i32 = Add v1, v2\n"
            "  v4:i64 = ZExt v3\n"
            "  SetReg.i64 v4,@0x18\n"
            "  v6:i8 = Trunc v3\n"
            "  v7:i16 = Trunc v0\n"
            "  v8:i32 = Xor v3, v3\n"
            "  v9:i64 = ZExt v8\n"
            "  SetReg.i64 v9,@0x20\n"
            "  v11:i64 = ZExt v6\n"
            "  SetReg.i64 v11,@0x30\n"
            "  v13:i64 = ZExt v7\n"
            "  SetReg.i64 v13,@0x38\n"
            "  jump 0x4\n");
}

TEST(ConstFold, SelectOfANegatedConditionAndCset) {
  // CSET on a clear carry: Select(!c, 0, 1) is Select(c, 1, 0), which is c zero-extended.
  Block b;
  Emitter e(b);
  Value x = e.get_reg(Type::I64, kX0);
  Value y = e.get_reg(Type::I64, kX1);
  Value c = e.add_carry(x, y, e.c1(false));
  e.set_reg(kX0, e.select(e.not_(c), e.c64(0), e.c64(1)));
  e.set_reg(kX1, e.select(e.not_(c), x, y));
  e.jump(4);
  opt::optimize(b);
  EXPECT_EQ(verify(b), "");
  EXPECT_EQ(print(b),
            "block pc=0x0 size=0 insns=0\n"
            "  v0:i64 = GetReg @0x10\n"
            "  v1:i64 = GetReg @0x18\n"
            "  v2:i1 = Const $0x0\n"
            "  v3:i1 = AddCarry.i64 v0, v1, v2\n"
            "  v4:i64 = ZExt v3\n"
            "  SetReg.i64 v4,@0x10\n"
            "  v6:i64 = Select v3, v1, v0\n"
            "  SetReg.i64 v6,@0x18\n"
            "  jump 0x4\n");
}

TEST(Dce, KeepsSideEffectsAndTerminalOperands) {
  Block b;
  Emitter e(b);
  Value x = e.get_reg(Type::I64, kX0);
  e.add(x, x);                                         // dead
  Value a = e.load(Type::I64, x, MemOp{3, false, 0});  // may fault: kept though unused
  (void)a;
  Value t = e.xor_(x, e.c64(1));
  e.jump_indirect(t);
  opt::dce(b);
  opt::compact(b);
  EXPECT_EQ(print(b),
            "block pc=0x0 size=0 insns=0\n"
            "  v0:i64 = GetReg @0x10\n"
            "  v1:i64 = Load v0, u64 mmu0\n"
            "  v2:i64 = Const $0x1\n"
            "  v3:i64 = Xor v0, v2\n"
            "  jump_indirect v3\n");
}

TEST(Dce, CompactKeepsTheBuffer) {
  // The translator reuses one Block for every new block: compacting must not give up the
  // instruction vector's storage, or it regrows (and reallocates) for every translation.
  Block b;
  Emitter e(b);
  Value x = e.get_reg(Type::I64, kX0);
  for (int i = 0; i < 100; ++i) e.add(x, e.c64(uint64_t(i)));  // dead
  e.jump_indirect(e.xor_(x, e.c64(1)));
  const Inst* storage = b.insts.data();
  const size_t capacity = b.insts.capacity();
  opt::dce(b);
  opt::compact(b);
  EXPECT_EQ(b.insts.size(), 3u);
  EXPECT_EQ(b.insts.data(), storage);
  EXPECT_EQ(b.insts.capacity(), capacity);
  EXPECT_EQ(print(b),
            "block pc=0x0 size=0 insns=0\n"
            "  v0:i64 = GetReg @0x10\n"
            "  v1:i64 = Const $0x1\n"
            "  v2:i64 = Xor v0, v1\n"
            "  jump_indirect v2\n");
}

TEST(RegElim, ForwardsAndDropsDeadStores) {
  Block b;
  Emitter e(b);
  e.set_reg(kX0, e.c64(1));             // dead: overwritten below with no fault between
  Value r = e.get_reg(Type::I64, kX0);  // forwarded from the store
  e.set_reg(kX0, e.add(r, e.c64(2)));
  Value r2 = e.get_reg(Type::I64, kX0);  // forwarded
  e.set_reg(kX1, r2);
  e.jump(0);
  opt::optimize(b);
  EXPECT_EQ(print(b),
            "block pc=0x0 size=0 insns=0\n"
            "  v0:i64 = Const $0x3\n"
            "  SetReg.i64 v0,@0x10\n"
            "  SetReg.i64 v0,@0x18\n"
            "  jump 0x0\n");
}

TEST(RegElim, KeepsStoresBeforeFaultPoints) {
  Block b;
  Emitter e(b);
  e.set_reg(kX0, e.c64(1));
  e.load(Type::I64, e.c64(0x100), MemOp{3, false, 0});  // guest state must be exact here
  e.set_reg(kX0, e.c64(2));
  e.jump(0);
  opt::optimize(b);
  std::string p = print(b);
  EXPECT_NE(p.find("SetReg.i64 v0,@0x10"), std::string::npos) << p;
  size_t stores = 0;
  for (size_t at = p.find("SetReg"); at != std::string::npos; at = p.find("SetReg", at + 1))
    ++stores;
  EXPECT_EQ(stores, 2u) << p;
}

TEST(RegElim, PartialOverlapIsNotForwarded) {
  // x86-style: a byte write into the low part of a 64-bit register must not be bypassed.
  Block b;
  Emitter e(b);
  e.set_reg(kX0, e.c64(0x1122334455667788));
  e.set_reg(kX0, e.konst(Type::I8, 0xaa));
  Value r = e.get_reg(Type::I64, kX0);
  e.set_reg(kX1, r);
  e.jump(0);
  opt::optimize(b);
  std::string p = print(b);
  EXPECT_NE(p.find("GetReg @0x10"), std::string::npos) << p;
  EXPECT_NE(p.find("SetReg.i64 v0,@0x10"), std::string::npos) << p;  // wide store kept
}

TEST(RegElim, FlagsOverwrittenAreDropped) {
  Block b;
  Emitter e(b);
  e.set_reg(kFlagZ, e.c1(true));
  e.set_reg(kFlagZ, e.c1(false));
  e.jump(0);
  opt::optimize(b);
  EXPECT_EQ(print(b),
            "block pc=0x0 size=0 insns=0\n"
            "  v0:i1 = Const $0x0\n"
            "  SetReg.i1 v0,@0x28\n"
            "  jump 0x0\n");
}

TEST(Atomic, VerifiedPrintedAndNeverRemoved) {
  Block b;
  Emitter e(b);
  e.insn_start(0x10);
  Value a = e.c64(0x1000);
  e.atomic_rmw(AtomicOp::Xor, a, e.c32(3), MemOp{});  // result unused: still a memory write
  Value old = e.atomic_cmpxchg(a, e.c64(1), e.c64(2), MemOp{0, false, 1});
  e.set_reg(8, old);
  e.jump(0x14);
  EXPECT_EQ(verify(b), "") << print(b);
  const std::string text = print(b);
  EXPECT_NE(text.find("AtomicRmw"), std::string::npos) << text;
  EXPECT_NE(text.find("u32 mmu0 xor"), std::string::npos) << text;
  EXPECT_NE(text.find("u64 mmu1"), std::string::npos) << text;
  EXPECT_FALSE(is_pure(Opcode::AtomicRmw));
  EXPECT_FALSE(is_pure(Opcode::AtomicCmpxchg));
  EXPECT_TRUE(op_info(Opcode::AtomicRmw).flags & kMayFault);
  opt::optimize(b);
  unsigned atomics = 0;
  for (const Inst& i : b.insts)
    atomics += i.op == Opcode::AtomicRmw || i.op == Opcode::AtomicCmpxchg;
  EXPECT_EQ(atomics, 2u);

  Block bad = b;
  for (Inst& i : bad.insts)
    if (i.op == Opcode::AtomicRmw) i.imm2 = kNumAtomicOps;
  EXPECT_NE(verify(bad).find("bad atomic op"), std::string::npos) << print(bad);
  bad = b;
  for (Inst& i : bad.insts)
    if (i.op == Opcode::AtomicRmw) i.imm = MemOp{3}.encode();  // 8 bytes for an I32
  EXPECT_NE(verify(bad), "");
}

}  // namespace
}  // namespace orrery::tcg::ir

namespace orrery::tcg::ir {
namespace {

// 128-bit vectors: verified and printed; never constant-folded (no I128 constants); a vector
// register read after a vector write is forwarded, a quadword read of its bytes is not.
TEST(Vector, VerifiedFoldedNeverAndForwardedOnlyAtItsWidth) {
  Block b;
  Emitter e(b);
  Value v = e.vec_build(e.c64(1), e.c64(2));
  e.set_reg(0x100, e.vec_op(VecOp::AddD, v, e.vec_op(VecOp::ShufD, v, 0x1b)));
  Value again = e.get_reg(Type::I128, 0x100);  // forwarded
  e.set_reg(0x10, e.vec_lane(again, 1));
  e.set_reg(0x18, e.get_reg(Type::I64, 0x108));  // the high half: read from the state
  e.jump(0);
  ASSERT_EQ(verify(b), "") << print(b);
  opt::optimize(b);
  ASSERT_EQ(verify(b), "") << print(b);
  const std::string p = print(b);
  EXPECT_NE(p.find("VecBuild"), std::string::npos) << p;
  EXPECT_NE(p.find("VecOp1 v"), std::string::npos) << p;
  EXPECT_NE(p.find("ShufD $0x1b"), std::string::npos) << p;
  EXPECT_EQ(p.find("GetReg.i128"), std::string::npos) << p;
  EXPECT_EQ(p.find("v5:i128 = GetReg"), std::string::npos) << p;
  EXPECT_NE(p.find(":i64 = GetReg @0x108"), std::string::npos) << p;
}

TEST(Vector, VerifierRejectsBadOps) {
  Block b;
  Emitter e(b);
  Value v = e.get_reg(Type::I128, 0x100);
  e.emit(Opcode::VecOp2, Type::I128, {v, v}, uint64_t(VecOp::ShlQ));  // unary op, two args
  e.jump(0);
  EXPECT_NE(verify(b).find("bad vector op"), std::string::npos);
  Block c;
  Emitter f(c);
  f.vec_op(VecOp::AddB, f.c64(1), f.c64(2));  // I64 arguments: an I64 vector op
  f.jump(0);
  EXPECT_NE(verify(c).find("non-vector type"), std::string::npos);
  Block d;  // widths must agree: an I256 op on an I128 operand
  Emitter g(d);
  Value y = g.get_reg(Type::I256, 0x100);
  g.emit(Opcode::VecOp2, Type::I256, {y, g.get_reg(Type::I128, 0x200)}, uint64_t(VecOp::AddB));
  g.jump(0);
  EXPECT_NE(verify(d).find("type mismatch"), std::string::npos);
  Block h;  // VecHalf of an I128, and half 2
  Emitter k(h);
  k.vec_half(k.get_reg(Type::I128, 0x100), 0);
  k.jump(0);
  EXPECT_NE(verify(h).find("type mismatch"), std::string::npos);
  Block j;
  Emitter l(j);
  l.vec_half(l.get_reg(Type::I256, 0x100), 2);
  l.jump(0);
  EXPECT_NE(verify(j).find("lane out of range"), std::string::npos);
}

// I256 values: well-formed blocks verify, print with their width, and the constant folder
// leaves them alone.
TEST(Vector, I256VerifiesAndPrints) {
  Block b;
  Emitter e(b);
  Value lo = e.vec_build(e.c64(1), e.c64(2)), hi = e.vec_build(e.c64(3), e.c64(4));
  Value y = e.vec_concat(lo, hi);
  Value r = e.vec_op(VecOp::ShufD, e.vec_op(VecOp::AddD, y, e.get_reg(Type::I256, 0x100)), 0x1b);
  EXPECT_EQ(b.type_of(r), Type::I256);
  e.set_reg(0x120, r);
  e.set_reg(0x140, e.vec_half(r, 1));
  e.jump(0);
  EXPECT_EQ(verify(b), "");
  const std::string p = print(b);
  EXPECT_NE(p.find("i256"), std::string::npos) << p;
  EXPECT_NE(p.find("h1"), std::string::npos) << p;
  opt::const_fold(b);
  EXPECT_EQ(verify(b), "");
  EXPECT_EQ(b.at(r).op, Opcode::VecOp1);
  EXPECT_EQ(b.at(y).op, Opcode::VecConcat);
}

}  // namespace
}  // namespace orrery::tcg::ir
