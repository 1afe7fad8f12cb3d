// x87 translators (and FXSAVE/FXRSTOR, EMMS): memory operands are loaded and stored in IR, the
// arithmetic is one kHelperX87 call (fpu_helpers.h). Waiting instructions first deliver a
// pending unmasked exception (#MF); every x87 instruction raises #NM under CR0.EM or CR0.TS.
#include <cstddef>
#include <vector>

#include "cpu/x86/exception.h"
#include "cpu/x86/fpu_helpers.h"
#include "cpu/x86/translators.h"

namespace orrery::cpu::x86 {

using tcg::ir::Cond;
using tcg::ir::Type;
using tcg::ir::Value;
using namespace x87;

namespace {

constexpr uint32_t kFswOff = offsetof(X86State, x87) + offsetof(X87State, fsw);
constexpr uint32_t kFcwOff = offsetof(X86State, x87) + offsetof(X87State, fcw);
constexpr uint32_t kTopOff = offsetof(X86State, x87) + offsetof(X87State, top);
constexpr uint32_t kFtwOff = offsetof(X86State, x87) + offsetof(X87State, ftw);

bool is_st(ZydisRegister r) {
  return r >= ZYDIS_REGISTER_ST0 && r <= ZYDIS_REGISTER_ST7;
}

/// #NM under CR0.EM/TS; then, for a waiting instruction, #MF when FSW.ES is set.
bool x87_prologue(TranslateContext& t, bool waiting) {
  if (t.tb_flags() & tb_flags::kFpuTrap) {
    t.raise(vec::kNm);
    return true;
  }
  if (waiting) {
    auto& e = t.e();
    Value es = e.and_(e.get_reg(Type::I16, kFswOff), e.konst(Type::I16, kErrSum));
    e.trap_if(e.cmp(Cond::Ne, es, e.konst(Type::I16, 0)), kHelperX87Mf, 0);
  }
  return false;
}

MemKind mem_kind(ZydisMnemonic m, unsigned bits) {
  switch (m) {
    case ZYDIS_MNEMONIC_FBLD:
    case ZYDIS_MNEMONIC_FBSTP:
      return kBcd;
    case ZYDIS_MNEMONIC_FILD:
    case ZYDIS_MNEMONIC_FIST:
    case ZYDIS_MNEMONIC_FISTP:
    case ZYDIS_MNEMONIC_FISTTP:
    case ZYDIS_MNEMONIC_FIADD:
    case ZYDIS_MNEMONIC_FISUB:
    case ZYDIS_MNEMONIC_FISUBR:
    case ZYDIS_MNEMONIC_FIMUL:
    case ZYDIS_MNEMONIC_FIDIV:
    case ZYDIS_MNEMONIC_FIDIVR:
    case ZYDIS_MNEMONIC_FICOM:
    case ZYDIS_MNEMONIC_FICOMP:
      return bits == 16 ? kInt16 : bits == 32 ? kInt32 : kInt64;
    default:
      return bits == 32 ? kF32 : bits == 64 ? kF64 : kF80;
  }
}

bool is_store(ZydisMnemonic m) {
  switch (m) {
    case ZYDIS_MNEMONIC_FST:
    case ZYDIS_MNEMONIC_FSTP:
    case ZYDIS_MNEMONIC_FIST:
    case ZYDIS_MNEMONIC_FISTP:
    case ZYDIS_MNEMONIC_FISTTP:
    case ZYDIS_MNEMONIC_FBSTP:
      return true;
    default:
      return false;
  }
}

CondCode fcmov_cond(ZydisMnemonic m) {
  switch (m) {
    case ZYDIS_MNEMONIC_FCMOVB:
      return kCondB;
    case ZYDIS_MNEMONIC_FCMOVE:
      return kCondE;
    case ZYDIS_MNEMONIC_FCMOVBE:
      return kCondBe;
    case ZYDIS_MNEMONIC_FCMOVU:
      return kCondP;
    case ZYDIS_MNEMONIC_FCMOVNB:
      return kCondAe;
    case ZYDIS_MNEMONIC_FCMOVNE:
      return kCondNe;
    case ZYDIS_MNEMONIC_FCMOVNBE:
      return kCondA;
    default:
      return kCondNp;
  }
}

// Stores the low n (2..8, even) bytes of v at addr.
void store_bytes(TranslateContext& t, Value addr, Value v, unsigned n) {
  auto& e = t.e();
  if (n == 8) {
    t.store(addr, v);
    return;
  }
  unsigned done = 0;
  if (n >= 4) {
    t.store(addr, e.trunc(Type::I32, v));
    done = 4;
  }
  if (n - done == 2)
    t.store(e.add(addr, e.c64(done)), e.trunc(Type::I16, e.lshr(v, e.c64(8 * done))));
}
Value load_bytes(TranslateContext& t, Value addr, unsigned n) {
  auto& e = t.e();
  if (n == 8) return t.load(Type::I64, addr);
  Value v = e.c64(0);
  unsigned done = 0;
  if (n >= 4) {
    v = t.zext64(t.load(Type::I32, addr));
    done = 4;
  }
  if (n - done == 2)
    v = e.or_(v, e.shl(t.zext64(t.load(Type::I16, e.add(addr, e.c64(done)))), e.c64(8 * done)));
  return v;
}

unsigned image_bytes(Image k) {
  switch (k) {
    case kEnv16:
      return 14;
    case kEnv32:
      return 28;
    case kSave16:
      return 94;
    case kSave32:
      return 108;
    default:
      return 512;
  }
}

void save_image(TranslateContext& t, Value addr, Image k, uint64_t flags) {
  auto& e = t.e();
  const unsigned n = image_bytes(k);
  for (unsigned off = 0; off < n; off += 8) {
    Value v = t.call(kHelperFpImageRead, {e.c64(k | flags | uint64_t(off) << 8)});
    store_bytes(t, off ? e.add(addr, e.c64(off)) : addr, v, n - off < 8 ? n - off : 8);
  }
}

// Loads the whole image first (a faulting load changes nothing), checks MXCSR, then writes.
void restore_image(TranslateContext& t, Value addr, Image k, uint64_t flags) {
  auto& e = t.e();
  const unsigned n = image_bytes(k);
  std::vector<Value> v;
  for (unsigned off = 0; off < n; off += 8)
    v.push_back(load_bytes(t, off ? e.add(addr, e.c64(off)) : addr, n - off < 8 ? n - off : 8));
  if (k == kFxsave) {
    Value mx = v[3];  // MXCSR is bytes 24..27
    t.raise_if(e.cmp(Cond::Ne, e.and_(mx, e.c64(0xffff0000u)), e.c64(0)), vec::kGp, 0);
  }
  for (unsigned i = 0; i < v.size(); ++i) {
    const unsigned off = 8 * i;
    const unsigned len = n - off < 8 ? n - off : 8;
    const uint64_t mask = len == 8 ? 0xff : (1u << len) - 1;
    t.call(kHelperFpImageWrite, {e.c64(k | flags | uint64_t(off) << 8), v[i], e.c64(mask)});
  }
}

}  // namespace

bool tr_x87(TranslateContext& t) {
  if (x87_prologue(t, true)) return true;
  auto& e = t.e();
  const ZydisMnemonic m = t.mnemonic();
  unsigned d = 0, s = 0;
  unsigned nreg = 0;
  int mem = -1;
  for (unsigned i = 0; i < t.num_visible_ops(); ++i) {
    if (t.is_mem(i)) mem = int(i);
    if (t.is_reg(i) && is_st(t.op(i).reg.value)) {
      const unsigned idx = unsigned(t.op(i).reg.value - ZYDIS_REGISTER_ST0);
      if (nreg++ == 0)
        d = s = idx;
      else
        s = idx;
    }
  }
  if (m == ZYDIS_MNEMONIC_FXCH && nreg == 0) d = s = 1;
  if ((m == ZYDIS_MNEMONIC_FCOM || m == ZYDIS_MNEMONIC_FCOMP || m == ZYDIS_MNEMONIC_FUCOM ||
       m == ZYDIS_MNEMONIC_FUCOMP || m == ZYDIS_MNEMONIC_FCOMPP || m == ZYDIS_MNEMONIC_FUCOMPP) &&
      nreg == 0 && mem < 0)
    d = s = 1;
  const MemKind mk = mem >= 0 ? mem_kind(m, t.op(unsigned(mem)).size) : kNone;
  const uint64_t packed = pack(m, d, s, mk);
  if (mem >= 0 && is_store(m)) {
    Value a = t.addr_of(unsigned(mem));
    Value lo = t.call(kHelperX87, {e.c64(packed | kPhaseLo), e.c64(0), e.c64(0)});
    switch (mk) {
      case kInt16:
        t.store(a, e.trunc(Type::I16, lo));
        break;
      case kInt32:
      case kF32:
        t.store(a, e.trunc(Type::I32, lo));
        break;
      case kInt64:
      case kF64:
        t.store(a, lo);
        break;
      default: {
        Value hi = t.call(kHelperX87, {e.c64(packed | kPhaseHi), e.c64(0), e.c64(0)});
        t.store(a, lo);
        t.store(e.add(a, e.c64(8)), e.trunc(Type::I16, hi));
        break;
      }
    }
    t.call(kHelperX87, {e.c64(packed), e.c64(0), e.c64(0)});
    return true;
  }
  Value lo = e.c64(0), hi = e.c64(0);
  if (mem >= 0) {
    Value a = t.addr_of(unsigned(mem));
    const unsigned bits = t.op(unsigned(mem)).size;
    if (bits == 80) {
      lo = t.load(Type::I64, a);
      hi = t.zext64(t.load(Type::I16, e.add(a, e.c64(8))));
    } else {
      lo = t.zext64(t.load(TranslateContext::type_of_bits(bits), a));
    }
  }
  if (m >= ZYDIS_MNEMONIC_FCMOVB && m <= ZYDIS_MNEMONIC_FCMOVU)
    lo = t.zext64(t.cond(fcmov_cond(m)));
  Value r = t.call(kHelperX87, {e.c64(packed), lo, hi});
  if (m == ZYDIS_MNEMONIC_FCOMI || m == ZYDIS_MNEMONIC_FCOMIP || m == ZYDIS_MNEMONIC_FUCOMI ||
      m == ZYDIS_MNEMONIC_FUCOMIP)
    t.set_arith_flags(r);
  return true;
}

// FNINIT, FNCLEX: not waiting.
bool tr_x87_nowait(TranslateContext& t) {
  if (x87_prologue(t, false)) return true;
  t.call(kHelperX87, {t.e().c64(pack(t.mnemonic(), 0, 0, kNone)), t.e().c64(0), t.e().c64(0)});
  return true;
}

bool tr_fnop(TranslateContext& t) {
  return x87_prologue(t, t.mnemonic() == ZYDIS_MNEMONIC_FNOP) || true;
}

bool tr_fwait(TranslateContext& t) {
  const uint64_t f = t.tb_flags();
  if ((f & tb_flags::kCr0Mp) && (f & tb_flags::kFpuTrap) && !(f & tb_flags::kCr0Em)) {
    t.raise(vec::kNm);
    return true;
  }
  auto& e = t.e();
  Value es = e.and_(e.get_reg(Type::I16, kFswOff), e.konst(Type::I16, kErrSum));
  e.trap_if(e.cmp(Cond::Ne, es, e.konst(Type::I16, 0)), kHelperX87Mf, 0);
  return true;
}

bool tr_fnstsw(TranslateContext& t) {
  if (x87_prologue(t, false)) return true;
  auto& e = t.e();
  Value sw = e.and_(e.get_reg(Type::I16, kFswOff), e.konst(Type::I16, 0xc7ff));
  Value top = e.shl(e.zext(Type::I16, e.and_(e.get_reg(Type::I8, kTopOff), e.konst(Type::I8, 7))),
                    e.konst(Type::I16, 11));
  t.write(0, e.or_(sw, top));
  return true;
}

bool tr_fnstcw(TranslateContext& t) {
  if (x87_prologue(t, false)) return true;
  t.write(0, t.e().get_reg(Type::I16, kFcwOff));
  return true;
}

// FLDCW: a newly unmasked pending exception sets ES (and B), a newly masked one clears them.
bool tr_fldcw(TranslateContext& t) {
  if (x87_prologue(t, true)) return true;
  auto& e = t.e();
  // Bits 6 (reads as 1) and 13..15 (reserved) are fixed.
  Value cw = e.or_(e.and_(t.read(0), e.konst(Type::I16, 0x1f3f)), e.konst(Type::I16, 0x40));
  e.set_reg(kFcwOff, cw);
  Value sw = e.get_reg(Type::I16, kFswOff);
  Value pending = e.and_(e.and_(sw, e.not_(cw)), e.konst(Type::I16, 0x3f));
  Value es = e.select(e.cmp(Cond::Ne, pending, e.konst(Type::I16, 0)),
                      e.konst(Type::I16, kErrSum | kB), e.konst(Type::I16, 0));
  e.set_reg(kFswOff, e.or_(e.and_(sw, e.konst(Type::I16, uint16_t(~(kErrSum | kB)))), es));
  return true;
}

Image env_kind(TranslateContext& t, bool save) {
  const bool o16 = t.op_bits() == 16;
  return save ? (o16 ? kSave16 : kSave32) : (o16 ? kEnv16 : kEnv32);
}

bool tr_fnstenv(TranslateContext& t) {
  if (x87_prologue(t, false)) return true;
  auto& e = t.e();
  const bool full = t.mnemonic() == ZYDIS_MNEMONIC_FNSAVE;
  save_image(t, t.addr_of(0), env_kind(t, full), 0);
  if (full) {
    t.call(kHelperX87, {e.c64(pack(ZYDIS_MNEMONIC_FNINIT, 0, 0, kNone)), e.c64(0), e.c64(0)});
  } else {  // FNSTENV masks every exception afterwards
    e.set_reg(kFcwOff, e.or_(e.get_reg(Type::I16, kFcwOff), e.konst(Type::I16, 0x3f)));
  }
  return true;
}

bool tr_fldenv(TranslateContext& t) {
  if (x87_prologue(t, t.mnemonic() != ZYDIS_MNEMONIC_FLDENV)) return true;
  restore_image(t, t.addr_of(0), env_kind(t, t.mnemonic() == ZYDIS_MNEMONIC_FRSTOR), 0);
  return true;
}

bool tr_fxsave(TranslateContext& t) {
  if (t.tb_flags() & tb_flags::kFpuTrap) {
    t.raise(vec::kNm);
    return true;
  }
  auto& e = t.e();
  Value a = t.addr_of(0);
  t.raise_if(e.cmp(Cond::Ne, e.and_(a, e.c64(15)), e.c64(0)), vec::kGp, 0);
  const bool w =
      t.mnemonic() == ZYDIS_MNEMONIC_FXSAVE64 || t.mnemonic() == ZYDIS_MNEMONIC_FXRSTOR64;
  const uint64_t flags = (t.code64() ? 0x40 : 0) | (w ? 0x80 : 0);
  if (t.mnemonic() == ZYDIS_MNEMONIC_FXSAVE || t.mnemonic() == ZYDIS_MNEMONIC_FXSAVE64)
    save_image(t, a, kFxsave, flags);
  else {
    restore_image(t, a, kFxsave, flags);
    t.exit_to_next();  // MXCSR's control bits (tb_flags::kMxcsrDefault) may have changed
  }
  return true;
}

// XSAVE/XSAVEOPT/XSAVEC (and the 64 forms) and XRSTOR(64): 832 bytes, 64-byte aligned. A
// component RFBM leaves out is rewritten with the bytes memory already had.
bool tr_xsave(TranslateContext& t) {
  const uint64_t f = t.tb_flags();
  if (!(f & tb_flags::kOsxsave)) return t.ud();
  if (f & tb_flags::kFpuTrap) {
    t.raise(vec::kNm);
    return true;
  }
  auto& e = t.e();
  const ZydisMnemonic m = t.mnemonic();
  const bool w = m == ZYDIS_MNEMONIC_XSAVE64 || m == ZYDIS_MNEMONIC_XSAVEOPT64 ||
                 m == ZYDIS_MNEMONIC_XSAVEC64 || m == ZYDIS_MNEMONIC_XRSTOR64;
  const bool compact = m == ZYDIS_MNEMONIC_XSAVEC || m == ZYDIS_MNEMONIC_XSAVEC64;
  const uint64_t flags = (t.code64() ? 0x40 : 0) | (w ? 0x80 : 0) | (compact ? 8 : 0);
  Value a = t.addr_of(0);
  t.raise_if(e.cmp(Cond::Ne, e.and_(a, e.c64(63)), e.c64(0)), vec::kGp, 0);
  constexpr unsigned kBytes = 832;
  auto at = [&](unsigned off) { return off ? e.add(a, e.c64(off)) : a; };
  if (m != ZYDIS_MNEMONIC_XRSTOR && m != ZYDIS_MNEMONIC_XRSTOR64) {
    std::vector<Value> old;
    for (unsigned off = 0; off < kBytes; off += 8) old.push_back(t.load(Type::I64, at(off)));
    std::vector<Value> nv;
    for (unsigned off = 0; off < kBytes; off += 8)
      nv.push_back(t.call(kHelperXsaveRead, {e.c64(flags | uint64_t(off) << 8), old[off / 8]}));
    for (unsigned off = 0; off < kBytes; off += 8) t.store(at(off), nv[off / 8]);
    return true;
  }
  std::vector<Value> v;
  for (unsigned off = 0; off < kBytes; off += 8) v.push_back(t.load(Type::I64, at(off)));
  Value reserved = e.c64(0);
  for (unsigned q = 66; q < 72; ++q) reserved = e.or_(reserved, v[q]);
  Value misc = e.or_(t.zext64(e.cmp(Cond::Ne, reserved, e.c64(0))),
                     e.shl(e.and_(v[3], e.c64(0xffffffffu)), e.c64(32)));
  Value bad = t.call(kHelperXrstorCheck, {v[64], v[65], misc});
  t.raise_if(e.cmp(Cond::Ne, bad, e.c64(0)), vec::kGp, 0);
  for (unsigned off = 0; off < kBytes; off += 8)
    t.call(kHelperXrstorWrite, {e.c64(flags | uint64_t(off) << 8), v[off / 8], v[64]});
  t.exit_to_next();  // MXCSR's control bits (tb_flags::kMxcsrDefault) may have changed
  return true;
}

bool tr_emms(TranslateContext& t) {
  if (x87_prologue(t, true)) return true;
  t.e().set_reg(kFtwOff, t.e().konst(Type::I8, 0));
  return true;
}

}  // namespace orrery::cpu::x86
