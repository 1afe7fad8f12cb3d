// SSE..SSE4.2, AES-NI, PCLMULQDQ and SHA on the state's XMM registers: one runtime helper per
// instruction (the first version; vector IR is the later goal). The arithmetic is the host's
// own SSE with MXCSR loaded from the guest's around each operation, so rounding, exception
// flags, DAZ/FTZ and NaN propagation are those of real silicon.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <optional>
#include <span>

#include "cpu/x86/state.h"
#include "tcg/ir/helpers.h"

namespace orrery::cpu::x86 {

/// The packed first argument of the SIMD helpers.
namespace simd {
constexpr unsigned kDstShift = 16, kSrcShift = 24, kImmShift = 32, kVvvvShift = 48;
constexpr uint64_t kSrcMem = 1ull << 40;  // the source is memory/GPR/imm data in args b, c
constexpr uint64_t kWide = 1ull << 41;    // a 64-bit GPR operand (CVTSI2SS, CVTSS2SI, ...)
constexpr uint64_t kMmx = 1ull << 42;     // the register operands are MMX registers
constexpr uint64_t kDst256 =
    1ull << 43;                         // VEX: the destination is a YMM register (else 255:128 = 0)
constexpr uint64_t kVexL = 1ull << 44;  // VEX.L: 256-bit sources
constexpr uint64_t kImmForm = 1ull << 45;  // VEX: the last operand is an immediate (VPERMILPS/PD)
constexpr uint64_t kFault = 1ull << 63;    // in a result: an unmasked SIMD FP exception
inline uint64_t pack(unsigned mnemonic, unsigned dst, unsigned src, unsigned imm) {
  return mnemonic | uint64_t(dst) << kDstShift | uint64_t(src) << kSrcShift |
         uint64_t(imm & 0xff) << kImmShift;
}
}  // namespace simd

/// xmm[dst] = op(xmm[dst], src): fn(cpu, packed, src_lo, src_hi). Returns kFault (the
/// destination unchanged, MXCSR flags set), or for COMIS*/PTEST/PCMP*STR* the EFLAGS
/// arithmetic bits.
extern const tcg::ir::Helper kHelperSseOp;
/// The same for operations that neither read MXCSR nor raise SIMD FP exceptions (integer,
/// logic, shuffles, AES...): no MXCSR swap, never a fault; returns 0.
extern const tcg::ir::Helper kHelperSseIntOp;
/// GPR results (CVT*2SI, MOVMSK*, PMOVMSKB, CRC32): fn(cpu, packed, src_lo, src_hi) writes
/// gpr[dst] (32-bit results zero-extended) and returns kFault or 0.
extern const tcg::ir::Helper kHelperSseGpr;
/// Pure: CRC32C of v (bytes 1, 2, 4, 8) into crc: fn(cpu, crc, v, bytes).
extern const tcg::ir::Helper kHelperCrc32;
/// mm[dst] = op(mm[dst], src) for the MMX forms: fn(cpu, packed, src_lo, 0); also enters MMX
/// mode (TOP = 0, every tag valid, the written register's exponent all ones).
extern const tcg::ir::Helper kHelperMmxOp;
/// A trap helper: raises #XM (CR4.OSXMMEXCPT) or #UD for an unmasked SIMD FP exception.
extern const tcg::ir::Helper kHelperSimdFault;

/// VEX (AVX, AVX2, FMA, F16C, VEX-encoded SSE..AES): ymm[dst] = op(ymm[vvvv], ymm[src]) with
/// the register numbers and flags packed as above (16 and 17 are X86State::vex_tmp);
/// fn(cpu, packed, 0, 0). Returns kFault, or the EFLAGS bits (VPTEST, VTESTPS, VCOMISS...) or
/// a mask (VMOVMSKPS, VPMOVMSKB) in aux.
extern const tcg::ir::Helper kHelperAvxOp;
/// VMASKMOV/VPMASKMOV loads and stores and the AVX2 gathers, which touch memory element by
/// element: fn(cpu, packed, linear address (masked moves) or base + displacement (gathers),
/// insn_pc). See simd_avx.cpp for the packing.
extern const tcg::ir::Helper kHelperAvxMem;

/// The legacy mnemonic of a VEX one (VADDPS -> ADDPS), or ZYDIS_MNEMONIC_INVALID (0).
unsigned legacy_mnemonic(unsigned vex_mnemonic);

/// Runs f with the host MXCSR holding the guest's control bits (all exceptions masked, flags
/// clear); returns the exception flags it raised. With UM = 0 FTZ is forced on: then UE marks
/// every tiny result, exact ones included, as silicon's unmasked underflow does (FTZ changes
/// only tiny results, which then fault and are not written). The barriers keep the compiler
/// from moving the arithmetic across the MXCSR writes.
template <class F>
unsigned with_guest_mxcsr(const X86State& s, F&& f) {
  const unsigned host = _mm_getcsr();
  const unsigned ftz = s.mxcsr & (mxcsr_bits::kUe << mxcsr_bits::kMaskShift) ? 0 : mxcsr_bits::kFtz;
  _mm_setcsr((s.mxcsr & 0xffc0) | 0x1f80 | ftz);
  asm volatile("" ::: "memory");
  f();
  asm volatile("" ::: "memory");
  const unsigned flags = _mm_getcsr() & 0x3f;
  _mm_setcsr(host);
  return flags;
}

/// Merges raised flags into the guest MXCSR; true when one of them is unmasked (a fault).
/// (Out of line: an inline copy compiled for AVX in simd_avx.cpp could be the one linked.)
bool account_flags(X86State& s, unsigned flags);

/// True when a masked run raised an unmasked exception: then silicon's flags come from
/// simd_fp_lane_flags.
inline bool simd_fp_faulted(unsigned mxcsr, unsigned flags) {
  return flags & ~(mxcsr >> mxcsr_bits::kMaskShift) & 0x3f;
}

/// Silicon's MXCSR flags for an FP instruction whose masked run raised an unmasked exception
/// (simd_fp_faulted): the instruction redone lane by lane, step by step (simd_fp_lanes.cpp).
/// a, b, d as in kHelperAvxOp (legacy encodings: a = the destination, b = the source), bytes
/// 16 or 32 of each; nullopt for a mnemonic that raises neither.
std::optional<unsigned> simd_fp_lane_flags(const X86State& s, unsigned mnemonic,
                                           std::span<const uint8_t> a, std::span<const uint8_t> b,
                                           std::span<const uint8_t> d, unsigned bytes,
                                           unsigned imm);

/// The computation of one SSE instruction on 128-bit values: a is the first source (the
/// destination's old value in legacy encodings), b the second; imm its immediate; src_mem
/// whether b came from memory. Writes r (and `aux`: EFLAGS bits or a GPR result). Returns false
/// for a mnemonic it does not know. simd_ext_op covers SSSE3 and later (built for those hosts).
bool simd_base_op(X86State& s, unsigned mnemonic, __m128i a, __m128i b, unsigned imm, bool src_mem,
                  __m128i& r, uint64_t& aux);
bool simd_ext_op(X86State& s, unsigned mnemonic, __m128i a, __m128i b, unsigned imm, bool src_mem,
                 __m128i& r, uint64_t& aux);

}  // namespace orrery::cpu::x86
