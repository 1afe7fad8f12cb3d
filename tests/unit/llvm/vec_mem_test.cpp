// VecLoad/VecStore (16-byte guest memory) on the three tiers against the real softmmu: the
// interpreter, the baseline tier and the LLVM tier each run the same block in a world of their
// own (RAM, a device, a page the guest's tables do not map) and must agree on values, memory,
// faults and the faulting PC: inline TLB hits, misses, page crossing, the required alignment
// (x86 #GP) before translation faults, the guest's alignment check, and a store whose second
// page faults leaving memory unchanged.
#include "hw/core/address_space.h"
#include "llvm_test_util.h"
#include "tcg/softmmu/softmmu.h"

namespace orrery::tcg::llvm::test {
namespace {

constexpr uint64_t kRam = 0x10000, kRamSize = 0x10000;
constexpr uint64_t kUnmapped = 0x20000;  // the page just past RAM: a translation fault

class Translator : public softmmu::PageTranslator {
 public:
  explicit Translator(CpuCommon& c) : cpu(c) {}
  bool translate(uint64_t vaddr, softmmu::Access, unsigned, softmmu::Translation& out) override {
    if (vaddr >= kUnmapped && vaddr < kUnmapped + softmmu::kPageSize) {
      ++faults;
      fault_addr = vaddr;
      cpu.pending_exit = uint32_t(PendingExit::Exception);
      return false;
    }
    out.phys = vaddr;
    return true;
  }
  void raise_bus_error(uint64_t vaddr, uint64_t, softmmu::Access) override {
    ++faults;
    fault_addr = vaddr;
    cpu.pending_exit = uint32_t(PendingExit::Exception);
  }
  void raise_alignment_fault(uint64_t vaddr, softmmu::Access) override {
    ++align_faults;
    fault_addr = vaddr;
    cpu.pending_exit = uint32_t(PendingExit::Exception);
  }
  void raise_required_alignment_fault(uint64_t vaddr, softmmu::Access) override {
    ++required_faults;
    fault_addr = vaddr;
    cpu.pending_exit = uint32_t(PendingExit::Exception);
  }
  CpuCommon& cpu;
  int faults = 0, align_faults = 0, required_faults = 0;
  uint64_t fault_addr = 0;
};

struct World {
  World() {
    EXPECT_EQ(as.add_ram("ram", kRam, kRamSize), "");
    jc.reset(new JumpCacheEntry[kJumpCacheEntries]);
    cpu.common.jump_cache = jc.get();
    for (uint64_t a = 0; a < kRamSize; a += 8) {
      const uint64_t v = 0x9e3779b97f4a7c15ull * (a + 1);
      EXPECT_TRUE(as.write_bytes(kRam + a, &v, 8));
    }
  }
  uint64_t read64(uint64_t addr) {
    uint64_t v = 0;
    EXPECT_TRUE(as.read_bytes(addr, &v, 8));
    return v;
  }
  TestCpu cpu;
  std::unique_ptr<JumpCacheEntry[]> jc;
  hw::AddressSpace as;
  Translator tr{cpu.common};
  softmmu::Softmmu mmu{cpu.common, as, tr};
};

enum Tier { kInterp, kBaseline, kLlvm, kNumTiers };
const char* const kTierNames[] = {"interp", "baseline", "llvm"};

class VecMemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string err;
    jit_ = LlvmJit::create(err);  // the real slow paths
    ASSERT_TRUE(jit_) << err;
    code_ = baseline::CodeCache::create(16 << 20, err);
    ASSERT_TRUE(code_) << err;
  }

