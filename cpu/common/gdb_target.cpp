#include "cpu/common/gdb_target.h"

#include <vector>

#include "tcg/exec/engine.h"

namespace orrery::cpu {

using tcg::exec::DebugStopKind;
using tcg::exec::ResumeMode;
using tcg::exec::WatchKind;

bool TcgGdbTarget::read_memory(unsigned thread, uint64_t addr, std::span<uint8_t> out,
                               bool phys) {
  tcg::exec::VcpuExec* v = debug_.vcpu(thread);
  if (!v) return false;
  if (out.empty()) return true;
  if (addr + out.size() < addr) return false;  // wraps around the address space
  return v->mmu().debug_access(addr, debug_mmu_idx(*v), out.data(), out.size(), false, phys);
}

bool TcgGdbTarget::write_memory(unsigned thread, uint64_t addr, std::span<const uint8_t> in,
                                bool phys) {
  tcg::exec::VcpuExec* v = debug_.vcpu(thread);
  if (!v) return false;
  if (in.empty()) return true;
  if (addr + in.size() < addr) return false;
  // debug_access writes from a mutable buffer (it shares the read path).
  std::vector<uint8_t> buf(in.begin(), in.end());
  return v->mmu().debug_access(addr, debug_mmu_idx(*v), buf.data(), buf.size(), true, phys);
}

bool TcgGdbTarget::insert_break(GdbBreak type, uint64_t addr, uint64_t len) {
  switch (type) {
    case GdbBreak::Software:
    case GdbBreak::Hardware:
      return debug_.insert_breakpoint(addr, type == GdbBreak::Hardware);
    case GdbBreak::Write:
    case GdbBreak::Read:
    case GdbBreak::Access:
      return debug_.insert_watchpoint(addr, len, static_cast<WatchKind>(type));
  }
  return false;
}

bool TcgGdbTarget::remove_break(GdbBreak type, uint64_t addr, uint64_t len) {
  switch (type) {
    case GdbBreak::Software:
    case GdbBreak::Hardware:
      return debug_.remove_breakpoint(addr, type == GdbBreak::Hardware);
    case GdbBreak::Write:
    case GdbBreak::Read:
    case GdbBreak::Access:
      return debug_.remove_watchpoint(addr, len, static_cast<WatchKind>(type));
  }
  return false;
}

std::optional<GdbStopEvent> TcgGdbTarget::wait_stop(std::chrono::milliseconds timeout) {
  std::optional<tcg::exec::DebugStop> s = debug_.take_stop(timeout);
  if (!s) return std::nullopt;
  GdbStopEvent e;
  e.thread = s->vcpu;
  switch (s->kind) {
    case DebugStopKind::Requested:
      e.kind = GdbStopKind::Interrupt;
      break;
    case DebugStopKind::SwBreakpoint:
      e.kind = GdbStopKind::SwBreak;
      break;
    case DebugStopKind::HwBreakpoint:
      e.kind = GdbStopKind::HwBreak;
      break;
    case DebugStopKind::Step:
      e.kind = GdbStopKind::Step;
      break;
    case DebugStopKind::Watchpoint:
      e.addr = s->watch_addr;
      e.kind = s->watch_kind == WatchKind::Write  ? GdbStopKind::Watch
               : s->watch_kind == WatchKind::Read ? GdbStopKind::ReadWatch
                                                  : GdbStopKind::AccessWatch;
      break;
  }
  return e;
}

void TcgGdbTarget::resume(std::span<const GdbResume> per_thread) {
  std::vector<ResumeMode> modes;
  for (GdbResume r : per_thread)
    modes.push_back(r == GdbResume::Continue ? ResumeMode::Continue
                    : r == GdbResume::Step   ? ResumeMode::Step
                                             : ResumeMode::Stay);
  debug_.resume(modes);
}

}  // namespace orrery::cpu
