// What the vector op tests share: the host's SSE2 view of a Vec128 (the host is their oracle),
// edge lane values and the immediates each op is tried with.
#pragma once

#include <emmintrin.h>

#include <cstdint>
#include <vector>

#include "tcg/ir/vec_eval.h"

namespace orrery::tcg::llvm::test {

inline __m128i to_m(const ir::Vec128& v) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(v.q));
}
inline ir::Vec128 from_m(__m128i m) {
  ir::Vec128 v;
  _mm_storeu_si128(reinterpret_cast<__m128i*>(v.q), m);
  return v;
}

/// Quadwords at the integer ops' edges: all zeros and ones, sign bits, saturation limits.
inline constexpr uint64_t kVecEdges[] = {0,
                                         ~0ull,
                                         0x8000000080000000ull,
                                         0x7fff7fff7fff7fffull,
                                         0x00ff00ff80808080ull,
                                         0x0123456789abcdefull};

/// The immediates op is tried with: shift counts on both sides of each lane width and a
/// shuffle control for the immediate (unary) forms, 0 for the others.
inline std::vector<unsigned> vec_imms(ir::VecOp op) {
  if (ir::vec_op_info(op).arity != 1) return {0};
  return {0, 1, 7, 8, 15, 16, 31, 32, 63, 64, 255, 0x1b};
}

}  // namespace orrery::tcg::llvm::test
