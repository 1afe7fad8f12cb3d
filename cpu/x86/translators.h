// Declarations of every translator named by insn_table.inc (the table is the one list).
#pragma once

#include <optional>

#include "cpu/x86/translate.h"

namespace orrery::cpu::x86 {

#define X86_INSN(mnemonic, form, fn) bool fn(TranslateContext& t);
#include "cpu/x86/insn_table.inc"
#undef X86_INSN

/// Atomic read-modify-write operations (translate_int.cpp).
enum AtomicOp : uint64_t { kAtAdd, kAtAnd, kAtOr, kAtXor, kAtXchg, kAtCmpxchg, kAtNeg };
/// A locked read-modify-write of memory operand i: returns the old value (of v's width).
tcg::ir::Value atomic_rmw(TranslateContext& t, unsigned i, AtomicOp op, tcg::ir::Value v);
/// The same at a linear address.
tcg::ir::Value atomic_rmw_at(TranslateContext& t, tcg::ir::Value addr, AtomicOp op,
                             tcg::ir::Value v);

/// MASKMOVQ, MASKMOVDQU, VMASKMOVDQU after their checks (translate_avx.cpp): the bytes of vector
/// register `data` (0-15, or kVexSrcTmp) whose byte in `mask` has its top bit set go to the
/// hidden memory operand (DS:rDI, segment override allowed) one at a time.
bool emit_maskmov_bytes(TranslateContext& t, unsigned data, unsigned mask);

/// SSE floating point as IR vector rows (translate_sse_fp.cpp): the row of this instruction
/// when the block may use one (MXCSR control 0x1f80, tb_flags::kMxcsrDefault), else nullopt.
std::optional<tcg::ir::VecOp> sse_fp_vec_op(const TranslateContext& t);
/// xmm[dst] = op(xmm[dst], b) with immediate imm (CMPxx), ORing the raised flags into MXCSR;
/// (U)COMISS/SD set ZF PF CF (OF SF AF clear) instead.
void emit_sse_fp_vec(TranslateContext& t, tcg::ir::VecOp op, unsigned dst, tcg::ir::Value b,
                     unsigned imm);
/// CVT(T)SS2SI/CVT(T)SD2SI and their VEX forms to r32/r64 as an IR row (translate_sse_fp.cpp),
/// under the same condition as sse_fp_vec_op.
std::optional<tcg::ir::VecOp> sse_fp_to_int_op(const TranslateContext& t);
/// gpr[dst_gpr] = op(src) (src: the XMM register or the zero-extended memory operand), ORing
/// the raised flags into MXCSR.
void emit_sse_fp_to_int(TranslateContext& t, tcg::ir::VecOp op, tcg::ir::Value src,
                        unsigned dst_gpr);
/// The VEX.128/VEX.256 forms of the SSE FP rows, VCVTSI2SS/SD and V(U)COMISS/SD as IR rows
/// (translate_sse_fp.cpp), after the VEX checks: false when not one of them (helper call).
bool try_avx_fp_op(TranslateContext& t);
/// Operand i (vector register or 16/32-byte memory) of a VEX instruction as a vector value of
/// `bits` (translate_avx_vec.cpp: the one place that loads VEX vector memory operands).
tcg::ir::Value avx_vec_source(TranslateContext& t, unsigned i, unsigned bits);
/// Whether operand i is an xmm or ymm register, and its number (translate_avx_vec.cpp).
bool avx_is_vreg(const TranslateContext& t, unsigned i);
unsigned avx_vreg_num(const TranslateContext& t, unsigned i);
/// Writes a VEX result to register r; a 128-bit one zeroes bits 255:128 (VEX.128).
void avx_set_vec(TranslateContext& t, unsigned r, tcg::ir::Value v);
/// The VEX forms of the SSE2 ops with an IR vector operation (translate_avx_vec.cpp), after the
/// VEX checks: false when the instruction is not one of them (it stays a helper call).
bool try_avx_vec_op(TranslateContext& t);
/// A 16- or 32-byte VEX memory operand i as one VecLoad (I128 or I256), with the aligned
/// moves' #GP(0) and the guest's #AC (translate_avx.cpp).
tcg::ir::Value vex_vec_load(TranslateContext& t, unsigned i);
/// VMOVDQA ymm/xmm, ymm/xmm and the like: a vector copy of `bits` (128 zeroes bits 255:128).
void avx_vec_move(TranslateContext& t, unsigned dst, unsigned src, unsigned bits);
/// The IR vector operation of a legacy SSE mnemonic (kVecForms, translate_sse.cpp).
bool sse_vec_form(unsigned mnemonic, tcg::ir::VecOp& op);

}  // namespace orrery::cpu::x86
