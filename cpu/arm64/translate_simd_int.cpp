// Integer SIMD that gcc -O2 emits for ordinary C: lane-wise add/subtract/multiply(-accumulate),
// CNT (popcount), across-lane sums, narrowing and widening shifts, shifts by immediate, and the
// UZP/TRN/ZIP permutes. Vectors are two I64 halves; lane operations use SWAR where that is
// exact and cheap, otherwise extract/deposit per lane. The FP/SIMD issue replaces this with
// whatever vector form the IR grows.
#include <bit>

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

/// The element size in bits encoded by immh (its highest set bit), for shifts by immediate.
unsigned immh_esize(u32 immhb) {
  unsigned immh = immhb >> 3;
  return 8u << (std::bit_width(immh) - 1);
}

}  // namespace

Translator::Vec Translator::read_vec(unsigned r) {
  return Vec{{e_.get_reg(Type::I64, off_vlo(r)), e_.get_reg(Type::I64, off_vhi(r))}};
}

void Translator::write_vec(unsigned r, const Vec& v, bool q) {
  write_vreg(r, v.h[0], q ? v.h[1] : Value{});
}

Value Translator::get_lane(const Vec& v, unsigned esize, unsigned i) {
  unsigned pos = i * esize;
  Value h = v.h[pos / 64];
  return esize == 64 ? h : e_.extract_u(h, pos % 64, esize);
}

void Translator::set_lane(Vec& v, unsigned esize, unsigned i, Value x) {
  unsigned pos = i * esize;
  Value& h = v.h[pos / 64];
  h = esize == 64 ? x : e_.deposit(h, x, pos % 64, esize);
}

// ---- Three same: ADD, SUB, MUL, MLA, MLS ----

bool Translator::vec_add_sub(u32 Q, u32 size, bool sub, u32 m, u32 n, u32 d) {
  if (size == 3 && !Q) return unallocated();
  const unsigned esize = 8u << size;
  if (!fp_access_check()) return true;
  Vec a = read_vec(n), b = read_vec(m), out;
  for (unsigned h = 0; h < (Q ? 2u : 1u); ++h) {
    if (esize == 64) {
      out.h[h] = sub ? e_.sub(a.h[h], b.h[h]) : e_.add(a.h[h], b.h[h]);
      continue;
    }
    // SWAR: add the low bits of every lane without carries crossing lanes, then fix the top bits.
    Value top = e_.c64(replicate(1ull << (esize - 1), esize));
    Value low = e_.c64(~replicate(1ull << (esize - 1), esize));
    if (!sub) {
      Value s = e_.add(e_.and_(a.h[h], low), e_.and_(b.h[h], low));
      out.h[h] = e_.xor_(s, e_.and_(e_.xor_(a.h[h], b.h[h]), top));
    } else {
      Value s = e_.sub(e_.or_(a.h[h], top), e_.and_(b.h[h], low));
      out.h[h] = e_.xor_(s, e_.and_(e_.xor_(a.h[h], e_.not_(b.h[h])), top));
    }
  }
  write_vec(d, out, Q);
  return true;
}

bool Translator::ADD_vec(u32 Q, u32 size, u32 m, u32 n, u32 d) {
  return vec_add_sub(Q, size, false, m, n, d);
}
bool Translator::SUB_vec(u32 Q, u32 size, u32 m, u32 n, u32 d) {
  return vec_add_sub(Q, size, true, m, n, d);
}

bool Translator::vec_mul(u32 Q, u32 size, int acc, u32 m, u32 n, u32 d) {
  if (size == 3) return unallocated();
  const unsigned esize = 8u << size;
  const unsigned lanes = (Q ? 128 : 64) / esize;
  if (!fp_access_check()) return true;
  Vec a = read_vec(n), b = read_vec(m);
  Vec out = acc ? read_vec(d) : Vec{{e_.c64(0), e_.c64(0)}};
  for (unsigned i = 0; i < lanes; ++i) {
    Value p = e_.mul(get_lane(a, esize, i), get_lane(b, esize, i));
    if (acc) {
      Value old = get_lane(out, esize, i);
      p = acc > 0 ? e_.add(old, p) : e_.sub(old, p);
    }
    set_lane(out, esize, i, p);  // the deposit keeps the low esize bits
  }
  write_vec(d, out, Q);
  return true;
}

bool Translator::MUL_vec(u32 Q, u32 size, u32 m, u32 n, u32 d) {
  return vec_mul(Q, size, 0, m, n, d);
}
bool Translator::MLA_vec(u32 Q, u32 size, u32 m, u32 n, u32 d) {
  return vec_mul(Q, size, 1, m, n, d);
}
bool Translator::MLS_vec(u32 Q, u32 size, u32 m, u32 n, u32 d) {
  return vec_mul(Q, size, -1, m, n, d);
}

