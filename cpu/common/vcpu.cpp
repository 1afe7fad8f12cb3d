#include "cpu/common/vcpu.h"

namespace orrery::cpu {

std::string_view exit_kind_name(ExitKind k) {
  switch (k) {
    case ExitKind::Halted:
      return "halted";
    case ExitKind::Shutdown:
      return "shutdown";
    case ExitKind::Reset:
      return "reset";
    case ExitKind::Breakpoint:
      return "breakpoint";
    case ExitKind::Watchpoint:
      return "watchpoint";
    case ExitKind::Step:
      return "step";
    case ExitKind::Kicked:
      return "kicked";
    case ExitKind::Error:
      return "error";
  }
  return "?";
}

}  // namespace orrery::cpu
