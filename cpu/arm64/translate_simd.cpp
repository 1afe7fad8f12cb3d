// The SIMD&FP subset compiled bare-metal C needs to move data: FMOV (general and register),
// the modified-immediate moves (MOVI/MVNI/ORR/BIC/FMOV vector), DUP, INS, UMOV/SMOV and the
// bitwise vector operations. FP arithmetic comes with the FP issue. CPACR_EL1.FPEN traps are not
// modelled yet (no exception model).
#include "cpu/arm64/fp.h"
#include "cpu/arm64/translate.h"

namespace orrery::cpu::arm64 {

using tcg::ir::Type;
using tcg::ir::Value;

namespace {

uint64_t replicate(uint64_t v, unsigned esize) {
  uint64_t out = 0;
  for (unsigned pos = 0; pos < 64; pos += esize) out |= v << pos;
  return out;
}

/// AdvSIMDExpandImm(op, cmode, imm8).
uint64_t expand_simd_imm(unsigned op, unsigned cmode, uint64_t imm8) {
  switch (cmode >> 1) {
    case 0:
      return replicate(imm8, 32);
    case 1:
      return replicate(imm8 << 8, 32);
    case 2:
      return replicate(imm8 << 16, 32);
    case 3:
      return replicate(imm8 << 24, 32);
    case 4:
      return replicate(imm8, 16);
    case 5:
      return replicate(imm8 << 8, 16);
    case 6:  // MSL: shifting ones in
      return (cmode & 1) ? replicate((imm8 << 16) | 0xffff, 32) : replicate((imm8 << 8) | 0xff, 32);
    default:
      break;
  }
  const uint64_t a = (imm8 >> 7) & 1, b = (imm8 >> 6) & 1, cdefgh = imm8 & 0x3f;
  if (!(cmode & 1)) {
    if (!op) return replicate(imm8, 8);
    uint64_t out = 0;  // each bit of imm8 becomes a byte of ones or zeros
    for (unsigned i = 0; i < 8; ++i)
      if ((imm8 >> i) & 1) out |= 0xffull << (8 * i);
    return out;
  }
  if (!op) {  // FMOV (vector, single-precision)
    uint64_t imm32 = (a << 31) | ((b ^ 1) << 30) | ((b ? 0x1full : 0) << 25) | (cdefgh << 19);
    return replicate(imm32, 32);
  }
  // FMOV (vector, double-precision)
  return (a << 63) | ((b ^ 1) << 62) | ((b ? 0xffull : 0) << 54) | (cdefgh << 48);
}

/// Element size (log2 bytes) from the imm5 of DUP/INS/UMOV/SMOV; 4 when reserved.
unsigned imm5_size(u32 imm5) {
  for (unsigned s = 0; s < 4; ++s)
    if (imm5 & (1u << s)) return s;
  return 4;
}

constexpr uint64_t kReplicateMul[4] = {0x0101010101010101ull, 0x0001000100010001ull,
                                       0x0000000100000001ull, 1};

}  // namespace

Value Translator::read_velem(unsigned r, unsigned esize_log2, unsigned index) {
  unsigned bits = 8u << esize_log2;
  unsigned pos = index * bits;
  Value half = e_.get_reg(Type::I64, pos >= 64 ? off_vhi(r) : off_vlo(r));
  if (bits == 64) return half;
  return e_.extract_u(half, pos % 64, bits);
}

// ---- FMOV ----

bool Translator::FMOV_gen(u32 sf, u32 type, u32 rmode, u32 to_fp, u32 n, u32 d) {
  if (type == 3) {  // Wd/Xd <-> Hn (FEAT_FP16): the low 16 bits, zero-extended
    if (rmode != 0 || !half_ok(fp::kH)) return unallocated();
    if (!fp_access_check()) return true;
    if (to_fp)
      write_vreg(d, e_.zext(Type::I64, e_.trunc(Type::I16, get_x(n, true))), Value{});
    else
      set_x(d, e_.zext(Type::I64, e_.trunc(Type::I16, e_.get_reg(Type::I64, off_vlo(n)))));
    return true;
  }
  const bool valid = (!sf && type == 0 && rmode == 0) || (sf && type == 1 && rmode == 0) ||
                     (sf && type == 2 && rmode == 1);
  if (!valid) return unallocated();
  if (!fp_access_check()) return true;
  if (!sf && type == 0 && rmode == 0) {  // Wd <-> Sn
    if (to_fp)
      write_vreg(d, get_x(n, false), Value{});
    else
      set_x(d, e_.trunc(Type::I32, e_.get_reg(Type::I64, off_vlo(n))));
    return true;
  }
  if (sf && type == 1 && rmode == 0) {  // Xd <-> Dn
    if (to_fp)
      write_vreg(d, get_x(n, true), Value{});
    else
      set_x(d, e_.get_reg(Type::I64, off_vlo(n)));
    return true;
  }
  if (sf && type == 2 && rmode == 1) {  // Xd <-> Vn.D[1]; the low half is untouched
    if (to_fp)
      e_.set_reg(off_vhi(d), get_x(n, true));
    else
      set_x(d, e_.get_reg(Type::I64, off_vhi(n)));
    return true;
  }
  return unallocated();
}

bool Translator::FMOV_reg(u32 type, u32 n, u32 d) {
  if (type == 2 || (type == 3 && !half_ok(fp::kH))) return unallocated();
  if (!fp_access_check()) return true;
  Value lo = e_.get_reg(Type::I64, off_vlo(n));
  if (type == 0) lo = e_.zext(Type::I64, e_.trunc(Type::I32, lo));
  if (type == 3) lo = e_.zext(Type::I64, e_.trunc(Type::I16, lo));
  write_vreg(d, lo, Value{});
  return true;
}

// ---- Modified immediate ----

bool Translator::MOVI(u32 Q, u32 op, u32 imm8, u32 cmode, u32 o2, u32 d) {
  if (o2) {  // FMOV (vector, half-precision immediate), FEAT_FP16: VFPExpandImm for N = 16
    if (cmode != 15 || op || !half_ok(fp::kH)) return unallocated();
    if (!fp_access_check()) return true;
    const uint64_t b = (imm8 >> 6) & 1;
    const uint64_t imm16 =
        ((imm8 >> 7) & 1) << 15 | (b ^ 1) << 14 | (b ? 3ull : 0) << 12 | (imm8 & 0x3f) << 6;
    Value rep = e_.c64(replicate(imm16, 16));
    write_vreg(d, rep, Q ? rep : Value{});
    return true;
  }
  if (cmode == 15 && op && !Q) return unallocated();
  if (!fp_access_check()) return true;
  uint64_t k = expand_simd_imm(op, cmode, imm8);
  const bool orr_bic = cmode < 12 && (cmode & 1);
  const bool inverted = op && cmode < 14;  // MVNI, BIC
  Value halves[2];
  for (unsigned h = 0; h < (Q ? 2u : 1u); ++h) {
    if (!orr_bic) {
      halves[h] = e_.c64(inverted ? ~k : k);
    } else {
      Value cur = e_.get_reg(Type::I64, h ? off_vhi(d) : off_vlo(d));
      halves[h] = inverted ? e_.and_(cur, e_.c64(~k)) : e_.or_(cur, e_.c64(k));
    }
  }
  write_vreg(d, halves[0], halves[1]);
  return true;
}

// ---- Copy: DUP, INS, UMOV, SMOV ----

bool Translator::DUP_elem(u32 Q, u32 imm5, u32 n, u32 d) {
  unsigned size = imm5_size(imm5);
  if (size == 4 || (size == 3 && !Q)) return unallocated();
  if (!fp_access_check()) return true;
  Value elem = read_velem(n, size, imm5 >> (size + 1));
  Value rep = size == 3 ? elem : e_.mul(elem, e_.c64(kReplicateMul[size]));
  write_vreg(d, rep, Q ? rep : Value{});
  return true;
}

bool Translator::DUP_gen(u32 Q, u32 imm5, u32 n, u32 d) {
  unsigned size = imm5_size(imm5);
  if (size == 4 || (size == 3 && !Q)) return unallocated();
  if (!fp_access_check()) return true;
  Value x = get_x(n, true);
  Value rep = size == 3 ? x : e_.mul(e_.extract_u(x, 0, 8u << size), e_.c64(kReplicateMul[size]));
  write_vreg(d, rep, Q ? rep : Value{});
  return true;
}

bool Translator::INS_gen(u32 imm5, u32 n, u32 d) {
  unsigned size = imm5_size(imm5);
  if (size == 4) return unallocated();
  unsigned bits = 8u << size;
  unsigned pos = (imm5 >> (size + 1)) * bits;
  uint32_t off = pos >= 64 ? off_vhi(d) : off_vlo(d);
  if (!fp_access_check()) return true;
  Value x = get_x(n, true);
  e_.set_reg(off, bits == 64 ? x : e_.deposit(e_.get_reg(Type::I64, off), x, pos % 64, bits));
  return true;
}

bool Translator::INS_elem(u32 imm5, u32 imm4, u32 n, u32 d) {
  unsigned size = imm5_size(imm5);
  if (size == 4) return unallocated();
  unsigned bits = 8u << size;
  if (!fp_access_check()) return true;
  Value elem = read_velem(n, size, imm4 >> size);
  unsigned pos = (imm5 >> (size + 1)) * bits;
  uint32_t off = pos >= 64 ? off_vhi(d) : off_vlo(d);
  e_.set_reg(off, bits == 64 ? elem : e_.deposit(e_.get_reg(Type::I64, off), elem, pos % 64, bits));
  return true;
}

bool Translator::UMOV(u32 Q, u32 imm5, u32 n, u32 d) {
  unsigned size = imm5_size(imm5);
  if (size == 4 || (size == 3) != bool(Q)) return unallocated();  // only UMOV Xd, Vn.D[i]
  if (!fp_access_check()) return true;
  set_x(d, read_velem(n, size, imm5 >> (size + 1)));
  return true;
}

bool Translator::SMOV(u32 Q, u32 imm5, u32 n, u32 d) {
  unsigned size = imm5_size(imm5);
  if (size >= 3 || (size == 2 && !Q)) return unallocated();
  unsigned bits = 8u << size;
  unsigned pos = (imm5 >> (size + 1)) * bits;
  if (!fp_access_check()) return true;
  Value half = e_.get_reg(Type::I64, pos >= 64 ? off_vhi(n) : off_vlo(n));
  Value v = e_.extract_s(half, pos % 64, bits);
  set_x(d, Q ? v : e_.trunc(Type::I32, v));
  return true;
}

// ---- Bitwise vector operations ----

bool Translator::vec_logic(u32 Q, unsigned op, u32 m, u32 n, u32 d) {
  Value out[2];
  if (!fp_access_check()) return true;
  for (unsigned h = 0; h < (Q ? 2u : 1u); ++h) {
    Value vn = e_.get_reg(Type::I64, h ? off_vhi(n) : off_vlo(n));
    Value vm = e_.get_reg(Type::I64, h ? off_vhi(m) : off_vlo(m));
    Value r;
    switch (op) {
      case 0:
        r = e_.and_(vn, vm);
        break;
      case 1:
        r = e_.and_(vn, e_.not_(vm));
        break;
      case 2:
        r = e_.or_(vn, vm);
        break;
      case 3:
        r = e_.or_(vn, e_.not_(vm));
        break;
      case 4:
        r = e_.xor_(vn, vm);
        break;
      default: {
        Value vd = e_.get_reg(Type::I64, h ? off_vhi(d) : off_vlo(d));
        if (op == 5)  // BSL: Vd selects Vn (1) or Vm (0)
          r = e_.xor_(vm, e_.and_(e_.xor_(vm, vn), vd));
        else if (op == 6)  // BIT: insert Vn where Vm is 1
          r = e_.xor_(vd, e_.and_(e_.xor_(vd, vn), vm));
        else  // BIF: insert Vn where Vm is 0
          r = e_.xor_(vd, e_.and_(e_.xor_(vd, vn), e_.not_(vm)));
        break;
      }
    }
    out[h] = r;
  }
  write_vreg(d, out[0], out[1]);
  return true;
}

bool Translator::AND_vec(u32 Q, u32 m, u32 n, u32 d) {
  return vec_logic(Q, 0, m, n, d);
}
bool Translator::BIC_vec(u32 Q, u32 m, u32 n, u32 d) {
  return vec_logic(Q, 1, m, n, d);
}
bool Translator::ORR_vec(u32 Q, u32 m, u32 n, u32 d) {
  return vec_logic(Q, 2, m, n, d);
}
bool Translator::ORN_vec(u32 Q, u32 m, u32 n, u32 d) {
  return vec_logic(Q, 3, m, n, d);
}
bool Translator::EOR_vec(u32 Q, u32 m, u32 n, u32 d) {
  return vec_logic(Q, 4, m, n, d);
}
bool Translator::BSL_vec(u32 Q, u32 m, u32 n, u32 d) {
  return vec_logic(Q, 5, m, n, d);
}
bool Translator::BIT_vec(u32 Q, u32 m, u32 n, u32 d) {
  return vec_logic(Q, 6, m, n, d);
}
bool Translator::BIF_vec(u32 Q, u32 m, u32 n, u32 d) {
  return vec_logic(Q, 7, m, n, d);
}

}  // namespace orrery::cpu::arm64
