// The baseline tier's code generator (codegen.cpp, codegen_mem.cpp): shared by its two files
// only. See codegen.cpp for how it works.
#pragma once

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

namespace orrery::tcg::baseline::gen {

using ir::Opcode;
using ir::Type;
using ir::Value;

constexpr int32_t kOffPc = offsetof(CpuCommon, pc);
constexpr int32_t kOffExitRequest = offsetof(CpuCommon, exit_request);
constexpr int32_t kOffPendingExit = offsetof(CpuCommon, pending_exit);
constexpr int32_t kOffJcTag = offsetof(CpuCommon, jc_tag);
constexpr int32_t kOffTlb = offsetof(CpuCommon, tlb);
constexpr int32_t kOffJumpCache = offsetof(CpuCommon, jump_cache);
constexpr int32_t kOffLastTb = offsetof(CpuCommon, last_tb);
constexpr int32_t kOffLastExitSlot = offsetof(CpuCommon, last_exit_slot);
static_assert(sizeof(std::atomic<exec::NativeFn>) == 8 && sizeof(std::atomic<uint64_t>) == 8);
static_assert(offsetof(JumpCacheEntry, pc) == 0);
constexpr int32_t kJcFlags = offsetof(JumpCacheEntry, flags);
constexpr int32_t kJcCode = offsetof(JumpCacheEntry, code);
static_assert(kFastEntryOffset == JumpCacheEntry::kFastOffset &&
              kFastEntryOffset % 16 == JumpCacheEntry::kFastBit);  // blocks are 16-aligned

/// An operation the generated code hands to ir::eval_pure; stored in the code cache after the
/// block's code and reached RIP-relative.
struct GenericOp {
  uint8_t op, type, src_bits;
  uint64_t imm, imm2;
};

inline uint64_t generic_eval(const GenericOp* g, uint64_t a, uint64_t b, uint64_t c) {
  return ir::eval_pure(Opcode(g->op), Type(g->type), g->src_bits, a, b, c, g->imm, g->imm2);
}

inline unsigned bytes_of(Type t) {
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

inline Cc cc_of(ir::Cond c) {
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
    VecStoreMiss,
    RunMiss  // a fused access whose run probe failed: its own probe, then LoadMiss/StoreMiss
  } kind;
  Label entry, back;
  uint32_t inst;   // the Load/Store/TrapIf
  uint64_t pc;     // guest PC of its instruction
  Reg addr = RAX;  // LoadMiss/StoreMiss: the register holding the guest address
};

}  // namespace orrery::tcg::baseline::gen

namespace orrery::tcg::baseline {

/// Buffers reused from block to block by one translating thread.
struct Workspace::Buffers {
  X64 a;
  std::vector<ValueHome> vals;
  Allocation alloc;
  std::vector<gen::Cold> cold;
  std::vector<std::pair<size_t, gen::GenericOp>> data;
};

}  // namespace orrery::tcg::baseline

