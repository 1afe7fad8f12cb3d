// AtomicRmw and AtomicCmpxchg in the interpreter with the real softmmu: the TLB fast path (a
// host atomic on RAM), the slow path (first touch, MMIO as a read then a write, faults), the
// 16-byte compare-exchange for helpers, and atomicity between two vCPUs; and that a plain guest
// store is one host store (a spinlock released by a plain store stays released once).
#include <gtest/gtest.h>
#include <linux/hw_breakpoint.h>
#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <thread>

#include "hw/core/address_space.h"
#include "tcg/exec/tb.h"
#include "tcg/interp/interp.h"
#include "tcg/ir/emitter.h"
#include "tcg/softmmu/softmmu.h"
#include "tests/unit/atomic_oracle.h"
#include "tests/unit/fault_translator.h"

namespace orrery::tcg {
namespace {

using ir::AtomicOp;
using ir::Emitter;
using ir::MemOp;
using ir::Type;
using ir::Value;
using test::atomic_apply;

struct State {
  CpuCommon common;
  uint64_t r[4] = {};
};
constexpr uint32_t reg(unsigned i) {
  return uint32_t(offsetof(State, r) + 8 * i);
}

constexpr uint64_t kRam = 0x10000, kDev = 0x1000, kRom = 0x30000;

class Register : public hw::MmioDevice {
 public:
  hw::MemResult read(uint64_t, unsigned, uint64_t& v) override {
    ++reads;
    v = value;
    return hw::MemResult::Ok;
  }
  hw::MemResult write(uint64_t, unsigned, uint64_t v) override {
    ++writes;
    value = v;
    return hw::MemResult::Ok;
  }
  hw::AccessRules valid() const override { return {1, 8, false}; }
  uint64_t value = 0;
  int reads = 0, writes = 0;
};

struct Vcpu {
  explicit Vcpu(hw::AddressSpace& as) : mmu(st.common, as, tr) {}
  uint64_t run(const ir::Block& b) {
    EXPECT_EQ(ir::verify(b), "") << ir::print(b);
    auto p = interp::build(b, nullptr);
    return interp::run(*p, &st.common);
  }
  State st;
  test::FaultTranslator tr{st.common};
  softmmu::Softmmu mmu;
};

class AtomicInterpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(as.add_ram("ram", kRam, 0x10000), "");
    ASSERT_EQ(as.add_mmio("dev", kDev, 0x100, dev), "");
    ASSERT_EQ(as.add_rom("rom", kRom, 0x1000), "");
  }
  uint64_t peek(uint64_t a, unsigned size) {
    uint64_t v = 0;
    EXPECT_TRUE(as.read_bytes(a, reinterpret_cast<uint8_t*>(&v), size));
    return v;
  }
  void poke(uint64_t a, uint64_t v, unsigned size) {
    EXPECT_TRUE(as.write_bytes(a, reinterpret_cast<const uint8_t*>(&v), size));
  }
  hw::AddressSpace as;
  Register dev;
  Vcpu cpu{as};
};

TEST_F(AtomicInterpTest, RmwEveryOpAndSizeMissThenHit) {
  const Type types[] = {Type::I8, Type::I16, Type::I32, Type::I64};
  for (unsigned op = 0; op < ir::kNumAtomicOps; ++op) {
    for (unsigned s = 0; s < 4; ++s) {
      const unsigned size = 1u << s;
      const uint64_t m = size == 8 ? ~0ull : (1ull << (8 * size)) - 1;
      const uint64_t addr = kRam + 0x100 * op + 8 * s;
      ir::Block b;
      Emitter e(b);
      e.insn_start(0x100);
      Value r = e.atomic_rmw(AtomicOp(op), e.c64(addr), e.konst(types[s], 0x9b5d3f1e2c4a6879ull),
                             MemOp{});
      e.set_reg(reg(0), e.zext(Type::I64, r));
      e.jump(0x104);
      uint64_t expect = 0xa5c3e1f00f1e2d3cull & m;
      poke(addr, expect, size);
      for (int pass = 0; pass < 2; ++pass) {  // the first misses the TLB, the second hits
        ASSERT_EQ(cpu.run(b), exec::kRetNext);
        EXPECT_EQ(cpu.st.r[0], expect) << ir::atomic_op_name(AtomicOp(op)) << size << pass;
        expect = atomic_apply(AtomicOp(op), expect, 0x9b5d3f1e2c4a6879ull) & m;
        EXPECT_EQ(peek(addr, size), expect);
      }
    }
  }
}

