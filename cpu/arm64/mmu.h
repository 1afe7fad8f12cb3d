// The VMSAv8-64 stage-1 translation of the EL1&0 regime (Arm ARM D5/D8): TTBR0/TTBR1 selection,
// 4K/16K/64K granules, block and page descriptors, hierarchical and leaf permissions, the access
// flag, ASIDs and output-size checks. Pure functions of the state: the softmmu fill path
// (Arm64Cpu::translate) and the AT instructions share them.
#pragma once

#include <cstdint>

#include "cpu/arm64/exception.h"
#include "cpu/arm64/state.h"
#include "tcg/softmmu/softmmu.h"

namespace orrery::hw {
class AddressSpace;
}

namespace orrery::cpu::arm64 {

/// The implemented physical address size in bits, from ID_AA64MMFR0_EL1.PARange (44 on a
/// Cortex-A57, 48 on `max`).
unsigned pa_range_bits(const Arm64State& s);

struct WalkResult {
  Fault fault = Fault::None;
  unsigned level = 0;       // of the fault, or of the leaf descriptor
  uint64_t phys = 0;        // output address of vaddr
  uint64_t page_size = 0;   // bytes the leaf covers (page or block)
  bool readable = false, writable = false, executable = false;  // for the walked EL
  bool global = true;
  uint16_t asid = 0;
  uint8_t attr = 0;  // MAIR_EL1 attribute byte
  uint8_t sh = 0;    // shareability
};

/// Translates vaddr for an access at EL0 (el0) or EL1, checking the access's permission.
/// With SCTLR_EL1.M clear the mapping is flat (addresses beyond the PA size fault).
/// Data accesses honour TCR_EL1.TBI0/TBI1; instruction fetches are never tagged.
WalkResult stage1_translate(const Arm64State& s, const hw::AddressSpace& as, uint64_t vaddr,
                            tcg::softmmu::Access access, bool el0);

/// log2 of the translation granule used for vaddr's half of the address space.
unsigned granule_bits(const Arm64State& s, uint64_t vaddr);
/// The ASID of the current context (TCR_EL1.A1 selects TTBR0 or TTBR1; TCR_EL1.AS its size).
uint16_t current_asid(const Arm64State& s);
/// Whether vaddr's top byte is ignored for data accesses (TCR_EL1.TBI0/TBI1).
bool top_byte_ignored(const Arm64State& s, uint64_t vaddr);

/// PAR_EL1 for an AT instruction's result.
uint64_t par_from(const WalkResult& r);

}  // namespace orrery::cpu::arm64
