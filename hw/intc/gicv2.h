// ARM Generic Interrupt Controller v2 (IHI 0048B) without the Security Extensions, as on
// QEMU's virt board: a distributor and a memory-mapped CPU interface whose registers are banked
// per CPU (the accessing CPU comes from the access's MemAttrs). SGIs, PPIs and SPIs; priority,
// running priority and preemption; edge and level triggering; group 0/1 with FIQEn.
// Accesses the model cannot honour read as zero and are ignored, with one log line each: under
// -d guest_errors (reserved offsets, bad sizes, read-only/write-only registers, INTIDs beyond
// GICD_TYPER) or -d unimp (IMPLEMENTATION DEFINED and identification registers).
#pragma once

#include <cstdint>
#include <vector>

#include "hw/core/log.h"
#include "hw/core/mmio.h"
#include "hw/core/resettable.h"
#include "hw/intc/gic_core.h"

namespace orrery::hw::intc {

class Gicv2 : public Resettable {
 public:
  static constexpr uint64_t kDistSize = 0x1000;
  static constexpr uint64_t kCpuSize = 0x2000;  // GICC_DIR lives at 0x1000

  // Distributor registers (IHI 0048B table 4-1).
  static constexpr uint64_t GICD_CTLR = 0x000, GICD_TYPER = 0x004, GICD_IIDR = 0x008,
                            GICD_IGROUPR = 0x080, GICD_ISENABLER = 0x100, GICD_ICENABLER = 0x180,
                            GICD_ISPENDR = 0x200, GICD_ICPENDR = 0x280, GICD_ISACTIVER = 0x300,
                            GICD_ICACTIVER = 0x380, GICD_IPRIORITYR = 0x400, GICD_ITARGETSR = 0x800,
                            GICD_ICFGR = 0xC00, GICD_NSACR = 0xE00, GICD_SGIR = 0xF00,
                            GICD_CPENDSGIR = 0xF10, GICD_SPENDSGIR = 0xF20, GICD_PIDR2 = 0xFE8;
  // CPU interface registers (table 4-2).
  static constexpr uint64_t GICC_CTLR = 0x00, GICC_PMR = 0x04, GICC_BPR = 0x08, GICC_IAR = 0x0C,
                            GICC_EOIR = 0x10, GICC_RPR = 0x14, GICC_HPPIR = 0x18, GICC_ABPR = 0x1C,
                            GICC_AIAR = 0x20, GICC_AEOIR = 0x24, GICC_AHPPIR = 0x28,
                            GICC_APR0 = 0xD0, GICC_NSAPR0 = 0xE0, GICC_IIDR = 0xFC,
                            GICC_DIR = 0x1000;
  // GICC_CTLR bits (no Security Extensions).
  static constexpr uint32_t CTLR_EnableGrp0 = 1u << 0, CTLR_EnableGrp1 = 1u << 1,
                            CTLR_AckCtl = 1u << 2, CTLR_FIQEn = 1u << 3, CTLR_CBPR = 1u << 4,
                            CTLR_EOImode = 1u << 9;

  /// num_irqs: all INTIDs including the 32 private ones (multiple of 32, <= 1020 rounded).
  Gicv2(unsigned num_cpus, unsigned num_irqs, Log& log);

  GicCore& core() { return core_; }
  MmioDevice& distributor() { return dist_; }
  MmioDevice& cpu_interface() { return cpu_; }
  /// The interrupt inputs (SPI n = INTID 32+n; PPIs via core().ppi_input()).
  IrqSink& inputs() { return core_; }
  void reset() override { core_.reset(); }

 private:
  class Dist final : public MmioDevice {
   public:
    explicit Dist(GicCore& core) : core_(core) {}
    MemResult read(uint64_t offset, unsigned size, uint64_t& value) override;
    MemResult write(uint64_t offset, unsigned size, uint64_t value) override;
    MemResult read_attrs(uint64_t offset, unsigned size, uint64_t& value,
                         const MemAttrs& attrs) override;
    MemResult write_attrs(uint64_t offset, unsigned size, uint64_t value,
                          const MemAttrs& attrs) override;
    AccessRules valid() const override { return {1, 4, false}; }
    AccessRules impl() const override { return {1, 4, false}; }

   private:
    // Callers hold core_.mu(); the result says why an access was ignored, if it was.
    Ignored read_locked(unsigned cpu, uint64_t offset, unsigned size, uint64_t& value);
    Ignored write_locked(unsigned cpu, uint64_t offset, unsigned size, uint64_t value);
    GicCore& core_;
  };
  class CpuInterface final : public MmioDevice {
   public:
    explicit CpuInterface(GicCore& core) : core_(core) {}
    MemResult read(uint64_t offset, unsigned size, uint64_t& value) override;
    MemResult write(uint64_t offset, unsigned size, uint64_t value) override;
    MemResult read_attrs(uint64_t offset, unsigned size, uint64_t& value,
                         const MemAttrs& attrs) override;
    MemResult write_attrs(uint64_t offset, unsigned size, uint64_t value,
                          const MemAttrs& attrs) override;
    AccessRules valid() const override { return {4, 4, false}; }
    AccessRules impl() const override { return {4, 4, false}; }

   private:
    Ignored read_locked(unsigned cpu, uint64_t offset, unsigned size, uint64_t& value);
    Ignored write_locked(unsigned cpu, uint64_t offset, unsigned size, uint32_t value);
    GicCore& core_;
  };

  GicCore core_;
  Dist dist_;
  CpuInterface cpu_;
};

}  // namespace orrery::hw::intc
