// IR -> x86-64 in one pass. Every non-constant value has a home (regalloc.h): a host register or
// an 8-byte stack slot, holding it in canonical form (zero-extended from its type, I1 as 0/1,
// exactly as the interpreter keeps them). The frequent operations compute straight into the
// result's home register (two-operand forms, operands read from their registers, slots or as
// immediates); the others, and results homed in slots, compute in rax and store it. rbx
// holds the CPU pointer and r12 the vCPU's TLB table for the whole block. Rare operations go
// through ir::eval_pure, the shared reference semantics, so only the frequent ones need
// hand-written code. Slow paths (TLB misses, traps, tier-up) are emitted after the block's main
// line so the common path falls through.
#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string_view>

#include "tcg/baseline/baseline.h"
#include "tcg/baseline/detail.h"
#include "tcg/baseline/regalloc.h"
#include "tcg/baseline/x64.h"
#include "tcg/ir/eval.h"
#include "tcg/ir/helpers.h"
#include "tcg/ir/vec_eval.h"
#include "tcg/opt/mem_runs.h"

namespace orrery::tcg::baseline {

using ir::Opcode;
using ir::Type;
using ir::Value;

namespace {

constexpr int32_t kOffPc = offsetof(CpuCommon, pc);
constexpr int32_t kOffExitRequest = offsetof(CpuCommon, exit_request);
constexpr int32_t kOffPendingExit = offsetof(CpuCommon, pending_exit);
constexpr int32_t kOffJcTag = offsetof(CpuCommon, jc_tag);
constexpr int32_t kOffTlb = offsetof(CpuCommon, tlb);
constexpr int32_t kOffJumpCache = offsetof(CpuCommon, jump_cache);
constexpr int32_t kOffLastTb = offsetof(CpuCommon, last_tb);
constexpr int32_t kOffLastExitSlot = offsetof(CpuCommon, last_exit_slot);
static_assert(sizeof(std::atomic<exec::NativeFn>) == 8 && sizeof(std::atomic<uint64_t>) == 8);
static_assert(offsetof(JumpCacheEntry, pc) == 0 && offsetof(JumpCacheEntry, flags) == 8 &&
              offsetof(JumpCacheEntry, native) == 16);

/// An operation the generated code hands to ir::eval_pure; stored in the code cache after the
/// block's code and reached RIP-relative.
struct GenericOp {
  uint8_t op, type, src_bits;
  uint64_t imm, imm2;
};

uint64_t generic_eval(const GenericOp* g, uint64_t a, uint64_t b, uint64_t c) {
  return ir::eval_pure(Opcode(g->op), Type(g->type), g->src_bits, a, b, c, g->imm, g->imm2);
}

unsigned bytes_of(Type t) {
  switch (t) {
    case Type::I8:
      return 1;
    case Type::I16:
      return 2;
    case Type::I32:
      return 4;
    default:
      return 8;
  }
}

/// The host SSE2 instruction of each vector op (vec_ops.inc order): 66 0F opc xmm0, xmm1 for
/// the binary ones; 66 0F opc /ext ib for the immediate ones (PSHUFD is 66 0F 70 /r ib).
struct SseEnc {
  uint8_t opc, ext;
  uint8_t prefix = 0x66;  // the SSE FP rows: none (PS), 66 (PD), F3 (SS), F2 (SD)
};
// clang-format off
constexpr SseEnc kSseEnc[] = {
    {0xdb, 0}, {0xeb, 0}, {0xef, 0}, {0xdf, 0},  // pand por pxor pandn
    {0xfc, 0}, {0xfd, 0}, {0xfe, 0}, {0xd4, 0},  // padd b w d q
    {0xf8, 0}, {0xf9, 0}, {0xfa, 0}, {0xfb, 0},  // psub b w d q
    {0x74, 0}, {0x75, 0}, {0x76, 0},             // pcmpeq b w d
    {0x64, 0}, {0x65, 0}, {0x66, 0},             // pcmpgt b w d
    {0xda, 0}, {0xde, 0}, {0xea, 0}, {0xee, 0},  // pminub pmaxub pminsw pmaxsw
    {0xd5, 0}, {0xf4, 0},                        // pmullw pmuludq
    {0x60, 0}, {0x61, 0}, {0x62, 0}, {0x6c, 0},  // punpckl bw wd dq qdq
    {0x68, 0}, {0x69, 0}, {0x6a, 0}, {0x6d, 0},  // punpckh bw wd dq qdq
    {0x70, 0},                                   // pshufd
    {0x71, 6}, {0x72, 6}, {0x73, 6},             // psll w d q
    {0x71, 2}, {0x72, 2}, {0x73, 2},             // psrl w d q
    {0x71, 4}, {0x72, 4},                        // psra w d
    {0x73, 7}, {0x73, 3},                        // pslldq psrldq
    // ---- SSE floating point (x86fp): prefix 0F opc xmm0, xmm1 [ib] ----
    {0x58, 0, 0}, {0x58, 0, 0x66}, {0x58, 0, 0xf3}, {0x58, 0, 0xf2},  // add ps pd ss sd
    {0x5c, 0, 0}, {0x5c, 0, 0x66}, {0x5c, 0, 0xf3}, {0x5c, 0, 0xf2},  // sub
    {0x59, 0, 0}, {0x59, 0, 0x66}, {0x59, 0, 0xf3}, {0x59, 0, 0xf2},  // mul
    {0x5e, 0, 0}, {0x5e, 0, 0x66}, {0x5e, 0, 0xf3}, {0x5e, 0, 0xf2},  // div
    {0x5d, 0, 0}, {0x5d, 0, 0x66}, {0x5d, 0, 0xf3}, {0x5d, 0, 0xf2},  // min
    {0x5f, 0, 0}, {0x5f, 0, 0x66}, {0x5f, 0, 0xf3}, {0x5f, 0, 0xf2},  // max
    {0x51, 0, 0}, {0x51, 0, 0x66}, {0x51, 0, 0xf3}, {0x51, 0, 0xf2},  // sqrt
    {0xc2, 0, 0}, {0xc2, 0, 0x66}, {0xc2, 0, 0xf3}, {0xc2, 0, 0xf2},  // cmp (ib)
    {0x5b, 0, 0}, {0x5b, 0, 0x66}, {0x5b, 0, 0xf3},  // cvtdq2ps cvtps2dq cvttps2dq
    {0x5a, 0, 0}, {0x5a, 0, 0x66}, {0x5a, 0, 0xf3}, {0x5a, 0, 0xf2},  // cvtps2pd pd2ps ss2sd sd2ss
    {0xe6, 0, 0xf3}, {0xe6, 0, 0xf2}, {0xe6, 0, 0x66},  // cvtdq2pd cvtpd2dq cvttpd2dq
    {0, 0, 0}, {0, 0, 0}, {0, 0, 0}, {0, 0, 0},  // cvtsi2ss/sd (32, 64-bit): kFpGprCode
    {0, 0, 0}, {0, 0, 0}, {0, 0, 0}, {0, 0, 0},  // cvt(t)ss2si cvt(t)sd2si (32-bit)
    {0, 0, 0}, {0, 0, 0}, {0, 0, 0}, {0, 0, 0},  // the same (64-bit)
    {0, 0, 0}, {0, 0, 0}, {0, 0, 0}, {0, 0, 0},  // (u)comiss (u)comisd
};
// clang-format on
static_assert(std::size(kSseEnc) == ir::kNumVecOps);

/// The machine code of the integer-conversion and EFLAGS rows (CvtSI2SS .. UcomiSD, in that
/// order): the sequences of tcg/ir/vec_fp_asm.inc on xmm0 (a, result) and xmm1 (b), rax scratch.
#define MOVD_EAX_XMM1 "\x66\x0f\x7e\xc8"
#define MOVQ_RAX_XMM1 "\x66\x48\x0f\x7e\xc8"
#define MOVQ_XMM0_RAX "\x66\x48\x0f\x6e\xc0"
#define LAHF_TO_XMM0 "\x9f\x0f\xb6\xc4" MOVQ_XMM0_RAX  // lahf; movzx eax, ah; movq xmm0, rax
constexpr std::string_view kFpGprCode[] = {
    MOVD_EAX_XMM1 "\xf3\x0f\x2a\xc0",      // cvtsi2ss xmm0, eax
    MOVD_EAX_XMM1 "\xf2\x0f\x2a\xc0",      // cvtsi2sd xmm0, eax
    MOVQ_RAX_XMM1 "\xf3\x48\x0f\x2a\xc0",  // cvtsi2ss xmm0, rax
    MOVQ_RAX_XMM1 "\xf2\x48\x0f\x2a\xc0",  // cvtsi2sd xmm0, rax
    "\xf3\x0f\x2d\xc1" MOVQ_XMM0_RAX,      // cvtss2si eax, xmm1
    "\xf3\x0f\x2c\xc1" MOVQ_XMM0_RAX,      // cvttss2si eax, xmm1
    "\xf2\x0f\x2d\xc1" MOVQ_XMM0_RAX,      // cvtsd2si eax, xmm1
    "\xf2\x0f\x2c\xc1" MOVQ_XMM0_RAX,      // cvttsd2si eax, xmm1
    "\xf3\x48\x0f\x2d\xc1" MOVQ_XMM0_RAX,  // cvtss2si rax, xmm1
    "\xf3\x48\x0f\x2c\xc1" MOVQ_XMM0_RAX,  // cvttss2si rax, xmm1
    "\xf2\x48\x0f\x2d\xc1" MOVQ_XMM0_RAX,  // cvtsd2si rax, xmm1
    "\xf2\x48\x0f\x2c\xc1" MOVQ_XMM0_RAX,  // cvttsd2si rax, xmm1
    "\x0f\x2f\xc1" LAHF_TO_XMM0,           // comiss xmm0, xmm1
    "\x0f\x2e\xc1" LAHF_TO_XMM0,           // ucomiss xmm0, xmm1
    "\x66\x0f\x2f\xc1" LAHF_TO_XMM0,       // comisd xmm0, xmm1
    "\x66\x0f\x2e\xc1" LAHF_TO_XMM0,       // ucomisd xmm0, xmm1
};
#undef MOVD_EAX_XMM1
#undef MOVQ_RAX_XMM1
#undef MOVQ_XMM0_RAX
#undef LAHF_TO_XMM0
constexpr unsigned kFpGprFirst = unsigned(ir::VecOp::CvtSI2SS);
static_assert(kFpGprFirst + std::size(kFpGprCode) == ir::kNumVecOps);

Cc cc_of(ir::Cond c) {
  switch (c) {
    case ir::Cond::Eq:
      return kE;
    case ir::Cond::Ne:
      return kNe;
    case ir::Cond::Ult:
      return kB;
    case ir::Cond::Ule:
      return kBe;
    case ir::Cond::Ugt:
      return kA;
    case ir::Cond::Uge:
      return kAe;
    case ir::Cond::Slt:
      return kL;
    case ir::Cond::Sle:
      return kLe;
    case ir::Cond::Sgt:
      return kG;
    case ir::Cond::Sge:
      return kGe;
  }
  return kE;
}

/// A slow path emitted after the main line: it starts at `entry` and, unless it leaves the
/// block, returns to `back`.
struct Cold {
  enum class Kind : uint8_t {
    TierUp,
    LoadMiss,
    StoreMiss,
    AtomicMiss,
    Trap,
    VecLoadMiss,
    VecStoreMiss
  } kind;
  Label entry, back;
  uint32_t inst;   // the Load/Store/TrapIf
  uint64_t pc;     // guest PC of its instruction
  Reg addr = RAX;  // LoadMiss/StoreMiss: the register holding the guest address
};

}  // namespace

/// Buffers reused from block to block by one translating thread.
struct Workspace::Buffers {
  X64 a;
  std::vector<ValueHome> vals;
  Allocation alloc;
  std::vector<Cold> cold;
  std::vector<std::pair<size_t, GenericOp>> data;
};

Workspace::Workspace() : b(std::make_unique<Buffers>()) {}
Workspace::~Workspace() = default;

bool detail::host_has_avx2() {
  static const bool kHas = __builtin_cpu_supports("avx2");
  return kHas;
}
bool detail::host_has_bmi2() {
  static const bool kHas = __builtin_cpu_supports("bmi2");
  return kHas;
}

namespace {
using detail::host_has_avx2;
using detail::host_has_bmi2;

// Values per block the baseline tier keeps on the vCPU thread's stack (512 KiB); larger blocks
// are interpreted.
constexpr int32_t kMaxFrameSlots = 1 << 16;

class Gen {
 public:
  Gen(const exec::TranslationBlock& tb, const Options& opt, Workspace::Buffers& w,
      std::vector<Reloc>& relocs)
      : tb_(tb),
        b_(tb.ir),
        opt_(opt),
        avx2_(opt.avx2 && host_has_avx2()),
        bmi2_(opt.bmi2 && host_has_bmi2()),
        a_(w.a),
        vals_(w.vals),
        alloc_(w.alloc),
        cold_(w.cold),
        data_(w.data),
        relocs_(relocs) {
    a_.reset();
    cold_.clear();
    data_.clear();
    relocs_.clear();
  }

