// Test harness for the x86 frontend: one bare X86State on flat RAM run through the real
// pipeline (Zydis decode, translators, optimiser, interpreter / baseline / LLVM tier, softmmu)
// by tcg::exec::VcpuExec, without X86Cpu. Programs are assembled with nasm at run time and end
// by jumping to kEndAddr, whose page is unmapped: fetching it stops the run. Exceptions are
// recognised either by the placeholder delivery (pending_exception) or by a read of the IDT,
// which the harness places in an unmapped page too.
//
// For CPL3-safe instructions the host (an x86-64) is the oracle: HostRunner runs the same
// 64-bit code natively on the same register inputs.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cpu/x86/frontend.h"
#include "cpu/x86/state.h"
#include "hw/core/address_space.h"
#include "hw/core/log.h"
#include "tcg/exec/engine.h"
#include "tcg/softmmu/softmmu.h"

namespace orrery::cpu::x86::test {

using tcg::exec::Tier;

enum class Mode { Real16, Prot32, Long64 };

constexpr uint64_t kCodeAddr = 0x1000;
constexpr uint64_t kDataAddr = 0x8000;  // 4 KiB of zeroed data, also reachable in 16-bit code
constexpr uint64_t kStackTop = 0xe000;
constexpr uint64_t kEndAddr = 0xf000;    // unmapped page: the end of every program
constexpr uint64_t kIdtAddr = 0x100000;  // unmapped page: IDT reads mean an exception
// The host runner's fixed region (mirrored as guest RAM so addresses agree).
constexpr uint64_t kHostBase = 0x20000000;
constexpr uint64_t kHostData = kHostBase + 0x9000;  // 4 KiB shared test data
constexpr uint64_t kHostStackTop = kHostBase + 0xf000;

struct Regs {
  uint64_t gpr[16] = {};
  uint64_t flags = 0x2;
};

struct RunResult {
  enum Kind { End, Exception, Other } kind = Other;
  int vector = -1;
  std::string message;
};

/// nasm source -> bytes ("bits N" is prepended); fails the test on an assembly error.
std::vector<uint8_t> assemble(const std::string& src, unsigned bits);
/// Assembles many snippets with one nasm run (each at most 512 bytes).
std::vector<std::vector<uint8_t>> assemble_many(const std::vector<std::string>& srcs,
                                                unsigned bits);

class Machine : public tcg::softmmu::PageTranslator {
 public:
  Machine(Tier tier, Mode mode);
  ~Machine() override;

  // PageTranslator: identity, with the end and IDT pages unmapped.
  bool translate(uint64_t vaddr, tcg::softmmu::Access access, unsigned mmu_idx,
                 tcg::softmmu::Translation& out) override;
  void raise_bus_error(uint64_t vaddr, uint64_t phys, tcg::softmmu::Access access) override;
  void raise_alignment_fault(uint64_t vaddr, tcg::softmmu::Access access) override;
  /// #GP(0) through the IDT, as X86Cpu raises it.
  void raise_required_alignment_fault(uint64_t vaddr, tcg::softmmu::Access access) override;

  /// Loads code at `at` followed by a jump to kEndAddr, resets registers (rSP = stack top).
  void load(const std::vector<uint8_t>& code, uint64_t at = kCodeAddr);
  /// Assembles and loads.
  void load_asm(const std::string& src);
  /// Back to the start of the loaded code (translations kept; registers as they are).
  void restart(uint64_t at = kCodeAddr);
  RunResult run();
  /// Sets the GPRs and EFLAGS (arith bits through set_eflags).
  void set_regs(const Regs& r);
  Regs regs() const;
  uint64_t eflags() const;

  X86State& s() { return *state_; }
  uint64_t read_mem(uint64_t addr, unsigned size) const;
  void write_mem(uint64_t addr, uint64_t v, unsigned size);

  std::string init_error;
  Mode mode;
  hw::Log log;
  hw::AddressSpace as;
  std::unique_ptr<tcg::exec::Engine> engine;
  std::unique_ptr<X86State> state_;
  std::unique_ptr<X86Frontend> frontend;
  std::unique_ptr<tcg::softmmu::Softmmu> mmu;
  std::unique_ptr<tcg::exec::VcpuExec> exec;

