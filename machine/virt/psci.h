// PSCI (Arm DEN 0022) firmware calls for the virt board, made by the guest with HVC #0 as on
// QEMU's virt without EL2/EL3. Orrery implements PSCI 1.1's mandatory functions: PSCI_VERSION,
// CPU_SUSPEND, CPU_OFF, CPU_ON, AFFINITY_INFO, MIGRATE_INFO_TYPE, SYSTEM_OFF, SYSTEM_RESET and
// PSCI_FEATURES. The call decoding is a pure function so it is testable without a CPU; the board
// performs the returned action.
#pragma once

#include <cstdint>

namespace orrery::machine::virt {

namespace psci {
// Function IDs (SMC32 0x84..., SMC64 0xC4...).
inline constexpr uint32_t PSCI_VERSION = 0x8400'0000;
inline constexpr uint32_t CPU_SUSPEND_32 = 0x8400'0001, CPU_SUSPEND_64 = 0xC400'0001;
inline constexpr uint32_t CPU_OFF = 0x8400'0002;
inline constexpr uint32_t CPU_ON_32 = 0x8400'0003, CPU_ON_64 = 0xC400'0003;
inline constexpr uint32_t AFFINITY_INFO_32 = 0x8400'0004, AFFINITY_INFO_64 = 0xC400'0004;
inline constexpr uint32_t MIGRATE_32 = 0x8400'0005, MIGRATE_64 = 0xC400'0005;
inline constexpr uint32_t MIGRATE_INFO_TYPE = 0x8400'0006;
inline constexpr uint32_t MIGRATE_INFO_UP_CPU_32 = 0x8400'0007,
                          MIGRATE_INFO_UP_CPU_64 = 0xC400'0007;
inline constexpr uint32_t SYSTEM_OFF = 0x8400'0008;
inline constexpr uint32_t SYSTEM_RESET = 0x8400'0009;
inline constexpr uint32_t PSCI_FEATURES = 0x8400'000A;
inline constexpr uint32_t SYSTEM_RESET2_32 = 0x8400'0012, SYSTEM_RESET2_64 = 0xC400'0012;

// Return codes (as signed 32-bit values, sign-extended into X0).
inline constexpr int32_t SUCCESS = 0;
inline constexpr int32_t NOT_SUPPORTED = -1;
inline constexpr int32_t INVALID_PARAMETERS = -2;
inline constexpr int32_t DENIED = -3;
inline constexpr int32_t ALREADY_ON = -4;
inline constexpr int32_t INVALID_ADDRESS = -9;

/// PSCI 1.1: major in bits 31:16, minor in 15:0.
inline constexpr uint32_t kVersion = 0x0001'0001;
/// MIGRATE_INFO_TYPE: no Trusted OS that needs migrating.
inline constexpr uint32_t kMigrateNotRequired = 2;
/// AFFINITY_INFO states.
inline constexpr int32_t kAffinityOn = 0;
inline constexpr int32_t kAffinityOff = 1;
inline constexpr int32_t kAffinityOnPending = 2;
}  // namespace psci

/// What the board must do after a PSCI call.
enum class PsciAction : uint8_t {
  Return,    // write x0 and continue the guest
  PowerOff,  // SYSTEM_OFF
  Reset,     // SYSTEM_RESET
  CpuOff,    // CPU_OFF of the calling CPU
};

struct PsciResult {
  uint64_t x0 = 0;  // value for X0 when action is Return
  PsciAction action = PsciAction::Return;
  bool known = true;  // false: unknown function ID (reported under -d unimp)
};

/// The board's CPUs, for the calls that concern other CPUs.
class PsciCpus {
 public:
  virtual ~PsciCpus() = default;
  /// CPU_ON: start the CPU with affinity target at entry with X0 = context_id; a PSCI code
  /// (INVALID_ADDRESS when nothing executable is at entry; psci_call rejects misaligned ones).
  virtual int32_t cpu_on(uint64_t target, uint64_t entry, uint64_t context_id) = 0;
  /// AFFINITY_INFO at level 0: kAffinityOn/Off/OnPending, or INVALID_PARAMETERS if no such CPU.
  virtual int32_t affinity_info(uint64_t target) = 0;
};

/// Decodes one call: fn is W0, args are X1..X3, caller_mpidr the calling CPU's MPIDR_EL1. With
/// cpus null the caller is the only CPU.
PsciResult psci_call(uint64_t fn, uint64_t x1, uint64_t x2, uint64_t x3, uint64_t caller_mpidr,
                     PsciCpus* cpus = nullptr);

}  // namespace orrery::machine::virt
