// The A64 translator: one visitor method per decode.inc row (arguments are the row's fields in
// order of first appearance), emitting IR for one guest instruction. The methods are defined in
// translate_<group>.cpp by ISA group; translate.cpp holds the shared register, flag and condition
// helpers. A method returns false for an unallocated or unimplemented encoding *before* it has
// emitted anything that matters (the caller also rolls back what it emitted).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "cpu/arm64/state.h"
#include "hw/core/log.h"
#include "tcg/ir/emitter.h"

namespace orrery::cpu::arm64 {

using u32 = uint32_t;
struct SysReg;

/// An instruction field's value, sign-extended from its `bits` bits.
constexpr int64_t sext(uint64_t v, unsigned bits) {
  return int64_t(v << (64 - bits)) >> (64 - bits);
}

class Translator {
 public:
  Translator(tcg::ir::Emitter& e, uint64_t tb_flags);

  /// Sets the instruction about to be visited.
  void begin(uint64_t pc, uint32_t insn) {
    pc_ = pc;
    insn_ = insn;
    why_.clear();
    why_undefined_ = false;
  }
  /// True once the current instruction ended the block (it set the terminal).
  bool ended() const { return ended_; }
  /// Why the last rejected instruction was rejected (empty: unallocated encoding).
  const std::string& why() const { return why_; }
  /// The last rejection is an UNDEFINED encoding that why() names for -d unimp (an unknown
  /// system register), not an unimplemented one.
  bool why_is_undefined() const { return why_undefined_; }

  // ---- Data processing (immediate): translate_dp_imm.cpp ----
  bool ADR(u32 immlo, u32 immhi, u32 d);
  bool ADRP(u32 immlo, u32 immhi, u32 d);
  bool ADD_imm(u32 sf, u32 sh, u32 imm12, u32 n, u32 d);
  bool ADDS_imm(u32 sf, u32 sh, u32 imm12, u32 n, u32 d);
  bool SUB_imm(u32 sf, u32 sh, u32 imm12, u32 n, u32 d);
  bool SUBS_imm(u32 sf, u32 sh, u32 imm12, u32 n, u32 d);
  bool AND_imm(u32 sf, u32 N, u32 immr, u32 imms, u32 n, u32 d);
  bool ORR_imm(u32 sf, u32 N, u32 immr, u32 imms, u32 n, u32 d);
  bool EOR_imm(u32 sf, u32 N, u32 immr, u32 imms, u32 n, u32 d);
  bool ANDS_imm(u32 sf, u32 N, u32 immr, u32 imms, u32 n, u32 d);
  bool MOVN(u32 sf, u32 hw, u32 imm16, u32 d);
  bool MOVZ(u32 sf, u32 hw, u32 imm16, u32 d);
  bool MOVK(u32 sf, u32 hw, u32 imm16, u32 d);
  bool SBFM(u32 sf, u32 N, u32 immr, u32 imms, u32 n, u32 d);
  bool BFM(u32 sf, u32 N, u32 immr, u32 imms, u32 n, u32 d);
  bool UBFM(u32 sf, u32 N, u32 immr, u32 imms, u32 n, u32 d);
  bool EXTR(u32 sf, u32 N, u32 m, u32 imms, u32 n, u32 d);

  // ---- Branches and exception generation: translate_branch.cpp ----
  bool B(u32 imm26);
  bool BL(u32 imm26);
  bool CBZ(u32 sf, u32 imm19, u32 t);
  bool CBNZ(u32 sf, u32 imm19, u32 t);
  bool TBZ(u32 bit, u32 imm14, u32 t);
  bool TBNZ(u32 bit, u32 imm14, u32 t);
  bool B_cond(u32 imm19, u32 cond);
  bool BR(u32 n);
  bool BLR(u32 n);
  bool RET(u32 n);
  bool SVC(u32 imm16);
  bool HVC(u32 imm16);
  bool BRK(u32 imm16);
  bool ERET();

  // ---- System: translate_system.cpp ----
  bool HINT(u32 crm, u32 op2);
  bool CLREX();
  bool DSB(u32 crm);
  bool DMB(u32 crm);
  bool ISB();
  bool MSR_imm(u32 op1, u32 crm, u32 op2);
  bool SYS(u32 op1, u32 crn, u32 crm, u32 op2, u32 t);
  bool MSR_reg(u32 sysreg, u32 t);
  bool MRS(u32 sysreg, u32 t);

