#include "cpu/arm64/cpu.h"

#include <cinttypes>
#include <cstdarg>
#include <cstdio>

#include "hw/core/address_space.h"

namespace orrery::cpu::arm64 {

using tcg::exec::RunResult;
using tcg::ir::ExitReason;
using tcg::softmmu::Access;

namespace {

constexpr unsigned kPhysAddrBits = 48;  // ID_AA64MMFR0_EL1.PARange == 5

std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return buf;
}

const char* access_verb(Access a) {
  switch (a) {
    case Access::Read:
      return "reading";
    case Access::Write:
      return "writing";
    default:
      return "fetching from";
  }
}

const char* abort_kind(Access a) {
  return a == Access::Fetch ? "instruction abort" : "data abort";
}

}  // namespace

Arm64Cpu::Arm64Cpu(const CpuModel& model, unsigned index, hw::AddressSpace& as,
                   tcg::exec::Engine& engine, Arm64Platform& platform)
    : model_(model),
      index_(index),
      engine_(engine),
      platform_(platform),
      frontend_(engine.log()),
      mmu_(state_.common, as, *this),
      exec_(engine, frontend_, state_.common, mmu_) {
  mmu_.set_code_tracker(&engine);
  state_.owner = this;
  reset(0);
}

Arm64Cpu::~Arm64Cpu() = default;

void Arm64Cpu::reset(uint64_t entry) {
  Arm64State& s = state_;
  for (uint64_t& r : s.x) r = 0;
  s.sp_el0 = s.sp_el1 = 0;
  s.nzcv = Nzcv{};
  s.el = 1;
  s.spsel = 1;
  s.daif = 0xf;
  for (VReg& v : s.v) v = VReg{};
  s.fpcr = s.fpsr = 0;
  // RES1 bits of SCTLR_EL1 in ARMv8.0 (EOS, EIS, SPAN, TSCXT, ITD-style RES1s); M, C, I clear.
  s.sctlr_el1 = 0x30d00800;
  s.actlr_el1 = s.cpacr_el1 = s.vbar_el1 = 0;
  s.elr_el1 = s.spsr_el1 = s.esr_el1 = s.far_el1 = 0;
  s.afsr0_el1 = s.afsr1_el1 = s.par_el1 = 0;
  s.mair_el1 = s.amair_el1 = s.tcr_el1 = s.ttbr0_el1 = s.ttbr1_el1 = 0;
  s.contextidr_el1 = s.tpidr_el0 = s.tpidr_el1 = s.tpidrro_el0 = 0;
  s.csselr_el1 = s.cntkctl_el1 = 0;
  s.cntp_ctl_el0 = s.cntp_cval_el0 = s.cntv_ctl_el0 = s.cntv_cval_el0 = 0;
  s.cntfrq_el0 = kCounterFrequency;
  s.midr_el1 = model_.midr;
  s.mpidr_el1 = (1ull << 31) | (index_ & 0xff);  // RES1 bit 31; uniprocessor bit clear
  s.monitor = ExclusiveMonitor{};
  s.counter_epoch_ns = host_monotonic_ns();
  s.common.pc = entry;
  s.common.pending_exit = 0;
  s.common.stop_message = nullptr;
  mmu_.flush_all();
  exec_.mode_changed();
}

