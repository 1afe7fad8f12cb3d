// The LLVM tier against the real softmmu slow path (TLB fill, MMIO, faults, page crossing),
// with the interpreter running the same block in an identical second world for comparison.
#include "softmmu_world.h"
#include "tests/unit/fault_translator.h"

namespace orrery::tcg::llvm::test {
namespace {

constexpr uint64_t kRam = 0x10000, kRamSize = 0x10000, kDev = 0x1000;

class Device : public hw::MmioDevice {
 public:
  hw::MemResult read(uint64_t off, unsigned, uint64_t& v) override {
    ++reads;
    v = 0xabcd0000 + off;
    return hw::MemResult::Ok;
  }
  hw::MemResult write(uint64_t, unsigned, uint64_t v) override {
    ++writes;
    last = v;
    return hw::MemResult::Ok;
  }
  hw::AccessRules valid() const override { return {4, 4, false}; }
  int reads = 0, writes = 0;
  uint64_t last = 0;
};

// A page the guest's tables do not map at 0x800000.
struct Translator : tcg::test::FaultTranslator {
  explicit Translator(CpuCommon& c) : FaultTranslator(c, 0x800000) {}
};

struct World : SoftmmuWorld<Translator> {
  World() : SoftmmuWorld(kRam, kRamSize) { EXPECT_EQ(as.add_mmio("dev", kDev, 0x100, dev), ""); }
  Device dev;
};

class SoftmmuTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string err;
    jit_ = LlvmJit::create(err);  // the real slow paths
    ASSERT_TRUE(jit_) << err;
  }

  /// Runs tb natively in w_ and interpreted in iw_; both must return the same result and leave
  /// the same registers and PC. Returns the result.
  uint64_t run_both(exec::TranslationBlock& tb) {
    EXPECT_EQ(ir::verify(tb.ir), "") << ir::print(tb.ir);
    std::string err;
    exec::NativeFn fn = jit_->compile(tb, &err);
    EXPECT_NE(fn, nullptr) << err;
    if (!fn) return ~0ull;
    auto prog = interp::build(tb.ir, &tb);
    uint64_t rn = fn(&w_.cpu.common);
    uint64_t ri = interp::run(*prog, &iw_.cpu.common);
    EXPECT_EQ(rn, ri);
    EXPECT_EQ(w_.cpu.common.pc, iw_.cpu.common.pc);
    EXPECT_EQ(w_.cpu.common.pending_exit, iw_.cpu.common.pending_exit);
    for (unsigned i = 0; i < 16; ++i) EXPECT_EQ(w_.cpu.r[i], iw_.cpu.r[i]) << "r" << i;
    EXPECT_EQ(w_.tr.faults, iw_.tr.faults);
    EXPECT_EQ(w_.tr.align_faults, iw_.tr.align_faults);
    EXPECT_EQ(w_.dev.reads, iw_.dev.reads);
    EXPECT_EQ(w_.dev.writes, iw_.dev.writes);
    return rn;
  }
  void write_both(uint64_t addr, const void* p, uint64_t n) {
    ASSERT_TRUE(w_.as.write_bytes(addr, p, n));
    ASSERT_TRUE(iw_.as.write_bytes(addr, p, n));
  }

  std::unique_ptr<LlvmJit> jit_;
  World w_, iw_;
};

std::unique_ptr<exec::TranslationBlock> new_tb(uint64_t pc) {
  auto tb = std::make_unique<exec::TranslationBlock>();
  tb->key.pc = pc;
  tb->ir.guest_pc = pc;
  return tb;
}

TEST_F(SoftmmuTest, RamMissFillsTlbThenHitsInline) {
  auto tb = new_tb(0x100);
  Emitter e(tb->ir);
  e.insn_start(0x100);
  Value a = e.c64(kRam + 0x10);
  e.store(a, e.c32(0x80000001), MemOp{2, false, 0});
  e.set_reg(reg(0), e.load(Type::I64, a, MemOp{2, true, 0}));
  e.set_reg(reg(1), e.load(Type::I64, e.c64(kRam + 0x11), MemOp{0, false, 0}));
  e.exit(ir::ExitReason::Halt, 0x104, 7);
  EXPECT_EQ(run_both(*tb), exec::make_exit_result(ir::ExitReason::Halt, 7));
  EXPECT_EQ(w_.cpu.r[0], 0xffffffff80000001ull);
  EXPECT_EQ(w_.cpu.r[1], 0u);
  EXPECT_NE(softmmu::tlb_hit(&w_.cpu.common, kRam + 0x10, MemOp{2, false, 0}, false), nullptr);
  // Second run: all hits, same results.
  EXPECT_EQ(run_both(*tb), exec::make_exit_result(ir::ExitReason::Halt, 7));
}