// ---- Two-register misc and across lanes ----

bool Translator::CNT(u32 Q, u32 n, u32 d) {
  if (!fp_access_check()) return true;
  Vec a = read_vec(n), out;
  for (unsigned h = 0; h < (Q ? 2u : 1u); ++h) {
    // Per-byte population count.
    Value x = a.h[h];
    x = e_.sub(x, e_.and_(e_.lshr(x, e_.c64(1)), e_.c64(0x5555555555555555ull)));
    x = e_.add(e_.and_(x, e_.c64(0x3333333333333333ull)),
               e_.and_(e_.lshr(x, e_.c64(2)), e_.c64(0x3333333333333333ull)));
    out.h[h] = e_.and_(e_.add(x, e_.lshr(x, e_.c64(4))), e_.c64(0x0f0f0f0f0f0f0f0full));
  }
  write_vec(d, out, Q);
  return true;
}

bool Translator::XTN(u32 Q, u32 size, u32 n, u32 d) {
  if (size == 3) return unallocated();
  const unsigned esize = 8u << size;  // of the narrow result
  if (!fp_access_check()) return true;
  Vec a = read_vec(n);
  Vec r{{e_.c64(0), Value{}}};
  for (unsigned i = 0; i < 64 / esize; ++i) set_lane(r, esize, i, get_lane(a, 2 * esize, i));
  if (Q) {  // XTN2: the upper half; the lower half is kept
    write_vreg(d, e_.get_reg(Type::I64, off_vlo(d)), r.h[0]);
  } else {
    write_vreg(d, r.h[0], Value{});
  }
  return true;
}

bool Translator::ADDV(u32 Q, u32 size, u32 n, u32 d) {
  if (size == 3 || (size == 2 && !Q)) return unallocated();
  const unsigned esize = 8u << size;
  if (!fp_access_check()) return true;
  Vec a = read_vec(n);
  Value sum = get_lane(a, esize, 0);
  for (unsigned i = 1; i < (Q ? 128 : 64) / esize; ++i) sum = e_.add(sum, get_lane(a, esize, i));
  write_vreg(d, e_.and_(sum, e_.c64((1ull << esize) - 1)), Value{});
  return true;
}

bool Translator::UADDLV(u32 Q, u32 size, u32 n, u32 d) {
  if (size == 3 || (size == 2 && !Q)) return unallocated();
  const unsigned esize = 8u << size;
  if (!fp_access_check()) return true;
  Vec a = read_vec(n);
  Value sum = get_lane(a, esize, 0);
  for (unsigned i = 1; i < (Q ? 128 : 64) / esize; ++i) sum = e_.add(sum, get_lane(a, esize, i));
  if (esize < 32) sum = e_.and_(sum, e_.c64((1ull << (2 * esize)) - 1));
  write_vreg(d, sum, Value{});
  return true;
}

// ---- Permutes ----

bool Translator::vec_permute(u32 Q, u32 size, unsigned op, u32 m, u32 n, u32 d) {
  if (size == 3 && !Q) return unallocated();
  const unsigned esize = 8u << size;
  const unsigned lanes = (Q ? 128 : 64) / esize;
  if (!fp_access_check()) return true;
  Vec a = read_vec(n), b = read_vec(m);
  Vec out{{e_.c64(0), e_.c64(0)}};
  auto src = [&](unsigned idx) {  // element idx of the concatenation a:b (a first)
    return idx < lanes ? get_lane(a, esize, idx) : get_lane(b, esize, idx - lanes);
  };
  for (unsigned i = 0; i < lanes; ++i) {
    unsigned idx = 0;
    const unsigned pair = i / 2, odd = i & 1;
    switch (op) {
      case 0:
        idx = 2 * i;
        break;  // UZP1
      case 1:
        idx = 2 * i + 1;
        break;  // UZP2
      case 2:
        idx = odd ? lanes + 2 * pair : 2 * pair;
        break;  // TRN1
      case 3:
        idx = odd ? lanes + 2 * pair + 1 : 2 * pair + 1;
        break;  // TRN2
      case 4:
        idx = odd ? lanes + pair : pair;
        break;  // ZIP1
      default:
        idx = (odd ? lanes : 0) + lanes / 2 + pair;
        break;  // ZIP2
    }
    set_lane(out, esize, i, src(idx));
  }
  write_vec(d, out, Q);
  return true;
}

