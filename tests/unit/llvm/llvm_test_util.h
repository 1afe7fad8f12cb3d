// Shared fixture for the LLVM tier tests: a CpuCommon-headed guest state with a register file,
// a TLB mapping host buffers, a jump cache, and slow paths that record what reaches them.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "tcg/baseline/baseline.h"
#include "tcg/exec/tb.h"
#include "tcg/interp/interp.h"
#include "tcg/ir/emitter.h"
#include "tcg/llvm/jit.h"
#include "tcg/softmmu/tlb.h"

namespace orrery::tcg::llvm::test {

using ir::Cond;
using ir::Emitter;
using ir::MemOp;
using ir::Opcode;
using ir::Type;
using ir::Value;

constexpr unsigned kNumRegs = 2048;

struct SlowCall {
  bool write;
  uint64_t vaddr, value, memop, insn_pc;
};

/// What the fake slow paths record and how they behave (test bookkeeping, not guest state).
struct SlowLog {
  std::vector<SlowCall> calls;
  uint64_t fault_vaddr = ~0ull;            // an access here raises PendingExit::Exception
  void (*on_store)(CpuCommon*) = nullptr;  // run by the slow store (a device changing the map)
};

struct TestCpu {
  CpuCommon common;
  uint64_t r[kNumRegs] = {};
  SlowLog* slow = nullptr;
};
static_assert(offsetof(TestCpu, common) == 0);

constexpr uint32_t reg(unsigned i) {
  return uint32_t(offsetof(TestCpu, r) + 8 * i);
}

/// A block that adds inc to guest register r, then jumps to pc + 4.
inline std::unique_ptr<exec::TranslationBlock> counter_tb(uint64_t pc, unsigned r, uint64_t inc) {
  auto tb = std::make_unique<exec::TranslationBlock>();
  tb->key.pc = pc;
  tb->ir.guest_pc = pc;
  ir::Emitter e(tb->ir);
  e.insn_start(pc);
  e.set_reg(reg(r), e.add(e.get_reg(ir::Type::I64, reg(r)), e.c64(inc)));
  e.jump(pc + 4);
  return tb;
}

/// The value fake "MMIO" reads return: deterministic, zero-extended to the access size.
inline uint64_t fake_mmio_value(uint64_t vaddr, unsigned size) {
  uint64_t v = 0x9e3779b97f4a7c15ull * (vaddr | 1);
  return size >= 8 ? v : v & ((1ull << (size * 8)) - 1);
}

inline uint64_t fake_slow_load(CpuCommon* c, uint64_t vaddr, uint64_t memop, uint64_t insn_pc) {
  auto* cpu = reinterpret_cast<TestCpu*>(c);
  cpu->slow->calls.push_back({false, vaddr, 0, memop, insn_pc});
  if (vaddr == cpu->slow->fault_vaddr) {
    c->pc = insn_pc;
    c->pending_exit = uint32_t(PendingExit::Exception);
    return 0;
  }
  return fake_mmio_value(vaddr, MemOp::decode(memop).size());
}

inline void fake_slow_store(CpuCommon* c, uint64_t vaddr, uint64_t value, uint64_t memop,
                            uint64_t insn_pc) {
  auto* cpu = reinterpret_cast<TestCpu*>(c);
  cpu->slow->calls.push_back({true, vaddr, value, memop, insn_pc});
  if (cpu->slow->on_store) cpu->slow->on_store(c);
  if (vaddr == cpu->slow->fault_vaddr) {
    c->pc = insn_pc;
    c->pending_exit = uint32_t(PendingExit::Exception);
  }
}

/// The fake atomic slow path: records (write, vaddr, operand, desc, pc) and returns the old
/// value a fake device would hold.
inline uint64_t fake_slow_atomic(CpuCommon* c, uint64_t vaddr, uint64_t operand, uint64_t,
                                 uint64_t desc, uint64_t insn_pc) {
  auto* cpu = reinterpret_cast<TestCpu*>(c);
  cpu->slow->calls.push_back({true, vaddr, operand, desc, insn_pc});
  if (vaddr == cpu->slow->fault_vaddr) {
    c->pc = insn_pc;
    c->pending_exit = uint32_t(PendingExit::Exception);
    return 0;
  }
  return fake_mmio_value(vaddr, MemOp::decode(desc & 0xffffffff).size());
}

inline JitOptions fake_slow_options() {
  JitOptions o;
  o.slow_load = &fake_slow_load;
  o.slow_store = &fake_slow_store;
  o.slow_atomic = &fake_slow_atomic;
  return o;
}

/// Which native code generator a test compiles with: most op, memory and exit-protocol tests
/// run against both, since both must honour the same NativeFn protocol (tcg/exec/tb.h).
enum class Backend { Llvm, Baseline };
inline std::string backend_name(const ::testing::TestParamInfo<Backend>& i) {
  return i.param == Backend::Llvm ? "Llvm" : "Baseline";
}

// Guest memory layout of the fixture.
constexpr uint64_t kRamBase = 0x40000000;  // 4 pages of RAM, read/write, mmu_idx 0 and 1
constexpr unsigned kRamPages = 4;
constexpr uint64_t kRomBase = 0x50010000;       // 1 page, readable only (writes miss)
constexpr uint64_t kAltBase = 0x40000000;       // mmu_idx 3: same vaddr, a different buffer
constexpr uint64_t kNotDirtyBase = 0x60020000;  // 1 page: reads hit, writes take the slow path

class LlvmTest : public ::testing::Test {
 protected:
  struct Tlb {
    softmmu::TlbTable t;
  };

