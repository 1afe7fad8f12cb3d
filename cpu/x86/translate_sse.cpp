// SSE..SSE4.2, AES-NI, PCLMULQDQ, SHA and CRC32 translators (legacy encodings). Moves, inserts
// and extracts are plain IR on the state's XMM registers; everything that computes is one call
// of kHelperSseOp (simd_helpers.h), which also reports unmasked SIMD FP exceptions.
#include "cpu/x86/exception.h"
#include "cpu/x86/simd_helpers.h"
#include "cpu/x86/translators.h"

namespace orrery::cpu::x86 {

using tcg::ir::Cond;
using tcg::ir::Type;
using tcg::ir::Value;
using tcg::ir::VecOp;

namespace {

bool is_xmm(ZydisRegister r) {
  return r >= ZYDIS_REGISTER_XMM0 && r <= ZYDIS_REGISTER_XMM15;
}
bool xmm_op(const TranslateContext& t, unsigned i) {
  return t.is_reg(i) && is_xmm(t.op(i).reg.value);
}
unsigned xmm_num(const TranslateContext& t, unsigned i) {
  return unsigned(t.op(i).reg.value - ZYDIS_REGISTER_XMM0);
}

bool is_mm(ZydisRegister r) {
  return r >= ZYDIS_REGISTER_MM0 && r <= ZYDIS_REGISTER_MM7;
}
bool mm_op(const TranslateContext& t, unsigned i) {
  return t.is_reg(i) && is_mm(t.op(i).reg.value);
}
unsigned mm_num(const TranslateContext& t, unsigned i) {
  return unsigned(t.op(i).reg.value - ZYDIS_REGISTER_MM0);
}
/// MMn is the significand of physical x87 register n.
uint32_t mm_offset(unsigned n) {
  return uint32_t(offsetof(X86State, x87) + offsetof(X87State, st) + sizeof(F80) * n);
}
constexpr uint32_t kX87Top = offsetof(X86State, x87) + offsetof(X87State, top);
constexpr uint32_t kX87Ftw = offsetof(X86State, x87) + offsetof(X87State, ftw);
constexpr uint32_t kX87Fsw = offsetof(X86State, x87) + offsetof(X87State, fsw);

/// MMX: #UD with CR0.EM, #NM with CR0.TS, #MF with a pending x87 exception.
bool mmx_unavailable(TranslateContext& t) {
  const uint64_t f = t.tb_flags();
  if (f & tb_flags::kCr0Em) return t.ud();
  if (f & tb_flags::kFpuTrap) {
    t.raise(vec::kNm);
    return true;
  }
  auto& e = t.e();
  Value es = e.and_(e.get_reg(Type::I16, kX87Fsw), e.konst(Type::I16, 0x80));
  t.raise_if(e.cmp(Cond::Ne, es, e.konst(Type::I16, 0)), vec::kMf);
  return false;
}
/// Writes MMn (and enters MMX mode: TOP = 0, all tags valid, exponent all ones).
void set_mm(TranslateContext& t, unsigned n, Value v64) {
  auto& e = t.e();
  e.set_reg(mm_offset(n), v64);
  e.set_reg(mm_offset(n) + 8, e.konst(Type::I16, 0xffff));
  e.set_reg(kX87Top, e.konst(Type::I8, 0));
  e.set_reg(kX87Ftw, e.konst(Type::I8, 0xff));
}
Value get_mm(TranslateContext& t, unsigned n) {
  auto& e = t.e();
  e.set_reg(kX87Top, e.konst(Type::I8, 0));
  e.set_reg(kX87Ftw, e.konst(Type::I8, 0xff));
  return e.get_reg(Type::I64, mm_offset(n));
}

/// #UD without CR4.OSFXSR or with CR0.EM, #NM with CR0.TS. Returns true when it raised.
bool sse_unavailable(TranslateContext& t) {
  const uint64_t f = t.tb_flags();
  if ((f & tb_flags::kCr0Em) || !(f & tb_flags::kOsfxsr)) return t.ud();
  if (f & tb_flags::kFpuTrap) {
    t.raise(vec::kNm);
    return true;
  }
  return false;
}

/// Legacy-SSE 16-byte memory operands must be aligned (#GP(0)) except for these.
bool needs_alignment(ZydisMnemonic m) {
  switch (m) {
    case ZYDIS_MNEMONIC_MOVUPS:
    case ZYDIS_MNEMONIC_MOVUPD:
    case ZYDIS_MNEMONIC_MOVDQU:
    case ZYDIS_MNEMONIC_LDDQU:
    case ZYDIS_MNEMONIC_PCMPESTRI:
    case ZYDIS_MNEMONIC_PCMPESTRM:
    case ZYDIS_MNEMONIC_PCMPISTRI:
    case ZYDIS_MNEMONIC_PCMPISTRM:
      return false;
    default:
      return true;
  }
}

/// The linear address of memory operand i (not 16 bytes: those are VecLoad/VecStore below).
Value mem_addr(TranslateContext& t, unsigned i) {
  return t.addr_of(i);
}

/// The MemOp of a 16-byte memory operand: legacy-SSE forms other than the unaligned moves
/// demand 16-byte alignment (#GP(0) before any page fault: MemOp::required); alignment
/// checking (#AC at CPL 3 with CR0.AM and EFLAGS.AC) as X86Cpu::raise_alignment_fault does it.
tcg::ir::MemOp m128_memop(const TranslateContext& t) {
  tcg::ir::MemOp m;
  m.size_log2 = 4;
  m.mmu_idx = uint8_t(t.mmu_idx());
  m.required = needs_alignment(t.mnemonic());
  m.align = t.align_check();
  return m;
}

/// A 16-byte memory operand i as one vector value (one access: a fault on either page leaves
/// everything unchanged).
Value load_m128(TranslateContext& t, unsigned i) {
  return t.e().vec_load(t.addr_of(i), m128_memop(t));
}
void store_m128(TranslateContext& t, unsigned i, Value v) {
  t.e().vec_store(t.addr_of(i), v, m128_memop(t));
}

/// A source operand as the helpers take it: an XMM register number, or data (memory, GPR or
/// immediate) zero-extended into lo/hi; a 16-byte memory operand is also the vector vec.
struct Src {
  unsigned reg = 0;
  bool data = false;
  Value lo, hi, vec;
};

Src read_src(TranslateContext& t, unsigned i) {
  auto& e = t.e();
  Src s;
  s.lo = s.hi = e.c64(0);
  if (xmm_op(t, i)) {
    s.reg = xmm_num(t, i);
    return s;
  }
  s.data = true;
  if (t.is_imm(i)) {
    s.lo = e.c64(t.op(i).imm.value.u & 0xff);
  } else if (t.is_reg(i)) {
    s.lo = t.zext64(t.get_reg(t.op(i).reg.value));
  } else {
    const unsigned bits = t.op(i).size;
    if (bits == 128) {
      s.vec = load_m128(t, i);
      s.lo = e.vec_lane(s.vec, 0);
      s.hi = e.vec_lane(s.vec, 1);
    } else if (bits == 64) {
      s.lo = t.load(Type::I64, mem_addr(t, i));
    } else {
      s.lo = t.zext64(t.load(TranslateContext::type_of_bits(bits), mem_addr(t, i)));
    }
  }
  return s;
}

/// The immediate of the instruction (the first visible immediate operand), or 0.
unsigned imm8(const TranslateContext& t) {
  for (unsigned i = 0; i < t.num_visible_ops(); ++i)
    if (t.is_imm(i)) return unsigned(t.op(i).imm.value.u & 0xff);
  return 0;
}

bool sets_flags(ZydisMnemonic m) {
  switch (m) {
    case ZYDIS_MNEMONIC_COMISS:
    case ZYDIS_MNEMONIC_UCOMISS:
    case ZYDIS_MNEMONIC_COMISD:
    case ZYDIS_MNEMONIC_UCOMISD:
    case ZYDIS_MNEMONIC_PTEST:
    case ZYDIS_MNEMONIC_PCMPESTRI:
    case ZYDIS_MNEMONIC_PCMPESTRM:
    case ZYDIS_MNEMONIC_PCMPISTRI:
    case ZYDIS_MNEMONIC_PCMPISTRM:
      return true;
    default:
      return false;
  }
}

void trap_on_fault(TranslateContext& t, Value r) {
  auto& e = t.e();
  e.trap_if(e.cmp(Cond::Ne, e.and_(r, e.c64(simd::kFault)), e.c64(0)), kHelperSimdFault, 0);
}

Value xmm_q(TranslateContext& t, unsigned r, unsigned q) {
  return t.e().get_reg(Type::I64, ymm_offset(r, q));
}
void set_xmm_q(TranslateContext& t, unsigned r, unsigned q, Value v) {
  t.e().set_reg(ymm_offset(r, q), v);
}

// Operations that neither read MXCSR nor raise SIMD FP exceptions (integer, logic, shuffles,
// blends, AES/SHA/CLMUL): kHelperSseIntOp runs them without the MXCSR swap or a fault check.
bool mxcsr_free(ZydisMnemonic m) {
  switch (m) {
    case ZYDIS_MNEMONIC_PADDB:
    case ZYDIS_MNEMONIC_PADDW:
    case ZYDIS_MNEMONIC_PADDD:
    case ZYDIS_MNEMONIC_PADDQ:
    case ZYDIS_MNEMONIC_PSUBB:
    case ZYDIS_MNEMONIC_PSUBW:
    case ZYDIS_MNEMONIC_PSUBD:
    case ZYDIS_MNEMONIC_PSUBQ:
    case ZYDIS_MNEMONIC_PADDSB:
    case ZYDIS_MNEMONIC_PADDSW:
    case ZYDIS_MNEMONIC_PADDUSB:
    case ZYDIS_MNEMONIC_PADDUSW:
    case ZYDIS_MNEMONIC_PSUBSB:
    case ZYDIS_MNEMONIC_PSUBSW:
    case ZYDIS_MNEMONIC_PSUBUSB:
    case ZYDIS_MNEMONIC_PSUBUSW:
    case ZYDIS_MNEMONIC_PCMPEQB:
    case ZYDIS_MNEMONIC_PCMPEQW:
    case ZYDIS_MNEMONIC_PCMPEQD:
    case ZYDIS_MNEMONIC_PCMPGTB:
    case ZYDIS_MNEMONIC_PCMPGTW:
    case ZYDIS_MNEMONIC_PCMPGTD:
    case ZYDIS_MNEMONIC_PMULLW:
    case ZYDIS_MNEMONIC_PMULHW:
    case ZYDIS_MNEMONIC_PMULHUW:
    case ZYDIS_MNEMONIC_PMULUDQ:
    case ZYDIS_MNEMONIC_PMADDWD:
    case ZYDIS_MNEMONIC_PAND:
    case ZYDIS_MNEMONIC_PANDN:
    case ZYDIS_MNEMONIC_POR:
    case ZYDIS_MNEMONIC_PXOR:
    case ZYDIS_MNEMONIC_ANDPS:
    case ZYDIS_MNEMONIC_ANDPD:
    case ZYDIS_MNEMONIC_ANDNPS:
    case ZYDIS_MNEMONIC_ANDNPD:
    case ZYDIS_MNEMONIC_ORPS:
    case ZYDIS_MNEMONIC_ORPD:
    case ZYDIS_MNEMONIC_XORPS:
    case ZYDIS_MNEMONIC_XORPD:
    case ZYDIS_MNEMONIC_PSLLW:
    case ZYDIS_MNEMONIC_PSLLD:
    case ZYDIS_MNEMONIC_PSLLQ:
    case ZYDIS_MNEMONIC_PSRLW:
    case ZYDIS_MNEMONIC_PSRLD:
    case ZYDIS_MNEMONIC_PSRLQ:
    case ZYDIS_MNEMONIC_PSRAW:
    case ZYDIS_MNEMONIC_PSRAD:
    case ZYDIS_MNEMONIC_PSLLDQ:
    case ZYDIS_MNEMONIC_PSRLDQ:
    case ZYDIS_MNEMONIC_PSHUFD:
    case ZYDIS_MNEMONIC_PSHUFLW:
    case ZYDIS_MNEMONIC_PSHUFHW:
    case ZYDIS_MNEMONIC_PUNPCKLBW:
    case ZYDIS_MNEMONIC_PUNPCKLWD:
    case ZYDIS_MNEMONIC_PUNPCKLDQ:
    case ZYDIS_MNEMONIC_PUNPCKLQDQ:
    case ZYDIS_MNEMONIC_PUNPCKHBW:
    case ZYDIS_MNEMONIC_PUNPCKHWD:
    case ZYDIS_MNEMONIC_PUNPCKHDQ:
    case ZYDIS_MNEMONIC_PUNPCKHQDQ:
    case ZYDIS_MNEMONIC_PACKSSWB:
    case ZYDIS_MNEMONIC_PACKSSDW:
    case ZYDIS_MNEMONIC_PACKUSWB:
    case ZYDIS_MNEMONIC_PMINUB:
    case ZYDIS_MNEMONIC_PMAXUB:
    case ZYDIS_MNEMONIC_PMINSW:
    case ZYDIS_MNEMONIC_PMAXSW:
    case ZYDIS_MNEMONIC_PAVGB:
    case ZYDIS_MNEMONIC_PAVGW:
    case ZYDIS_MNEMONIC_PSADBW:
    case ZYDIS_MNEMONIC_SHUFPS:
    case ZYDIS_MNEMONIC_SHUFPD:
    case ZYDIS_MNEMONIC_UNPCKLPS:
    case ZYDIS_MNEMONIC_UNPCKHPS:
    case ZYDIS_MNEMONIC_UNPCKLPD:
    case ZYDIS_MNEMONIC_UNPCKHPD:
    case ZYDIS_MNEMONIC_MOVSLDUP:
    case ZYDIS_MNEMONIC_MOVSHDUP:
    case ZYDIS_MNEMONIC_MOVDDUP:
    case ZYDIS_MNEMONIC_PSHUFB:
    case ZYDIS_MNEMONIC_PHADDW:
    case ZYDIS_MNEMONIC_PHADDD:
    case ZYDIS_MNEMONIC_PHADDSW:
    case ZYDIS_MNEMONIC_PHSUBW:
    case ZYDIS_MNEMONIC_PHSUBD:
    case ZYDIS_MNEMONIC_PHSUBSW:
    case ZYDIS_MNEMONIC_PMADDUBSW:
    case ZYDIS_MNEMONIC_PMULHRSW:
    case ZYDIS_MNEMONIC_PABSB:
    case ZYDIS_MNEMONIC_PABSW:
    case ZYDIS_MNEMONIC_PABSD:
    case ZYDIS_MNEMONIC_PSIGNB:
    case ZYDIS_MNEMONIC_PSIGNW:
    case ZYDIS_MNEMONIC_PSIGND:
    case ZYDIS_MNEMONIC_PALIGNR:
    case ZYDIS_MNEMONIC_PBLENDW:
    case ZYDIS_MNEMONIC_BLENDPS:
    case ZYDIS_MNEMONIC_BLENDPD:
    case ZYDIS_MNEMONIC_BLENDVPS:
    case ZYDIS_MNEMONIC_BLENDVPD:
    case ZYDIS_MNEMONIC_PBLENDVB:
    case ZYDIS_MNEMONIC_PMINSB:
    case ZYDIS_MNEMONIC_PMINSD:
    case ZYDIS_MNEMONIC_PMINUW:
    case ZYDIS_MNEMONIC_PMINUD:
    case ZYDIS_MNEMONIC_PMAXSB:
    case ZYDIS_MNEMONIC_PMAXSD:
    case ZYDIS_MNEMONIC_PMAXUW:
    case ZYDIS_MNEMONIC_PMAXUD:
    case ZYDIS_MNEMONIC_PMULLD:
    case ZYDIS_MNEMONIC_PMULDQ:
    case ZYDIS_MNEMONIC_PCMPEQQ:
    case ZYDIS_MNEMONIC_PACKUSDW:
    case ZYDIS_MNEMONIC_PMOVSXBW:
    case ZYDIS_MNEMONIC_PMOVSXBD:
    case ZYDIS_MNEMONIC_PMOVSXBQ:
    case ZYDIS_MNEMONIC_PMOVSXWD:
    case ZYDIS_MNEMONIC_PMOVSXWQ:
    case ZYDIS_MNEMONIC_PMOVSXDQ:
    case ZYDIS_MNEMONIC_PMOVZXBW:
    case ZYDIS_MNEMONIC_PMOVZXBD:
    case ZYDIS_MNEMONIC_PMOVZXBQ:
    case ZYDIS_MNEMONIC_PMOVZXWD:
    case ZYDIS_MNEMONIC_PMOVZXWQ:
    case ZYDIS_MNEMONIC_PMOVZXDQ:
    case ZYDIS_MNEMONIC_PHMINPOSUW:
    case ZYDIS_MNEMONIC_MPSADBW:
    case ZYDIS_MNEMONIC_PCMPGTQ:
    case ZYDIS_MNEMONIC_INSERTPS:
    case ZYDIS_MNEMONIC_AESENC:
    case ZYDIS_MNEMONIC_AESENCLAST:
    case ZYDIS_MNEMONIC_AESDEC:
    case ZYDIS_MNEMONIC_AESDECLAST:
    case ZYDIS_MNEMONIC_AESIMC:
    case ZYDIS_MNEMONIC_AESKEYGENASSIST:
    case ZYDIS_MNEMONIC_PCLMULQDQ:
    case ZYDIS_MNEMONIC_SHA1NEXTE:
    case ZYDIS_MNEMONIC_SHA1MSG1:
    case ZYDIS_MNEMONIC_SHA1MSG2:
    case ZYDIS_MNEMONIC_SHA1RNDS4:
    case ZYDIS_MNEMONIC_SHA256MSG1:
    case ZYDIS_MNEMONIC_SHA256MSG2:
    case ZYDIS_MNEMONIC_SHA256RNDS2:
      return true;
    default:
      return false;
  }
}

/// SSE2 integer ops with an IR vector operation (tcg/ir/vec_ops.inc): the baseline tier emits
/// the host's own instruction and LLVM keeps the registers in XMM registers. Neither reads
/// MXCSR nor raises an exception. The rest of the integer ops stay helper calls.
struct VecForm {
  ZydisMnemonic m;
  VecOp op;
};
constexpr VecForm kVecForms[] = {
    {ZYDIS_MNEMONIC_PAND, VecOp::And},
    {ZYDIS_MNEMONIC_ANDPS, VecOp::And},
    {ZYDIS_MNEMONIC_ANDPD, VecOp::And},
    {ZYDIS_MNEMONIC_PANDN, VecOp::Andn},
    {ZYDIS_MNEMONIC_ANDNPS, VecOp::Andn},
    {ZYDIS_MNEMONIC_ANDNPD, VecOp::Andn},
    {ZYDIS_MNEMONIC_POR, VecOp::Or},
    {ZYDIS_MNEMONIC_ORPS, VecOp::Or},
    {ZYDIS_MNEMONIC_ORPD, VecOp::Or},
    {ZYDIS_MNEMONIC_PXOR, VecOp::Xor},
    {ZYDIS_MNEMONIC_XORPS, VecOp::Xor},
    {ZYDIS_MNEMONIC_XORPD, VecOp::Xor},
    {ZYDIS_MNEMONIC_PADDB, VecOp::AddB},
    {ZYDIS_MNEMONIC_PADDW, VecOp::AddW},
    {ZYDIS_MNEMONIC_PADDD, VecOp::AddD},
    {ZYDIS_MNEMONIC_PADDQ, VecOp::AddQ},
    {ZYDIS_MNEMONIC_PSUBB, VecOp::SubB},
    {ZYDIS_MNEMONIC_PSUBW, VecOp::SubW},
    {ZYDIS_MNEMONIC_PSUBD, VecOp::SubD},
    {ZYDIS_MNEMONIC_PSUBQ, VecOp::SubQ},
    {ZYDIS_MNEMONIC_PCMPEQB, VecOp::CmpEqB},
    {ZYDIS_MNEMONIC_PCMPEQW, VecOp::CmpEqW},
    {ZYDIS_MNEMONIC_PCMPEQD, VecOp::CmpEqD},
    {ZYDIS_MNEMONIC_PCMPGTB, VecOp::CmpGtB},
    {ZYDIS_MNEMONIC_PCMPGTW, VecOp::CmpGtW},
    {ZYDIS_MNEMONIC_PCMPGTD, VecOp::CmpGtD},
    {ZYDIS_MNEMONIC_PMINUB, VecOp::MinUB},
    {ZYDIS_MNEMONIC_PMAXUB, VecOp::MaxUB},
    {ZYDIS_MNEMONIC_PMINSW, VecOp::MinSW},
    {ZYDIS_MNEMONIC_PMAXSW, VecOp::MaxSW},
    {ZYDIS_MNEMONIC_PMULLW, VecOp::MulLoW},
    {ZYDIS_MNEMONIC_PMULUDQ, VecOp::MulUDQ},
    {ZYDIS_MNEMONIC_PUNPCKLBW, VecOp::UnpackLoB},
    {ZYDIS_MNEMONIC_PUNPCKLWD, VecOp::UnpackLoW},
    {ZYDIS_MNEMONIC_PUNPCKLDQ, VecOp::UnpackLoD},
    {ZYDIS_MNEMONIC_PUNPCKLQDQ, VecOp::UnpackLoQ},
    {ZYDIS_MNEMONIC_PUNPCKHBW, VecOp::UnpackHiB},
    {ZYDIS_MNEMONIC_PUNPCKHWD, VecOp::UnpackHiW},
    {ZYDIS_MNEMONIC_PUNPCKHDQ, VecOp::UnpackHiD},
    {ZYDIS_MNEMONIC_PUNPCKHQDQ, VecOp::UnpackHiQ},
    {ZYDIS_MNEMONIC_UNPCKLPD, VecOp::UnpackLoQ},
    {ZYDIS_MNEMONIC_UNPCKHPD, VecOp::UnpackHiQ},
    {ZYDIS_MNEMONIC_UNPCKLPS, VecOp::UnpackLoD},
    {ZYDIS_MNEMONIC_UNPCKHPS, VecOp::UnpackHiD},
    {ZYDIS_MNEMONIC_PSHUFD, VecOp::ShufD},
    // Shifts by an immediate only; by a register or memory count they stay helper calls.
    {ZYDIS_MNEMONIC_PSLLW, VecOp::ShlW},
    {ZYDIS_MNEMONIC_PSLLD, VecOp::ShlD},
    {ZYDIS_MNEMONIC_PSLLQ, VecOp::ShlQ},
    {ZYDIS_MNEMONIC_PSRLW, VecOp::ShrW},
    {ZYDIS_MNEMONIC_PSRLD, VecOp::ShrD},
    {ZYDIS_MNEMONIC_PSRLQ, VecOp::ShrQ},
    {ZYDIS_MNEMONIC_PSRAW, VecOp::SarW},
    {ZYDIS_MNEMONIC_PSRAD, VecOp::SarD},
    {ZYDIS_MNEMONIC_PSLLDQ, VecOp::ShlBytes},
    {ZYDIS_MNEMONIC_PSRLDQ, VecOp::ShrBytes},
};

Value xmm_vec(TranslateContext& t, unsigned r) {
  return t.e().get_reg(Type::I128, ymm_offset(r));
}

bool try_vec_op(TranslateContext& t, const Src& s) {
  const ZydisMnemonic m = t.mnemonic();
  const VecForm* f = nullptr;
  for (const VecForm& v : kVecForms)
    if (v.m == m) f = &v;
  if (!f) return false;
  auto& e = t.e();
  const unsigned dst = xmm_num(t, 0);
  Value r;
  auto src_vec = [&] {
    if (!s.data) return xmm_vec(t, s.reg);
    return s.vec.valid() ? s.vec : e.vec_build(s.lo, s.hi);
  };
  if (f->op == VecOp::ShufD) {
    r = e.vec_op(f->op, src_vec(), imm8(t));
  } else if (tcg::ir::vec_op_info(f->op).arity == 1) {
    if (!t.is_imm(1)) return false;
    r = e.vec_op(f->op, xmm_vec(t, dst), imm8(t));
  } else {
    r = e.vec_op(f->op, xmm_vec(t, dst), src_vec());
  }
  e.set_reg(ymm_offset(dst), r);
  return true;
}

}  // namespace

bool sse_vec_form(unsigned mnemonic, VecOp& op) {
  for (const VecForm& v : kVecForms)
    if (unsigned(v.m) == mnemonic) {
      op = v.op;
      return true;
    }
  return false;
}

bool tr_mmx_op(TranslateContext& t) {
  if (t.num_visible_ops() > 1 && t.is_reg(1) && !mm_op(t, 1)) return t.unimplemented();
  if (mmx_unavailable(t)) return true;
  auto& e = t.e();
  Value lo = e.c64(0);
  unsigned src = 0;
  uint64_t packed = 0;
  if (t.num_visible_ops() > 1 && mm_op(t, 1)) {
    src = mm_num(t, 1);
  } else if (t.num_visible_ops() > 1) {
    packed |= simd::kSrcMem;
    lo = t.is_imm(1) ? e.c64(t.op(1).imm.value.u & 0xff) : t.load(Type::I64, t.addr_of(1));
  }
  packed |= simd::pack(t.mnemonic(), mm_num(t, 0), src, imm8(t));
  trap_on_fault(t, t.call(kHelperMmxOp, {e.c64(packed), lo, e.c64(0)}));
  return true;
}

bool tr_sse_op(TranslateContext& t) {
  if (mm_op(t, 0)) return tr_mmx_op(t);
  if (!xmm_op(t, 0)) return t.unimplemented();
  if (t.num_visible_ops() > 1 && t.is_reg(1) && !xmm_op(t, 1) &&
      ZydisRegisterGetClass(t.op(1).reg.value) == ZYDIS_REGCLASS_MMX)
    return t.unimplemented();  // CVTPI2PS and the like
  if (sse_unavailable(t)) return true;
  auto& e = t.e();
  const Src s =
      t.num_visible_ops() > 1 ? read_src(t, 1) : Src{0, false, e.c64(0), e.c64(0), Value{}};
  uint64_t packed = simd::pack(t.mnemonic(), xmm_num(t, 0), s.reg, imm8(t));
  if (s.data) packed |= simd::kSrcMem;
  if (t.num_visible_ops() > 1 && !t.is_imm(1) && t.op(1).size == 64 && !xmm_op(t, 1) && t.is_reg(1))
    packed |= simd::kWide;  // CVTSI2SS/SD from a 64-bit GPR
  if (t.is_mem(1) && t.op(1).size == 64 &&
      (t.mnemonic() == ZYDIS_MNEMONIC_CVTSI2SS || t.mnemonic() == ZYDIS_MNEMONIC_CVTSI2SD))
    packed |= simd::kWide;
  if (t.insn().attributes & ZYDIS_ATTRIB_HAS_REX && (t.insn().raw.rex.W) &&
      (t.mnemonic() == ZYDIS_MNEMONIC_PCMPESTRI || t.mnemonic() == ZYDIS_MNEMONIC_PCMPESTRM))
    packed |= simd::kWide;
  if (try_vec_op(t, s)) return true;
  if (const auto fp = sse_fp_vec_op(t)) {
    emit_sse_fp_vec(t, *fp, xmm_num(t, 0), s.data ? e.vec_build(s.lo, s.hi) : xmm_vec(t, s.reg),
                    imm8(t));
    return true;
  }
  if (mxcsr_free(t.mnemonic())) {
    t.call(kHelperSseIntOp, {e.c64(packed), s.lo, s.hi});
    return true;
  }
  Value r = t.call(kHelperSseOp, {e.c64(packed), s.lo, s.hi});
  trap_on_fault(t, r);
  if (sets_flags(t.mnemonic())) t.set_arith_flags(r);
  return true;
}

bool tr_sse_gpr(TranslateContext& t) {
  if (!t.is_reg(0) || !TranslateContext::is_gpr(t.op(0).reg.value)) return t.unimplemented();
  auto& e = t.e();
  if (mm_op(t, 1)) {  // PMOVMSKB r, mm
    if (t.mnemonic() != ZYDIS_MNEMONIC_PMOVMSKB) return t.unimplemented();
    if (mmx_unavailable(t)) return true;
    t.call(kHelperSseGpr,
           {e.c64(simd::pack(t.mnemonic(), TranslateContext::gpr_num(t.op(0).reg.value),
                             mm_num(t, 1), 0) |
                  simd::kMmx | (t.op(0).size == 64 ? simd::kWide : 0)),
            e.c64(0), e.c64(0)});
    return true;
  }
  if (t.is_reg(1) && !xmm_op(t, 1)) return t.unimplemented();
  if (sse_unavailable(t)) return true;
  const Src s = read_src(t, 1);
  if (const auto op = sse_fp_to_int_op(t)) {  // CVT(T)SS2SI/CVT(T)SD2SI as an IR row
    emit_sse_fp_to_int(t, *op, s.data ? e.vec_build(s.lo, s.hi) : xmm_vec(t, s.reg),
                       TranslateContext::gpr_num(t.op(0).reg.value));
    return true;
  }
  uint64_t packed =
      simd::pack(t.mnemonic(), TranslateContext::gpr_num(t.op(0).reg.value), s.reg, 0);
  if (s.data) packed |= simd::kSrcMem;
  if (t.op(0).size == 64) packed |= simd::kWide;
  trap_on_fault(t, t.call(kHelperSseGpr, {e.c64(packed), s.lo, s.hi}));
  return true;
}

// MOVAPS/MOVUPS/MOVAPD/MOVUPD/MOVDQA/MOVDQU/LDDQU/MOVNT*: 128-bit copies.
bool tr_sse_mov128(TranslateContext& t) {
  if (!xmm_op(t, 0) && !xmm_op(t, 1)) return t.unimplemented();
  if (sse_unavailable(t)) return true;
  auto& e = t.e();
  if (t.is_mem(0)) {
    store_m128(t, 0, xmm_vec(t, xmm_num(t, 1)));
    return true;
  }
  Value v = t.is_mem(1) ? load_m128(t, 1) : xmm_vec(t, xmm_num(t, 1));
  e.set_reg(ymm_offset(xmm_num(t, 0)), v);
  return true;
}

// MOVSS/MOVSD (the SSE forms): register moves merge the low lane, loads zero the rest.
bool tr_sse_movs(TranslateContext& t) {
  if (sse_unavailable(t)) return true;
  auto& e = t.e();
  const Type lt = t.mnemonic() == ZYDIS_MNEMONIC_MOVSS ? Type::I32 : Type::I64;
  if (t.is_mem(0)) {
    t.store(t.addr_of(0), e.get_reg(lt, ymm_offset(xmm_num(t, 1))));
    return true;
  }
  const unsigned dst = xmm_num(t, 0);
  if (t.is_mem(1)) {
    set_xmm_q(t, dst, 0, t.zext64(t.load(lt, t.addr_of(1))));
    set_xmm_q(t, dst, 1, e.c64(0));
  } else {
    e.set_reg(ymm_offset(dst), e.get_reg(lt, ymm_offset(xmm_num(t, 1))));
  }
  return true;
}

// MOVD/MOVQ between XMM and GPR/memory, and MOVQ xmm, xmm.
bool tr_mmx_movdq(TranslateContext& t) {
  if (mmx_unavailable(t)) return true;
  auto& e = t.e();
  if (mm_op(t, 0)) {
    Value v = mm_op(t, 1) ? e.get_reg(Type::I64, mm_offset(mm_num(t, 1))) : t.zext64(t.read(1));
    set_mm(t, mm_num(t, 0), v);
    return true;
  }
  Value v = get_mm(t, mm_num(t, 1));
  t.write(0, e.trunc(t.type_of_op(0), v));
  return true;
}

bool tr_sse_movdq(TranslateContext& t) {
  if (mm_op(t, 0) || mm_op(t, 1)) {
    if (t.is_reg(0) && !mm_op(t, 0) && !TranslateContext::is_gpr(t.op(0).reg.value))
      return t.unimplemented();  // MOVQ2DQ-like forms
    if (t.is_reg(1) && !mm_op(t, 1) && !TranslateContext::is_gpr(t.op(1).reg.value))
      return t.unimplemented();
    return tr_mmx_movdq(t);
  }
  if (!xmm_op(t, 0) && !xmm_op(t, 1)) return t.unimplemented();
  if (t.is_reg(0) && !xmm_op(t, 0) && !TranslateContext::is_gpr(t.op(0).reg.value))
    return t.unimplemented();
  if (t.is_reg(1) && !xmm_op(t, 1) && !TranslateContext::is_gpr(t.op(1).reg.value))
    return t.unimplemented();
  if (sse_unavailable(t)) return true;
  auto& e = t.e();
  if (xmm_op(t, 0)) {
    const unsigned dst = xmm_num(t, 0);
    Value v = xmm_op(t, 1) ? xmm_q(t, xmm_num(t, 1), 0) : t.zext64(t.read(1));
    set_xmm_q(t, dst, 0, v);
    set_xmm_q(t, dst, 1, e.c64(0));
    return true;
  }
  const Type ty = t.type_of_op(0);
  t.write(0, e.get_reg(ty, ymm_offset(xmm_num(t, 1))));
  return true;
}

// MASKMOVQ (MMX) and MASKMOVDQU (SSE2): byte-masked stores to DS:rDI. The MMX registers go
// through the VEX scratch registers, which the shared helper reads.
bool tr_sse_maskmov(TranslateContext& t) {
  if (!t.is_reg(0) || !t.is_reg(1) || !t.is_mem(2)) return t.unimplemented();
  if (mm_op(t, 0) && mm_op(t, 1)) {
    if (mmx_unavailable(t)) return true;
    auto& e = t.e();
    Value data = get_mm(t, mm_num(t, 0)), mask = get_mm(t, mm_num(t, 1));
    e.set_reg(ymm_offset(kVexSrcTmp), data);
    e.set_reg(ymm_offset(kVexDstTmp), mask);
    return emit_maskmov_bytes(t, kVexSrcTmp, kVexDstTmp);
  }
  if (!xmm_op(t, 0) || !xmm_op(t, 1)) return t.unimplemented();
  if (sse_unavailable(t)) return true;
  return emit_maskmov_bytes(t, xmm_num(t, 0), xmm_num(t, 1));
}

// MOVLPS/MOVLPD/MOVHPS/MOVHPD (m64 forms), MOVHLPS/MOVLHPS (register forms).
bool tr_sse_movhl(TranslateContext& t) {
  if (sse_unavailable(t)) return true;
  const ZydisMnemonic m = t.mnemonic();
  const bool high = m == ZYDIS_MNEMONIC_MOVHPS || m == ZYDIS_MNEMONIC_MOVHPD;
  if (m == ZYDIS_MNEMONIC_MOVHLPS) {
    set_xmm_q(t, xmm_num(t, 0), 0, xmm_q(t, xmm_num(t, 1), 1));
    return true;
  }
  if (m == ZYDIS_MNEMONIC_MOVLHPS) {
    set_xmm_q(t, xmm_num(t, 0), 1, xmm_q(t, xmm_num(t, 1), 0));
    return true;
  }
  if (t.is_mem(0)) {
    t.store(t.addr_of(0), xmm_q(t, xmm_num(t, 1), high));
    return true;
  }
  if (!t.is_mem(1)) return t.unimplemented();
  set_xmm_q(t, xmm_num(t, 0), high, t.load(Type::I64, t.addr_of(1)));
  return true;
}

// PEXTRB/W/D/Q, EXTRACTPS, PINSRB/W/D/Q: one lane of the register file in the state.
bool tr_sse_lane(TranslateContext& t) {
  unsigned bits = 32;
  bool insert = false;
  switch (t.mnemonic()) {
    case ZYDIS_MNEMONIC_PINSRB:
      insert = true;
      [[fallthrough]];
    case ZYDIS_MNEMONIC_PEXTRB:
      bits = 8;
      break;
    case ZYDIS_MNEMONIC_PINSRW:
      insert = true;
      [[fallthrough]];
    case ZYDIS_MNEMONIC_PEXTRW:
      bits = 16;
      break;
    case ZYDIS_MNEMONIC_PINSRD:
      insert = true;
      break;
    case ZYDIS_MNEMONIC_PINSRQ:
      insert = true;
      [[fallthrough]];
    case ZYDIS_MNEMONIC_PEXTRQ:
      bits = 64;
      break;
    default:
      break;
  }
  const unsigned x = insert ? 0 : 1;
  auto& e = t.e();
  if (mm_op(t, x) && bits == 16) {  // PINSRW/PEXTRW on MMX registers
    if (mmx_unavailable(t)) return true;
    const unsigned n = mm_num(t, x);
    const uint32_t off = mm_offset(n) + 2 * (imm8(t) & 3);
    get_mm(t, n);
    if (insert) {
      e.set_reg(off, t.is_mem(1) ? t.load(Type::I16, t.addr_of(1))
                                 : e.trunc(Type::I16, t.get_reg(t.op(1).reg.value)));
      e.set_reg(mm_offset(n) + 8, e.konst(Type::I16, 0xffff));
    } else {
      t.set_gpr(
          TranslateContext::gpr_num(t.op(0).reg.value),
          e.zext(t.type_of_op(0) == Type::I64 ? Type::I64 : Type::I32, e.get_reg(Type::I16, off)));
    }
    return true;
  }
  if (!xmm_op(t, x)) return t.unimplemented();
  if (sse_unavailable(t)) return true;
  const Type lt = TranslateContext::type_of_bits(bits);
  const unsigned lanes = 128 / bits;
  const uint32_t off = ymm_offset(xmm_num(t, x)) + (imm8(t) & (lanes - 1)) * (bits / 8);
  if (insert) {
    Value v = t.is_mem(1) ? t.load(lt, t.addr_of(1)) : e.trunc(lt, t.get_reg(t.op(1).reg.value));
    e.set_reg(off, v);
    return true;
  }
  Value v = e.get_reg(lt, off);
  if (t.is_mem(0)) {
    t.store(t.addr_of(0), v);
  } else {
    t.set_gpr(TranslateContext::gpr_num(t.op(0).reg.value),
              e.zext(t.type_of_op(0) == Type::I64 ? Type::I64 : Type::I32, v));
  }
  return true;
}

bool tr_ldmxcsr(TranslateContext& t) {
  if (sse_unavailable(t)) return true;
  auto& e = t.e();
  Value v = t.load(Type::I32, t.addr_of(0));
  t.raise_if(e.cmp(Cond::Ne, e.and_(v, e.c32(0xffff0000u)), e.c32(0)), vec::kGp, 0);
  e.set_reg(offsetof(X86State, mxcsr), v);
  t.exit_to_next();  // tb_flags::kMxcsrDefault may have changed
  return true;
}

bool tr_stmxcsr(TranslateContext& t) {
  if (sse_unavailable(t)) return true;
  t.store(t.addr_of(0), t.e().get_reg(Type::I32, offsetof(X86State, mxcsr)));
  return true;
}

bool tr_crc32(TranslateContext& t) {
  auto& e = t.e();
  const unsigned dst = TranslateContext::gpr_num(t.op(0).reg.value);
  Value crc = t.zext64(t.get_gpr(dst, Type::I32));
  Value v = t.zext64(t.read(1));
  Value r = t.call(kHelperCrc32, {crc, v, e.c64(t.op(1).size / 8)});
  t.set_gpr(dst, e.trunc(Type::I32, r));
  return true;
}

}  // namespace orrery::cpu::x86