TEST_F(AtomicInterpTest, CmpxchgSucceedsOnlyOnEqual) {
  ir::Block b;
  Emitter e(b);
  e.insn_start(0x100);
  e.set_reg(reg(0), e.atomic_cmpxchg(e.c64(kRam + 8), e.get_reg(Type::I64, reg(1)),
                                     e.get_reg(Type::I64, reg(2)), MemOp{}));
  e.jump(0x104);
  poke(kRam + 8, 77, 8);
  cpu.st.r[1] = 76;
  cpu.st.r[2] = 5;
  ASSERT_EQ(cpu.run(b), exec::kRetNext);
  EXPECT_EQ(cpu.st.r[0], 77u);
  EXPECT_EQ(peek(kRam + 8, 8), 77u);
  cpu.st.r[1] = 77;
  ASSERT_EQ(cpu.run(b), exec::kRetNext);
  EXPECT_EQ(cpu.st.r[0], 77u);
  EXPECT_EQ(peek(kRam + 8, 8), 5u);
}

TEST_F(AtomicInterpTest, MmioIsAReadThenAWrite) {
  ir::Block b;
  Emitter e(b);
  e.insn_start(0x100);
  e.set_reg(reg(0),
            e.zext(Type::I64, e.atomic_rmw(AtomicOp::Add, e.c64(kDev + 8), e.c32(3), MemOp{})));
  e.jump(0x104);
  dev.value = 10;
  ASSERT_EQ(cpu.run(b), exec::kRetNext);
  EXPECT_EQ(cpu.st.r[0], 10u);
  EXPECT_EQ(dev.value, 13u);
  EXPECT_EQ(dev.reads, 1);
  EXPECT_EQ(dev.writes, 1);
}

TEST_F(AtomicInterpTest, FaultsStopTheBlock) {
  ir::Block b;
  Emitter e(b);
  e.insn_start(0x100);
  e.atomic_rmw(AtomicOp::Xchg, e.c64(0x900000), e.c64(1), MemOp{});  // nothing there
  e.insn_start(0x104);
  e.set_reg(reg(1), e.c64(1));
  e.jump(0x108);
  EXPECT_EQ(cpu.run(b), exec::kRetPending);
  EXPECT_EQ(cpu.tr.faults, 1);
  EXPECT_EQ(cpu.tr.fault_addr, 0x900000u);
  EXPECT_EQ(cpu.st.common.pc, 0x100u);
  EXPECT_EQ(cpu.st.r[1], 0u);
  cpu.st.common.pending_exit = 0;
  // Alignment, when the MemOp asks for it.
  ir::Block a;
  Emitter ea(a);
  ea.insn_start(0x200);
  MemOp aligned;
  aligned.align = true;
  ea.atomic_rmw(AtomicOp::Add, ea.c64(kRam + 2), ea.c32(1), aligned);
  ea.jump(0x204);
  EXPECT_EQ(cpu.run(a), exec::kRetPending);
  EXPECT_EQ(cpu.tr.align_faults, 1);
  EXPECT_EQ(cpu.st.common.pc, 0x200u);
}