TEST_F(SoftmmuTest, MmioEveryTimeThroughTheDevice) {
  auto tb = new_tb(0x100);
  Emitter e(tb->ir);
  e.insn_start(0x100);
  e.set_reg(reg(0), e.load(Type::I64, e.c64(kDev + 4), MemOp{2, false, 0}));
  e.store(e.c64(kDev + 8), e.c32(0x55), MemOp{2, false, 0});
  e.jump(0x104);
  run_both(*tb);
  run_both(*tb);
  EXPECT_EQ(w_.cpu.r[0], 0xabcd0004u);
  EXPECT_EQ(w_.dev.reads, 2);
  EXPECT_EQ(w_.dev.writes, 2);
  EXPECT_EQ(w_.dev.last, 0x55u);
}

TEST_F(SoftmmuTest, TranslationFaultStopsBeforeLaterSideEffects) {
  auto tb = new_tb(0x100);
  Emitter e(tb->ir);
  e.insn_start(0x100);
  e.set_reg(reg(0), e.c64(1));
  e.insn_start(0x104);
  e.set_reg(reg(2), e.load(Type::I64, e.c64(0x800010), MemOp{3, false, 0}));
  e.insn_start(0x108);
  e.set_reg(reg(1), e.c64(1));
  e.jump(0x10c);
  EXPECT_EQ(run_both(*tb), exec::kRetPending);
  EXPECT_EQ(w_.tr.faults, 1);
  EXPECT_EQ(w_.tr.fault_addr, 0x800010u);
  EXPECT_EQ(w_.cpu.common.pc, 0x104u);
  EXPECT_EQ(w_.cpu.r[0], 1u);
  EXPECT_EQ(w_.cpu.r[1], 0u);
}

TEST_F(SoftmmuTest, BusErrorOnStore) {
  auto tb = new_tb(0x200);
  Emitter e(tb->ir);
  e.insn_start(0x200);
  e.store(e.c64(0x900000), e.c64(1), MemOp{3, false, 0});  // nothing there
  e.insn_start(0x204);
  e.set_reg(reg(1), e.c64(1));
  e.jump(0x208);
  EXPECT_EQ(run_both(*tb), exec::kRetPending);
  EXPECT_EQ(w_.tr.faults, 1);
  EXPECT_EQ(w_.cpu.common.pc, 0x200u);
}

TEST_F(SoftmmuTest, AlignmentFaultOnlyWhenRequired) {
  auto tb = new_tb(0x100);
  Emitter e(tb->ir);
  e.insn_start(0x100);
  e.set_reg(reg(0), e.load(Type::I64, e.c64(kRam + 3), MemOp{2, false, 0}));
  e.insn_start(0x104);
  e.set_reg(reg(1), e.load(Type::I64, e.c64(kRam + 3), MemOp{2, false, 0, true}));
  e.jump(0x108);
  uint64_t v = 0x0807060504030201ull;
  write_both(kRam, &v, 8);
  EXPECT_EQ(run_both(*tb), exec::kRetPending);
  EXPECT_EQ(w_.tr.align_faults, 1);
  EXPECT_EQ(w_.cpu.r[0], 0x07060504u);
  EXPECT_EQ(w_.cpu.common.pc, 0x104u);
}

TEST_F(SoftmmuTest, PageCrossingAccess) {
  uint64_t v = 0x0102030405060708;
  write_both(kRam + 0xffc, &v, 8);
  auto tb = new_tb(0x100);
  Emitter e(tb->ir);
  e.insn_start(0x100);
  e.set_reg(reg(0), e.load(Type::I64, e.c64(kRam + 0xffc), MemOp{3, false, 0}));
  e.store(e.c64(kRam + 0x1ffe), e.c32(0xaabbccdd), MemOp{2, false, 0});
  e.jump(0x104);
  EXPECT_EQ(run_both(*tb), exec::kRetNext);
  EXPECT_EQ(w_.cpu.r[0], v);
  EXPECT_EQ(w_.read64(kRam + 0x1ff8) >> 48, 0xccddu);
  EXPECT_EQ(w_.read64(kRam + 0x2000) & 0xffff, 0xaabbu);
}

