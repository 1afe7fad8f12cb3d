// Which accesses opt::find_mem_runs groups under one TLB probe (the backends' fused paths are
// tested per instruction in tests/unit/arm64 at every tier).
#include <gtest/gtest.h>

#include "tcg/ir/emitter.h"
#include "tcg/opt/mem_runs.h"

namespace orrery::tcg {
namespace {

using ir::Emitter;
using ir::MemOp;
using ir::Type;
using ir::Value;

uint64_t nothing(CpuCommon*, uint64_t, uint64_t, uint64_t) {
  return 0;
}
constexpr ir::Helper kHelper{"nothing", nothing};

TEST(MemRuns, ConstantOffsetsFromOneBaseShareARun) {
  ir::Block b;
  Emitter e(b);
  const Value base = e.get_reg(Type::I64, 0);
  const Value a16 = e.add(base, e.c64(16));
  e.store(a16, e.c64(1), MemOp{3});
  e.store(e.add(a16, e.c64(8)), e.c64(2), MemOp{3});                // base + 24: chained
  e.store(e.sub(base, e.c64(8)), e.c64(3), MemOp{2});               // base - 8, 4 bytes
  const Value ld = e.load(Type::I64, base, MemOp{3});               // a load: its own kind
  e.store(e.add(e.get_reg(Type::I64, 8), e.c64(0)), ld, MemOp{3});  // another base
  const opt::MemRuns r = opt::find_mem_runs(b);
  ASSERT_EQ(r.runs.size(), 1u);
  EXPECT_EQ(r.runs[0].base, base);
  EXPECT_EQ(r.runs[0].lo, -8);
  EXPECT_EQ(r.runs[0].hi, 32);
  EXPECT_TRUE(r.runs[0].write);
  EXPECT_EQ(r.runs[0].leader, a16.id + 2);  // after the Const and the Store's value
  int members = 0;
  for (size_t i = 0; i < b.insts.size(); ++i) members += r.run_of[i] == 0;
  EXPECT_EQ(members, 3);
}

TEST(MemRuns, CallsAlignmentChecksAndLongSpansSplitRuns) {
  ir::Block b;
  Emitter e(b);
  const Value base = e.get_reg(Type::I64, 0);
  e.store(base, e.c64(1), MemOp{3});
  e.call(kHelper);  // may flush the TLB: ends the run before it has a second member
  e.store(e.add(base, e.c64(8)), e.c64(1), MemOp{3});
  MemOp aligned{3};
  aligned.align = true;
  e.store(e.add(base, e.c64(16)), e.c64(1), aligned);  // checks alignment itself: never fused
  e.store(e.add(base, e.c64(opt::kMaxRunSpan + 8)), e.c64(1), MemOp{3});  // too far: a new run
  e.store(e.add(base, e.c64(opt::kMaxRunSpan + 16)), e.c64(1), MemOp{3});
  MemOp other_mmu{3};
  other_mmu.mmu_idx = 1;
  e.store(e.add(base, e.c64(opt::kMaxRunSpan + 24)), e.c64(1), other_mmu);
  const opt::MemRuns r = opt::find_mem_runs(b);
  ASSERT_EQ(r.runs.size(), 1u);
  EXPECT_EQ(r.runs[0].lo, opt::kMaxRunSpan + 8);
  EXPECT_EQ(r.runs[0].hi, opt::kMaxRunSpan + 24);
}

}  // namespace
}  // namespace orrery::tcg
