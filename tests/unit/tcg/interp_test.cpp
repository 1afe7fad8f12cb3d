// Interpreter semantics and the softmmu slow path, on a minimal guest state and a real
// AddressSpace.
#include <gtest/gtest.h>

#include <cstddef>

#include "hw/core/address_space.h"
#include "tcg/exec/tb.h"
#include "tcg/interp/interp.h"
#include "tcg/ir/emitter.h"
#include "tcg/ir/eval.h"
#include "tcg/softmmu/softmmu.h"

namespace orrery::tcg {
namespace {

using ir::Cond;
using ir::Emitter;
using ir::MemOp;
using ir::Type;
using ir::Value;

struct State {
  CpuCommon common;
  uint64_t r[4] = {};
};
constexpr uint32_t reg(unsigned i) { return uint32_t(offsetof(State, r) + 8 * i); }

class FlatTranslator : public softmmu::PageTranslator {
 public:
  explicit FlatTranslator(CpuCommon& c) : cpu(c) {}
  bool translate(uint64_t vaddr, softmmu::Access, unsigned, softmmu::Translation& out) override {
    ++walks;
    out.phys = vaddr;
    return true;
  }
  void raise_bus_error(uint64_t vaddr, uint64_t, softmmu::Access) override {
    faults++;
    fault_addr = vaddr;
    cpu.pending_exit = uint32_t(PendingExit::Exception);
  }
  void raise_alignment_fault(uint64_t vaddr, softmmu::Access) override {
    align_faults++;
    fault_addr = vaddr;
    cpu.pending_exit = uint32_t(PendingExit::Exception);
  }
  CpuCommon& cpu;
  int faults = 0, align_faults = 0, walks = 0;
  uint64_t fault_addr = 0;
};

class CountingDevice : public hw::MmioDevice {
 public:
  hw::MemResult read(uint64_t off, unsigned size, uint64_t& v) override {
    reads++;
    v = 0xabcd0000 + off;
    return hw::MemResult::Ok;
  }
  hw::MemResult write(uint64_t off, unsigned, uint64_t v) override {
    writes++;
    last = v;
    return hw::MemResult::Ok;
  }
  hw::AccessRules valid() const override { return {4, 4, false}; }
  int reads = 0, writes = 0;
  uint64_t last = 0;
};

class InterpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(as.add_ram("ram", 0x10000, 0x10000), "");
    ASSERT_EQ(as.add_mmio("dev", 0x1000, 0x100, dev), "");
  }
  uint64_t run(ir::Block& b) {
    EXPECT_EQ(ir::verify(b), "") << ir::print(b);
    auto p = interp::build(b, nullptr);
    return interp::run(*p, &st.common);
  }
  State st;
  hw::AddressSpace as;
  CountingDevice dev;
  FlatTranslator tr{st.common};
  softmmu::Softmmu mmu{st.common, as, tr};
};

