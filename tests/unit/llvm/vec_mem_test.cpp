// VecLoad/VecStore (16- and 32-byte guest memory) on the three tiers against the real softmmu:
// the interpreter, the baseline tier (with AVX2, and without: 32 bytes as two movdqu) and the
// LLVM tier each run the same block in a world of their own (RAM, a device, a page the guest's
// tables do not map, an architectural watchpoint) and must agree on values, memory, device
// accesses, faults and the faulting PC: inline TLB hits, misses, page crossing, the required
// alignment (x86 #GP) before translation faults, the guest's alignment check (at 16 bytes for a
// 32-byte access), and a store whose second page faults leaving memory unchanged.
#include "softmmu_world.h"
#include "tests/unit/fault_translator.h"

namespace orrery::tcg::llvm::test {
namespace {

constexpr uint64_t kRam = 0x10000, kRamSize = 0x10000;
constexpr uint64_t kUnmapped = 0x20000;       // the page just past RAM: a translation fault
constexpr uint64_t kDev = 0x30000;            // a device page
constexpr uint64_t kWatched = kRam + 0x7010;  // an architectural watchpoint on these 8 bytes

class Translator : public tcg::test::FaultTranslator {
 public:
  explicit Translator(CpuCommon& c) : FaultTranslator(c, kUnmapped) {}
  void raise_required_alignment_fault(uint64_t vaddr, softmmu::Access) override {
    fault(required_faults, vaddr);
  }
  void raise_watchpoint(uint64_t vaddr, uint64_t hit, softmmu::Access) override {
    fault(watch_faults, vaddr ^ (hit << 32));
  }
  int required_faults = 0, watch_faults = 0;
};

/// Records every access; reads return a function of the offset and size.
class Device : public hw::MmioDevice {
 public:
  hw::MemResult read(uint64_t off, unsigned size, uint64_t& v) override {
    log.push_back(off << 8 | size);
    v = 0x5a5a000000000000ull | off << 8 | size;
    return hw::MemResult::Ok;
  }
  hw::MemResult write(uint64_t off, unsigned size, uint64_t v) override {
    log.push_back(off << 8 | size | 0x80);
    log.push_back(v);
    return hw::MemResult::Ok;
  }
  std::vector<uint64_t> log;
};

class Watch : public softmmu::WatchpointChecker {
 public:
  bool any_watchpoints() const override { return true; }
  bool page_watched(uint64_t vpage) const override {
    return vpage == (kWatched & softmmu::kPageMask);
  }
  bool watch_hit(uint64_t vaddr, unsigned size, bool, softmmu::WatchHit& hit) const override {
    if (vaddr + size <= kWatched || vaddr >= kWatched + 8) return false;
    hit.addr = kWatched;
    return true;
  }
};

struct World : SoftmmuWorld<Translator> {
  World() : SoftmmuWorld(kRam, kRamSize) {
    EXPECT_EQ(as.add_mmio("dev", kDev, softmmu::kPageSize, dev), "");
    mmu.set_arch_watchpoints(&watch);
    fill_ram();
  }
  Device dev;
  Watch watch;
};

enum Tier { kInterp, kBaseline, kBaselineSse, kLlvm, kNumTiers };
const char* const kTierNames[] = {"interp", "baseline", "baseline without AVX2", "llvm"};

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
    baseline::Options sse;
    sse.avx2 = false;
    exec::NativeFn sse_fn = baseline::compile(tb, *code_, sse, &err);
    EXPECT_NE(sse_fn, nullptr) << err;
    if (!llvm_fn || !base_fn || !sse_fn) return ~0ull;
    auto prog = interp::build(tb.ir, &tb);
    uint64_t ret[kNumTiers];
    for (unsigned t = 0; t < kNumTiers; ++t) {
      CpuCommon* c = &w_[t].cpu.common;
      c->pending_exit = 0;
      ret[t] = t == kInterp        ? interp::run(*prog, c)
               : t == kBaseline    ? base_fn(c)
               : t == kBaselineSse ? sse_fn(c)
                                   : llvm_fn(c);
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
      EXPECT_EQ(w.tr.watch_faults, ref.tr.watch_faults) << who;
      EXPECT_EQ(w.tr.fault_addr, ref.tr.fault_addr) << who;
      EXPECT_EQ(w.dev.log, ref.dev.log) << who;
      for (uint64_t a = 0; a < kRamSize; a += 8)
        if (w.read64(kRam + a) != ref.read64(kRam + a)) {
          ADD_FAILURE() << who << " RAM differs at " << std::hex << kRam + a;
          break;
        }
    }
    return ret[kInterp];
  }

