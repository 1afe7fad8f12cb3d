// The shared TranslateContext machinery: registers, addressing, stack, lazy flags, block ends.
#include "cpu/x86/translate.h"

#include "cpu/x86/exception.h"
#include "cpu/x86/flags.h"

namespace orrery::cpu::x86 {

using tcg::ir::Cond;
using tcg::ir::MemOp;
using tcg::ir::Type;
using tcg::ir::Value;

namespace {

uint64_t helper_raise(tcg::CpuCommon* c, uint64_t packed, uint64_t insn_pc, uint64_t) {
  raise_exception(state_of(c), unsigned(packed & 0xff), int32_t(packed >> 32), insn_pc);
  return 0;
}
uint64_t helper_read_eflags(tcg::CpuCommon* c, uint64_t, uint64_t, uint64_t) {
  return compute_eflags(state_of(c));
}

constexpr unsigned log2_bytes(Type t) {
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

CcOp cc_op_for(CcOp group, Type t) {
  return CcOp(uint32_t(group) + log2_bytes(t));
}
unsigned cc_group(CcOp op) {
  return (uint32_t(op) - 1) >> 2;
}
enum CcGroup : unsigned { kAdd, kAdc, kSub, kSbb, kLogic, kInc, kDec, kShl, kSar, kMul, kBmi };

}  // namespace

const tcg::ir::Helper kHelperRaise{"x86_raise", helper_raise};
const tcg::ir::Helper kHelperReadEflags{"x86_read_eflags", helper_read_eflags};

TranslateContext::TranslateContext(tcg::ir::Emitter& e, const X86State& s, uint64_t tb_flags)
    : e_(e), flags_(tb_flags), cs_base_((tb_flags & tb_flags::kCode64) ? 0 : s.seg[kCs].base) {}

void TranslateContext::begin(uint64_t pc, const ZydisDecodedInstruction& insn,
                             const ZydisDecodedOperand* ops) {
  pc_ = pc;
  next_pc_ = pc + insn.length;
  if (!code64()) next_pc_ &= 0xffffffff;
  insn_ = &insn;
  ops_ = ops;
  for (Value& v : addr_cache_) v = Value{};
  ended_ = false;
}

unsigned TranslateContext::stack_bits() const {
  if (code64()) return 64;
  return (flags_ & tb_flags::kStack32) ? 32 : 16;
}

unsigned TranslateContext::mmu_idx() const {
  if (cpl() == 3) return kMmuIdxUser;
  if ((flags_ & tb_flags::kSmap) && !(flags_ & tb_flags::kAc)) return kMmuIdxKernel;
  return kMmuIdxKernelNoSmap;
}

uint64_t TranslateContext::wrap_ip(uint64_t ip) const {
  return code64() ? ip : ip & 0xffffffff;
}

// ---- Registers ----

bool TranslateContext::is_gpr(ZydisRegister r) {
  return r >= ZYDIS_REGISTER_AL && r <= ZYDIS_REGISTER_R15;
}

unsigned TranslateContext::gpr_num(ZydisRegister r) {
  if (r >= ZYDIS_REGISTER_RAX) return r - ZYDIS_REGISTER_RAX;
  if (r >= ZYDIS_REGISTER_EAX) return r - ZYDIS_REGISTER_EAX;
  if (r >= ZYDIS_REGISTER_AX) return r - ZYDIS_REGISTER_AX;
  if (r >= ZYDIS_REGISTER_R8B) return 8 + (r - ZYDIS_REGISTER_R8B);
  if (r >= ZYDIS_REGISTER_SPL) return 4 + (r - ZYDIS_REGISTER_SPL);
  return r - ZYDIS_REGISTER_AL;  // AL..BL 0..3, AH..BH 4..7
}

Value TranslateContext::get_gpr(unsigned r, Type t) {
  return e_.get_reg(t, gpr_offset(r));
}

void TranslateContext::set_gpr(unsigned r, Value v) {
  if (e_.type_of(v) == Type::I32) v = zext64(v);
  e_.set_reg(gpr_offset(r), v);
}

Value TranslateContext::get_reg(ZydisRegister r) {
  if (is_high_byte(r)) return e_.get_reg(Type::I8, high_byte_offset(r - ZYDIS_REGISTER_AH));
  if (r >= ZYDIS_REGISTER_ES && r <= ZYDIS_REGISTER_GS)
    return e_.get_reg(Type::I16, seg_selector_offset(r - ZYDIS_REGISTER_ES));
  if (r == ZYDIS_REGISTER_RIP) return e_.c64(next_pc_);
  if (r == ZYDIS_REGISTER_EIP) return e_.c32(next_eip());
  if (r == ZYDIS_REGISTER_IP) return konst(Type::I16, next_eip());
  const unsigned w = ZydisRegisterGetWidth(
      code64() ? ZYDIS_MACHINE_MODE_LONG_64 : ZYDIS_MACHINE_MODE_LEGACY_32, r);
  return get_gpr(gpr_num(r), type_of_bits(w));
}

void TranslateContext::set_reg(ZydisRegister r, Value v) {
  if (is_high_byte(r)) {
    e_.set_reg(high_byte_offset(r - ZYDIS_REGISTER_AH), e_.trunc(Type::I8, v));
    return;
  }
  const unsigned w = ZydisRegisterGetWidth(
      code64() ? ZYDIS_MACHINE_MODE_LONG_64 : ZYDIS_MACHINE_MODE_LEGACY_32, r);
  set_gpr(gpr_num(r), e_.trunc(type_of_bits(w), v));
}

// ---- Memory ----

static Value wrap_to(tcg::ir::Emitter& e, Value v64, unsigned bits) {
  if (bits >= 64) return v64;
  return e.zext(Type::I64, e.trunc(tcg::ir::type_of_bits(bits), v64));
}

Value TranslateContext::offset_of(unsigned i) {
  const ZydisDecodedOperandMem& m = ops_[i].mem;
  const unsigned abits = addr_bits();
  Value sum;
  uint64_t disp = uint64_t(m.disp.value);
  if (m.base == ZYDIS_REGISTER_RIP || m.base == ZYDIS_REGISTER_EIP) {
    disp += next_pc_;  // CS base is 0 in 64-bit mode
  } else if (m.base != ZYDIS_REGISTER_NONE) {
    sum = e_.zext(Type::I64, get_reg(m.base));
  }
  if (m.index != ZYDIS_REGISTER_NONE) {
    Value idx = e_.zext(Type::I64, get_reg(m.index));
    if (m.scale > 1) idx = e_.shl(idx, e_.c64(__builtin_ctz(m.scale)));
    sum = sum.valid() ? e_.add(sum, idx) : idx;
  }
  if (!sum.valid()) return e_.c64(abits >= 64 ? disp : disp & ((1ull << abits) - 1));
  if (disp) sum = e_.add(sum, e_.c64(disp));
  return wrap_to(e_, sum, abits);
}

Value TranslateContext::seg_base(unsigned seg) {
  return e_.get_reg(Type::I64, seg_base_offset(seg));
}

Value TranslateContext::linear(unsigned seg, Value offset, unsigned abits) {
  offset = wrap_to(e_, offset, abits);
  if (code64()) {
    if (seg == kFs || seg == kGs) return e_.add(offset, seg_base(seg));
    return offset;
  }
  Value a = offset;
  if (seg == kCs) {
    if (cs_base_) a = e_.add(a, e_.c64(cs_base_));
  } else if (seg == kFs || seg == kGs || (flags_ & tb_flags::kAddSeg)) {
    a = e_.add(a, seg_base(seg));
  } else {
    return a;
  }
  return wrap_to(e_, a, 32);
}

Value TranslateContext::addr_of(unsigned i) {
  if (addr_cache_[i].valid()) return addr_cache_[i];
  const ZydisRegister sr = ops_[i].mem.segment;
  const unsigned seg =
      sr >= ZYDIS_REGISTER_ES && sr <= ZYDIS_REGISTER_GS ? sr - ZYDIS_REGISTER_ES : unsigned(kDs);
  addr_cache_[i] = linear(seg, offset_of(i), addr_bits());
  return addr_cache_[i];
}

Value TranslateContext::load(Type t, Value addr, bool sign) {
  MemOp m;
  m.size_log2 = uint8_t(log2_bytes(t));
  m.sign = sign;
  m.mmu_idx = uint8_t(mmu_idx());
  m.align = align_check();
  return e_.load(t, addr, m);
}

void TranslateContext::store(Value addr, Value v, bool checked) {
  MemOp m;
  m.size_log2 = uint8_t(log2_bytes(e_.type_of(v)));
  m.mmu_idx = uint8_t(mmu_idx());
  m.align = checked && align_check();
  e_.store(addr, v, m);
}

// ---- Operands ----

Value TranslateContext::read(unsigned i, Type t) {
  const ZydisDecodedOperand& o = ops_[i];
  switch (o.type) {
    case ZYDIS_OPERAND_TYPE_REGISTER:
      return get_reg(o.reg.value);
    case ZYDIS_OPERAND_TYPE_MEMORY:
      return load(type_of_op(i), addr_of(i));
    case ZYDIS_OPERAND_TYPE_IMMEDIATE:
      if (t == Type::V) t = type_of_op(0);
      return konst(t, o.imm.is_signed ? uint64_t(o.imm.value.s) : o.imm.value.u);
    default:
      return konst(t == Type::V ? Type::I64 : t, 0);
  }
}

void TranslateContext::write(unsigned i, Value v) {
  const ZydisDecodedOperand& o = ops_[i];
  if (o.type == ZYDIS_OPERAND_TYPE_REGISTER) {
    set_reg(o.reg.value, v);
  } else if (o.type == ZYDIS_OPERAND_TYPE_MEMORY) {
    store(addr_of(i), v);
  }
}

// ---- Stack ----

Value TranslateContext::get_sp() {
  const unsigned b = stack_bits();
  return e_.zext(Type::I64, get_gpr(kRsp, type_of_bits(b)));
}

void TranslateContext::set_sp(Value v64) {
  set_gpr(kRsp, e_.trunc(type_of_bits(stack_bits()), v64));
}

Value TranslateContext::stack_addr(Value offset) {
  return linear(kSs, offset, stack_bits());
}

void TranslateContext::push(Value v) {
  const unsigned size = tcg::ir::bits(e_.type_of(v)) / 8;
  Value sp = e_.sub(get_sp(), e_.c64(size));
  store(stack_addr(sp), v);
  set_sp(sp);
}

Value TranslateContext::pop(Type t) {
  Value sp = get_sp();
  Value v = load(t, stack_addr(sp));
  set_sp(e_.add(sp, e_.c64(tcg::ir::bits(t) / 8)));
  return v;
}

// ---- Lazy flags ----

void TranslateContext::set_cc(CcOp group, Type t, Value dst, Value src, Value src2) {
  const CcOp op = cc_op_for(group, t);
  dst = e_.trunc(t, dst);
  e_.set_reg(kCcDstOffset, zext64(dst));
  if (src.valid()) {
    if (tcg::ir::bits(e_.type_of(src)) > tcg::ir::bits(t)) src = e_.trunc(t, src);
    e_.set_reg(kCcSrcOffset, zext64(src));
  }
  if (src2.valid()) e_.set_reg(kCcSrc2Offset, zext64(src2));
  e_.set_reg(kCcOpOffset, e_.c32(uint32_t(op)));
  cc_ = CcTrack{true, op, t, dst, src, src2};
}

Value TranslateContext::sign_of(Value v) {
  return e_.cmp(Cond::Slt, v, konst(e_.type_of(v), 0));
}

Value TranslateContext::parity_even(Value v) {
  Value p = e_.popcnt(e_.trunc(Type::I8, v));
  return e_.cmp(Cond::Eq, e_.and_(p, konst(Type::I8, 1)), konst(Type::I8, 0));
}

Value TranslateContext::arith_flags_now() {
  if (!cc_.known) return e_.and_(e_.call(kHelperReadEflags, {}), e_.c64(eflags::kArith));
  if (cc_.op == CcOp::Eflags)
    return e_.and_(e_.get_reg(Type::I64, kEflagsOffset), e_.c64(eflags::kArith));
  return arith_flags_inline();
}

Value TranslateContext::get_eflags() {
  if (!cc_.known) return e_.call(kHelperReadEflags, {});
  Value ef = e_.get_reg(Type::I64, kEflagsOffset);
  if (cc_.op == CcOp::Eflags) return e_.or_(ef, e_.c64(eflags::kFixed1));
  return e_.or_(e_.and_(ef, e_.c64(~eflags::kArith)),
                e_.or_(arith_flags_now(), e_.c64(eflags::kFixed1)));
}

void TranslateContext::set_arith_flags(Value v) {
  Value ef = e_.get_reg(Type::I64, kEflagsOffset);
  ef = e_.or_(e_.and_(ef, e_.c64(~eflags::kArith)), e_.and_(zext64(v), e_.c64(eflags::kArith)));
  e_.set_reg(kEflagsOffset, ef);
  e_.set_reg(kCcOpOffset, e_.c32(uint32_t(CcOp::Eflags)));
  cc_ = CcTrack{};
  cc_.known = true;
  cc_.op = CcOp::Eflags;
}

void TranslateContext::flush_flags() {
  if (cc_.known && cc_.op == CcOp::Eflags) return;
  Value ef = get_eflags();
  e_.set_reg(kEflagsOffset, ef);
  e_.set_reg(kCcOpOffset, e_.c32(uint32_t(CcOp::Eflags)));
  cc_ = CcTrack{};
  cc_.known = true;
  cc_.op = CcOp::Eflags;
}

namespace {
// One arithmetic flag of a known, non-Eflags cc_op, computed inline (AF is left to the helper).
struct FlagCalc {
  tcg::ir::Emitter& e;
  const TranslateContext::CcTrack& c;
  TranslateContext& t;