  void SetUp() override {
    std::string err;
    jit_ = LlvmJit::create(fake_slow_options(), err);
    ASSERT_TRUE(jit_) << err;
    code_ = baseline::CodeCache::create(64 << 20, err);
    ASSERT_TRUE(code_) << err;
    tlb_ = std::make_unique<Tlb>();
    for (auto& idx : tlb_->t)
      for (softmmu::TlbEntry& e : idx) e = {~0ull, ~0ull, ~0ull, 0};
    ram_.assign(kRamPages * softmmu::kPageSize, 0);
    rom_.assign(softmmu::kPageSize, 0);
    alt_.assign(softmmu::kPageSize, 0);
    nd_.assign(softmmu::kPageSize, 0);
    for (unsigned p = 0; p < kRamPages; ++p) {
      map(0, kRamBase + p * softmmu::kPageSize, ram_.data() + p * softmmu::kPageSize, true);
      map(1, kRamBase + p * softmmu::kPageSize, ram_.data() + p * softmmu::kPageSize, true);
    }
    map(0, kRomBase, rom_.data(), false);
    map(3, kAltBase, alt_.data(), true);
    map(0, kNotDirtyBase, nd_.data(), true);
    tlb_->t[0][softmmu::tlb_index(kNotDirtyBase)].addr_write |= softmmu::kTlbNotDirty;
    // Every page above has its own TLB slot.
    static_assert(softmmu::tlb_index(kRomBase) >= kRamPages &&
                  softmmu::tlb_index(kNotDirtyBase) >= kRamPages &&
                  softmmu::tlb_index(kRomBase) != softmmu::tlb_index(kNotDirtyBase));
    jc_.reset(new JumpCacheEntry[kJumpCacheEntries]);
    cpu_ = std::make_unique<TestCpu>();
    cpu_->common.tlb = &tlb_->t;
    cpu_->common.jump_cache = jc_.get();
    cpu_->slow = &slow_;
  }

  void map(unsigned mmu_idx, uint64_t vpage, uint8_t* host, bool writable) {
    softmmu::TlbEntry& e = tlb_->t[mmu_idx][softmmu::tlb_index(vpage)];
    e.addr_read = vpage;
    e.addr_write = writable ? vpage : vpage | softmmu::kTlbInvalid;
    e.addr_code = vpage;
    e.addend = uintptr_t(host) - vpage;
  }

  std::unique_ptr<exec::TranslationBlock> new_tb(uint64_t pc = 0x1000) {
    auto tb = std::make_unique<exec::TranslationBlock>();
    tb->key.pc = pc;
    tb->ir.guest_pc = pc;
    return tb;
  }

  /// Verifies and compiles tb; fails the test if either step fails.
  exec::NativeFn compile(exec::TranslationBlock& tb) {
    std::string v = ir::verify(tb.ir);
    EXPECT_EQ(v, "") << ir::print(tb.ir);
    std::string err;
    exec::NativeFn fn =
        backend() == Backend::Baseline ? compile_baseline(tb, err) : jit_->compile(tb, &err);
    EXPECT_NE(fn, nullptr) << err << "\n" << ir::print(tb.ir);
    return fn;
  }
  /// tb's baseline code, whichever the backend under test.
  exec::NativeFn compile_baseline(exec::TranslationBlock& tb, std::string& err) {
    baseline::Options o;
    o.slow_load = &fake_slow_load;
    o.slow_store = &fake_slow_store;
    o.slow_atomic = &fake_slow_atomic;
    o.avx2 = baseline_avx2_;
    return baseline::compile(tb, *code_, o, &err);
  }

  virtual Backend backend() const { return Backend::Llvm; }

  uint64_t run(exec::NativeFn fn) { return fn(&cpu_->common); }

  /// A block compiled for the fixture's backend and built for the interpreter, so that each
  /// input runs on both (tier 0 the compiled code, tier 1 the interpreter); the block must
  /// outlive it.
  struct Tiers {
    exec::NativeFn fn = nullptr;
    std::unique_ptr<interp::Program> prog;
  };
  static constexpr int kBothTiers = 2;
  Tiers both_tiers(exec::TranslationBlock& tb) { return {compile(tb), interp::build(tb.ir, &tb)}; }
  uint64_t run_tier(const Tiers& t, int tier) {
    return tier ? interp::run(*t.prog, &cpu_->common) : run(t.fn);
  }
  static const char* tier_name(int tier) { return tier ? "interp" : "compiled"; }

  std::unique_ptr<LlvmJit> jit_;
  std::unique_ptr<baseline::CodeCache> code_;
  std::unique_ptr<Tlb> tlb_;
  std::vector<uint8_t> ram_, rom_, alt_, nd_;
  std::unique_ptr<JumpCacheEntry[]> jc_;
  std::unique_ptr<TestCpu> cpu_;
  SlowLog slow_;
  bool baseline_avx2_ = true;  // false: the baseline's fallback for hosts without AVX2
};

/// A fixture running each test once per backend.
class BothBackends : public LlvmTest, public ::testing::WithParamInterface<Backend> {
 protected:
  Backend backend() const override { return GetParam(); }
};

}  // namespace orrery::tcg::llvm::test
