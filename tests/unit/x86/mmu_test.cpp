// Page walks for every paging format and permission bit: tables built in RAM, walked by
// walk_page_tables and X86Cpu::translate, checking the physical address, the #PF error code,
// CR2 and the accessed/dirty bits.
#include "sys_harness.h"

namespace orrery::cpu::x86::test {
namespace {

using tcg::softmmu::Access;

constexpr uint64_t P = 1, RW = 2, US = 4, A = 0x20, D = 0x40, PS = 0x80, G = 0x100;
constexpr uint64_t NX = 1ull << 63;

class MmuTest : public ::testing::Test {
 protected:
  X86Walk walk(uint64_t la, Access a = Access::Read, bool user = false, bool smap_exempt = true) {
    AccessKind k;
    k.access = a;
    k.user = user;
    k.smap_exempt = smap_exempt;
    return walk_page_tables(m.s(), m.memory, la, k, true);
  }
  /// 4-level tables at 0x100000.. mapping la to a leaf at level (1 = 4K, 2 = 2M, 3 = 1G).
  void map64(uint64_t la, uint64_t pa, uint64_t flags, unsigned level = 1,
             uint64_t upper = P | RW | US) {
    const uint64_t pml4 = 0x100000, pdpt = 0x101000, pd = 0x102000, pt = 0x103000;
    m.wr(pml4 + ((la >> 39) & 511) * 8, pdpt | upper, 8);
    if (level == 3) {
      m.wr(pdpt + ((la >> 30) & 511) * 8, pa | flags | PS, 8);
      return;
    }
    m.wr(pdpt + ((la >> 30) & 511) * 8, pd | upper, 8);
    if (level == 2) {
      m.wr(pd + ((la >> 21) & 511) * 8, pa | flags | PS, 8);
      return;
    }
    m.wr(pd + ((la >> 21) & 511) * 8, pt | upper, 8);
    m.wr(pt + ((la >> 12) & 511) * 8, pa | flags, 8);
  }
  void long_mode() {
    m.s().cr0 = cr0::kPe | cr0::kPg | cr0::kWp;
    m.s().cr4 = cr4::kPae;
    m.s().efer = efer::kLme | efer::kLma | efer::kNxe;
    m.s().cr3 = 0x100000;
  }
  TestMachine m{*find_cpu_model("max")};
};

TEST_F(MmuTest, NoPagingIsIdentity) {
  const X86Walk w = walk(0x12345678, Access::Write);
  ASSERT_TRUE(w.ok);
  EXPECT_EQ(w.phys, 0x12345678u);
}

TEST_F(MmuTest, Paging32With4KPagesSetsAccessedAndDirty) {
  m.s().cr0 = cr0::kPe | cr0::kPg;
  m.s().cr3 = 0x200000;
  m.wr(0x200000 + 1 * 4, 0x201000 | P | RW | US, 4);  // PDE for 0x400000
  m.wr(0x201000 + 5 * 4, 0x345000 | P | RW | US, 4);  // PTE for 0x405000
  X86Walk w = walk(0x405123);
  ASSERT_TRUE(w.ok);
  EXPECT_EQ(w.phys, 0x345123u);
  EXPECT_EQ(m.rd(0x200004, 4) & (A | D), A);
  EXPECT_EQ(m.rd(0x201014, 4) & (A | D), A);
  EXPECT_FALSE(w.writable) << "a clean page is filled read-only so the first write sets D";
  w = walk(0x405123, Access::Write);
  ASSERT_TRUE(w.ok);
  EXPECT_TRUE(w.writable);
  EXPECT_EQ(m.rd(0x201014, 4) & (A | D), A | D);
  EXPECT_EQ(m.rd(0x200004, 4) & D, 0u) << "D is set on the leaf only";
}

TEST_F(MmuTest, Paging32With4MPagesNeedsPse) {
  m.s().cr0 = cr0::kPe | cr0::kPg;
  m.s().cr3 = 0x200000;
  // PSE-36: physical bits 39:32 in PDE bits 20:13.
  m.wr(0x200000 + 2 * 4, 0x00c00000 | (0x3ull << 13) | P | RW | PS, 4);
  m.s().cr4 = cr4::kPse;
  X86Walk w = walk(0x812345);
  ASSERT_TRUE(w.ok);
  EXPECT_EQ(w.phys, 0x300c12345ull);
  EXPECT_EQ(w.page_size, 4u << 20);
  // Without CR4.PSE the PS bit is ignored: the entry points to a page table at 0xc06000.
  m.s().cr4 = 0;
  m.wr(0xc06000 + 0x12 * 4, 0x777000 | P, 4);
  w = walk(0x812345);
  ASSERT_TRUE(w.ok);
  EXPECT_EQ(w.phys, 0x777345u);
}

TEST_F(MmuTest, PaeWith4KAnd2MPagesAndNx) {
  m.s().cr0 = cr0::kPe | cr0::kPg;
  m.s().cr4 = cr4::kPae;
  m.s().efer = efer::kNxe;
  m.s().cr3 = 0x200020;                     // 32-byte aligned PDPT
  m.wr(0x200020 + 1 * 8, 0x201000 | P, 8);  // PDPTE 1: 1G..2G
  m.wr(0x201000 + 0 * 8, 0x202000 | P | RW, 8);
  m.wr(0x202000 + 3 * 8, 0x123000 | P | RW | NX, 8);
  m.wr(0x201000 + 1 * 8, 0x600000 | P | RW | PS, 8);  // 2M page at 0x40200000
  X86Walk w = walk(0x40003abc);
  ASSERT_TRUE(w.ok);
  EXPECT_EQ(w.phys, 0x123abcu);
  EXPECT_FALSE(w.executable);
  w = walk(0x40003abc, Access::Fetch);
  ASSERT_FALSE(w.ok);
  EXPECT_EQ(w.error_code, pfec::kP | pfec::kI);
  w = walk(0x40212345, Access::Fetch);
  ASSERT_TRUE(w.ok);
  EXPECT_EQ(w.phys, 0x612345u);
  EXPECT_EQ(w.page_size, 2u << 20);
  // NX without EFER.NXE is a reserved bit.
  m.s().efer = 0;
  w = walk(0x40003abc);
  ASSERT_FALSE(w.ok);
  EXPECT_EQ(w.error_code, pfec::kP | pfec::kRsvd);
}

TEST_F(MmuTest, FourLevelWith4K2MAnd1GPages) {
  long_mode();
  map64(0x7f0000001000, 0x456000, P | RW);
  map64(0x7f0000200000, 0x800000, P | RW, 2);
  map64(0x7f0040000000, 0x40000000, P | RW, 3);
  X86Walk w = walk(0x7f0000001fff);
  ASSERT_TRUE(w.ok);
  EXPECT_EQ(w.phys, 0x456fffu);
  w = walk(0x7f0000312345);
  ASSERT_TRUE(w.ok);
  EXPECT_EQ(w.phys, 0x912345u);
  w = walk(0x7f0052345678);
  ASSERT_TRUE(w.ok);
  EXPECT_EQ(w.phys, 0x52345678u);
  EXPECT_EQ(w.page_size, 1u << 30);
}

TEST_F(MmuTest, InvlpgInALargePageKeepsOtherTranslations) {
  // INVLPG inside a 2M page drops that page's 4K pieces from the softmmu, and only them (it
  // used to flush everything: seconds of a Linux boot, whose kernel sits in 2M pages).
  long_mode();
  map64(0x7f0000001000, 0x456000, P | RW | A | D);
  map64(0x7f0000200000, 0x800000, P | RW | A | D, 2);
  m.wr(0x456000, 0x1111, 8);
  m.wr(0x457000, 0x2222, 8);
  m.wr(0x803000, 0x3333, 8);
  m.wr(0xa03000, 0x4444, 8);
  const tcg::ir::MemOp q{3, false, uint8_t(kMmuIdxKernel)};
  auto load = [&](uint64_t la) { return m.cpu->mmu().load(la, q, 0); };
  EXPECT_EQ(load(0x7f0000001000), 0x1111u);
  EXPECT_EQ(load(0x7f0000203000), 0x3333u);
  // Remap both; the TLB still holds the old translations.
  map64(0x7f0000001000, 0x457000, P | RW | A | D);
  map64(0x7f0000200000, 0xa00000, P | RW | A | D, 2);
  EXPECT_EQ(load(0x7f0000001000), 0x1111u);
  EXPECT_EQ(load(0x7f0000203000), 0x3333u);
  m.cpu->flush_tlb_page(0x7f0000380000);  // another 4K piece of the 2M page
  EXPECT_EQ(load(0x7f0000203000), 0x4444u);
  EXPECT_EQ(load(0x7f0000001000), 0x1111u) << "an unrelated 4K page was flushed";
  m.cpu->flush_tlb_page(0x7f0000001000);
  EXPECT_EQ(load(0x7f0000001000), 0x2222u);
}

TEST_F(MmuTest, NotPresentAndReservedErrorCodes) {
  long_mode();
  X86Walk w = walk(0x1000, Access::Write, true);
  ASSERT_FALSE(w.ok);
  EXPECT_EQ(w.error_code, pfec::kW | pfec::kU);
  // Address bits above MAXPHYADDR (40) are reserved.
  map64(0x2000, 0x3000 | (1ull << 45), P | RW | US);
  w = walk(0x2000, Access::Read, true);
  ASSERT_FALSE(w.ok);
  EXPECT_EQ(w.error_code, pfec::kP | pfec::kU | pfec::kRsvd);
  // PS in a PML4E is reserved.
  m.wr(0x100000 + 1 * 8, 0x5000 | P | PS, 8);
  w = walk(1ull << 39);
  ASSERT_FALSE(w.ok);
  EXPECT_EQ(w.error_code, pfec::kP | pfec::kRsvd);
}

TEST_F(MmuTest, UserSupervisorAndWriteProtect) {
  long_mode();
  map64(0x10000, 0x20000, P);       // supervisor, read-only
  map64(0x11000, 0x21000, P | US);  // user, read-only
  X86Walk w = walk(0x10000, Access::Read, true);
  ASSERT_FALSE(w.ok);
  EXPECT_EQ(w.error_code, pfec::kP | pfec::kU);
  w = walk(0x11000, Access::Write, true);
  ASSERT_FALSE(w.ok);
  EXPECT_EQ(w.error_code, pfec::kP | pfec::kU | pfec::kW);
  // CR0.WP: supervisor writes to read-only pages fault; without it they succeed.
  w = walk(0x10000, Access::Write);
  ASSERT_FALSE(w.ok);
  EXPECT_EQ(w.error_code, pfec::kP | pfec::kW);
  m.s().cr0 &= ~cr0::kWp;
  w = walk(0x10000, Access::Write);
  EXPECT_TRUE(w.ok);
  // U/S is the AND of every level: a supervisor PML4E makes the page supervisor.
  m.wr(0x100000, 0x101000 | P | RW, 8);
  w = walk(0x11000, Access::Read, true);
  EXPECT_FALSE(w.ok);
}

TEST_F(MmuTest, SmepAndSmap) {
  long_mode();
  map64(0x30000, 0x40000, P | RW | US);
  EXPECT_TRUE(walk(0x30000, Access::Fetch).ok);
  m.s().cr4 |= cr4::kSmep;
  X86Walk w = walk(0x30000, Access::Fetch);
  ASSERT_FALSE(w.ok);
  EXPECT_EQ(w.error_code, pfec::kP | pfec::kI);
  EXPECT_TRUE(walk(0x30000, Access::Read, false, false).ok);
  m.s().cr4 |= cr4::kSmap;
  w = walk(0x30000, Access::Read, false, false);
  ASSERT_FALSE(w.ok);
  EXPECT_EQ(w.error_code, pfec::kP);
  w = walk(0x30000, Access::Write, false, false);
  ASSERT_FALSE(w.ok);
  EXPECT_EQ(w.error_code, pfec::kP | pfec::kW);
  EXPECT_TRUE(walk(0x30000, Access::Write, false, true).ok) << "EFLAGS.AC exempts";
  EXPECT_TRUE(walk(0x30000, Access::Read, true).ok) << "user accesses are not SMAP-checked";
}

TEST_F(MmuTest, GlobalPagesNeedPge) {
  long_mode();
  map64(0x50000, 0x60000, P | RW | G);
  EXPECT_FALSE(walk(0x50000).global);
  m.s().cr4 |= cr4::kPge;
  EXPECT_TRUE(walk(0x50000).global);
}

TEST_F(MmuTest, TranslateRaisesPageFaultWithCr2) {
  long_mode();
  // IDT with a #PF gate to a 64-bit code segment; the handler address is what we check.
  const uint64_t gdt = 0x10000, idt = 0x11000;
  m.wr(gdt + 8, TestMachine::desc(0, 0xfffff, 0xb, 0, true, false, true), 8);
  m.wr(gdt + 16, TestMachine::desc(0, 0xfffff, 0x3, 0), 8);
  m.s().gdtr = {gdt, 0xff};
  m.s().idtr = {idt, 0xfff};
  m.gate64(idt + 14 * 16, 0x08, 0xffff800000001000ull, 14, 0);
  // Identity-map the tables and a stack at 0x80000 with 2M pages (supervisor).
  map64(0, 0, P | RW, 2);
  m.set_seg(kCs, 0x08);
  m.set_seg(kSs, 0x10);
  m.s().gpr[kRsp] = 0x80000;
  m.s().common.pc = 0x1234;
  tcg::softmmu::Translation t;
  EXPECT_FALSE(m.cpu->translate(0x40000000, Access::Write, kMmuIdxKernel, t));
  EXPECT_EQ(m.s().cr2, 0x40000000u);
  EXPECT_EQ(m.cpu->pc(), 0xffff800000001000ull);
  EXPECT_EQ(m.rd(0x80000 - 8, 8), 0x10u);      // SS
  EXPECT_EQ(m.rd(0x80000 - 40, 8), 0x1234u);   // RIP
  EXPECT_EQ(m.rd(0x80000 - 48, 8), pfec::kW);  // error code
  EXPECT_EQ(m.s().gpr[kRsp], 0x80000u - 48);
}

}  // namespace
}  // namespace orrery::cpu::x86::test
