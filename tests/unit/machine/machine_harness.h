// What the board tests share: a serial sink that keeps the text, a multiboot kernel around
// some code, and an interpreter-tier MachineContext whose event loop runs.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "hw/char/char_backend.h"
#include "hw/core/clock.h"
#include "hw/core/event_loop.h"
#include "hw/core/log.h"
#include "machine/machine.h"
#include "tcg/exec/engine.h"

namespace orrery::machine::test {

class StringSink : public hw::CharSink {
 public:
  void write(std::span<const uint8_t> data) override { out.append(data.begin(), data.end()); }
  std::string out;
};

/// A multiboot kernel with the a.out kludge: loaded at 1 MiB, entry at 0x100020 = code.
inline std::vector<uint8_t> multiboot_kernel(const std::vector<uint8_t>& code) {
  std::vector<uint8_t> b;
  auto put = [&](uint32_t v) {
    for (int i = 0; i < 4; ++i) b.push_back(uint8_t(v >> (8 * i)));
  };
  const uint32_t magic = 0x1BADB002, flags = 0x10000;
  for (uint32_t v : {magic, flags, 0u - magic - flags, 0x100000u, 0x100000u, 0u, 0u, 0x100020u})
    put(v);
  b.insert(b.end(), code.begin(), code.end());
  return b;
}

/// A fixture whose ctx builds boards on the interpreter tier, with the event loop started.
class InterpMachineTest : public ::testing::Test {
 protected:
  InterpMachineTest() : engine(engine_options(), log), ctx{log, engine, clock, loop} {
    EXPECT_EQ(engine.init(), "");
    loop.start();
  }
  static tcg::exec::EngineOptions engine_options() {
    tcg::exec::EngineOptions o;
    o.tier = tcg::exec::Tier::Interp;
    return o;
  }
  hw::Log log;
  tcg::exec::Engine engine;
  hw::Clock clock;
  hw::EventLoop loop{clock};
  MachineContext ctx;
};

}  // namespace orrery::machine::test
