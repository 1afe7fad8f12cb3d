// Random A64 integer instruction sequences for differential testing. Each template fixes the
// bits that select an encoding class and leaves the rest random; constraints keep memory
// accesses inside a scratch buffer (base register X28, index registers X16..X27 hold small
// values) and avoid CONSTRAINED UNPREDICTABLE register combinations.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace orrery::tests::fuzz {

constexpr unsigned kBaseReg = 28;
// Offsets are kept small so that a whole sequence, writeback included, stays within this many
// bytes either side of the base.
constexpr uint64_t kReach = 0x800;

struct Template {
  const char* name;
  uint32_t mask;   // bits fixed by the template
  uint32_t value;  // their values
  enum Kind : uint8_t { Dp, LoadStore, LoadStorePair, SkipBranch, Simd } kind;
};

// Fixed bits follow the Arm ARM's encoding index (C4.1).
inline constexpr Template kTemplates[] = {
    {"adr/adrp", 0x1f000000, 0x10000000, Template::Dp},
    {"add/sub imm", 0x1f800000, 0x11000000, Template::Dp},
    {"logical imm", 0x1f800000, 0x12000000, Template::Dp},
    {"move wide", 0x1f800000, 0x12800000, Template::Dp},
    {"bitfield", 0x1f800000, 0x13000000, Template::Dp},
    {"extract", 0x1f800000, 0x13800000, Template::Dp},
    {"logical shifted", 0x1f000000, 0x0a000000, Template::Dp},
    {"add/sub shifted", 0x1f200000, 0x0b000000, Template::Dp},
    {"add/sub extended", 0x1f200000, 0x0b200000, Template::Dp},
    {"adc/sbc", 0x1fe0fc00, 0x1a000000, Template::Dp},
    {"ccmp/ccmn reg", 0x1fe00c10, 0x1a400000, Template::Dp},
    {"ccmp/ccmn imm", 0x1fe00c10, 0x1a400800, Template::Dp},
    {"cond select", 0x1fe00800, 0x1a800000, Template::Dp},
    {"2-source", 0x5fe00000, 0x1ac00000, Template::Dp},
    {"1-source", 0x5fff0000, 0x5ac00000, Template::Dp},
    {"3-source", 0x1f000000, 0x1b000000, Template::Dp},
    {"ld/st unsigned imm", 0x3f000000, 0x39000000, Template::LoadStore},
    {"ld/st unscaled/pre/post", 0x3f200000, 0x38000000, Template::LoadStore},
    {"ld/st register", 0x3f200c00, 0x38200800, Template::LoadStore},
    {"ld/st pair", 0x3e000000, 0x28000000, Template::LoadStorePair},
    {"b.cond skip", 0xff000010, 0x54000000, Template::SkipBranch},
    {"cbz/cbnz skip", 0x7e000000, 0x34000000, Template::SkipBranch},
    {"tbz/tbnz skip", 0x7e000000, 0x36000000, Template::SkipBranch},
    // Advanced SIMD groups with the crypto, saturating and estimate instructions (the vector
    // registers start random). Unallocated encodings in these groups must UNDEF on both sides.
    {"aes", 0xffffcc00, 0x4e284800, Template::Simd},
    {"sha 3-reg", 0xffe08c00, 0x5e000000, Template::Simd},
    {"sha 2-reg", 0xfffecc00, 0x5e280800, Template::Simd},
    {"pmull/pmull2", 0xbf20fc00, 0x0e20e000, Template::Simd},
    {"pmul", 0xbf20fc00, 0x2e209c00, Template::Simd},
    {"[su]q[r]shl reg", 0x9f20f400, 0x0e204400, Template::Simd},
    {"[su]rshl reg", 0x9f20fc00, 0x0e205400, Template::Simd},
    {"scalar [su]q[r]shl reg", 0xdf20f400, 0x5e204400, Template::Simd},
    {"sq[r]dmulh", 0x9f20fc00, 0x0e20b400, Template::Simd},
    {"scalar sq[r]dmulh", 0xdf20fc00, 0x5e20b400, Template::Simd},
    {"suqadd/usqadd", 0x9f3ffc00, 0x0e203800, Template::Simd},
    {"scalar suqadd/usqadd", 0xdf3ffc00, 0x5e203800, Template::Simd},
    {"sqxtn/uqxtn", 0x9f3ffc00, 0x0e214800, Template::Simd},
    {"sqxtun", 0xbf3ffc00, 0x2e212800, Template::Simd},
    {"scalar sqxtn/uqxtn", 0xdf3ffc00, 0x5e214800, Template::Simd},
    {"scalar sqxtun", 0xff3ffc00, 0x7e212800, Template::Simd},
    {"sq[r]shr[u]n, uq[r]shrn", 0x9f80e400, 0x0f008400, Template::Simd},
    {"scalar sq[r]shr[u]n", 0xdf80e400, 0x5f008400, Template::Simd},
    {"sqshl[u]/uqshl imm", 0x9f80ec00, 0x0f006400, Template::Simd},
    {"scalar sqshl[u]/uqshl imm", 0xdf80ec00, 0x5f006400, Template::Simd},
    {"sqdml[as]l/sqdmull", 0xbf209c00, 0x0e209000, Template::Simd},
    {"scalar sqdml[as]l/sqdmull", 0xff209c00, 0x5e209000, Template::Simd},
    {"by element", 0x9f000400, 0x0f000000, Template::Simd},
    {"scalar by element", 0xdf000400, 0x5f000000, Template::Simd},
    {"frecpe/frsqrte/urecpe/ursqrte", 0x9fbfec00, 0x0ea1c800, Template::Simd},
    {"frecps/frsqrts", 0xbf20fc00, 0x0e20fc00, Template::Simd},
    {"scalar frecpe/frsqrte/frecpx", 0xdfbfdc00, 0x5ea1d800, Template::Simd},
    {"scalar pairwise", 0xdf3e0c00, 0x5e300800, Template::Simd},
};

