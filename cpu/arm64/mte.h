// FEAT_MTE2/MTE3, the Memory Tagging Extension (Arm ARM D10): allocation tag storage for RAM,
// the tag arithmetic of IRG/ADDG/SUBG, the helpers of the tag load/store instructions, and the
// tag check of ordinary loads and stores.
//
// Cost model: a block is translated with tag checks only when tb_flags::kMteCheck is set
// (tag storage present, TCF for the EL non-zero, ATA for the EL set, PSTATE.TCO clear; at EL1
// kMteCheckEl0 does the same for LDTR/STTR with EL0's controls); then every checked access
// first calls helper_mte_check. Blocks without the flags are translated exactly as before.
#pragma once

#include <cstdint>
#include <memory>

#include "cpu/arm64/state.h"
#include "tcg/ir/helpers.h"

namespace orrery::cpu::arm64 {

constexpr unsigned kTagGranule = 16;
/// GMID_EL1.BS: LDGM/STGM move the tags of 4 << 6 = 256 bytes (16 tags, one X register).
constexpr unsigned kGmidBs = 6;
constexpr uint64_t kGmBlock = 4u << kGmidBs;
/// DFSC of a synchronous tag check fault.
constexpr uint32_t kTagCheckFaultStatus = 0x11;
/// ID_AA64PFR1_EL1.MTE (bits 11:8).
constexpr unsigned kPfr1MteShift = 8;
inline unsigned mte_level(const Arm64State& s) {
  return unsigned(s.id_aa64pfr1_el1 >> kPfr1MteShift) & 0xf;
}

/// Allocation tags of one RAM block: 4 bits per 16-byte granule, two granules a byte. vCPU
/// threads update nibbles with a byte compare-and-swap.
class TagStorage {
 public:
  TagStorage(uint64_t base, uint64_t size);
  bool covers(uint64_t phys) const { return phys - base_ < size_; }
  uint8_t get(uint64_t phys) const;
  void set(uint64_t phys, uint8_t tag);
  uint64_t base() const { return base_; }
  uint64_t size() const { return size_; }
  /// Bytes of side storage (size / 32).
  uint64_t storage_bytes() const { return (size_ + 31) / 32; }

 private:
  uint64_t base_, size_;
  std::unique_ptr<uint8_t[]> tags_;
};

/// AArch64.ChooseNonExcludedTag: the offset-th tag after `tag` not in `exclude` (16 bits).
unsigned choose_nonexcluded_tag(unsigned tag, unsigned offset, uint16_t exclude);
/// AArch64.RandomTag: four bits of the RGSR_EL1.SEED LFSR (which it advances).
unsigned random_tag(Arm64State& s);
/// AllocationTagAccessIsEnabled for the current EL (SCTLR_EL1.ATA/ATA0 with MTE2 and storage).
bool allocation_tag_access(const Arm64State& s, bool el0);
/// The translation-relevant MTE bits (tb_flags::kMteAta/kMteCheck) of the current mode.
uint64_t mte_tb_flags(const Arm64State& s);
/// SCTLR_EL1 as stored: the MTE fields are RES0 without FEAT_MTE2.
uint64_t mte_sctlr_mask(const Arm64State& s);

/// helper_mte_check's desc: bytes accessed, plus these flags.
constexpr uint64_t kMteWrite = 1ull << 32;
constexpr uint64_t kMteEl0 = 1ull << 33;  // the access is made as EL0 (LDTR/STTR or EL0 code)
constexpr uint64_t mte_check_desc(unsigned bytes, bool write, bool el0) {
  return bytes | (write ? kMteWrite : 0) | (el0 ? kMteEl0 : 0);
}
/// helper_mte_stg's kind: granules (1 or 2), zero the data, STGP (tag from the address, data
/// from Xt/Xt2 in bits 16..25).
constexpr uint64_t kStgTwo = 1, kStgZero = 2, kStgPair = 4;
/// helper_mte_gm's op.
constexpr uint64_t kGmLoad = 0, kGmStore = 1, kGmStoreZero = 2, kGmDcGva = 3, kGmDcGzva = 4;

uint64_t helper_mte_check(tcg::CpuCommon* cpu, uint64_t vaddr, uint64_t desc, uint64_t pc);
uint64_t helper_mte_irg(tcg::CpuCommon* cpu, uint64_t xn, uint64_t xm, uint64_t);
uint64_t helper_mte_addg(tcg::CpuCommon* cpu, uint64_t xn, uint64_t desc, uint64_t);
uint64_t helper_mte_ldg(tcg::CpuCommon* cpu, uint64_t vaddr, uint64_t xt, uint64_t pc);
uint64_t helper_mte_stg(tcg::CpuCommon* cpu, uint64_t vaddr, uint64_t desc, uint64_t pc);
uint64_t helper_mte_gm(tcg::CpuCommon* cpu, uint64_t vaddr, uint64_t desc, uint64_t pc);

/// Checks the logical tag of a load/store against the allocation tags it touches; raises the
/// synchronous fault or records the asynchronous one (TFSR_EL1/TFSRE0_EL1) per TCF.
inline constexpr tcg::ir::Helper kHelperMteCheck{"arm64_mte_check", &helper_mte_check};
/// IRG: Xn with a random tag not excluded by Xm | GCR_EL1.Exclude.
inline constexpr tcg::ir::Helper kHelperMteIrg{"arm64_mte_irg", &helper_mte_irg};
/// ADDG/SUBG: desc is the signed byte offset (bits 15:0 as int16) and the tag offset << 16.
inline constexpr tcg::ir::Helper kHelperMteAddg{"arm64_mte_addg", &helper_mte_addg};
/// LDG: Xt with bits 59:56 replaced by the allocation tag of vaddr's granule.
inline constexpr tcg::ir::Helper kHelperMteLdg{"arm64_mte_ldg", &helper_mte_ldg};
/// STG/STZG/ST2G/STZ2G/STGP: desc is kind | tag-source (bits 8..11) | Xt, Xt2 for STGP.
inline constexpr tcg::ir::Helper kHelperMteStg{"arm64_mte_stg", &helper_mte_stg};
/// LDGM/STGM/STZGM, DC GVA/GZVA: desc is op | value << 8 (STGM: Xt; returns LDGM's value).
inline constexpr tcg::ir::Helper kHelperMteGm{"arm64_mte_gm", &helper_mte_gm};

}  // namespace orrery::cpu::arm64
