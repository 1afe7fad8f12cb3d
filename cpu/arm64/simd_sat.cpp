#include "cpu/arm64/simd_sat.h"

#include <algorithm>

#include "cpu/arm64/fp.h"
#include "cpu/arm64/state.h"

namespace orrery::cpu::arm64 {

namespace {

using i128 = __int128;

i128 lane(const VReg& v, unsigned esize, unsigned i, bool sign) {
  const unsigned pos = i * esize;
  uint64_t w = v.d[pos / 64] >> (pos % 64);
  if (esize == 64) return sign ? i128(int64_t(w)) : i128(w);
  w &= (1ull << esize) - 1;
  if (sign && (w >> (esize - 1))) return i128(w) - (i128(1) << esize);
  return i128(w);
}

void put(VReg& v, unsigned esize, unsigned i, uint64_t x) {
  const unsigned pos = i * esize;
  const uint64_t mask = esize == 64 ? ~0ull : (1ull << esize) - 1;
  uint64_t& w = v.d[pos / 64];
  w = (w & ~(mask << (pos % 64))) | ((x & mask) << (pos % 64));
}

/// SatQ: x saturated to esize bits (signed or unsigned), setting qc when it does not fit.
uint64_t sat(i128 x, unsigned esize, bool uns, bool& qc) {
  const i128 hi = uns ? (i128(1) << esize) - 1 : (i128(1) << (esize - 1)) - 1;
  const i128 lo = uns ? 0 : -(i128(1) << (esize - 1));
  if (x > hi) {
    qc = true;
    return uint64_t(hi);
  }
  if (x < lo) {
    qc = true;
    return uint64_t(lo);
  }
  return uint64_t(x);
}

/// (x + round) >> shift (an arithmetic shift of the exact value; shifts past 64 saturate).
i128 shift_right(i128 x, unsigned shift, bool round) {
  if (shift == 0) return x;
  shift = std::min(shift, 100u);  // |x| < 2^65: every shift from 66 on gives the same result
  if (round) x += i128(1) << (shift - 1);
  return x >> shift;
}

}  // namespace

uint64_t helper_simd_sat(tcg::CpuCommon* cpu, uint64_t desc, uint64_t, uint64_t) {
  Arm64State& s = state_of(*cpu);
  const SatDesc c = SatDesc::decode(desc);
  const VReg a = s.v[c.n], b = s.v[c.m], acc = s.v[c.d];
  const unsigned esize = 8u << c.esize_log2;
  const bool sign_in = c.mode != SatMode::Unsigned, uns_out = c.mode != SatMode::Signed;
  VReg out{};
  bool qc = false;
  auto operand_b = [&](unsigned i) { return lane(b, esize, c.by_elem ? c.index : i, true); };

  switch (c.op) {
    case SatOp::ShrNarrow:
    case SatOp::Xtn: {  // sources 2*esize wide; result lanes in the low or (q) high half
      const unsigned lanes = c.scalar ? 1 : 64 / esize, base = c.q ? lanes : 0;
      if (c.q) out.d[0] = acc.d[0];
      for (unsigned i = 0; i < lanes; ++i) {
        i128 x = lane(a, 2 * esize, i, sign_in);
        if (c.op == SatOp::ShrNarrow) x = shift_right(x, c.imm, c.round);
        put(out, esize, base + i, sat(x, esize, uns_out, qc));
      }
      break;
    }
    case SatOp::Dmull: {  // 2 * x * y at double width, then accumulate; both steps saturate
      const unsigned lanes = c.scalar ? 1 : 64 / esize, base = c.q ? lanes : 0;
      for (unsigned i = 0; i < lanes; ++i) {
        const i128 x = lane(a, esize, base + i, true);
        const i128 y = c.by_elem ? operand_b(0) : lane(b, esize, base + i, true);
        i128 p = i128(int64_t(sat(2 * x * y, 2 * esize, false, qc)));
        uint64_t r = uint64_t(p);
        if (c.acc) {
          const i128 v = lane(acc, 2 * esize, i, true);
          r = sat(c.acc == 1 ? v + p : v - p, 2 * esize, false, qc);
        }
        put(out, 2 * esize, i, r);
      }
      break;
    }
    default: {
      const unsigned lanes = c.scalar ? 1 : (c.q ? 128 : 64) / esize;
      for (unsigned i = 0; i < lanes; ++i) {
        uint64_t r = 0;
        switch (c.op) {
          case SatOp::ShlImm:
            r = sat(lane(a, esize, i, sign_in) << c.imm, esize, uns_out, qc);
            break;
          case SatOp::ShlReg: {
            const i128 x = lane(a, esize, i, sign_in);
            const int sh = int8_t(uint8_t(lane(b, esize, i, false)));
            i128 v;
            if (sh >= 0) {
              if (c.saturate && x != 0 && unsigned(sh) >= esize) {
                r = sat(x > 0 ? i128(1) << 100 : -(i128(1) << 100), esize, uns_out, qc);
                break;
              }
              v = unsigned(sh) >= esize ? 0 : x << sh;
            } else {
              v = shift_right(x, unsigned(-sh), c.round);
            }
            r = c.saturate ? sat(v, esize, uns_out, qc) : uint64_t(v);
            break;
          }
          case SatOp::Dmulh: {
            i128 p = 2 * lane(a, esize, i, true) * operand_b(i);
            if (c.round) p += i128(1) << (esize - 1);
            r = sat(p >> esize, esize, false, qc);
            break;
          }
          case SatOp::Rdmlah: {
            const i128 p = 2 * lane(a, esize, i, true) * operand_b(i);
            i128 v = lane(acc, esize, i, true) << esize;
            v = c.acc == 2 ? v - p : v + p;
            v += i128(1) << (esize - 1);
            r = sat(v >> esize, esize, false, qc);
            break;
          }
          case SatOp::SuqAdd: {  // SUQADD: Vd signed + Vn unsigned; USQADD: the converse
            const bool u = c.mode == SatMode::Unsigned;
            const i128 v = lane(acc, esize, i, !u) + lane(a, esize, i, u);
            r = sat(v, esize, u, qc);
            break;
          }
          default:
            break;
        }
        put(out, esize, i, r);
      }
      break;
    }
  }
  s.v[c.d] = out;
  if (qc) s.fpsr |= fp::kFpsrQc;
  return 0;
}

}  // namespace orrery::cpu::arm64
