// String instructions (MOVS/CMPS/SCAS/LODS/STOS with REP/REPE/REPNE) and BCD adjustments.
//
// A REP string instruction is one helper call that runs a bounded batch of iterations and
// says whether it finished; the block then branches to the next instruction or back to the
// same one, so interrupts and other vCPUs' requests are taken between batches.
#include <algorithm>
#include <cstring>

#include "cpu/x86/exception.h"
#include "cpu/x86/flags.h"
#include "cpu/x86/translators.h"
#include "tcg/softmmu/softmmu.h"

namespace orrery::cpu::x86 {

using tcg::ir::Cond;
using tcg::ir::Type;
using tcg::ir::Value;

namespace {

enum StrOp : unsigned { kMovs, kStos, kLods, kCmps, kScas };

// desc: op | size_log2 << 3 | addr_log (0: 16, 1: 32, 2: 64) << 5 | src_seg << 7 |
// rep (1: REP/REPE, 2: REPNE) << 10 | mmu_idx << 12 | code64 << 16 | align_check << 17.
constexpr unsigned kRepBatch = 4096;

constexpr uint64_t kPage = 4096;

// k elements of `size` bytes, each the low bytes of value (REP STOS).
void store_pattern(uint8_t* dst, uint64_t value, unsigned size, uint64_t k) {
  if (size == 1) {
    std::memset(dst, int(value), k);
    return;
  }
  for (uint64_t i = 0; i < k; ++i) std::memcpy(dst + i * size, &value, size);
}

// REP MOVS forward, element by element as the instruction is defined: where the destination
// starts inside the source range, bytes written early are read again later (a pattern fill),
// which memmove would not do.
void copy_forward(uint8_t* dst, const uint8_t* src, unsigned size, uint64_t k) {
  const uint64_t len = k * size;
  if (dst <= src || dst >= src + len) {
    std::memmove(dst, src, len);
    return;
  }
  for (uint64_t i = 0; i < len; i += size) {
    uint64_t v = 0;
    std::memcpy(&v, src + i, size);
    std::memcpy(dst + i, &v, size);
  }
}

uint64_t helper_rep_string(tcg::CpuCommon* c, uint64_t desc, uint64_t insn_pc, uint64_t) {
  X86State& s = state_of(c);
  const StrOp op = StrOp(desc & 7);
  const unsigned size_log2 = (desc >> 3) & 3, size = 1u << size_log2;
  const unsigned abits = 16u << ((desc >> 5) & 3);
  const unsigned src_seg = (desc >> 7) & 7;
  const unsigned rep = (desc >> 10) & 3;
  const unsigned mmu_idx = (desc >> 12) & 0xf;
  const bool code64 = (desc >> 16) & 1;
  const bool align = (desc >> 17) & 1;
  const uint64_t amask = abits == 64 ? ~0ull : (1ull << abits) - 1;
  const uint64_t vmask = size == 8 ? ~0ull : (1ull << (8 * size)) - 1;
  const int64_t step = (s.eflags & eflags::kDf) ? -int64_t(size) : int64_t(size);
  tcg::ir::MemOp mo;
  mo.size_log2 = uint8_t(size_log2);
  mo.mmu_idx = uint8_t(mmu_idx);
  mo.align = align;
  auto linear = [&](unsigned seg, uint64_t off) {
    off &= amask;
    if (code64) return (seg == kFs || seg == kGs) ? off + s.seg[seg].base : off;
    return (off + s.seg[seg].base) & 0xffffffff;
  };
  auto set_index = [&](unsigned r, uint64_t v) {
    if (abits == 16)
      s.gpr[r] = (s.gpr[r] & ~0xffffull) | (v & 0xffff);
    else
      s.gpr[r] = v & amask;
  };
  for (unsigned n = 0; n < kRepBatch; ++n) {
    const uint64_t cnt = s.gpr[kRcx] & amask;
    if (cnt == 0) return 1;
    const uint64_t si = s.gpr[kRsi], di = s.gpr[kRdi];
    // Not under #AC checking: each element's alignment must be checked on its own.
    if ((op == kMovs || op == kStos) && step > 0 && cnt > 1 && !align) {
      // Forward MOVS/STOS on plain RAM: the elements up to the next page end (of either
      // operand) or index wrap at once on host memory, instead of one slow-path access each
      // (Linux clears and copies pages with REP STOSQ/MOVSQ).
      auto room = [&](unsigned seg, uint64_t off) {
        const uint64_t page_left = kPage - (linear(seg, off) & (kPage - 1));
        const uint64_t wrap_left = abits == 64 ? page_left : amask - (off & amask) + 1;
        return std::min(page_left, wrap_left) / size;
      };
      uint64_t k = std::min<uint64_t>({cnt, kRepBatch - n, room(kEs, di)});
      if (op == kMovs) k = std::min(k, room(src_seg, si));
      if (k > 1) {
        const uint64_t len = k * size;
        uint8_t* src = nullptr;
        if (op == kMovs) {
          src = c->mmu->bulk_host(linear(src_seg, si), len, tcg::softmmu::Access::Read, mmu_idx,
                                  insn_pc);
          if (c->pending_exit) return 0;
        }
        uint8_t* dst = nullptr;
        if (op == kStos || src)
          dst = c->mmu->bulk_host(linear(kEs, di), len, tcg::softmmu::Access::Write, mmu_idx,
                                  insn_pc);
        if (c->pending_exit) return 0;
        if (dst) {
          if (op == kStos) {
            store_pattern(dst, s.gpr[kRax] & vmask, size, k);
          } else {
            copy_forward(dst, src, size, k);
            set_index(kRsi, si + len);
          }
          set_index(kRdi, di + len);
          set_index(kRcx, cnt - k);
          n += unsigned(k) - 1;
          if (c->exit_request.load(std::memory_order_relaxed)) return (s.gpr[kRcx] & amask) == 0;
          continue;
        }
      }
    }
    uint64_t a = 0, b = 0;
    switch (op) {
      case kMovs:
        a = c->mmu->load(linear(src_seg, si), mo, insn_pc);
        if (c->pending_exit) return 0;
        c->mmu->store(linear(kEs, di), a, mo, insn_pc);
        break;
      case kStos:
        c->mmu->store(linear(kEs, di), s.gpr[kRax] & vmask, mo, insn_pc);
        break;
      case kLods:
        a = c->mmu->load(linear(src_seg, si), mo, insn_pc);
        break;
      case kCmps:
        a = c->mmu->load(linear(src_seg, si), mo, insn_pc);
        if (c->pending_exit) return 0;
        b = c->mmu->load(linear(kEs, di), mo, insn_pc);
        break;
      case kScas:
        a = s.gpr[kRax] & vmask;
        b = c->mmu->load(linear(kEs, di), mo, insn_pc);
        break;
    }
    if (c->pending_exit) return 0;  // a fault: the registers describe the finished iterations
    if (op == kLods) {
      switch (size) {
        case 1:
          s.gpr[kRax] = (s.gpr[kRax] & ~0xffull) | a;
          break;
        case 2:
          s.gpr[kRax] = (s.gpr[kRax] & ~0xffffull) | a;
          break;
        default:
          s.gpr[kRax] = a;
          break;  // 4: zero-extended
      }
    }
    if (op == kMovs || op == kLods || op == kCmps) set_index(kRsi, si + step);
    if (op != kLods) set_index(kRdi, di + step);
    set_index(kRcx, cnt - 1);
    if (op == kCmps || op == kScas) {
      s.cc_dst = (a - b) & vmask;
      s.cc_src = b;
      s.cc_op = uint32_t(CcOp::SubB) + size_log2;
      if (rep == 1 && a != b) return 1;
      if (rep == 2 && a == b) return 1;
    }
    if (c->exit_request.load(std::memory_order_relaxed)) return (s.gpr[kRcx] & amask) == 0;
  }
  return (s.gpr[kRcx] & amask) == 0;
}
constexpr tcg::ir::Helper kHelperRepString{"x86_rep_string", helper_rep_string};

unsigned src_segment(const TranslateContext& t) {
  for (unsigned i = 0; i < t.num_ops(); ++i) {
    const ZydisDecodedOperand& o = t.op(i);
    if (o.type != ZYDIS_OPERAND_TYPE_MEMORY) continue;
    const ZydisRegister b = o.mem.base;
    if ((b == ZYDIS_REGISTER_SI || b == ZYDIS_REGISTER_ESI || b == ZYDIS_REGISTER_RSI) &&
        o.mem.segment >= ZYDIS_REGISTER_ES && o.mem.segment <= ZYDIS_REGISTER_GS)
      return o.mem.segment - ZYDIS_REGISTER_ES;
  }
  return kDs;
}

unsigned str_size_log2(ZydisMnemonic m) {
  switch (m) {
    case ZYDIS_MNEMONIC_MOVSB:
    case ZYDIS_MNEMONIC_CMPSB:
    case ZYDIS_MNEMONIC_SCASB:
    case ZYDIS_MNEMONIC_LODSB:
    case ZYDIS_MNEMONIC_STOSB:
      return 0;
    case ZYDIS_MNEMONIC_MOVSW:
    case ZYDIS_MNEMONIC_CMPSW:
    case ZYDIS_MNEMONIC_SCASW:
    case ZYDIS_MNEMONIC_LODSW:
    case ZYDIS_MNEMONIC_STOSW:
      return 1;
    case ZYDIS_MNEMONIC_MOVSD:
    case ZYDIS_MNEMONIC_CMPSD:
    case ZYDIS_MNEMONIC_SCASD:
    case ZYDIS_MNEMONIC_LODSD:
    case ZYDIS_MNEMONIC_STOSD:
      return 2;
    default:
      return 3;
  }
}

bool has_simd_operand(const TranslateContext& t) {
  for (unsigned i = 0; i < t.num_visible_ops(); ++i)
    if (t.op(i).type == ZYDIS_OPERAND_TYPE_REGISTER &&
        ZydisRegisterGetClass(t.op(i).reg.value) == ZYDIS_REGCLASS_XMM)
      return true;
  return false;
}

bool string_op(TranslateContext& t, StrOp op) {
  auto& e = t.e();
  if (has_simd_operand(t)) return t.unimplemented();  // SSE2 MOVSD/CMPSD
  const unsigned size_log2 = str_size_log2(t.mnemonic());
  const Type ty = t.type_of_bits(8u << size_log2);
  const unsigned abits = t.addr_bits();
  const unsigned seg = src_segment(t);
  const bool cmp_op = op == kCmps || op == kScas;
  const unsigned rep = t.has_repne() && cmp_op ? 2 : t.has_rep() || t.has_repne() ? 1 : 0;
  if (rep) {
    const uint64_t desc = op | size_log2 << 3 |
                          (abits == 16   ? 0u
                           : abits == 32 ? 1u
                                         : 2u)
                              << 5 |
                          seg << 7 | rep << 10 | uint64_t(t.mmu_idx()) << 12 |
                          uint64_t(t.code64()) << 16 | uint64_t(t.align_check()) << 17;
    Value done = e.call(kHelperRepString, {e.c64(desc), e.c64(t.pc())});
    t.cc_unknown();
    e.branch(e.cmp(Cond::Ne, done, e.c64(0)), t.next_pc(), t.pc());
    t.mark_ended();
    return true;
  }
  const Type at = t.type_of_bits(abits);
  Value df =
      e.cmp(Cond::Ne, e.and_(e.get_reg(Type::I64, kEflagsOffset), e.c64(eflags::kDf)), e.c64(0));
  const uint64_t size = 1u << size_log2;
  Value step = e.select(df, t.konst(at, -size), t.konst(at, size));
  Value si = t.get_gpr(kRsi, at), di = t.get_gpr(kRdi, at);
  auto src_addr = [&] { return t.linear(seg, e.zext(Type::I64, si), abits); };
  auto dst_addr = [&] { return t.linear(kEs, e.zext(Type::I64, di), abits); };
  switch (op) {
    case kMovs:
      t.store(dst_addr(), t.load(ty, src_addr()));
      break;
    case kStos:
      t.store(dst_addr(), t.get_gpr(kRax, ty));
      break;
    case kLods:
      t.set_gpr(kRax, t.load(ty, src_addr()));
      break;
    case kCmps: {
      Value a = t.load(ty, src_addr()), b = t.load(ty, dst_addr());
      t.set_cc(CcOp::SubB, ty, e.sub(a, b), b);
      break;
    }
    case kScas: {
      Value a = t.get_gpr(kRax, ty), b = t.load(ty, dst_addr());
      t.set_cc(CcOp::SubB, ty, e.sub(a, b), b);
      break;
    }
  }
  if (op == kMovs || op == kLods || op == kCmps) t.set_gpr(kRsi, e.add(si, step));
  if (op != kLods) t.set_gpr(kRdi, e.add(di, step));
  return true;
}

// DAA/DAS/AAA/AAS: a = AX, b = EFLAGS, c = op (0 DAA, 1 DAS, 2 AAA, 3 AAS). Returns the new AX
// | the new arithmetic flags << 16.
uint64_t helper_bcd(tcg::CpuCommon*, uint64_t ax, uint64_t ef, uint64_t op) {
  using namespace eflags;
  unsigned al = ax & 0xff, ah = (ax >> 8) & 0xff;
  const bool cf = ef & kCf, af = ef & kAf;
  uint64_t f = 0;
  switch (op) {
    case 0: {  // DAA
      const unsigned old_al = al;
      bool ncf = false;
      if ((al & 0xf) > 9 || af) {
        ncf = cf || al + 6 > 0xff;
        al = (al + 6) & 0xff;
        f |= kAf;
      }
      if (old_al > 0x99 || cf) {
        al = (al + 0x60) & 0xff;
        ncf = true;
      }
      if (ncf) f |= kCf;
      break;
    }
    case 1: {  // DAS
      const unsigned old_al = al;
      bool ncf = false;
      if ((al & 0xf) > 9 || af) {
        ncf = cf || al < 6;
        al = (al - 6) & 0xff;
        f |= kAf;
      }
      if (old_al > 0x99 || cf) {
        al = (al - 0x60) & 0xff;
        ncf = true;
      }
      if (ncf) f |= kCf;
      break;
    }
    case 2:  // AAA
    case 3:  // AAS
      if ((al & 0xf) > 9 || af) {
        if (op == 2) {
          const unsigned v = ((ah << 8) | al) + 0x106;
          al = v & 0xff;
          ah = (v >> 8) & 0xff;
        } else {
          al = (al - 6) & 0xff;
          ah = (ah - 1) & 0xff;
        }
        f |= kAf | kCf;
      }
      al &= 0xf;
      break;
  }
  if (al == 0) f |= kZf;
  if (al & 0x80) f |= kSf;
  if (!(__builtin_popcount(al) & 1)) f |= kPf;
  return (ah << 8 | al) | f << 16;
}
constexpr tcg::ir::Helper kHelperBcd{"x86_bcd", helper_bcd, true};

}  // namespace

bool tr_movs(TranslateContext& t) {
  return string_op(t, kMovs);
}
bool tr_stos(TranslateContext& t) {
  return string_op(t, kStos);
}
bool tr_lods(TranslateContext& t) {
  return string_op(t, kLods);
}
bool tr_cmps(TranslateContext& t) {
  return string_op(t, kCmps);
}
bool tr_scas(TranslateContext& t) {
  return string_op(t, kScas);
}

bool tr_bcd(TranslateContext& t) {
  auto& e = t.e();
  unsigned op;
  switch (t.mnemonic()) {
    case ZYDIS_MNEMONIC_DAA:
      op = 0;
      break;
    case ZYDIS_MNEMONIC_DAS:
      op = 1;
      break;
    case ZYDIS_MNEMONIC_AAA:
      op = 2;
      break;
    default:
      op = 3;
      break;
  }
  Value r = e.call(kHelperBcd,
                   {e.zext(Type::I64, t.get_gpr(kRax, Type::I16)), t.get_eflags(), e.c64(op)});
  if (op < 2) {
    t.set_gpr(kRax, e.trunc(Type::I8, r));
  } else {
    t.set_gpr(kRax, e.trunc(Type::I16, r));
  }
  t.set_arith_flags(e.lshr(r, e.c64(16)));
  return true;
}

bool tr_aam(TranslateContext& t) {
  auto& e = t.e();
  const uint64_t base = t.num_visible_ops() ? t.op(0).imm.value.u & 0xff : 10;
  if (base == 0) {
    t.raise(vec::kDe);
    return true;
  }
  Value al = t.get_gpr(kRax, Type::I8);
  Value q = e.divu(al, t.konst(Type::I8, base));
  Value r = e.sub(al, e.mul(q, t.konst(Type::I8, base)));
  t.set_gpr(kRax, e.or_(e.shl(e.zext(Type::I16, q), t.konst(Type::I16, 8)), e.zext(Type::I16, r)));
  t.set_cc(CcOp::LogicB, Type::I8, r, {});
  return true;
}

bool tr_aad(TranslateContext& t) {
  auto& e = t.e();
  const uint64_t base = t.num_visible_ops() ? t.op(0).imm.value.u & 0xff : 10;
  Value al = t.get_gpr(kRax, Type::I8);
  Value ah = t.get_reg(ZYDIS_REGISTER_AH);
  Value r = e.add(al, e.mul(ah, t.konst(Type::I8, base)));
  t.set_gpr(kRax, e.zext(Type::I16, r));
  t.set_cc(CcOp::LogicB, Type::I8, r, {});
  return true;
}

}  // namespace orrery::cpu::x86
