// The baseline tier's guest memory accesses: the TLB probe reads the address from whatever
// register holds it (or rax for a stack slot), with and without BMI2, and the slow paths of a
// block call each slow-path function through one shared thunk. Exact state on hits, misses,
// faults, misaligned and page-crossing accesses.
#include <cstring>
#include <initializer_list>
#include <iterator>

#include "llvm_test_util.h"
#include "tcg/opt/mem_runs.h"
#include "tcg/opt/passes.h"

namespace orrery::tcg::llvm::test {
namespace {

constexpr unsigned kAccesses = 10;  // more live addresses than pool registers: some in slots
constexpr uint64_t kPc = 0x1000;

class BaselineMemTest : public LlvmTest {
 protected:
  exec::NativeFn compile_with(exec::TranslationBlock& tb, bool bmi2, size_t* size) {
    EXPECT_EQ(ir::verify(tb.ir), "");
    baseline::Options o;
    o.slow_load = &fake_slow_load;
    o.slow_store = &fake_slow_store;
    o.slow_atomic = &fake_slow_atomic;
    o.bmi2 = bmi2;
    std::string err;
    exec::NativeFn fn = baseline::compile(tb, *code_, o, &err, size);
    EXPECT_NE(fn, nullptr) << err << "\n" << ir::print(tb.ir);
    return fn;
  }
};

/// How often the 8 bytes of p appear in code (an embedded absolute address).
unsigned count_address(exec::NativeFn code, size_t size, const void* p) {
  const auto* c = reinterpret_cast<const uint8_t*>(code);
  const auto v = reinterpret_cast<uintptr_t>(p);
  unsigned n = 0;
  for (size_t k = 0; k + 8 <= size; ++k) n += std::memcmp(c + k, &v, 8) == 0;
  return n;
}

/// How often `bytes` appear in code.
unsigned count_bytes(exec::NativeFn code, size_t size, std::initializer_list<uint8_t> bytes) {
  const auto* c = reinterpret_cast<const uint8_t*>(code);
  unsigned n = 0;
  for (size_t k = 0; k + bytes.size() <= size; ++k)
    n += std::memcmp(c + k, std::data(bytes), bytes.size()) == 0;
  return n;
}

// x86-64 orders loads with loads and later stores, and stores with stores: of the four fence
// kinds only the full one (a store, then a load) needs an instruction, and that is a locked OR
// of zero on the stack (~2 ns here), not mfence (~17 ns: every arm64 DMB, LDAR and STLR had one).
// The store and load around the fences keep their values.
TEST_F(BaselineMemTest, OnlyAFullFenceEmitsABarrierAndItIsALockedOr) {
  for (ir::FenceKind kind : {ir::FenceKind::Full, ir::FenceKind::Load, ir::FenceKind::Store,
                             ir::FenceKind::Instruction}) {
    auto tb = new_tb(kPc);
    Emitter e(tb->ir);
    e.insn_start(kPc);
    e.store(e.c64(kRamBase), e.c64(0x1234), MemOp{3, false, 0});
    e.fence(kind);
    e.set_reg(reg(0), e.load(Type::I64, e.c64(kRamBase), MemOp{3, false, 0}));
    e.jump(kPc + 4);
    size_t size = 0;
    exec::NativeFn fn = compile_with(*tb, false, &size);
    ASSERT_NE(fn, nullptr);
    const unsigned want = kind == ir::FenceKind::Full ? 1 : 0;
    EXPECT_EQ(count_bytes(fn, size, {0xf0, 0x83, 0x0c, 0x24, 0x00}), want) << int(kind);
    EXPECT_EQ(count_bytes(fn, size, {0x0f, 0xae, 0xf0}), 0u) << int(kind);  // mfence
    cpu_->r[0] = 0;
    EXPECT_EQ(run(fn), exec::kRetNext);
    EXPECT_EQ(cpu_->r[0], 0x1234u) << int(kind);
  }
}

// Ten accesses (loads and stores alternating), each at an address that stays live to the end,
// so the addresses sit in eight different pool registers and two stack slots. On a TLB miss
// every one reaches its slow path with its own address, value and instruction PC, through one
// thunk per slow-path function; a fault in the sixth stops the block with the state of the
// first five.
TEST_F(BaselineMemTest, SlowPathsSharedByAccessesWithAddressesInEveryRegister) {
  auto tb = new_tb(kPc);
  Emitter e(tb->ir);
  e.insn_start(kPc);
  Value a[kAccesses];
  for (unsigned k = 0; k < kAccesses; ++k) a[k] = e.get_reg(Type::I64, reg(k));
  Value x = e.get_reg(Type::I64, reg(30));
  for (unsigned k = 0; k < kAccesses; ++k) {
    e.insn_start(kPc + 4 * k);
    if (k % 2 == 0) {
      e.set_reg(reg(40 + k), e.load(Type::I64, a[k], MemOp{3, false, 0}));
    } else {
      e.store(a[k], e.add(x, e.c64(k)), MemOp{3, false, 0});
      e.set_reg(reg(40 + k), e.c64(k));
    }
  }
  Value sum = e.c64(0);
  for (unsigned k = 0; k < kAccesses; ++k) sum = e.add(sum, a[k]);
  e.set_reg(reg(60), sum);
  e.jump(0x2000);

  for (bool bmi2 : {true, false}) {
    SCOPED_TRACE(bmi2 ? "bmi2" : "no bmi2");
    size_t size = 0;
    exec::NativeFn fn = compile_with(*tb, bmi2, &size);
    ASSERT_NE(fn, nullptr);
    EXPECT_EQ(count_address(fn, size, reinterpret_cast<const void*>(&fake_slow_load)), 1u);
    EXPECT_EQ(count_address(fn, size, reinterpret_cast<const void*>(&fake_slow_store)), 1u);

    auto start = [&](uint64_t base, uint64_t stride) {
      slow_.calls.clear();
      slow_.fault_vaddr = ~0ull;
      cpu_->common.pending_exit = 0;
      uint64_t s = 0;
      for (unsigned k = 0; k < kAccesses; ++k) s += cpu_->r[k] = base + stride * k;
      for (unsigned k = 0; k < kAccesses; ++k) cpu_->r[40 + k] = 0xdead;
      cpu_->r[30] = 0x7700;
      cpu_->r[60] = 0;
      return s;
    };

    // Hits: RAM, one 16-byte step apart (every address its own 8 bytes).
    for (unsigned k = 0; k < 2 * kAccesses; ++k) {
      const uint64_t q = 0x0101010101010101ull * (k + 1);
      std::memcpy(&ram_[8 * k], &q, 8);
    }
    uint64_t s = start(kRamBase, 16);
    EXPECT_EQ(run(fn), exec::kRetNext);
    EXPECT_TRUE(slow_.calls.empty());
    for (unsigned k = 0; k < kAccesses; ++k) {
      uint64_t m;
      std::memcpy(&m, &ram_[16 * k], 8);
      if (k % 2 == 0) {
        EXPECT_EQ(cpu_->r[40 + k], m) << k;
      } else {
        EXPECT_EQ(m, 0x7700u + k) << k;
      }
    }
    EXPECT_EQ(cpu_->r[60], s);

    // Misses: every access through its slow path, in order, with its own operands.
    s = start(0x70000000, 0x100);
    EXPECT_EQ(run(fn), exec::kRetNext);
    ASSERT_EQ(slow_.calls.size(), kAccesses);
    for (unsigned k = 0; k < kAccesses; ++k) {
      const SlowCall& c = slow_.calls[k];
      EXPECT_EQ(c.write, k % 2 == 1) << k;
      EXPECT_EQ(c.vaddr, 0x70000000u + 0x100 * k) << k;
      EXPECT_EQ(c.insn_pc, kPc + 4 * k) << k;
      if (k % 2 == 0)
        EXPECT_EQ(cpu_->r[40 + k], fake_mmio_value(c.vaddr, 8)) << k;
      else
        EXPECT_EQ(c.value, 0x7700u + k) << k;
    }
    EXPECT_EQ(cpu_->r[60], s);

    // A fault in access 5 (a store): the first five ran, nothing after it did.
    start(0x70000000, 0x100);
    slow_.fault_vaddr = 0x70000500;
    EXPECT_EQ(run(fn), exec::kRetPending);
    EXPECT_EQ(cpu_->common.pc, kPc + 4 * 5);
    ASSERT_EQ(slow_.calls.size(), 6u);
    for (unsigned k = 0; k < kAccesses; ++k) {
      if (k < 5)
        EXPECT_EQ(cpu_->r[40 + k], k % 2 ? k : fake_mmio_value(0x70000000 + 0x100 * k, 8)) << k;
      else
        EXPECT_EQ(cpu_->r[40 + k], 0xdeadu) << k;
    }
    EXPECT_EQ(cpu_->r[60], 0u);
  }
}

// An access at an address in a register: misaligned within a page it hits, running into the
// next page it misses (the compare's last-byte page), and a load whose result lands in its
// address's own register still sees the right address on a miss.
TEST_F(BaselineMemTest, MisalignedAndPageCrossingAccessesFromRegisters) {
  auto tb = new_tb(kPc);
  Emitter e(tb->ir);
  e.insn_start(kPc);
  Value a = e.get_reg(Type::I64, reg(0));
  Value b = e.get_reg(Type::I64, reg(1));
  e.set_reg(reg(2), e.load(Type::I32, a, MemOp{2, true, 0}));
  e.insn_start(kPc + 4);
  e.store(b, e.c64(0xa1a2a3a4a5a6a7a8ull), MemOp{3, false, 0});
  e.jump(0x2000);
  for (bool bmi2 : {true, false}) {
    SCOPED_TRACE(bmi2 ? "bmi2" : "no bmi2");
    exec::NativeFn fn = compile_with(*tb, bmi2, nullptr);
    ASSERT_NE(fn, nullptr);
    std::fill(ram_.begin(), ram_.end(), 0);
    const uint32_t w = 0x80402010;
    std::memcpy(&ram_[0x101], &w, 4);
    slow_.calls.clear();
    cpu_->r[2] = 0;                 // the I32 SetReg writes the low half
    cpu_->r[0] = kRamBase + 0x101;  // misaligned, within the page: a hit
    cpu_->r[1] = kRamBase + 0xff8;  // the page's last 8 bytes: a hit
    EXPECT_EQ(run(fn), exec::kRetNext);
    EXPECT_TRUE(slow_.calls.empty());
    EXPECT_EQ(cpu_->r[2], uint64_t(w));  // sign-extended to I32: w itself
    EXPECT_EQ(ram_[0xff8], 0xa8);
    EXPECT_EQ(ram_[0xfff], 0xa1);

    cpu_->r[0] = kRamBase + 0xffe;   // 4 bytes over the page boundary: a miss
    cpu_->r[1] = kRamBase + 0x1ffc;  // likewise for the store
    EXPECT_EQ(run(fn), exec::kRetNext);
    ASSERT_EQ(slow_.calls.size(), 2u);
    EXPECT_EQ(slow_.calls[0].vaddr, kRamBase + 0xffe);
    EXPECT_EQ(slow_.calls[0].insn_pc, kPc);
    EXPECT_EQ(cpu_->r[2], uint64_t(uint32_t(fake_mmio_value(kRamBase + 0xffe, 4))));
    EXPECT_TRUE(slow_.calls[1].write);
    EXPECT_EQ(slow_.calls[1].vaddr, kRamBase + 0x1ffc);
    EXPECT_EQ(slow_.calls[1].value, 0xa1a2a3a4a5a6a7a8ull);
    EXPECT_EQ(slow_.calls[1].insn_pc, kPc + 4);
  }
}

// A run (accesses at constant offsets from one base, one TLB probe for them all) whose probe
// fails takes each member's own probe out of line: across a page boundary every member still
// hits alone; on a TLB miss every member goes through its slow path, in order, with its own
// address, PC and extension.
TEST_F(BaselineMemTest, RunMembersProbeAloneWhenTheRunProbeFails) {
  auto tb = new_tb(kPc);
  Emitter e(tb->ir);
  e.insn_start(kPc);
  Value a = e.get_reg(Type::I64, reg(0));
  Value b = e.get_reg(Type::I64, reg(1));
  const MemOp q{3, false, 0}, sh{1, true, 0};
  e.set_reg(reg(2), e.load(Type::I64, a, q));
  e.insn_start(kPc + 4);
  e.set_reg(reg(3), e.load(Type::I64, e.add(a, e.c64(8)), sh));
  e.insn_start(kPc + 8);
  e.set_reg(reg(4), e.load(Type::I64, e.add(a, e.c64(16)), q));
  e.insn_start(kPc + 12);
  e.store(b, e.c64(0x1111), q);
  e.insn_start(kPc + 16);
  e.store(e.add(b, e.c64(8)), e.c64(0x2222), q);
  e.jump(0x2000);
  opt::optimize(tb->ir);
  const opt::MemRuns runs = opt::find_mem_runs(tb->ir);
  ASSERT_EQ(runs.runs.size(), 2u) << ir::print(tb->ir);  // the loads, then the stores

  for (bool bmi2 : {true, false}) {
    SCOPED_TRACE(bmi2 ? "bmi2" : "no bmi2");
    exec::NativeFn fn = compile_with(*tb, bmi2, nullptr);
    ASSERT_NE(fn, nullptr);
    auto put = [&](uint64_t at, uint64_t v) { std::memcpy(&ram_[at], &v, 8); };
    auto get = [&](uint64_t at) {
      uint64_t v;
      std::memcpy(&v, &ram_[at], 8);
      return v;
    };
    for (const auto& [la, sa] : {std::pair<uint64_t, uint64_t>{0x100, 0x200},  // runs hit
                                 {0xff8, 0x1ffc}}) {  // both runs cross a page: members hit
      SCOPED_TRACE(la);
      std::fill(ram_.begin(), ram_.end(), 0);
      put(la, 0x0102030405060708);
      put(la + 8, 0x8001);  // the halfword 0x8001 sign-extends
      put(la + 16, 0x1122334455667788);
      slow_.calls.clear();
      cpu_->r[0] = kRamBase + la;
      cpu_->r[1] = kRamBase + sa;
      EXPECT_EQ(run(fn), exec::kRetNext);
      if (sa & 7) {
        // 0x1ffc: the first store runs into the next page, so it (alone) misses.
        ASSERT_EQ(slow_.calls.size(), 1u);
        EXPECT_EQ(slow_.calls[0].vaddr, kRamBase + sa);
        EXPECT_EQ(slow_.calls[0].value, 0x1111u);
        EXPECT_EQ(get(sa + 8), 0x2222u);
      } else {
        EXPECT_TRUE(slow_.calls.empty());
        EXPECT_EQ(get(sa), 0x1111u);
        EXPECT_EQ(get(sa + 8), 0x2222u);
      }
      EXPECT_EQ(cpu_->r[2], 0x0102030405060708u);
      EXPECT_EQ(cpu_->r[3], 0xffffffffffff8001u);
      EXPECT_EQ(cpu_->r[4], 0x1122334455667788u);
    }

    // Not in the TLB: every member through its slow path.
    slow_.calls.clear();
    cpu_->r[0] = 0x70000000;
    cpu_->r[1] = 0x70001000;
    EXPECT_EQ(run(fn), exec::kRetNext);
    ASSERT_EQ(slow_.calls.size(), 5u);
    const uint64_t vaddr[] = {0x70000000, 0x70000008, 0x70000010, 0x70001000, 0x70001008};
    for (unsigned k = 0; k < 5; ++k) {
      EXPECT_EQ(slow_.calls[k].vaddr, vaddr[k]) << k;
      EXPECT_EQ(slow_.calls[k].write, k >= 3) << k;
      EXPECT_EQ(slow_.calls[k].insn_pc, kPc + 4 * k) << k;
    }
    EXPECT_EQ(cpu_->r[2], fake_mmio_value(0x70000000, 8));
    EXPECT_EQ(cpu_->r[3], uint64_t(int64_t(int16_t(fake_mmio_value(0x70000008, 2)))));
    EXPECT_EQ(cpu_->r[4], fake_mmio_value(0x70000010, 8));
    EXPECT_EQ(slow_.calls[3].value, 0x1111u);
    EXPECT_EQ(slow_.calls[4].value, 0x2222u);
  }
}

}  // namespace
}  // namespace orrery::tcg::llvm::test
