// What a PC board needs from one x86 vCPU, whoever runs it (TCG's X86Cpu or a KVM vCPU): the
// resets the board's boot paths ask for, the INIT/SIPI start of application processors, the
// INTR and NMI inputs when Orrery's own interrupt controllers drive it, and a reset request.
// No TCG types here.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "cpu/common/accel.h"
#include "cpu/common/vcpu.h"

namespace orrery::hw {
class AddressSpace;
class Clock;
}  // namespace orrery::hw

namespace orrery::cpu::x86 {

struct CpuModel;
class X86LocalApic;
class X86Platform;

/// The state of the Linux boot protocol's 64-bit entry (boot.rst, "64-bit boot protocol"):
/// long mode with paging on the loader's identity map (CR3), CS = code_sel (a flat 64-bit
/// code segment) and DS ES FS GS SS = data_sel (flat data), both in the loader's GDT, IF = 0,
/// RSI = the zero page, RIP = entry; the other general registers are zero.
struct LongModeEntry {
  uint64_t rip = 0, rsi = 0, rsp = 0, cr3 = 0;
  uint64_t gdt_base = 0;
  uint16_t gdt_limit = 0;
  uint16_t code_sel = 0x10, data_sel = 0x18;  // Linux's __BOOT_CS and __BOOT_DS
};

class X86Vcpu : public Vcpu {
 public:
  /// The vCPU number (initial APIC ID).
  virtual unsigned index() const = 0;

  /// The power-on (RESET) state: real mode at F000:FFF0 (CS base FFFF0000).
  virtual void reset_power_on() = 0;
  /// Multiboot 1's entry state (section 3.2): flat 32-bit protected mode, paging off, IF = 0,
  /// EAX = magic, EBX = the information structure, EIP = entry.
  virtual void reset_multiboot(uint32_t entry, uint32_t eax, uint32_t ebx) = 0;
  virtual void reset_long_mode(const LongModeEntry& e) = 0;
  /// INIT for an application processor: it waits for a STARTUP IPI. vCPU stopped.
  virtual void init_wait_for_sipi() = 0;
  /// Makes run() return ExitKind::Reset soon (port 0xcf9, the 8042); any thread.
  virtual void request_reset() = 0;

  // Orrery's own interrupt controllers (not used with a kernel irqchip); any thread.
  virtual void set_intr(bool level) = 0;
  virtual void raise_nmi() = 0;
  virtual void init_ipi() = 0;
  virtual void startup_ipi(uint8_t vector) = 0;
  /// The vCPU's local APIC and the machine's clock (TSC); set before run().
  virtual void set_local_apic(X86LocalApic* apic) = 0;
  virtual void set_clock(const hw::Clock* clock) = 0;
};

/// What the board gives for each vCPU.
struct X86VcpuSpec {
  const CpuModel& model;
  unsigned index;
  hw::AddressSpace& memory;
  hw::AddressSpace& io_ports;  // the 64 KiB I/O-port space
  X86Platform& platform;
};

/// An accelerator that can run x86 vCPUs.
class X86Accelerator : public Accelerator {
 public:
  /// A vCPU in its power-on state; null with a reason in error.
  virtual std::unique_ptr<X86Vcpu> create_vcpu(const X86VcpuSpec& spec, std::string& error) = 0;
};

}  // namespace orrery::cpu::x86
