// ARM Generic Interrupt Controller v3 (IHI 0069) as on QEMU's virt board without EL3: one
// security state (GICD_CTLR.DS = 1), affinity routing always on (ARE is RAO/WI). A distributor
// for SPIs (GICD_IROUTER routing), one redistributor per vCPU (RD_base and SGI_base 64 KiB
// frames) for its SGIs and PPIs, and per-vCPU system-register CPU interfaces. Given guest
// memory (the board has an ITS, gicv3_its.h), the redistributors also handle LPIs: 16 ID bits,
// GICR_PROPBASER/PENDBASER tables in guest memory, GICR_CTLR.EnableLPIs; without it the LPI
// registers count as unimplemented (-d unimp). Ignored MMIO accesses are logged as for Gicv2.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "hw/core/guest_memory.h"
#include "hw/core/log.h"
#include "hw/core/mmio.h"
#include "hw/core/resettable.h"
#include "hw/intc/gic_core.h"
#include "hw/intc/gicv3_cpu_if.h"

namespace orrery::hw::intc {

class Gicv3 : public Resettable {
 public:
  static constexpr uint64_t kDistSize = 0x10000;
  static constexpr uint64_t kRedistStride = 0x20000;  // RD_base + SGI_base per CPU

  // Distributor (IHI 0069 table 12-25).
  static constexpr uint64_t GICD_CTLR = 0x0000, GICD_TYPER = 0x0004, GICD_IIDR = 0x0008,
                            GICD_TYPER2 = 0x000C, GICD_STATUSR = 0x0010, GICD_IGROUPR = 0x0080,
                            GICD_ISENABLER = 0x0100, GICD_ICENABLER = 0x0180, GICD_ISPENDR = 0x0200,
                            GICD_ICPENDR = 0x0280, GICD_ISACTIVER = 0x0300, GICD_ICACTIVER = 0x0380,
                            GICD_IPRIORITYR = 0x0400, GICD_ITARGETSR = 0x0800, GICD_ICFGR = 0x0C00,
                            GICD_IGRPMODR = 0x0D00, GICD_NSACR = 0x0E00, GICD_SGIR = 0x0F00,
                            GICD_IROUTER = 0x6000, GICD_PIDR2 = 0xFFE8;
  static constexpr uint32_t GICD_CTLR_EnableGrp0 = 1u << 0, GICD_CTLR_EnableGrp1 = 1u << 1,
                            GICD_CTLR_ARE = 1u << 4, GICD_CTLR_DS = 1u << 6;
  // Redistributor RD_base frame (table 12-27).
  static constexpr uint64_t GICR_CTLR = 0x0000, GICR_IIDR = 0x0004, GICR_TYPER = 0x0008,
                            GICR_STATUSR = 0x0010, GICR_WAKER = 0x0014, GICR_PROPBASER = 0x0070,
                            GICR_PENDBASER = 0x0078, GICR_PIDR2 = 0xFFE8;
  static constexpr uint32_t GICR_WAKER_ProcessorSleep = 1u << 1,
                            GICR_WAKER_ChildrenAsleep = 1u << 2;
  static constexpr uint64_t GICR_TYPER_PLPIS = 1u << 0, GICR_TYPER_Last = 1u << 4;
  static constexpr uint32_t GICR_CTLR_EnableLPIs = 1u << 0;
  static constexpr unsigned kLpiIdBits = 16;  // GICD_TYPER.IDbits + 1 with LPIs
  // SGI_base frame, offsets from SGI_base (0x10000 into the CPU's redistributor).
  static constexpr uint64_t kSgiBase = 0x10000;
  static constexpr uint64_t GICR_IGROUPR0 = 0x0080, GICR_ISENABLER0 = 0x0100,
                            GICR_ICENABLER0 = 0x0180, GICR_ISPENDR0 = 0x0200,
                            GICR_ICPENDR0 = 0x0280, GICR_ISACTIVER0 = 0x0300,
                            GICR_ICACTIVER0 = 0x0380, GICR_IPRIORITYR = 0x0400,
                            GICR_ICFGR0 = 0x0C00, GICR_ICFGR1 = 0x0C04, GICR_IGRPMODR0 = 0x0D00,
                            GICR_NSACR = 0x0E00;
  // ICC_CTLR_EL1 bits.
  static constexpr uint64_t ICC_CTLR_CBPR = 1u << 0, ICC_CTLR_EOImode = 1u << 1;

  /// mpidrs: each vCPU's MPIDR_EL1 (redistributor affinity, SGI targets, SPI routes).
  /// lpi_memory: where the LPI configuration and pending tables live; null: no LPIs.
  Gicv3(std::vector<uint64_t> mpidrs, unsigned num_irqs, Log& log,
        const GuestMemory* lpi_memory = nullptr);

