// Reference semantics of the vector operations (vec_ops.inc) on 16- and 32-byte values: the
// interpreter runs them and the tests compare the compiled tiers against them.
#pragma once

#include <cstdint>
#include <cstring>

namespace orrery::tcg::ir {

enum class VecOp : uint8_t {
#define VEC(name, arity, lane) name,
#include "tcg/ir/vec_ops.inc"
#undef VEC
  Count_
};
constexpr unsigned kNumVecOps = static_cast<unsigned>(VecOp::Count_);

struct VecOpInfo {
  const char* name;
  uint8_t arity;
  uint8_t lane_bits;
};
inline const VecOpInfo& vec_op_info(VecOp op) {
  static constexpr VecOpInfo kTable[] = {
#define VEC(name, arity, lane) {#name, arity, lane},
#include "tcg/ir/vec_ops.inc"
#undef VEC
  };
  return kTable[static_cast<unsigned>(op)];
}

/// A 128-bit value as two little-endian quadwords (the layout of an XMM register in memory).
struct Vec128 {
  uint64_t q[2];
  bool operator==(const Vec128&) const = default;
};

namespace vec_detail {

template <typename T>
T lane(const Vec128& v, unsigned i) {
  T x;
  std::memcpy(&x, reinterpret_cast<const uint8_t*>(v.q) + i * sizeof(T), sizeof(T));
  return x;
}
template <typename T>
void set_lane(Vec128& v, unsigned i, T x) {
  std::memcpy(reinterpret_cast<uint8_t*>(v.q) + i * sizeof(T), &x, sizeof(T));
}
template <typename T, typename F>
Vec128 map2(const Vec128& a, const Vec128& b, F f) {
  Vec128 r{};
  for (unsigned i = 0; i < 16 / sizeof(T); ++i)
    set_lane<T>(r, i, T(f(lane<T>(a, i), lane<T>(b, i))));
  return r;
}
template <typename T, typename F>
Vec128 map1(const Vec128& a, F f) {
  Vec128 r{};
  for (unsigned i = 0; i < 16 / sizeof(T); ++i) set_lane<T>(r, i, T(f(lane<T>(a, i))));
  return r;
}
template <typename T>
Vec128 unpack(const Vec128& a, const Vec128& b, bool high) {
  constexpr unsigned n = 16 / sizeof(T);
  const unsigned base = high ? n / 2 : 0;
  Vec128 r{};
  for (unsigned i = 0; i < n / 2; ++i) {
    set_lane<T>(r, 2 * i, lane<T>(a, base + i));
    set_lane<T>(r, 2 * i + 1, lane<T>(b, base + i));
  }
  return r;
}
template <typename T>
Vec128 shl(const Vec128& a, unsigned n) {
  return map1<T>(a, [n](T x) { return n >= sizeof(T) * 8 ? T(0) : T(x << n); });
}
template <typename T>
Vec128 shr(const Vec128& a, unsigned n) {
  return map1<T>(a, [n](T x) { return n >= sizeof(T) * 8 ? T(0) : T(x >> n); });
}
template <typename S>
Vec128 sar(const Vec128& a, unsigned n) {
  const unsigned c = n >= sizeof(S) * 8 ? sizeof(S) * 8 - 1 : n;
  return map1<S>(a, [c](S x) { return S(x >> c); });
}

}  // namespace vec_detail

/// The SSE floating-point rows of vec_ops.inc (AddPS .. UcomiSD).
bool is_fp_vec_op(VecOp op);
/// CmpXX's predicate field in imm2 (0-31; 8-31 are VEX-only).
constexpr unsigned kVecFpPredMask = 0x1f;
/// VecOp2's imm2 bit for an FP row: the result is the raised exception flags (vec_ops.inc).
constexpr unsigned kVecFpFlags = 0x100;
/// The MXCSR the FP rows are defined under: round to nearest, all exceptions masked.
constexpr uint32_t kVecFpMxcsr = 0x1f80;
/// eval_vec of an FP row (vec_fp.cpp: the host's SSE instruction under kVecFpMxcsr).
Vec128 eval_vec_fp(VecOp op, const Vec128& a, const Vec128& b, unsigned imm);

/// r = op(a, b) or op(a, imm) (the arity of op decides); never undefined.
inline Vec128 eval_vec(VecOp op, const Vec128& a, const Vec128& b, unsigned imm) {
  using namespace vec_detail;
  if (is_fp_vec_op(op)) return eval_vec_fp(op, a, b, imm);
  auto cmp_eq = [](auto x, auto y) { return x == y ? -1 : 0; };
  auto cmp_gt = [](auto x, auto y) { return x > y ? -1 : 0; };
  auto mn = [](auto x, auto y) { return x < y ? x : y; };
  auto mx = [](auto x, auto y) { return x > y ? x : y; };
  switch (op) {
    case VecOp::And:
      return {a.q[0] & b.q[0], a.q[1] & b.q[1]};
    case VecOp::Or:
      return {a.q[0] | b.q[0], a.q[1] | b.q[1]};
    case VecOp::Xor:
      return {a.q[0] ^ b.q[0], a.q[1] ^ b.q[1]};
    case VecOp::Andn:
      return {~a.q[0] & b.q[0], ~a.q[1] & b.q[1]};
    case VecOp::AddB:
      return map2<uint8_t>(a, b, [](uint8_t x, uint8_t y) { return x + y; });
    case VecOp::AddW:
      return map2<uint16_t>(a, b, [](uint16_t x, uint16_t y) { return x + y; });
    case VecOp::AddD:
      return map2<uint32_t>(a, b, [](uint32_t x, uint32_t y) { return x + y; });
    case VecOp::AddQ:
      return {a.q[0] + b.q[0], a.q[1] + b.q[1]};
    case VecOp::SubB:
      return map2<uint8_t>(a, b, [](uint8_t x, uint8_t y) { return x - y; });
    case VecOp::SubW:
      return map2<uint16_t>(a, b, [](uint16_t x, uint16_t y) { return x - y; });
    case VecOp::SubD:
      return map2<uint32_t>(a, b, [](uint32_t x, uint32_t y) { return x - y; });
    case VecOp::SubQ:
      return {a.q[0] - b.q[0], a.q[1] - b.q[1]};
    case VecOp::CmpEqB:
      return map2<uint8_t>(a, b, cmp_eq);
    case VecOp::CmpEqW:
      return map2<uint16_t>(a, b, cmp_eq);
    case VecOp::CmpEqD:
      return map2<uint32_t>(a, b, cmp_eq);
    case VecOp::CmpGtB:
      return map2<int8_t>(a, b, cmp_gt);
    case VecOp::CmpGtW:
      return map2<int16_t>(a, b, cmp_gt);
    case VecOp::CmpGtD:
      return map2<int32_t>(a, b, cmp_gt);
    case VecOp::MinUB:
      return map2<uint8_t>(a, b, mn);
    case VecOp::MaxUB:
      return map2<uint8_t>(a, b, mx);
    case VecOp::MinSW:
      return map2<int16_t>(a, b, mn);
    case VecOp::MaxSW:
      return map2<int16_t>(a, b, mx);
    case VecOp::MulLoW:
      return map2<uint16_t>(a, b, [](uint16_t x, uint16_t y) { return uint32_t(x) * y; });
    case VecOp::MulUDQ:
      return {uint64_t(uint32_t(a.q[0])) * uint32_t(b.q[0]),
              uint64_t(uint32_t(a.q[1])) * uint32_t(b.q[1])};
    case VecOp::UnpackLoB:
      return unpack<uint8_t>(a, b, false);
    case VecOp::UnpackLoW:
      return unpack<uint16_t>(a, b, false);
    case VecOp::UnpackLoD:
      return unpack<uint32_t>(a, b, false);
    case VecOp::UnpackLoQ:
      return unpack<uint64_t>(a, b, false);
    case VecOp::UnpackHiB:
      return unpack<uint8_t>(a, b, true);
    case VecOp::UnpackHiW:
      return unpack<uint16_t>(a, b, true);
    case VecOp::UnpackHiD:
      return unpack<uint32_t>(a, b, true);
    case VecOp::UnpackHiQ:
      return unpack<uint64_t>(a, b, true);
    case VecOp::ShufD: {
      Vec128 r{};
      for (unsigned i = 0; i < 4; ++i)
        set_lane<uint32_t>(r, i, lane<uint32_t>(a, (imm >> 2 * i) & 3));
      return r;
    }
    case VecOp::ShlW:
      return shl<uint16_t>(a, imm & 0xff);
    case VecOp::ShlD:
      return shl<uint32_t>(a, imm & 0xff);
    case VecOp::ShlQ:
      return shl<uint64_t>(a, imm & 0xff);
    case VecOp::ShrW:
      return shr<uint16_t>(a, imm & 0xff);
    case VecOp::ShrD:
      return shr<uint32_t>(a, imm & 0xff);
    case VecOp::ShrQ:
      return shr<uint64_t>(a, imm & 0xff);
    case VecOp::SarW:
      return sar<int16_t>(a, imm & 0xff);
    case VecOp::SarD:
      return sar<int32_t>(a, imm & 0xff);
    case VecOp::ShlBytes:
    case VecOp::ShrBytes: {
      const unsigned n = imm & 0xff;
      uint8_t in[16], out[32] = {};
      std::memcpy(in, a.q, 16);
      Vec128 r{};
      if (n >= 16) return r;
      if (op == VecOp::ShlBytes) {
        std::memcpy(out + n, in, 16 - n);
        std::memcpy(r.q, out, 16);
      } else {
        std::memcpy(out, in + n, 16 - n);
        std::memcpy(r.q, out, 16);
      }
      return r;
    }
    default:  // Count_ and the FP rows (above)
      break;
  }
  return Vec128{};
}

/// A 256-bit value as two 128-bit halves (the layout of a YMM register in memory).
struct Vec256 {
  Vec128 h[2];
  bool operator==(const Vec256&) const = default;
};

/// The 256-bit form: every operation acts on each 128-bit half on its own, as AVX2's do
/// (VPUNPCK*, VPSHUFD and VPSLLDQ/VPSRLDQ never move data between the halves).
inline Vec256 eval_vec(VecOp op, const Vec256& a, const Vec256& b, unsigned imm) {
  return {eval_vec(op, a.h[0], b.h[0], imm), eval_vec(op, a.h[1], b.h[1], imm)};
}

}  // namespace orrery::tcg::ir
