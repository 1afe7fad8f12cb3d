// isa-debug-exit: the exit status rule and the -device property checks.
#include "hw/misc/isa_debug_exit.h"

#include <gtest/gtest.h>

#include <vector>

#include "hw/core/address_space.h"

namespace orrery::hw {
namespace {

using Props = std::vector<std::pair<std::string, std::string>>;

TEST(IsaDebugExit, StatusIsValueShiftedOrOneAsQemu) {
  EXPECT_EQ(IsaDebugExit::exit_status(0), 1);
  EXPECT_EQ(IsaDebugExit::exit_status(0x10), 0x21);
  EXPECT_EQ(IsaDebugExit::exit_status(0x7f), 0xff);
  EXPECT_EQ(IsaDebugExit::exit_status(0x80), 1);  // the process status keeps 8 bits
  EXPECT_EQ(IsaDebugExit::exit_status(0x12345631), 0x63);
}

TEST(IsaDebugExit, PortWritesOfEverySizeExit) {
  std::vector<int> exits;
  IsaDebugExit dev([&](int s) { exits.push_back(s); });
  AddressSpace io("io", kIoPortSpaceSize);
  ASSERT_EQ(io.add_mmio("isa-debug-exit", 0xf4, 4, dev), "");
  EXPECT_EQ(io.write(0xf4, 1, 0x00), MemResult::Ok);
  EXPECT_EQ(io.write(0xf4, 2, 0x0102), MemResult::Ok);
  EXPECT_EQ(io.write(0xf5, 1, 0x03), MemResult::Ok);
  EXPECT_EQ(io.write(0xf4, 4, 0x41), MemResult::Ok);
  EXPECT_EQ(exits, (std::vector<int>{1, 0x05, 0x07, 0x83}));
  uint64_t v = 1;
  EXPECT_EQ(io.read(0xf4, 4, v), MemResult::Ok);
  EXPECT_EQ(v, 0u);
}

TEST(IsaDebugExit, DefaultsAreQemus) {
  IsaDebugExitConfig c;
  EXPECT_EQ(parse_isa_debug_exit({}, c), "");
  EXPECT_EQ(c.iobase, 0x501);
  EXPECT_EQ(c.iosize, 2);
}

TEST(IsaDebugExit, PropertiesParseInCNotation) {
  IsaDebugExitConfig c;
  EXPECT_EQ(parse_isa_debug_exit(Props{{"iobase", "0xf4"}, {"iosize", "4"}}, c), "");
  EXPECT_EQ(c.iobase, 0xf4);
  EXPECT_EQ(c.iosize, 4);
  EXPECT_EQ(parse_isa_debug_exit(Props{{"iobase", "244"}, {"iosize", "0x04"}}, c), "");
  EXPECT_EQ(c.iobase, 244);
}

TEST(IsaDebugExit, BadPropertiesAreOneLineErrors) {
  const Props bad[] = {
      {{"iobase", "0x10000"}}, {{"iobase", "-1"}},
      {{"iobase", ""}},        {{"iobase", "0xf4z"}},
      {{"iosize", "0"}},       {{"iobase", "0xffff"}, {"iosize", "2"}},
      {{"port", "1"}},         {{"iosize", "99999999999999999999"}},
  };
  for (const Props& p : bad) {
    IsaDebugExitConfig c;
    std::string err = parse_isa_debug_exit(p, c);
    EXPECT_FALSE(err.empty()) << p[0].first << "=" << p[0].second;
    EXPECT_EQ(err.find('\n'), std::string::npos);
    EXPECT_EQ(c.iobase, 0x501);  // nothing is taken from a bad list
  }
}

}  // namespace
}  // namespace orrery::hw