namespace orrery::tcg::baseline::gen {

using detail::host_has_avx2;
using detail::host_has_bmi2;

// Values per block the baseline tier keeps on the vCPU thread's stack (512 KiB); larger blocks
// are interpreted.
constexpr int32_t kMaxFrameSlots = 1 << 16;
// Every block's C entry saves all of these and reserves the shared frame, so chained baseline
// blocks run in one frame (see codegen.cpp). 8 mod 16 bytes: rsp is 16-byte aligned after it.
constexpr Reg kEntrySaved[] = {RBX, RBP, R12, R13, R14, R15};
constexpr int32_t kSharedFrameSlots = 63;
constexpr int32_t kSharedFrameBytes = kSharedFrameSlots * 8;
// detail::exit_stubs: 0 and 1 the unlinked direct exits, this one the shared epilogue.
constexpr int64_t kReturnStub = 2;
static_assert((kSharedFrameBytes + 8 * std::size(kEntrySaved)) % 16 == 8);

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
        rax_stored_at_ = flags_at_ = zs_at_ = sub_at_ = add_at_ = ~size_t(0);
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
    flags_at_ = zs_at_ = sub_at_ = add_at_ = ~size_t(0);
  }
  /// If the host flags still hold comparison v (nothing was emitted after its setcc/store),
  /// the condition code that is true when v is; otherwise false.
  bool flags_hold(Value v, Cc& cc) {
    if (is_k(v) || a_.size() != flags_at_ || flags_value_ != v.id) return false;
    cc = flags_cc_;
    if (vals_[v.id].uses == 1) {  // nothing else reads the 0/1 value: drop setcc and store
      a_.truncate(flags_tail_at_);
      rax_stored_at_ = flags_at_ = zs_at_ = sub_at_ = add_at_ = ~size_t(0);
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
  /// Leaves the chain of baseline blocks: drops this block's frame and the shared one and
  /// restores what the C entry saved.
  void epilogue() {
    a_.alu_ri(kAdd, true, RSP, kSharedFrameBytes + extra_);
    for (size_t k = std::size(kEntrySaved); k-- > 0;) a_.pop(kEntrySaved[k]);
  }
  /// Returns `code` to the dispatcher through the code cache's shared epilogue (exit stub 2),
  /// 5 bytes where the epilogue is 18.
  void ret_code(uint64_t code) {
    a_.mov_imm(RAX, code);
    if (extra_) a_.alu_ri(kAdd, true, RSP, extra_);
    relocs_.push_back(
        Reloc{uint32_t(a_.jmp_rel32_placeholder()), RelocKind::ExitStub, kReturnStub});
  }
  /// A per-block shared tail (l, made on first use), which run() emits once if `used`.
  Label shared_tail(Label& l, bool& used) {
    if (!used) l = a_.new_label();
    used = true;
    return l;
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
  void mov_reloc(Reg r, RelocKind kind, int64_t addend = 0, const ir::Helper* helper = nullptr) {
    Reloc rel{0, kind, addend, helper};
    rel.at = uint32_t(a_.mov_imm64(r, detail::reloc_value(rel, tb_, opt_)));
    relocs_.push_back(rel);
  }
  /// r = the address of a field of this block's TranslationBlock.
  void mov_tb(Reg r, const void* field) {
    const auto off = reinterpret_cast<const char*>(field) - reinterpret_cast<const char*>(&tb_);
    mov_reloc(r, RelocKind::Tb, off);
  }
  /// r = a guest PC of this block (an exit's or a fault's): in pc-relative blocks relative to
  /// the block's own PC, so stored code runs at another address; else the shortest constant.
  void mov_pc(Reg r, uint64_t pc) {
    if (b_.pc_relative)
      mov_reloc(r, RelocKind::GuestPc, int64_t(pc - b_.guest_pc));
    else
      a_.mov_imm(r, pc);
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
  /// I1 value i is the host flag cc (the flags already hold it): setcc, or straight into the
  /// SetReg that follows (fuse_set_reg); the flags stay.
  void set_from_flags(size_t i, Cc cc);
  // The host's ZF and SF hold value v at type t from here (its ALU op, or a cmp with 0).
  void note_zs_flags(uint32_t v, Type t) {
    zs_value_ = v;
    zs_type_ = t;
    zs_at_ = a_.size();
  }
  bool zs_holds(Value v, Type t) const {
    return !is_k(v) && a_.size() == zs_at_ && zs_value_ == v.id && zs_type_ == t;
  }
  // The host's flags hold all of "sub x, y" at type t from here (gen_alu), so any compare of
  // x with y is a setcc (arm64's C of a SUBS/CMP), and so is its V, AddOvf(x, ~y, 1).
  void note_sub_flags(Value x, Value y, Type t) {
    sub_x_ = x;
    sub_y_ = y;
    sub_type_ = t;
    sub_at_ = a_.size();
  }
  bool same_operand(Value a, Value b) const {
    return a == b || (is_k(a) && is_k(b) && kv(a) == kv(b));
  }
  bool sub_flags_hold(Value x, Value y, Type t) const {
    return a_.size() == sub_at_ && sub_type_ == t && x == sub_x_ && same_operand(y, sub_y_);
  }
  // Whether AddOvf i is the V of the "sub x, y" the flags hold: AddOvf(x, ~y, 1), with ~y a
  // Not of y or the constant.
  bool ovf_of_sub(size_t i) const {
    const ir::Inst& in = b_.insts[i];
    if (in.op != Opcode::AddOvf || in.type != sub_type_ || a_.size() != sub_at_ ||
        in.args[0] != sub_x_ || !is_k(in.args[2]) || !(kv(in.args[2]) & 1))
      return false;
    const Value ny = in.args[1];
    if (is_k(ny)) return is_k(sub_y_) && ((kv(ny) ^ ~kv(sub_y_)) & ir::mask(sub_type_)) == 0;
    const ir::Inst& n = b_.insts[ny.id];
    return n.op == Opcode::Not && n.type == sub_type_ && same_operand(n.args[0], sub_y_);
  }
  // The host's flags hold all of "x + y + c" at type t from here (gen_adc: arm64's ADDS,
  // CMN), so its AddCarry and AddOvf are a setcc each.
  void note_add_flags(const ir::Inst& in) {
    add_x_ = in.args[0];
    add_y_ = in.args[1];
    add_c_ = in.args[2];
    add_type_ = in.type;
    add_at_ = a_.size();
  }
  bool add_flags_hold(const ir::Inst& in) const {
    return a_.size() == add_at_ && in.type == add_type_ && in.args[0] == add_x_ &&
           same_operand(in.args[1], add_y_) && same_operand(in.args[2], add_c_);
  }
  // Code emitted since `before` left the host flags alone (setcc, movzx, mov, not): what they
  // held then, they hold now.
  void flags_kept(size_t before) {
    if (zs_at_ == before) zs_at_ = a_.size();
    if (sub_at_ == before) sub_at_ = a_.size();
    if (add_at_ == before) add_at_ = a_.size();
  }
  void gen_cmp(size_t i);
  void gen_adc(size_t i);
  void gen_mem(size_t i, bool store);
  void access(size_t i, Mem host);       // a Load's or Store's access at host
  Reg own_access(size_t i, Label miss);  // its own TLB probe, then access(); the address reg
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
  int32_t extra_ = 0;             // frame bytes beyond the shared frame (a multiple of 16)
  uint64_t pc_ = 0;
  Label pending_{};
  bool pending_used_ = false;
  Label jc_miss_{};  // the jump-cache exits' shared miss (unset: none yet)
  bool jc_miss_used_ = false;
  Label tail_call_{};  // the direct exits' shared tail call of linked LLVM code (rdx)
  bool tail_call_used_ = false;
  struct Thunk {
    ColdTarget target;
    Label l;
    unsigned calls;
  };
  std::vector<Thunk> thunks_;
  Label entry_exit_request_{};         // the fast entry saw exit_request (before its extra frame)
  size_t rax_store_start_ = 0;         // where the last "mov [slot], rax" starts
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
  // A Shl by 1-3 read only by the next instruction, an I64 Add: not emitted, the Add is one
  // lea with a scaled index (arm64's [Xn, Xm, LSL #3]).
  size_t scaled_shl_ = ~size_t(0);
  size_t zs_at_ = ~size_t(0);  // note_zs_flags: where the flags still hold zs_value_
  uint32_t zs_value_ = 0;
  Type zs_type_ = Type::I64;
  size_t sub_at_ = ~size_t(0);  // note_sub_flags: where the flags still hold sub x, y
  Value sub_x_, sub_y_;
  Type sub_type_ = Type::I64;
  size_t add_at_ = ~size_t(0);  // note_add_flags: where the flags still hold x + y + c
  Value add_x_, add_y_, add_c_;
  Type add_type_ = Type::I64;
  Cc flags_cc_ = kE;
  std::vector<Cold>& cold_;
  std::vector<std::pair<size_t, GenericOp>>& data_;
  std::vector<Reloc>& relocs_;
  opt::MemRuns runs_;
  std::vector<int32_t> run_slots_;
  std::vector<std::pair<uint32_t, uint32_t>> probe_reads_;  // (run base, its leader)
};

}  // namespace orrery::tcg::baseline::gen
