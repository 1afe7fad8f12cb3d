// Instructions the CPU model does not implement: UNDEFINED in the guest (EC 0, IL set), at EL0
// and EL1, named once per encoding and PC under -d unimp; stopping the vCPU is the opt-in
// -accel tcg,unimp=stop.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "cpu/arm64/exception.h"
#include "cpu/arm64/extension_names.h"
#include "tests/unit/arm64/harness.h"

namespace orrery::cpu::arm64::test {
namespace {

class UnimplementedTest : public Arm64Test {
 protected:
  void SetUp() override {
    Arm64Test::SetUp();
    if (m) m->cpu->set_stop_on_unimplemented(false);  // the product default
  }
};

constexpr uint32_t kLdadd = 0xf8220020;  // ldadd x2, x0, [x1] (FEAT_LSE)
constexpr uint64_t kEl0Code = kCodeBase + 0x1000;

struct Encoding {
  uint32_t insn;
  const char* name;
};

// Encodings of extensions a Cortex-A57 lacks (and Orrery does not implement), each seen stopping
// the whole machine before.
constexpr Encoding kBeyondA57[] = {
    {0xf8220020, "ldadd x2, x0, [x1]"},
    {0xc8a07c22, "cas x0, x2, [x1]"},
    {0xf8228020, "swp x2, x0, [x1]"},
    {0xf8bfc020, "ldapr x0, [x1]"},
    {0x6e828420, "sqrdmlah v0.4s, v1.4s, v2.4s"},
    {0x4e829420, "sdot v0.4s, v1.16b, v2.16b"},
    {0x1ee22820, "fadd h0, h1, h2"},
    {0xdac10020, "pacia x0, x1"},
    {0xf8200420, "ldraa x0, [x1]"},
    {0x9adf1020, "irg x0, x1"},
    {0xba018402, "rmif x0, #3, #2"},
    {0x3a00080d, "setf8 w0"},
    {0xce628020, "sha512h q0, q1, v2.2d"},
    {0xce020c20, "eor3 v0.16b, v1.16b, v2.16b, v3.16b"},
    {0xce823420, "xar v0.2d, v1.2d, v2.2d, #13"},
};

std::string read_file(const char* path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

TEST_P(UnimplementedTest, AtEl1ItIsAnUndefinedInstructionException) {
  m->load({
      0xd2800020,  // mov x0, #1
      kLdadd,
      0xd2800040,  // mov x0, #2
  });
  m->x(1) = kDataBase;
  expect_exception(kVecCurrentSpxSync, ec::kUnknown);
  const Arm64State& s = m->cpu->state();
  EXPECT_EQ(s.esr_el1, 0x02000000u);  // EC 0, IL
  EXPECT_EQ(s.elr_el1, kCodeBase + 4);
  EXPECT_EQ(m->x(0), 1u);
  EXPECT_EQ(m->read_mem(kDataBase, 8), 0u);  // no atomic add happened
}

TEST_P(UnimplementedTest, AtEl0ItIsTakenToEl1ThroughTheLowerElVector) {
  m->load({
      0xd5184025,  // msr elr_el1, x5
      0xd5184006,  // msr spsr_el1, x6
      0xd5184107,  // msr sp_el0, x7
      0xd69f03e0,  // eret
  });
  const uint32_t el0[] = {0xd28000e0 /* mov x0, #7 */, kLdadd};
  m->as.write_bytes(kEl0Code, el0, sizeof el0);
  m->x(1) = kDataBase;
  m->x(5) = kEl0Code;
  m->x(6) = 0;  // EL0t
  m->x(7) = kRamBase + 0x180000;
  expect_exception(kVecLowerSync, ec::kUnknown);
  const Arm64State& s = m->cpu->state();
  EXPECT_EQ(s.esr_el1, 0x02000000u);
  EXPECT_EQ(s.elr_el1, kEl0Code + 4);
  EXPECT_EQ(s.spsr_el1, 0u);  // from EL0t
  EXPECT_EQ(m->x(0), 7u);
}

TEST_P(UnimplementedTest, EveryEncodingBeyondTheModelIsUndefined) {
  for (const Encoding& e : kBeyondA57) {
    m->load({e.insn});
    m->x(1) = kDataBase;
    ExitKind k = m->run();
    ASSERT_EQ(k, ExitKind::Shutdown) << e.name << ": " << m->cpu->exit_message();
    ASSERT_EQ(m->hvcs.size(), 1u) << e.name;
    EXPECT_EQ(m->hvcs[0], kVectorHvc + kVecCurrentSpxSync) << e.name;
    EXPECT_EQ(m->cpu->state().esr_el1, 0x02000000u) << e.name;
    EXPECT_EQ(m->cpu->state().elr_el1, kCodeBase) << e.name;
  }
}

TEST_P(UnimplementedTest, NamedOnceUnderDUnimpPerEncodingAndPc) {
  char path[] = "/tmp/orrery_arm64_unimp_once_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  ASSERT_TRUE(m->log.set_file(path));
  m->log.set_mask_bits(hw::kLogUnimp);
  // The current-EL sync vector steps over the instruction and returns.
  const std::vector<uint32_t> handler = {
      0xd5384029,  // mrs x9, elr_el1
      0x91001129,  // add x9, x9, #4
      0xd5184029,  // msr elr_el1, x9
      0xd69f03e0,  // eret
  };
  m->as.write_bytes(kVectorBase + 0x200, handler.data(), handler.size() * 4);
  m->load({
      0xd2800063,  // mov x3, #3
      kLdadd,      // 1: ldadd x2, x0, [x1]
      0xf1000463,  // subs x3, x3, #1
      0x54ffffc1,  // b.ne 1b
  });
  m->x(1) = kDataBase;
  rerun_ok();
  EXPECT_EQ(m->x(3), 0u);  // three UNDEFs, each returned from
  const std::string log = read_file(path);
  std::remove(path);
  EXPECT_EQ(count(log, "0xf8220020"), 1u) << log;
  EXPECT_NE(log.find("LDADD"), std::string::npos) << log;
  EXPECT_NE(log.find("raising UNDEF"), std::string::npos) << log;
}

TEST_P(UnimplementedTest, TheStopOptionStopsTheVcpuInstead) {
  m->cpu->set_stop_on_unimplemented(true);
  m->load({kLdadd});
  ASSERT_EQ(m->run(), ExitKind::Error);
  EXPECT_EQ(m->cpu->pc(), kCodeBase);
  EXPECT_NE(m->cpu->exit_message().find("0xf8220020"), std::string::npos) << m->cpu->exit_message();
}

TEST(ExtensionEncodingNames, NameTheInstructionsSeenStoppingTheMachine) {
  EXPECT_STREQ(extension_encoding_name(0xf8220020), "LDADD");
  EXPECT_STREQ(extension_encoding_name(0xc8a07c22), "CAS");
  EXPECT_STREQ(extension_encoding_name(0xf8228020), "SWP");
  EXPECT_STREQ(extension_encoding_name(0xf8bfc020), "LDAPR");
  EXPECT_STREQ(extension_encoding_name(0x6e828420), "SQRDMLAH");
  EXPECT_STREQ(extension_encoding_name(0x4e829420), "SDOT");
  EXPECT_STREQ(extension_encoding_name(0xdac10020), "PAC/AUT");
  EXPECT_STREQ(extension_encoding_name(0xf8200420), "LDRAA/LDRAB");
  EXPECT_STREQ(extension_encoding_name(0x9adf1020), "IRG");
  EXPECT_STREQ(extension_encoding_name(0xba018402), "RMIF");
  EXPECT_STREQ(extension_encoding_name(0x3a00080d), "SETF8/SETF16");
  EXPECT_STREQ(extension_encoding_name(0x4e284820), "AES");
  EXPECT_STREQ(extension_encoding_name(0x5e024020), "SHA1/SHA256");
  EXPECT_STREQ(extension_encoding_name(0x0ee2e020), "PMULL (64-bit)");
  EXPECT_EQ(extension_encoding_name(0x8b020020), nullptr);  // add x0, x1, x2
}

ORRERY_ARM64_TIERS(UnimplementedTest);

}  // namespace
}  // namespace orrery::cpu::arm64::test