  // ---- Data processing (register): translate_dp_reg.cpp ----
  bool AND_shift(u32 sf, u32 shift, u32 m, u32 imm6, u32 n, u32 d);
  bool BIC_shift(u32 sf, u32 shift, u32 m, u32 imm6, u32 n, u32 d);
  bool ORR_shift(u32 sf, u32 shift, u32 m, u32 imm6, u32 n, u32 d);
  bool ORN_shift(u32 sf, u32 shift, u32 m, u32 imm6, u32 n, u32 d);
  bool EOR_shift(u32 sf, u32 shift, u32 m, u32 imm6, u32 n, u32 d);
  bool EON_shift(u32 sf, u32 shift, u32 m, u32 imm6, u32 n, u32 d);
  bool ANDS_shift(u32 sf, u32 shift, u32 m, u32 imm6, u32 n, u32 d);
  bool BICS_shift(u32 sf, u32 shift, u32 m, u32 imm6, u32 n, u32 d);
  bool ADD_shift(u32 sf, u32 shift, u32 m, u32 imm6, u32 n, u32 d);
  bool ADDS_shift(u32 sf, u32 shift, u32 m, u32 imm6, u32 n, u32 d);
  bool SUB_shift(u32 sf, u32 shift, u32 m, u32 imm6, u32 n, u32 d);
  bool SUBS_shift(u32 sf, u32 shift, u32 m, u32 imm6, u32 n, u32 d);
  bool ADD_ext(u32 sf, u32 m, u32 option, u32 imm3, u32 n, u32 d);
  bool ADDS_ext(u32 sf, u32 m, u32 option, u32 imm3, u32 n, u32 d);
  bool SUB_ext(u32 sf, u32 m, u32 option, u32 imm3, u32 n, u32 d);
  bool SUBS_ext(u32 sf, u32 m, u32 option, u32 imm3, u32 n, u32 d);
  bool ADC(u32 sf, u32 m, u32 n, u32 d);
  bool ADCS(u32 sf, u32 m, u32 n, u32 d);
  bool SBC(u32 sf, u32 m, u32 n, u32 d);
  bool SBCS(u32 sf, u32 m, u32 n, u32 d);
  bool CCMN_reg(u32 sf, u32 m, u32 cond, u32 n, u32 nzcv);
  bool CCMP_reg(u32 sf, u32 m, u32 cond, u32 n, u32 nzcv);
  bool CCMN_imm(u32 sf, u32 imm5, u32 cond, u32 n, u32 nzcv);
  bool CCMP_imm(u32 sf, u32 imm5, u32 cond, u32 n, u32 nzcv);
  bool CSEL(u32 sf, u32 m, u32 cond, u32 n, u32 d);
  bool CSINC(u32 sf, u32 m, u32 cond, u32 n, u32 d);
  bool CSINV(u32 sf, u32 m, u32 cond, u32 n, u32 d);
  bool CSNEG(u32 sf, u32 m, u32 cond, u32 n, u32 d);
  bool UDIV(u32 sf, u32 m, u32 n, u32 d);
  bool SDIV(u32 sf, u32 m, u32 n, u32 d);
  bool LSLV(u32 sf, u32 m, u32 n, u32 d);
  bool LSRV(u32 sf, u32 m, u32 n, u32 d);
  bool ASRV(u32 sf, u32 m, u32 n, u32 d);
  bool RORV(u32 sf, u32 m, u32 n, u32 d);
  bool CRC32(u32 sf, u32 m, u32 sz, u32 n, u32 d);
  bool CRC32C(u32 sf, u32 m, u32 sz, u32 n, u32 d);
  bool RBIT(u32 sf, u32 n, u32 d);
  bool REV16(u32 sf, u32 n, u32 d);
  bool REV_w(u32 n, u32 d);
  bool REV32(u32 n, u32 d);
  bool REV_x(u32 n, u32 d);
  bool CLZ(u32 sf, u32 n, u32 d);
  bool CLS(u32 sf, u32 n, u32 d);
  bool MADD(u32 sf, u32 m, u32 a, u32 n, u32 d);
  bool MSUB(u32 sf, u32 m, u32 a, u32 n, u32 d);
  bool SMADDL(u32 m, u32 a, u32 n, u32 d);
  bool SMSUBL(u32 m, u32 a, u32 n, u32 d);
  bool SMULH(u32 m, u32 n, u32 d);
  bool UMADDL(u32 m, u32 a, u32 n, u32 d);
  bool UMSUBL(u32 m, u32 a, u32 n, u32 d);
  bool UMULH(u32 m, u32 n, u32 d);

