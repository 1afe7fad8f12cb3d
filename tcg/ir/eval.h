// Reference semantics of the pure IR operations on canonical values (zero-extended to 64 bits,
// I1 as 0/1). The interpreter and the constant folder both use this one definition.
#pragma once

#include <bit>
#include <cstdint>

#include "tcg/ir/ir.h"

namespace orrery::tcg::ir {

inline int64_t sext_bits(uint64_t v, unsigned bits) {
  if (bits >= 64) return int64_t(v);
  unsigned sh = 64 - bits;
  return int64_t(v << sh) >> sh;
}

inline uint64_t bitrev64(uint64_t v) {
  v = ((v >> 1) & 0x5555555555555555ull) | ((v & 0x5555555555555555ull) << 1);
  v = ((v >> 2) & 0x3333333333333333ull) | ((v & 0x3333333333333333ull) << 2);
  v = ((v >> 4) & 0x0f0f0f0f0f0f0f0full) | ((v & 0x0f0f0f0f0f0f0f0full) << 4);
  return __builtin_bswap64(v);
}

/// The predicate true exactly where c is false (same operands).
inline Cond invert_cond(Cond c) {
  switch (c) {
    case Cond::Eq:
      return Cond::Ne;
    case Cond::Ne:
      return Cond::Eq;
    case Cond::Ult:
      return Cond::Uge;
    case Cond::Ule:
      return Cond::Ugt;
    case Cond::Ugt:
      return Cond::Ule;
    case Cond::Uge:
      return Cond::Ult;
    case Cond::Slt:
      return Cond::Sge;
    case Cond::Sle:
      return Cond::Sgt;
    case Cond::Sgt:
      return Cond::Sle;
    case Cond::Sge:
      return Cond::Slt;
  }
  return c;
}

inline bool eval_cond(Cond c, uint64_t a, uint64_t b, unsigned w) {
  int64_t sa = sext_bits(a, w), sb = sext_bits(b, w);
  switch (c) {
    case Cond::Eq:
      return a == b;
    case Cond::Ne:
      return a != b;
    case Cond::Ult:
      return a < b;
    case Cond::Ule:
      return a <= b;
    case Cond::Ugt:
      return a > b;
    case Cond::Uge:
      return a >= b;
    case Cond::Slt:
      return sa < sb;
    case Cond::Sle:
      return sa <= sb;
    case Cond::Sgt:
      return sa > sb;
    case Cond::Sge:
      return sa >= sb;
  }
  return false;
}

/// Evaluates a pure, non-call, non-GetReg operation. `t` is Inst::type, `src_bits` the width of
/// the first argument (for ZExt/SExt/Trunc). The result is canonical for the result type.
inline uint64_t eval_pure(Opcode op, Type t, unsigned src_bits, uint64_t a, uint64_t b, uint64_t c,
                          uint64_t imm, uint64_t imm2) {
  const unsigned w = bits(t);
  const uint64_t m = mask(t);
  const unsigned sh = unsigned(b) & (w - 1);  // widths are powers of two
  switch (op) {
    case Opcode::Const:
    case Opcode::PcRel:
      return imm & m;
    case Opcode::Add:
      return (a + b) & m;
    case Opcode::Sub:
      return (a - b) & m;
    case Opcode::Mul:
      return (a * b) & m;
    case Opcode::MulHiU:
      if (w == 64) return uint64_t((unsigned __int128)a * b >> 64);
      return ((a * b) >> w) & m;
    case Opcode::MulHiS:
      if (w == 64) return uint64_t((__int128)int64_t(a) * int64_t(b) >> 64);
      return uint64_t((sext_bits(a, w) * sext_bits(b, w)) >> w) & m;
    case Opcode::DivU:
      return b == 0 ? 0 : (a / b) & m;
    case Opcode::DivS: {
      if (b == 0) return 0;
      int64_t sa = sext_bits(a, w), sb = sext_bits(b, w);
      if (sb == -1) return uint64_t(-uint64_t(sa)) & m;  // INT_MIN / -1 wraps to INT_MIN
      return uint64_t(sa / sb) & m;
    }
    case Opcode::And:
      return a & b;
    case Opcode::Or:
      return a | b;
    case Opcode::Xor:
      return a ^ b;
    case Opcode::Shl:
      return (a << sh) & m;
    case Opcode::Lshr:
      return a >> sh;
    case Opcode::Ashr:
      return uint64_t(sext_bits(a, w) >> sh) & m;
    case Opcode::Rotr:
      return sh == 0 ? a : ((a >> sh) | (a << (w - sh))) & m;
    case Opcode::Not:
      return ~a & m;
    case Opcode::Neg:
      return (0 - a) & m;
    case Opcode::Clz:
      return a == 0 ? w : unsigned(std::countl_zero(a)) - (64 - w);
    case Opcode::Ctz:
      return a == 0 ? w : unsigned(std::countr_zero(a));
    case Opcode::Popcnt:
      return unsigned(std::popcount(a));
    case Opcode::Bswap:
      return w <= 8 ? a : __builtin_bswap64(a) >> (64 - w);
    case Opcode::Bitrev:
      return bitrev64(a) >> (64 - w);
    case Opcode::AddC:
      return (a + b + c) & m;
    case Opcode::AddCarry: {
      if (w == 64) return (a + b < a) || (a + b + c < a + b);
      return ((a + b + c) >> w) & 1;
    }
    case Opcode::AddOvf: {
      uint64_t r = (a + b + c) & m;
      uint64_t sign = 1ull << (w - 1);
      return ((~(a ^ b) & (a ^ r)) & sign) != 0;
    }
    case Opcode::ZExt:
      return a;
    case Opcode::SExt:
      return uint64_t(sext_bits(a, src_bits)) & m;
    case Opcode::Trunc:
      return a & m;
    case Opcode::ExtractU:
      return (a >> imm) & ((imm2 >= 64) ? ~0ull : (1ull << imm2) - 1);
    case Opcode::ExtractS:
      return uint64_t(sext_bits(a >> imm, unsigned(imm2))) & m;
    case Opcode::Deposit: {
      uint64_t fm = ((imm2 >= 64) ? ~0ull : (1ull << imm2) - 1) << imm;
      return ((a & ~fm) | ((b << imm) & fm)) & m;
    }
    case Opcode::Cmp:
      return eval_cond(static_cast<Cond>(imm), a, b, w);
    case Opcode::Select:
      return a ? b : c;
    default:
      return 0;
  }
}

}  // namespace orrery::tcg::ir
