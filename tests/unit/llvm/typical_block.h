// A typical translated block for LLVM tier tests and the compile-time benchmark
// (bench/llvm_compile_time.cpp): what a ~12-instruction AArch64 block looks like after
// optimisation. Needs no test framework.
#pragma once

#include <cstdint>
#include <memory>

#include "tcg/exec/tb.h"
#include "tcg/interp/interp.h"  // a block owns its interpreter program
#include "tcg/ir/emitter.h"

namespace orrery::tcg::llvm::test {

/// Register traffic, flag computation with carries, two loads and a store, a multiply-high and
/// a conditional branch to pc + 48 or pc + 0x100. Guest register i lives at CPU-state offset
/// regs + 8 * i; the loads read x1 + 16 and x1 + 24 and the store writes x1 + 32.
inline std::unique_ptr<exec::TranslationBlock> typical_tb(uint64_t pc, uint32_t regs) {
  using ir::Cond;
  using ir::MemOp;
  using ir::Type;
  using ir::Value;
  auto reg = [regs](unsigned i) { return regs + 8 * i; };
  auto tb = std::make_unique<exec::TranslationBlock>();
  tb->key.pc = pc;
  tb->ir.guest_pc = pc;
  ir::Emitter e(tb->ir);
  e.insn_start(pc);
  Value x0 = e.get_reg(Type::I64, reg(0)), x1 = e.get_reg(Type::I64, reg(1));
  Value x2 = e.get_reg(Type::I64, reg(2));
  e.insn_start(pc + 4);
  Value a = e.load(Type::I64, e.add(x1, e.c64(16)), MemOp{3, false, 0});
  e.insn_start(pc + 8);
  Value b = e.load(Type::I64, e.add(x1, e.c64(24)), MemOp{2, true, 0});
  e.insn_start(pc + 12);
  Value s = e.add(a, b);
  e.insn_start(pc + 16);
  Value nb = e.not_(x2);
  Value diff = e.addc(s, nb, e.c1(true));
  Value c = e.add_carry(s, nb, e.c1(true));
  Value v = e.add_ovf(s, nb, e.c1(true));
  e.set_reg(reg(20), e.zext(Type::I8, c));
  e.set_reg(reg(21), e.zext(Type::I8, v));
  e.set_reg(reg(22), e.zext(Type::I8, e.cmp(Cond::Eq, diff, e.c64(0))));
  e.set_reg(reg(23), e.zext(Type::I8, e.cmp(Cond::Slt, diff, e.c64(0))));
  e.insn_start(pc + 20);
  Value sh = e.lshr(diff, e.c64(3));
  Value ex = e.extract_u(sh, 4, 12);
  e.insn_start(pc + 24);
  Value dep = e.deposit(x0, ex, 8, 12);
  e.set_reg(reg(0), dep);
  e.insn_start(pc + 28);
  e.store(e.add(x1, e.c64(32)), dep, MemOp{3, false, 0});
  e.insn_start(pc + 32);
  Value m = e.mul(dep, e.c64(0x9e3779b9));
  Value h = e.mulhu(m, x2);
  e.set_reg(reg(3), e.xor_(m, h));
  e.insn_start(pc + 36);
  e.set_reg(reg(4), e.select(e.cmp(Cond::Ugt, a, b), a, b));
  e.insn_start(pc + 40);
  e.set_reg(reg(1), e.add(x1, e.c64(48)));
  e.insn_start(pc + 44);
  e.branch(e.cmp(Cond::Ne, diff, e.c64(0)), pc + 48, pc + 0x100);
  return tb;
}

}  // namespace orrery::tcg::llvm::test