  /// Runs tb on every tier (each in its own world); all must agree with the interpreter on
  /// the result, PC, registers r0..r15, faults and the RAM. Returns the result.
  uint64_t run_all(exec::TranslationBlock& tb) {
    EXPECT_EQ(ir::verify(tb.ir), "") << ir::print(tb.ir);
    std::string err;
    exec::NativeFn llvm_fn = jit_->compile(tb, &err);
    EXPECT_NE(llvm_fn, nullptr) << err;
    exec::NativeFn base_fn = baseline::compile(tb, *code_, baseline::Options{}, &err);
    EXPECT_NE(base_fn, nullptr) << err;
    if (!llvm_fn || !base_fn) return ~0ull;
    auto prog = interp::build(tb.ir, &tb);
    uint64_t ret[kNumTiers];
    for (unsigned t = 0; t < kNumTiers; ++t) {
      CpuCommon* c = &w_[t].cpu.common;
      c->pending_exit = 0;
      ret[t] = t == kInterp ? interp::run(*prog, c) : t == kBaseline ? base_fn(c) : llvm_fn(c);
    }
    World& ref = w_[kInterp];
    for (unsigned t = 1; t < kNumTiers; ++t) {
      World& w = w_[t];
      const char* who = kTierNames[t];
      EXPECT_EQ(ret[t], ret[kInterp]) << who;
      EXPECT_EQ(w.cpu.common.pc, ref.cpu.common.pc) << who;
      EXPECT_EQ(w.cpu.common.pending_exit, ref.cpu.common.pending_exit) << who;
      for (unsigned i = 0; i < 16; ++i) EXPECT_EQ(w.cpu.r[i], ref.cpu.r[i]) << who << " r" << i;
      EXPECT_EQ(w.tr.faults, ref.tr.faults) << who;
      EXPECT_EQ(w.tr.align_faults, ref.tr.align_faults) << who;
      EXPECT_EQ(w.tr.required_faults, ref.tr.required_faults) << who;
      EXPECT_EQ(w.tr.fault_addr, ref.tr.fault_addr) << who;
      for (uint64_t a = 0; a < kRamSize; a += 8)
        if (w.read64(kRam + a) != ref.read64(kRam + a)) {
          ADD_FAILURE() << who << " RAM differs at " << std::hex << kRam + a;
          break;
        }
    }
    return ret[kInterp];
  }

  /// A block: at pc 0x100, r0/r1 = the 16 bytes at `from`; at 0x104 they are stored at `to`.
  std::unique_ptr<exec::TranslationBlock> copy_block(uint64_t from, uint64_t to, MemOp m) {
    auto tb = std::make_unique<exec::TranslationBlock>();
    tb->key.pc = tb->ir.guest_pc = 0x100;
    Emitter e(tb->ir);
    e.insn_start(0x100);
    Value v = e.vec_load(e.c64(from), m);
    e.set_reg(reg(0), v);
    e.insn_start(0x104);
    e.vec_store(e.c64(to), v, m);
    e.jump(0x108);
    return tb;
  }

  std::unique_ptr<LlvmJit> jit_;
  std::unique_ptr<baseline::CodeCache> code_;
  World w_[kNumTiers];
};

TEST_F(VecMemTest, AlignedAndMisalignedWithinAPageMissThenHit) {
  for (uint64_t off : {0x40, 0x43, 0x48, 0x4f}) {
    auto tb = copy_block(kRam + off, kRam + 0x3000 + 2 * off, MemOp{});
    for (int round = 0; round < 2; ++round) {  // the first fills the TLB, the second hits
      EXPECT_EQ(run_all(*tb), exec::kRetNext) << off;
      World& w = w_[kLlvm];
      EXPECT_EQ(w.cpu.r[0], w.read64(kRam + off)) << off;
      EXPECT_EQ(w.cpu.r[1], w.read64(kRam + off + 8)) << off;
      EXPECT_EQ(w.read64(kRam + 0x3000 + 2 * off), w.read64(kRam + off)) << off;
      EXPECT_EQ(w.read64(kRam + 0x3008 + 2 * off), w.read64(kRam + off + 8)) << off;
    }
  }
  MemOp m;
  m.size_log2 = 4;
  EXPECT_NE(softmmu::tlb_hit_vec(&w_[kLlvm].cpu.common, kRam + 0x43, m, false), nullptr);
  EXPECT_EQ(softmmu::tlb_hit_vec(&w_[kLlvm].cpu.common, kRam + 0xff9, m, false), nullptr);
}

