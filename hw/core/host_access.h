// A guest access of 1, 2, 4 or 8 bytes to host RAM as exactly one host load or store. Guest
// code relies on that single-copy atomicity (a spinlock release is one store). A memcpy with a
// run-time size does not give it: GCC inlines it as overlapping head and tail moves, which
// write a 4- or 8-byte value twice, so another vCPU's store landing between the two (taking a
// just-released lock) was overwritten. Each case below is a fixed-size copy, one host move.
#pragma once

#include <cstdint>
#include <cstring>

namespace orrery::hw {

/// Loads size (1, 2, 4 or 8; at most 8) bytes, zero-extended (little-endian, as host and guests).
inline uint64_t host_load(const uint8_t* p, unsigned size) {
  switch (size) {
    case 1:
      return *p;
    case 2: {
      uint16_t v;
      std::memcpy(&v, p, 2);
      return v;
    }
    case 4: {
      uint32_t v;
      std::memcpy(&v, p, 4);
      return v;
    }
    case 8: {
      uint64_t v;
      std::memcpy(&v, p, 8);
      return v;
    }
    default: {  // an odd size below 8 (no single move exists for it)
      uint64_t v = 0;
      std::memcpy(&v, p, size < 8 ? size : 8);
      return v;
    }
  }
}

/// Stores the low size (1, 2, 4 or 8; at most 8) bytes of v.
inline void host_store(uint8_t* p, unsigned size, uint64_t v) {
  switch (size) {
    case 1:
      *p = uint8_t(v);
      return;
    case 2: {
      const uint16_t x = uint16_t(v);
      std::memcpy(p, &x, 2);
      return;
    }
    case 4: {
      const uint32_t x = uint32_t(v);
      std::memcpy(p, &x, 4);
      return;
    }
    case 8:
      std::memcpy(p, &v, 8);
      return;
    default:  // an odd size below 8 (no single move exists for it)
      std::memcpy(p, &v, size < 8 ? size : 8);
      return;
  }
}

}  // namespace orrery::hw
