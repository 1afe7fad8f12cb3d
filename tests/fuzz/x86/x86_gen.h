// Random x86-64 instruction sequences for differential testing, from ONE table of instruction
// templates (kTemplates in x86_gen.cpp): each row is an encoding with operand fields the
// generator fills (registers, immediates, a memory operand [R15 + disp32] inside the data
// page) plus the row's flag behaviour (read, written, left undefined by the SDM) and x87
// condition-code behaviour. Branches only go forward within the snippet and string counts are
// bounded, so a snippet never leaves its pages and always ends.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "tests/fuzz/x86/x86_runner.h"

namespace orrery::tests::x86fuzz {

/// Instruction-set extensions, to select what a runner supports.
enum class Ext : uint8_t {
  Base,
  X87,
  Sse,
  Sse2,
  Sse3,
  Ssse3,
  Sse41,
  Sse42,
  Bmi1,
  Bmi2,
  Adx,
  Avx,
  Avx2,
  Fma,
  Count_
};
constexpr uint32_t ext_bit(Ext e) {
  return 1u << unsigned(e);
}
constexpr uint32_t kAllExts = (1u << unsigned(Ext::Count_)) - 1;
constexpr uint32_t kVexExts = ext_bit(Ext::Avx) | ext_bit(Ext::Avx2) | ext_bit(Ext::Fma);
const char* ext_name(Ext e);

/// The reserved registers: R15 holds the data page address, RSP the stack; no template
/// writes either.
constexpr unsigned kDataBaseReg = 15;

struct Snippet {
  std::vector<uint8_t> code;
  std::vector<uint16_t> rows;  // template row of each instruction (for reports)
  uint16_t rflags_undef = 0;   // arithmetic flags left undefined at the end
  uint16_t fsw_undef = 0;      // x87 condition codes left undefined at the end
  /// After each top-level instruction: its end offset and the masks at that point, so a
  /// snippet that faults part-way is compared with the masks of what actually ran.
  struct Mark {
    uint32_t end;
    uint16_t rflags_undef, fsw_undef;
  };
  std::vector<Mark> marks;
  /// The masks for a run that stopped (faulted) at code offset `at`: everything undefined up
  /// to and including the instruction there (conservative inside forward-branch bodies).
  void masks_at(uint64_t at, uint16_t& rflags, uint16_t& fsw) const;
};

class X86Gen {
 public:
  /// Rows of the extensions in `exts`, minus those whose name starts with one of
  /// `skip_rows` (for a runner that cannot execute them at all).
  X86Gen(uint64_t seed, uint32_t exts, std::span<const char* const> skip_rows = {});
  /// A random initial state: GPRs with interesting values, R15 and RSP set, random vector and
  /// x87 registers, MXCSR and FCW rounding modes, data page with integers and floats.
  X86UserState random_state();
  /// A snippet of `length` template instructions (plus the few helpers they need).
  Snippet random_snippet(unsigned length);

  /// A snippet of one instruction of `row` (plus its helpers; a Jcc row's body is random).
  Snippet row_snippet(uint16_t row);

  static const char* row_name(uint16_t row);
  /// Rows that must raise #UD (opcodes invalid in 64-bit mode).
  static bool row_is_invalid(uint16_t row);
  static Ext row_ext(uint16_t row);
  static size_t num_rows();
  /// Whether lockable rows with a memory destination sometimes get a LOCK prefix (default on).
  void set_lock_prefixes(bool on) { lock_ = on; }
  /// Whether an eighth of initial states unmask some MXCSR exceptions (default off: Orrery and
  /// Unicorn differ from silicon there, see README.md).
  void set_unmask_mxcsr(bool on) { unmask_mxcsr_ = on; }
  /// Whether initial states set EFLAGS.AC (the runners keep CR0.AM on), so that misaligned
  /// memory operands raise #AC (default off; x86-diff --align-check).
  void set_align_check(bool on) { align_check_ = on; }
  /// Whether vector, x87 and other extension memory operands are sometimes misaligned (default
  /// off: aligned to 32 bytes; x86-diff --misalign-vec): #GP(0) for legacy-SSE forms that
  /// demand 16-byte alignment, #AC under --align-check.
  void set_misalign_vectors(bool on) { misalign_vec_ = on; }

 private:
  uint64_t rand(uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng_); }
  std::mt19937_64 rng_;
  std::vector<bool> row_ok_;
  bool any_base_ = false;
  bool lock_ = true;
  bool unmask_mxcsr_ = false;
  bool align_check_ = false;
  bool misalign_vec_ = false;
};

}  // namespace orrery::tests::x86fuzz
