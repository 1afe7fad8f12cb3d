// Test rig for the APIC devices: local APICs on an APIC bus with recording vCPU pins, and a
// manual clock whose timers run when the test advances it.
#pragma once

#include <memory>
#include <vector>

#include "hw/core/clock.h"
#include "hw/core/event_loop.h"
#include "hw/intc/apic_bus.h"
#include "hw/intc/lapic.h"

namespace orrery::hw::test {

struct FakeCpuPins : LapicOutputs {
  bool intr = false;
  int nmis = 0, inits = 0;
  std::vector<uint8_t> sipis;
  void set_intr(bool level) override { intr = level; }
  void nmi() override { ++nmis; }
  void init() override { ++inits; }
  void startup(uint8_t v) override { sipis.push_back(v); }
};

struct ApicRig {
  Log log;
  Clock clock{ClockSource::kManual};
  EventLoop loop{clock};
  ApicBus bus{log};
  std::vector<std::unique_ptr<FakeCpuPins>> pins;
  std::vector<std::unique_ptr<LocalApic>> lapics;

  explicit ApicRig(unsigned cpus) {
    for (unsigned i = 0; i < cpus; ++i) {
      pins.push_back(std::make_unique<FakeCpuPins>());
      lapics.push_back(std::make_unique<LocalApic>(log, bus, loop, i, *pins.back()));
      bus.add_lapic(*lapics.back());
    }
  }
  ~ApicRig() { lapics.clear(); }
  LocalApic& l(unsigned i) { return *lapics[i]; }
  void w(unsigned cpu, uint32_t off, uint32_t v) {
    ASSERT_EQ(l(cpu).mmio_write(off, 4, v), MemResult::Ok);
  }
  uint32_t r(unsigned cpu, uint32_t off) {
    uint64_t v = 0;
    EXPECT_EQ(l(cpu).mmio_read(off, 4, v), MemResult::Ok);
    return uint32_t(v);
  }
  void enable(unsigned cpu) { w(cpu, LocalApic::kRegSvr, 0x1ff); }
  /// Moves virtual time forward and runs the timers that came due.
  void advance(int64_t ns) {
    clock.advance(ns);
    while (loop.run_once(0) > 0) {
    }
  }
};

}  // namespace orrery::hw::test