class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}

  uint32_t bits(unsigned n) { return n >= 32 ? uint32_t(rng_()) : uint32_t(rng_()) & ((1u << n) - 1); }
  uint64_t u64() { return (uint64_t(rng_()) << 32) | rng_(); }

  /// One instruction from template t (by index).
  uint32_t instruction(const Template& t) {
    for (;;) {
      uint32_t w = (uint32_t(rng_()) & ~t.mask) | t.value;
      if (fix(t, w)) return w;
    }
  }

  /// A sequence of n instructions; conditional skips jump over exactly one instruction.
  std::vector<uint32_t> sequence(unsigned n) {
    std::vector<uint32_t> out;
    while (out.size() < n) {
      const Template& t = kTemplates[rng_() % std::size(kTemplates)];
      out.push_back(instruction(t));
      if (t.kind == Template::SkipBranch) out.push_back(instruction(kTemplates[1]));
    }
    return out;
  }

 private:
  static unsigned field(uint32_t w, unsigned pos) { return (w >> pos) & 31; }
  static void set_field(uint32_t& w, unsigned pos, unsigned v) {
    w = (w & ~(31u << pos)) | (v << pos);
  }

  bool fix(const Template& t, uint32_t& w) {
    switch (t.kind) {
      case Template::Dp:
        // Keep X28 (the buffer base) intact so later memory accesses stay in bounds.
        if (field(w, 0) == kBaseReg) return false;
        // Extensions a Cortex-A57 (ARMv8.0) lacks: PAC in 1-source, MTE tag add/sub.
        if ((w & 0x5fff0000) == 0x5ac10000) return false;
        if ((w & 0x1f800000) == 0x11800000) return false;
        return true;
      case Template::LoadStore: {
        set_field(w, 5, kBaseReg);
        if ((w >> 26) & 1) return false;  // FP/SIMD loads are exercised by guest programs
        if (field(w, 0) == kBaseReg) return false;
        if ((w & 0x3f000000) == 0x39000000) {
          w &= ~(0xfc0u << 10);  // unsigned offset: imm12 < 64 (at most 504 bytes)
        } else if ((w & 0x3f200c00) == 0x38200800) {
          set_field(w, 16, 16 + bits(3));  // register offset: a small index register
        } else if ((w >> 10) & 1) {
          // Pre/post-index writeback moves the base: keep imm9 within +-64.
          w = (w & ~(0x1ffu << 12)) | ((bits(7) - 64u) & 0x1ff) << 12;
        }
        return true;
      }
      case Template::LoadStorePair: {
        set_field(w, 5, kBaseReg);
        if ((w >> 26) & 1) return false;                   // SIMD pairs: not here
        const unsigned opc = w >> 30, l = (w >> 22) & 1;
        if (opc == 3) return false;                        // unallocated
        if (opc == 1 && !l) return false;                  // STGP (MTE)
        const unsigned rt = field(w, 0), rt2 = field(w, 10);
        if (rt == kBaseReg || rt2 == kBaseReg) return false;
        if (l && rt == rt2) return false;                  // CONSTRAINED UNPREDICTABLE
        w = (w & ~(0x7fu << 15)) | ((bits(4) - 8u) & 0x7f) << 15;  // imm7 in [-8, 8)
        return true;
      }
      case Template::Simd:
        return true;
      case Template::SkipBranch:
        if ((w & 0xff000000) == 0x54000000) {
          w = (w & 0xff00001f) | (2u << 5);  // imm19 = 2: skip one instruction
          return true;
        }
        if ((w & 0x7e000000) == 0x34000000) {
          w = (w & 0xff00001f) | (2u << 5);
          return true;
        }
        w = (w & 0xfff8001f) | (2u << 5);  // TBZ imm14 = 2
        return true;
    }
    return false;
  }

  std::mt19937 rng_;
};


}  // namespace orrery::tests::fuzz
