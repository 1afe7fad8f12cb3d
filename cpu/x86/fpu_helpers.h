// x87 helpers: every arithmetic x87 instruction runs as the host's own x87 instruction (the
// host's long double is the guest's 80-bit format) with the guest's precision and rounding
// control loaded into the host FPU around it, so results, C0..C3 and the exception flags are
// those of real silicon. Stack overflow/underflow, tags, TOP and the unmasked-exception
// bookkeeping (ES, B; #MF at the next waiting instruction) are done here.
#pragma once

#include <cstdint>

#include "cpu/x86/state.h"
#include "tcg/ir/helpers.h"

namespace orrery::cpu::x86 {

namespace x87 {
/// Memory operand kinds in the packed argument.
enum MemKind : unsigned { kNone, kInt16, kInt32, kInt64, kF32, kF64, kF80, kBcd };
constexpr unsigned kDstShift = 16, kSrcShift = 20, kMemShift = 24;
// Stores: compute the stored bytes 0..7 / 8..9 without changing the FPU (then a call without
// either bit commits: flags, pop).
constexpr uint64_t kPhaseLo = 1ull << 28, kPhaseHi = 1ull << 29;
inline uint64_t pack(unsigned mnemonic, unsigned dst, unsigned src, MemKind mem) {
  return mnemonic | dst << kDstShift | src << kSrcShift | uint64_t(mem) << kMemShift;
}
constexpr uint16_t kIe = 1, kDe = 2, kZe = 4, kOe = 8, kUe = 16, kPe = 32, kSf = 64, kErrSum = 0x80;
constexpr uint16_t kC0 = 0x100, kC1 = 0x200, kC2 = 0x400, kC3 = 0x4000, kB = 0x8000;

/// FSW with TOP.
inline uint16_t status_word(const X87State& x) {
  return uint16_t((x.fsw & ~0x3800) | (x.top & 7) << 11);
}
/// The full (FNSTENV/FNSAVE) tag word from the abridged one and the register contents.
uint16_t full_tag_word(const X87State& x);
/// Image formats for the save/restore helpers.
enum Image : unsigned { kEnv16, kEnv32, kSave16, kSave32, kFxsave };
}  // namespace x87

/// fn(cpu, packed, mem_lo, mem_hi): one x87 instruction (x87::pack). Returns the value to store
/// for store forms, the flags for FCOMI/FUCOMI(P), otherwise 0.
extern const tcg::ir::Helper kHelperX87;
/// A trap helper: #MF for a pending unmasked x87 exception.
extern const tcg::ir::Helper kHelperX87Mf;
/// fn(cpu, image | 64-bit mode (16 XMMs) << 6 | REX.W layout << 7 | offset << 8): 8 bytes of
/// a save image at offset.
extern const tcg::ir::Helper kHelperFpImageRead;
/// fn(cpu, the same, bytes, mask): merges 8 image bytes at offset
/// (those selected by mask bits, one per byte) into the state.
extern const tcg::ir::Helper kHelperFpImageWrite;

/// XSAVE/XSAVEOPT/XSAVEC (x87, SSE, AVX; RFBM = XCR0 & EDX:EAX): fn(cpu, offset << 8 | flags
/// (as above; bit 3: compacted), old qword) -> the qword to store at offset (0..831).
extern const tcg::ir::Helper kHelperXsaveRead;
/// XRSTOR: fn(cpu, offset << 8 | flags, qword, XSTATE_BV) restores one qword's worth.
extern const tcg::ir::Helper kHelperXrstorWrite;
/// XRSTOR's header/MXCSR check: fn(cpu, XSTATE_BV, XCOMP_BV, reserved_nonzero | MXCSR << 32)
/// is nonzero for #GP.
extern const tcg::ir::Helper kHelperXrstorCheck;

}  // namespace orrery::cpu::x86
