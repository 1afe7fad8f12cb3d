// Test harness for the AArch64 CPU: a one-vCPU machine with RAM that runs hex-encoded A64 code
// through the real pipeline (decoder, translator, optimiser, interpreter or LLVM tier, softmmu)
// until a final HVC #0, plus a Unicorn reference runner for differential checks.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cpu/arm64/cpu.h"
#include "hw/core/address_space.h"
#include "hw/core/log.h"
#include "tcg/exec/engine.h"

struct uc_struct;

namespace orrery::cpu::arm64::test {

constexpr uint64_t kRamBase = 0x40000000;
constexpr uint64_t kRamSize = 4ull << 20;
constexpr uint64_t kCodeBase = kRamBase;
constexpr uint64_t kDataBase = kRamBase + 0x100000;
constexpr uint64_t kDataSize = 0x1000;
constexpr uint64_t kStackTop = kRamBase + 0x200000;
constexpr uint32_t kHvc0 = 0xd4000002;  // hvc #0: the end of every test program
// VBAR_EL1 after restart(): vector i (0..15, 0x80 apart) is `hvc #(kVectorHvc + i)`, so a test
// sees which exception was taken (and ESR/ELR/FAR/SPSR in the state) when the run ends.
constexpr uint64_t kVectorBase = kRamBase + 0x380000;
constexpr uint16_t kVectorHvc = 0x100;
constexpr unsigned kVecCurrentSpxSync = 4, kVecCurrentSpxIrq = 5, kVecLowerSync = 8,
                   kVecLowerIrq = 9, kVecCurrentSp0Sync = 0;
constexpr uint32_t hvc_insn(unsigned imm) { return 0xd4000002 | (imm << 5); }

using tcg::exec::Tier;

/// A machine with RAM at kRamBase and one Arm64Cpu whose HVCs power off. Instructions the CPU
/// does not implement stop it (-accel tcg,unimp=stop), so the differential tests and the fuzzer
/// report them as such rather than as a guest UNDEF.
class TestMachine : public Arm64Platform {
 public:
  /// code_cache_bytes: the baseline tier's code space; hot_threshold: executions before LLVM,
  /// with the policy's benefit rule off (0 for either: the engine's default).
  explicit TestMachine(Tier tier, bool optimize = true, size_t code_cache_bytes = 0,
                       uint32_t hot_threshold = 0);
  ~TestMachine() override;

  HvcResult hvc(Arm64Cpu& cpu, uint16_t imm) override;

  /// Writes code (then HVC #0) at `at`, drops translated blocks, resets the CPU to `at` with
  /// SP_EL1 = kStackTop and zeroes the data area.
  void load(const std::vector<uint32_t>& code, uint64_t at = kCodeBase);
  /// Resets the CPU to the loaded code without retranslating (register state cleared).
  void restart(uint64_t at = kCodeBase);
  ExitKind run() { return cpu->run(); }
  /// Replaces the CPU by a fresh one of model (reset; load() or restart() before running).
  void set_model(const CpuModel& model);

  uint64_t& x(unsigned r) { return cpu->state().x[r]; }
  uint64_t& sp() { return cpu->state().sp_el1; }
  VReg& v(unsigned r) { return cpu->state().v[r]; }
  /// NZCV as a 4-bit number (N is bit 3).
  unsigned nzcv() const;
  void set_nzcv(unsigned f);

  uint64_t read_mem(uint64_t addr, unsigned size) const;
  void write_mem(uint64_t addr, uint64_t value, unsigned size);

  std::string init_error;  // nonempty: the requested tier is unavailable
  hw::Log log;
  // The counter's clock and the timers' loop (host time, as in a real machine); before the CPU.
  hw::Clock clock;
  hw::EventLoop loop{clock};
  hw::AddressSpace as;
  std::unique_ptr<tcg::exec::Engine> engine;
  std::unique_ptr<Arm64Cpu> cpu;
  std::vector<uint16_t> hvcs;  // immediates seen
  uint64_t code_end = 0;       // address of the final HVC #0
};

/// Fixture parametrised by tier: every test runs under the interpreter and under LLVM.
class Arm64Test : public ::testing::TestWithParam<Tier> {
 protected:
  void SetUp() override;
  /// Loads code, runs it, and expects a shutdown at the final HVC #0.
  void run_ok(const std::vector<uint32_t>& code);
  /// Runs already loaded code and expects a shutdown at the final HVC #0.
  void rerun_ok();
  /// Runs and expects the exception vector `vector` to be entered with ESR_EL1.EC == ec.
  void expect_exception(unsigned vector, uint32_t ec);

  std::unique_ptr<TestMachine> m;
};

std::string tier_name(const ::testing::TestParamInfo<Tier>& info);

#define ORRERY_ARM64_TIERS(suite)                                                     \
  INSTANTIATE_TEST_SUITE_P(Tiers, suite,                                               \
                           ::testing::Values(Tier::Interp, Tier::Baseline, Tier::Llvm),  \
                           ::orrery::cpu::arm64::test::tier_name)

/// Registers, flags and data memory of a finished run, for comparison with Unicorn.
struct ArchState {
  std::array<uint64_t, 31> x{};
  uint64_t sp = 0;
  unsigned nzcv = 0;
  std::array<VReg, 32> v{};
  std::vector<uint8_t> data;  // kDataBase .. kDataBase + kDataSize
  uint64_t fpsr = 0;          // FP tests compare it (fp_differential_test.cpp)
};

struct Inputs {
  std::array<uint64_t, 31> x{};
  unsigned nzcv = 0;
  std::array<VReg, 32> v{};
  std::vector<uint8_t> data;  // empty: zeroes
  uint64_t fpcr = 0, fpsr = 0;
};

/// Runs code on Unicorn at kCodeBase with the same memory layout; stops before the final HVC.
class UnicornRef {
 public:
  /// cpu_model: a Unicorn UC_CPU_ARM64_* model (negative: Unicorn's default, a Cortex-A72).
  explicit UnicornRef(int cpu_model = -1);
  ~UnicornRef();
  bool ok() const { return uc_ != nullptr; }
  void load(const std::vector<uint32_t>& code);
  /// Returns false (and sets error) if Unicorn faulted.
  bool run(const Inputs& in, ArchState& out, std::string& error);

 private:
  uc_struct* uc_ = nullptr;
  uint64_t end_ = 0;
};

/// "0x..." for test messages.
std::string hex(uint64_t v);

/// Empty when the two states agree, else the first difference (registers, SP, NZCV, vector
/// registers, optionally the cumulative FPSR bits, then data memory).
std::string first_difference(const ArchState& got, const ArchState& want, bool fpsr = false);

/// Runs the loaded code from `in` on Unicorn and on m; empty when both finish and agree, else
/// what went wrong (a runner's error or the first difference).
std::string compare_with_unicorn(TestMachine& m, UnicornRef& uc, const Inputs& in,
                                 bool fpsr = false);

/// Runs code on TestMachine from the inputs and captures the state at the final HVC.
bool run_orrery(TestMachine& m, const Inputs& in, ArchState& out, std::string& error);

}  // namespace orrery::cpu::arm64::test
