// The interface every x86 differential-fuzz runner implements (KVM on real silicon, Unicorn,
// and later each Orrery tier): run a snippet at CPL3 in 64-bit mode from a given user state
// and return the final user state. All runners share one fixed memory layout, so a snippet
// and its initial state mean the same thing everywhere.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>

namespace orrery::tests::x86fuzz {

/// The user-visible layout: one code page, a data area, one stack page. Addresses are the
/// same linear addresses on every runner; nothing else is mapped for the snippet.
namespace layout {
constexpr uint64_t kCodeAddr = 0x10000;  // the snippet, then an INT3 that ends the run
constexpr uint64_t kCodeSize = 0x1000;
constexpr uint64_t kDataAddr = 0x20000;  // X86UserState::data
constexpr uint64_t kDataSize = 0x1000;
constexpr uint64_t kStackAddr = 0x30000;  // one page; RSP starts at its top
constexpr uint64_t kStackSize = 0x1000;
}  // namespace layout

/// An 80-bit x87 register as FXSAVE stores it: 64-bit significand, then sign and exponent.
struct Float80 {
  uint64_t mantissa = 0;
  uint16_t sign_exp = 0;
  bool operator==(const Float80&) const = default;
};

struct Ymm {
  std::array<uint64_t, 4> q{};  // q[0..1] is the XMM half
  bool operator==(const Ymm&) const = default;
};

/// What the snippet left behind when it faulted.
struct X86Fault {
  static constexpr int kNone = -1;
  /// The runner declined the snippet (it would crash or hang the runner itself, e.g. a
  /// known Unicorn crash); the driver skips it.
  static constexpr int kRefused = -2;
  /// The runner stopped before the end without reporting an exception (a runner bug).
  static constexpr int kStoppedUnknown = -3;
  int vector = kNone;       // architectural exception vector, or kNone
  uint32_t error_code = 0;  // for vectors that push one (8, 10-14, 17, 21)
  bool has_error_code = false;
  bool operator==(const X86Fault&) const = default;
};

struct X86UserState {
  std::array<uint64_t, 16> gpr{};  // RAX..R15 in encoding order
  uint64_t rip = 0;                // in: ignored (runs start at kCodeAddr); out: stop point
  uint64_t rflags = 0x202;
  std::array<Ymm, 16> ymm{};
  uint32_t mxcsr = 0x1f80;
  uint16_t fcw = 0x37f;
  uint16_t fsw = 0;
  uint8_t ftw = 0;              // FXSAVE's abridged tag: bit i set = physical register i not empty
  std::array<Float80, 8> st{};  // ST(0)..ST(7), in stack order as FXSAVE stores them
  std::array<uint8_t, layout::kDataSize> data{};
  X86Fault fault;  // out: the exception that ended the snippet, if any
};

/// A runner executes snippets; one runner object is reused for many runs.
class X86Runner {
 public:
  virtual ~X86Runner() = default;
  virtual std::string name() const = 0;
  /// Runs `code` at kCodeAddr (at most kCodeSize - 1 bytes; the runner appends the INT3).
  /// `state` is the initial state in and the final state out. On a normal end, rip is the
  /// address of the appended INT3; on a fault, rip is the faulting instruction and
  /// fault.vector is set. Returns false if the runner itself failed (message in error()).
  virtual bool run(std::span<const uint8_t> code, X86UserState& state) = 0;
  virtual std::string error() const { return {}; }
};

}  // namespace orrery::tests::x86fuzz
