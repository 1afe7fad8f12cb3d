// The ID registers of every CPU model advertise only what Orrery implements: each advertised
// ISAR/PFR/MMFR feature field is either known to be implemented with a representative
// instruction that executes (does not UNDEF), or the test fails naming the field. The
// Cortex-A57 advertises nothing beyond ARMv8.0 plus what a real A57 has.
#include <algorithm>
#include <string>
#include <vector>

#include "cpu/arm64/cpu_models.h"
#include "tests/unit/arm64/harness.h"

namespace orrery::cpu::arm64::test {
namespace {

enum Reg : unsigned { kPfr0, kIsar0, kIsar1, kMmfr0, kMmfr1, kMmfr2 };
constexpr const char* kRegNames[] = {"ID_AA64PFR0",  "ID_AA64ISAR0", "ID_AA64ISAR1",
                                     "ID_AA64MMFR0", "ID_AA64MMFR1", "ID_AA64MMFR2"};

uint64_t reg_value(const CpuModel& m, Reg r) {
  switch (r) {
    case kPfr0:
      return m.id_aa64pfr0;
    case kIsar0:
      return m.id_aa64isar0;
    case kIsar1:
      return m.id_aa64isar1;
    case kMmfr0:
      return m.id_aa64mmfr0;
    case kMmfr1:
      return m.id_aa64mmfr1;
    case kMmfr2:
      return m.id_aa64mmfr2;
  }
  return 0;
}

/// A field Orrery implements: the values it may advertise and, for instruction features, code
/// that must run without an exception.
struct Known {
  Reg reg;
  unsigned shift;
  const char* name;
  std::vector<uint64_t> allowed;
  std::vector<uint32_t> probe;  // empty: not an instruction feature (checked by other tests)
};

const std::vector<Known>& known_fields() {
  static const std::vector<Known> k = {
      {kPfr0, 0, "EL0", {1}, {}},  // AArch64 only
      {kPfr0, 4, "EL1", {1}, {}},
      {kPfr0, 16, "FP", {0}, {0x1e622820 /* fadd d0, d1, d2 */, 0x1e222820 /* fadd s0 */}},
      {kPfr0, 20, "AdvSIMD", {0}, {0x4ea28420 /* add v0.4s, v1.4s, v2.4s */}},
      {kIsar0,
       4,
       "AES",
       {0, 2},
       {0x4e284820 /* aese */, 0x4e287820 /* aesimc */, 0x0ee2e020 /* pmull v0.1q */}},
      {kIsar0, 8, "SHA1", {0, 1}, {0x5e020020 /* sha1c */, 0x5e280820 /* sha1h */}},
      {kIsar0, 12, "SHA2", {0, 1, 2}, {0x5e024020 /* sha256h */, 0x5e282820 /* sha256su0 */}},
      {kIsar0, 16, "CRC32", {1}, {0x1ac24020 /* crc32b */, 0x1ac25020 /* crc32cb */}},
      {kIsar0, 28, "RDM", {0, 1}, {0x6e428420 /* sqrdmlah v0.8h */}},
      {kIsar0, 32, "SHA3", {0, 1}, {0xce020c20 /* eor3 */, 0xce628c20 /* rax1 */}},
      {kMmfr0, 0, "PARange", {2, 4, 5}, {}},  // mmu_test checks the faults at the boundary
      {kMmfr0, 4, "ASIDBits", {2}, {}},       // 16-bit ASIDs: mmu_test's ASID tests
      {kMmfr0, 20, "TGran16", {0, 1}, {}},
  };
  return k;
}

/// The value of a field that advertises nothing: 0xf for FP and AdvSIMD, 0 elsewhere (for
/// MMFR0.TGran4/TGran64, 0 means the granule is present; mmu_test exercises both).
uint64_t absent_value(Reg r, unsigned shift) {
  return r == kPfr0 && (shift == 16 || shift == 20) ? 0xf : 0;
}

const Known* find_known(Reg r, unsigned shift) {
  for (const Known& k : known_fields())
    if (k.reg == r && k.shift == shift) return &k;
  return nullptr;
}

using CpuModelsTest = Arm64Test;

TEST_P(CpuModelsTest, EveryAdvertisedFeatureIsImplemented) {
  for (const CpuModel& model : cpu_models()) {
    m->set_model(model);
    for (unsigned r = kPfr0; r <= kMmfr2; ++r) {
      const uint64_t v = reg_value(model, Reg(r));
      for (unsigned shift = 0; shift < 64; shift += 4) {
        const uint64_t field = (v >> shift) & 0xf;
        if (r == kPfr0 && shift == 24) continue;  // GIC: set when a GICv3 is attached
        const Known* k = find_known(Reg(r), shift);
        const std::string where = std::string(model.name) + " " + kRegNames[r] + "[" +
                                  std::to_string(shift + 3) + ":" + std::to_string(shift) + "]";
        if (!k) {
          EXPECT_EQ(field, absent_value(Reg(r), shift))
              << where << " advertises a feature this test does not know to be implemented";
          continue;
        }
        EXPECT_NE(std::find(k->allowed.begin(), k->allowed.end(), field), k->allowed.end())
            << where << " (" << k->name << ") = " << field;
        if (field == absent_value(Reg(r), shift)) continue;
        for (uint32_t insn : k->probe) {
          m->load({insn});
          ExitKind e = m->run();
          EXPECT_EQ(e, ExitKind::Shutdown)
              << where << " " << k->name << ": " << hex(insn) << " " << m->cpu->exit_message();
          EXPECT_TRUE(m->hvcs.size() == 1 && m->hvcs[0] == 0)
              << where << " " << k->name << ": " << hex(insn) << " raised an exception";
        }
      }
    }
  }
}

TEST(CpuModels, CortexA57AdvertisesArmv80AndItsOwnFeaturesOnly) {
  const CpuModel& a57 = *find_cpu_model("cortex-a57");
  EXPECT_EQ(a57.id_aa64isar0 & ~0xffff0ull, 0u);  // only AES, SHA1, SHA2, CRC32 may be set
  EXPECT_LE((a57.id_aa64isar0 >> 4) & 0xf, 2u);   // AES + PMULL at most
  EXPECT_LE((a57.id_aa64isar0 >> 8) & 0xf, 1u);   // SHA1
  EXPECT_LE((a57.id_aa64isar0 >> 12) & 0xf, 1u);  // SHA256 (no SHA512)
  EXPECT_EQ(a57.id_aa64isar1, 0u);                // no ARMv8.2+ instruction features
  EXPECT_EQ(a57.id_aa64pfr0 >> 28, 0u);           // no RAS, SVE, ...
  EXPECT_EQ(a57.id_aa64mmfr0 & 0xf, 4u);          // 44-bit PA
  EXPECT_EQ(a57.id_aa64mmfr1, 0u);                // no PAN, VHE, HAFDBS, ...
  EXPECT_EQ(a57.id_aa64mmfr2, 0u);
}

// SHA2 = 2 (SHA512) is advertised only where SHA512H runs, and only max has it.
TEST_P(CpuModelsTest, Sha512RunsExactlyWhereAdvertised) {
  for (const CpuModel& model : cpu_models()) {
    SCOPED_TRACE(model.name);
    m->set_model(model);
    m->load({0xce628020});  // sha512h q0, q1, v2.2d
    ASSERT_EQ(m->run(), ExitKind::Shutdown);
    const bool ran = m->hvcs.size() == 1 && m->hvcs[0] == 0;
    EXPECT_EQ(ran, ((model.id_aa64isar0 >> 12) & 0xf) == 2);
    EXPECT_EQ(ran, std::string(model.name) == "max");
  }
}

TEST(CpuModels, IdentificationAsTheTrms) {
  EXPECT_EQ(find_cpu_model("cortex-a53")->midr, 0x410fd034u);
  EXPECT_EQ(find_cpu_model("cortex-a72")->midr, 0x410fd083u);
  EXPECT_EQ(find_cpu_model("neoverse-n1")->midr, 0x414fd0c1u);
  EXPECT_EQ(find_cpu_model("cortex-a53")->id_aa64mmfr0 & 0xf, 2u);   // 40-bit PA
  EXPECT_EQ(find_cpu_model("neoverse-n1")->id_aa64mmfr0 & 0xf, 5u);  // 48-bit PA
  for (const char* v80 : {"cortex-a53", "cortex-a57", "cortex-a72"})
    EXPECT_EQ(find_cpu_model(v80)->id_aa64isar0, 0x11120u) << v80;  // AES+PMULL, SHA1/2, CRC32
}

ORRERY_ARM64_TIERS(CpuModelsTest);

}  // namespace
}  // namespace orrery::cpu::arm64::test
