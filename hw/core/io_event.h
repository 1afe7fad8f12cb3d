// Doorbells an accelerator can take without leaving the guest: a device names a guest write
// (an address in memory or I/O-port space, optionally with one value) and an eventfd, and the
// accelerator signals the eventfd instead of delivering the write (KVM: KVM_IOEVENTFD). The
// device reads the eventfd on the event loop and runs the same path the write would have run.
// Under TCG there is no host and every write reaches the device.
#pragma once

#include <cstdint>

namespace orrery::hw {

struct IoEventMatch {
  bool io_port = false;  // else guest memory
  uint64_t addr = 0;
  unsigned len = 0;  // 1, 2, 4, 8, or 0: a write of any size
  bool match_data = false;
  uint64_t data = 0;  // with match_data (and len != 0): only writes of this value
};

class IoEventHost {
 public:
  virtual ~IoEventHost() = default;
  /// Signals eventfd for guest writes matching m; false (nothing registered) if the
  /// accelerator refuses, and the writes then keep reaching the device.
  virtual bool add_io_event(int eventfd, const IoEventMatch& m) = 0;
  /// Undoes add_io_event with the same arguments. Never blocks: callers hold device locks.
  virtual void remove_io_event(int eventfd, const IoEventMatch& m) = 0;
};

}  // namespace orrery::hw