  bool run(std::string& err);
  const uint8_t* data() const { return a_.data(); }
  size_t size() const { return a_.size(); }

 private:
  Mem slot(Value v) const { return Mem{RSP, vals_[v.id].slot * 8}; }
  Mem slot_of(size_t i) const { return Mem{RSP, vals_[i].slot * 8}; }
  bool is_k(Value v) const { return vals_[v.id].konst; }
  uint64_t kv(Value v) const { return vals_[v.id].k; }
  Type ty(Value v) const { return b_.type_of(v); }

  /// The 128-bit half at byte `at` of vector op i, in SSE2 (the whole op for I128).
  void gen_vec_op128(size_t i, int32_t at) {
    const ir::Inst& in = b_.insts[i];
    const auto op = ir::VecOp(in.imm);
    const SseEnc e = kSseEnc[in.imm];
    a_.movdqu_load(0, Mem{RSP, slot(in.args[0]).disp + at});
    if (in.op == Opcode::VecOp2) {
      a_.movdqu_load(1, Mem{RSP, slot(in.args[1]).disp + at});
      a_.sse_rr(0x66, e.opc, 0, 1);
    } else if (op == ir::VecOp::ShufD) {
      a_.sse_rr(0x66, e.opc, 0, 0);
      a_.imm8(uint8_t(in.imm2));
    } else {
      a_.sse_shift_ri(e.opc, e.ext, 0, uint8_t(in.imm2));
    }
    a_.movdqu_store(Mem{RSP, slot_of(i).disp + at}, 0);
  }
  /// An I256 vector op as the AVX2 form of the same SSE2 instruction (same opcode and /ext;
  /// AVX2 keeps SSE2's per-128-bit-lane semantics). VZEROUPPER after it, so the SSE2 code
  /// around it pays no transition penalty.
  void gen_vec_op256(size_t i) {
    const ir::Inst& in = b_.insts[i];
    const auto op = ir::VecOp(in.imm);
    const SseEnc e = kSseEnc[in.imm];
    a_.vmovdqu_load(0, slot(in.args[0]));
    if (in.op == Opcode::VecOp2) {
      a_.vmovdqu_load(1, slot(in.args[1]));
      a_.vex_rrr(e.opc, 0, 0, 1);
    } else if (op == ir::VecOp::ShufD) {
      a_.vex_rrr(e.opc, 0, 0, 0);  // vvvv unused (1111b): encoded as register 0's complement
      a_.imm8(uint8_t(in.imm2));
    } else {
      a_.vex_shift_ri(e.opc, e.ext, 0, 0, uint8_t(in.imm2));
    }
    a_.vmovdqu_store(slot_of(i), 0);
    a_.vzeroupper();
  }

