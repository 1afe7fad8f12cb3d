// State and prioritisation logic shared by the GICv2 and GICv3 models: per-interrupt enable,
// pending, active, group, priority and trigger mode (private interrupts banked per CPU), SPI
// targets (GICv2 ITARGETSR) or routes (GICv3 IROUTER), and each CPU interface's priority mask,
// binary point and active-priority bits. The register-level front ends (gicv2.cpp, gicv3.cpp)
// decode MMIO/system-register accesses into these operations.
//
// One mutex guards everything: interrupt inputs arrive from device and vCPU threads, and
// register accesses from every vCPU. Callers of the non-locking members hold mu().
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "hw/core/irq.h"
#include "hw/core/log.h"

namespace orrery::hw::intc {

inline constexpr unsigned kGicNumPrivate = 32;  // SGIs 0-15, PPIs 16-31
inline constexpr unsigned kGicNumSgis = 16;
inline constexpr unsigned kGicSpurious = 1023;
inline constexpr unsigned kGicMaxCpus = 8;
inline constexpr unsigned kGicFirstLpi =
    8192;  // GICv3 LPIs: INTIDs from here  // GICv2's architectural limit; ours for GICv3 too

enum class GicVersion : uint8_t { V2 = 2, V3 = 3 };

class GicCore : public IrqSink {
 public:
  /// num_irqs counts all INTIDs (a multiple of 32, at most 1020); mpidrs gives each CPU's
  /// affinity (GICv3 routing and SGI targeting).
  GicCore(GicVersion version, unsigned num_cpus, unsigned num_irqs, std::vector<uint64_t> mpidrs,
          Log& log);

  GicVersion version() const { return version_; }
  unsigned num_cpus() const { return num_cpus_; }
  unsigned num_irqs() const { return num_irqs_; }
  uint64_t mpidr(unsigned cpu) const { return mpidrs_[cpu]; }
  Log& log() { return log_; }
  std::mutex& mu() { return mu_; }

  /// The CPU's interrupt request outputs (connect to the vCPU's IRQ and FIQ inputs).
  IrqLine& irq_out(unsigned cpu) { return irq_out_[cpu]; }
  IrqLine& fiq_out(unsigned cpu) { return fiq_out_[cpu]; }

  /// IrqSink input numbering: SPIs are their INTID (32..num_irqs-1); a CPU's PPI or SGI line
  /// is ppi_input(cpu, intid). Locks mu().
  unsigned ppi_input(unsigned cpu, unsigned intid) const {
    return num_irqs_ + cpu * kGicNumPrivate + intid;
  }
  void set_irq(unsigned line, bool level) override;

  /// Everything back to the power-on state. Locks mu().
  void reset();

  // ---- The rest: callers hold mu(). ----

  struct Irq {
    bool enabled = false;
    bool latch = false;  // pending state from an edge, ISPENDR or an SGI
    bool level = false;  // the input line
    bool active = false;
    bool edge = false;    // ICFGR: edge-triggered
    bool group1 = false;  // IGROUPR
    uint8_t priority = 0;
  };

  struct CpuIf {
    bool grp_enable[2] = {false, false};  // GICC_CTLR.EnableGrp0/1, ICC_IGRPEN0/1_EL1
    bool fiq_en = false;                  // GICv2 GICC_CTLR.FIQEn: group 0 as FIQ
    bool ack_ctl = false;                 // GICv2 GICC_CTLR.AckCtl
    bool cbpr = false;                    // BPR0 also for group 1
    bool eoi_mode = false;                // EOI only drops priority; DIR deactivates
    uint8_t pmr = 0;
    uint8_t bpr[2] = {0, 1};              // binary points: group priority = prio[7:bpr+1]
    std::array<uint32_t, 4> apr[2] = {};  // active group priorities (bit n: priority 2n)
  };

  /// The Irq for intid as seen by cpu (private interrupts are banked); null if out of range.
  Irq* irq(unsigned cpu, unsigned intid);
  CpuIf& cpu_if(unsigned cpu) { return cpus_[cpu]; }

  bool pending(unsigned cpu, unsigned intid);
  /// Sets or clears the software pending latch (ISPENDR/ICPENDR, SGI generation).
  void set_pending(unsigned cpu, unsigned intid, bool on);

  bool dist_grp_enable[2] = {false, false};  // GICD_CTLR.EnableGrp0/1

  uint8_t spi_target(unsigned intid) const { return targets_[intid - kGicNumPrivate]; }
  void set_spi_target(unsigned intid, uint8_t mask) { targets_[intid - kGicNumPrivate] = mask; }
  uint64_t spi_route(unsigned intid) const { return routes_[intid - kGicNumPrivate]; }
  void set_spi_route(unsigned intid, uint64_t r) { routes_[intid - kGicNumPrivate] = r; }