 private:
  enum class Stop { None, End, Idt, Bus } stop_ = Stop::None;
  uint64_t stop_addr_ = 0;
};

/// Runs 64-bit code natively (CPL3-safe code only) from the given registers; rSP must be left
/// as the code found it. The code may use [kHostData, +4K).
class HostRunner {
 public:
  HostRunner();
  ~HostRunner();
  bool ok() const { return base_ != nullptr; }
  Regs run(const std::vector<uint8_t>& code, const Regs& in);
  void write_data(const void* p, size_t n, size_t offset = 0);
  const uint8_t* data() const;

 private:
  void build_wrapper();  // the register load/store code around a test snippet
  uint8_t* base_ = nullptr;
  std::vector<uint8_t> prologue_, epilogue_;
};

/// A host-oracle test over input records (SIMD, x87): each snippet, wrapped by `program`, runs
/// natively and on the tier over the same records (`records(seed)`, `rec_size` bytes each at
/// kHostData), and the output records must agree bit for bit.
struct RecordTest {
  std::function<std::string(const std::string&)> program;
  std::function<std::vector<uint8_t>(uint64_t seed)> records;
  unsigned rec_size = 0;
  std::function<void(Machine&)> setup;  // after load (CR4, XCR0); may be empty
};

class X86Test : public ::testing::TestWithParam<Tier> {
 protected:
  std::unique_ptr<Machine> make(Mode mode) {
    auto m = std::make_unique<Machine>(GetParam(), mode);
    EXPECT_EQ(m->init_error, "");
    return m;
  }
  /// Runs every snippet as `t` says, in 64-bit mode; skips without the host runner.
  void check_records(const RecordTest& t, const std::vector<std::string>& snippets);
};

/// The SSE and AVX memory-operand tests' machine: 64-bit code ending in `mov ebx, 1` (so rbx
/// says whether it ran to the end), a data page of quadwords 0x0101010101010101 * i, the
/// quadword 0x1122334455667788 just below kEndAddr, and SSE enabled (OSFXSR, OSXMMEXCPT,
/// MXCSR 0x1f80).
class X86MemTest : public X86Test {
 protected:
  void SetUp() override { m_ = make(Mode::Long64); }
  void load(const std::string& src) {
    m_->load_asm("default abs\n" + src + "\nmov ebx, 1");
    for (unsigned i = 0; i < 64; ++i)
      m_->write_mem(kDataAddr + 8 * i, 0x0101010101010101ull * i, 8);
    m_->write_mem(kEndAddr - 8, 0x1122334455667788ull, 8);
    m_->s().cr4 |= cr4::kOsfxsr | cr4::kOsxmmexcpt;
    m_->s().mxcsr = 0x1f80;
    m_->s().gpr[kRbx] = 0;
  }
  RunResult run(const std::string& src) {
    load(src);
    return m_->run();
  }
  std::unique_ptr<Machine> m_;
};

/// The records the SSE and AVX tests share: `recs` records of `rec_size` bytes, each with
/// `vec_qwords` random vector quadwords (special floats and doubles, small lanes), then MXCSR
/// (varied rounding/FTZ/DAZ) and RAX/RCX/RDX.
std::vector<uint8_t> simd_records(uint64_t seed, unsigned rec_size, unsigned recs,
                                  unsigned vec_qwords);
/// CPUID.(leaf, sub) register `reg` (0 = EAX .. 3 = EDX) bit `bit` on the host.
bool host_has(unsigned leaf, unsigned sub, int reg, unsigned bit);

std::string tier_name(const ::testing::TestParamInfo<Tier>& info);

#define ORRERY_X86_TIERS(suite)                                                         \
  INSTANTIATE_TEST_SUITE_P(Tiers, suite,                                                \
                           ::testing::Values(Tier::Interp, Tier::Baseline, Tier::Llvm), \
                           ::orrery::cpu::x86::test::tier_name)

std::string hex(uint64_t v);

/// Compares the host's and a tier's output records (rec_size bytes each, `in` the inputs) and
/// reports the first few mismatching ones with their inputs and differing quadwords.
void expect_same_records(const std::vector<uint8_t>& want, const std::vector<uint8_t>& got,
                         const std::vector<uint8_t>& in, unsigned rec_size);

}  // namespace orrery::cpu::x86::test
