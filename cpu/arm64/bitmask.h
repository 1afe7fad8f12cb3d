// DecodeBitMasks for logical (immediate): the replicated, rotated run of ones that N:immr:imms
// encode. constexpr so tests can check it against a brute-force table at compile time.
#pragma once

#include <bit>
#include <cstdint>
#include <optional>

namespace orrery::cpu::arm64 {

/// The wmask of DecodeBitMasks(N, imms, immr, immediate=TRUE) for a datasize of 64 (sf) or 32
/// bits, or nullopt when the encoding is reserved.
constexpr std::optional<uint64_t> decode_bit_masks(unsigned N, unsigned imms, unsigned immr,
                                                   bool sf) {
  if (!sf && N) return std::nullopt;
  unsigned combined = (N << 6) | (~imms & 0x3f);
  if (combined == 0) return std::nullopt;
  unsigned len = unsigned(std::bit_width(combined)) - 1;  // HighestSetBit
  if (len < 1) return std::nullopt;
  unsigned esize = 1u << len;
  unsigned levels = esize - 1;
  if ((imms & levels) == levels) return std::nullopt;  // a run of esize ones is reserved
  unsigned s = imms & levels;
  unsigned r = immr & levels;
  uint64_t emask = esize == 64 ? ~0ull : (1ull << esize) - 1;
  uint64_t welem = (1ull << (s + 1)) - 1;  // s + 1 < esize <= 64
  uint64_t rotated = r == 0 ? welem : ((welem >> r) | (welem << (esize - r))) & emask;
  uint64_t out = 0;
  for (unsigned pos = 0; pos < 64; pos += esize) out |= rotated << pos;
  return sf ? out : out & 0xffffffffull;
}

}  // namespace orrery::cpu::arm64
