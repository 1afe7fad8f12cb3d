// What runs the guest's CPUs, whatever it is (TCG's translator or the kernel's KVM): boards ask
// it for their vCPUs, let it follow their guest RAM and ask whether the interrupt controllers
// live in the kernel. A board names no accelerator type; -accel chooses one (ui/main.cpp).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace orrery::hw {
class AddressSpace;
class GuestWriteObserver;
class IoEventHost;
class IrqSink;
class MemoryListener;
class MsiSink;
class RamListener;
}  // namespace orrery::hw

namespace orrery::cpu {

class Accelerator {
 public:
  virtual ~Accelerator() = default;
  /// "tcg" or "kvm".
  virtual std::string_view name() const = 0;

  /// Who maps guest RAM and ROM itself (KVM: memory slots), or null: TCG reads through the
  /// address space. The board adds it to its guest-memory space once the boot regions exist;
  /// from then on it hears of every RAM change before the new view is used.
  virtual hw::RamListener* ram_listener() { return nullptr; }
  /// Why the RAM could not be mapped the last time it changed (empty: it was).
  virtual std::string ram_error() const { return {}; }

  /// True when the PIC, IOAPIC and local APICs run in the kernel: the board then maps none of
  /// its own and sends its interrupt lines to kernel_gsi() and kernel_msi().
  virtual bool irqchip_in_kernel() const { return false; }
  /// The kernel irqchip's GSIs (ISA IRQ n = GSI n; IRQ 0 reaches IOAPIC pin 2) and its MSI
  /// input; null without a kernel irqchip.
  virtual hw::IrqSink* kernel_gsi() { return nullptr; }
  virtual hw::MsiSink* kernel_msi() { return nullptr; }
  /// The kernel PIC pair as firmware leaves it (vector bases, interrupt masks); only with a
  /// kernel irqchip.
  virtual void init_kernel_pic(uint8_t master_base, uint8_t slave_base, uint8_t master_mask,
                               uint8_t slave_mask) {
    (void)master_base, (void)slave_base, (void)master_mask, (void)slave_mask;
  }

  /// Who can catch device doorbell writes without an exit (KVM's ioeventfd), or null.
  virtual hw::IoEventHost* io_events() { return nullptr; }

  /// Who must hear of guest writes made outside the vCPUs (TCG: drops stale translations), or
  /// null.
  virtual hw::GuestWriteObserver* write_observer() { return nullptr; }
  /// Who must hear of new views of guest memory (TCG: flushes every vCPU's TLB), or null.
  virtual hw::MemoryListener* memory_listener() { return nullptr; }
  /// Called (from a vCPU thread) when translated code fills its cache; the board then stops
  /// the vCPUs and calls flush_code().
  virtual void set_code_full_hook(std::function<void()> hook) { (void)hook; }
  /// Drops every translation (vCPUs stopped).
  virtual void flush_code() {}
  /// Told when a debugger stops (true) or resumes (false) the vCPUs it drives, so the board
  /// can stop guest time meanwhile. (KVM's debugger is attached by the command line.)
  virtual void set_debug_stop_listener(std::function<void(bool stopped)> listener) {
    (void)listener;
  }
};

}  // namespace orrery::cpu
