// What a debugger stub (ui/gdbstub) needs from a machine's CPUs, guest-neutral: the register
// list and target description, register and memory access per vCPU ("thread"), breakpoints,
// watchpoints and all-stop run control. The protocol code talks only to GdbTarget, so a new
// guest architecture plugs in by implementing the register half (see cpu/arm64/gdb.h).
//
// TcgGdbTarget implements the guest-neutral half over the TCG engine's DebugState; a guest
// supplies registers, the target XML and the MMU index for debug memory accesses.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "tcg/exec/debug.h"

namespace orrery::cpu {

/// gdb's Z/z packet types.
enum class GdbBreak : uint8_t { Software = 0, Hardware = 1, Write = 2, Read = 3, Access = 4 };

enum class GdbStopKind : uint8_t {
  Interrupt,    // the debugger asked (Ctrl-C) or attached
  SwBreak,      // Z0
  HwBreak,      // Z1
  Watch,        // Z2: addr is the data address
  ReadWatch,    // Z3
  AccessWatch,  // Z4
  Step,
};

struct GdbStopEvent {
  GdbStopKind kind = GdbStopKind::Interrupt;
  unsigned thread = 0;  // 0-based; gdb's thread id is thread + 1
  uint64_t addr = 0;
};

/// What one thread does on resume.
enum class GdbResume : uint8_t { Stay, Continue, Step };

class GdbTarget {
 public:
  virtual ~GdbTarget() = default;

  // Architecture: fixed for the target's lifetime.
  /// Every register, numbered as in the target description.
  virtual unsigned register_count() const = 0;
  /// The first g_register_count() registers are what 'g' and 'G' transfer.
  virtual unsigned g_register_count() const = 0;
  /// The program counter's register number (legacy c/s with an address write it).
  virtual unsigned pc_register() const = 0;
  /// Size in bytes of register regno; 0 if there is no such register.
  virtual unsigned register_bytes(unsigned regno) const = 0;
  /// The text of a qXfer:features:read annex ("target.xml"); nullopt if unknown.
  virtual std::optional<std::string_view> feature_xml(std::string_view annex) const = 0;

  // Threads 0..thread_count()-1 (gdb ids 1..N). Only valid while the machine is stopped.
  virtual unsigned thread_count() const = 0;
  virtual bool thread_alive(unsigned thread) const = 0;
  /// Target byte order (little-endian for every guest so far); out.size() == register_bytes.
  virtual bool read_register(unsigned thread, unsigned regno, std::span<uint8_t> out) = 0;
  virtual bool write_register(unsigned thread, unsigned regno, std::span<const uint8_t> in) = 0;
  /// Virtual addresses go through the thread's current MMU state (never raising a guest
  /// fault); phys addresses are guest-physical. False if any byte is inaccessible.
  virtual bool read_memory(unsigned thread, uint64_t addr, std::span<uint8_t> out, bool phys) = 0;
  virtual bool write_memory(unsigned thread, uint64_t addr, std::span<const uint8_t> in,
                            bool phys) = 0;

  // Breakpoints (virtual PC) and watchpoints (virtual data address). Idempotent.
  virtual bool insert_break(GdbBreak type, uint64_t addr, uint64_t len) = 0;
  virtual bool remove_break(GdbBreak type, uint64_t addr, uint64_t len) = 0;

  // All-stop run control.
  /// Asks every thread to stop; wait_stop reports when they have.
  virtual void request_stop() = 0;
  /// The event that stopped the machine, once every thread has stopped; nullopt on timeout.
  virtual std::optional<GdbStopEvent> wait_stop(std::chrono::milliseconds timeout) = 0;
  virtual void resume(std::span<const GdbResume> per_thread) = 0;
  /// Removes every breakpoint and watchpoint and lets the machine run freely.
  virtual void detach() = 0;
};

/// The guest-neutral half of a GdbTarget for TCG vCPUs (threads = DebugState slots).
class TcgGdbTarget : public GdbTarget {
 public:
  explicit TcgGdbTarget(tcg::exec::DebugState& debug) : debug_(debug) {}

  unsigned thread_count() const override { return debug_.vcpu_count(); }
  bool thread_alive(unsigned thread) const override { return debug_.vcpu(thread) != nullptr; }
  bool read_memory(unsigned thread, uint64_t addr, std::span<uint8_t> out, bool phys) override;
  bool write_memory(unsigned thread, uint64_t addr, std::span<const uint8_t> in,
                    bool phys) override;
  bool insert_break(GdbBreak type, uint64_t addr, uint64_t len) override;
  bool remove_break(GdbBreak type, uint64_t addr, uint64_t len) override;
  void request_stop() override { debug_.request_stop_all(); }
  std::optional<GdbStopEvent> wait_stop(std::chrono::milliseconds timeout) override;
  void resume(std::span<const GdbResume> per_thread) override;
  void detach() override { debug_.release_all(); }

 protected:
  /// The MMU index a debug access of this vCPU translates with (its current data regime).
  virtual unsigned debug_mmu_idx(tcg::exec::VcpuExec& v) const = 0;
  tcg::exec::DebugState& debug() { return debug_; }

 private:
  tcg::exec::DebugState& debug_;
};

}  // namespace orrery::cpu