  GicCore& core() { return core_; }
  MmioDevice& distributor() { return dist_; }
  /// All redistributors, num_cpus * kRedistStride bytes.
  MmioDevice& redistributors() { return redist_; }
  uint64_t redistributor_size() const { return core_.num_cpus() * kRedistStride; }
  /// vCPU cpu's ICC_* system registers.
  Gicv3CpuInterface& cpu_interface(unsigned cpu) { return *cpu_ifs_[cpu]; }
  IrqSink& inputs() { return core_; }
  void reset() override;

  // ---- LPIs, for the ITS (each locks the GIC) ----
  bool has_lpis() const { return lpi_mem_ != nullptr; }
  /// Whether intid is an LPI that redistributor cpu's configuration table covers.
  bool lpi_in_range(unsigned cpu, uint32_t intid);
  /// Makes LPI intid pending (or not) on redistributor cpu. False (and nothing changes) when
  /// the redistributor has LPIs disabled or intid is outside its table.
  bool set_lpi_pending(unsigned cpu, uint32_t intid, bool pending);
  bool lpi_pending(unsigned cpu, uint32_t intid);
  /// INV / INVALL: re-reads the configuration of one LPI, or of every LPI, of redistributor
  /// cpu from the configuration table.
  void invalidate_lpi(unsigned cpu, uint32_t intid);
  void invalidate_all_lpis(unsigned cpu);
  /// MOVALL: every pending LPI of redistributor from becomes pending on to instead.
  void move_all_lpis(unsigned from, unsigned to);

 private:
  class Dist final : public MmioDevice {
   public:
    Dist(GicCore& core, bool lpis) : core_(core), lpis_(lpis) {}
    MemResult read(uint64_t offset, unsigned size, uint64_t& value) override;
    MemResult write(uint64_t offset, unsigned size, uint64_t value) override;
    AccessRules valid() const override { return {1, 8, false}; }
    AccessRules impl() const override { return {1, 8, false}; }

   private:
    // Callers hold core_.mu(); the result says why an access was ignored, if it was.
    Ignored read_locked(uint64_t offset, unsigned size, uint64_t& value);
    Ignored write_locked(uint64_t offset, unsigned size, uint64_t value);
    GicCore& core_;
    const bool lpis_;
  };
  class Redist final : public MmioDevice {
   public:
    explicit Redist(Gicv3& gic) : gic_(gic) {}
    MemResult read(uint64_t offset, unsigned size, uint64_t& value) override;
    MemResult write(uint64_t offset, unsigned size, uint64_t value) override;
    AccessRules valid() const override { return {1, 8, false}; }
    AccessRules impl() const override { return {1, 8, false}; }

   private:
    // Offsets are within CPU cpu's redistributor (RD_base, then SGI_base at kSgiBase).
    Ignored read_locked(unsigned cpu, uint64_t offset, unsigned size, uint64_t& value);
    Ignored write_locked(unsigned cpu, uint64_t offset, unsigned size, uint64_t value);
    // Locks the GIC, finds the redistributor's CPU and logs what access() ignores.
    template <typename Access>
    MemResult dispatch(uint64_t offset, unsigned size, bool write, Access access);
    Gicv3& gic_;
  };
  class CpuIf final : public Gicv3CpuInterface {
   public:
    CpuIf(GicCore& core, unsigned cpu) : core_(core), cpu_(cpu) {}
    uint64_t read(IccReg reg) override;
    void write(IccReg reg, uint64_t value) override;

   private:
    void generate_sgi(uint64_t value, bool group1);
    GicCore& core_;
    unsigned cpu_;
  };

  struct LpiRegs {
    uint64_t propbaser = 0, pendbaser = 0;
    bool enabled = false;  // GICR_CTLR.EnableLPIs
    bool ptz = false;      // the last PENDBASER write said the pending table is zero
  };
  // Callers of these hold core_.mu().
  unsigned lpi_id_bits_locked(unsigned cpu) const;
  bool lpi_in_range_locked(unsigned cpu, uint32_t intid) const;
  uint8_t read_lpi_config_locked(unsigned cpu, uint32_t intid);
  void enable_lpis_locked(unsigned cpu, bool on);

  GicCore core_;
  const GuestMemory* lpi_mem_;
  std::vector<LpiRegs> lpi_regs_;  // per redistributor, under core_.mu()
  Dist dist_;
  Redist redist_;
  std::vector<std::unique_ptr<CpuIf>> cpu_ifs_;
  std::vector<bool> sleeping_;  // GICR_WAKER.ProcessorSleep per CPU
};

}  // namespace orrery::hw::intc
