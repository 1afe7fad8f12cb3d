// Scalar floating point: arithmetic, fused multiply-add, compares, selects, immediates, rounding
// and every conversion between FP formats, integers and fixed point. Anything that can raise an
// FP exception or depends on FPCR calls a helper in fp.cpp (which accumulates FPSR); sign
// manipulation (FABS, FNEG, the negations of FNMUL/FMSUB/FNM*) and selects stay in IR.
// Half precision (ftype 3) is FEAT_FP16 except for FCVT between precisions, which ARMv8.0 has:
// half_ok() rejects the rest as unallocated on CPU models without FEAT_FP16.
#include <optional>

#include "cpu/arm64/fp.h"
#include "cpu/arm64/translate.h"

namespace orrery::cpu::arm64 {

using tcg::ir::Type;
using tcg::ir::Value;

namespace {

/// The ftype field: 0 single, 1 double, 3 half; 2 is reserved.
std::optional<fp::Prec> fp_type(u32 type) {
  switch (type) {
    case 0:
      return fp::kS;
    case 1:
      return fp::kD;
    case 3:
      return fp::kH;
    default:
      return std::nullopt;
  }
}

uint64_t sign_bit(fp::Prec p) {
  return 1ull << ((8u << p) - 1);
}

/// VFPExpandImm: the 8-bit FMOV immediate as a value of the given precision.
uint64_t vfp_expand_imm(fp::Prec p, uint64_t imm8) {
  const unsigned e = p == fp::kH ? 5 : p == fp::kS ? 8 : 11;
  const unsigned f = (8u << p) - e - 1;
  const uint64_t sign = (imm8 >> 7) & 1, b6 = (imm8 >> 6) & 1;
  uint64_t exp = (b6 ^ 1) << (e - 1);
  if (b6) exp |= ((1ull << (e - 3)) - 1) << 2;
  exp |= (imm8 >> 4) & 3;
  const uint64_t frac = (imm8 & 15) << (f - 4);
  return sign << (e + f) | exp << f | frac;
}

}  // namespace

const tcg::ir::Helper& Translator::fp_fma_helper(unsigned prec) {
  return prec == fp::kH   ? fp::kHelperFpFmaH
         : prec == fp::kS ? fp::kHelperFpFmaS
                          : fp::kHelperFpFmaD;
}

bool Translator::fp_access_check() {
  // The CPACR_EL1.FPEN check (EC 0x07 trap) of the exception model; every FP/SIMD translator
  // calls this before emitting anything, so it is wired in this one place.
  return fp_enabled_or_trap();
}

Value Translator::read_fp(unsigned r, unsigned prec) {
  Value lo = e_.get_reg(Type::I64, off_vlo(r));
  if (prec == 3) return lo;
  return e_.zext(Type::I64, e_.trunc(prec == 2 ? Type::I32 : prec == 1 ? Type::I16 : Type::I8, lo));
}

void Translator::write_fp(unsigned r, Value v) {
  write_vreg(r, v, Value{});
}

void Translator::set_nzcv_from(Value nibble) {
  for (unsigned i = 0; i < 4; ++i) {
    static constexpr uint32_t kOff[4] = {kOffV, kOffC, kOffZ, kOffN};
    set_flag(kOff[i], e_.trunc(Type::I1, e_.extract_u(nibble, i, 1)));
  }
}

Value Translator::fp_call(const tcg::ir::Helper& h, Value a, Value b, uint64_t desc) {
  return e_.call(h, {a, b, e_.c64(desc)});
}

// ---- Data processing ----

bool Translator::FP_1src(u32 type, u32 opc, u32 n, u32 d) {
  auto p = fp_type(type);
  if (!p) return unallocated();
  if (!fp_access_check()) return true;
  if (opc >= 4 && opc <= 7) {  // FCVT between precisions
    unsigned to = opc & 3;
    if (to == 2 || to == type) return unallocated();
    static constexpr fp::UnOp kTo[4] = {fp::UnOp::CvtToS, fp::UnOp::CvtToD, fp::UnOp::CvtToS,
                                        fp::UnOp::CvtToH};
    write_fp(d, e_.call(fp::kHelperFpUnop, {read_fp(n, *p), e_.c64(fp::un_desc(kTo[to], *p)),
                                            e_.c64(0)}));
    return true;
  }
  if (!half_ok(*p)) return unallocated();
  Value a = read_fp(n, *p);
  switch (opc) {
    case 1:  // FABS
      write_fp(d, e_.and_(a, e_.c64(~sign_bit(*p))));
      return true;
    case 2:  // FNEG
      write_fp(d, e_.xor_(a, e_.c64(sign_bit(*p))));
      return true;
    case 3:
      write_fp(d, e_.call(fp::kHelperFpUnop,
                          {a, e_.c64(fp::un_desc(fp::UnOp::Sqrt, *p)), e_.c64(0)}));
      return true;
    case 8:
    case 9:
    case 10:
    case 11:
    case 12:
    case 14:
    case 15: {
      static constexpr fp::RMode kMode[8] = {fp::kRN, fp::kRP, fp::kRM, fp::kRZ,
                                             fp::kRA, fp::kRN, fp::kRFpcr, fp::kRFpcr};
      const fp::UnOp op = opc == 14 ? fp::UnOp::RoundIntExact : fp::UnOp::RoundInt;
      write_fp(d, e_.call(fp::kHelperFpUnop,
                          {a, e_.c64(fp::un_desc(op, *p, kMode[opc - 8])), e_.c64(0)}));
      return true;
    }
    default:
      return unallocated();
  }
}

bool Translator::FP_2src(u32 type, u32 m, u32 opc, u32 n, u32 d) {
  auto p = fp_type(type);
  if (!p || opc > 8 || !half_ok(*p)) return unallocated();
  if (!fp_access_check()) return true;
  static constexpr fp::BinOp kOps[9] = {fp::BinOp::Mul,   fp::BinOp::Div,   fp::BinOp::Add,
                                        fp::BinOp::Sub,   fp::BinOp::Max,   fp::BinOp::Min,
                                        fp::BinOp::MaxNm, fp::BinOp::MinNm, fp::BinOp::Mul};
  Value r = fp_call(fp::kHelperFpBinop, read_fp(n, *p), read_fp(m, *p), fp::bin_desc(kOps[opc], *p));
  if (opc == 8) r = e_.xor_(r, e_.c64(sign_bit(*p)));  // FNMUL negates the rounded product
  write_fp(d, r);
  return true;
}

bool Translator::FP_3src(u32 type, u32 o1, u32 m, u32 o0, u32 a, u32 n, u32 d) {
  auto p = fp_type(type);
  if (!p || !half_ok(*p)) return unallocated();
  if (!fp_access_check()) return true;
  // FMADD a+n*m, FMSUB a-n*m, FNMADD -a-n*m, FNMSUB -a+n*m; the negations are FPNeg of the
  // inputs (so a NaN operand comes out with its sign flipped, as on hardware).
  Value va = read_fp(a, *p), vn = read_fp(n, *p), vm = read_fp(m, *p);
  if (o1) va = e_.xor_(va, e_.c64(sign_bit(*p)));
  if (o0 != o1) vn = e_.xor_(vn, e_.c64(sign_bit(*p)));
  write_fp(d, e_.call(fp_fma_helper(*p), {va, vn, vm}));
  return true;
}

bool Translator::FMOV_imm(u32 type, u32 imm8, u32 d) {
  auto p = fp_type(type);
  if (!p || !half_ok(*p)) return unallocated();
  if (!fp_access_check()) return true;
  write_fp(d, e_.c64(vfp_expand_imm(*p, imm8)));
  return true;
}

// ---- Compares and selects ----

bool Translator::FCMP(u32 type, u32 m, u32 n, u32 opc) {
  auto p = fp_type(type);
  if (!p || !half_ok(*p)) return unallocated();
  if (!fp_access_check()) return true;
  Value b = (opc & 1) ? e_.c64(0) : read_fp(m, *p);  // opc bit 0: compare with +0.0
  set_nzcv_from(fp_call(fp::kHelperFpCmp, read_fp(n, *p), b, fp::cmp_desc(*p, opc & 2)));
  return true;
}

bool Translator::FCCMP(u32 type, u32 m, u32 cond, u32 n, u32 op, u32 nzcv) {
  auto p = fp_type(type);
  if (!p || !half_ok(*p)) return unallocated();
  if (!fp_access_check()) return true;
  // The compare (and its exceptions) happens only when cond holds: otherwise compare +0 with +0,
  // which raises nothing, and take the immediate flags.
  Value c = cond_holds(cond);
  Value zero = e_.c64(0);
  Value a = e_.select(c, read_fp(n, *p), zero), b = e_.select(c, read_fp(m, *p), zero);
  Value r = fp_call(fp::kHelperFpCmp, a, b, fp::cmp_desc(*p, op));
  set_nzcv_from(e_.select(c, r, e_.c64(nzcv)));
  return true;
}

bool Translator::FCSEL(u32 type, u32 m, u32 cond, u32 n, u32 d) {
  auto p = fp_type(type);
  if (!p || !half_ok(*p)) return unallocated();
  if (!fp_access_check()) return true;
  write_fp(d, e_.select(cond_holds(cond), read_fp(n, *p), read_fp(m, *p)));
  return true;
}

// ---- Conversions to and from integers ----

bool Translator::fp_int_convert(bool sf, unsigned prec, int kind, bool is_signed, unsigned rmode,
                                unsigned fbits, u32 n, u32 d) {
  const fp::Prec p = fp::Prec(prec);
  const fp::RMode rm = fp::RMode(rmode);
  if (!half_ok(p)) return unallocated();
  if (!fp_access_check()) return true;
  if (kind == 0) {  // FP -> integer
    Value r = e_.call(fp::kHelperFpToInt,
                      {read_fp(n, p), e_.c64(fp::to_int_desc(p, rm, is_signed, sf, fbits)),
                       e_.c64(0)});
    set_x(d, sf ? r : e_.trunc(Type::I32, r));
  } else {  // integer -> FP
    Value x = e_.zext(Type::I64, get_x(n, sf));
    write_fp(d, e_.call(fp::kHelperIntToFp,
                        {x, e_.c64(fp::from_int_desc(p, is_signed, sf, fbits)), e_.c64(0)}));
  }
  return true;
}

bool Translator::FCVT_int(u32 sf, u32 type, u32 rmode, u32 opc, u32 n, u32 d) {
  auto p = fp_type(type);
  if (!p) return unallocated();
  static constexpr fp::RMode kModes[4] = {fp::kRN, fp::kRP, fp::kRM, fp::kRZ};
  if (opc <= 1) return fp_int_convert(sf, *p, 0, opc == 0, kModes[rmode], 0, n, d);
  if (rmode != 0) return unallocated();
  if (opc <= 3) return fp_int_convert(sf, *p, 1, opc == 2, fp::kRFpcr, 0, n, d);
  if (opc <= 5) return fp_int_convert(sf, *p, 0, opc == 4, fp::kRA, 0, n, d);
  return unallocated();  // opc 6/7 are FMOV (decoded earlier)
}

bool Translator::FCVT_fixed(u32 sf, u32 type, u32 rmode, u32 opc, u32 scale, u32 n, u32 d) {
  auto p = fp_type(type);
  if (!p || (!sf && scale < 32)) return unallocated();
  const unsigned fbits = 64 - scale;
  if (rmode == 3 && opc <= 1) return fp_int_convert(sf, *p, 0, opc == 0, fp::kRZ, fbits, n, d);
  if (rmode == 0 && (opc == 2 || opc == 3))
    return fp_int_convert(sf, *p, 1, opc == 2, fp::kRFpcr, fbits, n, d);
  return unallocated();
}

}  // namespace orrery::cpu::arm64
