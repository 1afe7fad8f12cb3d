// The GICv3 CPU interface as the CPU sees it: the ICC_* system registers (GIC Architecture
// Specification, IHI 0069, chapter 12). The CPU routes MRS/MSR of these registers to the
// Gicv3CpuInterface object the board attached to it (one per vCPU); the GICv3 model implements
// it. Header-only so cpu/arm64 can use it without linking hw/.
//
// For the CPU: with no interface attached (a GICv2 board), ID_AA64PFR0_EL1.GIC reads 0 and
// ICC_* accesses are UNDEFINED; with one attached, ID_AA64PFR0_EL1.GIC reads 1. Calls come from
// the vCPU's own thread; the implementation does its own locking.
#pragma once

#include <cstddef>
#include <cstdint>

namespace orrery::hw::intc {

/// ICC_* registers accessible from EL1 (names as in IHI 0069).
enum class IccReg : uint8_t {
  IAR0,    // ICC_IAR0_EL1     (RO)
  IAR1,    // ICC_IAR1_EL1     (RO)
  EOIR0,   // ICC_EOIR0_EL1    (WO)
  EOIR1,   // ICC_EOIR1_EL1    (WO)
  HPPIR0,  // ICC_HPPIR0_EL1   (RO)
  HPPIR1,  // ICC_HPPIR1_EL1   (RO)
  BPR0,    // ICC_BPR0_EL1
  BPR1,    // ICC_BPR1_EL1
  AP0R0,   // ICC_AP0R0_EL1 .. ICC_AP0R3_EL1 (only AP0R0 holds state: 5 priority bits)
  AP0R1,
  AP0R2,
  AP0R3,
  AP1R0,  // ICC_AP1R0_EL1 .. ICC_AP1R3_EL1
  AP1R1,
  AP1R2,
  AP1R3,
  PMR,      // ICC_PMR_EL1
  CTLR,     // ICC_CTLR_EL1
  SRE,      // ICC_SRE_EL1
  IGRPEN0,  // ICC_IGRPEN0_EL1
  IGRPEN1,  // ICC_IGRPEN1_EL1
  SGI0R,    // ICC_SGI0R_EL1    (WO)
  SGI1R,    // ICC_SGI1R_EL1    (WO)
  ASGI1R,   // ICC_ASGI1R_EL1   (WO)
  RPR,      // ICC_RPR_EL1      (RO)
  DIR,      // ICC_DIR_EL1      (WO)
  kCount,
};

enum class IccAccess : uint8_t { ReadWrite, ReadOnly, WriteOnly };

struct IccRegInfo {
  IccReg reg;
  const char* name;
  // System register encoding: op0 is always 3.
  uint8_t op1, crn, crm, op2;
  IccAccess access;
};

inline constexpr IccRegInfo kIccRegs[] = {
    {IccReg::IAR0, "ICC_IAR0_EL1", 0, 12, 8, 0, IccAccess::ReadOnly},
    {IccReg::IAR1, "ICC_IAR1_EL1", 0, 12, 12, 0, IccAccess::ReadOnly},
    {IccReg::EOIR0, "ICC_EOIR0_EL1", 0, 12, 8, 1, IccAccess::WriteOnly},
    {IccReg::EOIR1, "ICC_EOIR1_EL1", 0, 12, 12, 1, IccAccess::WriteOnly},
    {IccReg::HPPIR0, "ICC_HPPIR0_EL1", 0, 12, 8, 2, IccAccess::ReadOnly},
    {IccReg::HPPIR1, "ICC_HPPIR1_EL1", 0, 12, 12, 2, IccAccess::ReadOnly},
    {IccReg::BPR0, "ICC_BPR0_EL1", 0, 12, 8, 3, IccAccess::ReadWrite},
    {IccReg::BPR1, "ICC_BPR1_EL1", 0, 12, 12, 3, IccAccess::ReadWrite},
    {IccReg::AP0R0, "ICC_AP0R0_EL1", 0, 12, 8, 4, IccAccess::ReadWrite},
    {IccReg::AP0R1, "ICC_AP0R1_EL1", 0, 12, 8, 5, IccAccess::ReadWrite},
    {IccReg::AP0R2, "ICC_AP0R2_EL1", 0, 12, 8, 6, IccAccess::ReadWrite},
    {IccReg::AP0R3, "ICC_AP0R3_EL1", 0, 12, 8, 7, IccAccess::ReadWrite},
    {IccReg::AP1R0, "ICC_AP1R0_EL1", 0, 12, 9, 0, IccAccess::ReadWrite},
    {IccReg::AP1R1, "ICC_AP1R1_EL1", 0, 12, 9, 1, IccAccess::ReadWrite},
    {IccReg::AP1R2, "ICC_AP1R2_EL1", 0, 12, 9, 2, IccAccess::ReadWrite},
    {IccReg::AP1R3, "ICC_AP1R3_EL1", 0, 12, 9, 3, IccAccess::ReadWrite},
    {IccReg::PMR, "ICC_PMR_EL1", 0, 4, 6, 0, IccAccess::ReadWrite},
    {IccReg::CTLR, "ICC_CTLR_EL1", 0, 12, 12, 4, IccAccess::ReadWrite},
    {IccReg::SRE, "ICC_SRE_EL1", 0, 12, 12, 5, IccAccess::ReadWrite},
    {IccReg::IGRPEN0, "ICC_IGRPEN0_EL1", 0, 12, 12, 6, IccAccess::ReadWrite},
    {IccReg::IGRPEN1, "ICC_IGRPEN1_EL1", 0, 12, 12, 7, IccAccess::ReadWrite},
    {IccReg::SGI0R, "ICC_SGI0R_EL1", 0, 12, 11, 7, IccAccess::WriteOnly},
    {IccReg::SGI1R, "ICC_SGI1R_EL1", 0, 12, 11, 5, IccAccess::WriteOnly},
    {IccReg::ASGI1R, "ICC_ASGI1R_EL1", 0, 12, 11, 6, IccAccess::WriteOnly},
    {IccReg::RPR, "ICC_RPR_EL1", 0, 12, 11, 3, IccAccess::ReadOnly},
    {IccReg::DIR, "ICC_DIR_EL1", 0, 12, 11, 1, IccAccess::WriteOnly},
};
static_assert(sizeof(kIccRegs) / sizeof(kIccRegs[0]) == size_t(IccReg::kCount));

constexpr const IccRegInfo& icc_reg_info(IccReg r) {
  return kIccRegs[size_t(r)];
}

/// Finds the ICC_* register with system-register encoding (op0=3, op1, CRn, CRm, op2); returns
/// null for anything else (including EL2/EL3-only ICC registers such as ICC_SRE_EL2).
constexpr const IccRegInfo* find_icc_reg(unsigned op0, unsigned op1, unsigned crn, unsigned crm,
                                         unsigned op2) {
  if (op0 != 3) return nullptr;
  for (const IccRegInfo& i : kIccRegs)
    if (i.op1 == op1 && i.crn == crn && i.crm == crm && i.op2 == op2) return &i;
  return nullptr;
}

namespace detail {
constexpr bool icc_table_in_enum_order() {
  for (size_t i = 0; i < size_t(IccReg::kCount); ++i)
    if (size_t(kIccRegs[i].reg) != i) return false;
  return true;
}
}  // namespace detail
static_assert(detail::icc_table_in_enum_order(), "kIccRegs must be indexable by IccReg");
static_assert(find_icc_reg(3, 0, 12, 12, 0)->reg == IccReg::IAR1);

/// One vCPU's GICv3 CPU interface. The CPU checks the access direction against
/// icc_reg_info(reg).access (a wrong direction is UNDEFINED) before calling.
class Gicv3CpuInterface {
 public:
  virtual ~Gicv3CpuInterface() = default;
  /// MRS. Reading ICC_IAR*_EL1 acknowledges the interrupt (a side effect).
  virtual uint64_t read(IccReg reg) = 0;
  /// MSR.
  virtual void write(IccReg reg, uint64_t value) = 0;
};

}  // namespace orrery::hw::intc
