// Integer Advanced SIMD beyond what translate_simd_int.cpp covers: the generic "three same",
// "two-register misc", "across lanes", "three different" and "shift by immediate" groups
// (vector and scalar), EXT, TBL/TBX and DUP (scalar). Lanes are computed at their own width
// (I8..I64) so comparisons, saturation and overflow use plain IR ops; saturating operations OR
// FPSR.QC. The FP opcodes of these groups are forwarded to translate_simd_fp.cpp.
#include <bit>
#include <cstddef>
#include <string>

#include "cpu/arm64/crypto.h"
#include "cpu/arm64/fp.h"
#include "cpu/arm64/simd_helpers.h"
#include "cpu/arm64/translate.h"

namespace orrery::cpu::arm64 {

using tcg::ir::Cond;
using tcg::ir::Type;
using tcg::ir::Value;

namespace {

Type lane_type(unsigned esize) {
  return esize == 8 ? Type::I8 : esize == 16 ? Type::I16 : esize == 32 ? Type::I32 : Type::I64;
}

uint64_t lane_ones(unsigned esize) {
  return esize == 64 ? ~0ull : (1ull << esize) - 1;
}

}  // namespace

// ---- Shared lane helpers ----

Value Translator::lane_at(const Vec& v, unsigned esize, unsigned i, bool sign) {
  (void)sign;  // a lane at its own width carries no extension
  return e_.trunc(lane_type(esize), get_lane(v, esize, i));
}

Value Translator::lane_wide(const Vec& v, unsigned esize, unsigned i, bool sign) {
  unsigned pos = i * esize;
  Value h = v.h[pos / 64];
  if (esize == 64) return h;
  return sign ? e_.extract_s(h, pos % 64, esize) : e_.extract_u(h, pos % 64, esize);
}

void Translator::put_lane(Vec& v, unsigned esize, unsigned i, Value x) {
  set_lane(v, esize, i, e_.zext(Type::I64, x));
}

void Translator::or_qc(Value sat) {
  uint32_t off = offsetof(Arm64State, fpsr);
  Value f = e_.get_reg(Type::I64, off);
  e_.set_reg(off, e_.or_(f, e_.select(sat, e_.c64(fp::kFpsrQc), e_.c64(0))));
}

/// Writes the narrow result r (64 bits) to the low half of Vd, or with part to the high half
/// keeping the low half (the "2" forms).
void Translator::write_narrow(unsigned d, Value r, bool part) {
  if (part)
    write_vreg(d, e_.get_reg(Type::I64, off_vlo(d)), r);
  else
    write_vreg(d, r, Value{});
}

// ---- Three same ----

bool Translator::SIMD_3same(u32 Q, u32 U, u32 size, u32 m, u32 opc, u32 n, u32 d) {
  if (opc == 0x13 && U) {  // PMUL
    if (size != 0) return unallocated();
    return crypto_op(int(CryptoOp::Pmul8), d, n, m, 0, Q);
  }
  if (opc == 0x1f && !U) return simd_fp_step(Q, size, m, n, d, false);  // FRECPS/FRSQRTS
  if (opc >= 0x18) return simd_fp_3same(Q, U, size, m, opc, n, d, false);
  return simd_int_3same(Q, U, size, m, opc, n, d, false);
}

bool Translator::SIMD_scalar_3same(u32 U, u32 size, u32 m, u32 opc, u32 n, u32 d) {
  if (opc == 0x1f && !U) return simd_fp_step(0, size, m, n, d, true);  // FRECPS/FRSQRTS
  if (opc >= 0x18) return simd_fp_3same(0, U, size, m, opc, n, d, true);
  return simd_int_3same(0, U, size, m, opc, n, d, true);
}

bool Translator::simd_int_3same(u32 Q, u32 U, u32 size, u32 m, u32 opc, u32 n, u32 d,
                                bool scalar) {
  if (auto r = sat_3same(Q, U, size, m, opc, n, d, scalar)) return *r;
  const unsigned esize = 8u << size;
  const bool pairwise = opc == 0x14 || opc == 0x15 || opc == 0x17;
  switch (opc) {
    case 0x00: case 0x02: case 0x04:  // HADD, RHADD, HSUB
    case 0x0c: case 0x0d: case 0x0e: case 0x0f:  // MAX, MIN, ABD, ABA
    case 0x14: case 0x15:  // MAXP, MINP
      if (scalar || size == 3) return unallocated();
      break;
    case 0x17:  // ADDP
      if (scalar || U || (size == 3 && !Q)) return unallocated();
      break;
    case 0x01: case 0x05:  // QADD, QSUB
      if (!scalar && size == 3 && !Q) return unallocated();
      break;
    case 0x06: case 0x07: case 0x08: case 0x10: case 0x11:  // CMGT.., SSHL, ADD/SUB, CMTST/CMEQ
      if (scalar ? size != 3 : (size == 3 && !Q)) return unallocated();
      break;
    default:
      return unimplemented("Advanced SIMD three-same integer opcode " + std::to_string(opc));
  }
  if (!fp_access_check()) return true;
  const unsigned lanes = scalar ? 1 : (Q ? 128 : 64) / esize;
  const Type lt = lane_type(esize);
  const bool sign = !U;
  Vec a = read_vec(n), b = read_vec(m);
  Vec acc = opc == 0x0f ? read_vec(d) : Vec{};
  Vec out{{e_.c64(0), e_.c64(0)}};
  Value qc = e_.c1(false);
  Value ones = e_.konst(lt, lane_ones(esize)), zero = e_.konst(lt, 0);
  const uint64_t smax = lane_ones(esize) >> 1, smin = smax + 1;
  for (unsigned i = 0; i < lanes; ++i) {
    Value x, y;
    if (pairwise) {
      auto src = [&](unsigned k) {
        return k < lanes ? lane_at(a, esize, k, sign) : lane_at(b, esize, k - lanes, sign);
      };
      x = src(2 * i);
      y = src(2 * i + 1);
    } else {
      x = lane_at(a, esize, i, sign);
      y = lane_at(b, esize, i, sign);
    }
    Value r;
    switch (opc) {
      case 0x00: case 0x02: case 0x04: {  // in 64 bits: exact for lanes up to 32 bits
        Value wx = sign ? e_.sext(Type::I64, x) : e_.zext(Type::I64, x);
        Value wy = sign ? e_.sext(Type::I64, y) : e_.zext(Type::I64, y);
        Value s = opc == 0x04 ? e_.sub(wx, wy) : e_.add(wx, wy);
        if (opc == 0x02) s = e_.add(s, e_.c64(1));
        r = e_.trunc(lt, e_.ashr(s, e_.c64(1)));
        break;
      }
      case 0x01: case 0x05: {
        const bool sub = opc == 0x05;
        Value sum = sub ? e_.sub(x, y) : e_.add(x, y);
        Value sat, satv;
        if (U) {
          sat = sub ? e_.cmp(Cond::Ult, x, y) : e_.add_carry(x, y, e_.c1(false));
          satv = sub ? zero : ones;
        } else {
          sat = sub ? e_.add_ovf(x, e_.not_(y), e_.c1(true)) : e_.add_ovf(x, y, e_.c1(false));
          satv = e_.select(e_.cmp(Cond::Slt, x, zero), e_.konst(lt, smin), e_.konst(lt, smax));
        }
        r = e_.select(sat, satv, sum);
        qc = e_.or_(qc, sat);
        break;
      }
      case 0x06:
        r = e_.select(e_.cmp(U ? Cond::Ugt : Cond::Sgt, x, y), ones, zero);
        break;
      case 0x07:
        r = e_.select(e_.cmp(U ? Cond::Uge : Cond::Sge, x, y), ones, zero);
        break;
      case 0x11:
        r = e_.select(U ? e_.cmp(Cond::Eq, x, y) : e_.cmp(Cond::Ne, e_.and_(x, y), zero), ones, zero);
        break;
      case 0x10:
        r = U ? e_.sub(x, y) : e_.add(x, y);
        break;
      case 0x08: {  // SSHL/USHL: shift by the signed low byte of y, negative shifts right
        Value x64 = sign ? e_.sext(Type::I64, x) : e_.zext(Type::I64, x);
        Value sh = e_.extract_s(e_.zext(Type::I64, y), 0, 8);
        Value big = e_.c64(esize);
        Value left = e_.select(e_.cmp(Cond::Sge, sh, big), e_.c64(0), e_.shl(x64, sh));
        Value rs = e_.neg(sh);
        Value right = sign ? e_.ashr(x64, e_.select(e_.cmp(Cond::Sge, rs, big), e_.c64(63), rs))
                           : e_.select(e_.cmp(Cond::Sge, rs, big), e_.c64(0), e_.lshr(x64, rs));
        r = e_.trunc(lt, e_.select(e_.cmp(Cond::Sge, sh, e_.c64(0)), left, right));
        break;
      }
      case 0x0c: case 0x14:
        r = e_.select(e_.cmp(U ? Cond::Ugt : Cond::Sgt, x, y), x, y);
        break;
      case 0x0d: case 0x15:
        r = e_.select(e_.cmp(U ? Cond::Ult : Cond::Slt, x, y), x, y);
        break;
      case 0x0e: case 0x0f: {
        Value gt = e_.cmp(U ? Cond::Ugt : Cond::Sgt, x, y);
        r = e_.select(gt, e_.sub(x, y), e_.sub(y, x));
        if (opc == 0x0f) r = e_.add(r, lane_at(acc, esize, i, false));
        break;
      }
      default:  // 0x17 ADDP
        r = e_.add(x, y);
        break;
    }
    put_lane(out, esize, i, r);
  }
  if (opc == 0x01 || opc == 0x05) or_qc(qc);
  write_vec(d, out, Q && !scalar);
  return true;
}

// ---- Two-register miscellaneous ----

bool Translator::SIMD_2misc(u32 Q, u32 U, u32 size, u32 opc, u32 n, u32 d) {
  if (size >= 2 && (opc == 0x1c || opc == 0x1d))  // URECPE/URSQRTE, FRECPE/FRSQRTE
    return simd_fp_estimate(Q, U, size, opc, n, d, false);
  if ((opc >= 0x0c && opc <= 0x0f) || opc >= 0x16) return simd_fp_2misc(Q, U, size, opc, n, d, false);
  return simd_int_2misc(Q, U, size, opc, n, d, false);
}

bool Translator::SIMD_scalar_2misc(u32 U, u32 size, u32 opc, u32 n, u32 d) {
  if (size >= 2 && (opc == 0x1d || (opc == 0x1f && !U)))  // FRECPE/FRSQRTE, FRECPX
    return simd_fp_estimate(0, U, size, opc, n, d, true);
  if ((opc >= 0x0c && opc <= 0x0f) || opc >= 0x16) return simd_fp_2misc(0, U, size, opc, n, d, true);
  return simd_int_2misc(0, U, size, opc, n, d, true);
}

bool Translator::simd_int_2misc(u32 Q, u32 U, u32 size, u32 opc, u32 n, u32 d, bool scalar) {
  if (auto r = sat_2misc(Q, U, size, opc, n, d, scalar)) return *r;
  const unsigned esize = opc == 0x05 ? 8 : 8u << size;  // NOT and RBIT (size 1) work on bytes
  bool ok = true;
  switch (opc) {
    case 0x00: ok = !scalar && esize < (U ? 32u : 64u); break;  // REV64 / REV32
    case 0x01: ok = !scalar && !U && esize == 8; break;          // REV16
    case 0x02: case 0x06: ok = !scalar && size != 3; break;      // [SU]ADDLP, [SU]ADALP
    case 0x04: ok = !scalar && size != 3; break;                 // CLS/CLZ
    case 0x05: ok = !scalar && U && size <= 1; break;            // NOT, RBIT
    case 0x07: ok = scalar || !(size == 3 && !Q); break;         // SQABS/SQNEG
    case 0x08: case 0x09: case 0x0b:
      ok = scalar ? size == 3 : !(size == 3 && !Q);
      break;
    case 0x0a: ok = !U && (scalar ? size == 3 : !(size == 3 && !Q)); break;  // CMLT #0
    default:
      return unimplemented("Advanced SIMD two-register misc integer opcode " + std::to_string(opc));
  }
  if (!ok) return unallocated();
  if (!fp_access_check()) return true;
  Vec a = read_vec(n);
  Vec out{{e_.c64(0), e_.c64(0)}};
  const unsigned lanes = scalar ? 1 : (Q ? 128 : 64) / esize;
  const Type lt = lane_type(esize);
  Value ones = e_.konst(lt, lane_ones(esize)), zero = e_.konst(lt, 0);

  if (opc == 0x02 || opc == 0x06) {  // pairwise add long (and accumulate)
    Vec acc = opc == 0x06 ? read_vec(d) : out;
    for (unsigned i = 0; i < lanes / 2; ++i) {
      Value s = e_.add(lane_wide(a, esize, 2 * i, !U), lane_wide(a, esize, 2 * i + 1, !U));
      if (opc == 0x06) s = e_.add(s, get_lane(acc, 2 * esize, i));
      set_lane(out, 2 * esize, i, s);
    }
    write_vec(d, out, Q);
    return true;
  }
  Value qc = e_.c1(false);
  for (unsigned i = 0; i < lanes; ++i) {
    Value r;
    if (opc <= 0x01) {  // reverse elements within 64-, 32- or 16-bit containers
      const unsigned container = opc == 0x01 ? 16 : U ? 32 : 64;
      r = lane_at(a, esize, i ^ (container / esize - 1), false);
      put_lane(out, esize, i, r);
      continue;
    }
    Value x = lane_at(a, esize, i, true);
    switch (opc) {
      case 0x04:
        r = U ? e_.clz(x)
              : e_.sub(e_.clz(e_.xor_(x, e_.ashr(x, e_.konst(lt, esize - 1)))), e_.konst(lt, 1));
        break;
      case 0x05:
        r = size == 0 ? e_.not_(x) : e_.bitrev(x);  // RBIT: bit-reverse each byte
        break;
      case 0x07: {  // SQABS / SQNEG: only the most negative value saturates
        Value is_min = e_.cmp(Cond::Eq, x, e_.konst(lt, (lane_ones(esize) >> 1) + 1));
        Value v = U ? e_.neg(x) : e_.select(e_.cmp(Cond::Slt, x, zero), e_.neg(x), x);
        r = e_.select(is_min, e_.konst(lt, lane_ones(esize) >> 1), v);
        qc = e_.or_(qc, is_min);
        break;
      }
      case 0x08:
        r = e_.select(e_.cmp(U ? Cond::Sge : Cond::Sgt, x, zero), ones, zero);
        break;
      case 0x09:
        r = e_.select(e_.cmp(U ? Cond::Sle : Cond::Eq, x, zero), ones, zero);
        break;
      case 0x0a:
        r = e_.select(e_.cmp(Cond::Slt, x, zero), ones, zero);
        break;
      default:  // 0x0b ABS / NEG
        r = U ? e_.neg(x) : e_.select(e_.cmp(Cond::Slt, x, zero), e_.neg(x), x);
        break;
    }
    put_lane(out, esize, i, r);
  }
  if (opc == 0x07) or_qc(qc);
  write_vec(d, out, Q && !scalar);
  return true;
}

// ---- Across lanes ----

bool Translator::SIMD_across(u32 Q, u32 U, u32 size, u32 opc, u32 n, u32 d) {
  const unsigned esize = 8u << size;
  if (opc != 0x03 && opc != 0x0a && opc != 0x1a)
    return unimplemented("Advanced SIMD across-lanes opcode " + std::to_string(opc));
  if (size == 3 || (size == 2 && !Q)) return unallocated();
  if (!fp_access_check()) return true;
  const unsigned lanes = (Q ? 128 : 64) / esize;
  Vec a = read_vec(n);
  if (opc == 0x03) {  // SADDLV (UADDLV has its own row)
    Value s = lane_wide(a, esize, 0, !U);
    for (unsigned i = 1; i < lanes; ++i) s = e_.add(s, lane_wide(a, esize, i, !U));
    write_vreg(d, e_.and_(s, e_.c64(lane_ones(2 * esize))), Value{});
    return true;
  }
  const bool is_max = opc == 0x0a;
  Value r = lane_at(a, esize, 0, !U);
  for (unsigned i = 1; i < lanes; ++i) {
    Value x = lane_at(a, esize, i, !U);
    Cond c = is_max ? (U ? Cond::Ugt : Cond::Sgt) : (U ? Cond::Ult : Cond::Slt);
    r = e_.select(e_.cmp(c, x, r), x, r);
  }
  write_vreg(d, e_.zext(Type::I64, r), Value{});
  return true;
}

// ---- Three different ----

bool Translator::SIMD_3diff(u32 Q, u32 U, u32 size, u32 m, u32 opc, u32 n, u32 d) {
  if (opc == 14 && !U) {  // PMULL/PMULL2: 8-bit lanes always, 64-bit with FEAT_PMULL
    if (size == 0) return crypto_op(int(CryptoOp::Pmull8), d, n, m, 0, Q);
    if (size == 3 && isar0_field(4) >= 2) return crypto_op(int(CryptoOp::Pmull64), d, n, m, 0, Q);
    return unallocated();
  }
  if (opc == 9 || opc == 11 || opc == 13) return sat_3diff(Q, U, size, m, opc, n, d, false);
  static constexpr bool kImpl[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 0, 0, 0};
  if (!kImpl[opc]) return unimplemented("Advanced SIMD three-different opcode " + std::to_string(opc));
  if (size == 3) return unallocated();
  if (!fp_access_check()) return true;
  const unsigned esize = 8u << size, lanes = 64 / esize, base = Q ? lanes : 0;
  const bool sign = !U;
  Vec a = read_vec(n), b = read_vec(m), acc = read_vec(d);
  Vec out{{e_.c64(0), e_.c64(0)}};
  if (opc == 4 || opc == 6) {  // [R]ADDHN / [R]SUBHN: wide operands, high halves narrowed
    for (unsigned i = 0; i < lanes; ++i) {
      Value x = get_lane(a, 2 * esize, i), y = get_lane(b, 2 * esize, i);
      Value s = opc == 4 ? e_.add(x, y) : e_.sub(x, y);
      if (U) s = e_.add(s, e_.c64(1ull << (esize - 1)));  // the rounding forms
      set_lane(out, esize, i, e_.lshr(s, e_.c64(esize)));
    }
    write_narrow(d, out.h[0], Q);
    return true;
  }
  for (unsigned i = 0; i < lanes; ++i) {
    Value y = lane_wide(b, esize, base + i, sign);
    Value x = (opc == 1 || opc == 3) ? get_lane(a, 2 * esize, i) : lane_wide(a, esize, base + i, sign);
    Value r;
    switch (opc) {
      case 0: case 1: r = e_.add(x, y); break;
      case 2: case 3: r = e_.sub(x, y); break;
      case 5: case 7: {
        Value gt = e_.cmp(sign ? Cond::Sgt : Cond::Ugt, x, y);
        r = e_.select(gt, e_.sub(x, y), e_.sub(y, x));
        if (opc == 5) r = e_.add(r, get_lane(acc, 2 * esize, i));
        break;
      }
      case 8: r = e_.add(get_lane(acc, 2 * esize, i), e_.mul(x, y)); break;
      case 10: r = e_.sub(get_lane(acc, 2 * esize, i), e_.mul(x, y)); break;
      default: r = e_.mul(x, y); break;  // 12: MULL
    }
    set_lane(out, 2 * esize, i, 2 * esize == 64 ? r : e_.and_(r, e_.c64(lane_ones(2 * esize))));
  }
  write_vec(d, out, true);
  return true;
}

// ---- EXT, TBL/TBX, DUP (scalar) ----

bool Translator::EXT(u32 Q, u32 m, u32 imm4, u32 n, u32 d) {
  if (!Q && imm4 >= 8) return unallocated();
  if (!fp_access_check()) return true;
  Vec a = read_vec(n), b = read_vec(m);
  Value words[4] = {a.h[0], Q ? a.h[1] : b.h[0], b.h[0], b.h[1]};
  Vec out;
  for (unsigned j = 0; j < (Q ? 2u : 1u); ++j) {
    const unsigned bitpos = 8 * imm4 + 64 * j, w = bitpos / 64, sh = bitpos % 64;
    out.h[j] = sh == 0 ? words[w]
                       : e_.or_(e_.lshr(words[w], e_.c64(sh)), e_.shl(words[w + 1], e_.c64(64 - sh)));
  }
  write_vec(d, out, Q);
  return true;
}

bool Translator::TBL(u32 Q, u32 m, u32 len, u32 op, u32 n, u32 d) {
  if (!fp_access_check()) return true;
  // A helper reads the table registers and writes Vd directly (a byte-wise select chain over
  // up to 64 table bytes would be far larger than the loop).
  TblDesc desc{d, n, m, len + 1, bool(Q), bool(op)};
  e_.call(kHelperTbl, {e_.c64(desc.encode())});
  return true;
}

bool Translator::DUP_scalar(u32 imm5, u32 n, u32 d) {
  unsigned size = 0;
  while (size < 4 && !(imm5 & (1u << size))) ++size;
  if (size == 4) return unallocated();
  if (!fp_access_check()) return true;
  write_vreg(d, read_velem(n, size, imm5 >> (size + 1)), Value{});
  return true;
}

// ---- Shift by immediate (vector and scalar) ----

bool Translator::SIMD_shift_imm(u32 Q, u32 U, u32 immhb, u32 opc, u32 n, u32 d) {
  return simd_shift_imm(Q, U, immhb, opc, n, d, false);
}
bool Translator::SIMD_scalar_shift_imm(u32 U, u32 immhb, u32 opc, u32 n, u32 d) {
  return simd_shift_imm(0, U, immhb, opc, n, d, true);
}

bool Translator::simd_shift_imm(u32 Q, u32 U, u32 immhb, u32 opc, u32 n, u32 d, bool scalar) {
  const unsigned immh = immhb >> 3;
  if (immh == 0) return unallocated();
  const unsigned esize = 8u << (std::bit_width(immh) - 1);
  if (opc == 0x1c || opc == 0x1f) return simd_fp_fixed(Q, U, immhb, opc, n, d, scalar);
  if (auto r = sat_shift_imm(Q, U, immhb, opc, n, d, scalar)) return *r;
  const bool right = opc <= 0x08 && !(opc & 1);
  const bool narrow = opc == 0x10 || opc == 0x11;
  if (!right && opc != 0x0a && !(narrow && !U))
    return unimplemented("Advanced SIMD shift-by-immediate opcode " + std::to_string(opc));
  if (opc == 0x10 && !scalar && !U) return SHRN(Q, immhb, n, d);
  if (narrow) {
    if (scalar || esize == 64) return unallocated();
  } else if (scalar ? esize != 64 : (esize == 64 && !Q)) {
    return unallocated();
  }
  if (opc == 0x08 && !U) return unallocated();  // SRI only
  if (!fp_access_check()) return true;
  Vec a = read_vec(n), acc = read_vec(d);
  Vec out{{e_.c64(0), e_.c64(0)}};
  if (narrow) {  // RSHRN: the source lanes are twice as wide
    const unsigned shift = 2 * esize - immhb;
    for (unsigned i = 0; i < 64 / esize; ++i) {
      Value x = get_lane(a, 2 * esize, i);
      Value r = e_.add(e_.lshr(x, e_.c64(shift)), e_.and_(e_.lshr(x, e_.c64(shift - 1)), e_.c64(1)));
      set_lane(out, esize, i, r);
    }
    write_narrow(d, out.h[0], Q);
    return true;
  }
  const unsigned lanes = scalar ? 1 : (Q ? 128 : 64) / esize;
  const uint64_t mask = lane_ones(esize);
  for (unsigned i = 0; i < lanes; ++i) {
    Value x = lane_wide(a, esize, i, !U);
    Value r;
    if (opc == 0x0a) {  // SHL / SLI
      const unsigned shift = immhb - esize;
      r = e_.shl(x, e_.c64(shift));
      if (U) r = e_.or_(e_.and_(get_lane(acc, esize, i), e_.c64(~(mask << shift) & mask)), r);
    } else {
      const unsigned shift = 2 * esize - immhb;  // 1..esize
      auto shr = [&](unsigned s) -> Value {
        if (s == 0) return x;
        if (s >= 64) return U ? e_.c64(0) : e_.ashr(x, e_.c64(63));
        return U ? e_.lshr(x, e_.c64(s)) : e_.ashr(x, e_.c64(s));
      };
      if (opc == 0x08) {  // SRI: the top `shift` bits of each lane are kept
        Value ins = shift >= 64 ? e_.c64(0) : e_.lshr(x, e_.c64(shift));
        uint64_t keep = shift >= esize ? mask : ~(mask >> shift) & mask;
        r = e_.or_(e_.and_(get_lane(acc, esize, i), e_.c64(keep)), ins);
      } else {
        r = shr(shift);
        if (opc & 4) r = e_.add(r, e_.and_(shr(shift - 1), e_.c64(1)));  // rounding
        if (opc & 2) r = e_.add(r, get_lane(acc, esize, i));              // accumulate
      }
    }
    set_lane(out, esize, i, esize == 64 ? r : e_.and_(r, e_.c64(mask)));
  }
  write_vec(d, out, Q && !scalar);
  return true;
}

}  // namespace orrery::cpu::arm64