ExitKind Arm64Cpu::run() {
  tcg::CpuCommon& c = state_.common;
  exit_message_.clear();
  for (;;) {
    if (kicked_.exchange(false)) return ExitKind::Kicked;
    RunResult r = exec_.run();
    switch (r.kind) {
      case RunResult::Kind::Stop:
        exit_message_ =
            std::string("orrery: ") + (c.stop_message ? c.stop_message : "vCPU stopped");
        c.pending_exit = 0;
        return ExitKind::Error;
      case RunResult::Kind::ExitRequest:
        c.exit_request.store(0);
        continue;  // a kick is seen at the top of the loop
      case RunResult::Kind::Exit:
        break;
    }
    switch (r.reason) {
      case ExitReason::Lookup:
      case ExitReason::Exception:
        exec_.mode_changed();
        continue;
      case ExitReason::Hypercall: {
        HvcResult h = platform_.hvc(*this, uint16_t(r.arg));
        if (h.action == HvcResult::Action::Continue) continue;
        exit_status_ = h.exit_status;
        return h.action == HvcResult::Action::PowerOff ? ExitKind::Shutdown : ExitKind::Reset;
      }
      case ExitReason::Halt:
        // WFI. No interrupt controller exists yet, so nothing can wake the vCPU: the board
        // decides (a guest that calls WFI after a failed PSCI SYSTEM_OFF is done).
        return ExitKind::Halted;
      case ExitReason::Undefined:
        exit_message_ = format("orrery: unimplemented or undefined A64 instruction 0x%08" PRIx32
                               " at PC 0x%016" PRIx64,
                               uint32_t(r.arg), c.pc);
        return ExitKind::Error;
      case ExitReason::Supervisor:
        exit_message_ = format("orrery: SVC #0x%" PRIx64 " at PC 0x%016" PRIx64
                               ": exceptions are not implemented yet",
                               r.arg, c.pc - 4);
        return ExitKind::Error;
      case ExitReason::Breakpoint:
        exit_message_ = format("orrery: guest BRK #0x%" PRIx64 " at PC 0x%016" PRIx64, r.arg, c.pc);
        return ExitKind::Breakpoint;
      case ExitReason::Step:
        return ExitKind::Step;
    }
  }
}

void Arm64Cpu::kick() {
  kicked_.store(true);
  state_.common.exit_request.store(1);
}

bool Arm64Cpu::translate(uint64_t vaddr, Access access, unsigned mmu_idx,
                         tcg::softmmu::Translation& out) {
  (void)mmu_idx;
  if (vaddr >> kPhysAddrBits) {
    // With stage 1 off, an address beyond the PA size is an address size fault.
    stop(format("%s: address size fault %s 0x%016" PRIx64
                " (beyond the %u-bit physical address space) at PC 0x%016" PRIx64,
                abort_kind(access), access_verb(access), vaddr, kPhysAddrBits, state_.common.pc));
    return false;
  }
  out = tcg::softmmu::Translation{};
  out.phys = vaddr;
  return true;
}

void Arm64Cpu::raise_bus_error(uint64_t vaddr, uint64_t phys, Access access) {
  stop(format("%s: bus error %s 0x%016" PRIx64 " (physical 0x%" PRIx64 ") at PC 0x%016" PRIx64,
              abort_kind(access), access_verb(access), vaddr, phys, state_.common.pc));
}

void Arm64Cpu::raise_alignment_fault(uint64_t vaddr, Access access) {
  stop(format("%s: alignment fault %s 0x%016" PRIx64 " at PC 0x%016" PRIx64, abort_kind(access),
              access_verb(access), vaddr, state_.common.pc));
}

void Arm64Cpu::stop_from_helper(StopCode code, uint64_t arg) {
  switch (code) {
    case StopCode::PcAlignment:
      stop(format("PC alignment fault: branch to 0x%016" PRIx64, arg));
      break;
    case StopCode::MmuEnable:
      log().log(hw::kLogUnimp,
                "arm64: SCTLR_EL1.M=1 (stage 1 MMU) is not implemented yet (value 0x%" PRIx64
                ", PC 0x%016" PRIx64 ")\n",
                arg, state_.common.pc);
      stop(format("enabling the MMU (MSR SCTLR_EL1, 0x%" PRIx64 " at PC 0x%016" PRIx64
                  ") is not implemented yet",
                  arg, state_.common.pc));
      break;
  }
}

void Arm64Cpu::stop(std::string message) {
  stop_message_ = std::move(message);
  state_.common.stop_message = stop_message_.c_str();
  state_.common.pending_exit = uint32_t(tcg::PendingExit::Stop);
}

}  // namespace orrery::cpu::arm64