  // ---- Loads and stores: translate_ldst.cpp ----
  bool STXR(u32 size, u32 s, u32 n, u32 t);
  bool STLXR(u32 size, u32 s, u32 n, u32 t);
  bool LDXR(u32 size, u32 n, u32 t);
  bool LDAXR(u32 size, u32 n, u32 t);
  bool STXP(u32 sz, u32 s, u32 t2, u32 n, u32 t);
  bool STLXP(u32 sz, u32 s, u32 t2, u32 n, u32 t);
  bool LDXP(u32 sz, u32 t2, u32 n, u32 t);
  bool LDAXP(u32 sz, u32 t2, u32 n, u32 t);
  bool STLR(u32 size, u32 n, u32 t);
  bool LDAR(u32 size, u32 n, u32 t);
  bool LDR_lit(u32 sf, u32 imm19, u32 t);
  bool LDRSW_lit(u32 imm19, u32 t);
  bool PRFM_lit(u32 imm19, u32 t);
  bool LDR_lit_fp(u32 opc, u32 imm19, u32 t);
  bool LDSTP(u32 sf, u32 mode, u32 L, u32 imm7, u32 t2, u32 n, u32 t);
  bool LDPSW(u32 mode, u32 imm7, u32 t2, u32 n, u32 t);
  bool LDSTP_fp(u32 opc, u32 mode, u32 L, u32 imm7, u32 t2, u32 n, u32 t);
  bool PRFM_imm(u32 imm12, u32 n, u32 t);
  bool PRFM_reg(u32 m, u32 option, u32 S, u32 n, u32 t);
  bool PRFUM(u32 imm9, u32 n, u32 t);
  bool LDST_uimm(u32 size, u32 opc, u32 imm12, u32 n, u32 t);
  bool LDST_unscaled(u32 size, u32 opc, u32 imm9, u32 n, u32 t);
  bool LDST_post(u32 size, u32 opc, u32 imm9, u32 n, u32 t);
  bool LDST_unpriv(u32 size, u32 opc, u32 imm9, u32 n, u32 t);
  bool LDST_pre(u32 size, u32 opc, u32 imm9, u32 n, u32 t);
  bool LDST_reg(u32 size, u32 opc, u32 m, u32 option, u32 S, u32 n, u32 t);
  bool LDST_uimm_fp(u32 size, u32 opc, u32 imm12, u32 n, u32 t);
  bool LDST_unscaled_fp(u32 size, u32 opc, u32 imm9, u32 n, u32 t);
  bool LDST_post_fp(u32 size, u32 opc, u32 imm9, u32 n, u32 t);
  bool LDST_pre_fp(u32 size, u32 opc, u32 imm9, u32 n, u32 t);
  bool LDST_reg_fp(u32 size, u32 opc, u32 m, u32 option, u32 S, u32 n, u32 t);

  // ---- SIMD and FP data movement: translate_simd.cpp ----
  bool FMOV_gen(u32 sf, u32 type, u32 rmode, u32 to_fp, u32 n, u32 d);
  bool FMOV_reg(u32 type, u32 n, u32 d);
  bool MOVI(u32 Q, u32 op, u32 imm8, u32 cmode, u32 o2, u32 d);
  bool DUP_elem(u32 Q, u32 imm5, u32 n, u32 d);
  bool DUP_gen(u32 Q, u32 imm5, u32 n, u32 d);
  bool INS_gen(u32 imm5, u32 n, u32 d);
  bool SMOV(u32 Q, u32 imm5, u32 n, u32 d);
  bool UMOV(u32 Q, u32 imm5, u32 n, u32 d);
  bool INS_elem(u32 imm5, u32 imm4, u32 n, u32 d);
  bool AND_vec(u32 Q, u32 m, u32 n, u32 d);
  bool BIC_vec(u32 Q, u32 m, u32 n, u32 d);
  bool ORR_vec(u32 Q, u32 m, u32 n, u32 d);
  bool ORN_vec(u32 Q, u32 m, u32 n, u32 d);
  bool EOR_vec(u32 Q, u32 m, u32 n, u32 d);
  bool BSL_vec(u32 Q, u32 m, u32 n, u32 d);
  bool BIT_vec(u32 Q, u32 m, u32 n, u32 d);
  bool BIF_vec(u32 Q, u32 m, u32 n, u32 d);