TEST_F(VecMemTest, PageCrossingLoadsAndStores) {
  for (uint64_t off : {0xff1, 0xff8, 0xffc}) {
    auto tb = copy_block(kRam + off, kRam + 0x2000 + off, MemOp{});
    EXPECT_EQ(run_all(*tb), exec::kRetNext);
    World& w = w_[kBaseline];
    uint64_t want[2], got[2];
    ASSERT_TRUE(w.as.read_bytes(kRam + off, want, 16));
    ASSERT_TRUE(w.as.read_bytes(kRam + 0x2000 + off, got, 16));
    EXPECT_EQ(w.cpu.r[0], want[0]);
    EXPECT_EQ(w.cpu.r[1], want[1]);
    EXPECT_EQ(got[0], want[0]);
    EXPECT_EQ(got[1], want[1]);
  }
}

// x86 writes nothing when the second page of a 16-byte store faults.
TEST_F(VecMemTest, StoreWhoseSecondPageFaultsWritesNothing) {
  const uint64_t to = kUnmapped - 8;
  const uint64_t before = w_[kInterp].read64(to);
  auto tb = copy_block(kRam + 0x100, to, MemOp{});
  EXPECT_EQ(run_all(*tb), exec::kRetPending);
  for (World& w : w_) {
    EXPECT_EQ(w.tr.faults, 1);
    EXPECT_EQ(w.tr.fault_addr, kUnmapped);
    EXPECT_EQ(w.cpu.common.pc, 0x104u);
    EXPECT_EQ(w.read64(to), before);
  }
  // A load crossing into the page faults too (and the register keeps its old value).
  for (World& w : w_) w.cpu.r[0] = 0x77;
  auto ld = copy_block(kUnmapped - 4, kRam, MemOp{});
  EXPECT_EQ(run_all(*ld), exec::kRetPending);
  EXPECT_EQ(w_[kLlvm].cpu.r[0], 0x77u);
  EXPECT_EQ(w_[kLlvm].cpu.common.pc, 0x100u);
}

// MemOp::required: a misaligned access faults before its translation (x86 #GP(0) comes before
// #PF); an aligned one goes through.
TEST_F(VecMemTest, RequiredAlignmentFaultsBeforeTranslation) {
  MemOp req;
  req.required = true;
  auto ok = copy_block(kRam + 0x200, kRam + 0x400, req);
  EXPECT_EQ(run_all(*ok), exec::kRetNext);
  EXPECT_EQ(w_[kBaseline].read64(kRam + 0x400), w_[kBaseline].read64(kRam + 0x200));
  // Misaligned in an unmapped page: the alignment fault, not the page fault.
  auto bad = copy_block(kUnmapped + 8, kRam, req);
  EXPECT_EQ(run_all(*bad), exec::kRetPending);
  EXPECT_EQ(w_[kLlvm].tr.required_faults, 1);
  EXPECT_EQ(w_[kLlvm].tr.faults, 0);
  EXPECT_EQ(w_[kLlvm].cpu.common.pc, 0x100u);
  // A misaligned store after a good load: the load happened, the store did not.
  auto st = copy_block(kRam + 0x200, kRam + 0x404, req);
  const uint64_t before = w_[kLlvm].read64(kRam + 0x400);
  EXPECT_EQ(run_all(*st), exec::kRetPending);
  EXPECT_EQ(w_[kLlvm].tr.required_faults, 2);
  EXPECT_EQ(w_[kLlvm].cpu.common.pc, 0x104u);
  EXPECT_EQ(w_[kLlvm].read64(kRam + 0x400), before);
  EXPECT_EQ(w_[kLlvm].cpu.r[0], w_[kLlvm].read64(kRam + 0x200));
}

// MemOp::align (the guest's alignment check, x86 #AC) on a 16-byte access.
TEST_F(VecMemTest, GuestAlignmentCheck) {
  MemOp ac;
  ac.align = true;
  auto ok = copy_block(kRam + 0x500, kRam + 0x600, ac);
  EXPECT_EQ(run_all(*ok), exec::kRetNext);
  auto bad = copy_block(kRam + 0x508, kRam + 0x600, ac);
  EXPECT_EQ(run_all(*bad), exec::kRetPending);
  EXPECT_EQ(w_[kLlvm].tr.align_faults, 1);
  EXPECT_EQ(w_[kLlvm].tr.required_faults, 0);
}

}  // namespace
}  // namespace orrery::tcg::llvm::test
