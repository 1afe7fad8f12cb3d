// Guest memory in the LLVM tier: the inline TLB fast path at every size/sign/result type,
// which accesses miss (misaligned with alignment asked, across a page, flags, other mmu_idx), what
// the slow path receives, and faults leaving the block before later side effects.
#include "llvm_test_util.h"

namespace orrery::tcg::llvm::test {
namespace {

class MemTest : public BothBackends {};
class MemTestLlvm : public LlvmTest {};  // inspects LLVM IR

uint64_t mask_of(unsigned w) {
  return w >= 64 ? ~0ull : (1ull << w) - 1;
}
uint64_t extend(uint64_t v, unsigned size, bool sign, unsigned w) {
  unsigned sb = size * 8;
  v &= mask_of(sb);
  if (sign && sb < 64 && (v >> (sb - 1)) & 1) v |= ~mask_of(sb);
  return v & mask_of(w);
}

TEST_P(MemTest, LoadsHitEverySizeSignAndType) {
  for (unsigned i = 0; i < 64; ++i) ram_[i] = uint8_t(0x81 + 0x37 * i);
  struct Out {
    unsigned size;
    bool sign;
    Type t;
    uint64_t off;
  };
  std::vector<Out> outs;
  auto tb = new_tb();
  Emitter e(tb->ir);
  e.insn_start(0x1000);
  Value base = e.get_reg(Type::I64, reg(0));
  for (unsigned lg = 0; lg < 4; ++lg)
    for (bool sign : {false, true})
      for (Type t : {Type::I8, Type::I16, Type::I32, Type::I64}) {
        if (ir::bits(t) < (8u << lg)) continue;
        uint64_t off = (outs.size() * 8) % 48;  // aligned for every size
        Value v = e.load(t, e.add(base, e.c64(off)), MemOp{uint8_t(lg), sign, 0});
        e.set_reg(reg(8 + unsigned(outs.size())), v);
        outs.push_back({1u << lg, sign, t, off});
      }
  e.jump(0x2000);
  exec::NativeFn fn = compile(*tb);
  ASSERT_NE(fn, nullptr);
  auto prog = interp::build(tb->ir, tb.get());
  TestCpu icpu;
  icpu.common.tlb = &tlb_->t;
  for (TestCpu* c : {cpu_.get(), &icpu}) {
    c->r[0] = kRamBase + 8;
    for (size_t k = 0; k < outs.size(); ++k) c->r[8 + k] = 0xdededededededede;
  }
  ASSERT_EQ(run(fn), exec::kRetNext);
  ASSERT_EQ(interp::run(*prog, &icpu.common), exec::kRetNext);
  EXPECT_TRUE(slow_.calls.empty());
  for (size_t k = 0; k < outs.size(); ++k) {
    const Out& o = outs[k];
    uint64_t raw = 0;
    std::memcpy(&raw, &ram_[8 + o.off], o.size);
    unsigned w = ir::bits(o.t);
    uint64_t want = (0xdedededededededeull & ~mask_of(w)) | extend(raw, o.size, o.sign, w);
    EXPECT_EQ(cpu_->r[8 + k], want) << "size " << o.size << " sign " << o.sign << " w " << w;
    EXPECT_EQ(icpu.r[8 + k], want) << "interp";
  }
}

TEST_P(MemTest, StoresHitEverySizeAndType) {
  auto tb = new_tb();
  Emitter e(tb->ir);
  Value base = e.get_reg(Type::I64, reg(0));
  unsigned k = 0;
  for (unsigned lg = 0; lg < 4; ++lg)
    for (Type t : {Type::I8, Type::I16, Type::I32, Type::I64}) {
      if (ir::bits(t) < (8u << lg)) continue;
      e.store(e.add(base, e.c64(16 * k)), e.get_reg(t, reg(1)), MemOp{uint8_t(lg), false, 1});
      ++k;
    }
  e.jump(0x2000);
  exec::NativeFn fn = compile(*tb);
  ASSERT_NE(fn, nullptr);
  std::fill(ram_.begin(), ram_.end(), 0xee);
  cpu_->r[0] = kRamBase + 0x100;
  cpu_->r[1] = 0x0807060504030201ull;
  ASSERT_EQ(run(fn), exec::kRetNext);
  EXPECT_TRUE(slow_.calls.empty());
  k = 0;
  for (unsigned lg = 0; lg < 4; ++lg)
    for (Type t : {Type::I8, Type::I16, Type::I32, Type::I64}) {
      if (ir::bits(t) < (8u << lg)) continue;
      const uint8_t* p = &ram_[0x100 + 16 * k];
      for (unsigned i = 0; i < 16; ++i)
        EXPECT_EQ(p[i], i < (1u << lg) ? i + 1 : 0xee) << "store " << k << " byte " << i;
      ++k;
    }
}

// Anything the one-compare fast path cannot prove is a plain RAM access goes to the slow path,
// with the vaddr, the MemOp and the PC of the guest instruction doing the access.
TEST_P(MemTest, MissesReachSlowPathWithInsnPc) {
  struct Probe {
    uint64_t vaddr;
    MemOp m;
    bool expect_miss;
  };
  const Probe probes[] = {
      {kRamBase + 8, MemOp{3, false, 0}, false},  // plain hit
      {kRamBase + 1, MemOp{2, false, 0}, false},  // misaligned in the page, align not asked
      {kRamBase + softmmu::kPageSize - 7, MemOp{3, false, 0}, true},  // misaligned, crosses
      {kRamBase + 2, MemOp{1, false, 0, true}, false},                // aligned, align asked
      {kRamBase + 3, MemOp{1, false, 0, true}, true},                 // misaligned, align asked
      {kRamBase + softmmu::kPageSize - 2, MemOp{2, false, 0}, true},  // crosses a page
      {0x12345000, MemOp{0, false, 0}, true},                         // unmapped page
      {kRamBase + 8, MemOp{0, false, 2}, true},                       // mmu_idx 2 has no entry
      {kAltBase + 8, MemOp{0, false, 3}, false},                      // mmu_idx 3 does
      {kNotDirtyBase + 8, MemOp{3, false, 0}, false},                 // NotDirty only hits writes
  };
  auto tb = new_tb(0x7000);
  Emitter e(tb->ir);
  unsigned k = 0;
  e.load(Type::I64, e.c64(kRamBase + softmmu::kPageSize - 1),
         MemOp{3, false, 0});  // no InsnStart yet
  for (const Probe& p : probes) {
    e.insn_start(0x7000 + 4 * k);
    e.set_reg(reg(8 + k), e.load(Type::I64, e.get_reg(Type::I64, reg(100 + k)), p.m));
    ++k;
  }
  e.jump(0x2000);
  exec::NativeFn fn = compile(*tb);
  ASSERT_NE(fn, nullptr);
  for (unsigned i = 0; i < k; ++i) cpu_->r[100 + i] = probes[i].vaddr;
  alt_[8] = 0x5a;
  ASSERT_EQ(run(fn), exec::kRetNext);
  ASSERT_FALSE(slow_.calls.empty());
  EXPECT_EQ(slow_.calls[0].insn_pc, 0x7000u) << "no InsnStart yet: the block's PC";
  size_t c = 1;
  for (unsigned i = 0; i < k; ++i) {
    const Probe& p = probes[i];
    if (p.expect_miss) {
      ASSERT_LT(c, slow_.calls.size()) << "probe " << i << " did not miss";
      EXPECT_FALSE(slow_.calls[c].write);
      EXPECT_EQ(slow_.calls[c].vaddr, p.vaddr) << "probe " << i;
      EXPECT_EQ(slow_.calls[c].memop, p.m.encode()) << "probe " << i;
      EXPECT_EQ(slow_.calls[c].insn_pc, 0x7000u + 4 * i) << "probe " << i;
      EXPECT_EQ(cpu_->r[8 + i], fake_mmio_value(p.vaddr, p.m.size())) << "probe " << i;
      ++c;
    } else if (c < slow_.calls.size()) {
      EXPECT_NE(slow_.calls[c].vaddr, p.vaddr) << "probe " << i << " should hit";
    }
  }
  EXPECT_EQ(c, slow_.calls.size());
  EXPECT_EQ(cpu_->r[8 + 8], 0x5au);  // mmu_idx 3 reads its own buffer
}

// The slow path's value is narrowed to the access size and extended like a fast-path load.
TEST_P(MemTest, SlowLoadValueIsExtended) {
  auto tb = new_tb();
  Emitter e(tb->ir);
  Value a = e.c64(0x12345000);
  for (unsigned lg = 0; lg < 3; ++lg) {
    e.set_reg(reg(8 + 2 * lg), e.load(Type::I64, a, MemOp{uint8_t(lg), true, 0}));
    e.set_reg(reg(9 + 2 * lg), e.load(Type::I32, a, MemOp{uint8_t(lg), false, 0}));
  }
  e.jump(0x2000);
  exec::NativeFn fn = compile(*tb);
  ASSERT_NE(fn, nullptr);
  ASSERT_EQ(run(fn), exec::kRetNext);
  for (unsigned lg = 0; lg < 3; ++lg) {
    uint64_t v = fake_mmio_value(0x12345000, 1u << lg);
    EXPECT_EQ(cpu_->r[8 + 2 * lg], extend(v, 1u << lg, true, 64)) << lg;
    EXPECT_EQ(cpu_->r[9 + 2 * lg] & 0xffffffff, extend(v, 1u << lg, false, 32)) << lg;
  }
}

TEST_P(MemTest, StoreMissPassesZeroExtendedValue) {
  auto tb = new_tb(0x3000);
  Emitter e(tb->ir);
  e.insn_start(0x3000);
  e.store(e.c64(kRomBase + 4), e.c32(0x80000001), MemOp{2, false, 0});  // read-only page
  e.insn_start(0x3004);
  e.store(e.c64(kNotDirtyBase + 8), e.konst(Type::I16, 0xbeef), MemOp{1, false, 0});
  e.insn_start(0x3008);
  e.store(e.c64(kRamBase + 16), e.c64(0x1122334455667788), MemOp{3, false, 0});  // hit
  e.jump(0x2000);
  exec::NativeFn fn = compile(*tb);
  ASSERT_NE(fn, nullptr);
  ASSERT_EQ(run(fn), exec::kRetNext);
  ASSERT_EQ(slow_.calls.size(), 2u);
  EXPECT_TRUE(slow_.calls[0].write);
  EXPECT_EQ(slow_.calls[0].vaddr, kRomBase + 4);
  EXPECT_EQ(slow_.calls[0].value, 0x80000001u);
  EXPECT_EQ(slow_.calls[0].insn_pc, 0x3000u);
  EXPECT_EQ(slow_.calls[1].value, 0xbeefu);
  EXPECT_EQ(slow_.calls[1].insn_pc, 0x3004u);
  EXPECT_EQ(rom_[4], 0);  // the fast path did not write
  uint64_t v;
  std::memcpy(&v, &ram_[16], 8);
  EXPECT_EQ(v, 0x1122334455667788u);
}

TEST_P(MemTest, FaultingLoadStopsBeforeLaterSideEffects) {
  auto tb = new_tb(0x5000);
  Emitter e(tb->ir);
  e.insn_start(0x5000);
  e.set_reg(reg(0), e.c64(1));
  e.store(e.c64(kRamBase), e.konst(Type::I8, 0x11), MemOp{0, false, 0});
  e.insn_start(0x5004);
  Value v = e.load(Type::I64, e.c64(0x12345678), MemOp{0, false, 0});
  e.insn_start(0x5008);
  e.set_reg(reg(1), v);
  e.store(e.c64(kRamBase + 1), e.konst(Type::I8, 0x22), MemOp{0, false, 0});
  e.jump(0x2000);
  exec::NativeFn fn = compile(*tb);
  ASSERT_NE(fn, nullptr);
  slow_.fault_vaddr = 0x12345678;
  cpu_->r[1] = 77;
  EXPECT_EQ(run(fn), exec::kRetPending);
  EXPECT_EQ(cpu_->common.pc, 0x5004u);
  EXPECT_EQ(cpu_->r[0], 1u);
  EXPECT_EQ(cpu_->r[1], 77u);
  EXPECT_EQ(ram_[0], 0x11);
  EXPECT_EQ(ram_[1], 0);
}

TEST_P(MemTest, FaultingStoreStopsBeforeLaterSideEffects) {
  auto tb = new_tb(0x5000);
  Emitter e(tb->ir);
  e.insn_start(0x5000);
  e.store(e.c64(0x9000), e.c64(5), MemOp{3, false, 0});
  e.insn_start(0x5004);
  e.set_reg(reg(1), e.c64(9));
  e.jump(0x2000);
  exec::NativeFn fn = compile(*tb);
  ASSERT_NE(fn, nullptr);
  slow_.fault_vaddr = 0x9000;
  EXPECT_EQ(run(fn), exec::kRetPending);
  EXPECT_EQ(cpu_->common.pc, 0x5000u);
  EXPECT_EQ(cpu_->r[1], 0u);
}

// A TLB refill between two runs is seen: generated code reloads cpu->tlb entries every time.
TEST_P(MemTest, TlbChangesTakeEffect) {
  auto tb = new_tb();
  Emitter e(tb->ir);
  e.set_reg(reg(0), e.load(Type::I64, e.c64(0x70000010), MemOp{3, false, 0}));
  e.jump(0x2000);
  exec::NativeFn fn = compile(*tb);
  ASSERT_NE(fn, nullptr);
  run(fn);
  EXPECT_EQ(slow_.calls.size(), 1u);
  ram_[0x10] = 0x42;
  map(0, 0x70000000, ram_.data(), true);
  run(fn);
  EXPECT_EQ(slow_.calls.size(), 1u);
  EXPECT_EQ(cpu_->r[0], 0x42u);
}

TEST_F(MemTestLlvm, FencesCompileToBarriers) {
  auto tb = new_tb();
  Emitter e(tb->ir);
  e.store(e.c64(kRamBase), e.c64(1), MemOp{3, false, 0});
  e.fence(ir::FenceKind::Full);
  e.fence(ir::FenceKind::Load);
  e.fence(ir::FenceKind::Store);
  e.fence(ir::FenceKind::Instruction);
  e.set_reg(reg(0), e.load(Type::I64, e.c64(kRamBase), MemOp{3, false, 0}));
  e.jump(0x2000);
  std::string err;
  // Unoptimised: LLVM rightly folds the weaker fences into the adjacent full barrier. The full
  // one is a locked OR on the stack, not LLVM's seq_cst fence (an mfence, ~8x slower here).
  std::string text = jit_->ir_text(*tb, false, &err);
  ASSERT_EQ(err, "");
  EXPECT_NE(text.find("lock orl $$0, (%rsp)"), std::string::npos) << text;
  EXPECT_EQ(text.find("fence seq_cst"), std::string::npos) << text;
  EXPECT_NE(text.find("fence acquire"), std::string::npos) << text;
  EXPECT_NE(text.find("fence release"), std::string::npos) << text;
  EXPECT_NE(text.find("syncscope(\"singlethread\") seq_cst"), std::string::npos) << text;
  exec::NativeFn fn = compile(*tb);
  ASSERT_NE(fn, nullptr);
  EXPECT_EQ(run(fn), exec::kRetNext);
  EXPECT_EQ(cpu_->r[0], 1u);
}

uint64_t h_twice(CpuCommon*, uint64_t a, uint64_t, uint64_t) {
  return a * 2;
}
constexpr ir::Helper kTwice{"mem_test_twice", h_twice};

// FastISel gives up on atomic loads and on large-code-model globals, and SelectionDAG then
// selects the rest of the basic block (usually the block's whole body) at several times the
// cost. The words other threads write are volatile loads (BlockLowering::load_shared) and the
// outside symbols plain external globals (reached through the GOT); the code still runs.
TEST_F(MemTestLlvm, SharedWordsAndSymbolsStaySelectableByFastIsel) {
  auto tb = new_tb();
  Emitter e(tb->ir);
  Value v = e.load(Type::I64, e.c64(kRamBase), MemOp{3, false, 0});
  e.set_reg(reg(0), e.call(kTwice, {v}));
  e.branch(e.cmp(ir::Cond::Ne, v, e.c64(0)), 0x2000, 0x3000);
  std::string err;
  for (bool optimized : {false, true}) {
    const std::string text = jit_->ir_text(*tb, optimized, &err);
    ASSERT_EQ(err, "");
    EXPECT_EQ(text.find("load atomic"), std::string::npos) << text;
    EXPECT_NE(text.find("load volatile i32"), std::string::npos) << text;  // exit_request
    EXPECT_NE(text.find("load volatile i64"), std::string::npos) << text;  // jump cache tag
  }
  const uint64_t in = 21;
  std::memcpy(&ram_[0], &in, 8);
  exec::NativeFn fn = compile(*tb);
  ASSERT_NE(fn, nullptr);
  EXPECT_EQ(run(fn), exec::kRetNext);
  EXPECT_EQ(cpu_->r[0], 42u);
  EXPECT_EQ(cpu_->common.pc, 0x2000u);  // 21 != 0: the taken side
}

INSTANTIATE_TEST_SUITE_P(Backends, MemTest, ::testing::Values(Backend::Llvm, Backend::Baseline),
                         backend_name);

}  // namespace
}  // namespace orrery::tcg::llvm::test
