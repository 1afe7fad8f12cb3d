// Advanced SIMD structure loads and stores: LD1-LD4/ST1-ST4 (multiple structures, 1-4
// registers), the single-structure lane forms, and LD1R-LD4R, each with no offset or with
// post-index by immediate (the transfer size) or by register. Loads read all memory first and
// write registers afterwards, so a fault leaves the registers and the base untouched.
#include <vector>

#include "cpu/arm64/translate.h"

namespace orrery::cpu::arm64 {

using tcg::ir::Type;
using tcg::ir::Value;

namespace {

Type lane_type(unsigned esize) {
  return esize == 8 ? Type::I8 : esize == 16 ? Type::I16 : esize == 32 ? Type::I32 : Type::I64;
}

constexpr uint64_t kReplicateMul[4] = {0x0101010101010101ull, 0x0001000100010001ull,
                                       0x0000000100000001ull, 1};

}  // namespace

bool Translator::ldst_multi(u32 Q, u32 L, u32 m, u32 opc, u32 size, u32 n, u32 t, bool post) {
  unsigned rpt = 0, selem = 0;
  switch (opc) {
    case 0: rpt = 1, selem = 4; break;
    case 2: rpt = 4, selem = 1; break;
    case 4: rpt = 1, selem = 3; break;
    case 6: rpt = 3, selem = 1; break;
    case 7: rpt = 1, selem = 1; break;
    case 8: rpt = 1, selem = 2; break;
    case 10: rpt = 2, selem = 1; break;
    default: return unallocated();
  }
  if (size == 3 && !Q && selem != 1) return unallocated();
  if (!post && m != 0) return unallocated();
  if (!fp_access_check()) return true;
  const unsigned ebytes = 1u << size, esize = 8 * ebytes;
  const unsigned datasize = Q ? 128 : 64, elements = datasize / esize;
  const unsigned total = rpt * selem * datasize / 8;
  Value base = base_reg(n);
  mte_check(base, total, !L, post || n != 31);
  if (selem == 1) {
    // Whole registers, contiguous: 64-bit accesses (element order is little-endian anyway).
    std::vector<std::pair<unsigned, Vec>> loaded;
    for (unsigned r = 0; r < rpt; ++r) {
      const unsigned tt = (t + r) % 32;
      for (unsigned h = 0; h < datasize / 64; ++h) {
        Value addr = e_.add(base, e_.c64((r * datasize / 8) + 8 * h));
        if (L) {
          if (h == 0) loaded.push_back({tt, Vec{{Value{}, Value{}}}});
          loaded.back().second.h[h] = e_.load(Type::I64, addr, memop(3));
        } else {
          e_.store(addr, e_.get_reg(Type::I64, h ? off_vhi(tt) : off_vlo(tt)), memop(3));
        }
      }
    }
    for (auto& [tt, v] : loaded) write_vec(tt, v, Q);
  } else {
    // Interleaved structures: element e of register t+s is at (e * selem + s) * ebytes.
    std::vector<Vec> regs(selem);
    if (L)
      for (Vec& v : regs) v = Vec{{e_.c64(0), e_.c64(0)}};
    else
      for (unsigned s = 0; s < selem; ++s) regs[s] = read_vec((t + s) % 32);
    for (unsigned e = 0; e < elements; ++e) {
      for (unsigned s = 0; s < selem; ++s) {
        Value addr = e_.add(base, e_.c64((e * selem + s) * ebytes));
        if (L) {
          Value x = e_.load(Type::I64, addr, memop(size));
          set_lane(regs[s], esize, e, x);
        } else {
          Value x = get_lane(regs[s], esize, e);
          e_.store(addr, e_.trunc(lane_type(esize), x), memop(size));
        }
      }
    }
    if (L)
      for (unsigned s = 0; s < selem; ++s) write_vec((t + s) % 32, regs[s], Q);
  }
  if (post) set_xsp(n, e_.add(base, m == 31 ? e_.c64(total) : get_x(m, true)));
  return true;
}

bool Translator::ldst_single(u32 Q, u32 L, u32 R, u32 m, u32 opc, u32 S, u32 size, u32 n, u32 t,
                             bool post) {
  unsigned scale = opc >> 1;
  const unsigned selem = ((opc & 1) << 1 | R) + 1;
  bool replicate = false;
  unsigned index = 0;
  switch (scale) {
    case 3:
      if (!L || S) return unallocated();
      scale = size;
      replicate = true;
      break;
    case 0:
      index = Q << 3 | S << 2 | size;
      break;
    case 1:
      if (size & 1) return unallocated();
      index = Q << 2 | S << 1 | size >> 1;
      break;
    default:
      if (size & 2) return unallocated();
      if (!(size & 1)) {
        index = Q << 1 | S;
      } else {
        if (S) return unallocated();
        index = Q;
        scale = 3;
      }
      break;
  }
  if (!post && m != 0) return unallocated();
  if (!fp_access_check()) return true;
  const unsigned ebytes = 1u << scale, esize = 8 * ebytes;
  Value base = base_reg(n);
  mte_check(base, selem * ebytes, !L, post || n != 31);
  std::vector<Value> vals(selem);
  for (unsigned s = 0; s < selem; ++s) {
    Value addr = e_.add(base, e_.c64(s * ebytes));
    const unsigned tt = (t + s) % 32;
    if (L) {
      vals[s] = e_.load(Type::I64, addr, memop(scale));
    } else {
      Vec v = read_vec(tt);
      e_.store(addr, e_.trunc(lane_type(esize), get_lane(v, esize, index)), memop(scale));
    }
  }
  if (L) {
    for (unsigned s = 0; s < selem; ++s) {
      const unsigned tt = (t + s) % 32;
      if (replicate) {
        Value rep = scale == 3 ? vals[s] : e_.mul(vals[s], e_.c64(kReplicateMul[scale]));
        write_vreg(tt, rep, Q ? rep : Value{});
      } else {
        Vec v = read_vec(tt);
        set_lane(v, esize, index, vals[s]);
        write_vec(tt, v, true);
      }
    }
  }
  if (post) set_xsp(n, e_.add(base, m == 31 ? e_.c64(selem * ebytes) : get_x(m, true)));
  return true;
}

bool Translator::LDST_multi(u32 Q, u32 L, u32 opc, u32 size, u32 n, u32 t) {
  return ldst_multi(Q, L, 0, opc, size, n, t, false);
}
bool Translator::LDST_multi_post(u32 Q, u32 L, u32 m, u32 opc, u32 size, u32 n, u32 t) {
  return ldst_multi(Q, L, m, opc, size, n, t, true);
}
bool Translator::LDST_single(u32 Q, u32 L, u32 R, u32 opc, u32 S, u32 size, u32 n, u32 t) {
  return ldst_single(Q, L, R, 0, opc, S, size, n, t, false);
}
bool Translator::LDST_single_post(u32 Q, u32 L, u32 R, u32 m, u32 opc, u32 S, u32 size, u32 n,
                                  u32 t) {
  return ldst_single(Q, L, R, m, opc, S, size, n, t, true);
}

}  // namespace orrery::cpu::arm64
