// 16- and 32-byte VEX memory operands (one VecLoad/VecStore each) on every tier: the aligned
// forms demand the operand's size (#GP(0), before any page fault), the others take any address
// and may cross a page, and a ymm store whose second page faults writes nothing (silicon's rule;
// two 16-byte halves would leave the first written).
#include "cpu/x86/exception.h"
#include "tests/unit/x86/harness.h"

namespace orrery::cpu::x86::test {
namespace {

// X86MemTest's machine with AVX enabled (OSXSAVE, XCR0 7), four quadwords 0x1122334455667788
// * k below kEndAddr and a pattern in ymm0-3.
class X86AvxMem : public X86MemTest {
 protected:
  RunResult run(const std::string& src) {
    load(src);
    for (unsigned i = 2; i <= 4; ++i) m_->write_mem(kEndAddr - 8 * i, 0x1122334455667788ull * i, 8);
    m_->s().cr4 |= cr4::kOsxsave;
    m_->s().xcr0 = 7;
    for (unsigned r = 0; r < 4; ++r)
      for (unsigned q = 0; q < 4; ++q) m_->s().ymm[r].q[q] = 0xa5a5a5a500000000ull | (r << 4 | q);
    return m_->run();
  }
  void expect_gp(const std::string& src, const std::string& what) {
    RunResult r = run(src);
    EXPECT_EQ(r.kind, RunResult::Exception) << what;
    EXPECT_EQ(r.vector, int(vec::kGp)) << what;
  }
  void expect_end(const std::string& src, const std::string& what) {
    RunResult r = run(src);
    EXPECT_EQ(r.kind, RunResult::End) << what << " " << r.vector << " " << r.message;
    EXPECT_EQ(m_->s().gpr[kRbx], 1u) << what;
  }
};

std::string at(uint64_t addr, const std::string& insn) {
  return "mov rax, " + hex(addr) + "\n" + insn;
}

// VMOVAPS/APD/DQA and VMOVNT*: #GP(0) unless aligned to the operand's size (16 bytes for xmm,
// 32 for ymm); a ymm at 16 mod 32 faults, an xmm there does not.
TEST_P(X86AvxMem, AlignedFormsDemandTheOperandSize) {
  const char* const forms[] = {"vmovaps {r}, [rax]",  "vmovapd {r}, [rax]",  "vmovdqa {r}, [rax]",
                               "vmovaps [rax], {r}",  "vmovapd [rax], {r}",  "vmovdqa [rax], {r}",
                               "vmovntps [rax], {r}", "vmovntpd [rax], {r}", "vmovntdq [rax], {r}",
                               "vmovntdqa {r}, [rax]"};
  for (const char* form : forms) {
    for (const char* reg : {"xmm1", "ymm1"}) {
      std::string insn = form;
      insn.replace(insn.find("{r}"), 3, reg);
      const bool y = reg[0] == 'y';
      for (unsigned off : {1u, 4u, 8u, 24u}) expect_gp(at(kDataAddr + 0x40 + off, insn), insn);
      if (y)
        expect_gp(at(kDataAddr + 0x50, insn), insn + " +16");
      else
        expect_end(at(kDataAddr + 0x50, insn), insn + " +16");
      expect_end(at(kDataAddr + 0x40, insn), insn);
    }
  }
}

// The other forms take any address, within a page or across one.
TEST_P(X86AvxMem, OtherFormsTakeAnyAddress) {
  const char* const forms[] = {
      "vmovups ymm1, [rax]",      "vmovupd ymm1, [rax]",      "vmovdqu ymm1, [rax]",
      "vlddqu ymm1, [rax]",       "vmovups [rax], ymm1",      "vmovdqu [rax], ymm1",
      "vpaddd ymm1, ymm2, [rax]", "vpxor ymm1, ymm2, [rax]",  "vpshufd ymm1, [rax], 0x1b",
      "vaddps ymm1, ymm2, [rax]", "vpaddb xmm1, xmm2, [rax]", "vmovdqu xmm1, [rax]"};
  for (const char* insn : forms)
    for (uint64_t a : {kDataAddr + 0x43, kDataAddr + 0x58, kDataAddr + 0xff9})
      expect_end(at(a, insn), insn);
}

TEST_P(X86AvxMem, MisalignedYmmLoadsAndStoresMoveTheRightBytes) {
  RunResult r = run(at(kDataAddr + 0x43,
                       "vmovdqu ymm1, [rax]\nvpaddb ymm2, ymm1, [rax]\n"
                       "vmovups [rax+0x101], ymm2"));
  ASSERT_EQ(r.kind, RunResult::End);
  for (unsigned i = 0; i < 32; ++i) {
    const unsigned a = 0x43 + i;
    const uint8_t v = uint8_t(a / 8);
    EXPECT_EQ(m_->s().ymm[1].q[i / 8] >> (8 * (i % 8)) & 0xff, v) << i;
    EXPECT_EQ(m_->s().ymm[2].q[i / 8] >> (8 * (i % 8)) & 0xff, uint8_t(2 * v)) << i;
    EXPECT_EQ(m_->read_mem(kDataAddr + 0x144 + i, 1), uint8_t(2 * v)) << i;
  }
  // A page-crossing ymm load and store (0x8ff0 .. 0x900f).
  r = run(at(kDataAddr + 0xff0, "vmovdqu ymm1, [rax]\nvmovdqu [rax-0x800], ymm1"));
  ASSERT_EQ(r.kind, RunResult::End);
  for (unsigned q = 0; q < 4; ++q) {
    const uint64_t want = m_->read_mem(kDataAddr + 0xff0 + 8 * q, 8);
    EXPECT_EQ(m_->s().ymm[1].q[q], want) << q;
    EXPECT_EQ(m_->read_mem(kDataAddr + 0x7f0 + 8 * q, 8), want) << q;
  }
}

// The alignment check comes first: a misaligned VMOVAPS ymm into the unmapped page is #GP(0).
TEST_P(X86AvxMem, AlignmentFaultBeforeTheTranslationFault) {
  expect_gp(at(kIdtAddr + 0x110, "vmovaps ymm0, [rax]"), "load");
  expect_gp(at(kIdtAddr + 0x110, "vmovntdq [rax], ymm0"), "store");
}

// A ymm store running into an unmapped page writes none of its 32 bytes.
TEST_P(X86AvxMem, YmmStoreCrossingIntoAFaultingPageWritesNothing) {
  for (const char* insn : {"vmovdqu [rax], ymm2", "vmovups [rax], ymm2"})
    for (unsigned back : {8u, 16u, 24u}) {
      RunResult r = run(at(kEndAddr - back, "vpcmpeqb ymm2, ymm2, ymm2\n" + std::string(insn)));
      EXPECT_EQ(r.kind, RunResult::End) << insn << " -" << back;
      EXPECT_EQ(m_->s().gpr[kRbx], 0u) << insn;  // stopped at the store, not after it
      for (unsigned i = 1; i <= 4; ++i)
        EXPECT_EQ(m_->read_mem(kEndAddr - 8 * i, 8), 0x1122334455667788ull * i)
            << insn << " -" << back << " q" << i;
    }
}

// A ymm load or memory source running into an unmapped page leaves the destination as it was.
TEST_P(X86AvxMem, YmmLoadCrossingIntoAFaultingPageChangesNothing) {
  for (const char* insn : {"vmovdqu ymm1, [rax]", "vpaddd ymm1, ymm1, [rax]"}) {
    RunResult r = run(at(kEndAddr - 16, insn));
    EXPECT_EQ(r.kind, RunResult::End) << insn;
    EXPECT_EQ(m_->s().gpr[kRbx], 0u) << insn;
    for (unsigned q = 0; q < 4; ++q)
      EXPECT_EQ(m_->s().ymm[1].q[q], 0xa5a5a5a500000000ull | (1u << 4 | q)) << insn << q;
  }
}

ORRERY_X86_TIERS(X86AvxMem);

}  // namespace
}  // namespace orrery::cpu::x86::test
