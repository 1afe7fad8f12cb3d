// Orrery's x86 CPU as a differential-fuzz target: one X86Cpu on one Engine (a chosen tier),
// reused for every snippet, in the KVM oracle's layout. The host builds page tables, GDT, TSS
// (with an I/O bitmap opening the end port to CPL3) and IDT in guest RAM once; each run loads
// the user state straight into X86State (GPRs, RFLAGS, x87/SSE/AVX) at CPL3 in 64-bit mode and
// runs X86Cpu::run. The snippet is followed by `OUT 0x80, AL; JMP $`; an exception goes through
// the IDT to a CPL0 stub per vector (`OUT 0x81, AL; JMP $`). The port device kicks the vCPU,
// so run() returns, and the stub's address gives the vector, the frame on the kernel stack the
// RIP, RFLAGS, RSP and error code. The code page is rewritten through the guest-memory API each
// run, which invalidates its translations and nothing else.
#pragma once

#include <memory>
#include <string>

#include "tcg/exec/engine.h"
#include "tests/fuzz/x86/x86_gen.h"
#include "tests/fuzz/x86/x86_runner.h"

namespace orrery::tests::x86fuzz {

/// THE list of generator extensions Orrery runs leave out, with the reason (not implemented,
/// or implemented with open mismatch classes):
/// x86-diff --target orrery* and the X86DiffOrrery tests leave them out by default.
/// Delete a row when its translators land and compare clean.
struct OrreryMissingExt {
  Ext ext;
  const char* why;
};
inline constexpr OrreryMissingExt kOrreryMissingExts[] = {
    {Ext::X87,
     "x87 landed (x86-fp) with open classes, reported to x86-fp: FCOMI/FUCOMI(P) "
     "clear FSW C0/C2/C3 (SDM: not affected); masked stack underflow in FXTRACT and "
     "others leaves zeros, not the QNaN indefinite; ~10% of 10-instruction x87 "
     "sequences differ"},
};
/// The extensions Orrery runs cover: every extension minus kOrreryMissingExts.
constexpr uint32_t orrery_exts() {
  uint32_t e = kAllExts;
  for (const OrreryMissingExt& m : kOrreryMissingExts) e &= ~ext_bit(m.ext);
  return e;
}

class OrreryRunner final : public X86Runner {
 public:
  /// A runner on `tier`; nullptr (with a reason in `why`) if the machine cannot be built.
  static std::unique_ptr<OrreryRunner> create(tcg::exec::Tier tier, std::string& why);
  ~OrreryRunner() override;
  OrreryRunner(const OrreryRunner&) = delete;
  OrreryRunner& operator=(const OrreryRunner&) = delete;

  std::string name() const override;
  bool run(std::span<const uint8_t> code, X86UserState& state) override;
  std::string error() const override { return error_; }

  uint64_t runs() const { return runs_; }
  /// Runs stopped by the watchdog (an Orrery hang) or ended by an unexpected exit (triple
  /// fault, vCPU stop): reported as X86Fault::kStoppedUnknown, so they count as mismatches.
  uint64_t stuck() const { return stuck_; }
  double ns_per_run() const { return runs_ ? double(run_ns_) / double(runs_) : 0.0; }

 private:
  struct Machine;
  explicit OrreryRunner(tcg::exec::Tier tier);
  bool init(std::string& why);

  tcg::exec::Tier tier_;
  std::unique_ptr<Machine> m_;
  std::string error_;
  uint64_t runs_ = 0, stuck_ = 0, run_ns_ = 0;
};

/// "orrery-interp" etc.: the runner for an x86-diff target name, or nullptr if the name is not
/// an Orrery target (why says so) or the machine cannot be built.
std::unique_ptr<OrreryRunner> make_orrery_runner(const std::string& target, std::string& why);

}  // namespace orrery::tests::x86fuzz
