// Data processing (register): logical and add/subtract with shifted or extended operands,
// add/subtract with carry, conditional compare and select, 1- and 2-source, 3-source multiply.
#include "cpu/arm64/helpers.h"
#include "cpu/arm64/translate.h"

namespace orrery::cpu::arm64 {

using tcg::ir::Cond;
using tcg::ir::Opcode;
using tcg::ir::Type;
using tcg::ir::Value;

// ---- Logical (shifted register) ----

bool Translator::logical_shift(bool sf, unsigned opc, bool invert, u32 shift, u32 m, u32 imm6,
                               u32 n, u32 d) {
  if (!sf && imm6 >= 32) return unallocated();
  Value b = shift_by(get_x(m, sf), shift, imm6);
  if (invert) b = e_.not_(b);
  Value a = get_x(n, sf);
  Value r;
  switch (opc) {
    case 0:
      r = e_.and_(a, b);
      break;
    case 1:
      r = e_.or_(a, b);
      break;
    case 2:
      r = e_.xor_(a, b);
      break;
    default:
      r = e_.and_(a, b);
      set_flags_logic(r);
      break;
  }
  set_x(d, r);
  return true;
}

bool Translator::AND_shift(u32 sf, u32 shift, u32 m, u32 imm6, u32 n, u32 d) {
  return logical_shift(sf, 0, false, shift, m, imm6, n, d);
}
bool Translator::BIC_shift(u32 sf, u32 shift, u32 m, u32 imm6, u32 n, u32 d) {
  return logical_shift(sf, 0, true, shift, m, imm6, n, d);
}
bool Translator::ORR_shift(u32 sf, u32 shift, u32 m, u32 imm6, u32 n, u32 d) {
  return logical_shift(sf, 1, false, shift, m, imm6, n, d);
}
bool Translator::ORN_shift(u32 sf, u32 shift, u32 m, u32 imm6, u32 n, u32 d) {
  return logical_shift(sf, 1, true, shift, m, imm6, n, d);
}
bool Translator::EOR_shift(u32 sf, u32 shift, u32 m, u32 imm6, u32 n, u32 d) {
  return logical_shift(sf, 2, false, shift, m, imm6, n, d);
}
bool Translator::EON_shift(u32 sf, u32 shift, u32 m, u32 imm6, u32 n, u32 d) {
  return logical_shift(sf, 2, true, shift, m, imm6, n, d);
}
bool Translator::ANDS_shift(u32 sf, u32 shift, u32 m, u32 imm6, u32 n, u32 d) {
  return logical_shift(sf, 3, false, shift, m, imm6, n, d);
}
bool Translator::BICS_shift(u32 sf, u32 shift, u32 m, u32 imm6, u32 n, u32 d) {
  return logical_shift(sf, 3, true, shift, m, imm6, n, d);
}

// ---- Add/subtract (shifted and extended register) ----

bool Translator::add_sub_shift(bool sf, bool sub, bool set_flags, u32 shift, u32 m, u32 imm6, u32 n,
                               u32 d) {
  if (shift == 3 || (!sf && imm6 >= 32)) return unallocated();
  Value a = get_x(n, sf);  // register 31 is XZR in this form (NEG/NEGS/CMP/CMN)
  Value b = shift_by(get_x(m, sf), shift, imm6);
  Value r;
  if (sub)
    r = sub_flags(a, b, set_flags);
  else
    r = set_flags ? add_with_carry(a, b, e_.c1(false), true) : e_.add(a, b);
  set_x(d, r);
  return true;
}

bool Translator::ADD_shift(u32 sf, u32 shift, u32 m, u32 imm6, u32 n, u32 d) {
  return add_sub_shift(sf, false, false, shift, m, imm6, n, d);
}
bool Translator::ADDS_shift(u32 sf, u32 shift, u32 m, u32 imm6, u32 n, u32 d) {
  return add_sub_shift(sf, false, true, shift, m, imm6, n, d);
}
bool Translator::SUB_shift(u32 sf, u32 shift, u32 m, u32 imm6, u32 n, u32 d) {
  return add_sub_shift(sf, true, false, shift, m, imm6, n, d);
}
bool Translator::SUBS_shift(u32 sf, u32 shift, u32 m, u32 imm6, u32 n, u32 d) {
  return add_sub_shift(sf, true, true, shift, m, imm6, n, d);
}

bool Translator::add_sub_ext(bool sf, bool sub, bool set_flags, u32 m, u32 option, u32 imm3, u32 n,
                             u32 d) {
  if (imm3 > 4) return unallocated();
  Value a = get_xsp(n, sf);  // register 31 is SP in this form
  Value b = extend_reg(m, option, imm3, sf);
  Value r;
  if (sub)
    r = sub_flags(a, b, set_flags);
  else
    r = set_flags ? add_with_carry(a, b, e_.c1(false), true) : e_.add(a, b);
  if (set_flags)
    set_x(d, r);
  else
    set_xsp(d, r);
  return true;
}

bool Translator::ADD_ext(u32 sf, u32 m, u32 option, u32 imm3, u32 n, u32 d) {
  return add_sub_ext(sf, false, false, m, option, imm3, n, d);
}
bool Translator::ADDS_ext(u32 sf, u32 m, u32 option, u32 imm3, u32 n, u32 d) {
  return add_sub_ext(sf, false, true, m, option, imm3, n, d);
}
bool Translator::SUB_ext(u32 sf, u32 m, u32 option, u32 imm3, u32 n, u32 d) {
  return add_sub_ext(sf, true, false, m, option, imm3, n, d);
}
bool Translator::SUBS_ext(u32 sf, u32 m, u32 option, u32 imm3, u32 n, u32 d) {
  return add_sub_ext(sf, true, true, m, option, imm3, n, d);
}

// ---- Add/subtract with carry ----

bool Translator::adc_sbc(bool sf, bool sub, bool set_flags, u32 m, u32 n, u32 d) {
  Value a = get_x(n, sf);
  Value b = get_x(m, sf);
  if (sub) b = e_.not_(b);  // SBC: Rn + NOT(Rm) + C
  set_x(d, add_with_carry(a, b, get_flag(kOffC), set_flags));
  return true;
}

bool Translator::ADC(u32 sf, u32 m, u32 n, u32 d) {
  return adc_sbc(sf, false, false, m, n, d);
}
bool Translator::ADCS(u32 sf, u32 m, u32 n, u32 d) {
  return adc_sbc(sf, false, true, m, n, d);
}
bool Translator::SBC(u32 sf, u32 m, u32 n, u32 d) {
  return adc_sbc(sf, true, false, m, n, d);
}
bool Translator::SBCS(u32 sf, u32 m, u32 n, u32 d) {
  return adc_sbc(sf, true, true, m, n, d);
}

// ---- Conditional compare ----

bool Translator::cond_compare(bool sf, bool sub, Value b, u32 cond, u32 n, u32 nzcv) {
  Value a = get_x(n, sf);
  Value r, c, v;
  if (sub) {
    r = e_.sub(a, b);
    c = e_.cmp(Cond::Uge, a, b);
    v = e_.add_ovf(a, e_.not_(b), e_.c1(true));
  } else {
    r = e_.add(a, b);
    c = e_.add_carry(a, b, e_.c1(false));
    v = e_.add_ovf(a, b, e_.c1(false));
  }
  Value zero = imm(sf, 0);
  Value flags[4] = {e_.cmp(Cond::Slt, r, zero), e_.cmp(Cond::Eq, r, zero), c, v};
  const uint32_t offs[4] = {kOffN, kOffZ, kOffC, kOffV};
  Value holds = cond_holds(cond);
  for (unsigned i = 0; i < 4; ++i) {
    bool k = (nzcv >> (3 - i)) & 1;
    set_flag(offs[i], e_.select(holds, flags[i], e_.c1(k)));
  }
  return true;
}

bool Translator::CCMN_reg(u32 sf, u32 m, u32 cond, u32 n, u32 nzcv) {
  return cond_compare(sf, false, get_x(m, sf), cond, n, nzcv);
}
bool Translator::CCMP_reg(u32 sf, u32 m, u32 cond, u32 n, u32 nzcv) {
  return cond_compare(sf, true, get_x(m, sf), cond, n, nzcv);
}
bool Translator::CCMN_imm(u32 sf, u32 imm5, u32 cond, u32 n, u32 nzcv) {
  return cond_compare(sf, false, imm(sf, imm5), cond, n, nzcv);
}
bool Translator::CCMP_imm(u32 sf, u32 imm5, u32 cond, u32 n, u32 nzcv) {
  return cond_compare(sf, true, imm(sf, imm5), cond, n, nzcv);
}

// ---- Conditional select ----

bool Translator::cond_select(bool sf, bool invert, bool increment, u32 m, u32 cond, u32 n, u32 d) {
  Value a = get_x(n, sf);
  Value b = get_x(m, sf);
  if (invert) b = e_.not_(b);
  if (increment) b = e_.add(b, imm(sf, 1));
  set_x(d, e_.select(cond_holds(cond), a, b));
  return true;
}

bool Translator::CSEL(u32 sf, u32 m, u32 cond, u32 n, u32 d) {
  return cond_select(sf, false, false, m, cond, n, d);
}
bool Translator::CSINC(u32 sf, u32 m, u32 cond, u32 n, u32 d) {
  return cond_select(sf, false, true, m, cond, n, d);
}
bool Translator::CSINV(u32 sf, u32 m, u32 cond, u32 n, u32 d) {
  return cond_select(sf, true, false, m, cond, n, d);
}
bool Translator::CSNEG(u32 sf, u32 m, u32 cond, u32 n, u32 d) {
  return cond_select(sf, true, true, m, cond, n, d);
}

// ---- Data processing (2 source) ----
// The IR's division and shift semantics are AArch64's: x/0 = 0, INT_MIN/-1 = INT_MIN, and
// shift amounts modulo the width.

bool Translator::shift_var(bool sf, Opcode op, u32 m, u32 n, u32 d) {
  Value a = get_x(n, sf);
  Value b = get_x(m, sf);
  set_x(d, e_.emit(op, ty(sf), {a, b}));
  return true;
}

bool Translator::UDIV(u32 sf, u32 m, u32 n, u32 d) {
  return shift_var(sf, Opcode::DivU, m, n, d);
}
bool Translator::SDIV(u32 sf, u32 m, u32 n, u32 d) {
  return shift_var(sf, Opcode::DivS, m, n, d);
}
bool Translator::LSLV(u32 sf, u32 m, u32 n, u32 d) {
  return shift_var(sf, Opcode::Shl, m, n, d);
}
bool Translator::LSRV(u32 sf, u32 m, u32 n, u32 d) {
  return shift_var(sf, Opcode::Lshr, m, n, d);
}
bool Translator::ASRV(u32 sf, u32 m, u32 n, u32 d) {
  return shift_var(sf, Opcode::Ashr, m, n, d);
}
bool Translator::RORV(u32 sf, u32 m, u32 n, u32 d) {
  return shift_var(sf, Opcode::Rotr, m, n, d);
}

bool Translator::crc32(bool sf, bool castagnoli, u32 m, u32 sz, u32 n, u32 d) {
  if (sf != (sz == 3)) return unallocated();  // X data only with CRC32X/CRC32CX
  Value acc = e_.zext(Type::I64, get_x(n, false));
  Value data = get_x(m, true);
  uint64_t desc = (1u << sz) | (castagnoli ? kCrc32Castagnoli : 0);
  set_x(d, e_.trunc(Type::I32, e_.call(kHelperCrc32, {acc, data, e_.c64(desc)})));
  return true;
}

bool Translator::CRC32(u32 sf, u32 m, u32 sz, u32 n, u32 d) {
  return crc32(sf, false, m, sz, n, d);
}
bool Translator::CRC32C(u32 sf, u32 m, u32 sz, u32 n, u32 d) {
  return crc32(sf, true, m, sz, n, d);
}

// ---- Data processing (1 source) ----

bool Translator::RBIT(u32 sf, u32 n, u32 d) {
  set_x(d, e_.bitrev(get_x(n, sf)));
  return true;
}

bool Translator::REV16(u32 sf, u32 n, u32 d) {
  Value x = get_x(n, sf);
  Value lo_bytes = imm(sf, 0x00ff00ff00ff00ffull);
  Value hi_bytes = imm(sf, 0xff00ff00ff00ff00ull);
  Value eight = imm(sf, 8);
  set_x(d, e_.or_(e_.and_(e_.lshr(x, eight), lo_bytes), e_.and_(e_.shl(x, eight), hi_bytes)));
  return true;
}

bool Translator::REV_w(u32 n, u32 d) {
  set_x(d, e_.bswap(get_x(n, false)));
  return true;
}

bool Translator::REV32(u32 n, u32 d) {
  // Byte-reverse each word: reverse all eight bytes, then swap the words back.
  set_x(d, e_.rotr(e_.bswap(get_x(n, true)), e_.c64(32)));
  return true;
}

bool Translator::REV_x(u32 n, u32 d) {
  set_x(d, e_.bswap(get_x(n, true)));
  return true;
}

bool Translator::CLZ(u32 sf, u32 n, u32 d) {
  set_x(d, e_.clz(get_x(n, sf)));
  return true;
}

bool Translator::CLS(u32 sf, u32 n, u32 d) {
  // Bit i of x ^ (x >> 1, arithmetic) is set where bits i and i+1 differ; the top bit is 0.
  Value x = get_x(n, sf);
  Value y = e_.xor_(x, e_.ashr(x, imm(sf, 1)));
  set_x(d, e_.sub(e_.clz(y), imm(sf, 1)));
  return true;
}

// ---- Data processing (3 source) ----

bool Translator::MADD(u32 sf, u32 m, u32 a, u32 n, u32 d) {
  set_x(d, e_.add(get_x(a, sf), e_.mul(get_x(n, sf), get_x(m, sf))));
  return true;
}

bool Translator::MSUB(u32 sf, u32 m, u32 a, u32 n, u32 d) {
  set_x(d, e_.sub(get_x(a, sf), e_.mul(get_x(n, sf), get_x(m, sf))));
  return true;
}

bool Translator::mul_long(bool sign, bool sub, u32 m, u32 a, u32 n, u32 d) {
  // 32 x 32 -> 64 is exact in a 64-bit multiply once both operands are extended.
  Value wn = get_x(n, false), wm = get_x(m, false);
  Value xn = sign ? e_.sext(Type::I64, wn) : e_.zext(Type::I64, wn);
  Value xm = sign ? e_.sext(Type::I64, wm) : e_.zext(Type::I64, wm);
  Value p = e_.mul(xn, xm);
  Value acc = get_x(a, true);
  set_x(d, sub ? e_.sub(acc, p) : e_.add(acc, p));
  return true;
}

bool Translator::SMADDL(u32 m, u32 a, u32 n, u32 d) {
  return mul_long(true, false, m, a, n, d);
}
bool Translator::SMSUBL(u32 m, u32 a, u32 n, u32 d) {
  return mul_long(true, true, m, a, n, d);
}
bool Translator::UMADDL(u32 m, u32 a, u32 n, u32 d) {
  return mul_long(false, false, m, a, n, d);
}
bool Translator::UMSUBL(u32 m, u32 a, u32 n, u32 d) {
  return mul_long(false, true, m, a, n, d);
}

bool Translator::SMULH(u32 m, u32 n, u32 d) {
  set_x(d, e_.mulhs(get_x(n, true), get_x(m, true)));
  return true;
}

bool Translator::UMULH(u32 m, u32 n, u32 d) {
  set_x(d, e_.mulhu(get_x(n, true), get_x(m, true)));
  return true;
}

}  // namespace orrery::cpu::arm64
