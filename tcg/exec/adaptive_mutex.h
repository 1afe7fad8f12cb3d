// The engine's lock: a mutex that spins briefly before it sleeps. Its critical sections (a hash
// probe, an insert, a link) last well under a microsecond, while a futex sleep and wake-up costs
// several, more on a VM host: a warm arm64 boot made ~48k futex calls, 80% of them on this
// lock (vCPU lookups against the thread installing stored blocks). BasicLockable, for
// std::lock_guard and std::unique_lock.
#pragma once

#include <mutex>

namespace orrery::tcg::exec {

class AdaptiveMutex {
 public:
  void lock() {
    for (int i = 0; i < kSpins; ++i) {
      if (m_.try_lock()) return;
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
    m_.lock();
  }
  bool try_lock() {
    return m_.try_lock();
  }
  void unlock() {
    m_.unlock();
  }

 private:
  // ~1-3 us of PAUSEs: a few of the holder's critical sections, less than one futex round trip.
  static constexpr int kSpins = 64;
  std::mutex m_;
};

}  // namespace orrery::tcg::exec
