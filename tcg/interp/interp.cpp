// The interpreter: blocks are lowered once to steps whose handler is specialised by operation
// and width where that matters for speed (register access, add/sub, shifts, compares, memory),
// with the rest going through ir::eval_pure, the shared reference semantics. Constants are not
// steps: they are written into their slots when the block starts. Dispatch is direct-threaded
// (GNU computed goto).
#include "tcg/interp/interp.h"

#include <cstring>

#include "hw/core/host_access.h"
#include "tcg/ir/eval.h"
#include "tcg/ir/helpers.h"
#include "tcg/ir/vec_eval.h"
#include "tcg/softmmu/softmmu.h"

namespace orrery::tcg::interp {

using ir::Opcode;
using ir::Type;

namespace {

#define ORRERY_INTERP_HANDLERS(X)                                                                 \
  X(Generic)                                                                                      \
  X(GetReg1) X(GetReg8) X(GetReg16) X(GetReg32) X(GetReg64) X(SetReg1) X(SetReg8) X(SetReg16)     \
      X(SetReg32) X(SetReg64) X(Add32) X(Add64) X(Sub32) X(Sub64) X(And) X(Or) X(Xor) X(Shl32)    \
          X(Shl64) X(Lshr32) X(Lshr64) X(Ashr64) X(CmpEq) X(CmpNe) X(CmpUlt) X(CmpUle) X(CmpUgt)  \
              X(CmpUge) X(CmpSlt64) X(CmpSle64) X(CmpSgt64) X(CmpSge64) X(Select) X(Move) X(Mask) \
                  X(ExtractU) X(AddCarry64) X(AddOvf64) X(Load) X(Store) X(Fence) X(Call)         \
                      X(CallPure) X(TrapIf) X(Not32) X(Not64) X(AddCarry32) X(AddOvf32) X(Mul)    \
                          X(CmpSlt32) X(CmpSle32) X(CmpSgt32) X(CmpSge32) X(ExtractS) X(Deposit)  \
                              X(AtomicRmw) X(AtomicCmpxchg) X(GetRegV) X(SetRegV) X(VecBuild)     \
                                  X(VecLane) X(VecOp) X(GetRegV256) X(SetRegV256) X(VecOp256)     \
                                      X(VecConcat) X(VecHalf) X(VecLoad) X(VecStore) X(End)

enum Handler : uint16_t {
#define X(name) k##name,
  ORRERY_INTERP_HANDLERS(X)
#undef X
};

Handler pick_handler(const ir::Inst& i, Type src) {
  const Type t = i.type;
  const bool w64 = t == Type::I64, w32 = t == Type::I32;
  switch (i.op) {
    case Opcode::GetReg:
    case Opcode::SetReg: {
      const bool get = i.op == Opcode::GetReg;
      switch (t) {
        case Type::I128:
          return get ? kGetRegV : kSetRegV;
        case Type::I256:
          return get ? kGetRegV256 : kSetRegV256;
        case Type::I1:
          return get ? kGetReg1 : kSetReg1;
        case Type::I8:
          return get ? kGetReg8 : kSetReg8;
        case Type::I16:
          return get ? kGetReg16 : kSetReg16;
        case Type::I32:
          return get ? kGetReg32 : kSetReg32;
        default:
          return get ? kGetReg64 : kSetReg64;
      }
    }
    case Opcode::Add:
      return w64 ? kAdd64 : w32 ? kAdd32 : kGeneric;
    case Opcode::Sub:
      return w64 ? kSub64 : w32 ? kSub32 : kGeneric;
    case Opcode::And:
      return kAnd;
    case Opcode::Or:
      return kOr;
    case Opcode::Xor:
      return kXor;
    case Opcode::Shl:
      return w64 ? kShl64 : w32 ? kShl32 : kGeneric;
    case Opcode::Lshr:
      return w64 ? kLshr64 : w32 ? kLshr32 : kGeneric;
    case Opcode::Ashr:
      return w64 ? kAshr64 : kGeneric;
    case Opcode::Cmp:
      switch (static_cast<ir::Cond>(i.imm)) {
        case ir::Cond::Eq:
          return kCmpEq;
        case ir::Cond::Ne:
          return kCmpNe;
        case ir::Cond::Ult:
          return kCmpUlt;
        case ir::Cond::Ule:
          return kCmpUle;
        case ir::Cond::Ugt:
          return kCmpUgt;
        case ir::Cond::Uge:
          return kCmpUge;
        case ir::Cond::Slt:
          return w64 ? kCmpSlt64 : w32 ? kCmpSlt32 : kGeneric;
        case ir::Cond::Sle:
          return w64 ? kCmpSle64 : w32 ? kCmpSle32 : kGeneric;
        case ir::Cond::Sgt:
          return w64 ? kCmpSgt64 : w32 ? kCmpSgt32 : kGeneric;
        case ir::Cond::Sge:
          return w64 ? kCmpSge64 : w32 ? kCmpSge32 : kGeneric;
      }
      return kGeneric;
    case Opcode::Select:
      return kSelect;
    case Opcode::ZExt:
      return kMove;
    case Opcode::Trunc:
      return kMask;
    case Opcode::ExtractU:
      return kExtractU;
    case Opcode::ExtractS:
      return kExtractS;
    case Opcode::Deposit:
      return kDeposit;
    case Opcode::Not:
      return w64 ? kNot64 : w32 ? kNot32 : kGeneric;
    case Opcode::Mul:
      return w64 ? kMul : kGeneric;
    case Opcode::AddCarry:
      return w64 ? kAddCarry64 : w32 ? kAddCarry32 : kGeneric;
    case Opcode::AddOvf:
      return w64 ? kAddOvf64 : w32 ? kAddOvf32 : kGeneric;
    case Opcode::TrapIf:
      return kTrapIf;
    case Opcode::Load:
      return kLoad;
    case Opcode::Store:
      return kStore;
    case Opcode::AtomicRmw:
      return kAtomicRmw;
    case Opcode::AtomicCmpxchg:
      return kAtomicCmpxchg;
    case Opcode::Fence:
      return kFence;
    case Opcode::Call:
      return kCall;
    case Opcode::CallPure:
      return kCallPure;
    case Opcode::VecBuild:
      return kVecBuild;
    case Opcode::VecLane:
      return kVecLane;
    case Opcode::VecOp1:
    case Opcode::VecOp2:
      return t == Type::I256 ? kVecOp256 : kVecOp;
    case Opcode::VecConcat:
      return kVecConcat;
    case Opcode::VecHalf:
      return kVecHalf;
    case Opcode::VecLoad:
      return kVecLoad;
    case Opcode::VecStore:
      return kVecStore;
    default:
      (void)src;
      return kGeneric;
  }
}

template <typename T>
inline T rd(const CpuCommon* cpu, uint64_t off) {
  T v;
  std::memcpy(&v, reinterpret_cast<const uint8_t*>(cpu) + off, sizeof(T));
  return v;
}
template <typename T>
inline void wr(CpuCommon* cpu, uint64_t off, T v) {
  std::memcpy(reinterpret_cast<uint8_t*>(cpu) + off, &v, sizeof(T));
}

}  // namespace

std::unique_ptr<Program> build(const ir::Block& b, const exec::TranslationBlock* tb) {
  auto p = std::make_unique<Program>();
  // A vector value takes two (I128) or four (I256) slots after the block's one slot per
  // instruction.
  std::vector<uint32_t> vslot(b.insts.size(), 0);
  uint32_t nslots = uint32_t(b.insts.size());
  for (size_t n = 0; n < b.insts.size(); ++n) {
    const Type rt = ir::result_type(b.insts[n]);
    if (ir::is_vec(rt)) {
      vslot[n] = nslots;
      nslots += ir::bits(rt) / 64;
    }
  }
  auto slot_of = [&](ir::Value v) {
    return ir::is_vec(ir::result_type(b.insts[v.id])) ? vslot[v.id] : v.id;
  };
  p->num_slots = nslots;
  p->term = b.term;
  p->tb = tb;
  p->steps.reserve(b.insts.size() + 1);
  uint64_t pc = b.guest_pc;
  for (size_t n = 0; n < b.insts.size(); ++n) {
    const ir::Inst& i = b.insts[n];
    if (i.op == Opcode::Nop) continue;
    if (i.op == Opcode::InsnStart) {
      pc = i.imm;
      continue;
    }
    if (i.op == Opcode::Const || i.op == Opcode::PcRel) {
      p->consts.push_back({uint32_t(n), i.imm});
      continue;
    }
    const Type src = i.nargs ? b.type_of(i.args[0]) : Type::V;
    Step s{};
    s.handler = pick_handler(i, src);
    s.op = uint8_t(i.op);
    s.type = uint8_t(i.type);
    s.nargs = i.nargs;
    s.dst = ir::is_vec(ir::result_type(i)) ? vslot[n] : uint32_t(n);
    s.a = i.nargs > 0 ? slot_of(i.args[0]) : 0;
    s.b = i.nargs > 1 ? slot_of(i.args[1]) : 0;
    s.c = i.nargs > 2 ? slot_of(i.args[2]) : 0;
    s.imm = i.imm;
    // SExt needs its source width; it has no other use for imm2.
    s.imm2 = i.op == Opcode::SExt ? ir::bits(src) : i.imm2;
    if (i.op == Opcode::Trunc) s.imm2 = ir::mask(i.type);
    if (i.op == Opcode::ExtractU) s.imm2 = i.imm2 >= 64 ? ~0ull : (1ull << i.imm2) - 1;
    if (i.op == Opcode::ExtractS || i.op == Opcode::Deposit)
      s.c = uint32_t(i.imm2);  // field length
    s.pc = pc;
    p->steps.push_back(s);
  }
  Step end{};
  end.handler = kEnd;
  p->steps.push_back(end);
  return p;
}

namespace {

uint64_t finish(const Program& p, CpuCommon* cpu, const uint64_t* s) {
  const ir::Terminal& t = p.term;
  auto direct = [&](uint64_t target, unsigned slot) {
    cpu->pc = target;
    cpu->last_tb = const_cast<exec::TranslationBlock*>(p.tb);
    cpu->last_exit_slot = slot;
    return exec::kRetNext;
  };
  switch (t.kind) {
    case ir::Terminal::Kind::Jump:
      return direct(t.target, 0);
    case ir::Terminal::Kind::Branch:
      return s[t.cond.id] ? direct(t.target, 0) : direct(t.target2, 1);
    case ir::Terminal::Kind::Indirect:
      cpu->pc = s[t.value.id];
      cpu->last_tb = nullptr;
      return exec::kRetNext;
    case ir::Terminal::Kind::Exit:
      if (!t.pc_in_state) cpu->pc = t.target;
      return exec::make_exit_result(t.reason, t.arg);
    case ir::Terminal::Kind::None:
      break;
  }
  return exec::make_exit_result(ir::ExitReason::Lookup, 0);
}

uint64_t run_steps(const Program& p, CpuCommon* cpu, uint64_t* s) {
  static constexpr void* kLabels[] = {
#define X(name) &&L_##name,
      ORRERY_INTERP_HANDLERS(X)
#undef X
  };
  for (const Program::Const& c : p.consts) s[c.slot] = c.value;
  const Step* st = p.steps.data();
#define NEXT() goto* kLabels[(++st)->handler]
#define A s[st->a]
#define B s[st->b]
#define D s[st->dst]
  goto* kLabels[st->handler];

L_Generic:
  D = ir::eval_pure(static_cast<Opcode>(st->op), static_cast<Type>(st->type), unsigned(st->imm2), A,
                    st->nargs > 1 ? B : 0, st->nargs > 2 ? s[st->c] : 0, st->imm, st->imm2);
  NEXT();
L_GetReg1:
  D = rd<uint8_t>(cpu, st->imm) & 1;
  NEXT();
L_GetReg8:
  D = rd<uint8_t>(cpu, st->imm);
  NEXT();
L_GetReg16:
  D = rd<uint16_t>(cpu, st->imm);
  NEXT();
L_GetReg32:
  D = rd<uint32_t>(cpu, st->imm);
  NEXT();
L_GetReg64:
  D = rd<uint64_t>(cpu, st->imm);
  NEXT();
L_SetReg1:
  wr<uint8_t>(cpu, st->imm, uint8_t(A & 1));
  NEXT();
L_SetReg8:
  wr<uint8_t>(cpu, st->imm, uint8_t(A));
  NEXT();
L_SetReg16:
  wr<uint16_t>(cpu, st->imm, uint16_t(A));
  NEXT();
L_SetReg32:
  wr<uint32_t>(cpu, st->imm, uint32_t(A));
  NEXT();
L_SetReg64:
  wr<uint64_t>(cpu, st->imm, A);
  NEXT();
L_Add32:
  D = uint32_t(A + B);
  NEXT();
L_Add64:
  D = A + B;
  NEXT();
L_Sub32:
  D = uint32_t(A - B);
  NEXT();
L_Sub64:
  D = A - B;
  NEXT();
L_And:
  D = A & B;
  NEXT();
L_Or:
  D = A | B;
  NEXT();
L_Xor:
  D = A ^ B;
  NEXT();
L_Shl32:
  D = uint32_t(A << (B & 31));
  NEXT();
L_Shl64:
  D = A << (B & 63);
  NEXT();
L_Lshr32:
  D = A >> (B & 31);
  NEXT();
L_Lshr64:
  D = A >> (B & 63);
  NEXT();
L_Ashr64:
  D = uint64_t(int64_t(A) >> (B & 63));
  NEXT();
L_CmpEq:
  D = A == B;
  NEXT();
L_CmpNe:
  D = A != B;
  NEXT();
L_CmpUlt:
  D = A < B;
  NEXT();
L_CmpUle:
  D = A <= B;
  NEXT();
L_CmpUgt:
  D = A > B;
  NEXT();
L_CmpUge:
  D = A >= B;
  NEXT();
L_CmpSlt64:
  D = int64_t(A) < int64_t(B);
  NEXT();
L_CmpSle64:
  D = int64_t(A) <= int64_t(B);
  NEXT();
L_CmpSgt64:
  D = int64_t(A) > int64_t(B);
  NEXT();
L_CmpSge64:
  D = int64_t(A) >= int64_t(B);
  NEXT();
L_Select:
  D = A ? B : s[st->c];
  NEXT();
L_Move:
  D = A;
  NEXT();
L_Mask:
  D = A & st->imm2;
  NEXT();
L_ExtractU:
  D = (A >> st->imm) & st->imm2;
  NEXT();
L_CmpSlt32:
  D = int32_t(A) < int32_t(B);
  NEXT();
L_CmpSle32:
  D = int32_t(A) <= int32_t(B);
  NEXT();
L_CmpSgt32:
  D = int32_t(A) > int32_t(B);
  NEXT();
L_CmpSge32:
  D = int32_t(A) >= int32_t(B);
  NEXT();
L_Not32:
  D = uint32_t(~A);
  NEXT();
L_Not64:
  D = ~A;
  NEXT();
L_Mul:
  D = A * B;
  NEXT();
L_ExtractS : {
  // imm is the position, c the length (< 64, checked by the verifier); result masked to type.
  const unsigned len = st->c;
  D = uint64_t(ir::sext_bits(A >> st->imm, len)) & ir::mask(Type(st->type));
  NEXT();
}
L_Deposit : {
  const uint64_t fm = ((st->c >= 64) ? ~0ull : (1ull << st->c) - 1) << st->imm;
  D = ((A & ~fm) | ((B << st->imm) & fm)) & ir::mask(Type(st->type));
  NEXT();
}
L_AddCarry32:
  D = ((A + B + s[st->c]) >> 32) & 1;
  NEXT();
L_AddOvf32 : {
  const uint64_t a = A, b = B, r = (a + b + s[st->c]) & 0xffffffff;
  D = ((~(a ^ b) & (a ^ r)) >> 31) & 1;
  NEXT();
}
L_TrapIf:
  if (A) {
    const auto* h = reinterpret_cast<const ir::Helper*>(st->imm);
    h->fn(cpu, st->imm2, st->pc, 0);
    if (cpu->pending_exit) return exec::kRetPending;
  }
  NEXT();
L_AddCarry64 : {
  const uint64_t a = A, b = B, sum = a + b;
  D = (sum < a) | (sum + s[st->c] < sum);
  NEXT();
}
L_AddOvf64 : {
  const uint64_t a = A, b = B, r = a + b + s[st->c];
  D = ((~(a ^ b) & (a ^ r)) >> 63) & 1;
  NEXT();
}
L_Load : {
  const ir::MemOp m = ir::MemOp::decode(st->imm);
  const uint64_t va = A;
  uint64_t v;
  if (const uint8_t* h = softmmu::tlb_hit(cpu, va, m, false)) {
    v = hw::host_load(h, m.size());
  } else {
    v = softmmu::slow_load(cpu, va, st->imm, st->pc);
    if (cpu->pending_exit) return exec::kRetPending;
  }
  D = m.sign ? uint64_t(ir::sext_bits(v, m.size() * 8)) & ir::mask(Type(st->type)) : v;
  NEXT();
}
L_Store : {
  const ir::MemOp m = ir::MemOp::decode(st->imm);
  const uint64_t va = A;
  if (uint8_t* h = softmmu::tlb_hit(cpu, va, m, true)) {
    hw::host_store(h, m.size(), B);  // one host store: never a run-time-sized memcpy
  } else {
    softmmu::slow_store(cpu, va, B, st->imm, st->pc);
    if (cpu->pending_exit) return exec::kRetPending;
  }
  NEXT();
}
L_AtomicRmw:
L_AtomicCmpxchg : {
  // Cmpxchg: b expected, c desired; Rmw: b the operand, imm2 the AtomicOp.
  const ir::MemOp m = ir::MemOp::decode(st->imm);
  const bool cx = st->handler == kAtomicCmpxchg;
  const unsigned kind = cx ? softmmu::kAtomicCmpxchg : unsigned(st->imm2);
  const uint64_t operand = cx ? s[st->c] : B, expected = cx ? B : 0;
  if (uint8_t* h = softmmu::tlb_hit(cpu, A, m, true)) {
    D = softmmu::host_atomic(h, m.size(), kind, operand, expected);
  } else {
    D = softmmu::slow_atomic(cpu, A, operand, expected, softmmu::atomic_desc(st->imm, kind),
                             st->pc);
    if (cpu->pending_exit) return exec::kRetPending;
  }
  NEXT();
}
L_Fence:
  if (st->imm != uint64_t(ir::FenceKind::Instruction))
    std::atomic_thread_fence(std::memory_order_seq_cst);
  NEXT();
L_Call:
L_CallPure : {
  const auto* h = reinterpret_cast<const ir::Helper*>(st->imm);
  const unsigned n = st->nargs;
  D = h->fn(cpu, n > 0 ? A : 0, n > 1 ? B : 0, n > 2 ? s[st->c] : 0);
  if (st->handler == kCall && cpu->pending_exit) return exec::kRetPending;
  NEXT();
}
L_GetRegV:
  std::memcpy(&D, reinterpret_cast<const uint8_t*>(cpu) + st->imm, 16);
  NEXT();
L_SetRegV:
  std::memcpy(reinterpret_cast<uint8_t*>(cpu) + st->imm, &A, 16);
  NEXT();
L_VecBuild : {
  const uint64_t lo = A, hi = B;
  (&D)[0] = lo;
  (&D)[1] = hi;
  NEXT();
}
L_VecLane:
  D = (&A)[st->imm];
  NEXT();
L_VecOp : {
  ir::Vec128 a, b{};
  std::memcpy(&a, &A, 16);
  if (st->nargs > 1) std::memcpy(&b, &B, 16);
  const ir::Vec128 r = ir::eval_vec(ir::VecOp(st->imm), a, b, unsigned(st->imm2));
  std::memcpy(&D, &r, 16);
  NEXT();
}
L_GetRegV256:
  std::memcpy(&D, reinterpret_cast<const uint8_t*>(cpu) + st->imm, 32);
  NEXT();
L_SetRegV256:
  std::memcpy(reinterpret_cast<uint8_t*>(cpu) + st->imm, &A, 32);
  NEXT();
L_VecOp256 : {
  ir::Vec256 a, b{};
  std::memcpy(&a, &A, 32);
  if (st->nargs > 1) std::memcpy(&b, &B, 32);
  const ir::Vec256 r = ir::eval_vec(ir::VecOp(st->imm), a, b, unsigned(st->imm2));
  std::memcpy(&D, &r, 32);
  NEXT();
}
L_VecConcat : {
  uint64_t v[4];
  std::memcpy(v, &A, 16);
  std::memcpy(v + 2, &B, 16);
  std::memcpy(&D, v, 32);
  NEXT();
}
L_VecHalf : {
  uint64_t v[2];
  std::memcpy(v, &A + 2 * (st->imm & 1), 16);
  std::memcpy(&D, v, 16);
  NEXT();
}
L_VecLoad : {
  const ir::MemOp m = ir::MemOp::decode(st->imm);
  if (const uint8_t* h = softmmu::tlb_hit_vec(cpu, A, m, false)) {
    std::memcpy(&D, h, m.size() > 16 ? 32 : 16);  // the verifier allows only these
  } else {
    softmmu::slow_load_vec(cpu, A, st->imm, st->pc, &D);
    if (cpu->pending_exit) return exec::kRetPending;
  }
  NEXT();
}
L_VecStore : {
  const ir::MemOp m = ir::MemOp::decode(st->imm);
  if (uint8_t* h = softmmu::tlb_hit_vec(cpu, A, m, true)) {
    std::memcpy(h, &B, m.size() > 16 ? 32 : 16);
  } else {
    softmmu::slow_store_vec(cpu, A, &B, st->imm, st->pc);
    if (cpu->pending_exit) return exec::kRetPending;
  }
  NEXT();
}
L_End:
  return finish(p, cpu, s);
#undef NEXT
#undef A
#undef B
#undef D
}

}  // namespace

uint64_t run(const Program& p, CpuCommon* cpu) {
  if (cpu->exit_request.load(std::memory_order_relaxed)) return exec::kRetExitRequest;
  constexpr uint32_t kStackSlots = 2048;
  if (p.num_slots <= kStackSlots) {
    uint64_t s[kStackSlots];
    return run_steps(p, cpu, s);
  }
  std::unique_ptr<uint64_t[]> heap(new uint64_t[p.num_slots]);
  return run_steps(p, cpu, heap.get());
}

}  // namespace orrery::tcg::interp
