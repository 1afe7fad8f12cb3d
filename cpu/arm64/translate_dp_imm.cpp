// Data processing (immediate): PC-relative addressing, add/subtract, logical with the bitmask
// immediate, move wide, bitfield and extract.
#include "cpu/arm64/bitmask.h"
#include "cpu/arm64/translate.h"

namespace orrery::cpu::arm64 {

using tcg::ir::Type;
using tcg::ir::Value;

bool Translator::ADR(u32 immlo, u32 immhi, u32 d) {
  int64_t off = sext((uint64_t(immhi) << 2) | immlo, 21);
  set_x(d, e_.pc_rel(pc_ + off));
  return true;
}

bool Translator::ADRP(u32 immlo, u32 immhi, u32 d) {
  int64_t off = sext((uint64_t(immhi) << 2) | immlo, 21) * 4096;
  set_x(d, e_.pc_rel((pc_ & ~0xfffull) + off));
  return true;
}

bool Translator::add_sub_imm(bool sf, bool sub, bool set_flags, u32 sh, u32 imm12, u32 n, u32 d) {
  Value a = get_xsp(n, sf);
  Value b = imm(sf, uint64_t(imm12) << (sh ? 12 : 0));
  Value r;
  if (sub)
    r = sub_flags(a, b, set_flags);
  else
    r = set_flags ? add_with_carry(a, b, e_.c1(false), true) : e_.add(a, b);
  // The flag-setting forms write XZR for register 31 (CMP/CMN); the others write SP.
  if (set_flags)
    set_x(d, r);
  else
    set_xsp(d, r);
  return true;
}

bool Translator::ADD_imm(u32 sf, u32 sh, u32 imm12, u32 n, u32 d) {
  return add_sub_imm(sf, false, false, sh, imm12, n, d);
}
bool Translator::ADDS_imm(u32 sf, u32 sh, u32 imm12, u32 n, u32 d) {
  return add_sub_imm(sf, false, true, sh, imm12, n, d);
}
bool Translator::SUB_imm(u32 sf, u32 sh, u32 imm12, u32 n, u32 d) {
  return add_sub_imm(sf, true, false, sh, imm12, n, d);
}
bool Translator::SUBS_imm(u32 sf, u32 sh, u32 imm12, u32 n, u32 d) {
  return add_sub_imm(sf, true, true, sh, imm12, n, d);
}

bool Translator::logical_imm(bool sf, unsigned opc, u32 N, u32 immr, u32 imms, u32 n, u32 d) {
  std::optional<uint64_t> wmask = decode_bit_masks(N, imms, immr, sf);
  if (!wmask) return unallocated();  // includes sf == 0 && N == 1
  Value a = get_x(n, sf);
  Value k = imm(sf, *wmask);
  switch (opc) {
    case 0:
      set_xsp(d, e_.and_(a, k));
      break;
    case 1:
      set_xsp(d, e_.or_(a, k));
      break;
    case 2:
      set_xsp(d, e_.xor_(a, k));
      break;
    default: {
      Value r = e_.and_(a, k);
      set_flags_logic(r);
      set_x(d, r);  // ANDS writes XZR (TST)
      break;
    }
  }
  return true;
}

bool Translator::AND_imm(u32 sf, u32 N, u32 immr, u32 imms, u32 n, u32 d) {
  return logical_imm(sf, 0, N, immr, imms, n, d);
}
bool Translator::ORR_imm(u32 sf, u32 N, u32 immr, u32 imms, u32 n, u32 d) {
  return logical_imm(sf, 1, N, immr, imms, n, d);
}
bool Translator::EOR_imm(u32 sf, u32 N, u32 immr, u32 imms, u32 n, u32 d) {
  return logical_imm(sf, 2, N, immr, imms, n, d);
}
bool Translator::ANDS_imm(u32 sf, u32 N, u32 immr, u32 imms, u32 n, u32 d) {
  return logical_imm(sf, 3, N, immr, imms, n, d);
}

bool Translator::move_wide(bool sf, unsigned opc, u32 hw, u32 imm16, u32 d) {
  if (!sf && hw >= 2) return unallocated();
  unsigned shift = hw * 16;
  uint64_t k = uint64_t(imm16) << shift;
  switch (opc) {
    case 0:
      set_x(d, imm(sf, ~k));
      break;  // MOVN (imm() truncates to the width)
    case 2:
      set_x(d, imm(sf, k));
      break;  // MOVZ
    default:  // MOVK
      set_x(d, e_.deposit(get_x(d, sf), imm(sf, imm16), shift, 16));
      break;
  }
  return true;
}

bool Translator::MOVN(u32 sf, u32 hw, u32 imm16, u32 d) {
  return move_wide(sf, 0, hw, imm16, d);
}
bool Translator::MOVZ(u32 sf, u32 hw, u32 imm16, u32 d) {
  return move_wide(sf, 2, hw, imm16, d);
}
bool Translator::MOVK(u32 sf, u32 hw, u32 imm16, u32 d) {
  return move_wide(sf, 3, hw, imm16, d);
}

bool Translator::bitfield(bool sf, unsigned opc, u32 N, u32 immr, u32 imms, u32 n, u32 d) {
  if (sf && !N) return unallocated();
  if (!sf && (N || immr >= 32 || imms >= 32)) return unallocated();
  const unsigned width = sf ? 64 : 32;
  Value src = get_x(n, sf);
  Value r;
  // The two shapes of every bitfield alias: imms >= immr extracts src<imms:immr> to bit 0
  // (SBFX/UBFX/BFXIL, plus ASR/LSR/SXT*/UXT*); imms < immr inserts src<imms:0> at bit
  // width - immr (SBFIZ/UBFIZ/BFI, plus LSL).
  if (imms >= immr) {
    unsigned pos = immr, len = imms - immr + 1;
    if (len == width) {
      r = src;  // the whole register: a move for every opc
    } else if (opc == 0) {
      r = e_.extract_s(src, pos, len);
    } else if (opc == 2) {
      r = e_.extract_u(src, pos, len);
    } else {
      Value field = pos ? e_.lshr(src, imm(sf, pos)) : src;
      r = e_.deposit(get_x(d, sf), field, 0, len);
    }
  } else {
    unsigned pos = width - immr, len = imms + 1;
    if (opc == 0) {
      r = e_.shl(e_.extract_s(src, 0, len), imm(sf, pos));
    } else if (opc == 2) {
      r = e_.shl(e_.extract_u(src, 0, len), imm(sf, pos));
    } else {
      r = e_.deposit(get_x(d, sf), src, pos, len);
    }
  }
  set_x(d, r);
  return true;
}

bool Translator::SBFM(u32 sf, u32 N, u32 immr, u32 imms, u32 n, u32 d) {
  return bitfield(sf, 0, N, immr, imms, n, d);
}
bool Translator::BFM(u32 sf, u32 N, u32 immr, u32 imms, u32 n, u32 d) {
  return bitfield(sf, 1, N, immr, imms, n, d);
}
bool Translator::UBFM(u32 sf, u32 N, u32 immr, u32 imms, u32 n, u32 d) {
  return bitfield(sf, 2, N, immr, imms, n, d);
}

bool Translator::EXTR(u32 sf, u32 N, u32 m, u32 imms, u32 n, u32 d) {
  if (N != sf || (!sf && imms >= 32)) return unallocated();
  const unsigned width = sf ? 64 : 32;
  Value lo = get_x(m, sf);
  Value r;
  if (imms == 0) {
    r = lo;
  } else if (n == m) {
    r = e_.rotr(lo, imm(sf, imms));  // ROR (immediate)
  } else {
    Value hi = get_x(n, sf);
    r = e_.or_(e_.lshr(lo, imm(sf, imms)), e_.shl(hi, imm(sf, width - imms)));
  }
  set_x(d, r);
  return true;
}

}  // namespace orrery::cpu::arm64