  // ---- Integer SIMD: translate_simd_int.cpp ----
  bool ADD_vec(u32 Q, u32 size, u32 m, u32 n, u32 d);
  bool SUB_vec(u32 Q, u32 size, u32 m, u32 n, u32 d);
  bool MUL_vec(u32 Q, u32 size, u32 m, u32 n, u32 d);
  bool MLA_vec(u32 Q, u32 size, u32 m, u32 n, u32 d);
  bool MLS_vec(u32 Q, u32 size, u32 m, u32 n, u32 d);
  bool CNT(u32 Q, u32 n, u32 d);
  bool XTN(u32 Q, u32 size, u32 n, u32 d);
  bool ADDV(u32 Q, u32 size, u32 n, u32 d);
  bool UADDLV(u32 Q, u32 size, u32 n, u32 d);
  bool UZP1(u32 Q, u32 size, u32 m, u32 n, u32 d);
  bool TRN1(u32 Q, u32 size, u32 m, u32 n, u32 d);
  bool ZIP1(u32 Q, u32 size, u32 m, u32 n, u32 d);
  bool UZP2(u32 Q, u32 size, u32 m, u32 n, u32 d);
  bool TRN2(u32 Q, u32 size, u32 m, u32 n, u32 d);
  bool ZIP2(u32 Q, u32 size, u32 m, u32 n, u32 d);
  bool SSHR(u32 Q, u32 immhb, u32 n, u32 d);
  bool USHR(u32 Q, u32 immhb, u32 n, u32 d);
  bool SHL(u32 Q, u32 immhb, u32 n, u32 d);
  bool SHRN(u32 Q, u32 immhb, u32 n, u32 d);
  bool SSHLL(u32 Q, u32 immhb, u32 n, u32 d);
  bool USHLL(u32 Q, u32 immhb, u32 n, u32 d);

  // ---- FP/SIMD: translate_fp.cpp (scalar FP), translate_simd_ext.cpp (integer groups),
  // translate_simd_fp.cpp (vector FP), translate_simd_ldst.cpp (structure loads/stores) ----
  bool FP_1src(u32 type, u32 opc, u32 n, u32 d);
  bool FP_2src(u32 type, u32 m, u32 opc, u32 n, u32 d);
  bool FP_3src(u32 type, u32 o1, u32 m, u32 o0, u32 a, u32 n, u32 d);
  bool FMOV_imm(u32 type, u32 imm8, u32 d);
  bool FCMP(u32 type, u32 m, u32 n, u32 opc);
  bool FCCMP(u32 type, u32 m, u32 cond, u32 n, u32 op, u32 nzcv);
  bool FCSEL(u32 type, u32 m, u32 cond, u32 n, u32 d);
  bool FCVT_int(u32 sf, u32 type, u32 rmode, u32 opc, u32 n, u32 d);
  bool FCVT_fixed(u32 sf, u32 type, u32 rmode, u32 opc, u32 scale, u32 n, u32 d);
  bool SIMD_3same(u32 Q, u32 U, u32 size, u32 m, u32 opc, u32 n, u32 d);
  bool SIMD_2misc(u32 Q, u32 U, u32 size, u32 opc, u32 n, u32 d);
  bool SIMD_across(u32 Q, u32 U, u32 size, u32 opc, u32 n, u32 d);
  bool SIMD_3diff(u32 Q, u32 U, u32 size, u32 m, u32 opc, u32 n, u32 d);
  bool EXT(u32 Q, u32 m, u32 imm4, u32 n, u32 d);
  bool TBL(u32 Q, u32 m, u32 len, u32 op, u32 n, u32 d);
  bool DUP_scalar(u32 imm5, u32 n, u32 d);
  bool SIMD_shift_imm(u32 Q, u32 U, u32 immhb, u32 opc, u32 n, u32 d);
  bool SIMD_scalar_3same(u32 U, u32 size, u32 m, u32 opc, u32 n, u32 d);
  bool SIMD_scalar_2misc(u32 U, u32 size, u32 opc, u32 n, u32 d);
  bool SIMD_scalar_shift_imm(u32 U, u32 immhb, u32 opc, u32 n, u32 d);
  bool LDST_multi(u32 Q, u32 L, u32 opc, u32 size, u32 n, u32 t);
  bool LDST_multi_post(u32 Q, u32 L, u32 m, u32 opc, u32 size, u32 n, u32 t);
  bool LDST_single(u32 Q, u32 L, u32 R, u32 opc, u32 S, u32 size, u32 n, u32 t);
  bool LDST_single_post(u32 Q, u32 L, u32 R, u32 m, u32 opc, u32 S, u32 size, u32 n, u32 t);