  /// A block: at pc 0x100, r0/r1 (r0..r3 for I256) = the 16 (32) bytes at `from`; at 0x104
  /// they are stored at `to`.
  std::unique_ptr<exec::TranslationBlock> copy_block(uint64_t from, uint64_t to, MemOp m,
                                                     Type t = Type::I128) {
    auto tb = std::make_unique<exec::TranslationBlock>();
    tb->key.pc = tb->ir.guest_pc = 0x100;
    Emitter e(tb->ir);
    e.insn_start(0x100);
    Value v = e.vec_load(e.c64(from), m, t);
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

// ---- 32 bytes (I256) ----

MemOp ymm(bool required = false, bool align = false) {
  MemOp m;
  m.size_log2 = 5;
  m.required = required;
  m.align = align;
  return m;
}

TEST_F(VecMemTest, Bytes32WithinAPageMissThenHit) {
  for (uint64_t off : {0x40, 0x43, 0x50, 0x5f, 0xfe0}) {
    auto tb = copy_block(kRam + off, kRam + 0x3000 + 2 * off, ymm(), Type::I256);
    for (int round = 0; round < 2; ++round) {  // the first fills the TLB, the second hits
      EXPECT_EQ(run_all(*tb), exec::kRetNext) << off;
      for (World& w : w_)
        for (unsigned q = 0; q < 4; ++q) {
          EXPECT_EQ(w.cpu.r[q], w.read64(kRam + off + 8 * q)) << off << " q" << q;
          EXPECT_EQ(w.read64(kRam + 0x3000 + 2 * off + 8 * q), w.read64(kRam + off + 8 * q));
        }
    }
  }
  // The inline compare: the whole 32 bytes in the page hit, one byte into the next misses.
  CpuCommon* c = &w_[kLlvm].cpu.common;
  EXPECT_NE(softmmu::tlb_hit_vec(c, kRam + 0x43, ymm(), false), nullptr);
  EXPECT_NE(softmmu::tlb_hit_vec(c, kRam + 0xfe0, ymm(), false), nullptr);
  EXPECT_EQ(softmmu::tlb_hit_vec(c, kRam + 0xfe1, ymm(), false), nullptr);
  // With the guest's check only 16-byte alignment is asked for; required wants all 32.
  EXPECT_NE(softmmu::tlb_hit_vec(c, kRam + 0x50, ymm(false, true), false), nullptr);
  EXPECT_EQ(softmmu::tlb_hit_vec(c, kRam + 0x48, ymm(false, true), false), nullptr);
  EXPECT_EQ(softmmu::tlb_hit_vec(c, kRam + 0xff0, ymm(false, true), false), nullptr);
  EXPECT_EQ(softmmu::tlb_hit_vec(c, kRam + 0x50, ymm(true), false), nullptr);
  EXPECT_NE(softmmu::tlb_hit_vec(c, kRam + 0x40, ymm(true), false), nullptr);
}

TEST_F(VecMemTest, Bytes32PageCrossingLoadsAndStores) {
  for (uint64_t off : {0xfe1, 0xff0, 0xff8, 0xfff}) {
    auto tb = copy_block(kRam + off, kRam + 0x2000 + off, ymm(), Type::I256);
    EXPECT_EQ(run_all(*tb), exec::kRetNext);
    for (World& w : w_) {
      uint64_t want[4], got[4];
      ASSERT_TRUE(w.as.read_bytes(kRam + off, want, 32));
      ASSERT_TRUE(w.as.read_bytes(kRam + 0x2000 + off, got, 32));
      for (unsigned q = 0; q < 4; ++q) {
        EXPECT_EQ(w.cpu.r[q], want[q]) << off << " q" << q;
        EXPECT_EQ(got[q], want[q]) << off << " q" << q;
      }
    }
  }
}

// Silicon writes none of a 32-byte store whose second page faults (two 16-byte stores would
// leave the first half written).
TEST_F(VecMemTest, Bytes32StoreWhoseSecondPageFaultsWritesNothing) {
  for (uint64_t back : {8, 16, 24, 31}) {
    const uint64_t to = kUnmapped - back;
    uint64_t before[4];
    ASSERT_TRUE(w_[kInterp].as.read_bytes(kUnmapped - 32, before, 32));
    auto tb = copy_block(kRam + 0x100, to, ymm(), Type::I256);
    for (World& w : w_) w.tr.faults = 0;
    EXPECT_EQ(run_all(*tb), exec::kRetPending) << back;
    for (World& w : w_) {
      EXPECT_EQ(w.tr.faults, 1);
      EXPECT_EQ(w.tr.fault_addr, kUnmapped);
      EXPECT_EQ(w.cpu.common.pc, 0x104u);
      for (unsigned q = 0; q < 4; ++q)
        EXPECT_EQ(w.read64(kUnmapped - 32 + 8 * q), before[q]) << back << " q" << q;
    }
  }
  // A load crossing into the page faults too (and the registers keep their old values).
  for (World& w : w_)
    for (unsigned q = 0; q < 4; ++q) w.cpu.r[q] = 0x77 + q;
  auto ld = copy_block(kUnmapped - 20, kRam, ymm(), Type::I256);
  EXPECT_EQ(run_all(*ld), exec::kRetPending);
  for (unsigned q = 0; q < 4; ++q) EXPECT_EQ(w_[kLlvm].cpu.r[q], 0x77 + q);
  EXPECT_EQ(w_[kLlvm].cpu.common.pc, 0x100u);
}

// MemOp::required on 32 bytes (VMOVAPS ymm): 32-byte alignment, before translation.
TEST_F(VecMemTest, Bytes32RequiredAlignmentFaultsBeforeTranslation) {
  auto ok = copy_block(kRam + 0x220, kRam + 0x440, ymm(true), Type::I256);
  EXPECT_EQ(run_all(*ok), exec::kRetNext);
  EXPECT_EQ(w_[kBaseline].read64(kRam + 0x458), w_[kBaseline].read64(kRam + 0x238));
  auto bad = copy_block(kUnmapped + 16, kRam, ymm(true), Type::I256);
  EXPECT_EQ(run_all(*bad), exec::kRetPending);
  EXPECT_EQ(w_[kLlvm].tr.required_faults, 1);
  EXPECT_EQ(w_[kLlvm].tr.faults, 0);
  EXPECT_EQ(w_[kLlvm].cpu.common.pc, 0x100u);
  auto st = copy_block(kRam + 0x220, kRam + 0x450, ymm(true), Type::I256);
  const uint64_t before = w_[kLlvm].read64(kRam + 0x450);
  EXPECT_EQ(run_all(*st), exec::kRetPending);
  EXPECT_EQ(w_[kLlvm].tr.required_faults, 2);
  EXPECT_EQ(w_[kLlvm].cpu.common.pc, 0x104u);
  EXPECT_EQ(w_[kLlvm].read64(kRam + 0x450), before);
}

// MemOp::align on 32 bytes checks 16-byte alignment (x86 #AC for ymm operands): 16 mod 32 is
// fine, 8 mod 32 faults; a 16-byte aligned access crossing a page is not an inline hit.
TEST_F(VecMemTest, Bytes32GuestAlignmentCheckIsAt16Bytes) {
  auto ok = copy_block(kRam + 0x510, kRam + 0x630, ymm(false, true), Type::I256);
  for (int round = 0; round < 2; ++round) EXPECT_EQ(run_all(*ok), exec::kRetNext);
  EXPECT_EQ(w_[kLlvm].tr.align_faults, 0);
  EXPECT_EQ(w_[kLlvm].read64(kRam + 0x648), w_[kLlvm].read64(kRam + 0x528));
  auto bad = copy_block(kRam + 0x508, kRam + 0x600, ymm(false, true), Type::I256);
  EXPECT_EQ(run_all(*bad), exec::kRetPending);
  EXPECT_EQ(w_[kLlvm].tr.align_faults, 1);
  EXPECT_EQ(w_[kLlvm].tr.required_faults, 0);
  auto cross = copy_block(kRam + 0x1ff0, kRam + 0x2ff0, ymm(false, true), Type::I256);
  for (int round = 0; round < 2; ++round) EXPECT_EQ(run_all(*cross), exec::kRetNext);
  EXPECT_EQ(w_[kLlvm].read64(kRam + 0x3008), w_[kLlvm].read64(kRam + 0x2008));
  const uint64_t before = w_[kLlvm].read64(kUnmapped - 16);
  auto into = copy_block(kRam + 0x100, kUnmapped - 16, ymm(false, true), Type::I256);
  EXPECT_EQ(run_all(*into), exec::kRetPending);
  EXPECT_EQ(w_[kLlvm].tr.faults, 1);
  EXPECT_EQ(w_[kLlvm].read64(kUnmapped - 16), before);
}

// A device sees a 32-byte access as four quadword accesses, low first.
TEST_F(VecMemTest, Bytes32DeviceAccesses) {
  auto tb = copy_block(kDev + 0x40, kDev + 0x80, ymm(), Type::I256);
  EXPECT_EQ(run_all(*tb), exec::kRetNext);
  const World& w = w_[kInterp];
  ASSERT_EQ(w.dev.log.size(), 4u + 8u);
  for (unsigned q = 0; q < 4; ++q) {
    EXPECT_EQ(w.dev.log[q], (0x40u + 8 * q) << 8 | 8);
    EXPECT_EQ(w.cpu.r[q], 0x5a5a000000000000ull | (0x40u + 8 * q) << 8 | 8);
    EXPECT_EQ(w.dev.log[4 + 2 * q], (0x80u + 8 * q) << 8 | 8 | 0x80);
    EXPECT_EQ(w.dev.log[5 + 2 * q], w.cpu.r[q]);
  }
}

// An architectural watchpoint on the store's last quadword stops it before any byte.
TEST_F(VecMemTest, Bytes32WatchpointStopsTheWholeAccess) {
  const uint64_t to = kWatched - 24;
  uint64_t before[4];
  ASSERT_TRUE(w_[kInterp].as.read_bytes(to, before, 32));
  auto tb = copy_block(kRam + 0x100, to, ymm(), Type::I256);
  EXPECT_EQ(run_all(*tb), exec::kRetPending);
  for (World& w : w_) {
    EXPECT_EQ(w.tr.watch_faults, 1);
    EXPECT_EQ(w.cpu.common.pc, 0x104u);
    for (unsigned q = 0; q < 4; ++q) EXPECT_EQ(w.read64(to + 8 * q), before[q]) << q;
  }
  auto ok = copy_block(kRam + 0x100, kWatched + 8, ymm(), Type::I256);
  EXPECT_EQ(run_all(*ok), exec::kRetNext);
}

TEST(VecMemVerify, VectorMemorySizeMatchesItsType) {
  ir::Block b;
  Emitter e(b);
  Value v = e.vec_load(e.c64(kRam), MemOp{}, Type::I256);
  e.vec_store(e.c64(kRam), v, MemOp{});
  e.jump(0);
  EXPECT_EQ(ir::verify(b), "");
  ir::Inst& ld = b.insts[v.id];
  EXPECT_EQ(MemOp::decode(ld.imm).size(), 32u);
  MemOp m16;
  m16.size_log2 = 4;
  ld.imm = m16.encode();  // a 32-byte value with a 16-byte MemOp
  EXPECT_NE(ir::verify(b), "");
  ld.imm = ymm().encode();
  ld.type = Type::I64;  // vector memory of a scalar type
  EXPECT_NE(ir::verify(b), "");
}

}  // namespace
}  // namespace orrery::tcg::llvm::test