  /// GICv2 SGIs remember each source CPU: bit s of sgi_sources(target, n) = pending from s.
  uint8_t& sgi_sources(unsigned cpu, unsigned sgi) { return sgi_src_[cpu][sgi]; }
  /// Makes SGI sgi pending on target, sent by source.
  void send_sgi(unsigned source, unsigned target, unsigned sgi);

  /// Highest-priority pending interrupt the CPU could take, ignoring its mask and running
  /// priority; kGicSpurious if none.
  unsigned hppi(unsigned cpu);
  uint8_t running_priority(unsigned cpu);
  /// The group-priority bits of prio for group (BPR applied).
  uint8_t group_priority(unsigned cpu, bool group1, uint8_t prio);

  /// Acknowledges the highest-priority interrupt if it belongs to an allowed group and can
  /// preempt; returns its INTID (GICv2 SGIs: with the source CPU in bits 12:10), 1022 when it
  /// is group 1 and only group 0 may be taken without AckCtl (GICv2), else 1023.
  unsigned acknowledge(unsigned cpu, bool allow_group0, bool allow_group1);
  /// Priority drop (EOIR); also deactivates unless eoi_mode. value as written to EOIR (GICv2:
  /// INTID in bits 9:0; GICv3: bits 23:0).
  void end_of_interrupt(unsigned cpu, uint32_t value, bool group1);
  /// Deactivation (DIR, or EOIR with eoi_mode clear).
  void deactivate(unsigned cpu, unsigned intid);

  /// Recomputes every CPU's IRQ/FIQ outputs. Call after any state change.
  void update();

  /// GICv3 LPIs pending on a redistributor: INTID -> its configuration byte as cached from
  /// the LPI configuration table (bit 0 enable, bits 7:2 priority). LPIs are always group 1,
  /// have no active state and leave the pending set when acknowledged. Call update() after
  /// changing it.
  std::map<uint32_t, uint8_t>& pending_lpis(unsigned cpu) { return lpis_[cpu]; }

  // Register helpers shared by the distributors and redistributors: 32 interrupts per bitmap
  // word from first (a multiple of 32), 16 per ICFGR word, 4 per IPRIORITYR word.
  enum class BitReg : uint8_t {
    Group,
    SetEnable,
    ClearEnable,
    SetPending,
    ClearPending,
    SetActive,
    ClearActive
  };
  uint32_t read_bits(unsigned cpu, BitReg reg, unsigned first);
  void write_bits(unsigned cpu, BitReg reg, unsigned first, uint32_t value);
  uint32_t read_config(unsigned cpu, unsigned first);
  void write_config(unsigned cpu, unsigned first, uint32_t value);
  uint8_t read_priority(unsigned cpu, unsigned intid);
  void write_priority(unsigned cpu, unsigned intid, uint8_t value);

 private:
  bool targets_cpu(unsigned cpu, unsigned intid);
  /// Group and priority of an interrupt hppi() returned (an SGI/PPI/SPI or a pending LPI).
  void group_and_priority(unsigned cpu, unsigned intid, bool& group1, uint8_t& priority);

  const GicVersion version_;
  const unsigned num_cpus_, num_irqs_;
  const std::vector<uint64_t> mpidrs_;
  Log& log_;
  std::mutex mu_;
  std::unique_ptr<IrqLine[]> irq_out_, fiq_out_;
  std::vector<std::array<Irq, kGicNumPrivate>> private_;  // per CPU
  std::vector<Irq> spis_;
  std::vector<uint8_t> targets_;
  std::vector<uint64_t> routes_;
  std::vector<std::array<uint8_t, kGicNumSgis>> sgi_src_;
  std::vector<CpuIf> cpus_;
  std::vector<std::map<uint32_t, uint8_t>> lpis_;  // per CPU
};

/// Why an MMIO access was ignored (read as zero, write dropped); empty when it was handled.
/// kLogGuestErrors for what the guest should not do (reserved offsets, bad sizes, writes to
/// read-only or reads of write-only registers), kLogUnimp for registers that exist on hardware
/// but not in this model.
struct Ignored {
  LogMask mask = LogMask(0);
  const char* why = nullptr;
  explicit operator bool() const { return why != nullptr; }
};
inline Ignored guest_error(const char* why) {
  return {kLogGuestErrors, why};
}
inline Ignored unimplemented(const char* why) {
  return {kLogUnimp, why};
}
/// Logs an ignored access as one line naming the register frame ("gicv2: GICD"), the offset
/// within it, the size and the reason.
void log_ignored(Log& log, const char* frame, bool write, uint64_t offset, unsigned size,
                 Ignored ig);

/// MPIDR_EL1 affinity (Aff3..Aff0) packed as GICD_IROUTER/GICR_TYPER hold it: Aff3 in 39:32 for
/// IROUTER, Aff2..Aff0 in 23:0.
constexpr uint64_t mpidr_affinity(uint64_t mpidr) {
  return mpidr & 0xFF'00FF'FFFFull;
}

}  // namespace orrery::hw::intc
