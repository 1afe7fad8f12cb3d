// Which vCPU issues the device accesses made on the current thread. Some devices bank
// registers per CPU behind one address (the GICv2 CPU interface and its private-interrupt
// registers), but MmioDevice::read/write carry no requester. Each vCPU thread declares its
// index once with a RequesterScope; other threads (tests, loaders) count as CPU 0. This is the
// only thread-local state in hw/: it stands in for QEMU's MemTxAttrs.requester_id.
#pragma once

namespace orrery::hw {

/// The index of the vCPU running on this thread (0 when none declared).
unsigned current_requester();

/// Declares the calling thread's vCPU index until destroyed (restores the previous one).
class RequesterScope {
 public:
  explicit RequesterScope(unsigned cpu_index);
  ~RequesterScope();
  RequesterScope(const RequesterScope&) = delete;
  RequesterScope& operator=(const RequesterScope&) = delete;

 private:
  unsigned previous_;
};

}  // namespace orrery::hw
