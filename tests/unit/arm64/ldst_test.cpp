// Loads and stores: literal, prefetch, SP-relative, unprivileged, register offset, exclusives
// and acquire/release, pairs, SIMD&FP registers, faults, and unallocated encodings. (Addressing
// modes are covered broadly by the Unicorn differential test; these pin down the edge cases.)
#include "tests/unit/arm64/harness.h"

namespace orrery::cpu::arm64::test {
namespace {

using LoadStoreTest = Arm64Test;

TEST_P(LoadStoreTest, LiteralLoads) {
  run_ok({
      0x58000100,  // ldr x0, .+32          (words 8..9)
      0x180000e1,  // ldr w1, .+28          (word 8)
      0x980000e2,  // ldrsw x2, .+28        (word 9)
      0x9c000083,  // ldr q3, .+16          (words 7..10)
      0x5c000064,  // ldr d4, .+12          (words 7..8)
      0x1c000045,  // ldr s5, .+8           (word 7)
      0xd87f8000,  // prfm pldl1keep, .+0xff000 (no access, so no fault)
      0x14000006,  // b .+24                (over the data)
      0x89abcdef,  // .word 0x89abcdef
      0x80000001,  // .word 0x80000001
      0x11223344,  // .word 0x11223344
      0x55667788,  // .word 0x55667788
      0x99aabbcc,  // .word 0x99aabbcc
  });
  EXPECT_EQ(m->x(0), 0x8000000189abcdefull);
  EXPECT_EQ(m->x(1), 0x89abcdefull);
  EXPECT_EQ(m->x(2), 0xffffffff80000001ull);
  EXPECT_EQ(m->v(3).d[0], 0x89abcdef14000006ull);
  EXPECT_EQ(m->v(3).d[1], 0x1122334480000001ull);
  EXPECT_EQ(m->v(4).d[0], 0x89abcdef14000006ull);
  EXPECT_EQ(m->v(4).d[1], 0u);
  EXPECT_EQ(m->v(5).d[0], 0x14000006ull);
}

TEST_P(LoadStoreTest, PrefetchesNeverAccessMemory) {
  m->load({
      0xf9802020,  // prfm pldl1keep, [x1, #64]
      0xf8a27833,  // prfm pstl2strm, [x1, x2, lsl #3]
      0xf89fd020,  // prfum pldl1keep, [x1, #-3]
  });
  m->x(1) = 0x10;  // nothing is mapped there
  m->x(2) = 5;
  rerun_ok();
}

TEST_P(LoadStoreTest, StackPointerAddressingAndWriteback) {
  m->load({
      0xf81f0fe0,  // str x0, [sp, #-16]!
      0xf84107e1,  // ldr x1, [sp], #16
      0xa9be0fe2,  // stp x2, x3, [sp, #-32]!
      0x910003e6,  // mov x6, sp
      0xa8c217e4,  // ldp x4, x5, [sp], #32
  });
  m->x(0) = 0x1111;
  m->x(2) = 0x2222;
  m->x(3) = 0x3333;
  rerun_ok();
  EXPECT_EQ(m->x(1), 0x1111u);
  EXPECT_EQ(m->x(4), 0x2222u);
  EXPECT_EQ(m->x(5), 0x3333u);
  EXPECT_EQ(m->x(6), kStackTop - 32);
  EXPECT_EQ(m->sp(), kStackTop);
  EXPECT_EQ(m->read_mem(kStackTop - 16, 8), 0x1111u);
}

TEST_P(LoadStoreTest, UnprivilegedAccessesAtEl1) {
  m->load({
      0xf8408820,  // ldtr x0, [x1, #8]
      0xb81fc822,  // sttr w2, [x1, #-4]
  });
  m->write_mem(kDataBase + 0x108, 0x0123456789abcdefull, 8);
  m->x(1) = kDataBase + 0x100;
  m->x(2) = 0xcafef00d;
  rerun_ok();
  EXPECT_EQ(m->x(0), 0x0123456789abcdefull);
  EXPECT_EQ(m->read_mem(kDataBase + 0xfc, 4), 0xcafef00du);
}

TEST_P(LoadStoreTest, RegisterOffsetWithNegativeSxtw) {
  m->load({
      0x3862c820,  // ldrb w0, [x1, w2, sxtw]
      0xf862d823,  // ldr x3, [x1, w2, sxtw #3]
  });
  m->write_mem(kDataBase + 0x100 - 3, 0xab, 1);
  m->write_mem(kDataBase + 0x100 - 24, 0x1122334455667788ull, 8);
  m->x(1) = kDataBase + 0x100;
  m->x(2) = 0xfffffffd;  // -3 as a W register; the upper half is ignored
  m->x(2) |= 0xdead000000000000ull;
  rerun_ok();
  EXPECT_EQ(m->x(0), 0xabu);
  EXPECT_EQ(m->x(3), 0x1122334455667788ull);
}

TEST_P(LoadStoreTest, ZeroRegisterAsSourceAndDestination) {
  m->load({
      0xf940003f,  // ldr xzr, [x1]
      0xf900003f,  // str xzr, [x1]
  });
  m->write_mem(kDataBase, ~0ull, 8);
  m->x(1) = kDataBase;
  rerun_ok();
  EXPECT_EQ(m->read_mem(kDataBase, 8), 0u);
}

TEST_P(LoadStoreTest, SignExtendingLoads) {
  m->load({
      0x39800020,  // ldrsb x0, [x1]
      0x79c00022,  // ldrsh w2, [x1]
      0xb8801023,  // ldursw x3, [x1, #1]
  });
  m->write_mem(kDataBase, 0x80f0e0d0c0b0a0f1ull, 8);
  m->x(1) = kDataBase;
  rerun_ok();
  EXPECT_EQ(m->x(0), 0xfffffffffffffff1ull);
  EXPECT_EQ(m->x(2), 0xffffa0f1u);  // sign-extended to 32 bits, then zero-extended
  EXPECT_EQ(m->x(3), 0xffffffffd0c0b0a0ull);
}

TEST_P(LoadStoreTest, UnalignedAccessesAcrossAPageBoundary) {
  m->load({
      0xf85fc020,  // ldur x0, [x1, #-4]
      0xf81fc022,  // stur x2, [x1, #-4]
  });
  const uint64_t page = kDataBase + 0x1000 * 3;
  m->write_mem(page - 4, 0x44332211, 4);
  m->write_mem(page, 0x88776655, 4);
  m->x(1) = page;
  m->x(2) = 0x0102030405060708ull;
  rerun_ok();
  EXPECT_EQ(m->x(0), 0x8877665544332211ull);
  EXPECT_EQ(m->read_mem(page - 4, 8), 0x0102030405060708ull);
}

TEST_P(LoadStoreTest, PairLoadUsesTheBaseBeforeOverwritingIt) {
  m->load({
      0xa9400821,  // ldp x1, x2, [x1]
  });
  m->write_mem(kDataBase, 0xaaaa, 8);
  m->write_mem(kDataBase + 8, 0xbbbb, 8);
  m->x(1) = kDataBase;
  rerun_ok();
  EXPECT_EQ(m->x(1), 0xaaaau);
  EXPECT_EQ(m->x(2), 0xbbbbu);
}

TEST_P(LoadStoreTest, FaultingPairLoadLeavesRegistersUntouched) {
  m->load({
      0xa9400c20,  // ldp x0, x3, [x1]
  });
  m->x(0) = 0x1234;
  m->x(3) = 0x5678;
  m->x(1) = kRamBase + kRamSize - 8;  // the second register is outside RAM
  expect_exception(kVecCurrentSpxSync, 0x25);
  EXPECT_EQ(m->cpu->state().elr_el1, kCodeBase);
  EXPECT_EQ(m->cpu->state().far_el1, kRamBase + kRamSize);
  EXPECT_EQ(m->x(0), 0x1234u);
  EXPECT_EQ(m->x(3), 0x5678u);
}

TEST_P(LoadStoreTest, VectorLoadsAndStores) {
  m->load({
      0x3dc00020,  // ldr q0, [x1]
      0x3d800420,  // str q0, [x1, #16]
      0xbd400021,  // ldr s1, [x1]
  });
  m->write_mem(kDataBase, 0x0706050403020100ull, 8);
  m->write_mem(kDataBase + 8, 0x0f0e0d0c0b0a0908ull, 8);
  m->x(1) = kDataBase;
  m->v(1).d[0] = m->v(1).d[1] = ~0ull;
  rerun_ok();
  EXPECT_EQ(m->v(0).d[0], 0x0706050403020100ull);
  EXPECT_EQ(m->v(0).d[1], 0x0f0e0d0c0b0a0908ull);
  EXPECT_EQ(m->read_mem(kDataBase + 24, 8), 0x0f0e0d0c0b0a0908ull);
  EXPECT_EQ(m->v(1).d[0], 0x03020100u);  // a scalar load clears the rest of the register
  EXPECT_EQ(m->v(1).d[1], 0u);
}

// ---- Runs of accesses with one TLB probe (tcg/opt/mem_runs.h) ----

TEST_P(LoadStoreTest, QuadPairsWithinAndAcrossPages) {
  m->load({
      0xad000420,  // stp q0, q1, [x1]
      0xad400c22,  // ldp q2, q3, [x1]
      0xad000440,  // stp q0, q1, [x2]       (straddles a page: the run's probe misses)
      0xad401444,  // ldp q4, q5, [x2]
  });
  m->v(0).d[0] = 0x1111, m->v(0).d[1] = 0x2222, m->v(1).d[0] = 0x3333, m->v(1).d[1] = 0x4444;
  m->x(1) = kDataBase + 0x100;
  m->x(2) = kDataBase + 0x2000 - 24;
  rerun_ok();
  for (unsigned r : {2u, 4u}) {
    EXPECT_EQ(m->v(r).d[0], 0x1111u) << r;
    EXPECT_EQ(m->v(r).d[1], 0x2222u) << r;
    EXPECT_EQ(m->v(r + 1).d[0], 0x3333u) << r;
    EXPECT_EQ(m->v(r + 1).d[1], 0x4444u) << r;
  }
  EXPECT_EQ(m->read_mem(kDataBase + 0x2000 - 8, 8), 0x3333u);
  EXPECT_EQ(m->read_mem(kDataBase + 0x2000, 8), 0x4444u);
}

TEST_P(LoadStoreTest, APairStoreFaultingInItsSecondRegisterStoresTheFirst) {
  m->load({
      0xad000420,  // stp q0, q1, [x1]
  });
  m->v(0).d[0] = 0x1111, m->v(0).d[1] = 0x2222, m->v(1).d[0] = 0x3333;
  m->x(1) = kRamBase + kRamSize - 16;  // q1 is outside RAM
  expect_exception(kVecCurrentSpxSync, 0x25);
  EXPECT_EQ(m->cpu->state().elr_el1, kCodeBase);
  EXPECT_EQ(m->cpu->state().far_el1, kRamBase + kRamSize);
  EXPECT_EQ(m->read_mem(kRamBase + kRamSize - 16, 8), 0x1111u);
  EXPECT_EQ(m->read_mem(kRamBase + kRamSize - 8, 8), 0x2222u);
}

TEST_P(LoadStoreTest, DcZvaZeroesTheAlignedLine) {
  m->load({
      0xd50b7421,  // dc zva, x1
  });
  for (unsigned i = 0; i < 0x100; i += 8) m->write_mem(kDataBase + i, ~0ull, 8);
  m->x(1) = kDataBase + 0x47;
  rerun_ok();
  for (unsigned i = 0; i < 0x100; i += 8)
    EXPECT_EQ(m->read_mem(kDataBase + i, 8), i >= 0x40 && i < 0x80 ? 0u : ~0ull) << i;
}

TEST_P(LoadStoreTest, DcZvaOverTranslatedCodeInvalidatesIt) {
  // Calls `target`, zeroes its line, and calls it again: now an UDF (all-zero word).
  std::vector<uint32_t> code = {
      0x94000010,  // bl .+64 (target)
      0x100001e1,  // adr x1, .+60 (target)
      0xd50b7421,  // dc zva, x1
      0x9400000d,  // bl .+52 (target)
  };
  code.resize(16, 0xd503201f);  // nop
  code.push_back(0x91000400);   // target: add x0, x0, #1
  code.push_back(0xd65f03c0);   // ret
  m->load(code);
  expect_exception(kVecCurrentSpxSync, 0x00);
  EXPECT_EQ(m->cpu->state().elr_el1, kCodeBase + 64);
  EXPECT_EQ(m->x(0), 1u);
}

// ---- Exclusives ----

TEST_P(LoadStoreTest, ExclusivePairSucceedsOnceAndClearsTheMonitor) {
  m->load({
      0xc85f7c20,  // ldxr x0, [x1]
      0xc8037c22,  // stxr w3, x2, [x1]
      0xc8047c22,  // stxr w4, x2, [x1]  (the monitor is clear now)
  });
  m->write_mem(kDataBase, 77, 8);
  m->x(1) = kDataBase;
  m->x(2) = 99;
  m->x(4) = 12345;
  rerun_ok();
  EXPECT_EQ(m->x(0), 77u);
  EXPECT_EQ(m->x(3), 0u);
  EXPECT_EQ(m->x(4), 1u);
  EXPECT_EQ(m->read_mem(kDataBase, 8), 99u);
}

TEST_P(LoadStoreTest, StoreExclusiveFailsWithoutAMatchingLoadExclusive) {
  struct Case {
    std::vector<uint32_t> code;
    const char* what;
  };
  const Case cases[] = {
      {{0xc8037c22}, "no LDXR"},                          // stxr w3, x2, [x1]
      {{0xc85f7c20, 0xd5033f5f, 0xc8037c22}, "CLREX"},    // ldxr; clrex; stxr
      {{0xc85f7c20, 0xc8037ca2}, "another address"},      // ldxr [x1]; stxr [x5]
      {{0x885f7c20, 0xc8037c22}, "another size"},         // ldxr w0; stxr x2
      {{0xc85f7c20, 0xf9000026, 0xc8037c22}, "changed"},  // ldxr; str x6, [x1]; stxr
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    m->load(c.code);
    m->write_mem(kDataBase, 5, 8);
    m->x(1) = kDataBase;
    m->x(5) = kDataBase + 8;
    m->x(2) = 99;
    m->x(6) = 6;
    rerun_ok();
    EXPECT_EQ(m->x(3), 1u);
    EXPECT_NE(m->read_mem(kDataBase, 8), 99u);
    EXPECT_NE(m->read_mem(kDataBase + 8, 8), 99u);
  }
}

TEST_P(LoadStoreTest, ByteExclusivesZeroExtendStoreOneByteAndCheckTheSize) {
  m->load({
      0x085f7c20,  // ldxrb w0, [x1]
      0x48047c22,  // stxrh w4, w2, [x1]  (the monitor covers one byte: fails)
      0x085f7c25,  // ldxrb w5, [x1]
      0x08037c22,  // stxrb w3, w2, [x1]
  });
  m->write_mem(kDataBase, 0x88776655443322f1ull, 8);
  m->x(1) = kDataBase;
  m->x(2) = 0xffffffffffffffabull;
  m->x(0) = m->x(5) = ~0ull;
  rerun_ok();
  EXPECT_EQ(m->x(0), 0xf1u);
  EXPECT_EQ(m->x(5), 0xf1u);
  EXPECT_EQ(m->x(4), 1u);
  EXPECT_EQ(m->x(3), 0u);
  EXPECT_EQ(m->read_mem(kDataBase, 8), 0x88776655443322abull);
}

TEST_P(LoadStoreTest, ExclusivePairs) {
  m->load({
      0xc87f0820,  // ldxp x0, x2, [x1]
      0xc8231424,  // stxp w3, x4, x5, [x1]
      0x887f0826,  // ldxp w6, w2, [x1]
  });
  m->write_mem(kDataBase, 0x1111111111111111ull, 8);
  m->write_mem(kDataBase + 8, 0x2222222222222222ull, 8);
  m->x(1) = kDataBase;
  m->x(4) = 0xaaaaaaaa00000001ull;
  m->x(5) = 0xbbbbbbbb00000002ull;
  rerun_ok();
  EXPECT_EQ(m->x(0), 0x1111111111111111ull);
  EXPECT_EQ(m->x(3), 0u);
  EXPECT_EQ(m->read_mem(kDataBase, 8), 0xaaaaaaaa00000001ull);
  EXPECT_EQ(m->read_mem(kDataBase + 8, 8), 0xbbbbbbbb00000002ull);
  EXPECT_EQ(m->x(6), 0x00000001u);  // the 32-bit pair: Rt from the lower address
  EXPECT_EQ(m->x(2), 0xaaaaaaaau);
}

TEST_P(LoadStoreTest, ThirtyTwoBitExclusivePairStoresBothHalves) {
  m->load({
      0x887f0820,  // ldxp w0, w2, [x1]
      0x88231424,  // stxp w3, w4, w5, [x1]
  });
  m->write_mem(kDataBase, 0x2222222211111111ull, 8);
  m->x(1) = kDataBase;
  m->x(4) = 0xffffffff00000004ull;
  m->x(5) = 0xffffffff00000005ull;
  rerun_ok();
  EXPECT_EQ(m->x(0), 0x11111111u);
  EXPECT_EQ(m->x(2), 0x22222222u);
  EXPECT_EQ(m->x(3), 0u);
  EXPECT_EQ(m->read_mem(kDataBase, 8), 0x0000000500000004ull);
}

TEST_P(LoadStoreTest, StatusToWzrIsDiscarded) {
  m->load({
      0xc85f7c20,  // ldxr x0, [x1]
      0xc81f7c22,  // stxr wzr, x2, [x1]
  });
  m->x(1) = kDataBase;
  m->x(2) = 42;
  rerun_ok();
  EXPECT_EQ(m->read_mem(kDataBase, 8), 42u);
}

TEST_P(LoadStoreTest, AcquireReleaseAndExclusivesNeedAlignment) {
  const uint32_t words[] = {
      0xc85f7c20,  // ldxr x0, [x1]
      0xc85ffc20,  // ldaxr x0, [x1]
      0xc8dffc20,  // ldar x0, [x1]
      0x889ffc20,  // stlr w0, [x1]
      0xc803fc22,  // stlxr w3, x2, [x1]
  };
  for (uint32_t w : words) {
    m->load({w});
    m->x(1) = kDataBase + 4;  // 4-aligned is enough for STLR W, not for the others
    ExitKind k = m->run();
    if (w == 0x889ffc20) {
      EXPECT_EQ(k, ExitKind::Shutdown);
      continue;
    }
    ASSERT_EQ(k, ExitKind::Shutdown) << std::hex << w;
    ASSERT_EQ(m->hvcs.size(), 1u);
    EXPECT_EQ(m->hvcs[0], kVectorHvc + kVecCurrentSpxSync);
    EXPECT_EQ(m->cpu->state().esr_el1 >> 26, 0x25u) << std::hex << w;
    EXPECT_EQ(m->cpu->state().esr_el1 & 0x3f, 0x21u) << std::hex << w;  // alignment fault
    EXPECT_EQ(m->cpu->state().far_el1, kDataBase + 4);
    EXPECT_EQ(m->cpu->state().elr_el1, kCodeBase);
  }
  // A 64-bit pair needs 16-byte alignment.
  m->load({0xc87f0820});  // ldxp x0, x2, [x1]
  m->x(1) = kDataBase + 8;
  expect_exception(kVecCurrentSpxSync, 0x25);
}

TEST_P(LoadStoreTest, AcquireLoadAndReleaseStore) {
  m->load({
      0xc8dffc20,  // ldar x0, [x1]
      0x889ffc22,  // stlr w2, [x1]
  });
  m->write_mem(kDataBase, 0x1234567890ull, 8);
  m->x(1) = kDataBase;
  m->x(2) = 0xffffffff0000abcdull;
  rerun_ok();
  EXPECT_EQ(m->x(0), 0x1234567890ull);
  EXPECT_EQ(m->read_mem(kDataBase, 8), 0x120000abcdull);
}

TEST_P(LoadStoreTest, StoresToTranslatedCodeTakeEffect) {
  // Runs "target" once, patches it from MOV X0, #1 into MOV X0, #2, and runs it again.
  m->load({
      0xd2800003,  // mov x3, #0
      0x10000021,  // adr x1, .+4  (target)
      0xd2800020,  // target: mov x0, #1
      0xb5000083,  // cbnz x3, .+16 (done)
      0xd2800023,  // mov x3, #1
      0xb9000022,  // str w2, [x1]
      0x17fffffc,  // b .-16 (target)
  });
  m->x(2) = 0xd2800040;  // mov x0, #2
  rerun_ok();
  EXPECT_EQ(m->x(0), 2u);
}

TEST_P(LoadStoreTest, UnallocatedEncodingsAreUndefined) {
  const uint32_t words[] = {
      0xb9c00020,  // LDRS to W from a word (size=10, opc=11)
      0xf8800c20,  // PRFM with pre-index (size=11, opc=10)
      0x68400820,  // LDPSW non-temporal
      0xf8620820,  // LDR (register) with option UXTB
      0xed400820,  // LDP of SIMD&FP registers with opc=11
      0x7dc00020,  // LDR (SIMD&FP) with size=01, opc=11
      0xdc000000,  // LDR (literal, SIMD&FP) with opc=11
  };
  for (uint32_t w : words) {
    m->load({w});
    m->x(1) = kDataBase;
    expect_exception(kVecCurrentSpxSync, 0x00);
    EXPECT_EQ(m->cpu->state().elr_el1, kCodeBase) << std::hex << w;
  }
}

ORRERY_ARM64_TIERS(LoadStoreTest);

}  // namespace
}  // namespace orrery::cpu::arm64::test