  Value zero(Type ty) { return e.konst(ty, 0); }
  Value src1() {  // the first operand of Add/Sub-like groups
    const Type ty = c.type;
    switch (cc_group(c.op)) {
      case kAdd:
        return e.sub(c.dst, c.src);
      case kAdc:
        return e.sub(e.sub(c.dst, c.src), e.zext(ty, e.trunc(Type::I1, c.src2)));
      case kSub:
        return e.add(c.dst, c.src);
      case kSbb:
        return e.add(e.add(c.dst, c.src), e.zext(ty, e.trunc(Type::I1, c.src2)));
      default:
        return c.dst;
    }
  }
  Value cf() {
    const Type ty = c.type;
    switch (cc_group(c.op)) {
      case kAdd:
        return e.cmp(Cond::Ult, c.dst, c.src);
      case kAdc:
        return e.select(e.trunc(Type::I1, c.src2), e.cmp(Cond::Ule, c.dst, c.src),
                        e.cmp(Cond::Ult, c.dst, c.src));
      case kSub:
        return e.cmp(Cond::Ult, src1(), c.src);
      case kSbb: {
        Value a = src1();
        return e.select(e.trunc(Type::I1, c.src2), e.cmp(Cond::Ule, a, c.src),
                        e.cmp(Cond::Ult, a, c.src));
      }
      case kLogic:
        return e.c1(false);
      case kInc:
      case kDec:
      case kMul:
      case kBmi:
        return e.cmp(Cond::Ne, c.src, e.konst(e.type_of(c.src), 0));
      case kShl:
        return t.sign_of(c.src);
      case kSar:
        return e.trunc(Type::I1, c.src);
    }
    (void)ty;
    return e.c1(false);
  }
  Value of() {
    const Type ty = c.type;
    const uint64_t sign = 1ull << (tcg::ir::bits(ty) - 1);
    switch (cc_group(c.op)) {
      case kAdd:
      case kAdc: {
        Value a = src1();
        return t.sign_of(e.and_(e.not_(e.xor_(a, c.src)), e.xor_(a, c.dst)));
      }
      case kSub:
      case kSbb: {
        Value a = src1();
        return t.sign_of(e.and_(e.xor_(a, c.src), e.xor_(a, c.dst)));
      }
      case kInc:
        return e.cmp(Cond::Eq, c.dst, e.konst(ty, sign));
      case kDec:
        return e.cmp(Cond::Eq, c.dst, e.konst(ty, sign - 1));
      case kShl:
        return e.xor_(t.sign_of(c.dst), t.sign_of(c.src));
      case kSar:
        return t.sign_of(e.xor_(c.dst, c.src));
      case kMul:
        return e.cmp(Cond::Ne, c.src, e.konst(e.type_of(c.src), 0));
      default:
        return e.c1(false);
    }
  }
  Value af() {  // as compute_arith_flags: the carry out of bit 3
    switch (cc_group(c.op)) {
      case kAdd:
      case kAdc:
      case kSub:
      case kSbb:
        return e.trunc(Type::I1, e.lshr(e.xor_(e.xor_(src1(), c.src), c.dst), e.konst(c.type, 4)));
      case kInc:
        return e.cmp(Cond::Eq, e.and_(c.dst, e.konst(c.type, 0xf)), zero(c.type));
      case kDec:
        return e.cmp(Cond::Eq, e.and_(c.dst, e.konst(c.type, 0xf)), e.konst(c.type, 0xf));
      default:
        return e.c1(false);
    }
  }
  Value zf() { return e.cmp(Cond::Eq, c.dst, zero(c.type)); }
  Value sf() { return t.sign_of(c.dst); }
  Value pf() { return t.parity_even(c.dst); }
};
}  // namespace

// The six flags of a known, non-Eflags cc_op in IR: branch-free where compute_arith_flags
// switches on the op, and foldable when only some are used. PUSHF, LAHF and the CF/OF writers
// (rotates, BT*, shifts by CL) after an ALU instruction take this path.
Value TranslateContext::arith_flags_inline() {
  FlagCalc f{e_, cc_, *this};
  auto at = [&](Value bit, uint64_t flag) {
    return e_.shl(e_.zext(Type::I64, bit), e_.c64(uint64_t(__builtin_ctzll(flag))));
  };
  Value r = e_.or_(e_.zext(Type::I64, f.cf()), at(f.pf(), eflags::kPf));
  r = e_.or_(r, at(f.af(), eflags::kAf));
  r = e_.or_(r, at(f.zf(), eflags::kZf));
  r = e_.or_(r, at(f.sf(), eflags::kSf));
  return e_.or_(r, at(f.of(), eflags::kOf));
}

Value TranslateContext::get_cf() {
  if (cc_.known && cc_.op != CcOp::Eflags) return FlagCalc{e_, cc_, *this}.cf();
  Value ef = cc_.known ? e_.get_reg(Type::I64, kEflagsOffset) : e_.call(kHelperReadEflags, {});
  return e_.trunc(Type::I1, ef);
}

Value TranslateContext::cond(unsigned cc) {
  const bool invert = cc & 1;
  Value r;
  if (cc_.known && cc_.op != CcOp::Eflags) {
    FlagCalc f{e_, cc_, *this};
    const unsigned g = cc_group(cc_.op);
    const bool sub = g == kSub;
    const bool logic = g == kLogic;
    switch (cc >> 1) {
      case 0:
        r = f.of();
        break;
      case 1:
        r = f.cf();
        break;
      case 2:
        r = f.zf();
        break;
      case 3:
        r = sub ? e_.cmp(Cond::Ule, f.src1(), cc_.src) : logic ? f.zf() : i1_or(f.cf(), f.zf());
        break;
      case 4:
        r = f.sf();
        break;
      case 5:
        r = f.pf();
        break;
      case 6:
        r = sub ? e_.cmp(Cond::Slt, f.src1(), cc_.src) : logic ? f.sf() : e_.xor_(f.sf(), f.of());
        break;
      default:
        r = sub     ? e_.cmp(Cond::Sle, f.src1(), cc_.src)
            : logic ? e_.cmp(Cond::Sle, cc_.dst, f.zero(cc_.type))
                    : i1_or(f.zf(), e_.xor_(f.sf(), f.of()));
        break;
    }
  } else {
    Value ef = cc_.known ? e_.get_reg(Type::I64, kEflagsOffset) : e_.call(kHelperReadEflags, {});
    auto bit = [&](uint64_t m) { return e_.cmp(Cond::Ne, e_.and_(ef, e_.c64(m)), e_.c64(0)); };
    auto sf_ne_of = [&]() {
      // SF (bit 7) xor OF (bit 11): shift OF down to SF's position.
      Value x = e_.xor_(ef, e_.lshr(ef, e_.c64(4)));
      return e_.cmp(Cond::Ne, e_.and_(x, e_.c64(eflags::kSf)), e_.c64(0));
    };
    switch (cc >> 1) {
      case 0:
        r = bit(eflags::kOf);
        break;
      case 1:
        r = bit(eflags::kCf);
        break;
      case 2:
        r = bit(eflags::kZf);
        break;
      case 3:
        r = bit(eflags::kCf | eflags::kZf);
        break;
      case 4:
        r = bit(eflags::kSf);
        break;
      case 5:
        r = bit(eflags::kPf);
        break;
      case 6:
        r = sf_ne_of();
        break;
      default:
        r = i1_or(bit(eflags::kZf), sf_ne_of());
        break;
    }
  }
  return invert ? i1_not(r) : r;
}

// ---- Block ends ----

void TranslateContext::jump_eip(uint64_t eip) {
  if (!code64()) eip &= op_bits() == 16 ? 0xffff : 0xffffffff;
  jump_linear(code64() ? eip : (cs_base_ + eip) & 0xffffffff);
}

void TranslateContext::branch_eip(Value c, uint64_t taken, uint64_t not_taken) {
  auto lin = [&](uint64_t eip) {
    if (code64()) return eip;
    eip &= op_bits() == 16 ? 0xffff : 0xffffffff;
    return (cs_base_ + eip) & 0xffffffff;
  };
  e_.branch(c, lin(taken), lin(not_taken));
  ended_ = true;
}

void TranslateContext::jump_indirect_eip(Value eip) {
  eip = e_.zext(Type::I64, eip);
  if (!code64()) {
    eip = wrap_to(e_, eip, op_bits() == 16 ? 16 : 32);
    if (cs_base_) eip = wrap_to(e_, e_.add(eip, e_.c64(cs_base_)), 32);
  }
  e_.jump_indirect(eip);
  ended_ = true;
}

// ---- Exceptions ----

void TranslateContext::raise(unsigned vector, int32_t error_code) {
  const uint64_t packed = vector | uint64_t(uint32_t(error_code)) << 32;
  e_.call(kHelperRaise, {e_.c64(packed), e_.c64(pc_)});
  e_.exit_pc_in_state(tcg::ir::ExitReason::Exception);
  ended_ = true;
}

void TranslateContext::raise_if(Value c, unsigned vector, int32_t error_code) {
  e_.trap_if(c, kHelperRaise, vector | uint64_t(uint32_t(error_code)) << 32);
}

}  // namespace orrery::cpu::x86
