// PSCI call decoding for the virt board (Arm DEN 0022).
#include "machine/virt/psci.h"

#include <gtest/gtest.h>

namespace orrery::machine::virt {
namespace {

constexpr uint64_t kBootMpidr = 0x8000'0000;  // MPIDR_EL1.RES1 set, affinity 0.0.0.0
constexpr uint64_t kNotSupported = ~0ull;     // -1 sign-extended
constexpr uint64_t kInvalid = uint64_t(int64_t(-2));

PsciResult call(uint64_t fn, uint64_t x1 = 0, uint64_t x2 = 0, uint64_t x3 = 0) {
  return psci_call(fn, x1, x2, x3, kBootMpidr);
}

TEST(Psci, Version) {
  PsciResult r = call(psci::PSCI_VERSION);
  EXPECT_EQ(r.action, PsciAction::Return);
  EXPECT_EQ(r.x0, 0x00010001u);  // PSCI 1.1
}

TEST(Psci, SystemOffAndReset) {
  EXPECT_EQ(call(psci::SYSTEM_OFF).action, PsciAction::PowerOff);
  EXPECT_EQ(call(psci::SYSTEM_RESET).action, PsciAction::Reset);
  // W0 only: garbage in X0's upper half is ignored.
  EXPECT_EQ(call(0xDEAD'BEEF'0000'0000ull | psci::SYSTEM_OFF).action, PsciAction::PowerOff);
}

TEST(Psci, UnknownFunctionsAreNotSupported) {
  for (uint64_t fn : {0x0ull, 0x8400'00FFull, 0xC400'0012ull, 0x8000'0000ull, 0xFFFF'FFFFull}) {
    PsciResult r = call(fn);
    EXPECT_EQ(r.action, PsciAction::Return) << std::hex << fn;
    EXPECT_EQ(r.x0, kNotSupported) << std::hex << fn;
    EXPECT_FALSE(r.known);
  }
}

TEST(Psci, Features) {
  for (uint32_t fn : {psci::PSCI_VERSION, psci::CPU_SUSPEND_64, psci::CPU_OFF, psci::CPU_ON_64,
                      psci::AFFINITY_INFO_64, psci::SYSTEM_OFF, psci::SYSTEM_RESET,
                      psci::PSCI_FEATURES, psci::MIGRATE_INFO_TYPE})
    EXPECT_EQ(call(psci::PSCI_FEATURES, fn).x0, 0u) << std::hex << fn;
  EXPECT_EQ(call(psci::PSCI_FEATURES, psci::SYSTEM_RESET2_64).x0, kNotSupported);
  EXPECT_EQ(call(psci::PSCI_FEATURES, 0x8000'0000).x0, kNotSupported);  // SMCCC_VERSION
  EXPECT_EQ(call(psci::PSCI_FEATURES, psci::MIGRATE_64).x0, kNotSupported);
}

TEST(Psci, CpuOnAndAffinityWithOneCpu) {
  EXPECT_EQ(call(psci::CPU_ON_64, 0, 0x4008'0000, 0).x0, uint64_t(int64_t(-4)));  // ALREADY_ON
  EXPECT_EQ(call(psci::CPU_ON_64, 1, 0x4008'0000, 0).x0, kInvalid);
  EXPECT_EQ(call(psci::AFFINITY_INFO_64, 0, 0).x0, 0u);  // ON
  EXPECT_EQ(call(psci::AFFINITY_INFO_64, 1, 0).x0, kInvalid);
  EXPECT_EQ(call(psci::AFFINITY_INFO_64, 1, 1).x0, 0u);  // same cluster
  EXPECT_EQ(call(psci::AFFINITY_INFO_64, 0, 4).x0, kInvalid);
  EXPECT_EQ(call(psci::AFFINITY_INFO_32, 0, 0).x0, 0u);
}

TEST(Psci, SuspendOffMigrate) {
  EXPECT_EQ(call(psci::CPU_SUSPEND_64, 0, 0x4008'0000, 0).x0, 0u);
  EXPECT_EQ(call(psci::CPU_OFF).action, PsciAction::CpuOff);
  EXPECT_EQ(call(psci::MIGRATE_INFO_TYPE).x0, 2u);
}

}  // namespace
}  // namespace orrery::machine::virt

namespace orrery::machine::virt {
namespace {

class FakeCpus final : public PsciCpus {
 public:
  int32_t cpu_on(uint64_t target, uint64_t entry, uint64_t context_id) override {
    last_target = target;
    last_entry = entry;
    last_context = context_id;
    return target == 1 ? psci::SUCCESS : psci::INVALID_PARAMETERS;
  }
  int32_t affinity_info(uint64_t target) override {
    return target == 1 ? psci::kAffinityOff : psci::kAffinityOn;
  }
  uint64_t last_target = ~0ull, last_entry = 0, last_context = 0;
};

TEST(PsciSmp, CpuOnGoesToTheBoard) {
  FakeCpus cpus;
  PsciResult r = psci_call(psci::CPU_ON_64, 0x8000'0001, 0x4008'0000, 0x1234, 0x8000'0000, &cpus);
  EXPECT_EQ(r.x0, 0u);
  EXPECT_EQ(cpus.last_target, 1u);  // MPIDR bit 31 is not affinity
  EXPECT_EQ(cpus.last_entry, 0x4008'0000u);
  EXPECT_EQ(cpus.last_context, 0x1234u);
  // SMC32: arguments truncated to 32 bits.
  r = psci_call(psci::CPU_ON_32, 0xFFFF'FFFF'0000'0001, 0x1'4000'0000, 0x1'0000'0005, 0, &cpus);
  EXPECT_EQ(cpus.last_entry, 0x4000'0000u);
  EXPECT_EQ(cpus.last_context, 5u);
  r = psci_call(psci::CPU_ON_64, 7, 0, 0, 0, &cpus);
  EXPECT_EQ(int64_t(r.x0), psci::INVALID_PARAMETERS);
  r = psci_call(psci::AFFINITY_INFO_64, 1, 0, 0, 0, &cpus);
  EXPECT_EQ(int64_t(r.x0), psci::kAffinityOff);
}

TEST(PsciSmp, CpuOnWithAMisalignedEntryIsInvalidAddress) {
  FakeCpus cpus;
  for (uint64_t entry : {0x4008'0001ull, 0x4008'0002ull, 0x4008'0003ull}) {
    PsciResult r = psci_call(psci::CPU_ON_64, 1, entry, 0, 0, &cpus);
    EXPECT_EQ(int64_t(r.x0), psci::INVALID_ADDRESS) << entry;
  }
  EXPECT_EQ(cpus.last_target, ~0ull);  // the board was never asked to start the CPU
}

}  // namespace
}  // namespace orrery::machine::virt
