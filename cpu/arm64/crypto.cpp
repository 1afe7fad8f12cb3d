#include "cpu/arm64/crypto.h"

#include <array>
#include <bit>
#include <cstring>

#include "cpu/arm64/state.h"

namespace orrery::cpu::arm64 {

namespace crypto_sw {
namespace {

// ---- AES (FIPS-197): the S-boxes are derived from GF(2^8) inversion at compile time ----

constexpr uint8_t gf_mul(uint8_t a, uint8_t b) {
  uint8_t r = 0;
  while (b) {
    if (b & 1) r ^= a;
    a = uint8_t((a << 1) ^ ((a & 0x80) ? 0x1b : 0));
    b >>= 1;
  }
  return r;
}

constexpr std::array<uint8_t, 256> make_sbox() {
  std::array<uint8_t, 256> s{};
  for (unsigned x = 0; x < 256; ++x) {
    uint8_t inv = 0;  // x^254 (0 maps to 0)
    if (x) {
      uint8_t p = uint8_t(x);
      inv = 1;
      for (unsigned e = 254; e; e >>= 1) {
        if (e & 1) inv = gf_mul(inv, p);
        p = gf_mul(p, p);
      }
    }
    auto rotl8 = [](uint8_t v, unsigned k) { return uint8_t((v << k) | (v >> (8 - k))); };
    s[x] = uint8_t(inv ^ rotl8(inv, 1) ^ rotl8(inv, 2) ^ rotl8(inv, 3) ^ rotl8(inv, 4) ^ 0x63);
  }
  return s;
}

constexpr std::array<uint8_t, 256> kSbox = make_sbox();
constexpr std::array<uint8_t, 256> kInvSbox = [] {
  std::array<uint8_t, 256> inv{};
  for (unsigned x = 0; x < 256; ++x) inv[kSbox[x]] = uint8_t(x);
  return inv;
}();
static_assert(kSbox[0x00] == 0x63 && kSbox[0x53] == 0xed && kInvSbox[0x63] == 0x00);

using Bytes = std::array<uint8_t, 16>;

Bytes to_bytes(V128 v) {
  Bytes b;
  std::memcpy(b.data(), &v.lo, 8);
  std::memcpy(b.data() + 8, &v.hi, 8);
  return b;
}
V128 from_bytes(const Bytes& b) {
  V128 v;
  std::memcpy(&v.lo, b.data(), 8);
  std::memcpy(&v.hi, b.data() + 8, 8);
  return v;
}

// The state is column-major: byte r + 4c is row r of column c. Row r rotates left by r columns.
V128 aes_round(V128 s, bool decrypt) {
  Bytes in = to_bytes(s), out{};
  for (unsigned r = 0; r < 4; ++r)
    for (unsigned c = 0; c < 4; ++c) {
      if (decrypt)
        out[r + 4 * ((c + r) % 4)] = kInvSbox[in[r + 4 * c]];
      else
        out[r + 4 * c] = kSbox[in[r + 4 * ((c + r) % 4)]];
    }
  return from_bytes(out);
}

V128 aes_mix(V128 s, bool inverse) {
  static constexpr uint8_t kFwd[4] = {2, 3, 1, 1}, kInv[4] = {14, 11, 13, 9};
  const uint8_t* k = inverse ? kInv : kFwd;
  Bytes in = to_bytes(s), out{};
  for (unsigned c = 0; c < 4; ++c)
    for (unsigned r = 0; r < 4; ++r) {
      uint8_t v = 0;
      for (unsigned j = 0; j < 4; ++j) v ^= gf_mul(in[4 * c + j], k[(j + 4 - r) % 4]);
      out[4 * c + r] = v;
    }
  return from_bytes(out);
}

// ---- SHA-1 and SHA-256 (Arm ARM shared pseudocode SHAhashSIGMA*, SHAchoose, ...) ----

using W4 = std::array<uint32_t, 4>;
W4 to_w(V128 v) {
  return {uint32_t(v.lo), uint32_t(v.lo >> 32), uint32_t(v.hi), uint32_t(v.hi >> 32)};
}
V128 from_w(const W4& w) {
  return {w[0] | uint64_t(w[1]) << 32, w[2] | uint64_t(w[3]) << 32};
}

uint32_t sha_choose(uint32_t x, uint32_t y, uint32_t z) {
  return ((y ^ z) & x) ^ z;
}
uint32_t sha_majority(uint32_t x, uint32_t y, uint32_t z) {
  return (x & y) | ((x | y) & z);
}
uint32_t sha_parity(uint32_t x, uint32_t y, uint32_t z) {
  return x ^ y ^ z;
}

V128 sha1_hash(int kind, V128 xv, uint32_t y, V128 wv) {
  W4 x = to_w(xv), w = to_w(wv);
  for (unsigned e = 0; e < 4; ++e) {
    const uint32_t t = kind == 0   ? sha_choose(x[1], x[2], x[3])
                       : kind == 1 ? sha_parity(x[1], x[2], x[3])
                                   : sha_majority(x[1], x[2], x[3]);
    y += std::rotl(x[0], 5) + t + w[e];
    x[1] = std::rotl(x[1], 30);
    // <Y, X> = ROL(Y : X, 32)
    const uint32_t top = x[3];
    x = {y, x[0], x[1], x[2]};
    y = top;
  }
  return from_w(x);
}

V128 sha256_hash(V128 xv, V128 yv, V128 wv, bool part1) {
  W4 x = to_w(xv), y = to_w(yv), w = to_w(wv);
  for (unsigned e = 0; e < 4; ++e) {
    const uint32_t chs = sha_choose(y[0], y[1], y[2]);
    const uint32_t maj = sha_majority(x[0], x[1], x[2]);
    const uint32_t s1 = std::rotr(y[0], 6) ^ std::rotr(y[0], 11) ^ std::rotr(y[0], 25);
    const uint32_t s0 = std::rotr(x[0], 2) ^ std::rotr(x[0], 13) ^ std::rotr(x[0], 22);
    const uint32_t t = y[3] + s1 + chs + w[e];
    x[3] += t;
    y[3] = t + s0 + maj;
    // <Y, X> = ROL(Y : X, 32)
    const uint32_t xt = x[3], yt = y[3];
    x = {yt, x[0], x[1], x[2]};
    y = {xt, y[0], y[1], y[2]};
  }
  return from_w(part1 ? x : y);
}

uint64_t ror64(uint64_t v, unsigned k) {
  return std::rotr(v, int(k));
}

uint64_t clmul64(uint64_t a, uint64_t b, uint64_t& hi) {
  uint64_t lo = 0;
  hi = 0;
  for (unsigned i = 0; i < 64; ++i)
    if ((b >> i) & 1) {
      lo ^= a << i;
      if (i) hi ^= a >> (64 - i);
    }
  return lo;
}

uint16_t clmul8(uint8_t a, uint8_t b) {
  uint16_t r = 0;
  for (unsigned i = 0; i < 8; ++i)
    if ((b >> i) & 1) r ^= uint16_t(a << i);
  return r;
}

}  // namespace

V128 compute(const CryptoDesc& c, V128 d, V128 n, V128 m, V128 a) {
  switch (c.op) {
    case CryptoOp::Aese:
      return aes_round({d.lo ^ n.lo, d.hi ^ n.hi}, false);
    case CryptoOp::Aesd:
      return aes_round({d.lo ^ n.lo, d.hi ^ n.hi}, true);
    case CryptoOp::Aesmc:
      return aes_mix(n, false);
    case CryptoOp::Aesimc:
      return aes_mix(n, true);
    case CryptoOp::Sha1c:
      return sha1_hash(0, d, uint32_t(n.lo), m);
    case CryptoOp::Sha1p:
      return sha1_hash(1, d, uint32_t(n.lo), m);
    case CryptoOp::Sha1m:
      return sha1_hash(2, d, uint32_t(n.lo), m);
    case CryptoOp::Sha1su0: {  // (Vn<63:0> : Vd<127:64>) ^ Vd ^ Vm
      V128 r{d.hi, n.lo};
      return {r.lo ^ d.lo ^ m.lo, r.hi ^ d.hi ^ m.hi};
    }
    case CryptoOp::Sha256h:
      return sha256_hash(d, n, m, true);
    case CryptoOp::Sha256h2:
      return sha256_hash(n, d, m, false);
    case CryptoOp::Sha256su1: {
      W4 op1 = to_w(d), op2 = to_w(n), op3 = to_w(m), r{};
      const W4 t0 = {op2[1], op2[2], op2[3], op3[0]};
      auto s1 = [](uint32_t x) { return std::rotr(x, 17) ^ std::rotr(x, 19) ^ (x >> 10); };
      r[0] = s1(op3[2]) + op1[0] + t0[0];
      r[1] = s1(op3[3]) + op1[1] + t0[1];
      r[2] = s1(r[0]) + op1[2] + t0[2];
      r[3] = s1(r[1]) + op1[3] + t0[3];
      return from_w(r);
    }
    case CryptoOp::Sha1h:
      return {std::rotl(uint32_t(n.lo), 30), 0};
    case CryptoOp::Sha1su1: {
      W4 t = to_w({d.lo ^ (n.lo >> 32 | n.hi << 32), d.hi ^ (n.hi >> 32)}), r;
      for (unsigned e = 0; e < 4; ++e) r[e] = std::rotl(t[e], 1);
      r[3] ^= std::rotl(t[0], 2);
      return from_w(r);
    }
    case CryptoOp::Sha256su0: {
      W4 op1 = to_w(d), op2 = to_w(n), r;
      const W4 t = {op1[1], op1[2], op1[3], op2[0]};
      for (unsigned e = 0; e < 4; ++e)
        r[e] = (std::rotr(t[e], 7) ^ std::rotr(t[e], 18) ^ (t[e] >> 3)) + op1[e];
      return from_w(r);
    }
    case CryptoOp::Sha512h: {  // X = Vn, Y = Vm, W = Vd
      auto sig1 = [](uint64_t v) { return ror64(v, 14) ^ ror64(v, 18) ^ ror64(v, 41); };
      V128 r;
      r.hi = (m.hi & n.lo) ^ (~m.hi & n.hi);
      r.hi = r.hi + sig1(m.hi) + d.hi;
      const uint64_t tmp = r.hi + m.lo;
      r.lo = (tmp & m.hi) ^ (~tmp & n.lo);
      r.lo = r.lo + sig1(tmp) + d.lo;
      return r;
    }
    case CryptoOp::Sha512h2: {
      auto sig0 = [](uint64_t v) { return ror64(v, 28) ^ ror64(v, 34) ^ ror64(v, 39); };
      V128 r;
      r.hi = (n.lo & m.hi) ^ (n.lo & m.lo) ^ (m.hi & m.lo);
      r.hi = r.hi + sig0(m.lo) + d.hi;
      r.lo = (r.hi & m.lo) ^ (r.hi & m.hi) ^ (m.hi & m.lo);
      r.lo = r.lo + sig0(r.hi) + d.lo;
      return r;
    }
    case CryptoOp::Sha512su0: {
      auto sig0 = [](uint64_t v) { return ror64(v, 1) ^ ror64(v, 8) ^ (v >> 7); };
      return {d.lo + sig0(d.hi), d.hi + sig0(n.lo)};
    }
    case CryptoOp::Sha512su1: {
      auto sig1 = [](uint64_t v) { return ror64(v, 19) ^ ror64(v, 61) ^ (v >> 6); };
      return {d.lo + sig1(n.lo) + m.lo, d.hi + sig1(n.hi) + m.hi};
    }
    case CryptoOp::Rax1:
      return {n.lo ^ std::rotl(m.lo, 1), n.hi ^ std::rotl(m.hi, 1)};
    case CryptoOp::Eor3:
      return {n.lo ^ m.lo ^ a.lo, n.hi ^ m.hi ^ a.hi};
    case CryptoOp::Bcax:
      return {n.lo ^ (m.lo & ~a.lo), n.hi ^ (m.hi & ~a.hi)};
    case CryptoOp::Xar:
      return {ror64(n.lo ^ m.lo, c.imm), ror64(n.hi ^ m.hi, c.imm)};
    case CryptoOp::Pmul8: {
      Bytes x = to_bytes(n), y = to_bytes(m), r{};
      for (unsigned i = 0; i < (c.imm ? 16u : 8u); ++i) r[i] = uint8_t(clmul8(x[i], y[i]));
      return from_bytes(r);
    }
    case CryptoOp::Pmull8: {
      Bytes x = to_bytes(n), y = to_bytes(m);
      const unsigned base = c.imm ? 8 : 0;
      uint16_t r[8];
      for (unsigned i = 0; i < 8; ++i) r[i] = clmul8(x[base + i], y[base + i]);
      V128 out;
      std::memcpy(&out.lo, r, 8);
      std::memcpy(&out.hi, r + 4, 8);
      return out;
    }
    case CryptoOp::Pmull64: {
      V128 r;
      r.lo = clmul64(c.imm ? n.hi : n.lo, c.imm ? m.hi : m.lo, r.hi);
      return r;
    }
  }
  return d;
}

}  // namespace crypto_sw

uint64_t helper_crypto(tcg::CpuCommon* cpu, uint64_t desc, uint64_t, uint64_t) {
  Arm64State& s = state_of(*cpu);
  const CryptoDesc c = CryptoDesc::decode(desc);
  auto get = [&](unsigned r) { return V128{s.v[r].d[0], s.v[r].d[1]}; };
  V128 r = crypto_sw::compute(c, get(c.d), get(c.n), get(c.m), get(c.a));
  if (c.op == CryptoOp::Pmul8 && !c.imm) r.hi = 0;
  s.v[c.d].d[0] = r.lo;
  s.v[c.d].d[1] = r.hi;
  return 0;
}

}  // namespace orrery::cpu::arm64