  void ld(Reg r, Value v, bool keep_flags = false) {
    const ValueHome& h = vals_[v.id];
    if (h.konst) {
      a_.mov_imm(r, h.k, keep_flags);
    } else if (r == RAX && a_.size() == rax_stored_at_ && rax_root_ == h.root) {
      // The previous instruction emitted was the store of v from rax: rax still holds it, and
      // if this is v's only use the store itself is dead.
      if (rax_value_ == v.id && h.uses == 1) {
        a_.truncate(rax_store_start_);
        rax_stored_at_ = flags_at_ = zs_at_ = ~size_t(0);
      }
    } else if (h.in_reg()) {
      if (h.reg != r) a_.mov_rr(true, r, h.reg);
    } else {
      a_.load(8, r, slot(v));
    }
  }
  /// The register instruction i computes its result in: its home register, else rax (which
  /// st() then stores to the slot).
  Reg out(size_t i) const { return vals_[i].in_reg() ? vals_[i].reg : RAX; }
  /// The host register holding v (RSP for none: a slot or a constant).
  Reg reg_of(Value v) const { return vals_[v.id].reg; }
  void st(size_t i, Reg r) {
    const ValueHome& h = vals_[i];
    rax_store_start_ = a_.size();
    if (h.in_reg()) {
      if (h.reg != r) a_.mov_rr(true, h.reg, r);
    } else if (h.slot >= 0) {
      a_.store(8, slot_of(i), r);
    }
    if (r == RAX) {
      rax_stored_at_ = a_.size();
      rax_root_ = h.root;
      rax_value_ = uint32_t(i);
    }
  }
  /// Sets the flags for "I1 value c is true": ZF clear when it is.
  void test_i1(Value c) {
    const ValueHome& h = vals_[c.id];
    if (h.in_reg())
      a_.test_rr(false, h.reg, h.reg);
    else
      a_.alu_mi(kCmp, false, slot(c), 0);
  }
  /// Saves the caller-saved pool registers the block uses (around a slow path's call; an even
  /// number of pushes keeps rsp 16-byte aligned). Stack slots are out of reach until restored.
  void save_caller_pool() {
    for (Reg r : saved_) a_.push(r);
  }
  void restore_caller_pool() {
    for (size_t k = saved_.size(); k-- > 0;) a_.pop(saved_[k]);
  }
  /// Binds l here. Code jumping to l may arrive with any rax, so the store-to-load shortcut in
  /// ld() must not apply across it.
  void bind(Label l) {
    a_.bind(l);
    rax_stored_at_ = ~size_t(0);
    flags_at_ = ~size_t(0);
  }
  /// If the host flags still hold comparison v (nothing was emitted after its setcc/store),
  /// the condition code that is true when v is; otherwise false.
  bool flags_hold(Value v, Cc& cc) {
    if (is_k(v) || a_.size() != flags_at_ || flags_value_ != v.id) return false;
    cc = flags_cc_;
    if (vals_[v.id].uses == 1) {  // nothing else reads the 0/1 value: drop setcc and store
      a_.truncate(flags_tail_at_);
      rax_stored_at_ = flags_at_ = zs_at_ = ~size_t(0);
    }
    return true;
  }
  /// Canonicalises r for type t (the low 32 bits of r hold the result).
  void norm(Reg r, Type t) {
    switch (t) {
      case Type::I32:
        a_.mov_rr(false, r, r);
        break;
      case Type::I16:
        a_.movzx_rr(2, r, r);
        break;
      case Type::I8:
        a_.movzx_rr(1, r, r);
        break;
      case Type::I1:
        a_.alu_ri(kAnd, false, r, 1);
        break;
      default:
        break;
    }
  }
  void epilogue() {
    if (frame_) a_.alu_ri(kAdd, true, RSP, frame_);
    for (size_t k = alloc_.callee.size(); k-- > 0;) a_.pop(alloc_.callee[k]);
    a_.pop(R12);
    a_.pop(RBX);
  }
  void ret_code(uint64_t code) {
    a_.mov_imm(RAX, code);
    epilogue();
    a_.ret();
  }
  void check_pending() {
    a_.alu_mi(kCmp, false, Mem{RBX, kOffPendingExit}, 0);
    a_.jcc(kNe, pending_);
    pending_used_ = true;
  }
  Label cold(Cold::Kind kind, Label entry, uint32_t inst = 0, uint64_t pc = 0, Reg addr = RAX) {
    Label back = a_.new_label();
    cold_.push_back(Cold{kind, entry, back, inst, pc, addr});
    return back;
  }
  void emit_cold(const Cold& c);
  /// d = d op y (64- or 32-bit), with y as an immediate, a register or its slot; d is not rcx.
  void alu_to(Alu op, bool w, Reg d, Value y) {
    if (is_k(y) && (!w || fits_i32(int64_t(kv(y))))) {
      a_.alu_ri(op, w, d, int32_t(uint32_t(kv(y))));
    } else if (is_k(y)) {
      a_.mov_imm(RCX, kv(y));
      a_.alu_rr(op, w, d, RCX);
    } else if (vals_[y.id].in_reg()) {
      a_.alu_rr(op, w, d, vals_[y.id].reg);
    } else {
      a_.alu_rm(op, w, d, slot(y));
    }
  }
  /// d = v canonicalised for type t (v's type is at least as wide): one instruction from a
  /// register.
  void ld_norm(Reg d, Value v, Type t) {
    const Reg s = reg_of(v);
    if (s == RSP && !is_k(v) && t != Type::I64 && t != Type::I1) {
      a_.load(bytes_of(t), d, slot(v));  // the low bytes, zero-extended
    } else if (s == RSP || t == Type::I64 || t == Type::I1) {
      ld(d, v);
      norm(d, t);
    } else if (t == Type::I32) {
      a_.mov_rr(false, d, s);
    } else {
      a_.movzx_rr(bytes_of(t), d, s);
    }
  }
  /// dst = XOR of rax shifted by each of shifts (jump_cache_fold); clobbers rsi.
  template <size_t N>
  void fold_pc(Reg dst, const int (&shifts)[N]) {
    for (size_t k = 0; k < N; ++k) {
      const Reg r = k == 0 ? dst : RSI;
      a_.mov_rr(true, r, RAX);
      if (shifts[k] != 0)
        a_.shift_ri(shifts[k] > 0 ? kShr : kShl, true, r, uint8_t(std::abs(shifts[k])));
      if (k != 0) a_.alu_rr(kXor, false, dst, RSI);
    }
  }
  /// r &= m (64-bit), through rdx when m needs more than a sign- or zero-extended imm32.
  void and_imm(Reg r, uint64_t m) {
    if (fits_i32(int64_t(m))) {
      a_.alu_ri(kAnd, true, r, int32_t(m));
    } else if (m <= 0xffffffffull) {
      a_.alu_ri(kAnd, false, r, int32_t(uint32_t(m)));  // a 32-bit and zero-extends
    } else {
      a_.mov_imm(RDX, m);
      a_.alu_rr(kAnd, true, r, RDX);
    }
  }
  // Every run-dependent address goes through these two, which record where it is
  // (tcg/exec/translation_cache.h fills the sites in again in a later run).
  void mov_reloc(Reg r, RelocKind kind, uint32_t addend = 0, const ir::Helper* helper = nullptr) {
    Reloc rel{0, kind, addend, helper};
    rel.at = uint32_t(a_.mov_imm64(r, detail::reloc_value(rel, tb_, opt_)));
    relocs_.push_back(rel);
  }
  /// r = the address of a field of this block's TranslationBlock.
  void mov_tb(Reg r, const void* field) {
    const auto off = reinterpret_cast<const char*>(field) - reinterpret_cast<const char*>(&tb_);
    mov_reloc(r, RelocKind::Tb, uint32_t(off));
  }
  void call_abs(RelocKind kind, const ir::Helper* helper = nullptr) {
    mov_reloc(RAX, kind, 0, helper);
    a_.call_r(RAX);
  }
  /// The function a slow path calls, and how a later run finds it again (its relocation).
  struct ColdTarget {
    RelocKind kind;
    const ir::Helper* helper = nullptr;  // RelocKind::Helper
    bool operator==(const ColdTarget&) const = default;
  };
  ColdTarget cold_target(const Cold& c) const;
  /// A slow path's call of fn(cpu, ...) (rdi = rbx, set here): when two or more of the
  /// block's slow paths call fn, a 5-byte call of one thunk per block (`mov rdi, rbx; mov rax,
  /// fn; jmp rax`, emitted by emit_thunks) instead of 15 bytes each. The thunk's tail jump
  /// leaves the stack as a direct call would.
  void cold_call(const ColdTarget& t) {
    for (const Thunk& k : thunks_)
      if (k.target == t && k.calls >= 2) {
        a_.call(k.l);
        return;
      }
    a_.mov_rr(true, RDI, RBX);
    call_abs(t.kind, t.helper);
  }
  void emit_thunks() {
    for (const Thunk& k : thunks_)
      if (k.calls >= 2) {
        bind(k.l);
        a_.mov_rr(true, RDI, RBX);
        mov_reloc(RAX, k.target.kind, 0, k.target.helper);
        a_.jmp_r(RAX);
      }
  }

  bool gen_inst(size_t i, std::string& err);
  void gen_generic(size_t i);
  void gen_alu(size_t i, Alu op);
  void gen_vec_fp(size_t i, uint8_t prefix, uint8_t opc);
  void gen_shift(size_t i);
  bool fuse_set_reg(size_t i, Cc cc);
  // The host's ZF and SF hold value v at type t from here (its ALU op, or a cmp with 0).
  void note_zs_flags(uint32_t v, Type t) {
    zs_value_ = v;
    zs_type_ = t;
    zs_at_ = a_.size();
  }
  bool zs_holds(Value v, Type t) const {
    return !is_k(v) && a_.size() == zs_at_ && zs_value_ == v.id && zs_type_ == t;
  }
  void gen_cmp(size_t i);
  void gen_adc(size_t i);
  void gen_mem(size_t i, bool store);
  void gen_vec_mem(size_t i, bool is_store);
  void gen_atomic(size_t i);
  void tlb_index(Reg a);
  Mem tlb_probe(Reg a, const ir::MemOp& m, bool write, Label miss, bool atomic = false);
  void tlb_lookup(const ir::MemOp& m, bool write, Label miss, bool atomic = false);
  // Runs of accesses with one TLB probe (tcg/opt/mem_runs.h). Each run has a frame slot holding
  // the host address of its base while the probe holds, else 0.
  void probe_run(const opt::MemRun& r, Mem run_slot);
  void end_runs_in_progress(uint32_t i);  // in a slow path of instruction i
  Mem run_slot(int32_t r) const { return Mem{RSP, run_slots_[r] * 8}; }
  void gen_terminal();
  void direct_exit(uint64_t target, unsigned slot);
  /// Exits through the jump-cache entry at `entry` (rax = the target pc, already in cpu.pc).
  void jump_cache_exit(Mem entry);