TEST_F(InterpTest, ArithmeticEdgeCases) {
  auto ev = [](ir::Opcode op, Type t, uint64_t a, uint64_t b) {
    return ir::eval_pure(op, t, ir::bits(t), a, b, 0, 0, 0);
  };
  EXPECT_EQ(ev(ir::Opcode::DivU, Type::I64, 7, 0), 0u);
  EXPECT_EQ(ev(ir::Opcode::DivS, Type::I32, 0x80000000, 0xffffffff), 0x80000000u);
  EXPECT_EQ(ev(ir::Opcode::DivS, Type::I64, uint64_t(-7), 2), uint64_t(-3));
  EXPECT_EQ(ev(ir::Opcode::Shl, Type::I32, 1, 33), 2u);    // modulo width
  EXPECT_EQ(ev(ir::Opcode::Ashr, Type::I8, 0x80, 7), 0xffu);
  EXPECT_EQ(ev(ir::Opcode::Rotr, Type::I16, 0x1, 1), 0x8000u);
  EXPECT_EQ(ev(ir::Opcode::Clz, Type::I32, 0, 0), 32u);
  EXPECT_EQ(ev(ir::Opcode::Clz, Type::I16, 1, 0), 15u);
  EXPECT_EQ(ev(ir::Opcode::Ctz, Type::I64, 0, 0), 64u);
  EXPECT_EQ(ev(ir::Opcode::Bswap, Type::I32, 0x11223344, 0), 0x44332211u);
  EXPECT_EQ(ev(ir::Opcode::Bitrev, Type::I8, 0x01, 0), 0x80u);
  EXPECT_EQ(ev(ir::Opcode::MulHiS, Type::I64, uint64_t(-1), 1), ~0ull);
  EXPECT_EQ(ev(ir::Opcode::MulHiU, Type::I64, ~0ull, 2), 1u);
  EXPECT_EQ(ev(ir::Opcode::MulHiS, Type::I32, 0x80000000, 2), 0xffffffffu);
  // AddCarry/AddOvf with a carry in, as in AArch64 SUBS: a + ~b + 1.
  EXPECT_EQ(ir::eval_pure(ir::Opcode::AddCarry, Type::I64, 64, 5, ~5ull, 1, 0, 0), 1u);
  EXPECT_EQ(ir::eval_pure(ir::Opcode::AddOvf, Type::I32, 32, 0x7fffffff, 0, 1, 0, 0), 1u);
  EXPECT_EQ(ir::eval_pure(ir::Opcode::AddCarry, Type::I8, 8, 0xff, 0, 1, 0, 0), 1u);
  EXPECT_EQ(ir::eval_pure(ir::Opcode::ExtractS, Type::I64, 64, 0xf0, 0, 0, 4, 4), ~0ull);
  EXPECT_EQ(ir::eval_pure(ir::Opcode::Deposit, Type::I32, 32, 0xffffffff, 0, 0, 8, 8),
            0xffff00ffu);
  EXPECT_EQ(ir::eval_pure(ir::Opcode::SExt, Type::I64, 1, 1, 0, 0, 0, 0), ~0ull);
}

TEST_F(InterpTest, RegistersAndBranch) {
  st.r[0] = 40;
  ir::Block b;
  Emitter e(b);
  e.insn_start(0x100);
  Value x = e.add(e.get_reg(Type::I64, reg(0)), e.c64(2));
  e.set_reg(reg(1), x);
  e.set_reg(reg(2), e.konst(Type::I8, 0xff));  // partial register write
  e.branch(e.cmp(Cond::Ugt, x, e.c64(41)), 0x200, 0x300);
  EXPECT_EQ(run(b), exec::kRetNext);
  EXPECT_EQ(st.r[1], 42u);
  EXPECT_EQ(st.r[2], 0xffu);
  EXPECT_EQ(st.common.pc, 0x200u);
  EXPECT_EQ(st.common.last_exit_slot, 0u);
}

TEST_F(InterpTest, RamLoadStoreFillsTlbThenHitsInline) {
  ir::Block b;
  Emitter e(b);
  e.insn_start(0x100);
  Value a = e.c64(0x10010);
  e.store(a, e.konst(Type::I32, 0x80000001), MemOp{2, false, 0});
  e.set_reg(reg(0), e.load(Type::I64, a, MemOp{2, true, 0}));  // sign-extending
  e.set_reg(reg(1), e.load(Type::I64, e.c64(0x10011), MemOp{0, false, 0}));
  e.exit(ir::ExitReason::Halt, 0x104, 7);
  uint64_t r = run(b);
  EXPECT_EQ(r & 0xff, uint64_t(ir::ExitReason::Halt));
  EXPECT_EQ(r >> 32, 7u);
  EXPECT_EQ(st.r[0], 0xffffffff80000001ull);
  EXPECT_EQ(st.r[1], 0u);
  // The entry is now filled: the fast path finds the host pointer.
  EXPECT_NE(softmmu::tlb_hit(&st.common, 0x10010, MemOp{2, false, 0}, false), nullptr);
}

TEST_F(InterpTest, MmioGoesThroughDevice) {
  ir::Block b;
  Emitter e(b);
  e.insn_start(0x100);
  e.set_reg(reg(0), e.load(Type::I64, e.c64(0x1004), MemOp{2, false, 0}));
  e.store(e.c64(0x1008), e.konst(Type::I32, 0x55), MemOp{2, false, 0});
  e.jump(0x104);
  run(b);
  EXPECT_EQ(st.r[0], 0xabcd0004u);
  EXPECT_EQ(dev.reads, 1);
  EXPECT_EQ(dev.writes, 1);
  EXPECT_EQ(dev.last, 0x55u);
  // Never cached as RAM: a second run hits the device again.
  run(b);
  EXPECT_EQ(dev.reads, 2);
}

