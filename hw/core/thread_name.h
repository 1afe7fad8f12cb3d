// Names the calling host thread (what `top -H`, `perf` and gdb's `info threads` show), so a
// profile of Orrery's threads says which is which. Linux keeps at most 15 bytes; longer names
// are cut.
#pragma once

#include <pthread.h>

#include <cstring>

namespace orrery::hw {

inline void name_this_thread(const char* name) {
  char buf[16];
  std::strncpy(buf, name, sizeof buf - 1);
  buf[sizeof buf - 1] = '\0';
  pthread_setname_np(pthread_self(), buf);
}

}  // namespace orrery::hw