  const exec::TranslationBlock& tb_;
  const ir::Block& b_;
  const Options& opt_;
  const bool avx2_;  // I256 ops as AVX2 (else two SSE2 halves)
  const bool bmi2_;  // the TLB index with RORX (else mov and shr)
  X64& a_;
  std::vector<ValueHome>& vals_;
  Allocation& alloc_;
  std::vector<Reg> saved_;        // caller-saved pool registers in use (even count)
  bool unexpected_call_ = false;  // a call the allocator did not plan for
  int32_t frame_ = 0;
  uint64_t pc_ = 0;
  Label pending_{};
  bool pending_used_ = false;
  bool loop_exit_used_ = false;
  Label jc_miss_{};  // the jump-cache exits' shared miss (unset: none yet)
  bool jc_miss_used_ = false;
  struct Thunk {
    ColdTarget target;
    Label l;
    unsigned calls;
  };
  std::vector<Thunk> thunks_;
  Label loop_head_{};           // after the prologue: where a block that loops to itself goes on
  Label loop_exit_request_{};   // that loop saw exit_request (cpu->pc already holds the block's)
  size_t rax_store_start_ = 0;  // where the last "mov [slot], rax" starts
  size_t rax_stored_at_ = ~size_t(0);  // and the code offset just after it
  uint32_t rax_root_ = ~0u;            // and the home it stored to (by its root value)
  uint32_t rax_value_ = 0;             // and the value
  size_t flags_tail_at_ = 0;           // where the last Cmp's setcc starts
  size_t flags_at_ = ~size_t(0);       // code offset just after the last Cmp's result store
  uint32_t flags_value_ = 0;           // that Cmp (its flags survive setcc, movzx and mov)
  // The block's last instruction is a Not read only by the Branch terminal (arm64's b.ne,
  // b.cc, ...): not emitted, the branch tests its operand with the targets' roles swapped.
  bool branch_on_not_ = false;
  size_t fused_set_reg_ = ~size_t(0);  // a SetReg its Cmp already did (gen_cmp)
  size_t zs_at_ = ~size_t(0);          // note_zs_flags: where the flags still hold zs_value_
  uint32_t zs_value_ = 0;
  Type zs_type_ = Type::I64;
  Cc flags_cc_ = kE;
  std::vector<Cold>& cold_;
  std::vector<std::pair<size_t, GenericOp>>& data_;
  std::vector<Reloc>& relocs_;
  opt::MemRuns runs_;
  std::vector<int32_t> run_slots_;
  std::vector<std::pair<uint32_t, uint32_t>> probe_reads_;  // (run base, its leader)
};

bool Gen::run(std::string& err) {
  runs_ = opt::find_mem_runs(b_);
  probe_reads_.clear();  // probe_run reads each run's base just before its leader
  for (const opt::MemRun& r : runs_.runs) probe_reads_.push_back({r.base.id, r.leader});
  allocate(b_, vals_, alloc_, opt_.registers, probe_reads_);
  int32_t slots = alloc_.slots;
  run_slots_.clear();
  for (size_t r = 0; r < runs_.runs.size(); ++r) run_slots_.push_back(slots++);
  if (b_.term.kind == ir::Terminal::Kind::None) {
    err = "baseline: block without terminal";
    return false;
  }
  if (slots > kMaxFrameSlots) {  // the interpreter keeps such frames on the heap instead
    err = "baseline: block too large for a stack frame";
    return false;
  }
  saved_.clear();
  {
    uint16_t used = 0;
    for (const ValueHome& h : vals_)
      if (h.in_reg() && is_caller_pool(h.reg)) used |= uint16_t(1u << h.reg);
    for (Reg r : kCallerPool)
      if (used & (1u << r)) saved_.push_back(r);
    if (saved_.size() % 2) saved_.push_back(RDI);  // padding (a scratch register)
  }
  // After the pushes of rbx, r12 and the callee-saved pool registers used, the frame restores
  // 16-byte alignment for calls.
  frame_ = slots * 8;
  if ((frame_ + 8 * int32_t(alloc_.callee.size())) % 16 == 0) frame_ += 8;
  pc_ = b_.guest_pc;
  pending_ = a_.new_label();
  pending_used_ = loop_exit_used_ = jc_miss_used_ = false;
  thunks_.clear();

  Label exit_request = a_.new_label();
  a_.alu_mi(kCmp, false, Mem{RDI, kOffExitRequest}, 0);
  a_.jcc(kNe, exit_request);
  a_.push(RBX);
  a_.push(R12);
  for (Reg r : alloc_.callee) a_.push(r);
  if (frame_) a_.alu_ri(kSub, true, RSP, frame_);
  a_.mov_rr(true, RBX, RDI);
  loop_head_ = a_.new_label();
  loop_exit_request_ = a_.new_label();
  bind(loop_head_);
  a_.load(8, R12, Mem{RBX, kOffTlb});
  if (opt_.hot_threshold && opt_.tier_up) {
    // A plain (non-atomic) increment: a count lost to a race with another vCPU only delays
    // tier-up, and every value is still passed through, so the threshold is never skipped.
    // Counting goes on past the threshold: the compile queue takes the hottest block first
    // (capping the count here kept a boot's hottest loops, RSA arithmetic, from ever being
    // compiled).
    Label hot = a_.new_label();
    mov_tb(RAX, &tb_.exec_count);
    a_.load(4, RCX, Mem{RAX, 0});
    a_.alu_ri(kAdd, false, RCX, 1);
    a_.store(4, Mem{RAX, 0}, RCX);
    const auto tier_up_at = int32_t(reinterpret_cast<const char*>(&tb_.tier_up_at) -
                                    reinterpret_cast<const char*>(&tb_.exec_count));
    a_.alu_rm(kCmp, false, RCX, Mem{RAX, tier_up_at});
    a_.jcc(kE, hot);
    bind(cold(Cold::Kind::TierUp, hot));
  }

  const size_t n = b_.insts.size();
  for (size_t i = 0; i < n; ++i)
    if (!gen_inst(i, err)) return false;
  if (unexpected_call_) {
    err = "baseline: internal error: a call the register allocator did not expect";
    return false;
  }
  gen_terminal();

  for (const Cold& c : cold_) {
    if (c.kind == Cold::Kind::TierUp) continue;  // calls tier_up(engine, ...) directly
    const ColdTarget target = cold_target(c);
    auto t = std::find_if(thunks_.begin(), thunks_.end(),
                          [&](const Thunk& k) { return k.target == target; });
    if (t == thunks_.end())
      thunks_.push_back(Thunk{target, a_.new_label(), 1});
    else
      ++t->calls;
  }
  for (const Cold& c : cold_) emit_cold(c);
  emit_thunks();
  // The shared exits, each only if some code jumps to it.
  if (jc_miss_used_) {
    bind(jc_miss_);
    a_.store_imm32(true, Mem{RBX, kOffLastTb}, 0);
    ret_code(exec::kRetNext);
  }
  if (pending_used_) {
    bind(pending_);
    ret_code(exec::kRetPending);
  }
  if (loop_exit_used_) {
    bind(loop_exit_request_);
    ret_code(exec::kRetExitRequest);
  }
  bind(exit_request);
  a_.mov_imm(RAX, exec::kRetExitRequest);
  a_.ret();

  // Data for generic operations, 8-byte aligned after the code.
  static constexpr uint8_t kInt3[8] = {0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc};
  a_.append(kInt3, (8 - a_.size() % 8) % 8);
  for (auto& [at, g] : data_) {
    a_.patch_rip(at, uint32_t(a_.size()));
    a_.append(&g, sizeof g);
  }
  if (!a_.resolve()) {
    err = "baseline: internal error: unbound label";
    return false;
  }
  return true;
}

void Gen::gen_generic(size_t i) {
  const ir::Inst& in = b_.insts[i];
  if (!alloc_.calls[i]) unexpected_call_ = true;
  if (in.nargs > 0) ld(RSI, in.args[0]);
  if (in.nargs > 1) ld(RDX, in.args[1]);
  if (in.nargs > 2) ld(RCX, in.args[2]);
  const unsigned src_bits = in.nargs ? ir::bits(ty(in.args[0])) : 0;
  data_.push_back({a_.lea_rip_placeholder(RDI), GenericOp{uint8_t(in.op), uint8_t(in.type),
                                                          uint8_t(src_bits), in.imm, in.imm2}});
  call_abs(RelocKind::GenericEval);
  st(i, RAX);
}

// An SSE floating-point row (vec_ops.inc): the host instruction, giving its result, or with
// kVecFpFlags the exception flags it raised. Host threads run under MXCSR 0x1f80 (the rows'
// environment), so the result form is the bare instruction; the flags form reloads 0x1f80
// (through the result's own slot) to clear the sticky status bits first.
void Gen::gen_vec_fp(size_t i, uint8_t prefix, uint8_t opc) {
  const ir::Inst& in = b_.insts[i];
  const Mem d = slot_of(i);
  const bool flags = in.imm2 & ir::kVecFpFlags;
  if (flags) {
    a_.mov_imm(RAX, ir::kVecFpMxcsr);
    a_.store(4, d, RAX);
  }
  a_.movdqu_load(0, slot(in.args[0]));
  a_.movdqu_load(1, slot(in.args[1]));
  if (flags) a_.sse_rm(0, 0xae, 2, d);  // ldmxcsr
  const uint8_t pred = uint8_t(in.imm2 & ir::kVecFpPredMask);
  if (in.imm >= kFpGprFirst) {
    const std::string_view code = kFpGprCode[in.imm - kFpGprFirst];
    a_.append(code.data(), code.size());
  } else if (opc == 0xc2 && pred >= 8) {  // VEX-only predicates (AVX hosts, vec_ops.inc)
    a_.vcmp128(prefix == 0x66 ? 1 : prefix == 0xf3 ? 2 : prefix == 0xf2 ? 3 : 0, 0, 0, 1, pred);
  } else {
    a_.sse_rr(prefix, opc, 0, 1);
    if (opc == 0xc2) a_.imm8(pred);
  }
  if (!flags) {
    a_.movdqu_store(d, 0);
    return;
  }
  a_.sse_rm(0, 0xae, 3, d);  // stmxcsr
  a_.load(4, RAX, d);
  a_.alu_ri(kAnd, false, RAX, 0x3f);
  a_.store(8, d, RAX);
  a_.mov_imm(RAX, 0);
  a_.store(8, Mem{RSP, d.disp + 8}, RAX);
}

void Gen::gen_alu(size_t i, Alu op) {
  const ir::Inst& in = b_.insts[i];
  const bool w = in.type == Type::I64, wide = w || in.type == Type::I32;
  Value x = in.args[0], y = in.args[1];
  Reg d = out(i);
  if (d != RAX && reg_of(y) == d && reg_of(x) != d) {
    // The result's register holds y (its last use): a commutative op reads x as its second
    // operand instead; a subtraction computes in rax.
    if (op == kSub)
      d = RAX;
    else
      std::swap(x, y);
  }
  if (op == kAdd && wide && is_k(y) && vals_[x.id].in_reg() && reg_of(x) != d &&
      fits_i32(int64_t(kv(y)))) {
    // A three-operand add (the 32-bit form zero-extends, as the I32 result wants).
    a_.lea(d, Mem{reg_of(x), int32_t(kv(y))}, w);
    st(i, d);
    return;
  }
  ld(d, x);
  alu_to(op, w, d, y);
  if ((op == kAdd || op == kSub) && !wide) norm(d, in.type);
  st(i, d);
  if (wide) note_zs_flags(uint32_t(i), in.type);  // ZF/SF of the result (st moves or stores)
}

void Gen::gen_shift(size_t i) {
  const ir::Inst& in = b_.insts[i];
  const Type t = in.type;
  const unsigned w = ir::bits(t);
  const bool wide = t == Type::I64 || t == Type::I32, w64 = t == Type::I64;
  Shift op = in.op == Opcode::Shl    ? kShl
             : in.op == Opcode::Lshr ? kShr
             : in.op == Opcode::Ashr ? kSar
                                     : kRor;
  const Value x = in.args[0], y = in.args[1];
  const Reg d = out(i);
  if (is_k(y)) {
    const uint8_t amt = uint8_t(kv(y) & (w - 1));
    if (wide) {
      ld(d, x);
      if (amt) a_.shift_ri(op, w64, d, amt);
      st(i, d);
      return;
    }
    if (t == Type::I8 || t == Type::I16) {
      if (op == kRor) return gen_generic(i);
      if (op == kSar && vals_[x.id].in_reg()) {
        a_.movsx_rr(bytes_of(t), d, reg_of(x));
      } else {
        ld(d, x);
        if (op == kSar) a_.movsx_rr(bytes_of(t), d, d);
      }
      if (amt) a_.shift_ri(op, op == kSar, d, amt);
      norm(d, t);
      st(i, d);
      return;
    }
    return gen_generic(i);
  }
  if (!wide) return gen_generic(i);
  ld(RCX, y);  // first: the result's register may hold the count (its last use)
  ld(d, x);
  a_.shift_cl(op, w64, d);  // the hardware takes the count modulo 32 or 64, as the IR does
  st(i, d);
}

// A flag stored by the next instruction and read nowhere else (arm64's N, C and V of a CMP):
// setcc straight into the CPU state, and that SetReg is done.
bool Gen::fuse_set_reg(size_t i, Cc cc) {
  if (vals_[i].uses != 1 || i + 1 >= b_.insts.size()) return false;
  const ir::Inst& next = b_.insts[i + 1];
  if (next.op != Opcode::SetReg || next.type != Type::I1 || next.args[0].id != i) return false;
  a_.setcc_m(cc, Mem{RBX, int32_t(next.imm)});
  fused_set_reg_ = i + 1;
  return true;
}

void Gen::gen_cmp(size_t i) {
  const ir::Inst& in = b_.insts[i];
  const Type t = in.type;  // operand type
  const auto cond = static_cast<ir::Cond>(in.imm);
  const Value x = in.args[0], y = in.args[1];
  const Reg d = out(i);
  const bool zero_cmp = (t == Type::I64 || t == Type::I32) && is_k(y) && kv(y) == 0;
  // x == 0, x != 0, x < 0, x >= 0 (arm64's Z and N) right after the ALU op that made x, or a
  // compare of x with 0: ZF and SF already say it (s, not l: a subtraction's OF may be set).
  const Cc zs = cond == ir::Cond::Eq    ? kE
                : cond == ir::Cond::Ne  ? kNe
                : cond == ir::Cond::Slt ? kS
                : cond == ir::Cond::Sge ? kNs
                                        : kO;
  Cc cc = cc_of(cond);
  if (zero_cmp && zs != kO && zs_holds(x, t)) {
    cc = zs;
  } else {
    if (t == Type::I64 || t == Type::I32) {
      if (vals_[x.id].in_reg()) {
        alu_to(kCmp, t == Type::I64, reg_of(x), y);  // cmp writes no register
      } else {
        ld(RAX, x);
        alu_to(kCmp, t == Type::I64, RAX, y);
      }
    } else {
      // Narrow operands moved to the top of 32-bit registers compare correctly both signed
      // and unsigned.
      const uint8_t up = uint8_t(32 - ir::bits(t));
      ld(RAX, x);
      ld(RCX, y);
      a_.shift_ri(kShl, false, RAX, up);
      a_.shift_ri(kShl, false, RCX, up);
      a_.alu_rr(kCmp, false, RAX, RCX);
    }
    if (zero_cmp) note_zs_flags(x.id, t);
  }
  if (fuse_set_reg(i, cc)) {
    if (zero_cmp) zs_at_ = a_.size();
    return;
  }
  const size_t tail = a_.size();
  a_.setcc(cc, d);
  a_.movzx_rr(1, d, d);
  st(i, d);
  if (zero_cmp) zs_at_ = a_.size();
  flags_tail_at_ = tail;
  flags_at_ = a_.size();
  flags_value_ = uint32_t(i);
  flags_cc_ = cc;
}

void Gen::gen_adc(size_t i) {
  const ir::Inst& in = b_.insts[i];
  const Type t = in.type;
  if (t == Type::I1) return gen_generic(i);
  const Value carry = in.args[2];
  ld(RAX, in.args[0]);
  if (t == Type::I64 || t == Type::I32) {
    // A constant carry in (arm64's SUBS/CMP: 1, ADDS/CMN: 0) needs no bt, and the addend
    // can be an immediate or the operand's own register.
    Alu op = kAdc;
    if (!is_k(carry)) {
      ld(RDX, carry);
      a_.bt_ri(RDX, 0);  // CF = carry in
    } else if (kv(carry) & 1) {
      a_.stc();
    } else {
      op = kAdd;
    }
    alu_to(op, t == Type::I64, RAX, in.args[1]);  // a constant addend goes via rcx: no flags
  } else {
    ld(RCX, in.args[1]);
    ld(RDX, carry);
    a_.bt_ri(RDX, 0);
    a_.adc_narrow(bytes_of(t), RAX, RCX);
  }
  if (in.op == Opcode::AddC) {
    norm(RAX, t);
  } else if (fuse_set_reg(i, in.op == Opcode::AddCarry ? kB : kO)) {
    return;
  } else {
    a_.setcc(in.op == Opcode::AddCarry ? kB : kO, RAX);
    a_.movzx_rr(1, RAX, RAX);
  }
  st(i, RAX);
}

// rcx = tlb_index(guest address in a) * sizeof(TlbEntry), the entry's offset in an mmu_idx's
// table. Clobbers rdx. With BMI2 the two shifts are RORX (no copies first): the index keeps
// only the low 10 bits of each addend, which a rotate and a shift share.
void Gen::tlb_index(Reg a) {
  using softmmu::kPageBits;
  using softmmu::kTlbBits;
  static_assert(sizeof(softmmu::TlbEntry) == 32);
  if (bmi2_) {
    a_.rorx(RCX, a, kPageBits);
    a_.rorx(RDX, a, kPageBits + kTlbBits);
  } else {
    a_.mov_rr(true, RCX, a);
    a_.shift_ri(kShr, true, RCX, kPageBits);
    a_.mov_rr(true, RDX, RCX);
    a_.shift_ri(kShr, true, RDX, kTlbBits);
  }
  a_.alu_rr(kAdd, false, RCX, RDX);
  a_.alu_ri(kAnd, false, RCX, (1 << kTlbBits) - 1);
  a_.shift_ri(kShl, false, RCX, 5);
}

// Jumps to miss unless the TLB entry of the access at the guest address in register a (not
// rcx or rdx; left unchanged) matches; returns the operand of that entry's addend
// ([r12 + rcx + disp]). Clobbers rcx, rdx. atomic: a hit must also be aligned (a host atomic
// must not split).
Mem Gen::tlb_probe(Reg a, const ir::MemOp& m, bool write, Label miss, bool atomic) {
  tlb_index(a);
  const int32_t base =
      int32_t(m.mmu_idx) * int32_t(sizeof(softmmu::TlbEntry)) * softmmu::kTlbEntries;
  // softmmu::tlb_compare_value: the low address bits an access must have clear are in the
  // compare, so a misaligned one misses (the slow path faults it, or makes a split atomic a
  // read and a write); an access running into the next page misses; otherwise a misaligned
  // access within the page hits (x86 code makes millions).
  const unsigned fa = atomic ? m.size() : m.fast_align();
  if (m.size() > fa)
    a_.lea(RDX, Mem{a, int32_t(m.size() - fa)});
  else
    a_.mov_rr(true, RDX, a);
  a_.alu_ri(kAnd, true, RDX, int32_t(int64_t(softmmu::kPageMask) | int64_t(fa - 1)));
  a_.alu_rm(kCmp, true, RDX,
            Mem{R12,
                base + int32_t(write ? offsetof(softmmu::TlbEntry, addr_write)
                                     : offsetof(softmmu::TlbEntry, addr_read)),
                RCX});
  a_.jcc(kNe, miss);
  return Mem{R12, base + int32_t(offsetof(softmmu::TlbEntry, addend)), RCX};
}

// rax = virtual address on entry and on a miss; on a hit rax = host address. Clobbers rcx, rdx.
void Gen::tlb_lookup(const ir::MemOp& m, bool write, Label miss, bool atomic) {
  a_.alu_rm(kAdd, true, RAX, tlb_probe(RAX, m, write, miss, atomic));
}

// A TLB hit is one movdqu, or for 32 bytes one AVX2 vmovdqu (two movdqu without AVX2: the hit
// means the whole access is in one RAM page, so the halves cannot fault apart); each is per 8
// bytes atomic on the host, as x86 guarantees. A miss goes through
// softmmu::slow_load_vec/slow_store_vec on the value's stack slot, which translates both pages
// of a crossing access before moving a byte.
void Gen::gen_vec_mem(size_t i, bool is_store) {
  const ir::Inst& in = b_.insts[i];
  const ir::MemOp m = ir::MemOp::decode(in.imm);
  Label miss = a_.new_label();
  ld(RAX, in.args[0]);
  tlb_lookup(m, is_store, miss);
  const Mem host{RAX, 0}, value = is_store ? slot(in.args[1]) : slot_of(i);
  const Mem from = is_store ? value : host, to = is_store ? host : value;
  if (m.size() == 32 && avx2_) {
    a_.vmovdqu_load(0, from);
    a_.vmovdqu_store(to, 0);
    a_.vzeroupper();
  } else {
    for (int32_t h = 0; h < int32_t(m.size() / 16); ++h) {
      a_.movdqu_load(0, Mem{from.base, from.disp + 16 * h});
      a_.movdqu_store(Mem{to.base, to.disp + 16 * h}, 0);
    }
  }
  bind(cold(is_store ? Cold::Kind::VecStoreMiss : Cold::Kind::VecLoadMiss, miss, uint32_t(i), pc_));
}

// One probe for the run's bytes [a, last]: both in one page (checked outright, not left to
// the slot hash) whose entry matches with no flag bits, the
// same compare each member's own fast path would make. Clobbers rax, rcx, rdx, rsi.
void Gen::probe_run(const opt::MemRun& r, Mem run_slot) {
  Label miss = a_.new_label(), done = a_.new_label();
  // allocate() counted this read (probe_reads_), so ld() never drops the base's store.
  auto base_to_rax = [&] { ld(RAX, r.base); };
  base_to_rax();
  if (r.lo) a_.alu_ri(kAdd, true, RAX, int32_t(r.lo));
  a_.mov_rr(true, RSI, RAX);
  a_.alu_ri(kAdd, true, RSI, int32_t(r.hi - r.lo - 1));
  a_.mov_rr(true, RDX, RAX);
  a_.alu_rr(kXor, true, RDX, RSI);
  a_.alu_ri(kAnd, true, RDX, int32_t(int64_t(softmmu::kPageMask)));
  a_.jcc(kNe, miss);
  tlb_index(RAX);
  const int32_t base =
      int32_t(r.mmu_idx) * int32_t(sizeof(softmmu::TlbEntry)) * softmmu::kTlbEntries;
  a_.alu_ri(kAnd, true, RSI, int32_t(int64_t(softmmu::kPageMask)));
  a_.alu_rm(kCmp, true, RSI,
            Mem{R12,
                base + int32_t(r.write ? offsetof(softmmu::TlbEntry, addr_write)
                                       : offsetof(softmmu::TlbEntry, addr_read)),
                RCX});
  a_.jcc(kNe, miss);
  base_to_rax();
  a_.alu_rm(kAdd, true, RAX, Mem{R12, base + int32_t(offsetof(softmmu::TlbEntry, addend)), RCX});
  a_.jmp(done);
  bind(miss);
  a_.mov_imm(RAX, 0);
  bind(done);
  a_.store(8, run_slot, RAX);
}

// A slow path may change the memory map (a device access), which flushes this vCPU's TLB at
// once: the runs in progress stop trusting their probes.
void Gen::end_runs_in_progress(uint32_t i) {
  for (size_t r = 0; r < runs_.runs.size(); ++r)
    if (runs_.runs[r].leader <= i && runs_.runs[r].last > i)
      a_.alu_mi(kAnd, true, run_slot(int32_t(r)), 0);
}

void Gen::gen_mem(size_t i, bool is_store) {
  const ir::Inst& in = b_.insts[i];
  const ir::MemOp m = ir::MemOp::decode(in.imm);
  Label miss = a_.new_label(), join = a_.new_label();
  const int32_t run = runs_.run_of[i];
  // A store's value from its register (rdx holds others: loaded after the TLB lookup, which
  // clobbers it); a load's result straight into its home register (the miss path moves it).
  auto value_reg = [&] {
    if (vals_[in.args[1].id].in_reg()) return reg_of(in.args[1]);
    ld(RDX, in.args[1]);
    return RDX;
  };
  const Reg d = is_store ? RAX : out(i);
  auto load_to = [&](Mem host) {
    if (m.sign)
      a_.load_sx(m.size(), d, host);
    else
      a_.load(m.size(), d, host);
  };
  if (run >= 0) {
    // A run member: straight to host memory while the run's probe holds.
    const Mem rs = run_slot(run);
    if (runs_.runs[run].leader == i) probe_run(runs_.runs[run], rs);
    Label usual = a_.new_label();
    a_.load(8, RAX, rs);
    a_.test_rr(true, RAX, RAX);
    a_.jcc(kE, usual);
    const Mem host{RAX, int32_t(runs_.offset[i])};
    if (is_store)
      a_.store(m.size(), host, value_reg());
    else
      load_to(host);
    a_.jmp(join);
    bind(usual);
  }
  // The probe reads the address from its home register (else rax) and the access adds the
  // entry's addend as an index register: no copies of the address on the main line.
  Reg addr = reg_of(in.args[0]);
  if (addr == RSP) ld(addr = RAX, in.args[0]);
  a_.load(8, RCX, tlb_probe(addr, m, is_store, miss));
  const Mem host{addr, 0, RCX};
  if (is_store) {
    a_.store(m.size(), host, value_reg());
    bind(cold(Cold::Kind::StoreMiss, miss, uint32_t(i), pc_, addr));
    bind(join);
    return;
  }
  load_to(host);
  bind(cold(Cold::Kind::LoadMiss, miss, uint32_t(i), pc_, addr));
  bind(join);
  if (m.sign) norm(d, in.type);
  st(i, d);
}

// A TLB hit (aligned: the compare includes the low address bits) is a host atomic on the
// host address; the result (the old value) ends in rax.
void Gen::gen_atomic(size_t i) {
  const ir::Inst& in = b_.insts[i];
  const ir::MemOp m = ir::MemOp::decode(in.imm);
  const unsigned size = m.size();
  Label miss = a_.new_label();
  ld(RAX, in.args[0]);
  tlb_lookup(m, true, miss, true);
  a_.mov_rr(true, RCX, RAX);
  const Mem host{RCX, 0};
  if (in.op == Opcode::AtomicCmpxchg) {
    ld(RAX, in.args[1]);
    ld(RDX, in.args[2]);
    a_.lock_rm(0xb0, size, host, RDX);
  } else {
    ld(RDX, in.args[1]);
    switch (ir::AtomicOp(in.imm2)) {
      case ir::AtomicOp::Add:
        a_.lock_rm(0xc0, size, host, RDX);
        a_.mov_rr(true, RAX, RDX);
        break;
      case ir::AtomicOp::Xchg:
        a_.xchg_mr(size, host, RDX);
        a_.mov_rr(true, RAX, RDX);
        break;
      default: {  // and/or/xor: a compare-exchange loop
        const Alu op = ir::AtomicOp(in.imm2) == ir::AtomicOp::And  ? kAnd
                       : ir::AtomicOp(in.imm2) == ir::AtomicOp::Or ? kOr
                                                                   : kXor;
        a_.mov_rr(true, RSI, RDX);
        a_.load(size, RAX, host);
        Label retry = a_.new_label();
        bind(retry);
        a_.mov_rr(true, RDX, RAX);
        a_.alu_rr(op, true, RDX, RSI);
        a_.lock_rm(0xb0, size, host, RDX);
        a_.jcc(kNe, retry);
        break;
      }
    }
  }
  if (size < 4) a_.movzx_rr(size, RAX, RAX);
  if (size == 4) a_.mov_rr(false, RAX, RAX);
  bind(cold(Cold::Kind::AtomicMiss, miss, uint32_t(i), pc_));
  st(i, RAX);
}

Gen::ColdTarget Gen::cold_target(const Cold& c) const {
  switch (c.kind) {
    case Cold::Kind::TierUp:
      return {RelocKind::TierUp};
    case Cold::Kind::LoadMiss:
      return {RelocKind::SlowLoad};
    case Cold::Kind::StoreMiss:
      return {RelocKind::SlowStore};
    case Cold::Kind::AtomicMiss:
      return {RelocKind::SlowAtomic};
    case Cold::Kind::VecLoadMiss:
      return {RelocKind::SlowLoadVec};
    case Cold::Kind::VecStoreMiss:
      return {RelocKind::SlowStoreVec};
    case Cold::Kind::Trap:
      return {RelocKind::Helper, reinterpret_cast<const ir::Helper*>(b_.insts[c.inst].imm)};
  }
  return {RelocKind::Helper};
}

void Gen::emit_cold(const Cold& c) {
  bind(c.entry);
  const ir::Inst* in = c.kind == Cold::Kind::TierUp ? nullptr : &b_.insts[c.inst];
  switch (c.kind) {
    case Cold::Kind::TierUp:
      mov_reloc(RDI, RelocKind::Engine);
      mov_tb(RSI, &tb_);
      a_.mov_rr(true, RDX, RBX);
      call_abs(RelocKind::TierUp);  // tier_up(engine, tb, cpu)
      break;
    case Cold::Kind::LoadMiss: {  // c.addr = guest address
      const ir::MemOp m = ir::MemOp::decode(in->imm);
      a_.mov_rr(true, RSI, c.addr);
      save_caller_pool();
      a_.mov_imm(RDX, in->imm);
      a_.mov_imm(RCX, c.pc);
      cold_call(cold_target(c));
      restore_caller_pool();
      check_pending();
      end_runs_in_progress(c.inst);
      if (m.sign && m.size() < 8) a_.movsx_rr(m.size(), RAX, RAX);
      if (out(c.inst) != RAX) a_.mov_rr(true, out(c.inst), RAX);  // the main line's register
      break;
    }
    case Cold::Kind::StoreMiss:  // c.addr = guest address
      a_.mov_rr(true, RSI, c.addr);
      ld(RDX, in->args[1]);  // before the pushes move the stack slots
      save_caller_pool();
      a_.mov_imm(RCX, in->imm);
      a_.mov_imm(R8, c.pc);
      cold_call(cold_target(c));
      restore_caller_pool();
      check_pending();
      end_runs_in_progress(c.inst);
      break;
    case Cold::Kind::AtomicMiss: {  // rax = guest address
      const bool cx = in->op == Opcode::AtomicCmpxchg;
      const unsigned kind = cx ? softmmu::kAtomicCmpxchg : unsigned(in->imm2);
      a_.mov_rr(true, RSI, RAX);
      ld(RDX, cx ? in->args[2] : in->args[1]);
      if (cx)
        ld(RCX, in->args[1]);
      else
        a_.mov_imm(RCX, 0);
      save_caller_pool();
      a_.mov_imm(R8, softmmu::atomic_desc(in->imm, kind));
      a_.mov_imm(R9, c.pc);
      cold_call(cold_target(c));
      restore_caller_pool();
      check_pending();
      end_runs_in_progress(c.inst);
      break;
    }
    case Cold::Kind::VecLoadMiss:  // rax = guest address; the slow path fills the value's slot
      a_.mov_rr(true, RSI, RAX);
      a_.mov_imm(RDX, in->imm);
      a_.mov_imm(RCX, c.pc);
      a_.lea(R8, slot_of(c.inst));
      cold_call(cold_target(c));
      check_pending();
      end_runs_in_progress(c.inst);
      break;
    case Cold::Kind::VecStoreMiss:  // rax = guest address
      a_.mov_rr(true, RSI, RAX);
      a_.lea(RDX, slot(in->args[1]));
      a_.mov_imm(RCX, in->imm);
      a_.mov_imm(R8, c.pc);
      cold_call(cold_target(c));
      check_pending();
      end_runs_in_progress(c.inst);
      break;
    case Cold::Kind::Trap: {
      const auto* h = reinterpret_cast<const ir::Helper*>(in->imm);
      save_caller_pool();
      a_.mov_imm(RSI, in->imm2);
      a_.mov_imm(RDX, c.pc);
      a_.mov_imm(RCX, 0);
      cold_call(cold_target(c));
      restore_caller_pool();
      check_pending();
      break;
    }
  }
  a_.jmp(c.back);
}

bool Gen::gen_inst(size_t i, std::string& err) {
  const ir::Inst& in = b_.insts[i];
  const Type t = in.type;
  if (i == fused_set_reg_) return true;
  switch (in.op) {
    case Opcode::Nop:
    case Opcode::Const:
    case Opcode::ZExt:
      return true;
    case Opcode::InsnStart:
      pc_ = in.imm;
      return true;
    case Opcode::GetReg: {
      const Mem m{RBX, int32_t(in.imm)};
      if (ir::is_vec(t)) {
        for (int32_t h = 0; h < int32_t(ir::bits(t) / 128); ++h) {
          a_.movdqu_load(0, Mem{RBX, m.disp + 16 * h});
          a_.movdqu_store(Mem{RSP, slot_of(i).disp + 16 * h}, 0);
        }
        return true;
      }
      const Reg d = out(i);
      a_.load(t == Type::I1 ? 1 : bytes_of(t), d, m);
      if (t == Type::I1) a_.alu_ri(kAnd, false, d, 1);
      st(i, d);
      return true;
    }
    case Opcode::SetReg: {
      if (ir::is_vec(t)) {
        for (int32_t h = 0; h < int32_t(ir::bits(t) / 128); ++h) {
          a_.movdqu_load(0, Mem{RSP, slot(in.args[0]).disp + 16 * h});
          a_.movdqu_store(Mem{RBX, int32_t(in.imm) + 16 * h}, 0);
        }
        return true;
      }
      const Value v = in.args[0];
      const Mem m{RBX, int32_t(in.imm)};
      if (vals_[v.id].in_reg()) {  // an i1 home holds 0 or 1 (canonical): its low byte
        a_.store(t == Type::I1 ? 1 : bytes_of(t), m, reg_of(v));
      } else if (is_k(v) && (t == Type::I32 || (t == Type::I64 && fits_i32(int64_t(kv(v)))))) {
        a_.store_imm32(t == Type::I64, m, int32_t(kv(v)));
      } else {
        ld(RAX, v);
        if (t == Type::I1) a_.alu_ri(kAnd, false, RAX, 1);
        a_.store(t == Type::I1 ? 1 : bytes_of(t), m, RAX);
      }
      return true;
    }
    case Opcode::VecBuild: {
      const Mem d = slot_of(i);
      for (int32_t h = 0; h < 2; ++h) {
        const Value v = in.args[h];
        Reg r = reg_of(v);
        if (r == RSP) ld(r = RAX, v);
        a_.store(8, Mem{RSP, d.disp + 8 * h}, r);
      }
      return true;
    }
    case Opcode::VecLane: {
      const Mem v = slot(in.args[0]);
      a_.load(8, out(i), Mem{RSP, v.disp + 8 * int32_t(in.imm & 1)});
      st(i, out(i));
      return true;
    }
    case Opcode::VecConcat:
      for (int32_t h = 0; h < 2; ++h) {
        a_.movdqu_load(0, slot(in.args[h]));
        a_.movdqu_store(Mem{RSP, slot_of(i).disp + 16 * h}, 0);
      }
      return true;
    case Opcode::VecHalf:
      a_.movdqu_load(0, Mem{RSP, slot(in.args[0]).disp + 16 * int32_t(in.imm & 1)});
      a_.movdqu_store(slot_of(i), 0);
      return true;
    case Opcode::VecOp1:
    case Opcode::VecOp2:
      if (ir::is_fp_vec_op(ir::VecOp(in.imm))) {  // I128 only (x86fp rows)
        const SseEnc e = kSseEnc[in.imm];
        gen_vec_fp(i, e.prefix, e.opc);
      } else if (t == Type::I256 && avx2_) {
        gen_vec_op256(i);
      } else {
        for (int32_t h = 0; h < int32_t(ir::bits(t) / 128); ++h) gen_vec_op128(i, 16 * h);
      }
      return true;
    case Opcode::Add:
      gen_alu(i, kAdd);
      return true;
    case Opcode::Sub:
      gen_alu(i, kSub);
      return true;
    case Opcode::And:
      gen_alu(i, kAnd);
      return true;
    case Opcode::Or:
      gen_alu(i, kOr);
      return true;
    case Opcode::Xor:
      gen_alu(i, kXor);
      return true;
    case Opcode::Mul: {
      const bool w = t == Type::I64;
      Value x = in.args[0], y = in.args[1];
      const Reg d = out(i);
      if (is_k(x) || (d != RAX && reg_of(y) == d && reg_of(x) != d)) std::swap(x, y);
      if (is_k(y) && (!w || fits_i32(int64_t(kv(y))))) {
        // imul d, x, imm (the low bits of a product do not depend on signedness)
        Reg xr = reg_of(x);
        if (xr == RSP) ld(xr = d, x);
        a_.imul_rri(w, d, xr, int32_t(uint32_t(kv(y))));
      } else {
        ld(d, x);
        if (is_k(y)) {
          a_.mov_imm(RCX, kv(y));
          a_.imul_rr(w, d, RCX);
        } else if (vals_[y.id].in_reg()) {
          a_.imul_rr(w, d, reg_of(y));
        } else {
          a_.imul_rm(w, d, slot(y));
        }
      }
      if (!w && t != Type::I32) norm(d, t);
      st(i, d);
      return true;
    }
    case Opcode::MulHiU:
    case Opcode::MulHiS:
      if (t != Type::I64) {
        gen_generic(i);
        return true;
      }
      ld(RAX, in.args[0]);
      ld(RCX, in.args[1]);
      if (in.op == Opcode::MulHiU)
        a_.mul_r(true, RCX);
      else
        a_.imul1_r(true, RCX);
      st(i, RDX);
      return true;
    case Opcode::Shl:
    case Opcode::Lshr:
    case Opcode::Ashr:
    case Opcode::Rotr:
      gen_shift(i);
      return true;
    case Opcode::Not: {
      if (t == Type::I1 && i + 1 == b_.insts.size() && b_.term.kind == ir::Terminal::Kind::Branch &&
          b_.term.cond.id == i && vals_[i].uses == 1 && !is_k(in.args[0])) {
        branch_on_not_ = true;  // the operand's home still holds it at the terminal
        return true;
      }
      const Reg d = out(i);
      ld(d, in.args[0]);
      if (t == Type::I64 || t == Type::I32)
        a_.not_r(t == Type::I64, d);
      else
        a_.alu_ri(kXor, false, d, int32_t(ir::mask(t)));
      st(i, d);
      return true;
    }
    case Opcode::Neg: {
      const Reg d = out(i);
      ld(d, in.args[0]);
      a_.neg_r(t == Type::I64, d);
      if (t != Type::I64 && t != Type::I32) norm(d, t);
      st(i, d);
      return true;
    }
    case Opcode::AddC:
    case Opcode::AddCarry:
    case Opcode::AddOvf:
      gen_adc(i);
      return true;
    case Opcode::SExt: {
      const Type src = ty(in.args[0]);
      const Value x = in.args[0];
      const Reg d = out(i);
      if (src == Type::I1) {
        ld(d, x);
        a_.neg_r(true, d);
      } else if (src != Type::I64 && vals_[x.id].in_reg()) {
        a_.movsx_rr(bytes_of(src), d, reg_of(x));
      } else {
        ld(d, x);
        if (src != Type::I64) a_.movsx_rr(bytes_of(src), d, d);
      }
      norm(d, t);
      st(i, d);
      return true;
    }
    case Opcode::Trunc:
      ld_norm(out(i), in.args[0], t);
      st(i, out(i));
      return true;
    case Opcode::ExtractU: {
      const unsigned pos = unsigned(in.imm), len = unsigned(in.imm2);
      const Value x = in.args[0];
      const Reg d = out(i);
      if (pos == 0 && (len == 8 || len == 16 || len == 32)) {  // a plain zero-extension
        ld_norm(d, x, len == 8 ? Type::I8 : len == 16 ? Type::I16 : Type::I32);
        st(i, d);
        return true;
      }
      ld(d, x);
      if (pos) a_.shift_ri(kShr, true, d, uint8_t(pos));
      if (len < 32) {
        a_.alu_ri(kAnd, false, d, int32_t((1u << len) - 1));
      } else if (len == 32) {
        a_.mov_rr(false, d, d);
      } else if (len < 64) {
        a_.mov_imm(RCX, (1ull << len) - 1);
        a_.alu_rr(kAnd, true, d, RCX);
      }
      st(i, d);
      return true;
    }
    case Opcode::ExtractS: {
      const unsigned pos = unsigned(in.imm), len = unsigned(in.imm2);
      if (len == 0 || len >= 64) {
        gen_generic(i);
        return true;
      }
      const Reg d = out(i);
      ld(d, in.args[0]);
      if (pos + len > 64) {
        // The field's top bit lies above bit 63, where the value is zero: no sign to extend.
        a_.shift_ri(kShr, true, d, uint8_t(pos));
      } else {
        if (64 - pos - len) a_.shift_ri(kShl, true, d, uint8_t(64 - pos - len));
        a_.shift_ri(kSar, true, d, uint8_t(64 - len));
      }
      norm(d, t);
      st(i, d);
      return true;
    }
    case Opcode::Deposit: {
      const unsigned pos = unsigned(in.imm), len = unsigned(in.imm2);
      const uint64_t fm = (len >= 64 ? ~0ull : (1ull << len) - 1) << pos;
      const Reg d = out(i);
      ld(RCX, in.args[1]);  // first: the result's register may hold it (its last use)
      if (pos) a_.shift_ri(kShl, true, RCX, uint8_t(pos));
      and_imm(RCX, fm);
      ld(d, in.args[0]);
      and_imm(d, ~fm);
      a_.alu_rr(kOr, true, d, RCX);
      norm(d, t);
      st(i, d);
      return true;
    }
    case Opcode::Cmp:
      gen_cmp(i);
      return true;
    case Opcode::Select: {
      const Value c = in.args[0];
      Value x = in.args[1], y = in.args[2];
      const Reg d = out(i);
      if (is_k(c)) {
        ld(d, kv(c) ? x : y);
        st(i, d);
        return true;
      }
      Cc cc;
      if (!flags_hold(c, cc)) {  // checked before any load below moves on
        test_i1(c);              // first: the result's register may hold c (its last use)
        cc = kNe;
      }
      if (d != RAX && reg_of(y) == d && reg_of(x) != d) {  // d = y, then x where cc
        std::swap(x, y);
        cc = Cc(cc ^ 1);
      }
      ld(d, x, /*keep_flags=*/true);
      // Where cc is false, the third operand (cmov reads a register or a slot).
      if (is_k(y)) {
        a_.mov_imm(RCX, kv(y), /*keep_flags=*/true);
        a_.cmov_rr(Cc(cc ^ 1), true, d, RCX);
      } else if (vals_[y.id].in_reg()) {
        a_.cmov_rr(Cc(cc ^ 1), true, d, reg_of(y));
      } else {
        a_.cmov_rm(Cc(cc ^ 1), true, d, slot(y));
      }
      st(i, d);
      return true;
    }
    case Opcode::Load:
      gen_mem(i, false);
      return true;
    case Opcode::Store:
      gen_mem(i, true);
      return true;
    case Opcode::AtomicRmw:
    case Opcode::AtomicCmpxchg:
      gen_atomic(i);
      return true;
    case Opcode::VecLoad:
    case Opcode::VecStore:
      gen_vec_mem(i, in.op == Opcode::VecStore);
      return true;
    case Opcode::TrapIf: {
      const Value c = in.args[0];
      if (is_k(c) && !kv(c)) return true;
      Label trap = a_.new_label();
      Cc cc;
      if (is_k(c)) {
        a_.jmp(trap);
      } else if (flags_hold(c, cc)) {
        a_.jcc(cc, trap);
      } else {
        test_i1(c);
        a_.jcc(kNe, trap);
      }
      bind(cold(Cold::Kind::Trap, trap, uint32_t(i), pc_));
      return true;
    }
    case Opcode::Fence:
      if (in.imm != uint64_t(ir::FenceKind::Instruction)) a_.mfence();
      return true;
    case Opcode::Call:
    case Opcode::CallPure: {
      const auto* h = reinterpret_cast<const ir::Helper*>(in.imm);
      if (!alloc_.calls[i]) unexpected_call_ = true;
      if (in.nargs > 0)
        ld(RSI, in.args[0]);
      else
        a_.mov_imm(RSI, 0);
      if (in.nargs > 1)
        ld(RDX, in.args[1]);
      else
        a_.mov_imm(RDX, 0);
      if (in.nargs > 2)
        ld(RCX, in.args[2]);
      else
        a_.mov_imm(RCX, 0);
      a_.mov_rr(true, RDI, RBX);
      call_abs(RelocKind::Helper, h);
      if (in.op == Opcode::Call) check_pending();
      st(i, RAX);
      return true;
    }
    default:
      if (ir::is_pure(in.op) && in.op != Opcode::GetReg) {
        gen_generic(i);
        return true;
      }
      err = "baseline: no code for " + std::string(ir::op_info(in.op).name);
      return false;
  }
}

void Gen::direct_exit(uint64_t target, unsigned slot) {
  a_.mov_imm(RAX, target);
  a_.store(8, Mem{RBX, kOffPc}, RAX);
  if ((target ^ tb_.key.pc) & softmmu::kPageMask) {
    // The dispatcher never links across a page, so without this every such exit (a call into
    // another page of the kernel) would return to it: probe the jump cache here instead, at
    // the slot the constant target hashes to.
    a_.load(8, RCX, Mem{RBX, kOffJumpCache});
    jump_cache_exit(Mem{RCX, int32_t(jump_cache_index(target) * sizeof(JumpCacheEntry))});
    return;
  }
  Label unlinked = a_.new_label();
  mov_tb(RAX, &tb_.link[slot]);
  a_.load(8, RAX, Mem{RAX, 0});
  if (target == tb_.key.pc) {
    // Linked to this very code (a one-block loop: CRC, memcpy, polling): go round in this frame
    // instead of an epilogue, a tail jump and a prologue per iteration. The link is still read,
    // so an invalidated or tiered-up block leaves through it as before, and so is exit_request.
    Label other = a_.new_label();
    a_.patch_rip(a_.lea_rip_placeholder(RCX), 0);  // this block's entry
    a_.alu_rr(kCmp, true, RAX, RCX);
    a_.jcc(kNe, other);
    a_.alu_mi(kCmp, false, Mem{RBX, kOffExitRequest}, 0);
    a_.jcc(kNe, loop_exit_request_);
    loop_exit_used_ = true;
    a_.jmp(loop_head_);
    bind(other);
  }
  a_.test_rr(true, RAX, RAX);
  a_.jcc(kE, unlinked);
  a_.mov_rr(true, RDI, RBX);
  epilogue();
  a_.jmp_r(RAX);  // a tail call: the next block returns straight to the dispatcher
  bind(unlinked);
  mov_tb(RAX, &tb_);
  a_.store(8, Mem{RBX, kOffLastTb}, RAX);
  a_.store_imm32(false, Mem{RBX, kOffLastExitSlot}, int32_t(slot));
  ret_code(exec::kRetNext);
}

void Gen::jump_cache_exit(Mem entry) {
  // A hit needs pc and flags to match and the entry to have code; a miss returns to the
  // dispatcher with nothing to link (one shared tail per block).
  if (!jc_miss_used_) jc_miss_ = a_.new_label();
  jc_miss_used_ = true;
  const Label miss = jc_miss_;
  a_.alu_rm(kCmp, true, RAX, entry);
  a_.jcc(kNe, miss);
  a_.load(8, RDX, Mem{RBX, kOffJcTag});
  a_.alu_rm(kCmp, true, RDX, Mem{entry.base, entry.disp + 8});
  a_.jcc(kNe, miss);
  a_.load(8, RAX, Mem{entry.base, entry.disp + 16});
  a_.test_rr(true, RAX, RAX);
  a_.jcc(kE, miss);
  a_.mov_rr(true, RDI, RBX);
  epilogue();
  a_.jmp_r(RAX);
}

void Gen::gen_terminal() {
  const ir::Terminal& t = b_.term;
  switch (t.kind) {
    case ir::Terminal::Kind::Jump:
      direct_exit(t.target, 0);
      return;
    case ir::Terminal::Kind::Branch: {
      if (is_k(t.cond)) {
        direct_exit(kv(t.cond) ? t.target : t.target2, kv(t.cond) ? 0 : 1);
        return;
      }
      Label not_taken = a_.new_label();
      // Taken when cond, or when the Not's operand is false (branch_on_not_).
      const bool inv = branch_on_not_;
      const Value c = inv ? b_.insts[t.cond.id].args[0] : t.cond;
      Cc cc;
      if (flags_hold(c, cc)) {
        a_.jcc(inv ? cc : Cc(cc ^ 1), not_taken);
      } else {
        test_i1(c);
        a_.jcc(inv ? kNe : kE, not_taken);
      }
      direct_exit(t.target, 0);
      bind(not_taken);
      direct_exit(t.target2, 1);
      return;
    }
    case ir::Terminal::Kind::Indirect: {
      // Inline jump-cache probe, as the LLVM tier does.
      ld(RAX, t.value);
      a_.store(8, Mem{RBX, kOffPc}, RAX);
      // rcx = jump_cache_index(pc) * sizeof(JumpCacheEntry), from the shared shift tables.
      fold_pc(RCX, kJumpCacheGroupShifts);
      a_.alu_ri(kAnd, false, RCX, kJumpCacheGroupMask);
      a_.shift_ri(kShl, false, RCX, kJumpCacheGroupBits);
      fold_pc(RDX, kJumpCacheSlotShifts);
      a_.alu_ri(kAnd, false, RDX, kJumpCacheGroupSize - 1);
      a_.alu_rr(kOr, false, RCX, RDX);
      a_.shift_ri(kShl, false, RCX, 5);
      a_.alu_rm(kAdd, true, RCX, Mem{RBX, kOffJumpCache});
      jump_cache_exit(Mem{RCX, 0});
      return;
    }
    case ir::Terminal::Kind::Exit:
      if (!t.pc_in_state) {
        a_.mov_imm(RAX, t.target);
        a_.store(8, Mem{RBX, kOffPc}, RAX);
      }
      ret_code(exec::make_exit_result(t.reason, t.arg));
      return;
    case ir::Terminal::Kind::None:
      return;
  }
}

}  // namespace

exec::NativeFn compile(const exec::TranslationBlock& tb, CodeCache& cache, const Options& opt,
                       std::string* error, size_t* code_size, Workspace* ws) {
#if !defined(__x86_64__)
  if (error) *error = "baseline: the host is not x86-64";
  return nullptr;
#endif
  // A fresh Workspace allocates (and zero-fills) the 4 KiB code buffer: only without the
  // caller's.
  std::optional<Workspace> local;
  if (!ws) ws = &local.emplace();
  Gen g(tb, opt, *ws->b, ws->relocs);
  std::string err;
  if (!g.run(err)) {
    if (error) *error = err;
    return nullptr;
  }
  uint8_t* at = cache.add(g.data(), g.size());
  if (!at) {
    if (error) *error = "baseline: code cache full";
    return nullptr;
  }
  if (code_size) *code_size = g.size();
  return reinterpret_cast<exec::NativeFn>(at);
}

uint64_t detail::generic_eval_address() {
  return uint64_t(&generic_eval);
}

}  // namespace orrery::tcg::baseline
