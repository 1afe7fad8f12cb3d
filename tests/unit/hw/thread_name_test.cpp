// Host thread names: what top -H, perf and gdb show for Orrery's threads.
#include "hw/core/thread_name.h"

#include <gtest/gtest.h>
#include <pthread.h>

#include <string>
#include <thread>

namespace orrery::hw {
namespace {

std::string this_thread_name() {
  char buf[32] = {};
  pthread_getname_np(pthread_self(), buf, sizeof buf);
  return buf;
}

TEST(ThreadName, NamesTheCallingThreadAndCutsAt15Bytes) {
  std::string short_name, long_name;
  std::thread t([&] {
    name_this_thread("vcpu 1");
    short_name = this_thread_name();
    name_this_thread("a name longer than fifteen bytes");
    long_name = this_thread_name();
  });
  t.join();
  EXPECT_EQ(short_name, "vcpu 1");
  EXPECT_EQ(long_name, "a name longer t");
}

}  // namespace
}  // namespace orrery::hw
