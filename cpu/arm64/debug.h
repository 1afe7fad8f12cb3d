// Self-hosted debug (Arm ARM D2): hardware breakpoints (DBGBVR/DBGBCR), watchpoints
// (DBGWVR/DBGWCR), software step (MDSCR_EL1.SS with PSTATE.SS), the OS lock and double lock,
// and the debug registers' values. Every debug exception goes to EL1.
//
// Cost: nothing while the guest enables no debug event. Breakpoints are checked at translate
// time in modes whose tb_flags has kBkpt, and those blocks are keyed on DebugRegs::bkpt_key,
// which changes with the breakpoint registers. Watchpoints mark TLB entries (the softmmu's
// architectural watchpoint checker), so only accesses to watched pages leave the fast path; a
// register write that changes them flushes this vCPU's TLB. Software step translates one
// instruction per block (kSs).
#pragma once

#include <cstdint>

#include "cpu/arm64/state.h"
#include "tcg/ir/helpers.h"
#include "tcg/softmmu/softmmu.h"

namespace orrery::cpu::arm64 {

// MDSCR_EL1 bits.
namespace mdscr {
constexpr uint64_t kSs = 1u << 0, kKde = 1u << 13, kMde = 1u << 15;
}

/// Debug exceptions are enabled at the current EL (Arm ARM D2.4): the OS lock and double lock
/// are clear and, at EL1, MDSCR_EL1.KDE is set and PSTATE.D clear. At EL0 (the debug target
/// EL1 is higher) PSTATE.D does not mask them.
bool debug_exceptions_enabled(const Arm64State& s);
/// Some enabled breakpoint matches in the current mode (tb_flags::kBkpt).
bool breakpoints_active(const Arm64State& s);
/// An enabled breakpoint matches an instruction at pc in the current mode.
bool breakpoint_at(const Arm64State& s, uint64_t pc);
/// The tb_flags bits of self-hosted debug for the current mode.
uint64_t debug_tb_flags(const Arm64State& s);

/// PSTATE.SS after an exception return to the (already restored) mode, from SPSR.SS.
uint8_t step_state_after_eret(const Arm64State& s, uint64_t spsr);

/// The op0=2 op1=0/3 debug registers this CPU implements (MRS/MSR through helper_debug_reg).
bool is_implemented_debug_register(uint32_t key);
/// Which accesses exist: bit 0 read, bit 1 write; EL0 reaches only MDCCSR_EL0.
unsigned debug_register_access(uint32_t key);

/// The guest's watchpoints as the softmmu checks them (set with Softmmu::set_arch_watchpoints).
class ArchWatchpoints final : public tcg::softmmu::WatchpointChecker {
 public:
  explicit ArchWatchpoints(const Arm64State& s) : s_(s) {}
  bool any_watchpoints() const override { return any_; }
  bool page_watched(uint64_t vpage) const override;
  bool watch_hit(uint64_t vaddr, unsigned size, bool write,
                 tcg::softmmu::WatchHit& hit) const override;
  /// Re-reads the watchpoint registers (after a write to one of them or to MDSCR/OS lock).
  void update();

 private:
  /// The first and last watched byte of watchpoint i (false when it watches nothing).
  bool range(unsigned i, uint64_t& lo, uint64_t& hi) const;
  const Arm64State& s_;
  bool any_ = false;  // some watchpoint is enabled and MDSCR_EL1.MDE is set
};

/// helper_debug_reg's op: the register key, plus this flag for writes.
constexpr uint64_t kDebugRegWrite = 1ull << 32;
uint64_t helper_debug_reg(tcg::CpuCommon* cpu, uint64_t op, uint64_t value, uint64_t);
/// After the instruction a software step executes: PSTATE.SS = 0 and the step exception
/// (active-pending) at next_pc, when stepping is still enabled there.
uint64_t helper_step_done(tcg::CpuCommon* cpu, uint64_t next_pc, uint64_t, uint64_t);

/// An MRS/MSR (op: key | kDebugRegWrite) of a debug or PMU register Orrery does not model: it
/// reads as zero and ignores writes, and says so under -d unimp.
uint64_t helper_unimp_sysreg(tcg::CpuCommon* cpu, uint64_t op, uint64_t, uint64_t);

inline constexpr tcg::ir::Helper kHelperUnimpSysreg{"arm64_unimp_sysreg", &helper_unimp_sysreg};
inline constexpr tcg::ir::Helper kHelperDebugReg{"arm64_debug_reg", &helper_debug_reg};
inline constexpr tcg::ir::Helper kHelperStepDone{"arm64_step_done", &helper_step_done};

}  // namespace orrery::cpu::arm64
