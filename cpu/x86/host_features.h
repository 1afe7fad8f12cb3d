// Guest SIMD extensions whose helpers execute the host's own instructions (SSE3..SSE4.2,
// AES-NI, PCLMULQDQ, SHA: see simd_ext.cpp; AVX, AVX2, FMA, F16C: simd_avx.cpp). A host without one
// would fault inside Orrery, so there the frontend raises #UD (named under -d unimp) and CPUID does
// not advertise it.
#pragma once

#include <cstdint>

namespace orrery::cpu::x86 {

struct HostSimd {
  bool sse3, ssse3, sse41, sse42, aes, pclmul, sha;
  bool avx, avx2, fma, f16c;  // __builtin_cpu_supports also checks that the OS enabled YMM
};

inline const HostSimd& host_simd() {
  static const HostSimd h{
      bool(__builtin_cpu_supports("sse3")),   bool(__builtin_cpu_supports("ssse3")),
      bool(__builtin_cpu_supports("sse4.1")), bool(__builtin_cpu_supports("sse4.2")),
      bool(__builtin_cpu_supports("aes")),    bool(__builtin_cpu_supports("pclmul")),
      bool(__builtin_cpu_supports("sha")),    bool(__builtin_cpu_supports("avx")),
      bool(__builtin_cpu_supports("avx2")),   bool(__builtin_cpu_supports("fma")),
      bool(__builtin_cpu_supports("f16c"))};
  return h;
}

}  // namespace orrery::cpu::x86