  // ---- Saturating and by-element SIMD: translate_simd_sat.cpp ----
  bool SIMD_3same_extra(u32 Q, u32 U, u32 size, u32 m, u32 opc, u32 n, u32 d);
  bool SIMD_scalar_3same_extra(u32 U, u32 size, u32 m, u32 opc, u32 n, u32 d);
  bool SIMD_scalar_3diff(u32 U, u32 size, u32 m, u32 opc, u32 n, u32 d);
  bool SIMD_elem(u32 Q, u32 U, u32 size, u32 L, u32 M, u32 m, u32 opc, u32 H, u32 n, u32 d);
  bool SIMD_scalar_elem(u32 U, u32 size, u32 L, u32 M, u32 m, u32 opc, u32 H, u32 n, u32 d);
  bool SIMD_scalar_pairwise(u32 U, u32 size, u32 opc, u32 n, u32 d);

  // ---- Cryptographic extension and SHA-3: translate_simd_crypto.cpp ----
  bool CRYPTO_AES(u32 size, u32 opc, u32 n, u32 d);
  bool CRYPTO_SHA_3reg(u32 size, u32 m, u32 opc, u32 n, u32 d);
  bool CRYPTO_SHA_2reg(u32 size, u32 opc, u32 n, u32 d);
  bool CRYPTO_SHA512_3reg(u32 m, u32 opc, u32 n, u32 d);
  bool CRYPTO_SHA512_2reg(u32 opc, u32 n, u32 d);
  bool CRYPTO_4reg(u32 op0, u32 m, u32 a, u32 n, u32 d);
  bool XAR(u32 m, u32 imm6, u32 n, u32 d);
  bool CRYPTO_SM3TT(u32 m, u32 imm2, u32 opc, u32 n, u32 d);
  bool SIMD_3same_fp16(u32 Q, u32 U, u32 a, u32 m, u32 opc, u32 n, u32 d);
  bool SIMD_scalar_3same_fp16(u32 U, u32 a, u32 m, u32 opc, u32 n, u32 d);
  bool SIMD_2misc_fp16(u32 Q, u32 U, u32 a, u32 opc, u32 n, u32 d);
  bool SIMD_scalar_2misc_fp16(u32 U, u32 a, u32 opc, u32 n, u32 d);

  // ---- Memory Tagging Extension: translate_mte.cpp ----
  bool IRG(u32 m, u32 n, u32 d);
  bool GMI(u32 m, u32 n, u32 d);
  bool SUBP(u32 S, u32 m, u32 n, u32 d);
  bool ADDG(u32 sub, u32 uimm6, u32 uimm4, u32 n, u32 d);
  bool LDST_tag(u32 opc, u32 imm9, u32 op2, u32 n, u32 t);
  bool STGP(u32 mode, u32 imm7, u32 t2, u32 n, u32 t);
  /// ID_AA64PFR1_EL1: MTE (11:8) decides which MTE instructions and registers exist.
  void set_id_pfr1(uint64_t pfr1) { mte_ = unsigned(pfr1 >> 8) & 0xf; }

  /// The ID register that gates optional instructions (the CPU model's ID_AA64ISAR0_EL1).
  /// Until set, every optional instruction is accepted.
  void set_id_isar0(uint64_t isar0) { isar0_ = isar0; }
  /// ID_AA64PFR0_EL1: FP == 1 means FEAT_FP16 (half-precision data processing).
  void set_id_pfr0(uint64_t pfr0) { fp16_ = ((pfr0 >> 16) & 0xf) == 1; }

