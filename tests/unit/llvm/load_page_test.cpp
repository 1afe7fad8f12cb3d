// Loads inside a compiled loop remember the page of their last TLB hit (lower.h,
// plan_load_pages): the result must be what a probe per access gives, across pages, at
// page-crossing accesses, and after a helper or a slow path changed the TLB.
#include "llvm_test_util.h"

namespace orrery::tcg::llvm::test {
namespace {

class LoadPageTest : public LlvmTest {
 protected:
  void SetUp() override {
    LlvmTest::SetUp();
    for (size_t i = 0; i < ram_.size(); ++i) ram_[i] = uint8_t(i * 7 + (i >> 8));
    for (size_t i = 0; i < alt_.size(); ++i) alt_[i] = uint8_t(i * 13 + 5);
  }
  // The guest's view of an 8-byte little-endian quadword in buf.
  static uint64_t quad(const std::vector<uint8_t>& buf, size_t off) {
    uint64_t v = 0;
    std::memcpy(&v, buf.data() + off, 8);
    return v;
  }
  // One block looping on itself: r2 += load64(base + (r0 [& index_mask]) * step); [helper];
  // [store r0 to kRomBase]; r0 += inc; loop while r0 != r1, then exit to 0x900.
  std::unique_ptr<exec::TranslationBlock> loop(uint64_t base, uint64_t step, uint64_t inc,
                                               const ir::Helper* helper = nullptr,
                                               bool rom_store = false, uint64_t index_mask = 0) {
    auto tb = new_tb(0x100);
    Emitter e(tb->ir);
    e.insn_start(0x100);
    Value i = e.get_reg(Type::I64, reg(0));
    Value index = index_mask ? e.and_(i, e.c64(index_mask)) : i;
    Value v = e.load(Type::I64, e.add(e.c64(base), e.mul(index, e.c64(step))), MemOp{3});
    e.set_reg(reg(2), e.add(e.get_reg(Type::I64, reg(2)), v));
    e.insn_start(0x104);
    if (helper) e.call(*helper);
    if (rom_store) e.store(e.c64(kRomBase), e.get_reg(Type::I64, reg(0)), MemOp{3});
    Value n = e.add(e.get_reg(Type::I64, reg(0)), e.c64(inc));
    e.set_reg(reg(0), n);
    e.branch(e.cmp(Cond::Ne, n, e.get_reg(Type::I64, reg(1))), 0x100, 0x900);
    return tb;
  }
};

// At r0 == 20: RAM's first page now maps to the alt buffer (mmu_idx 3's page).
void remap_first_page(CpuCommon* c) {
  if (reinterpret_cast<TestCpu*>(c)->r[0] != 20) return;
  (*c->tlb)[0][softmmu::tlb_index(kRamBase)] = (*c->tlb)[3][softmmu::tlb_index(kAltBase)];
}
uint64_t h_remap(CpuCommon* c, uint64_t, uint64_t, uint64_t) {
  remap_first_page(c);
  return 0;
}
constexpr ir::Helper kRemap{"remap_first_page", h_remap};

TEST_F(LoadPageTest, LoopOverSeveralPagesReadsEveryPage) {
  auto tb = loop(kRamBase, 8, 1);
  exec::NativeFn fn = compile(*tb);
  ASSERT_TRUE(fn);
  cpu_->r[1] = kRamPages * softmmu::kPageSize / 8;
  EXPECT_EQ(run(fn), exec::kRetNext);
  uint64_t sum = 0;
  for (size_t off = 0; off < ram_.size(); off += 8) sum += quad(ram_, off);
  EXPECT_EQ(cpu_->r[2], sum);
  EXPECT_EQ(cpu_->common.pc, 0x900u);
  EXPECT_TRUE(slow_.calls.empty());
}

TEST_F(LoadPageTest, AccessCrossingIntoTheRememberedPageTakesTheSlowPath) {
  // 8-byte loads 4 bytes apart, downwards from page 1 (remembered by the aligned ones) into
  // page 0, which maps elsewhere: the access at 0xffc has its last byte on page 1 and its
  // first on page 0, so page 1's addend is wrong for it; it must miss like any access that
  // crosses a page. The misaligned ones within a page hit through the probe.
  map(0, kRamBase, alt_.data(), true);
  auto tb = loop(kRamBase, 4, ~0ull);  // r0 -= 1
  exec::NativeFn fn = compile(*tb);
  ASSERT_TRUE(fn);
  cpu_->r[0] = 1200;
  cpu_->r[1] = 800;
  EXPECT_EQ(run(fn), exec::kRetNext);
  uint64_t sum = 0;
  for (uint64_t i = 1200; i > 800; --i) {
    const uint64_t off = i * 4;
    if (off == 0xffc)
      sum += fake_mmio_value(kRamBase + off, 8);
    else
      sum += off < 0x1000 ? quad(alt_, off) : quad(ram_, off);
  }
  EXPECT_EQ(cpu_->r[2], sum);
  ASSERT_EQ(slow_.calls.size(), 1u);
  EXPECT_EQ(slow_.calls[0].vaddr, kRamBase + 0xffc);
}

TEST_F(LoadPageTest, AccessCrossingOutOfTheRememberedPageTakesTheSlowPath) {
  map(0, kRamBase + softmmu::kPageSize, alt_.data(), true);
  auto tb = loop(kRamBase, 4, 1);
  exec::NativeFn fn = compile(*tb);
  ASSERT_TRUE(fn);
  cpu_->r[0] = 800;
  cpu_->r[1] = 1200;
  EXPECT_EQ(run(fn), exec::kRetNext);
  uint64_t sum = 0;
  for (uint64_t i = 800; i < 1200; ++i) {
    const uint64_t off = i * 4;
    if (off == 0xffc)
      sum += fake_mmio_value(kRamBase + off, 8);
    else
      sum += off < 0x1000 ? quad(ram_, off) : quad(alt_, off - 0x1000);
  }
  EXPECT_EQ(cpu_->r[2], sum);
  ASSERT_EQ(slow_.calls.size(), 1u);
  EXPECT_EQ(slow_.calls[0].vaddr, kRamBase + 0xffc);
}

// Iterations up to 20 read RAM, later ones the buffer the helper or slow path mapped there.
uint64_t remapped_sum(const std::vector<uint8_t>& ram, const std::vector<uint8_t>& alt) {
  uint64_t sum = 0;
  for (uint64_t i = 0; i < 40; ++i) {
    uint64_t v = 0;
    std::memcpy(&v, (i <= 20 ? ram : alt).data() + (i % 16) * 8, 8);
    sum += v;
  }
  return sum;
}

TEST_F(LoadPageTest, HelperThatChangesTheTlbIsSeenByTheNextLoad) {
  auto tb = loop(kRamBase, 8, 1, &kRemap, false, 15);
  exec::NativeFn fn = compile(*tb);
  ASSERT_TRUE(fn);
  cpu_->r[1] = 40;
  EXPECT_EQ(run(fn), exec::kRetNext);
  EXPECT_EQ(cpu_->r[2], remapped_sum(ram_, alt_));
}

TEST_F(LoadPageTest, SlowPathThatChangesTheTlbIsSeenByTheNextLoad) {
  // A store to ROM takes the slow path every iteration; at r0 == 20 it remaps RAM's first page
  // as a device access may change the memory map.
  slow_.on_store = &remap_first_page;
  auto tb = loop(kRamBase, 8, 1, nullptr, true, 15);
  exec::NativeFn fn = compile(*tb);
  ASSERT_TRUE(fn);
  cpu_->r[1] = 40;
  EXPECT_EQ(run(fn), exec::kRetNext);
  EXPECT_EQ(cpu_->r[2], remapped_sum(ram_, alt_));
  EXPECT_EQ(slow_.calls.size(), 40u);
}

TEST_F(LoadPageTest, FaultAfterRememberedHitsLeavesExactState) {
  // RAM ends after kRamPages pages: the first load past it misses and faults.
  auto tb = loop(kRamBase, 8, 1);
  exec::NativeFn fn = compile(*tb);
  ASSERT_TRUE(fn);
  const uint64_t n = kRamPages * softmmu::kPageSize / 8;
  slow_.fault_vaddr = kRamBase + n * 8;
  cpu_->r[1] = n + 10;
  EXPECT_EQ(run(fn), exec::kRetPending);
  EXPECT_EQ(cpu_->r[0], n);
  EXPECT_EQ(cpu_->common.pc, 0x100u);
  uint64_t sum = 0;
  for (size_t off = 0; off < ram_.size(); off += 8) sum += quad(ram_, off);
  EXPECT_EQ(cpu_->r[2], sum);
}

}  // namespace
}  // namespace orrery::tcg::llvm::test