TEST_F(InterpTest, BusErrorStopsBlockBeforeLaterSideEffects) {
  ir::Block b;
  Emitter e(b);
  e.insn_start(0x100);
  e.set_reg(reg(0), e.c64(1));
  e.insn_start(0x104);
  e.load(Type::I64, e.c64(0x900000), MemOp{3, false, 0});  // nothing mapped there
  e.insn_start(0x108);
  e.set_reg(reg(1), e.c64(1));
  e.jump(0x10c);
  EXPECT_EQ(run(b), exec::kRetPending);
  EXPECT_EQ(tr.faults, 1);
  EXPECT_EQ(tr.fault_addr, 0x900000u);
  EXPECT_EQ(st.common.pc, 0x104u);  // the faulting instruction
  EXPECT_EQ(st.r[0], 1u);
  EXPECT_EQ(st.r[1], 0u);
}

TEST_F(InterpTest, DeviceRejectsWrongSize) {
  ir::Block b;
  Emitter e(b);
  e.insn_start(0x100);
  e.load(Type::I64, e.c64(0x1000), MemOp{0, false, 0});  // device accepts 4-byte only
  e.jump(0x104);
  EXPECT_EQ(run(b), exec::kRetPending);
  EXPECT_EQ(tr.faults, 1);
}

TEST_F(InterpTest, AlignmentFaultOnlyWhenRequired) {
  ir::Block b;
  Emitter e(b);
  e.insn_start(0x100);
  e.set_reg(reg(0), e.load(Type::I64, e.c64(0x10003), MemOp{2, false, 0}));  // fine
  e.load(Type::I64, e.c64(0x10003), MemOp{2, false, 0, true});               // must fault
  e.jump(0x104);
  EXPECT_EQ(run(b), exec::kRetPending);
  EXPECT_EQ(tr.align_faults, 1);
}

TEST_F(InterpTest, PageCrossingAccess) {
  uint64_t v = 0x0102030405060708;
  ASSERT_TRUE(as.write_bytes(0x10ffc, &v, 8));
  ir::Block b;
  Emitter e(b);
  e.insn_start(0x100);
  e.set_reg(reg(0), e.load(Type::I64, e.c64(0x10ffc), MemOp{3, false, 0}));
  e.store(e.c64(0x11ffe), e.konst(Type::I32, 0xaabbccdd), MemOp{2, false, 0});
  e.jump(0x104);
  EXPECT_EQ(run(b), exec::kRetNext);
  EXPECT_EQ(st.r[0], v);
  uint32_t w = 0;
  ASSERT_TRUE(as.read_bytes(0x11ffe, &w, 4));
  EXPECT_EQ(w, 0xaabbccddu);
}

TEST_F(InterpTest, PageCrossingIntoHoleWritesNothing) {
  ir::Block b;
  Emitter e(b);
  e.insn_start(0x100);
  e.store(e.c64(0x1fffe), e.konst(Type::I32, 0xaabbccdd), MemOp{2, false, 0});
  e.jump(0x104);
  EXPECT_EQ(run(b), exec::kRetPending);
  uint16_t w = 0;
  ASSERT_TRUE(as.read_bytes(0x1fffe, &w, 2));
  EXPECT_EQ(w, 0u);
}

// Regression: arrays 4 MiB apart (the direct-mapped table's reach) used to share a TLB slot, so a
// memcpy between them refilled on every access.
TEST_F(InterpTest, BuffersOneTlbReachApartUseDifferentSlots) {
  ASSERT_EQ(as.add_ram("big", 0x40000000, 16 << 20), "");
  const uint64_t src = 0x40000000, dst = src + (softmmu::kTlbEntries << softmmu::kPageBits);
  EXPECT_NE(softmmu::tlb_index(src), softmmu::tlb_index(dst));
  ir::Block b;
  Emitter e(b);
  e.insn_start(0x100);
  e.store(e.c64(dst), e.load(Type::I64, e.c64(src), MemOp{3}), MemOp{3});
  e.jump(0x104);
  run(b);
  EXPECT_NE(softmmu::tlb_hit(&st.common, src, MemOp{3}, false), nullptr);
  EXPECT_NE(softmmu::tlb_hit(&st.common, dst, MemOp{3}, true), nullptr);
}

