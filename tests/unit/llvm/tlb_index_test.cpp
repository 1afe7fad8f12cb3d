// The TLB's slot hash never gives two adjacent pages one slot. The inline fast path of an
// access that may be misaligned compares the page of its last byte with the entry in the slot
// of its first byte, so a page-crossing access misses only because the next page's entry lives
// in another slot. The old fold (xor of the page number with its high part) gave pages 0x7ffff
// and 0x80000 (and every 2 GiB boundary) one slot: a misaligned load across 0x80000000, with
// the upper page in the TLB, read host memory before the upper page's backing.
#include "softmmu_world.h"

namespace orrery::tcg::llvm::test {
namespace {

constexpr uint64_t kRam = 0x10000, kRamSize = 0x20000;
constexpr uint64_t kBoundary = 0x80000000;  // 2 GiB
constexpr uint64_t kWindow = kBoundary - 0x8000;

// Virtual [kWindow, kBoundary) maps onto the first 32 KiB of RAM, [kBoundary, +32 KiB) onto the
// last 32 KiB: the host bytes just below the upper page's are not the lower page's.
class Translator : public softmmu::PageTranslator {
 public:
  explicit Translator(CpuCommon&) {}
  bool translate(uint64_t vaddr, softmmu::Access, unsigned, softmmu::Translation& out) override {
    if (vaddr < kWindow || vaddr >= kBoundary + 0x8000) return false;
    out.phys = vaddr < kBoundary ? kRam + (vaddr - kWindow) : kRam + 0x18000 + (vaddr - kBoundary);
    return true;
  }
  void raise_bus_error(uint64_t, uint64_t, softmmu::Access) override {}
  void raise_alignment_fault(uint64_t, softmmu::Access) override {}
};

struct World : SoftmmuWorld<Translator> {
  World() : SoftmmuWorld(kRam, kRamSize) { fill_ram(); }
};

TEST(TlbIndex, AdjacentPagesNeverShareASlot) {
  using softmmu::kPageSize;
  using softmmu::tlb_index;
  for (unsigned bit = 12; bit < 64; ++bit) {
    const uint64_t b = uint64_t(1) << bit;
    for (uint64_t at : {b, b * 3, b + (b >> 1), ~uint64_t(0) - b + 1})
      EXPECT_NE(tlb_index(at - kPageSize), tlb_index(at)) << std::hex << at;
  }
  for (uint64_t p = 0; p < (uint64_t(1) << 24); p += 1)
    ASSERT_NE(tlb_index(p * kPageSize), tlb_index((p + 1) * kPageSize)) << std::hex << p;
}

// Load 8 bytes at 0x80000000 (fills the upper page's TLB entry), then 8 bytes at 0x7ffffffc.
TEST(TlbIndex, MisalignedLoadAcrossA2GiBBoundaryReadsBothPages) {
  auto tb = std::make_unique<exec::TranslationBlock>();
  tb->key.pc = tb->ir.guest_pc = 0x100;
  Emitter e(tb->ir);
  MemOp m;
  m.size_log2 = 3;
  e.insn_start(0x100);
  e.set_reg(reg(0), e.load(Type::I64, e.c64(kBoundary), m));
  e.insn_start(0x104);
  e.set_reg(reg(1), e.load(Type::I64, e.c64(kBoundary - 4), m));
  e.jump(0x108);
  ASSERT_EQ(ir::verify(tb->ir), "");
  std::string err;
  auto jit = LlvmJit::create(err);
  ASSERT_TRUE(jit) << err;
  auto code = baseline::CodeCache::create(1 << 20, err);
  ASSERT_TRUE(code) << err;
  exec::NativeFn fns[] = {baseline::compile(*tb, *code, baseline::Options{}, &err),
                          jit->compile(*tb, &err)};
  for (exec::NativeFn fn : fns) {
    ASSERT_NE(fn, nullptr) << err;
    World w;
    uint32_t lo = 0, hi = 0;  // the lower page's last 4 bytes, the upper page's first 4
    ASSERT_TRUE(w.as.read_bytes(kRam + (kBoundary - 4 - kWindow), &lo, 4));
    ASSERT_TRUE(w.as.read_bytes(kRam + 0x18000, &hi, 4));
    const uint64_t want = uint64_t(hi) << 32 | lo;
    for (int round = 0; round < 2; ++round) {  // the second runs with both pages in the TLB
      w.cpu.r[1] = 0;
      EXPECT_EQ(fn(&w.cpu.common), exec::kRetNext);
      EXPECT_EQ(w.cpu.r[1], want) << (fn == fns[0] ? "baseline" : "llvm") << " round " << round;
    }
  }
}

}  // namespace
}  // namespace orrery::tcg::llvm::test