 private:
  struct Vec;
  /// The FP access check every FP/SIMD translator makes before emitting anything (false: the
  /// trap was emitted, return true at once). Delegates to fp_enabled_or_trap.
  bool fp_access_check();
  /// The low 8 << prec bits of Vr (prec: log2 bytes), zero-extended to I64.
  tcg::ir::Value read_fp(unsigned r, unsigned prec);
  /// Writes a scalar FP result (I64, already masked) to Vr, clearing the rest.
  void write_fp(unsigned r, tcg::ir::Value v);
  void set_nzcv_from(tcg::ir::Value nibble);
  tcg::ir::Value fp_call(const tcg::ir::Helper& h, tcg::ir::Value a, tcg::ir::Value b, uint64_t desc);
  bool fp_int_convert(bool sf, unsigned prec, int kind, bool is_signed, unsigned rm,
                      unsigned fbits, u32 n, u32 d);
  tcg::ir::Value lane_at(const Vec& v, unsigned esize, unsigned i, bool sign);
  tcg::ir::Value lane_wide(const Vec& v, unsigned esize, unsigned i, bool sign);
  void put_lane(Vec& v, unsigned esize, unsigned i, tcg::ir::Value x);
  void or_qc(tcg::ir::Value sat);
  void write_narrow(unsigned d, tcg::ir::Value r, bool part);
  bool simd_int_3same(u32 Q, u32 U, u32 size, u32 m, u32 opc, u32 n, u32 d, bool scalar);
  bool simd_int_2misc(u32 Q, u32 U, u32 size, u32 opc, u32 n, u32 d, bool scalar);
  bool simd_shift_imm(u32 Q, u32 U, u32 immhb, u32 opc, u32 n, u32 d, bool scalar);
  // half: the FP16 groups (size holds a:0; 16-bit lanes).
  bool simd_fp_3same(u32 Q, u32 U, u32 size, u32 m, u32 opc, u32 n, u32 d, bool scalar,
                     bool half = false);
  bool simd_fp_2misc(u32 Q, u32 U, u32 size, u32 opc, u32 n, u32 d, bool scalar, bool half = false);
  bool simd_fp_fixed(u32 Q, u32 U, u32 immhb, u32 opc, u32 n, u32 d, bool scalar);
  /// FMAXV/FMINV/FMAXNMV/FMINNMV (translate_simd_v82.cpp).
  bool simd_fp_across(u32 Q, u32 U, u32 size, u32 opc, u32 n, u32 d);
  /// SDOT/UDOT: index < 0 for the vector form, else the 32-bit element of Vm (by element).
  bool dot_product(u32 Q, u32 U, u32 m, u32 n, u32 d, int index);
  bool simd_dot(u32 Q, u32 U, u32 size, u32 m, u32 n, u32 d);
  bool ldst_multi(u32 Q, u32 L, u32 m, u32 opc, u32 size, u32 n, u32 t, bool post);
  bool ldst_single(u32 Q, u32 L, u32 R, u32 m, u32 opc, u32 S, u32 size, u32 n, u32 t,
                   bool post);
  /// ID_AA64ISAR0_EL1's 4-bit field at bit `shift`.
  unsigned isar0_field(unsigned shift) const { return unsigned(isar0_ >> shift) & 0xf; }
  /// False for half precision (fp::kH == 1) without FEAT_FP16.
  bool half_ok(unsigned prec) const { return prec != 1 || fp16_; }
  /// The fused multiply-add helper for a precision.
  static const tcg::ir::Helper& fp_fma_helper(unsigned prec);
  bool crypto_op(int op, u32 d, u32 n, u32 m, u32 a = 0, u32 imm = 0);
  /// FRECPE/FRSQRTE/URECPE/URSQRTE/FRECPX and FRECPS/FRSQRTS (translate_simd_est.cpp).
  bool simd_fp_estimate(u32 Q, u32 U, u32 size, u32 opc, u32 n, u32 d, bool scalar,
                        bool half = false);
  bool simd_fp_step(u32 Q, u32 size, u32 m, u32 n, u32 d, bool scalar, bool half = false);
  /// Emits the saturating-operation helper call described by the encoded SatDesc.
  bool sat_op(uint64_t desc);
  /// The saturating opcodes of the integer groups; nullopt when opc is not one of them.
  std::optional<bool> sat_3same(u32 Q, u32 U, u32 size, u32 m, u32 opc, u32 n, u32 d,
                                bool scalar);
  std::optional<bool> sat_2misc(u32 Q, u32 U, u32 size, u32 opc, u32 n, u32 d, bool scalar);
  std::optional<bool> sat_shift_imm(u32 Q, u32 U, u32 immhb, u32 opc, u32 n, u32 d,
                                    bool scalar);
  bool sat_3diff(u32 Q, u32 U, u32 size, u32 m, u32 opc, u32 n, u32 d, bool scalar);
  bool simd_elem(u32 Q, u32 U, u32 size, u32 L, u32 M, u32 m, u32 opc, u32 H, u32 n, u32 d,
                 bool scalar);

 public:

 private:
  using Value = tcg::ir::Value;
  using Type = tcg::ir::Type;

  // ---- translate.cpp: shared helpers ----
  static Type ty(bool sf) { return sf ? Type::I64 : Type::I32; }
  Value imm(bool sf, uint64_t v) { return e_.konst(ty(sf), v); }
  uint32_t sp_offset() const;
  /// Xn/Wn with register 31 reading as zero (XZR/WZR).
  Value get_x(unsigned r, bool sf);
  /// Xn/Wn with register 31 reading as the current SP.
  Value get_xsp(unsigned r, bool sf);
  /// Writes Xd (a W value is zero-extended); register 31 discards the write.
  void set_x(unsigned r, Value v);
  /// Writes Xd; register 31 is the current SP.
  void set_xsp(unsigned r, Value v);