// Pages that do share a slot alternate through the victim TLB instead of walking again.
TEST_F(InterpTest, CollidingPagesAreServedByTheVictimTlb) {
  ASSERT_EQ(as.add_ram("big", 0x40000000, 64 << 20), "");
  const uint64_t a = 0x40000000;
  uint64_t b = 0;
  for (uint64_t p = a + softmmu::kPageSize; p < a + (64 << 20); p += softmmu::kPageSize)
    if (softmmu::tlb_index(p) == softmmu::tlb_index(a)) {
      b = p;
      break;
    }
  ASSERT_NE(b, 0u);
  ir::Block blk;
  Emitter e(blk);
  e.insn_start(0x100);
  for (int i = 0; i < 8; ++i) {
    e.load(Type::I64, e.c64(a), MemOp{3});
    e.load(Type::I64, e.c64(b), MemOp{3});
  }
  e.jump(0x104);
  run(blk);
  EXPECT_EQ(tr.walks, 2);
}

TEST_F(InterpTest, ExitRequestStopsAtEntry) {
  ir::Block b;
  Emitter e(b);
  e.set_reg(reg(0), e.c64(9));
  e.jump(0);
  st.common.exit_request = 1;
  EXPECT_EQ(run(b), exec::kRetExitRequest);
  EXPECT_EQ(st.r[0], 0u);
}

uint64_t helper_add3(CpuCommon*, uint64_t a, uint64_t b, uint64_t c) { return a + b + c; }
uint64_t helper_raise(CpuCommon* cpu, uint64_t pc, uint64_t, uint64_t) {
  cpu->pc = pc;
  cpu->pending_exit = uint32_t(PendingExit::Exception);
  return 0;
}
constexpr ir::Helper kAdd3{"add3", helper_add3, true};
constexpr ir::Helper kRaise{"raise", helper_raise};

TEST_F(InterpTest, HelperCalls) {
  ir::Block b;
  Emitter e(b);
  e.insn_start(0x100);
  e.set_reg(reg(0), e.call(kAdd3, {e.c64(1), e.c64(2), e.c64(3)}));
  e.call(kRaise, {e.c64(0x100)});
  e.set_reg(reg(1), e.c64(5));
  e.jump(0);
  EXPECT_EQ(run(b), exec::kRetPending);
  EXPECT_EQ(st.r[0], 6u);
  EXPECT_EQ(st.r[1], 0u);
  EXPECT_EQ(st.common.pc, 0x100u);
}

// MemOp::addr32: an access running past 0xffffffff wraps to address 0 byte by byte (x86 outside
// 64-bit mode); without the flag it goes on to 0x100000000.
TEST(Addr32Test, AccessPastFourGiBWrapsToZero) {
  State st;
  hw::AddressSpace as;
  ASSERT_EQ(as.add_ram("low", 0, 0x1000), "");
  ASSERT_EQ(as.add_ram("top", 0xfffff000, 0x1000), "");
  ASSERT_EQ(as.add_ram("above", 0x100000000, 0x1000), "");
  FlatTranslator tr{st.common};
  softmmu::Softmmu mmu{st.common, as, tr};
  ir::Block b;
  Emitter e(b);
  e.insn_start(0x100);
  MemOp m32{2};
  m32.addr32 = true;
  Value a = e.zext(Type::I64, e.add(e.c32(0xfffffffe), e.c32(0)));  // computed in I32
  e.store(a, e.c32(0x44332211), m32);
  e.set_reg(reg(0), e.zext(Type::I64, e.load(Type::I32, a, m32)));
  MemOp m64{2};
  e.store(e.c64(0xfffffffe), e.c32(0x88776655), m64);  // a 64-bit address does not wrap
  e.jump(0x104);
  ASSERT_EQ(ir::verify(b), "");
  auto p = interp::build(b, nullptr);
  ASSERT_EQ(interp::run(*p, &st.common), exec::kRetNext);
  EXPECT_EQ(st.r[0], 0x44332211u);
  uint8_t low[2] = {}, above[2] = {};
  ASSERT_TRUE(as.read_bytes(0, low, 2));
  ASSERT_TRUE(as.read_bytes(0x100000000, above, 2));
  EXPECT_EQ(low[0], 0x33);
  EXPECT_EQ(low[1], 0x44);
  EXPECT_EQ(above[0], 0x77);
  EXPECT_EQ(above[1], 0x88);
  EXPECT_EQ(tr.faults, 0);
  EXPECT_NE(ir::print(b).find(" a32"), std::string::npos);
}

}  // namespace
}  // namespace orrery::tcg
