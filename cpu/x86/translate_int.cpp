// Integer data movement and arithmetic: MOV family, XCHG, CMOV/SETcc, ALU ops with lazy flags,
// LOCK-prefixed read-modify-writes, MUL/IMUL/DIV/IDIV, sign extensions.
#include <atomic>

#include "cpu/x86/exception.h"
#include "cpu/x86/flags.h"
#include "cpu/x86/translators.h"
#include "tcg/softmmu/softmmu.h"

namespace orrery::cpu::x86 {

using tcg::ir::Cond;
using tcg::ir::Type;
using tcg::ir::Value;

namespace {

// ---- LOCK NEG (no IR atomic computes it): a host compare-exchange loop on RAM ----

template <typename T>
T atomic_apply(uint8_t* host, AtomicOp op, T v, T expected) {
  std::atomic_ref<T> a(*reinterpret_cast<T*>(host));
  switch (op) {
    case kAtAdd:
      return a.fetch_add(v);
    case kAtAnd:
      return a.fetch_and(v);
    case kAtOr:
      return a.fetch_or(v);
    case kAtXor:
      return a.fetch_xor(v);
    case kAtXchg:
      return a.exchange(v);
    case kAtCmpxchg:
      a.compare_exchange_strong(expected, v);
      return expected;
    case kAtNeg: {
      T old = a.load();
      while (!a.compare_exchange_weak(old, T(-old))) {
      }
      return old;
    }
  }
  return 0;
}

uint64_t apply_plain(AtomicOp op, uint64_t old, uint64_t v, uint64_t expected) {
  switch (op) {
    case kAtAdd:
      return old + v;
    case kAtAnd:
      return old & v;
    case kAtOr:
      return old | v;
    case kAtXor:
      return old ^ v;
    case kAtXchg:
      return v;
    case kAtCmpxchg:
      return old == expected ? v : old;
    case kAtNeg:
      return -old;
  }
  return old;
}

// desc: op | size_log2 << 4 | mmu_idx << 8 | align_check << 16. CMPXCHG compares with the
// accumulator in the state. The instruction's PC is in CpuCommon::pc (the translator stores it
// first). Returns the old memory value.
uint64_t helper_atomic(tcg::CpuCommon* c, uint64_t addr, uint64_t v, uint64_t desc) {
  X86State& s = state_of(c);
  const AtomicOp op = AtomicOp(desc & 0xf);
  const unsigned size_log2 = (desc >> 4) & 3;
  const unsigned mmu_idx = (desc >> 8) & 0xff;
  const bool align = (desc >> 16) & 1;
  const unsigned size = 1u << size_log2;
  const uint64_t m = size == 8 ? ~0ull : (1ull << (8 * size)) - 1;
  const uint64_t expected = s.gpr[kRax] & m;
  v &= m;
  const uint64_t insn_pc = c->pc;
  uint8_t* host = (addr & (size - 1)) ? nullptr : c->mmu->atomic_host(addr, size, mmu_idx, insn_pc);
  if (c->pending_exit) return 0;
  if (host) {
    switch (size) {
      case 1:
        return atomic_apply<uint8_t>(host, op, uint8_t(v), uint8_t(expected));
      case 2:
        return atomic_apply<uint16_t>(host, op, uint16_t(v), uint16_t(expected));
      case 4:
        return atomic_apply<uint32_t>(host, op, uint32_t(v), uint32_t(expected));
      default:
        return atomic_apply<uint64_t>(host, op, v, expected);
    }
  }
  // MMIO or a misaligned (split) access: not atomic with respect to other vCPUs.
  tcg::ir::MemOp mo;
  mo.size_log2 = uint8_t(size_log2);
  mo.mmu_idx = uint8_t(mmu_idx);
  mo.align = align;  // a misaligned operand comes here: #AC when checked
  const uint64_t old = c->mmu->load(addr, mo, insn_pc) & m;
  if (c->pending_exit) return 0;
  c->mmu->store(addr, apply_plain(op, old, v, expected) & m, mo, insn_pc);
  return old;
}
constexpr tcg::ir::Helper kHelperAtomic{"x86_atomic", helper_atomic};

// CMPXCHG16B (CMPXCHG8B is an IR AtomicCmpxchg): compares RDX:RAX with m128 and stores RCX:RBX
// if equal, else loads it into RDX:RAX. desc: 1 | mmu_idx << 8. Returns ZF.
uint64_t helper_cmpxchg16b(tcg::CpuCommon* c, uint64_t addr, uint64_t desc, uint64_t) {
  X86State& s = state_of(c);
  const unsigned mmu_idx = (desc >> 8) & 0xff;
  const uint64_t insn_pc = c->pc;
  if (addr & 15) {
    raise_exception(s, vec::kGp, 0, insn_pc);
    return 0;
  }
  uint8_t* host = c->mmu->atomic_host(addr, 16, mmu_idx, insn_pc);
  if (c->pending_exit) return 0;
  unsigned __int128 expected = (unsigned __int128)s.gpr[kRdx] << 64 | s.gpr[kRax];
  const unsigned __int128 desired = (unsigned __int128)s.gpr[kRcx] << 64 | s.gpr[kRbx];
  bool ok;
  if (host) {
    ok = __atomic_compare_exchange_n(reinterpret_cast<unsigned __int128*>(host), &expected, desired,
                                     false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  } else {
    tcg::ir::MemOp mo;
    mo.size_log2 = 3;
    mo.mmu_idx = uint8_t(mmu_idx);
    const uint64_t lo = c->mmu->load(addr, mo, insn_pc);
    if (c->pending_exit) return 0;
    const uint64_t hi = c->mmu->load(addr + 8, mo, insn_pc);
    if (c->pending_exit) return 0;
    const unsigned __int128 old = (unsigned __int128)hi << 64 | lo;
    ok = old == expected;
    const unsigned __int128 w = ok ? desired : old;
    c->mmu->store(addr, uint64_t(w), mo, insn_pc);
    if (c->pending_exit) return 0;
    c->mmu->store(addr + 8, uint64_t(w >> 64), mo, insn_pc);
    if (c->pending_exit) return 0;
    expected = old;
  }
  if (!ok) {
    s.gpr[kRax] = uint64_t(expected);
    s.gpr[kRdx] = uint64_t(expected >> 64);
  }
  return ok;
}
constexpr tcg::ir::Helper kHelperCmpxchg16b{"x86_cmpxchg16b", helper_cmpxchg16b};

// 64-bit DIV/IDIV of rDX:rAX (128-bit dividend): raises #DE or writes rAX/rDX. desc: signed.
uint64_t helper_div64(tcg::CpuCommon* c, uint64_t divisor, uint64_t is_signed, uint64_t insn_pc) {
  X86State& s = state_of(c);
  if (divisor == 0) {
    raise_exception(s, vec::kDe, -1, insn_pc);
    return 0;
  }
  if (!is_signed) {
    const unsigned __int128 n = (unsigned __int128)s.gpr[kRdx] << 64 | s.gpr[kRax];
    const unsigned __int128 q = n / divisor;
    if (q >> 64) {
      raise_exception(s, vec::kDe, -1, insn_pc);
      return 0;
    }
    s.gpr[kRax] = uint64_t(q);
    s.gpr[kRdx] = uint64_t(n % divisor);
    return 0;
  }
  const __int128 n = (__int128)((unsigned __int128)s.gpr[kRdx] << 64 | s.gpr[kRax]);
  const __int128 d = int64_t(divisor);
  // The only overflowing 128-bit quotient, INT128_MIN / -1, is caught by the range check once
  // computed without overflow.
  if (d == -1 && n == (__int128)((unsigned __int128)1 << 127)) {
    raise_exception(s, vec::kDe, -1, insn_pc);
    return 0;
  }
  const __int128 q = n / d;
  if (q != (__int128)int64_t(q)) {
    raise_exception(s, vec::kDe, -1, insn_pc);
    return 0;
  }
  s.gpr[kRax] = uint64_t(int64_t(q));
  s.gpr[kRdx] = uint64_t(int64_t(n % d));
  return 0;
}
constexpr tcg::ir::Helper kHelperDiv64{"x86_div64", helper_div64};

unsigned size_log2_of(Type t) {
  switch (t) {
    case Type::I8:
      return 0;
    case Type::I16:
      return 1;
    case Type::I32:
      return 2;
    default:
      return 3;
  }
}

}  // namespace

Value atomic_rmw_at(TranslateContext& t, Value addr, AtomicOp op, Value v) {
  auto& e = t.e();
  const Type ty = e.type_of(v);
  if (op == kAtNeg) {             // no IR op computes -old: the helper's compare-exchange loop
    e.set_reg(0, e.c64(t.pc()));  // CpuCommon::pc: the helper's fault PC
    const uint64_t desc =
        op | size_log2_of(ty) << 4 | uint64_t(t.mmu_idx()) << 8 | uint64_t(t.align_check()) << 16;
    Value old = e.call(kHelperAtomic, {addr, t.zext64(v), e.c64(desc)});
    return e.trunc(ty, old);
  }
  // IR atomics: the TLB fast path inline, a host atomic on RAM (a read then a write on MMIO or
  // across a cache line, as the helper did for a misaligned operand).
  tcg::ir::MemOp m;
  m.size_log2 = uint8_t(size_log2_of(ty));
  m.mmu_idx = uint8_t(t.mmu_idx());
  m.align = t.align_check();
  if (op == kAtCmpxchg) return e.atomic_cmpxchg(addr, t.get_gpr(kRax, ty), v, m);
  using tcg::ir::AtomicOp;
  const AtomicOp ir_op = op == kAtAdd   ? AtomicOp::Add
                         : op == kAtAnd ? AtomicOp::And
                         : op == kAtOr  ? AtomicOp::Or
                         : op == kAtXor ? AtomicOp::Xor
                                        : AtomicOp::Xchg;
  return e.atomic_rmw(ir_op, addr, v, m);
}

Value atomic_rmw(TranslateContext& t, unsigned i, AtomicOp op, Value v) {
  return atomic_rmw_at(t, t.addr_of(i), op, v);
}

// ---- Data movement ----

bool tr_mov(TranslateContext& t) {
  t.write(0, t.read(1, t.type_of_op(0)));
  return true;
}

bool tr_movzx(TranslateContext& t) {
  t.write(0, t.e().zext(t.type_of_op(0), t.read(1)));
  return true;
}

bool tr_movsx(TranslateContext& t) {
  Value v = t.read(1);
  const Type dt = t.type_of_op(0);
  t.write(0, tcg::ir::bits(t.e().type_of(v)) >= tcg::ir::bits(dt) ? t.e().trunc(dt, v)
                                                                  : t.e().sext(dt, v));
  return true;
}

bool tr_lea(TranslateContext& t) {
  t.write(0, t.e().trunc(t.type_of_op(0), t.offset_of(1)));
  return true;
}

bool tr_xchg(TranslateContext& t) {
  if (t.is_mem(0) || t.is_mem(1)) {  // implicitly locked
    const unsigned m = t.is_mem(0) ? 0 : 1, r = 1 - m;
    Value old = atomic_rmw(t, m, kAtXchg, t.read(r));
    t.write(r, old);
    return true;
  }
  Value a = t.read(0), b = t.read(1);
  t.write(0, b);
  t.write(1, a);
  return true;
}

bool tr_bswap(TranslateContext& t) {
  Value v = t.read(0);
  if (t.e().type_of(v) == Type::I16) {
    t.write(0, t.konst(Type::I16, 0));  // undefined; zero as most CPUs do
    return true;
  }
  t.write(0, t.e().bswap(v));
  return true;
}

bool tr_movbe(TranslateContext& t) {
  Value v = t.read(1);
  t.write(0, t.e().bswap(v));
  return true;
}

bool tr_xlat(TranslateContext& t) {
  auto& e = t.e();
  // The memory operand Zydis reports is [rBX + AL] with the segment override.
  Value al = e.zext(Type::I64, t.get_gpr(kRax, Type::I8));
  Value bx = e.zext(Type::I64, t.get_gpr(kRbx, t.type_of_bits(t.addr_bits())));
  unsigned seg = kDs;
  for (unsigned i = 0; i < t.num_ops(); ++i)
    if (t.is_mem(i) && t.op(i).mem.segment >= ZYDIS_REGISTER_ES &&
        t.op(i).mem.segment <= ZYDIS_REGISTER_GS)
      seg = t.op(i).mem.segment - ZYDIS_REGISTER_ES;
  Value addr = t.linear(seg, e.add(bx, al), t.addr_bits());
  t.set_gpr(kRax, t.load(Type::I8, addr));
  return true;
}

bool tr_cbw(TranslateContext& t) {
  const unsigned bits = t.op_bits();
  const Type half = t.type_of_bits(bits / 2), full = t.type_of_bits(bits);
  t.set_gpr(kRax, t.e().sext(full, t.get_gpr(kRax, half)));
  return true;
}

bool tr_cwd(TranslateContext& t) {
  const Type ty = t.op_type();
  Value a = t.get_gpr(kRax, ty);
  t.set_gpr(kRdx, t.e().ashr(a, t.konst(ty, tcg::ir::bits(ty) - 1)));
  return true;
}

bool tr_cmovcc(TranslateContext& t) {
  auto& e = t.e();
  Value c = t.cond(t.insn().opcode & 0xf);
  Value src = t.read(1), dst = t.read(0);
  t.write(0, e.select(c, src, dst));
  return true;
}

bool tr_setcc(TranslateContext& t) {
  t.write(0, t.e().zext(Type::I8, t.cond(t.insn().opcode & 0xf)));
  return true;
}

// ---- Arithmetic ----

namespace {

enum class Alu { Add, Adc, Sub, Sbb, Cmp, And, Or, Xor, Test };

bool alu(TranslateContext& t, Alu k) {
  auto& e = t.e();
  const Type ty = t.type_of_op(0);
  Value b = t.read(1, ty);
  if (e.type_of(b) != ty) b = e.sext(ty, b);  // Zydis may report a narrower immediate
  const bool writes = k != Alu::Cmp && k != Alu::Test;
  const bool locked = writes && t.has_lock() && t.is_mem(0);
  if (t.has_lock() && !locked) return t.ud();
  Value cf;
  if (k == Alu::Adc || k == Alu::Sbb) cf = e.zext(ty, t.get_cf());
  if (k == Alu::Adc && t.injected_bug() == InjectedBug::kAdcCarry) cf = e.zext(ty, e.c1(false));
  Value a, r;
  if (locked) {
    switch (k) {
      case Alu::Add:
        a = atomic_rmw(t, 0, kAtAdd, b);
        break;
      case Alu::Adc:
        a = atomic_rmw(t, 0, kAtAdd, e.add(b, cf));
        break;
      case Alu::Sub:
        a = atomic_rmw(t, 0, kAtAdd, e.neg(b));
        break;
      case Alu::Sbb:
        a = atomic_rmw(t, 0, kAtAdd, e.neg(e.add(b, cf)));
        break;
      case Alu::And:
        a = atomic_rmw(t, 0, kAtAnd, b);
        break;
      case Alu::Or:
        a = atomic_rmw(t, 0, kAtOr, b);
        break;
      default:
        a = atomic_rmw(t, 0, kAtXor, b);
        break;
    }
  } else {
    a = t.read(0);
  }
  switch (k) {
    case Alu::Add:
      r = e.add(a, b);
      t.set_cc(CcOp::AddB, ty, r, b);
      break;
    case Alu::Adc:
      r = e.add(e.add(a, b), cf);
      t.set_cc(CcOp::AdcB, ty, r, b, cf);
      break;
    case Alu::Sub:
    case Alu::Cmp:
      r = e.sub(a, b);
      t.set_cc(CcOp::SubB, ty, r, b);
      break;
    case Alu::Sbb:
      r = e.sub(e.sub(a, b), cf);
      t.set_cc(CcOp::SbbB, ty, r, b, cf);
      break;
    case Alu::And:
    case Alu::Test:
      r = e.and_(a, b);
      t.set_cc(CcOp::LogicB, ty, r, {});
      break;
    case Alu::Or:
      r = e.or_(a, b);
      t.set_cc(CcOp::LogicB, ty, r, {});
      break;
    case Alu::Xor:
      r = e.xor_(a, b);
      t.set_cc(CcOp::LogicB, ty, r, {});
      break;
  }
  if (writes && !locked) t.write(0, r);
  return true;
}

}  // namespace

bool tr_add(TranslateContext& t) {
  return alu(t, Alu::Add);
}
bool tr_adc(TranslateContext& t) {
  return alu(t, Alu::Adc);
}
bool tr_sub(TranslateContext& t) {
  return alu(t, Alu::Sub);
}
bool tr_sbb(TranslateContext& t) {
  return alu(t, Alu::Sbb);
}
bool tr_cmp(TranslateContext& t) {
  return alu(t, Alu::Cmp);
}
bool tr_and(TranslateContext& t) {
  return alu(t, Alu::And);
}
bool tr_or(TranslateContext& t) {
  return alu(t, Alu::Or);
}
bool tr_xor(TranslateContext& t) {
  return alu(t, Alu::Xor);
}
bool tr_test(TranslateContext& t) {
  return alu(t, Alu::Test);
}

bool tr_neg(TranslateContext& t) {
  auto& e = t.e();
  const Type ty = t.type_of_op(0);
  const bool locked = t.has_lock() && t.is_mem(0);
  if (t.has_lock() && !locked) return t.ud();
  Value a;
  if (locked) {
    a = atomic_rmw(t, 0, kAtNeg, t.konst(ty, 0));
  } else {
    a = t.read(0);
    t.write(0, e.neg(a));
  }
  Value r = e.neg(a);
  t.set_cc(CcOp::SubB, ty, r, a);
  return true;
}

bool tr_not(TranslateContext& t) {
  auto& e = t.e();
  const Type ty = t.type_of_op(0);
  if (t.has_lock()) {
    if (!t.is_mem(0)) return t.ud();
    atomic_rmw(t, 0, kAtXor, t.konst(ty, ~0ull));
    return true;
  }
  t.write(0, e.not_(t.read(0)));
  return true;
}

namespace {
bool inc_dec(TranslateContext& t, bool dec) {
  auto& e = t.e();
  const Type ty = t.type_of_op(0);
  Value cf = e.zext(ty, t.get_cf());
  Value one = t.konst(ty, dec ? ~0ull : 1);
  Value a;
  if (t.has_lock()) {
    if (!t.is_mem(0)) return t.ud();
    a = atomic_rmw(t, 0, kAtAdd, one);
  } else {
    a = t.read(0);
  }
  Value r = e.add(a, one);
  if (!t.has_lock()) t.write(0, r);
  t.set_cc(dec ? CcOp::DecB : CcOp::IncB, ty, r, cf);
  return true;
}
}  // namespace

bool tr_inc(TranslateContext& t) {
  return inc_dec(t, false);
}
bool tr_dec(TranslateContext& t) {
  return inc_dec(t, true);
}

bool tr_xadd(TranslateContext& t) {
  auto& e = t.e();
  const Type ty = t.type_of_op(0);
  Value b = t.read(1);
  Value a;
  if (t.has_lock()) {
    if (!t.is_mem(0)) return t.ud();
    a = atomic_rmw(t, 0, kAtAdd, b);
  } else {
    a = t.read(0);
  }
  Value r = e.add(a, b);
  // The source register gets the old destination; the destination the sum (written last, so
  // xadd r, r leaves the sum).
  t.write(1, a);
  if (!t.has_lock()) t.write(0, r);
  t.set_cc(CcOp::AddB, ty, r, b);
  return true;
}

bool tr_cmpxchg(TranslateContext& t) {
  auto& e = t.e();
  const Type ty = t.type_of_op(0);
  Value src = t.read(1);
  Value acc = t.get_gpr(kRax, ty);
  Value old;
  if (t.is_mem(0)) {
    // Always through the helper (LOCK or not): a memory CMPXCHG is what lock-free code spins
    // on, and the CPU writes the destination either way.
    old = atomic_rmw(t, 0, kAtCmpxchg, src);
  } else {
    if (t.has_lock()) return t.ud();
    old = t.read(0);
    Value eq = e.cmp(Cond::Eq, old, acc);
    if (ty == Type::I32) {
      // Written (zero-extended) only when equal; otherwise the 64-bit register is untouched.
      const unsigned reg = TranslateContext::gpr_num(t.op(0).reg.value);
      Value full = t.get_gpr(reg, Type::I64);
      t.set_gpr(reg, e.select(eq, e.zext(Type::I64, src), full));
    } else {
      t.write(0, e.select(eq, src, old));
    }
  }
  Value eq = e.cmp(Cond::Eq, old, acc);
  // The accumulator is loaded with the old value when they differ (a 32-bit accumulator
  // write zero-extends only then; a register destination is written either way).
  if (ty == Type::I32) {
    Value rax = t.get_gpr(kRax, Type::I64);
    t.e().set_reg(gpr_offset(kRax), e.select(eq, rax, e.zext(Type::I64, old)));
  } else {
    // Re-read: the destination may be the accumulator itself (then it holds the source).
    t.set_gpr(kRax, e.select(eq, t.get_gpr(kRax, ty), old));
  }
  t.set_cc(CcOp::SubB, ty, e.sub(acc, old), old);
  return true;
}

bool tr_cmpxchg8b(TranslateContext& t) {
  auto& e = t.e();
  if (!t.is_mem(0)) return t.ud();
  const bool wide = t.mnemonic() == ZYDIS_MNEMONIC_CMPXCHG16B;
  Value zf_before = t.get_eflags();
  Value ok;
  if (wide) {  // 16 bytes: Softmmu::atomic_cmpxchg16 from the helper
    e.set_reg(0, e.c64(t.pc()));
    ok = e.call(kHelperCmpxchg16b, {t.addr_of(0), e.c64(1 | uint64_t(t.mmu_idx()) << 8)});
  } else {  // an IR compare-exchange of EDX:EAX with m64, ECX:EBX written if equal
    auto pair = [&](unsigned hi, unsigned lo) {
      return e.or_(e.shl(e.zext(Type::I64, t.get_gpr(hi, Type::I32)), e.c64(32)),
                   e.zext(Type::I64, t.get_gpr(lo, Type::I32)));
    };
    Value expected = pair(kRdx, kRax);
    tcg::ir::MemOp m;
    m.size_log2 = 3;
    m.mmu_idx = uint8_t(t.mmu_idx());
    m.align = t.align_check();
    Value old = e.atomic_cmpxchg(t.addr_of(0), expected, pair(kRcx, kRbx), m);
    Value eq = e.cmp(Cond::Eq, old, expected);
    // On failure EDX:EAX get the old value (zero-extended); on success they are untouched.
    auto load_half = [&](unsigned reg, Value half) {
      e.set_reg(gpr_offset(reg), e.select(eq, t.get_gpr(reg, Type::I64),
                                          e.zext(Type::I64, e.trunc(Type::I32, half))));
    };
    load_half(kRax, old);
    load_half(kRdx, e.lshr(old, e.c64(32)));
    ok = e.zext(Type::I64, eq);
  }
  Value ef = e.or_(e.and_(zf_before, e.c64(~eflags::kZf)), e.shl(ok, e.c64(6)));
  t.set_arith_flags(ef);
  return true;
}

// ---- Multiply and divide ----

bool tr_mul(TranslateContext& t) {
  auto& e = t.e();
  const Type ty = t.type_of_op(0);
  Value b = t.read(0);
  if (ty == Type::I8) {
    Value r = e.mul(e.zext(Type::I16, t.get_gpr(kRax, Type::I8)), e.zext(Type::I16, b));
    t.set_gpr(kRax, r);
    t.set_cc(CcOp::MulB, Type::I8, e.trunc(Type::I8, r), e.lshr(r, t.konst(Type::I16, 8)));
    return true;
  }
  Value a = t.get_gpr(kRax, ty);
  Value lo = e.mul(a, b), hi = e.mulhu(a, b);
  t.set_gpr(kRax, lo);
  t.set_gpr(kRdx, hi);
  t.set_cc(CcOp::MulB, ty, lo, hi);
  return true;
}

bool tr_imul(TranslateContext& t) {
  auto& e = t.e();
  if (t.num_visible_ops() == 1) {
    const Type ty = t.type_of_op(0);
    Value b = t.read(0);
    if (ty == Type::I8) {
      Value r = e.mul(e.sext(Type::I16, t.get_gpr(kRax, Type::I8)), e.sext(Type::I16, b));
      t.set_gpr(kRax, r);
      Value lo = e.trunc(Type::I8, r);
      Value hi = e.trunc(Type::I8, e.lshr(r, t.konst(Type::I16, 8)));
      t.set_cc(CcOp::MulB, Type::I8, lo, e.xor_(hi, e.ashr(lo, t.konst(Type::I8, 7))));
      return true;
    }
    Value a = t.get_gpr(kRax, ty);
    Value lo = e.mul(a, b), hi = e.mulhs(a, b);
    t.set_gpr(kRax, lo);
    t.set_gpr(kRdx, hi);
    t.set_cc(CcOp::MulB, ty, lo, e.xor_(hi, e.ashr(lo, t.konst(ty, tcg::ir::bits(ty) - 1))));
    return true;
  }
  const Type ty = t.type_of_op(0);
  Value a = t.num_visible_ops() == 2 ? t.read(0) : t.read(1);
  Value b = t.num_visible_ops() == 2 ? t.read(1, ty) : t.read(2, ty);
  if (e.type_of(b) != ty) b = e.sext(ty, b);
  Value lo = e.mul(a, b), hi = e.mulhs(a, b);
  t.write(0, lo);
  t.set_cc(CcOp::MulB, ty, lo, e.xor_(hi, e.ashr(lo, t.konst(ty, tcg::ir::bits(ty) - 1))));
  return true;
}

bool tr_div(TranslateContext& t) {
  auto& e = t.e();
  const bool sign = t.mnemonic() == ZYDIS_MNEMONIC_IDIV;
  const Type ty = t.type_of_op(0);
  Value d = t.read(0);
  if (ty == Type::I64) {
    e.call(kHelperDiv64, {d, e.c64(sign), e.c64(t.pc())});
    return true;
  }
  const unsigned n = tcg::ir::bits(ty);
  const Type wide = t.type_of_bits(2 * n);
  Value num;
  if (ty == Type::I8) {
    num = t.get_gpr(kRax, Type::I16);
  } else {
    Value hi = e.zext(wide, t.get_gpr(kRdx, ty)), lo = e.zext(wide, t.get_gpr(kRax, ty));
    num = e.or_(e.shl(hi, t.konst(wide, n)), lo);
  }
  Value dw = sign ? e.sext(wide, d) : e.zext(wide, d);
  Value q = sign ? e.divs(num, dw) : e.divu(num, dw);
  Value r = e.sub(num, e.mul(q, dw));
  Value qn = e.trunc(ty, q);
  Value fits = e.cmp(Cond::Eq, q, sign ? e.sext(wide, qn) : e.zext(wide, qn));
  Value bad = t.i1_or(e.cmp(Cond::Eq, d, t.konst(ty, 0)), t.i1_not(fits));
  t.raise_if(bad, vec::kDe);
  if (ty == Type::I8) {
    t.set_gpr(kRax, e.or_(e.shl(e.zext(Type::I16, e.trunc(Type::I8, r)), t.konst(Type::I16, 8)),
                          e.zext(Type::I16, qn)));
  } else {
    t.set_gpr(kRax, qn);
    t.set_gpr(kRdx, e.trunc(ty, r));
  }
  return true;
}

}  // namespace orrery::cpu::x86
