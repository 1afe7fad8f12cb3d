// VEX translators: AVX, AVX2, FMA, F16C and the VEX forms of SSE..SSE4.2, AES-NI and PCLMULQDQ.
// Moves, lane inserts/extracts and VZEROUPPER/VZEROALL are IR on the state's YMM registers;
// everything that computes is one kHelperAvxOp call (simd_avx.cpp). A memory or GPR source is
// first copied into the scratch register 16 (X86State::vex_tmp), and a result bound for memory
// or a GPR is left in 17, so the helper only ever sees register numbers.
//
// VEX rules (SDM vol. 2, 2.8): #UD in real and virtual-8086 mode, without CR4.OSXSAVE or with
// XCR0 lacking SSE|AVX; #NM with CR0.TS (CR0.EM and CR4.OSFXSR do not matter). A VEX.128 write
// to an XMM register zeroes bits 255:128; VEX.256 writes the whole YMM register. Only the
// aligned moves (VMOVAPS/APD/DQA, VMOVNT*) check alignment. VEX.L/W/vvvv encoding rules are
// Zydis's (an invalid encoding does not decode and is #UD).
#include "cpu/x86/exception.h"
#include "cpu/x86/simd_helpers.h"
#include "cpu/x86/translators.h"

namespace orrery::cpu::x86 {

using tcg::ir::Cond;
using tcg::ir::Type;
using tcg::ir::Value;

namespace {

bool is_vec(ZydisRegister r) {
  return (r >= ZYDIS_REGISTER_XMM0 && r <= ZYDIS_REGISTER_XMM15) ||
         (r >= ZYDIS_REGISTER_YMM0 && r <= ZYDIS_REGISTER_YMM15);
}
bool vec_op(const TranslateContext& t, unsigned i) {
  return t.is_reg(i) && is_vec(t.op(i).reg.value);
}
unsigned vec_num(const TranslateContext& t, unsigned i) {
  const ZydisRegister r = t.op(i).reg.value;
  return r >= ZYDIS_REGISTER_YMM0 ? unsigned(r - ZYDIS_REGISTER_YMM0)
                                  : unsigned(r - ZYDIS_REGISTER_XMM0);
}
bool gpr_op(const TranslateContext& t, unsigned i) {
  return t.is_reg(i) && TranslateContext::is_gpr(t.op(i).reg.value);
}

Value yq(TranslateContext& t, unsigned r, unsigned q) {
  return t.e().get_reg(Type::I64, ymm_offset(r, q));
}
void set_yq(TranslateContext& t, unsigned r, unsigned q, Value v) {
  t.e().set_reg(ymm_offset(r, q), v);
}
/// Zeroes bits 255:128 of register r (a VEX.128 write).
void zero_upper(TranslateContext& t, unsigned r) {
  set_yq(t, r, 2, t.e().c64(0));
  set_yq(t, r, 3, t.e().c64(0));
}

/// The VEX checks; returns true when it raised. Non-VEX encodings (EVEX) are refused.
bool avx_unavailable(TranslateContext& t, bool& refused) {
  refused = t.insn().encoding != ZYDIS_INSTRUCTION_ENCODING_VEX;
  if (refused) return false;
  const uint64_t f = t.tb_flags();
  if (!t.protected_mode() || t.vm86()) return t.ud();
  if (!(f & tb_flags::kOsxsave) || !(f & tb_flags::kAvxEnabled)) return t.ud();
  if (f & tb_flags::kCr0Ts) {
    t.raise(vec::kNm);
    return true;
  }
  return false;
}
#define AVX_CHECK(t)                               \
  do {                                             \
    bool refused_ = false;                         \
    if (avx_unavailable(t, refused_)) return true; \
    if (refused_) return t.unimplemented();        \
  } while (0)

bool needs_alignment(ZydisMnemonic m) {
  switch (m) {
    case ZYDIS_MNEMONIC_VMOVAPS:
    case ZYDIS_MNEMONIC_VMOVAPD:
    case ZYDIS_MNEMONIC_VMOVDQA:
    case ZYDIS_MNEMONIC_VMOVNTPS:
    case ZYDIS_MNEMONIC_VMOVNTPD:
    case ZYDIS_MNEMONIC_VMOVNTDQ:
    case ZYDIS_MNEMONIC_VMOVNTDQA:
      return true;
    default:
      return false;
  }
}

/// The MemOp of a 16- or 32-byte VEX memory operand (VecLoad/VecStore): the aligned moves
/// demand the operand's size (#GP(0) before any #PF: MemOp::required); the guest's alignment
/// check (#AC) is at 16 bytes for both sizes (MemOp::align_bytes: silicon raises #AC for a ymm
/// operand not 16-byte aligned, none at 16 mod 32; x86-diff --misalign-vec --align-check on
/// KVM).
tcg::ir::MemOp vex_vec_memop(const TranslateContext& t) {
  tcg::ir::MemOp m;
  m.mmu_idx = uint8_t(t.mmu_idx());
  m.required = needs_alignment(t.mnemonic());
  m.align = t.align_check();
  return m;
}

}  // namespace

Value vex_vec_load(TranslateContext& t, unsigned i) {
  return t.e().vec_load(t.addr_of(i), vex_vec_memop(t),
                        t.op(i).size == 256 ? Type::I256 : Type::I128);
}

namespace {

/// Loads memory operand i (any size up to 256 bits) zero-extended into register `into`; a 16-
/// or 32-byte operand is one access (a fault on either page leaves the register unchanged).
void load_to(TranslateContext& t, unsigned i, unsigned into) {
  auto& e = t.e();
  Value a = t.addr_of(i);
  const unsigned bits = t.op(i).size;
  if (bits >= 128) {
    e.set_reg(ymm_offset(into), vex_vec_load(t, i));
    if (bits == 128) zero_upper(t, into);
    return;
  }
  const unsigned qs = bits >= 64 ? bits / 64 : 1;
  Value v[4];
  for (unsigned q = 0; q < qs; ++q)
    v[q] = bits >= 64 ? t.load(Type::I64, q ? e.add(a, e.c64(8 * q)) : a)
                      : t.zext64(t.load(TranslateContext::type_of_bits(bits), a));
  for (unsigned q = 0; q < 4; ++q) set_yq(t, into, q, q < qs ? v[q] : e.c64(0));
}

/// Stores the low `bits` of register r to memory operand i; a 16- or 32-byte operand is one
/// access (a fault on its second page writes nothing, as on silicon).
void store_from(TranslateContext& t, unsigned i, unsigned r) {
  auto& e = t.e();
  Value a = t.addr_of(i);
  const unsigned bits = t.op(i).size;
  if (bits < 64) {
    t.store(a, e.get_reg(TranslateContext::type_of_bits(bits), ymm_offset(r)));
    return;
  }
  if (bits >= 128) {
    e.vec_store(a, e.get_reg(bits == 256 ? Type::I256 : Type::I128, ymm_offset(r)),
                vex_vec_memop(t));
    return;
  }
  Value v[4];
  for (unsigned q = 0; q < bits / 64; ++q) v[q] = yq(t, r, q);
  for (unsigned q = 0; q < bits / 64; ++q) t.store(q ? e.add(a, e.c64(8 * q)) : a, v[q]);
}

/// A source operand as a register number: vector registers as they are, memory and GPRs
/// through the scratch register 16.
unsigned source(TranslateContext& t, unsigned i, bool& data) {
  if (vec_op(t, i)) return vec_num(t, i);
  data = true;
  if (t.is_mem(i)) {
    load_to(t, i, kVexSrcTmp);
  } else {
    auto& e = t.e();
    set_yq(t, kVexSrcTmp, 0, t.zext64(t.get_reg(t.op(i).reg.value)));
    for (unsigned q = 1; q < 4; ++q) set_yq(t, kVexSrcTmp, q, e.c64(0));
  }
  return kVexSrcTmp;
}

unsigned imm8(const TranslateContext& t) {
  for (unsigned i = 0; i < t.num_visible_ops(); ++i)
    if (t.is_imm(i)) return unsigned(t.op(i).imm.value.u & 0xff);
  return 0;
}

/// Instructions whose only result is EFLAGS (or ECX), with the first operand a source.
bool flags_only(ZydisMnemonic m) {
  switch (m) {
    case ZYDIS_MNEMONIC_VCOMISS:
    case ZYDIS_MNEMONIC_VUCOMISS:
    case ZYDIS_MNEMONIC_VCOMISD:
    case ZYDIS_MNEMONIC_VUCOMISD:
    case ZYDIS_MNEMONIC_VPTEST:
    case ZYDIS_MNEMONIC_VTESTPS:
    case ZYDIS_MNEMONIC_VTESTPD:
    case ZYDIS_MNEMONIC_VPCMPESTRI:
    case ZYDIS_MNEMONIC_VPCMPISTRI:
      return true;
    default:
      return false;
  }
}
bool string_mask(ZydisMnemonic m) {
  return m == ZYDIS_MNEMONIC_VPCMPESTRM || m == ZYDIS_MNEMONIC_VPCMPISTRM;
}

bool is_shift_by_count(unsigned lm) {
  switch (lm) {
    case ZYDIS_MNEMONIC_PSLLW:
    case ZYDIS_MNEMONIC_PSLLD:
    case ZYDIS_MNEMONIC_PSLLQ:
    case ZYDIS_MNEMONIC_PSRLW:
    case ZYDIS_MNEMONIC_PSRLD:
    case ZYDIS_MNEMONIC_PSRLQ:
    case ZYDIS_MNEMONIC_PSRAW:
    case ZYDIS_MNEMONIC_PSRAD:
      return true;
    default:
      return false;
  }
}

void trap_on_fault(TranslateContext& t, Value r) {
  auto& e = t.e();
  e.trap_if(e.cmp(Cond::Ne, e.and_(r, e.c64(simd::kFault)), e.c64(0)), kHelperSimdFault, 0);
}

bool is_ymm(const TranslateContext& t, unsigned i) {
  return t.is_reg(i) && t.op(i).reg.value >= ZYDIS_REGISTER_YMM0 &&
         t.op(i).reg.value <= ZYDIS_REGISTER_YMM15;
}

}  // namespace

bool tr_avx_op(TranslateContext& t) {
  AVX_CHECK(t);
  auto& e = t.e();
  const ZydisMnemonic mn = t.mnemonic();
  unsigned ops[4], n = 0;
  bool has_imm = false;
  for (unsigned i = 0; i < t.num_visible_ops() && n < 4; ++i) {
    if (t.is_imm(i))
      has_imm = true;
    else
      ops[n++] = i;
  }
  if (n == 0) return t.unimplemented();
  if (try_avx_vec_op(t)) return true;  // IR vector ops (translate_avx_vec.cpp)
  if (try_avx_fp_op(t)) return true;   // SSE FP rows (translate_sse_fp.cpp)
  unsigned imm = imm8(t);
  if (n == 4) {  // VBLENDV*: the fourth register is imm8[7:4]
    if (!vec_op(t, ops[3])) return t.unimplemented();
    imm = vec_num(t, ops[3]) << 4;
    n = 3;
  }
  uint64_t packed = mn;
  const unsigned d = ops[0];
  unsigned dst;
  if (vec_op(t, d)) {
    dst = vec_num(t, d);
    if (is_ymm(t, d)) packed |= simd::kDst256;
  } else {
    dst = kVexDstTmp;
  }
  if (flags_only(mn)) dst = kVexDstTmp;
  if (string_mask(mn)) dst = 0;
  if (t.insn().avx.vector_length == 256) packed |= simd::kVexL;
  unsigned ai, bi;
  if (n >= 3) {
    ai = ops[1];
    bi = ops[2];
  } else if (n == 2 && (flags_only(mn) || string_mask(mn))) {
    ai = ops[0];
    bi = ops[1];
  } else {
    ai = bi = ops[n - 1];
  }
  bool data = false;
  unsigned a = 0, b = 0;
  if (n == 2 && has_imm && is_shift_by_count(legacy_mnemonic(mn))) {
    // VPSLLW ymm, ymm/m, imm8...: the count goes through register 17 (16 may hold the source).
    a = source(t, ai, data);
    data = false;
    set_yq(t, kVexDstTmp, 0, e.c64(imm));
    for (unsigned q = 1; q < 4; ++q) set_yq(t, kVexDstTmp, q, e.c64(0));
    b = kVexDstTmp;
  } else {
    a = source(t, ai, data);
    b = ai == bi ? a : source(t, bi, data);
  }
  if (data) packed |= simd::kSrcMem;
  if (has_imm) packed |= simd::kImmForm;
  if ((mn == ZYDIS_MNEMONIC_VCVTSI2SS || mn == ZYDIS_MNEMONIC_VCVTSI2SD) && t.op(bi).size == 64)
    packed |= simd::kWide;
  if ((mn == ZYDIS_MNEMONIC_VPCMPESTRI || mn == ZYDIS_MNEMONIC_VPCMPESTRM) && t.insn().raw.vex.W)
    packed |= simd::kWide;
  packed |= uint64_t(dst) << simd::kDstShift | uint64_t(b) << simd::kSrcShift |
            uint64_t(imm & 0xff) << simd::kImmShift | uint64_t(a) << simd::kVvvvShift;
  Value r = t.call(kHelperAvxOp, {e.c64(packed), e.c64(0), e.c64(0)});
  trap_on_fault(t, r);
  if (flags_only(mn) || string_mask(mn)) t.set_arith_flags(r);
  if (t.is_mem(d)) {
    store_from(t, d, kVexDstTmp);
  } else if (gpr_op(t, d)) {  // VMOVMSKPS/PD, VPMOVMSKB
    t.set_gpr(TranslateContext::gpr_num(t.op(d).reg.value), e.trunc(t.type_of_op(d), r));
  }
  return true;
}

// VMOVAPS/UPS/APD/UPD/DQA/DQU, VMOVNT*, VLDDQU: 128- and 256-bit copies.
bool tr_avx_mov(TranslateContext& t) {
  AVX_CHECK(t);
  if (t.is_mem(0)) {
    if (!vec_op(t, 1)) return t.unimplemented();
    store_from(t, 0, vec_num(t, 1));
    return true;
  }
  if (!vec_op(t, 0)) return t.unimplemented();
  const unsigned dst = vec_num(t, 0);
  if (t.is_mem(1)) {
    load_to(t, 1, dst);
    return true;
  }
  avx_vec_move(t, dst, vec_num(t, 1), t.op(0).size);
  return true;
}

// VMOVSS/VMOVSD: loads zero the rest of the register; the register form merges into src1.
bool tr_avx_movs(TranslateContext& t) {
  AVX_CHECK(t);
  auto& e = t.e();
  const Type lt = t.mnemonic() == ZYDIS_MNEMONIC_VMOVSS ? Type::I32 : Type::I64;
  if (t.is_mem(0)) {
    t.store(t.addr_of(0), e.get_reg(lt, ymm_offset(vec_num(t, 1))));
    return true;
  }
  const unsigned dst = vec_num(t, 0);
  if (t.is_mem(1)) {
    load_to(t, 1, dst);
    return true;
  }
  const unsigned a = vec_num(t, 1), b = vec_num(t, 2);
  Value lo = yq(t, a, 0), hi = yq(t, a, 1), v = e.get_reg(lt, ymm_offset(b));
  set_yq(t, dst, 0, lo);
  set_yq(t, dst, 1, hi);
  e.set_reg(ymm_offset(dst), v);
  zero_upper(t, dst);
  return true;
}

// VMOVD/VMOVQ.
bool tr_avx_movdq(TranslateContext& t) {
  AVX_CHECK(t);
  auto& e = t.e();
  if (vec_op(t, 0)) {
    const unsigned dst = vec_num(t, 0);
    Value v = vec_op(t, 1) ? yq(t, vec_num(t, 1), 0) : t.zext64(t.read(1));
    set_yq(t, dst, 0, v);
    for (unsigned q = 1; q < 4; ++q) set_yq(t, dst, q, e.c64(0));
    return true;
  }
  if (!vec_op(t, 1)) return t.unimplemented();
  t.write(0, e.get_reg(t.type_of_op(0), ymm_offset(vec_num(t, 1))));
  return true;
}

// VMOVLPS/LPD/HPS/HPD (3-operand loads, 2-operand stores), VMOVHLPS/VMOVLHPS.
bool tr_avx_movhl(TranslateContext& t) {
  AVX_CHECK(t);
  const ZydisMnemonic m = t.mnemonic();
  const bool high = m == ZYDIS_MNEMONIC_VMOVHPS || m == ZYDIS_MNEMONIC_VMOVHPD;
  if (t.is_mem(0)) {
    t.store(t.addr_of(0), yq(t, vec_num(t, 1), high));
    return true;
  }
  if (t.num_visible_ops() < 3) return t.unimplemented();
  const unsigned dst = vec_num(t, 0), a = vec_num(t, 1);
  Value lo, hi;
  if (m == ZYDIS_MNEMONIC_VMOVHLPS) {
    lo = yq(t, vec_num(t, 2), 1);
    hi = yq(t, a, 1);
  } else if (m == ZYDIS_MNEMONIC_VMOVLHPS) {
    lo = yq(t, a, 0);
    hi = yq(t, vec_num(t, 2), 0);
  } else {
    if (!t.is_mem(2)) return t.unimplemented();
    Value mv = t.load(Type::I64, t.addr_of(2));
    lo = high ? yq(t, a, 0) : mv;
    hi = high ? mv : yq(t, a, 1);
  }
  set_yq(t, dst, 0, lo);
  set_yq(t, dst, 1, hi);
  zero_upper(t, dst);
  return true;
}

// VPEXTRB/W/D/Q, VEXTRACTPS, VPINSRB/W/D/Q.
bool tr_avx_lane(TranslateContext& t) {
  AVX_CHECK(t);
  auto& e = t.e();
  unsigned bits = 32;
  bool insert = false;
  switch (t.mnemonic()) {
    case ZYDIS_MNEMONIC_VPINSRB:
      insert = true;
      [[fallthrough]];
    case ZYDIS_MNEMONIC_VPEXTRB:
      bits = 8;
      break;
    case ZYDIS_MNEMONIC_VPINSRW:
      insert = true;
      [[fallthrough]];
    case ZYDIS_MNEMONIC_VPEXTRW:
      bits = 16;
      break;
    case ZYDIS_MNEMONIC_VPINSRD:
      insert = true;
      break;
    case ZYDIS_MNEMONIC_VPINSRQ:
      insert = true;
      [[fallthrough]];
    case ZYDIS_MNEMONIC_VPEXTRQ:
      bits = 64;
      break;
    default:
      break;
  }
  const Type lt = TranslateContext::type_of_bits(bits);
  const unsigned lane = imm8(t) & (128 / bits - 1);
  if (insert) {  // dst, src1, r/m, imm
    const unsigned dst = vec_num(t, 0), a = vec_num(t, 1);
    Value v = t.is_mem(2) ? t.load(lt, t.addr_of(2)) : e.trunc(lt, t.get_reg(t.op(2).reg.value));
    Value lo = yq(t, a, 0), hi = yq(t, a, 1);
    set_yq(t, dst, 0, lo);
    set_yq(t, dst, 1, hi);
    e.set_reg(ymm_offset(dst) + lane * (bits / 8), v);
    zero_upper(t, dst);
    return true;
  }
  if (!vec_op(t, 1)) return t.unimplemented();
  Value v = e.get_reg(lt, ymm_offset(vec_num(t, 1)) + lane * (bits / 8));
  if (t.is_mem(0)) {
    t.store(t.addr_of(0), v);
  } else {
    t.set_gpr(TranslateContext::gpr_num(t.op(0).reg.value),
              e.zext(t.type_of_op(0) == Type::I64 ? Type::I64 : Type::I32, v));
  }
  return true;
}

// VCVT(T)SS2SI, VCVT(T)SD2SI: an IR row under the default MXCSR, else the legacy GPR helper
// (VEX adds nothing for these).
bool tr_avx_gpr(TranslateContext& t) {
  AVX_CHECK(t);
  if (!gpr_op(t, 0)) return t.unimplemented();
  auto& e = t.e();
  if (const auto op = sse_fp_to_int_op(t)) {
    Value src =
        vec_op(t, 1)
            ? e.get_reg(Type::I128, ymm_offset(vec_num(t, 1)))
            : e.vec_build(
                  t.zext64(t.load(TranslateContext::type_of_bits(t.op(1).size), t.addr_of(1))),
                  e.c64(0));
    emit_sse_fp_to_int(t, *op, src, TranslateContext::gpr_num(t.op(0).reg.value));
    return true;
  }
  uint64_t packed =
      simd::pack(legacy_mnemonic(t.mnemonic()), TranslateContext::gpr_num(t.op(0).reg.value),
                 vec_op(t, 1) ? vec_num(t, 1) : 0, 0);
  Value lo = e.c64(0);
  if (!vec_op(t, 1)) {
    packed |= simd::kSrcMem;
    lo = t.zext64(t.load(TranslateContext::type_of_bits(t.op(1).size), t.addr_of(1)));
  }
  if (t.op(0).size == 64) packed |= simd::kWide;
  trap_on_fault(t, t.call(kHelperSseGpr, {e.c64(packed), lo, e.c64(0)}));
  return true;
}

// VZEROUPPER / VZEROALL: YMM0-15 in 64-bit mode, YMM0-7 elsewhere.
bool tr_vzero(TranslateContext& t) {
  AVX_CHECK(t);
  const bool all = t.mnemonic() == ZYDIS_MNEMONIC_VZEROALL;
  const unsigned regs = t.code64() ? 16 : 8;
  for (unsigned r = 0; r < regs; ++r)
    for (unsigned q = all ? 0 : 2; q < 4; ++q) set_yq(t, r, q, t.e().c64(0));
  return true;
}

bool tr_vldmxcsr(TranslateContext& t) {
  AVX_CHECK(t);
  auto& e = t.e();
  Value v = t.load(Type::I32, t.addr_of(0));
  t.raise_if(e.cmp(Cond::Ne, e.and_(v, e.c32(0xffff0000u)), e.c32(0)), vec::kGp, 0);
  e.set_reg(offsetof(X86State, mxcsr), v);
  t.exit_to_next();  // tb_flags::kMxcsrDefault may have changed
  return true;
}

bool tr_vstmxcsr(TranslateContext& t) {
  AVX_CHECK(t);
  t.store(t.addr_of(0), t.e().get_reg(Type::I32, offsetof(X86State, mxcsr)));
  return true;
}

namespace {
uint64_t mem_desc(TranslateContext& t, unsigned seg) {
  const unsigned abits = t.addr_bits();
  return uint64_t(t.insn().avx.vector_length == 256) << 40 | uint64_t(t.mmu_idx()) << 44 |
         uint64_t(seg) << 48 |
         uint64_t(abits == 16   ? 0
                  : abits == 32 ? 1
                                : 2)
             << 52 |
         uint64_t(t.code64()) << 54;
}
}  // namespace

// VMASKMOVPS/PD, VPMASKMOVD/Q: element-wise, so masked-off elements never fault.
bool tr_avx_maskmov(TranslateContext& t) {
  AVX_CHECK(t);
  auto& e = t.e();
  uint64_t packed = t.mnemonic() | mem_desc(t, 0);
  Value addr;
  if (t.is_mem(0)) {  // store: m, mask, src
    addr = t.addr_of(0);
    packed |=
        uint64_t(kVexDstTmp) << 16 | uint64_t(vec_num(t, 1)) << 24 | uint64_t(vec_num(t, 2)) << 32;
  } else {  // load: dst, mask, m
    addr = t.addr_of(2);
    packed |= uint64_t(vec_num(t, 0)) << 16 | uint64_t(vec_num(t, 1)) << 24;
  }
  t.call(kHelperAvxMem, {e.c64(packed), addr, e.c64(t.pc())});
  return true;
}

bool emit_maskmov_bytes(TranslateContext& t, unsigned data, unsigned mask) {
  auto& e = t.e();
  const uint64_t packed =
      t.mnemonic() | mem_desc(t, 0) | uint64_t(data) << 16 | uint64_t(mask) << 24;
  t.call(kHelperAvxMem, {e.c64(packed), t.addr_of(2), e.c64(t.pc())});
  return true;
}

bool tr_avx_maskmovdqu(TranslateContext& t) {
  AVX_CHECK(t);
  return emit_maskmov_bytes(t, vec_num(t, 0), vec_num(t, 1));
}

// VGATHER*/VPGATHER*: dst, VSIB memory, mask. #UD when two of the three registers are the same.
bool tr_avx_gather(TranslateContext& t) {
  AVX_CHECK(t);
  auto& e = t.e();
  if (!t.is_mem(1) || !vec_op(t, 0) || !vec_op(t, 2)) return t.unimplemented();
  const ZydisDecodedOperand& m = t.op(1);
  const ZydisRegister ir = m.mem.index;
  const unsigned idx = ir >= ZYDIS_REGISTER_YMM0 ? unsigned(ir - ZYDIS_REGISTER_YMM0)
                                                 : unsigned(ir - ZYDIS_REGISTER_XMM0);
  const unsigned dst = vec_num(t, 0), mask = vec_num(t, 2);
  if (dst == idx || dst == mask || idx == mask) return t.ud();
  const unsigned seg = m.mem.segment >= ZYDIS_REGISTER_ES && m.mem.segment <= ZYDIS_REGISTER_GS
                           ? unsigned(m.mem.segment - ZYDIS_REGISTER_ES)
                           : unsigned(kDs);
  Value base = e.c64(uint64_t(m.mem.disp.value));
  if (m.mem.base != ZYDIS_REGISTER_NONE) base = e.add(base, t.zext64(t.get_reg(m.mem.base)));
  const unsigned scale = m.mem.scale ? unsigned(__builtin_ctz(m.mem.scale)) : 0;
  const uint64_t packed = t.mnemonic() | uint64_t(dst) << 16 | uint64_t(idx) << 24 |
                          uint64_t(mask) << 32 | uint64_t(scale) << 41 | mem_desc(t, seg);
  t.call(kHelperAvxMem, {e.c64(packed), base, e.c64(t.pc())});
  return true;
}

}  // namespace orrery::cpu::x86
