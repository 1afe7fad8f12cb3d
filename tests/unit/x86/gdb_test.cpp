// The x86 gdb target: register numbering and sizes, reads and writes of the core, segment,
// x87, SSE and control registers, and the target description.
#include "cpu/x86/gdb.h"

#include <cstring>

#include "sys_harness.h"

namespace orrery::cpu::x86::test {
namespace {

uint64_t get(GdbTarget& t, unsigned regno) {
  uint8_t buf[16] = {};
  EXPECT_TRUE(t.read_register(0, regno, std::span(buf, t.register_bytes(regno))));
  uint64_t v = 0;
  std::memcpy(&v, buf, 8);
  return v;
}

bool put(GdbTarget& t, unsigned regno, uint64_t v) {
  uint8_t buf[16] = {};
  std::memcpy(buf, &v, 8);
  return t.write_register(0, regno, std::span<const uint8_t>(buf, t.register_bytes(regno)));
}

TEST(X86Gdb, RegistersAndTargetDescription) {
  TestMachine m;
  auto t = create_gdb_target(m.engine->debug());
  ASSERT_EQ(t->thread_count(), 1u);
  const std::string xml(*t->feature_xml("target.xml"));
  EXPECT_NE(xml.find("<architecture>i386:x86-64</architecture>"), std::string::npos);
  EXPECT_NE(xml.find("org.gnu.gdb.i386.sse"), std::string::npos);
  EXPECT_EQ(t->register_bytes(kGdbRegSt0), 10u);
  EXPECT_EQ(t->register_bytes(kGdbRegXmm0), 16u);
  EXPECT_EQ(t->pc_register(), kGdbRegRip);

  // Power-on state: CS F000, RIP FFF0 (linear FFFFFFF0).
  EXPECT_EQ(get(*t, kGdbRegRip), 0xfff0u);
  EXPECT_EQ(get(*t, kGdbRegCs) & 0xffff, 0xf000u);
  EXPECT_EQ(get(*t, kGdbRegEflags), 2u);
  m.s().gpr[kRbx] = 0x1234;
  EXPECT_EQ(get(*t, 1), 0x1234u) << "gdb register 1 is rbx";
  ASSERT_TRUE(put(*t, 0, 0xdeadbeef));
  EXPECT_EQ(m.s().gpr[kRax], 0xdeadbeefu);
  ASSERT_TRUE(put(*t, kGdbRegRip, 0x100));
  EXPECT_EQ(m.cpu->pc(), 0xffff0100u);
  // Real mode: writing CS reloads its base.
  ASSERT_TRUE(put(*t, kGdbRegCs, 0x1000));
  EXPECT_EQ(m.s().seg[kCs].base, 0x10000u);
  EXPECT_EQ(m.cpu->pc(), 0x10100u);
  // Control registers go through the architectural checks.
  EXPECT_FALSE(put(*t, kGdbRegFirstSys + 3, cr4::kLa57)) << "CR4.LA57 is not offered";
  ASSERT_TRUE(put(*t, kGdbRegFirstSys + 3, cr4::kPae));
  EXPECT_EQ(m.s().cr4, cr4::kPae);
  // x87: ST0 is the physical register at TOP.
  m.s().x87.top = 6;
  m.s().x87.st[6].mant = 0x8000000000000000ull;
  m.s().x87.st[6].sign_exp = 0x3fff;  // 1.0
  uint8_t st0[10];
  ASSERT_TRUE(t->read_register(0, kGdbRegSt0, st0));
  EXPECT_EQ(st0[7], 0x80);
  EXPECT_EQ(st0[8] | st0[9] << 8, 0x3fff);
  EXPECT_EQ((get(*t, kGdbRegFctrl + 1) >> 11) & 7, 6u) << "FSTAT carries TOP";
  m.s().ymm[3].q[1] = 0x55;
  uint8_t x3[16];
  ASSERT_TRUE(t->read_register(0, kGdbRegXmm0 + 3, x3));
  EXPECT_EQ(x3[8], 0x55);
}

}  // namespace
}  // namespace orrery::cpu::x86::test
