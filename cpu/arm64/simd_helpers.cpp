#include "cpu/arm64/simd_helpers.h"

#include <cstring>

#include "cpu/arm64/state.h"

namespace orrery::cpu::arm64 {

uint64_t helper_tbl(tcg::CpuCommon* c, uint64_t desc, uint64_t, uint64_t) {
  Arm64State& s = state_of(*c);
  const TblDesc t = TblDesc::decode(desc);
  uint8_t table[64], idx[16], out[16] = {};
  for (unsigned r = 0; r < t.regs; ++r) std::memcpy(table + 16 * r, &s.v[(t.n + r) % 32], 16);
  std::memcpy(idx, &s.v[t.m], 16);
  std::memcpy(out, &s.v[t.d], 16);  // TBX keeps these bytes for out-of-range indexes
  const unsigned bytes = t.q ? 16 : 8;
  for (unsigned i = 0; i < bytes; ++i) {
    if (idx[i] < 16 * t.regs)
      out[i] = table[idx[i]];
    else if (!t.tbx)
      out[i] = 0;
  }
  if (!t.q) std::memset(out + 8, 0, 8);
  std::memcpy(&s.v[t.d], out, 16);
  return 0;
}

}  // namespace orrery::cpu::arm64
