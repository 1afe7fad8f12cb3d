// The A64 decoder, generated at compile time from decode.inc: an enum of encodings, the
// mask/value table, a per-major-opcode index for fast matching, and a switch that calls a
// visitor's member function with the row's fields as arguments.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

namespace orrery::cpu::arm64 {

enum class InsnId : uint16_t {
#define INST(name, desc, bits) name,
#include "cpu/arm64/decode.inc"
#undef INST
  kCount
};
constexpr size_t kNumInsnIds = size_t(InsnId::kCount);

struct DecodeRow {
  InsnId id;
  const char* name;  // the row's identifier, e.g. "ADD_imm"
  const char* desc;  // the Arm ARM's name, e.g. "ADD (immediate)"
  const char* bits;  // 32 characters, bit 31 first
  uint32_t mask;     // fixed bits
  uint32_t value;
};

namespace decode_detail {

constexpr bool is_field_letter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

constexpr size_t length(const char* s) {
  size_t n = 0;
  while (s[n]) ++n;
  return n;
}

constexpr bool valid_pattern(const char* bits) {
  if (length(bits) != 32) return false;
  for (size_t i = 0; i < 32; ++i) {
    char c = bits[i];
    if (c != '0' && c != '1' && c != '-' && !is_field_letter(c)) return false;
  }
  return true;
}

constexpr uint32_t fixed_mask(const char* bits) {
  uint32_t m = 0;
  for (size_t i = 0; i < 32; ++i)
    if (bits[i] == '0' || bits[i] == '1') m |= 1u << (31 - i);
  return m;
}

constexpr uint32_t fixed_value(const char* bits) {
  uint32_t v = 0;
  for (size_t i = 0; i < 32; ++i)
    if (bits[i] == '1') v |= 1u << (31 - i);
  return v;
}

constexpr uint32_t field_mask(const char* bits, char letter) {
  uint32_t m = 0;
  for (size_t i = 0; i < 32; ++i)
    if (bits[i] == letter) m |= 1u << (31 - i);
  return m;
}

/// The distinct field letters of a pattern, in order of first appearance (bit 31 first).
struct Letters {
  std::array<char, 32> chars{};
  size_t count = 0;
};
constexpr Letters field_letters(const char* bits) {
  Letters l;
  for (size_t i = 0; i < 32; ++i) {
    char c = bits[i];
    if (!is_field_letter(c)) continue;
    bool seen = false;
    for (size_t k = 0; k < l.count; ++k) seen = seen || l.chars[k] == c;
    if (!seen) l.chars[l.count++] = c;
  }
  return l;
}

/// Gathers the bits of insn selected by mask, most-significant first, into the low bits.
constexpr uint32_t extract(uint32_t insn, uint32_t mask) {
  uint32_t out = 0;
  for (int b = 31; b >= 0; --b) {
    if (!(mask & (1u << b))) continue;
    out = (out << 1) | ((insn >> b) & 1);
  }
  return out;
}

}  // namespace decode_detail

inline constexpr DecodeRow kDecodeTable[] = {
#define INST(name, desc, bits)               \
  DecodeRow{InsnId::name,                    \
            #name,                           \
            desc,                            \
            bits,                            \
            decode_detail::fixed_mask(bits), \
            decode_detail::fixed_value(bits)},
#include "cpu/arm64/decode.inc"
#undef INST
};
static_assert(std::size(kDecodeTable) == kNumInsnIds);

namespace decode_detail {
constexpr bool all_patterns_valid() {
  for (const DecodeRow& r : kDecodeTable)
    if (!valid_pattern(r.bits)) return false;
  return true;
}
static_assert(all_patterns_valid(), "every decode.inc pattern is 32 characters of 0/1/-/letters");

// Rows are bucketed by instruction bits 28:25 (the A64 top-level op0 field) so a lookup tests
// only rows that can match; order within a bucket is table order.
constexpr unsigned kBucketShift = 25;
constexpr uint32_t kBucketMask = 0xfu << kBucketShift;
struct Buckets {
  std::array<std::array<uint16_t, kNumInsnIds>, 16> rows{};
  std::array<uint16_t, 16> count{};
};
constexpr Buckets make_buckets() {
  Buckets b;
  for (uint32_t k = 0; k < 16; ++k) {
    uint32_t key = k << kBucketShift;
    for (size_t i = 0; i < kNumInsnIds; ++i) {
      const DecodeRow& r = kDecodeTable[i];
      uint32_t common = r.mask & kBucketMask;
      if ((r.value & common) == (key & common)) b.rows[k][b.count[k]++] = uint16_t(i);
    }
  }
  return b;
}
inline constexpr Buckets kBuckets = make_buckets();

template <size_t Row, size_t I>
inline constexpr uint32_t kFieldMask = field_mask(kDecodeTable[Row].bits,
                                                  field_letters(kDecodeTable[Row].bits).chars[I]);

template <size_t Row, typename V, typename Fn, size_t... I>
bool call_row(V& v, Fn fn, uint32_t insn, std::index_sequence<I...>) {
  (void)insn;  // rows without fields
  return (v.*fn)(extract(insn, kFieldMask<Row, I>)...);
}
}  // namespace decode_detail

/// The first row matching insn, or nullopt (an unallocated or unimplemented encoding).
constexpr std::optional<InsnId> decode(uint32_t insn) {
  unsigned k = (insn & decode_detail::kBucketMask) >> decode_detail::kBucketShift;
  const auto& b = decode_detail::kBuckets;
  for (uint16_t i = 0; i < b.count[k]; ++i) {
    const DecodeRow& r = kDecodeTable[b.rows[k][i]];
    if ((insn & r.mask) == r.value) return r.id;
  }
  return std::nullopt;
}

constexpr const DecodeRow& decode_row(InsnId id) {
  return kDecodeTable[size_t(id)];
}

/// The bits of field `letter` of row id's pattern in insn, most-significant first.
constexpr uint32_t field(uint32_t insn, InsnId id, char letter) {
  return decode_detail::extract(insn, decode_detail::field_mask(decode_row(id).bits, letter));
}
/// How many bits field `letter` of row id has.
constexpr unsigned field_width(InsnId id, char letter) {
  return unsigned(std::popcount(decode_detail::field_mask(decode_row(id).bits, letter)));
}

/// Calls v.Name(fields...) for the row id; returns what the visitor returns.
template <typename V>
bool dispatch(V& v, InsnId id, uint32_t insn) {
  switch (id) {
#define INST(name, desc, bits)                            \
  case InsnId::name:                                      \
    return decode_detail::call_row<size_t(InsnId::name)>( \
        v, &V::name, insn, std::make_index_sequence<decode_detail::field_letters(bits).count>{});
#include "cpu/arm64/decode.inc"
#undef INST
    case InsnId::kCount:
      break;
  }
  return false;
}

}  // namespace orrery::cpu::arm64