TEST_F(AtomicInterpTest, Cmpxchg16ForHelpers) {
  poke(kRam + 0x40, 0x1111, 8);
  poke(kRam + 0x48, 0x2222, 8);
  uint64_t expected[2] = {0x1111, 0x2223};
  const uint64_t desired[2] = {0xaaaa, 0xbbbb};
  ASSERT_TRUE(cpu.mmu.atomic_cmpxchg16(kRam + 0x40, 0, expected, desired, 0x100));
  EXPECT_EQ(expected[1], 0x2222u);  // mismatch: the old value, memory unchanged
  EXPECT_EQ(peek(kRam + 0x48, 8), 0x2222u);
  ASSERT_TRUE(cpu.mmu.atomic_cmpxchg16(kRam + 0x40, 0, expected, desired, 0x100));
  EXPECT_EQ(peek(kRam + 0x40, 8), 0xaaaau);
  EXPECT_EQ(peek(kRam + 0x48, 8), 0xbbbbu);
  EXPECT_FALSE(cpu.mmu.atomic_cmpxchg16(kRam + 0x48, 0, expected, desired, 0x100));  // unaligned
  EXPECT_EQ(cpu.tr.align_faults, 1);
}

TEST_F(AtomicInterpTest, TwoVcpusCountsAddUp) {
  // Each vCPU has its own TLB over the same RAM; a block adds 1 (AtomicRmw) and adds 1 through
  // a compare-exchange loop on another word, counting its successes.
  ir::Block b;
  Emitter e(b);
  e.insn_start(0x100);
  e.atomic_rmw(AtomicOp::Add, e.c64(kRam + 0x80), e.konst(Type::I16, 1), MemOp{});
  Value seen = e.get_reg(Type::I64, reg(0));
  Value old = e.atomic_cmpxchg(e.c64(kRam + 0x88), seen, e.add(seen, e.c64(1)), MemOp{});
  e.set_reg(reg(0), old);
  e.set_reg(reg(1),
            e.add(e.get_reg(Type::I64, reg(1)), e.zext(Type::I64, e.cmp(ir::Cond::Eq, old, seen))));
  e.jump(0x100);
  ASSERT_EQ(ir::verify(b), "");
  auto prog = interp::build(b, nullptr);
  Vcpu other(as);
  constexpr unsigned kIters = 20000;  // 16-bit counter: stays below 65536
  auto worker = [&](Vcpu* v) {
    for (unsigned i = 0; i < kIters; ++i) interp::run(*prog, &v->st.common);
  };
  std::thread t0(worker, &cpu), t1(worker, &other);
  t0.join();
  t1.join();
  EXPECT_EQ(peek(kRam + 0x80, 2), 2 * kIters);
  EXPECT_EQ(peek(kRam + 0x88, 8), cpu.st.r[1] + other.st.r[1]);
  EXPECT_GT(peek(kRam + 0x88, 8), 0u);
}

// Counts this thread's host writes to 8 aligned bytes with a debug-register write breakpoint
// (perf_event_open); skips where perf events are not allowed.
class HostWriteCounter {
 public:
  explicit HostWriteCounter(const uint8_t* p) {
    perf_event_attr a;
    std::memset(&a, 0, sizeof a);
    a.type = PERF_TYPE_BREAKPOINT;
    a.size = sizeof a;
    a.bp_type = HW_BREAKPOINT_W;
    a.bp_addr = reinterpret_cast<uintptr_t>(p);
    a.bp_len = HW_BREAKPOINT_LEN_8;
    a.exclude_kernel = 1;
    a.exclude_hv = 1;
    fd_ = int(syscall(SYS_perf_event_open, &a, 0, -1, -1, 0));
  }
  ~HostWriteCounter() {
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return fd_ >= 0; }
  uint64_t count() const {
    uint64_t n = 0;
    return read(fd_, &n, sizeof n) == sizeof n ? n : ~0ull;
  }

 private:
  int fd_ = -1;
};

