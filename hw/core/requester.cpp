#include "hw/core/requester.h"

namespace orrery::hw {

namespace {
thread_local unsigned t_requester = 0;
}

unsigned current_requester() {
  return t_requester;
}

RequesterScope::RequesterScope(unsigned cpu_index) : previous_(t_requester) {
  t_requester = cpu_index;
}

RequesterScope::~RequesterScope() {
  t_requester = previous_;
}

}  // namespace orrery::hw