bool Translator::UZP1(u32 Q, u32 size, u32 m, u32 n, u32 d) {
  return vec_permute(Q, size, 0, m, n, d);
}
bool Translator::UZP2(u32 Q, u32 size, u32 m, u32 n, u32 d) {
  return vec_permute(Q, size, 1, m, n, d);
}
bool Translator::TRN1(u32 Q, u32 size, u32 m, u32 n, u32 d) {
  return vec_permute(Q, size, 2, m, n, d);
}
bool Translator::TRN2(u32 Q, u32 size, u32 m, u32 n, u32 d) {
  return vec_permute(Q, size, 3, m, n, d);
}
bool Translator::ZIP1(u32 Q, u32 size, u32 m, u32 n, u32 d) {
  return vec_permute(Q, size, 4, m, n, d);
}
bool Translator::ZIP2(u32 Q, u32 size, u32 m, u32 n, u32 d) {
  return vec_permute(Q, size, 5, m, n, d);
}

// ---- Shifts by immediate ----

bool Translator::vec_shift_imm(u32 Q, u32 immhb, unsigned kind, u32 n, u32 d) {
  enum { kSshr, kUshr, kShl, kShrn, kSshll, kUshll };
  if ((immhb >> 3) == 0) return unallocated();  // the modified-immediate space (decoded earlier)
  const unsigned esize = immh_esize(immhb);
  const bool narrowing = kind == kShrn, widening = kind == kSshll || kind == kUshll;
  if ((narrowing || widening) && esize == 64) return unallocated();
  if (!narrowing && !widening && esize == 64 && !Q) return unallocated();
  if (!fp_access_check()) return true;
  Vec a = read_vec(n);

  if (kind == kShrn) {  // esize is the narrow result; the source lanes are twice as wide
    const unsigned shift = 2 * esize - immhb;
    Vec r{{e_.c64(0), Value{}}};
    for (unsigned i = 0; i < 64 / esize; ++i)
      set_lane(r, esize, i, e_.lshr(get_lane(a, 2 * esize, i), e_.c64(shift)));
    if (Q)
      write_vreg(d, e_.get_reg(Type::I64, off_vlo(d)), r.h[0]);
    else
      write_vreg(d, r.h[0], Value{});
    return true;
  }

  if (widening) {  // source lanes from the low (USHLL) or high (USHLL2) half
    const unsigned shift = immhb - esize;
    const unsigned lanes = 64 / esize, base = Q ? lanes : 0;
    Vec out{{e_.c64(0), e_.c64(0)}};
    for (unsigned i = 0; i < lanes; ++i) {
      unsigned pos = (base + i) * esize;
      Value h = a.h[pos / 64];
      Value x =
          kind == kSshll ? e_.extract_s(h, pos % 64, esize) : e_.extract_u(h, pos % 64, esize);
      set_lane(out, 2 * esize, i, shift ? e_.shl(x, e_.c64(shift)) : x);
    }
    write_vec(d, out, true);
    return true;
  }

  const unsigned lanes = (Q ? 128 : 64) / esize;
  Vec out{{e_.c64(0), e_.c64(0)}};
  for (unsigned i = 0; i < lanes; ++i) {
    unsigned pos = i * esize;
    Value h = a.h[pos / 64];
    Value r;
    if (kind == kShl) {
      r = e_.shl(get_lane(a, esize, i), e_.c64(immhb - esize));
    } else {
      unsigned shift = 2 * esize - immhb;  // 1..esize
      if (kind == kSshr) {
        Value x = esize == 64 ? h : e_.extract_s(h, pos % 64, esize);
        r = e_.ashr(x, e_.c64(shift == 64 ? 63 : shift));  // IR shifts are modulo 64
      } else {
        r = shift == 64 ? e_.c64(0) : e_.lshr(get_lane(a, esize, i), e_.c64(shift));
      }
    }
    set_lane(out, esize, i, r);
  }
  write_vec(d, out, Q);
  return true;
}

bool Translator::SSHR(u32 Q, u32 immhb, u32 n, u32 d) {
  return vec_shift_imm(Q, immhb, 0, n, d);
}
bool Translator::USHR(u32 Q, u32 immhb, u32 n, u32 d) {
  return vec_shift_imm(Q, immhb, 1, n, d);
}
bool Translator::SHL(u32 Q, u32 immhb, u32 n, u32 d) {
  return vec_shift_imm(Q, immhb, 2, n, d);
}
bool Translator::SHRN(u32 Q, u32 immhb, u32 n, u32 d) {
  return vec_shift_imm(Q, immhb, 3, n, d);
}
bool Translator::SSHLL(u32 Q, u32 immhb, u32 n, u32 d) {
  return vec_shift_imm(Q, immhb, 4, n, d);
}
bool Translator::USHLL(u32 Q, u32 immhb, u32 n, u32 d) {
  return vec_shift_imm(Q, immhb, 5, n, d);
}

}  // namespace orrery::cpu::arm64
