// One comparison of two x86 architectural states, shared by everything that runs the same code
// on two engines and must say where they part: the lockstep verify mode (-accel verify,
// cpu/x86/verify.h) and the differential fuzzer (tests/fuzz/x86). Both reduce their states to
// ArchState, compare with diff_arch_states under their own masks and print with the functions
// below, so a difference reads the same wherever it was found.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cpu/x86/state.h"

namespace orrery::cpu::x86 {

struct ArchFloat80 {
  uint64_t mantissa = 0;
  uint16_t sign_exp = 0;
};

/// What two engines must agree on after the same code. The system part (segments, control
/// registers, descriptor tables) is compared only when both states have it (the fuzzer's user
/// states do not).
struct ArchState {
  uint64_t gpr[kNumGprs] = {};
  uint64_t rip = 0;
  uint64_t rflags = 0x2;  // materialized (no lazy flags)
  uint16_t fcw = 0x37f;
  uint16_t fsw = 0;   // with TOP in bits 11..13
  uint8_t ftw = 0;    // abridged, by physical register
  ArchFloat80 st[8];  // ST(0)..ST(7)
  uint32_t mxcsr = 0x1f80;
  uint64_t ymm[16][4] = {};

  bool has_system = false;
  SegmentCache seg[kNumSegs];
  DescriptorTableReg gdtr, idtr;
  uint64_t cr0 = 0, cr2 = 0, cr3 = 0, cr4 = 0, cr8 = 0, efer = 0, xcr0 = 0;
};

/// The state of a TCG vCPU (RIP = linear PC - CS.base, EFLAGS from the lazy flags).
ArchState arch_state_of(const X86State& s);

/// Which bits count.
struct CompareMasks {
  uint64_t rflags = ~0ull;
  uint16_t fsw = 0xffff;
};

enum class FieldKind : uint8_t { Rip, Gpr, Rflags, Fcw, Fsw, Ftw, St, Mxcsr, Ymm, System };

/// One differing field. For St, a/b are the significands and a_hi/b_hi the sign and exponent;
/// for Ymm, index is register * 4 + quadword; for masked fields, mask says which bits counted
/// (a and b are already masked).
struct FieldDiff {
  FieldKind kind;
  unsigned index = 0;
  std::string name;
  uint64_t a = 0, b = 0;
  uint64_t a_hi = 0, b_hi = 0;
  uint64_t mask = ~0ull;
};

std::vector<FieldDiff> diff_arch_states(const ArchState& a, const ArchState& b,
                                        const CompareMasks& masks = {});

/// "  rax: oracle 0x1 target 0x2" (a_name, b_name name the two sides), one line.
std::string format_field_diff(const FieldDiff& d, std::string_view a_name, std::string_view b_name);

/// Both states in full, one register a line, each line of a differing field marked with '*'.
std::string format_arch_states(const ArchState& a, const ArchState& b, std::string_view a_name,
                               std::string_view b_name, const CompareMasks& masks = {});

/// "0x..." in lower-case hex.
std::string hex64(uint64_t v);

/// Copies everything architectural (and the run loop's interrupt bookkeeping), not the
/// per-CPU bookkeeping of CpuCommon or the owner: to run one state on a second CPU, or to put a
/// CPU back where it was. Call X86Cpu::mode_changed() on d's CPU after.
void copy_arch_state(X86State& d, const X86State& s);

}  // namespace orrery::cpu::x86