  Value get_flag(uint32_t off) { return e_.get_reg(Type::I1, off); }
  void set_flag(uint32_t off, Value v) { e_.set_reg(off, v); }
  /// N and Z from a result.
  void set_nz(Value result);
  /// NZCV for a logical result: C and V clear.
  void set_flags_logic(Value result);
  /// a + b + carry_in, setting NZCV when set_flags; carry_in is I1.
  Value add_with_carry(Value a, Value b, Value carry_in, bool set_flags);
  /// a - b, setting NZCV when set_flags.
  Value sub_flags(Value a, Value b, bool set_flags);
  /// ConditionHolds(cond) as I1.
  Value cond_holds(unsigned cond);
  /// When NZCV still hold what the block's last flag-setting subtraction (CMP, SUBS) set,
  /// cond as one comparison of its operands (GT: a > b signed): the code generators branch
  /// on the host's compare instead of combining the flag bits. Else an invalid Value.
  Value cond_of_sub(unsigned cond);
  Value i1_not(Value a);
  Value i1_and(Value a, Value b);
  Value i1_eq(Value a, Value b);

  /// Rm shifted by a constant: shift 0 LSL, 1 LSR, 2 ASR, 3 ROR.
  Value shift_by(Value v, unsigned shift, unsigned amount);
  /// ExtendReg(m, option, shift) at width sf.
  Value extend_reg(unsigned m, unsigned option, unsigned shift, bool sf);

  tcg::ir::MemOp memop(unsigned size_log2, bool sign = false, bool align = false) const;
  tcg::ir::MemOp memop_unpriv(unsigned size_log2, bool sign) const;

  /// Ends the block at the next instruction with a plain jump.
  void end_at_next() { end_jump(pc_ + 4); }
  void end_jump(uint64_t target);
  void end_exit(tcg::ir::ExitReason r, uint64_t pc, uint64_t arg = 0);
  /// Rejects the instruction as implemented-but-not-yet (logged by -d unimp with the reason).
  bool unimplemented(std::string why);
  /// Rejects the instruction as unallocated (the frontend raises UNDEFINED in the guest).
  bool unallocated() { return false; }
  /// Rejects the instruction as UNDEFINED, logging why with -d unimp (unknown system registers).
  bool undefined_logged(std::string why) {
    why_ = std::move(why);
    why_undefined_ = true;
    return false;
  }

  // ---- Exceptions (translate.cpp) ----
  /// For every FP/SIMD instruction, before it emits anything: true when CPACR_EL1.FPEN lets the
  /// current EL use FP/SIMD. Otherwise it has emitted the FP access trap (EC 0x07) and ended the
  /// block, and the caller must return true at once:
  ///   if (!fp_enabled_or_trap()) return true;
  bool fp_enabled_or_trap();
  /// Emits a synchronous exception (ESR, preferred return address) and ends the block. Both
  /// addresses are PC-derived (PcRel): the return address, and the FAR when it is valid.
  void raise_exception(uint32_t esr, uint64_t return_pc, bool far_valid = false, uint64_t far = 0);
  /// Emits the EC 0x18 trap of an MSR/MRS/SYS with this encoding and ends the block.
  bool trap_sysreg(unsigned op0, unsigned op1, unsigned crn, unsigned crm, unsigned op2,
                   unsigned rt, bool read);
  /// The base register of a load/store: Xn, or SP checked for 16-byte alignment when
  /// SCTLR_EL1.SA/SA0 applies (once per block until SP is written).
  Value base_reg(unsigned n);

  // ---- group helpers ----
  bool add_sub_imm(bool sf, bool sub, bool set_flags, u32 sh, u32 imm12, u32 n, u32 d);
  bool logical_imm(bool sf, unsigned opc, u32 N, u32 immr, u32 imms, u32 n, u32 d);
  bool move_wide(bool sf, unsigned opc, u32 hw, u32 imm16, u32 d);
  bool bitfield(bool sf, unsigned opc, u32 N, u32 immr, u32 imms, u32 n, u32 d);
  bool logical_shift(bool sf, unsigned opc, bool invert, u32 shift, u32 m, u32 imm6, u32 n, u32 d);
  bool add_sub_shift(bool sf, bool sub, bool set_flags, u32 shift, u32 m, u32 imm6, u32 n, u32 d);
  bool add_sub_ext(bool sf, bool sub, bool set_flags, u32 m, u32 option, u32 imm3, u32 n, u32 d);
  bool adc_sbc(bool sf, bool sub, bool set_flags, u32 m, u32 n, u32 d);
  bool cond_compare(bool sf, bool sub, Value b, u32 cond, u32 n, u32 nzcv);
  bool cond_select(bool sf, bool invert, bool increment, u32 m, u32 cond, u32 n, u32 d);
  bool shift_var(bool sf, tcg::ir::Opcode op, u32 m, u32 n, u32 d);
  bool crc32(bool sf, bool castagnoli, u32 m, u32 sz, u32 n, u32 d);
  bool mul_long(bool sign, bool sub, u32 m, u32 a, u32 n, u32 d);

