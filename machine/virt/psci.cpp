#include "machine/virt/psci.h"

namespace orrery::machine::virt {

namespace {

constexpr uint64_t ret(int32_t code) {
  return uint64_t(int64_t(code));
}

// MPIDR affinity fields Aff3 (39:32) and Aff2..Aff0 (23:0).
constexpr uint64_t kMpidrAffMask = 0xFF'00FF'FFFFull;

// The MPIDR affinity bits at and above affinity level `level`.
uint64_t affinity_above(uint64_t mpidr, unsigned level) {
  static constexpr uint64_t kMask[4] = {0xFF'00FF'FFFFull, 0xFF'00FF'FF00ull, 0xFF'00FF'0000ull,
                                        0xFF'0000'0000ull};
  return mpidr & kMask[level];
}

bool implemented(uint32_t fn) {
  switch (fn) {
    case psci::PSCI_VERSION:
    case psci::CPU_SUSPEND_32:
    case psci::CPU_SUSPEND_64:
    case psci::CPU_OFF:
    case psci::CPU_ON_32:
    case psci::CPU_ON_64:
    case psci::AFFINITY_INFO_32:
    case psci::AFFINITY_INFO_64:
    case psci::MIGRATE_INFO_TYPE:
    case psci::SYSTEM_OFF:
    case psci::SYSTEM_RESET:
    case psci::PSCI_FEATURES:
      return true;
    default:
      return false;
  }
}

}  // namespace

PsciResult psci_call(uint64_t fn64, uint64_t x1, uint64_t x2, uint64_t x3, uint64_t caller_mpidr,
                     PsciCpus* cpus) {
  PsciResult r;
  // The function ID is W0: SMCCC ignores X0's upper half.
  uint32_t fn = uint32_t(fn64);
  bool smc32 = (fn & 0x4000'0000) == 0;
  // SMC32 calls take 32-bit arguments.
  uint64_t a1 = smc32 ? uint32_t(x1) : x1;
  uint64_t self = caller_mpidr & kMpidrAffMask;
  switch (fn) {
    case psci::PSCI_VERSION:
      r.x0 = psci::kVersion;
      break;
    case psci::CPU_SUSPEND_32:
    case psci::CPU_SUSPEND_64:
      // Returning at once is a valid standby wake-up (and a powerdown cut short): no state lost.
      r.x0 = ret(psci::SUCCESS);
      break;
    case psci::CPU_OFF:
      r.action = PsciAction::CpuOff;
      break;
    case psci::CPU_ON_32:
    case psci::CPU_ON_64:
      if (cpus) {
        uint64_t entry = smc32 ? uint32_t(x2) : x2;
        uint64_t ctx = smc32 ? uint32_t(x3) : x3;
        if (entry & 3) {  // A64 instructions are word-aligned
          r.x0 = ret(psci::INVALID_ADDRESS);
          break;
        }
        r.x0 = ret(cpus->cpu_on(a1 & kMpidrAffMask, entry, ctx));
        break;
      }
      // Only the boot CPU exists and it is running.
      r.x0 = ret((a1 & kMpidrAffMask) == self ? psci::ALREADY_ON : psci::INVALID_PARAMETERS);
      break;
    case psci::AFFINITY_INFO_32:
    case psci::AFFINITY_INFO_64: {
      uint64_t level = smc32 ? uint32_t(x2) : x2;
      if (level > 3) {
        r.x0 = ret(psci::INVALID_PARAMETERS);
        break;
      }
      if (cpus && level == 0) {
        r.x0 = ret(cpus->affinity_info(a1 & kMpidrAffMask));
        break;
      }
      bool match = affinity_above(a1, unsigned(level)) == affinity_above(self, unsigned(level));
      r.x0 = ret(match ? psci::kAffinityOn : psci::INVALID_PARAMETERS);
      break;
    }
    case psci::MIGRATE_INFO_TYPE:
      r.x0 = psci::kMigrateNotRequired;
      break;
    case psci::SYSTEM_OFF:
      r.action = PsciAction::PowerOff;
      break;
    case psci::SYSTEM_RESET:
      r.action = PsciAction::Reset;
      break;
    case psci::PSCI_FEATURES:
      // 0 = implemented; for CPU_SUSPEND it also means the original power_state format.
      r.x0 = ret(implemented(uint32_t(a1)) ? psci::SUCCESS : psci::NOT_SUPPORTED);
      break;
    default:
      r.x0 = ret(psci::NOT_SUPPORTED);
      r.known = false;
      break;
  }
  return r;
}

}  // namespace orrery::machine::virt
