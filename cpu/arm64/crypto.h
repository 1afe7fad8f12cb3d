// The A64 cryptographic extension (FEAT_AES, FEAT_SHA1, FEAT_SHA256, FEAT_SHA512, FEAT_SHA3) and
// the polynomial multiplies (PMUL, PMULL/PMULL2 8- and 64-bit) as runtime helpers that read and
// write the vector register file, following the Arm ARM pseudocode. The computations are portable
// C++ (crypto_sw namespace) so that tests can check them against known answers.
#pragma once

#include <cstdint>

#include "tcg/ir/helpers.h"

namespace orrery::cpu::arm64 {

enum class CryptoOp : uint8_t {
  Aese,
  Aesd,
  Aesmc,
  Aesimc,
  Sha1c,
  Sha1p,
  Sha1m,
  Sha1su0,
  Sha256h,
  Sha256h2,
  Sha256su1,
  Sha1h,
  Sha1su1,
  Sha256su0,
  Sha512h,
  Sha512h2,
  Sha512su1,
  Rax1,
  Sha512su0,
  Eor3,
  Bcax,
  Xar,
  Pmul8,
  Pmull8,
  Pmull64,  // Pmul8 takes the Q bit and the PMULL forms the part ("2") as imm
};

/// The operands of one crypto instruction, packed into one helper argument.
struct CryptoDesc {
  CryptoOp op{};
  unsigned d = 0, n = 0, m = 0, a = 0;
  unsigned imm = 0;  // XAR rotation; Q for PMUL; 1 for PMULL2

  constexpr uint64_t encode() const {
    return uint64_t(op) | uint64_t(d) << 8 | uint64_t(n) << 13 | uint64_t(m) << 18 |
           uint64_t(a) << 23 | uint64_t(imm) << 28;
  }
  static constexpr CryptoDesc decode(uint64_t v) {
    CryptoDesc c;
    c.op = CryptoOp(v & 0xff);
    c.d = unsigned((v >> 8) & 31);
    c.n = unsigned((v >> 13) & 31);
    c.m = unsigned((v >> 18) & 31);
    c.a = unsigned((v >> 23) & 31);
    c.imm = unsigned((v >> 28) & 63);
    return c;
  }
};

/// A 128-bit vector value as two little-endian halves (bits 63:0 first).
struct V128 {
  uint64_t lo = 0, hi = 0;
  bool operator==(const V128&) const = default;
};

namespace crypto_sw {
/// One crypto operation on register values: d is Vd's old value (the accumulator), n, m and a
/// the sources. Returns Vd's new value.
V128 compute(const CryptoDesc& c, V128 d, V128 n, V128 m, V128 a);
}  // namespace crypto_sw

uint64_t helper_crypto(tcg::CpuCommon* cpu, uint64_t desc, uint64_t, uint64_t);

/// Every op in CryptoOp: reads Vd/Vn/Vm/Va and writes Vd in the state.
inline constexpr tcg::ir::Helper kHelperCrypto{"arm64_crypto", &helper_crypto};

}  // namespace orrery::cpu::arm64