  bool branch_cond(Value cond, int64_t offset);
  bool exclusive_load(unsigned size_log2, bool pair, bool acquire, u32 t2, u32 n, u32 t);
  bool exclusive_store(unsigned size_log2, bool pair, bool release, u32 s, u32 t2, u32 n, u32 t);
  bool ldst_fp(unsigned size, unsigned opc, u32 t, Value addr);
  /// Applies an addressing mode: wb 0 none, 1 post-index, 2 pre-index.
  bool ldst_imm_gpr(u32 size, u32 opc, int64_t offset, u32 n, u32 t, int wb, bool unpriv = false);
  bool ldst_imm_fp(u32 size, u32 opc, int64_t offset, u32 n, u32 t, int wb);
  Value reg_offset_addr(u32 n, u32 m, u32 option, u32 S, unsigned scale);
  bool load_pair(unsigned scale, bool fp, bool sign32, u32 mode, u32 L, u32 imm7, u32 t2, u32 n,
                 u32 t);
  void write_vreg(unsigned r, Value lo, Value hi);  // hi invalid: zero
  Value read_velem(unsigned r, unsigned esize_log2, unsigned index);
  bool vec_logic(u32 Q, unsigned op, u32 m, u32 n, u32 d);
  struct Vec {
    Value h[2];  // bits 63:0 and 127:64, as I64
  };
  Vec read_vec(unsigned r);
  /// Writes a full register, or (q false) the low half with the high half zeroed.
  void write_vec(unsigned r, const Vec& v, bool q);
  Value get_lane(const Vec& v, unsigned esize, unsigned i);
  void set_lane(Vec& v, unsigned esize, unsigned i, Value x);
  bool vec_add_sub(u32 Q, u32 size, bool sub, u32 m, u32 n, u32 d);
  bool vec_mul(u32 Q, u32 size, int acc, u32 m, u32 n, u32 d);
  bool vec_permute(u32 Q, u32 size, unsigned op, u32 m, u32 n, u32 d);
  bool vec_shift_imm(u32 Q, u32 immhb, unsigned kind, u32 n, u32 d);
  bool sys_dc_ic_tlbi(u32 op1, u32 crn, u32 crm, u32 op2, u32 t);
  // MTE (translate_mte.cpp). mte_check emits the tag check of a load/store of `bytes` at addr
  // when the block checks and the access kind is checked (not SP-based with an immediate).
  void mte_check(Value addr, unsigned bytes, bool write, bool checked, bool unpriv = false);
  bool mte_msr_tco(u32 crm);
  bool mte_dc(u32 op1, u32 crm, u32 op2, u32 t, bool& handled);
  bool mte_sysreg(uint32_t key, u32 t, bool read, bool& handled);
  bool sysreg_unlisted(uint32_t key, u32 t, bool read);
  bool sysreg_el0_check(const SysReg& r, uint32_t key, u32 t, bool read, bool& handled);

  tcg::ir::Emitter& e_;
  uint64_t flags_;  // tb_flags of the block
  unsigned el_;
  bool spsel_;
  bool sp_checked_ = false;  // SP's alignment was checked and SP not written since
  // The block's last flag-setting subtraction: its operands, and the IR index just past the
  // SetReg of its V (flags written after it, or a call that may write them, end its use).
  struct FlagsSub {
    Value a, b;
    size_t end = 0;
    bool valid = false;
  } flags_sub_;
  uint64_t pc_ = 0;
  uint32_t insn_ = 0;
  bool ended_ = false;
  std::string why_;
  bool why_undefined_ = false;
  uint64_t isar0_ = ~0ull;
  bool fp16_ = true;
  unsigned mte_ = 0;  // ID_AA64PFR1_EL1.MTE
};

}  // namespace orrery::cpu::arm64