TEST_F(AtomicInterpTest, PlainStoreIsOneHostStore) {
  // A guest store of 1, 2, 4 or 8 bytes must reach RAM as one host store, on the TLB miss path,
  // the hit path and AddressSpace::write: a store written twice (an inlined run-time-sized
  // memcpy's head and tail moves) can undo another vCPU's store in between, and so lost
  // increments under an XCHG spinlock released by a plain MOV (guest.x86.smp_lock.interp).
  const Type types[] = {Type::I8, Type::I16, Type::I32, Type::I64};
  for (unsigned s = 0; s < 4; ++s) {
    const unsigned size = 1u << s;
    const uint64_t addr = kRam + 0x2000 + 0x1000 * s;  // a page of its own: the first run misses
    uint8_t* host = as.host_ptr(addr, 8);
    ASSERT_NE(host, nullptr);
    HostWriteCounter writes(host);
    if (!writes.ok()) GTEST_SKIP() << "perf_event_open(PERF_TYPE_BREAKPOINT) not allowed here";
    // Some hypervisors accept the breakpoint but never fire it: check it counts a host store.
    *reinterpret_cast<volatile uint8_t*>(host) = host[0];
    if (writes.count() != 1u) GTEST_SKIP() << "host write breakpoints do not fire here";
    ir::Block b;
    Emitter e(b);
    e.insn_start(0x100);
    e.store(e.c64(addr), e.konst(types[s], 0x8877665544332211ull), MemOp{uint8_t(s)});
    e.exit(ir::ExitReason::Halt, 0x104);
    auto prog = interp::build(b, nullptr);
    interp::run(*prog, &cpu.st.common);  // TLB miss: Softmmu's slow path
    EXPECT_EQ(writes.count(), 2u) << size << "-byte store, slow path";
    interp::run(*prog, &cpu.st.common);  // TLB hit: the interpreter's own store
    EXPECT_EQ(writes.count(), 3u) << size << "-byte store, fast path";
    ASSERT_EQ(as.write(addr, size, 0x1122334455667788ull), hw::MemResult::Ok);
    EXPECT_EQ(writes.count(), 4u) << size << "-byte AddressSpace::write";
    EXPECT_EQ(peek(addr, size), 0x1122334455667788ull & (~0ull >> (64 - 8 * size)));
  }
}

TEST_F(AtomicInterpTest, TwoVcpusXchgSpinlockWithPlainRelease) {
  // smp_lock.c's spinlock: XCHG takes the lock, a plain load/add/store increments the counter,
  // a plain store of 0 releases it. No increment may be lost.
  constexpr uint64_t kLock = kRam + 0x1000, kCounter = kRam + 0x1040;
  ir::Block acquire;
  {
    Emitter e(acquire);
    e.insn_start(0x100);
    e.set_reg(reg(0),
              e.zext(Type::I64, e.atomic_rmw(AtomicOp::Xchg, e.c64(kLock), e.c32(1), MemOp{2})));
    e.exit(ir::ExitReason::Halt, 0x104);
  }
  ir::Block critical;
  {
    Emitter e(critical);
    e.insn_start(0x200);
    Value c = e.load(Type::I32, e.c64(kCounter), MemOp{2});
    e.store(e.c64(kCounter), e.add(c, e.c32(1)), MemOp{2});
    e.store(e.c64(kLock), e.c32(0), MemOp{2});
    e.exit(ir::ExitReason::Halt, 0x208);
  }
  ASSERT_EQ(ir::verify(acquire), "");
  ASSERT_EQ(ir::verify(critical), "");
  auto take = interp::build(acquire, nullptr), body = interp::build(critical, nullptr);
  Vcpu other(as);
  constexpr unsigned kIters = 200000;
  auto worker = [&](Vcpu* v) {
    for (unsigned i = 0; i < kIters; ++i) {
      do {
        interp::run(*take, &v->st.common);
      } while (v->st.r[0] != 0);
      interp::run(*body, &v->st.common);
    }
  };
  std::thread t0(worker, &cpu), t1(worker, &other);
  t0.join();
  t1.join();
  EXPECT_EQ(peek(kCounter, 4), 2 * kIters);
  EXPECT_EQ(peek(kLock, 4), 0u);
}

}  // namespace
}  // namespace orrery::tcg
