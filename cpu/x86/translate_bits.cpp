// Shifts and rotates (incl. RCL/RCR, SHLD/SHRD), bit tests and scans, POPCNT/LZCNT/TZCNT,
// BMI1, BMI2, ADX and RDRAND/RDSEED.
#include <sys/random.h>

#include "cpu/x86/exception.h"
#include "cpu/x86/translators.h"

namespace orrery::cpu::x86 {

using tcg::ir::Cond;
using tcg::ir::Type;
using tcg::ir::Value;

namespace {

uint64_t width_mask(unsigned w) {
  return w >= 64 ? ~0ull : (1ull << w) - 1;
}

// RCL/RCR: a = value, b = count (already masked to 5 or 6 bits), c = width | cf << 8 |
// left << 9 | want_flags << 10. Returns the result, or (want_flags) CF | OF << 11.
uint64_t helper_rcx(tcg::CpuCommon*, uint64_t a, uint64_t count, uint64_t c) {
  const unsigned w = c & 0xff;
  bool cf = (c >> 8) & 1;
  const bool left = (c >> 9) & 1;
  const uint64_t m = width_mask(w);
  a &= m;
  const unsigned n = w < 32 ? unsigned(count % (w + 1)) : unsigned(count);
  for (unsigned i = 0; i < n; ++i) {
    if (left) {
      const bool out = (a >> (w - 1)) & 1;
      a = ((a << 1) | cf) & m;
      cf = out;
    } else {
      const bool out = a & 1;
      a = (a >> 1) | (uint64_t(cf) << (w - 1));
      cf = out;
    }
  }
  if (!((c >> 10) & 1)) return a;
  const bool msb = (a >> (w - 1)) & 1;
  const bool of = left ? msb != cf : msb != bool((a >> (w - 2)) & 1);
  return uint64_t(cf) | uint64_t(of) << 11;
}
constexpr tcg::ir::Helper kHelperRcx{"x86_rcx", helper_rcx, true};

uint64_t helper_pdep(tcg::CpuCommon*, uint64_t src, uint64_t mask, uint64_t) {
  uint64_t r = 0;
  for (uint64_t bb = 1; mask; bb <<= 1) {
    if (src & bb) r |= mask & -mask;
    mask &= mask - 1;
  }
  return r;
}
uint64_t helper_pext(tcg::CpuCommon*, uint64_t src, uint64_t mask, uint64_t) {
  uint64_t r = 0;
  for (uint64_t bb = 1; mask; bb <<= 1) {
    if (src & mask & -mask) r |= bb;
    mask &= mask - 1;
  }
  return r;
}
constexpr tcg::ir::Helper kHelperPdep{"x86_pdep", helper_pdep, true};
constexpr tcg::ir::Helper kHelperPext{"x86_pext", helper_pext, true};

uint64_t helper_bextr(tcg::CpuCommon*, uint64_t src, uint64_t ctl, uint64_t w) {
  const unsigned start = ctl & 0xff, len = (ctl >> 8) & 0xff;
  if (start >= w) return 0;
  const uint64_t v = src >> start;
  return len >= 64 ? v : v & width_mask(len);
}
constexpr tcg::ir::Helper kHelperBextr{"x86_bextr", helper_bextr, true};

// RDRAND/RDSEED: host randomness (not pure: each call differs).
uint64_t helper_random(tcg::CpuCommon*, uint64_t, uint64_t, uint64_t) {
  uint64_t v = 0;
  if (getrandom(&v, sizeof v, 0) != sizeof v) v = 0x9e3779b97f4a7c15ull;  // never expected
  return v;
}
constexpr tcg::ir::Helper kHelperRandom{"x86_random", helper_random};

unsigned count_mask(Type ty) {
  return ty == Type::I64 ? 63 : 31;
}

/// The count operand (operand 1) masked, as I64; sets is_const/const_val when immediate.
Value shift_count(TranslateContext& t, Type ty, bool& is_const, uint64_t& const_val) {
  auto& e = t.e();
  if (t.num_visible_ops() < 2) {  // the D0/D1 form: count 1 (Zydis may show it implicitly)
    is_const = true;
    const_val = 1;
    return e.c64(1);
  }
  if (t.is_imm(1)) {
    is_const = true;
    const_val = t.op(1).imm.value.u & count_mask(ty);
    return e.c64(const_val);
  }
  is_const = false;
  return e.and_(e.zext(Type::I64, t.read(1)), e.c64(count_mask(ty)));
}

/// Records a shift's flags, keeping the old ones when the (dynamic) count is zero.
void shift_flags(TranslateContext& t, CcOp group, Type ty, Value res, Value src, Value zero) {
  auto& e = t.e();
  if (!zero.valid()) {
    t.set_cc(group, ty, res, src);
    return;
  }
  const uint32_t op = uint32_t(group) + (ty == Type::I8    ? 0
                                         : ty == Type::I16 ? 1
                                         : ty == Type::I32 ? 2
                                                           : 3);
  Value old_op = e.get_reg(Type::I32, kCcOpOffset);
  Value old_dst = e.get_reg(Type::I64, kCcDstOffset);
  Value old_src = e.get_reg(Type::I64, kCcSrcOffset);
  e.set_reg(kCcDstOffset, e.select(zero, old_dst, t.zext64(e.trunc(ty, res))));
  e.set_reg(kCcSrcOffset, e.select(zero, old_src, t.zext64(e.trunc(ty, src))));
  e.set_reg(kCcOpOffset, e.select(zero, old_op, e.c32(op)));
  t.cc_unknown();
}

/// Merges CF and OF (I1 values) into EFLAGS; with `zero` valid, only when it is false.
void set_cf_of(TranslateContext& t, Value cf, Value of, Value zero) {
  auto& e = t.e();
  Value ef = t.get_eflags();
  Value nv = e.and_(ef, e.c64(~(eflags::kCf | eflags::kOf)));
  nv = e.or_(nv, e.zext(Type::I64, cf));
  if (of.valid())
    nv = e.or_(nv, e.shl(e.zext(Type::I64, of), e.c64(11)));
  else
    nv = e.or_(nv, e.and_(ef, e.c64(eflags::kOf)));
  if (zero.valid()) nv = e.select(zero, ef, nv);
  t.set_arith_flags(nv);
}

}  // namespace

// ---- Shifts ----

bool tr_shift(TranslateContext& t) {
  auto& e = t.e();
  const Type ty = t.type_of_op(0);
  const unsigned w = tcg::ir::bits(ty);
  bool is_const;
  uint64_t k;
  Value n = shift_count(t, ty, is_const, k);
  Value a = t.read(0);
  if (is_const && k == 0) {
    t.write(0, a);  // no flag change; a 32-bit register is still zero-extended
    return true;
  }
  const ZydisMnemonic m = t.mnemonic();
  Value a64 = m == ZYDIS_MNEMONIC_SAR ? e.sext(Type::I64, a) : e.zext(Type::I64, a);
  Value n1 = e.sub(n, e.c64(1));
  Value res, src;
  if (m == ZYDIS_MNEMONIC_SHL) {
    res = e.shl(a64, n);
    src = e.shl(a64, n1);
  } else if (m == ZYDIS_MNEMONIC_SHR) {
    res = e.lshr(a64, n);
    src = e.lshr(a64, n1);
  } else {
    res = e.ashr(a64, n);
    src = e.ashr(a64, n1);
  }
  (void)w;
  res = e.trunc(ty, res);
  t.write(0, res);
  Value zero = is_const ? Value{} : e.cmp(Cond::Eq, n, e.c64(0));
  shift_flags(t, m == ZYDIS_MNEMONIC_SHL ? CcOp::ShlB : CcOp::SarB, ty, res, src, zero);
  return true;
}

bool tr_shiftx(TranslateContext& t) {  // SARX/SHLX/SHRX: no flags
  auto& e = t.e();
  const Type ty = t.type_of_op(0);
  Value a = t.read(1);
  Value n = e.and_(t.read(2), t.konst(ty, count_mask(ty)));
  Value r;
  switch (t.mnemonic()) {
    case ZYDIS_MNEMONIC_SHLX:
      r = e.shl(a, n);
      break;
    case ZYDIS_MNEMONIC_SHRX:
      r = e.lshr(a, n);
      break;
    default:
      r = e.ashr(a, n);
      break;
  }
  t.write(0, r);
  return true;
}

bool tr_rotate(TranslateContext& t) {
  auto& e = t.e();
  const Type ty = t.type_of_op(0);
  const unsigned w = tcg::ir::bits(ty);
  bool is_const;
  uint64_t k;
  Value n64 = shift_count(t, ty, is_const, k);
  Value a = t.read(0);
  if (is_const && k == 0) {
    t.write(0, a);
    return true;
  }
  const bool left = t.mnemonic() == ZYDIS_MNEMONIC_ROL;
  Value n = e.trunc(ty, n64);
  Value r = left ? e.rotr(a, e.neg(n)) : e.rotr(a, n);  // amounts are modulo the width
  t.write(0, r);
  Value cf, of;
  if (left) {
    cf = e.trunc(Type::I1, r);
    of = e.xor_(t.sign_of(r), cf);
  } else {
    cf = t.sign_of(r);
    of = e.xor_(cf, e.trunc(Type::I1, e.lshr(r, t.konst(ty, w - 2))));
  }
  set_cf_of(t, cf, of, is_const ? Value{} : e.cmp(Cond::Eq, n64, e.c64(0)));
  return true;
}

bool tr_rorx(TranslateContext& t) {
  const Type ty = t.type_of_op(0);
  Value a = t.read(1);
  t.write(0, t.e().rotr(a, t.konst(ty, t.op(2).imm.value.u & count_mask(ty))));
  return true;
}

bool tr_rcl_rcr(TranslateContext& t) {
  auto& e = t.e();
  const Type ty = t.type_of_op(0);
  const unsigned w = tcg::ir::bits(ty);
  bool is_const;
  uint64_t k;
  Value n = shift_count(t, ty, is_const, k);
  Value a = t.read(0);
  if (is_const && k == 0) {
    t.write(0, a);
    return true;
  }
  const bool left = t.mnemonic() == ZYDIS_MNEMONIC_RCL;
  Value cf = e.zext(Type::I64, t.get_cf());
  Value desc = e.or_(e.c64(w | uint64_t(left) << 9), e.shl(cf, e.c64(8)));
  Value a64 = t.zext64(a);
  Value r = e.call(kHelperRcx, {a64, n, desc});
  Value fl = e.call(kHelperRcx, {a64, n, e.or_(desc, e.c64(1u << 10))});
  t.write(0, e.trunc(ty, r));
  // Only CF and OF change; a count that is 0 modulo width+1 keeps CF and yields OF from it.
  Value ef = t.get_eflags();
  Value nv = e.or_(e.and_(ef, e.c64(~(eflags::kCf | eflags::kOf))), fl);
  if (!is_const) nv = e.select(e.cmp(Cond::Eq, n, e.c64(0)), ef, nv);
  t.set_arith_flags(nv);
  return true;
}

bool tr_shld_shrd(TranslateContext& t) {
  auto& e = t.e();
  const Type ty = t.type_of_op(0);
  const unsigned w = tcg::ir::bits(ty);
  const bool left = t.mnemonic() == ZYDIS_MNEMONIC_SHLD;
  Value n;
  bool is_const = false;
  uint64_t k = 0;
  if (t.is_imm(2)) {
    is_const = true;
    k = t.op(2).imm.value.u & count_mask(ty);
    n = e.c64(k);
  } else {
    n = e.and_(e.zext(Type::I64, t.read(2)), e.c64(count_mask(ty)));
  }
  Value d = t.read(0), s = t.read(1);
  if (is_const && k == 0) {
    t.write(0, d);
    return true;
  }
  Value res, src;  // src: the value shifted by n-1 (its edge bit is CF)
  Value n1 = e.sub(n, e.c64(1));
  if (w == 64) {
    Value inv = e.sub(e.c64(64), n), inv1 = e.sub(e.c64(65), n);
    Value one = e.cmp(Cond::Eq, n, e.c64(1));
    if (left) {
      res = e.or_(e.shl(d, n), e.lshr(s, inv));
      src = e.select(one, d, e.or_(e.shl(d, n1), e.lshr(s, inv1)));
    } else {
      res = e.or_(e.lshr(d, n), e.shl(s, inv));
      src = e.select(one, d, e.or_(e.lshr(d, n1), e.shl(s, inv1)));
    }
  } else {
    // Concatenate in 64 bits: SHLD shifts d:s left and keeps the top; SHRD shifts s:d right.
    // 16-bit counts above 16 give undefined results; the 48-bit d:s:d pattern is used.
    Value d64 = e.zext(Type::I64, d), s64 = e.zext(Type::I64, s);
    if (left) {
      Value x = w == 32 ? e.or_(e.shl(d64, e.c64(32)), s64)
                        : e.or_(e.or_(e.shl(d64, e.c64(32)), e.shl(s64, e.c64(16))), d64);
      res = e.lshr(e.shl(x, n), e.c64(32));
      src = e.lshr(e.shl(x, n1), e.c64(32));
    } else {
      Value x = w == 32 ? e.or_(e.shl(s64, e.c64(32)), d64)
                        : e.or_(e.or_(e.shl(d64, e.c64(32)), e.shl(s64, e.c64(16))), d64);
      res = e.lshr(x, n);
      src = e.lshr(x, n1);
    }
    res = e.trunc(ty, res);
    src = e.trunc(ty, src);
  }
  Value zero = is_const ? Value{} : e.cmp(Cond::Eq, n, e.c64(0));
  if (zero.valid()) res = e.select(zero, d, res);
  t.write(0, res);
  shift_flags(t, left ? CcOp::ShlB : CcOp::SarB, ty, res, src, zero);
  return true;
}

// ---- Bit test and scan ----

bool tr_bt(TranslateContext& t) {
  auto& e = t.e();
  const Type ty = t.type_of_op(0);
  const unsigned w = tcg::ir::bits(ty);
  const ZydisMnemonic m = t.mnemonic();
  Value off = t.read(1, ty);
  Value bit = e.and_(off, t.konst(ty, w - 1));
  Value mask = e.shl(t.konst(ty, 1), bit);
  Value v, addr;
  const bool locked = t.has_lock();
  if (locked && (!t.is_mem(0) || m == ZYDIS_MNEMONIC_BT)) return t.ud();
  if (t.is_mem(0)) {
    addr = t.addr_of(0);
    if (!t.is_imm(1)) {  // a register offset reaches any bit: signed, in units of the width
      Value words = e.ashr(e.sext(Type::I64, off), e.c64(__builtin_ctz(w)));
      addr = e.add(addr, e.shl(words, e.c64(__builtin_ctz(w / 8))));
      if (!t.code64()) addr = e.zext(Type::I64, e.trunc(Type::I32, addr));
    }
  }
  if (locked) {
    const AtomicOp op = m == ZYDIS_MNEMONIC_BTS ? kAtOr : m == ZYDIS_MNEMONIC_BTR ? kAtAnd : kAtXor;
    Value old = atomic_rmw_at(t, addr, op, m == ZYDIS_MNEMONIC_BTR ? e.not_(mask) : mask);
    set_cf_of(t, e.cmp(Cond::Ne, e.and_(old, mask), t.konst(ty, 0)), Value{}, Value{});
    return true;
  }
  v = t.is_mem(0) ? t.load(ty, addr) : t.read(0);
  Value cf = e.cmp(Cond::Ne, e.and_(v, mask), t.konst(ty, 0));
  Value nv;
  switch (m) {
    case ZYDIS_MNEMONIC_BTS:
      nv = e.or_(v, mask);
      break;
    case ZYDIS_MNEMONIC_BTR:
      nv = e.and_(v, e.not_(mask));
      break;
    case ZYDIS_MNEMONIC_BTC:
      nv = e.xor_(v, mask);
      break;
    default:
      break;
  }
  if (nv.valid()) {
    if (t.is_mem(0)) {
      t.store(addr, nv);
    } else {
      t.write(0, nv);
    }
  }
  set_cf_of(t, cf, Value{}, Value{});
  return true;
}

bool tr_bsf_bsr(TranslateContext& t) {
  auto& e = t.e();
  const Type ty = t.type_of_op(0);
  const unsigned w = tcg::ir::bits(ty);
  Value s = t.read(1), d = t.read(0);
  Value zero = e.cmp(Cond::Eq, s, t.konst(ty, 0));
  Value r = t.mnemonic() == ZYDIS_MNEMONIC_BSF ? e.ctz(s) : e.sub(t.konst(ty, w - 1), e.clz(s));
  if (ty == Type::I32 && t.is_reg(0)) {
    // A zero source leaves the whole 64-bit register alone (no zero-extension).
    const unsigned reg = TranslateContext::gpr_num(t.op(0).reg.value);
    Value full = t.get_gpr(reg, Type::I64);
    t.set_gpr(reg, e.select(zero, full, e.zext(Type::I64, r)));
  } else {
    t.write(0, e.select(zero, d, r));  // a zero source leaves the destination
  }
  t.set_cc(CcOp::LogicB, ty, s, {});
  return true;
}

bool tr_popcnt(TranslateContext& t) {
  auto& e = t.e();
  const Type ty = t.type_of_op(0);
  Value s = t.read(1);
  t.write(0, e.popcnt(s));
  Value zf = e.zext(Type::I64, e.cmp(Cond::Eq, s, t.konst(ty, 0)));
  t.set_arith_flags(e.shl(zf, e.c64(6)));
  return true;
}

bool tr_lzcnt_tzcnt(TranslateContext& t) {
  auto& e = t.e();
  const Type ty = t.type_of_op(0);
  Value s = t.read(1);
  Value r = t.mnemonic() == ZYDIS_MNEMONIC_LZCNT ? e.clz(s) : e.ctz(s);
  t.write(0, r);
  Value cf = e.zext(Type::I64, e.cmp(Cond::Eq, s, t.konst(ty, 0)));
  Value zf = e.zext(Type::I64, e.cmp(Cond::Eq, r, t.konst(ty, 0)));
  Value ef = t.get_eflags();
  Value nv = e.and_(ef, e.c64(~(eflags::kCf | eflags::kZf)));
  t.set_arith_flags(e.or_(e.or_(nv, cf), e.shl(zf, e.c64(6))));
  return true;
}

// ---- BMI1 / BMI2 ----

bool tr_andn(TranslateContext& t) {
  auto& e = t.e();
  const Type ty = t.type_of_op(0);
  Value r = e.and_(e.not_(t.read(1)), t.read(2));
  t.write(0, r);
  t.set_cc(CcOp::LogicB, ty, r, {});
  return true;
}

bool tr_bextr(TranslateContext& t) {
  auto& e = t.e();
  const Type ty = t.type_of_op(0);
  Value r =
      e.call(kHelperBextr, {t.zext64(t.read(1)), t.zext64(t.read(2)), e.c64(tcg::ir::bits(ty))});
  r = e.trunc(ty, r);
  t.write(0, r);
  t.set_cc(CcOp::LogicB, ty, r, {});
  return true;
}

bool tr_blsx(TranslateContext& t) {
  auto& e = t.e();
  const Type ty = t.type_of_op(0);
  Value s = t.read(1);
  Value r, cfsrc;
  Value zero = t.konst(ty, 0), one = t.konst(ty, 1);
  switch (t.mnemonic()) {
    case ZYDIS_MNEMONIC_BLSI:
      r = e.and_(e.neg(s), s);
      cfsrc = s;  // CF = source != 0
      break;
    case ZYDIS_MNEMONIC_BLSMSK:
      r = e.xor_(e.sub(s, one), s);
      cfsrc = e.zext(ty, e.cmp(Cond::Eq, s, zero));
      break;
    default:  // BLSR
      r = e.and_(e.sub(s, one), s);
      cfsrc = e.zext(ty, e.cmp(Cond::Eq, s, zero));
      break;
  }
  t.write(0, r);
  t.set_cc(CcOp::BmiB, ty, r, cfsrc);
  return true;
}

bool tr_bzhi(TranslateContext& t) {
  auto& e = t.e();
  const Type ty = t.type_of_op(0);
  const unsigned w = tcg::ir::bits(ty);
  Value s = t.read(1);
  Value n = e.and_(t.zext64(t.read(2)), e.c64(0xff));
  Value big = e.cmp(Cond::Uge, n, e.c64(w));
  Value mask = e.trunc(ty, e.sub(e.shl(e.c64(1), n), e.c64(1)));  // n < w here when used
  Value r = e.select(big, s, e.and_(s, mask));
  t.write(0, r);
  t.set_cc(CcOp::BmiB, ty, r, e.zext(ty, big));
  return true;
}

bool tr_mulx(TranslateContext& t) {
  auto& e = t.e();
  const Type ty = t.type_of_op(0);
  Value a = t.get_gpr(kRdx, ty), b = t.read(2);
  Value lo = e.mul(a, b), hi = e.mulhu(a, b);
  t.write(1, lo);
  t.write(0, hi);  // the high half wins when both destinations are one register
  return true;
}

bool tr_pdep_pext(TranslateContext& t) {
  auto& e = t.e();
  const Type ty = t.type_of_op(0);
  const auto& h = t.mnemonic() == ZYDIS_MNEMONIC_PDEP ? kHelperPdep : kHelperPext;
  t.write(0, e.trunc(ty, e.call(h, {t.zext64(t.read(1)), t.zext64(t.read(2))})));
  return true;
}

// ---- ADX ----

bool tr_adcx_adox(TranslateContext& t) {
  auto& e = t.e();
  const bool ox = t.mnemonic() == ZYDIS_MNEMONIC_ADOX;
  const uint64_t bit = ox ? eflags::kOf : eflags::kCf;
  Value a = t.read(0), b = t.read(1);
  Value ef = t.get_eflags();
  Value cin = e.cmp(Cond::Ne, e.and_(ef, e.c64(bit)), e.c64(0));
  Value r = e.addc(a, b, cin);
  Value cout = e.zext(Type::I64, e.add_carry(a, b, cin));
  t.write(0, r);
  t.set_arith_flags(e.or_(e.and_(ef, e.c64(~bit)), e.shl(cout, e.c64(ox ? 11 : 0))));
  return true;
}

// ---- RDRAND / RDSEED ----

bool tr_rdrand(TranslateContext& t) {
  auto& e = t.e();
  const Type ty = t.type_of_op(0);
  t.write(0, e.trunc(ty, e.call(kHelperRandom, {})));
  t.set_arith_flags(e.c64(eflags::kCf));
  return true;
}

}  // namespace orrery::cpu::x86
