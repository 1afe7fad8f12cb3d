// Test harness for the x86 system architecture: a one-vCPU machine with 32 MiB of RAM at 0, an
// empty I/O-port space and helpers that build descriptor tables and page tables in RAM.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "cpu/x86/cpu.h"
#include "cpu/x86/exception.h"
#include "cpu/x86/seg.h"
#include "hw/core/address_space.h"
#include "hw/core/log.h"
#include "tcg/exec/engine.h"

namespace orrery::cpu::x86::test {

constexpr uint64_t kRamSize = 32ull << 20;

/// A port device at 0xf4 (like isa-debug-exit): records each write and kicks the vCPU, so
/// run() returns ExitKind::Kicked. Reads return 0.
class ExitPort : public hw::MmioDevice {
 public:
  hw::MemResult read(uint64_t, unsigned, uint64_t& v) override {
    v = 0;
    return hw::MemResult::Ok;
  }
  hw::MemResult write(uint64_t, unsigned, uint64_t v) override {
    values.push_back(v);
    if (cpu) cpu->kick();
    return hw::MemResult::Ok;
  }
  std::vector<uint64_t> values;
  X86Cpu* cpu = nullptr;
};

/// A port device at 0xf8: a write raises an NMI on the vCPU.
class NmiPort : public hw::MmioDevice {
 public:
  hw::MemResult read(uint64_t, unsigned, uint64_t& v) override {
    v = 0;
    return hw::MemResult::Ok;
  }
  hw::MemResult write(uint64_t, unsigned, uint64_t) override {
    if (cpu) cpu->raise_nmi();
    return hw::MemResult::Ok;
  }
  X86Cpu* cpu = nullptr;
};

class TestMachine : public X86Platform {
 public:
  explicit TestMachine(const CpuModel& model = default_cpu_model(),
                       tcg::exec::Tier tier = tcg::exec::Tier::Interp) {
    EXPECT_EQ(memory.add_ram("ram", 0, kRamSize), "");
    EXPECT_EQ(io.add_mmio("exit", 0xf4, 4, exit_port), "");
    EXPECT_EQ(io.add_mmio("nmi", 0xf8, 1, nmi_port), "");
    tcg::exec::EngineOptions opt;
    opt.tier = tier;
    engine = std::make_unique<tcg::exec::Engine>(opt, log);
    EXPECT_EQ(engine->init(), "");
    memory.set_write_observer(engine.get());
    cpu = std::make_unique<X86Cpu>(model, 0, memory, io, *engine, *this);
    exit_port.cpu = cpu.get();
    nmi_port.cpu = cpu.get();
  }
  /// One pending interrupt (next_vector): acknowledging it lowers INTR, as a PIC with a single
  /// request does.
  int acknowledge_interrupt() override {
    ++acks;
    const int v = next_vector;
    next_vector = -1;
    if (v >= 0) cpu->set_intr(false);
    return v;
  }
  void request_reset() override { ++resets; }

  X86State& s() { return cpu->state(); }
  uint64_t rd(uint64_t pa, unsigned size) const {
    uint64_t v = 0;
    EXPECT_TRUE(memory.read_bytes(pa, &v, size));
    return v;
  }
  void wr(uint64_t pa, uint64_t v, unsigned size) { EXPECT_TRUE(memory.write_bytes(pa, &v, size)); }

  /// An 8-byte code/data descriptor.
  static uint64_t desc(uint32_t base, uint32_t limit, unsigned type, unsigned dpl, bool s = true,
                       bool db = true, bool l = false, bool g = true) {
    uint64_t d = (limit & 0xffff) | (uint64_t(base & 0xffffff) << 16) |
                 (uint64_t(type & 0xf) << 40) | (uint64_t(s) << 44) | (uint64_t(dpl) << 45) |
                 (1ull << 47) | (uint64_t((limit >> 16) & 0xf) << 48) | (uint64_t(l) << 53) |
                 (uint64_t(db) << 54) | (uint64_t(g) << 55) | (uint64_t(base >> 24) << 56);
    return d;
  }
  /// A 32-bit interrupt/trap gate (type 14/15) or 16-bit (6/7).
  static uint64_t gate32(uint16_t sel, uint32_t off, unsigned type, unsigned dpl,
                         bool present = true) {
    return (off & 0xffff) | (uint64_t(sel) << 16) | (uint64_t(type) << 40) | (uint64_t(dpl) << 45) |
           (uint64_t(present) << 47) | (uint64_t(off >> 16) << 48);
  }
  /// A 64-bit gate's two quadwords.
  void gate64(uint64_t at, uint16_t sel, uint64_t off, unsigned type, unsigned dpl,
              unsigned ist = 0, bool present = true) {
    wr(at, gate32(sel, uint32_t(off), type, dpl, present) | (uint64_t(ist) << 32), 8);
    wr(at + 8, off >> 32, 8);
  }

  /// Loads a segment register's cache straight from a GDT entry (no checks).
  void set_seg(unsigned r, uint16_t sel) {
    Descriptor d;
    const uint64_t raw = rd(s().gdtr.base + (sel & ~7), 8);
    d.lo = uint32_t(raw);
    d.hi = uint32_t(raw >> 32);
    s().seg[r] = make_cache(sel, d);
  }

  hw::Log log;
  ExitPort exit_port;
  NmiPort nmi_port;
  hw::AddressSpace memory;
  hw::AddressSpace io;
  std::unique_ptr<tcg::exec::Engine> engine;
  std::unique_ptr<X86Cpu> cpu;
  int next_vector = -1;
  int acks = 0;
  int resets = 0;
};

/// The fault f() raised, or vector 0xff when it raised none.
inline GuestFault fault_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const GuestFault& g) {
    return g;
  }
  return GuestFault{0xff, 0, 0};
}

}  // namespace orrery::cpu::x86::test