// A loop summing guest memory with a counter: many hits, a few misses, compared end to end.
TEST_F(SoftmmuTest, MemoryLoopMatchesInterpreter) {
  std::vector<uint8_t> data(0x3000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = uint8_t(i * 131 + 7);
  write_both(kRam, data.data(), data.size());
  auto tb = new_tb(0x100);
  Emitter e(tb->ir);
  e.insn_start(0x100);
  Value i = e.get_reg(Type::I64, reg(0));
  Value addr = e.add(e.c64(kRam), e.mul(i, e.c64(3)));
  Value w = e.load(Type::I32, addr, MemOp{1, true, 0});  // often misaligned
  Value acc = e.add(e.get_reg(Type::I32, reg(1)), w);
  e.set_reg(reg(1), acc);
  e.store(e.add(addr, e.c64(1)), e.trunc(Type::I8, acc), MemOp{0, false, 0});
  Value n = e.add(i, e.c64(1));
  e.set_reg(reg(0), n);
  e.branch(e.cmp(Cond::Ult, n, e.c64(0x1000)), 0x100, 0x200);
  std::string err;
  exec::NativeFn fn = jit_->compile(*tb, &err);
  ASSERT_NE(fn, nullptr) << err;
  auto prog = interp::build(tb->ir, tb.get());
  while (w_.cpu.common.pc != 0x200) ASSERT_EQ(fn(&w_.cpu.common), exec::kRetNext);
  while (iw_.cpu.common.pc != 0x200) ASSERT_EQ(interp::run(*prog, &iw_.cpu.common), exec::kRetNext);
  EXPECT_EQ(w_.cpu.r[1], iw_.cpu.r[1]);
  std::vector<uint8_t> a(0x3000), b(0x3000);
  ASSERT_TRUE(w_.as.read_bytes(kRam, a.data(), a.size()));
  ASSERT_TRUE(iw_.as.read_bytes(kRam, b.data(), b.size()));
  EXPECT_EQ(a, b);
}

// TLBI by VA drops the jump-cache entries of that page only, and touches just the page's group
// of slots (it used to scan all 4,096 entries on every TLBI, 9% of a Linux boot).
TEST(SoftmmuJumpCache, FlushPageDropsOnlyThatPagesEntries) {
  World w;
  const uint64_t page = 0xffff800008123000ull, other = page + softmmu::kPageSize;
  std::vector<uint64_t> pcs;
  for (uint64_t off = 0; off < softmmu::kPageSize; off += 4 * 37) pcs.push_back(page + off);
  for (uint64_t off = 0; off < softmmu::kPageSize; off += 4 * 41) pcs.push_back(other + off);
  for (uint64_t pc : pcs) {
    w.mmu.note_jump_cache_fill(pc, 0, false);  // as the dispatcher does before every fill
    w.jc[jump_cache_index(pc)].pc.store(pc);
  }
  // One group per page: every entry of a page shares the page's group of slots.
  for (uint64_t pc : pcs)
    EXPECT_EQ(jump_cache_index(pc) >> kJumpCacheGroupBits, jump_cache_group(pc & ~0xfffull));
  w.mmu.flush_page(page + 0x10);
  for (uint64_t pc : pcs) {
    const uint64_t now = w.jc[jump_cache_index(pc)].pc.load();
    if ((pc & ~0xfffull) == page) {
      EXPECT_EQ(now, JumpCacheEntry::kInvalidPc) << std::hex << pc;
    } else if (jump_cache_index(pc) >> kJumpCacheGroupBits != jump_cache_group(page)) {
      // (another page's entry survives unless a later pc of this page took its slot)
      EXPECT_NE(now, JumpCacheEntry::kInvalidPc) << std::hex << pc;
    }
  }
}

// flush_all clears the slots filled since the last flush_all (not all 64K): every filled entry
// goes, in every group, and slots filled after a flush_all are cleared by the next one.
TEST(SoftmmuJumpCache, FlushAllDropsEveryFilledEntryRoundAfterRound) {
  World w;
  auto fill = [&](uint64_t pc) {
    w.mmu.note_jump_cache_fill(pc, 0, false);
    w.jc[jump_cache_index(pc)].pc.store(pc);
  };
  for (int round = 0; round < 3; ++round) {
    std::vector<uint64_t> pcs;
    for (uint64_t page = 0; page < 200; ++page)
      for (uint64_t off = 0; off < softmmu::kPageSize; off += 4 * (97 + round))
        pcs.push_back(0xffff800008000000ull + page * softmmu::kPageSize + off);
    for (uint64_t pc : pcs) fill(pc);
    w.mmu.flush_all();
    for (unsigned i = 0; i < kJumpCacheEntries; ++i)
      ASSERT_EQ(w.jc[i].pc.load(), JumpCacheEntry::kInvalidPc)
          << "round " << round << " slot " << i;
  }
}

// flush_page skips a group holding no block of the page (a per-group filter of start pages,
// rebuilt at each scan): a block refilled after a scan, or kept by a scan for another page of
// the group, is still dropped when its own page is flushed.
TEST(SoftmmuJumpCache, FlushPageFilterKeepsEveryFilledPage) {
  World w;
  const uint64_t a = 0xffff800008123000ull;
  uint64_t b = a + softmmu::kPageSize;  // another page in a's group
  while (jump_cache_group(b) != jump_cache_group(a)) b += softmmu::kPageSize;
  auto fill = [&](uint64_t pc) {
    w.mmu.note_jump_cache_fill(pc, 0, false);
    w.jc[jump_cache_index(pc)].pc.store(pc);
  };
  auto at = [&](uint64_t pc) { return w.jc[jump_cache_index(pc)].pc.load(); };
  fill(a + 0x40);
  fill(b + 0x80);
  w.mmu.flush_page(a);
  EXPECT_EQ(at(a + 0x40), JumpCacheEntry::kInvalidPc);
  EXPECT_EQ(at(b + 0x80), b + 0x80);  // the rebuilt filter still names b
  fill(a + 0x40);                     // refilled after the scan
  w.mmu.flush_page(b);
  EXPECT_EQ(at(b + 0x80), JumpCacheEntry::kInvalidPc);
  EXPECT_EQ(at(a + 0x40), a + 0x40);
  w.mmu.flush_page(a);
  EXPECT_EQ(at(a + 0x40), JumpCacheEntry::kInvalidPc);
  // A flush of a page with no block leaves the group's entries alone.
  fill(b + 0x80);
  w.mmu.flush_page(a);
  EXPECT_EQ(at(b + 0x80), b + 0x80);
  w.mmu.flush_all();
  EXPECT_EQ(at(b + 0x80), JumpCacheEntry::kInvalidPc);
  fill(b + 0x80);  // after a full flush the filter starts again from this fill
  w.mmu.flush_page(b);
  EXPECT_EQ(at(b + 0x80), JumpCacheEntry::kInvalidPc);
}

// Another vCPU registers a page's first block at the moment this vCPU fills a TLB entry for it:
// its protect_code_page() scan cannot see an entry not yet published, so the fill must ask
// whether the page holds code only once its entry is in place, or this vCPU's writes would
// never invalidate the new block. The fake answers "code" only from that moment on.
class LateCodePage : public softmmu::CodePageTracker {
 public:
  bool is_code_page(uint64_t phys_page) const override {
    if (phys_page != page) return false;
    const softmmu::TlbEntry& e = (*tlb)[0][softmmu::tlb_index(page)];
    return (e.addr_read & softmmu::kPageMask) == page;  // our entry is already published
  }
  void invalidate_phys(uint64_t phys, uint64_t) override { invalidated.push_back(phys); }
  uint64_t page = 0;
  const softmmu::TlbTable* tlb = nullptr;
  std::vector<uint64_t> invalidated;
};

TEST(SoftmmuCodePages, FillAsksForCodeAfterPublishingTheEntry) {
  World w;
  LateCodePage code;
  code.page = kRam + 0x3000;
  code.tlb = w.cpu.common.tlb;
  w.mmu.set_code_tracker(&code);
  w.mmu.store(kRam + 0x3010, 0x1234, MemOp{2, false, 0}, 0x100);  // fill, then the write
  EXPECT_EQ(code.invalidated, std::vector<uint64_t>{kRam + 0x3010})
      << "the store went through a TLB entry without the not-dirty flag";
  const softmmu::TlbEntry& e = (*w.cpu.common.tlb)[0][softmmu::tlb_index(kRam + 0x3010)];
  EXPECT_NE(e.addr_write & softmmu::kTlbNotDirty, 0u);
}

// protect_code_page() flags the write side of the entries for its page, found through the
// filter of the pages the TLB maps; after a full flush the filter starts again from the fills.
TEST(SoftmmuCodePages, ProtectFindsEntriesThroughThePageFilter) {
  World w;
  const uint64_t page = kRam + 0x5000;
  auto flagged = [&] {
    const softmmu::TlbEntry& e = (*w.cpu.common.tlb)[0][softmmu::tlb_index(page)];
    EXPECT_EQ(e.addr_write & softmmu::kPageMask, page);
    return (e.addr_write & softmmu::kTlbNotDirty) != 0;
  };
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round ? "after a full flush" : "first fill");
    w.mmu.store(page + 0x10, 1, MemOp{2, false, 0}, 0x100);  // fills the entry
    EXPECT_FALSE(flagged());
    w.mmu.protect_code_page(kRam + 0x6000);  // a page no entry maps
    EXPECT_FALSE(flagged());
    w.mmu.protect_code_page(page);
    EXPECT_TRUE(flagged());
    w.mmu.flush_all();
  }
}

}  // namespace
}  // namespace orrery::tcg::llvm::test
