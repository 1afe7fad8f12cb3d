// IR -> x86-64 in one pass. Every non-constant value has a home (regalloc.h): a host register or
// an 8-byte stack slot, holding it in canonical form (zero-extended from its type, I1 as 0/1,
// exactly as the interpreter keeps them). The frequent operations compute straight into the
// result's home register (two-operand forms, operands read from their registers, slots or as
// immediates); the others, and results homed in slots, compute in rax and store it. rbx
// holds the CPU pointer and r12 the vCPU's TLB table for the whole block. Rare operations go
// through ir::eval_pure, the shared reference semantics, so only the frequent ones need
// hand-written code. Slow paths (TLB misses, traps, tier-up) are emitted after the block's main
// line so the common path falls through.
#include "tcg/baseline/gen.h"
#include "tcg/interp/interp.h"

#include <optional>
#include <string>

namespace orrery::tcg::baseline {

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

namespace gen {

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
  extra_ = slots > kSharedFrameSlots ? (slots - kSharedFrameSlots + 1) / 2 * 16 : 0;
  pc_ = b_.guest_pc;
  pending_ = a_.new_label();
  pending_used_ = jc_miss_used_ = tail_call_used_ = false;
  thunks_.clear();

  // The C entry (NativeFn, from the dispatcher or LLVM code) saves every callee-saved register
  // and reserves the shared frame; a chained exit to another baseline block jumps past that to
  // its fast entry (kFastEntryOffset), so a chain runs in one frame and pays for the entry and
  // the exit once.
  for (Reg r : kEntrySaved) a_.push(r);
  a_.alu_ri(kSub, true, RSP, kSharedFrameBytes);
  a_.mov_rr(true, RBX, RDI);
  a_.load(8, R12, Mem{RBX, kOffTlb});  // the vCPU's TLB table never moves
  if (a_.size() != kFastEntryOffset) {
    err = "baseline: internal error: the C entry is not kFastEntryOffset bytes";
    return false;
  }
  entry_exit_request_ = a_.new_label();
  a_.alu_mi(kCmp, false, Mem{RBX, kOffExitRequest}, 0);
  a_.jcc(kNe, entry_exit_request_);
  if (extra_) a_.alu_ri(kSub, true, RSP, extra_);
  if (opt_.hot_threshold && opt_.tier_up) {
    // Count down in the block's cell (TranslationBlock::count_cell, placed by compile()) and
    // ask the engine at zero or below: a plain decrement (a count lost to another vCPU only
    // delays tier-up); at or below zero, so one that races past zero still asks.
    Label hot = a_.new_label();
    relocs_.push_back(Reloc{uint32_t(a_.dec32_rip_placeholder()), RelocKind::Counter, 0});
    a_.jcc(kLe, hot);
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
  if (tail_call_used_) {  // rdx: an exit's LLVM code (linked, or found in the jump cache)
    bind(tail_call_);
    const int32_t keep = extra_;
    extra_ = 0;
    a_.mov_rr(true, RDI, RBX);
    epilogue();
    a_.jmp_r(RDX);  // a tail call: the next block returns straight to the dispatcher
    extra_ = keep;
  }
  bind(entry_exit_request_);
  {
    const int32_t keep = extra_;
    extra_ = 0;  // not reserved yet
    // Entered by a chained jump, which does not store the PC (direct_exit).
    mov_pc(RAX, b_.guest_pc);
    a_.store(8, Mem{RBX, kOffPc}, RAX);
    ret_code(exec::kRetExitRequest);
    extra_ = keep;
  }

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
  if (scaled_shl_ + 1 == i) {
    // base + (index << scale) in one lea (gen_shift left the Shl to it).
    const ir::Inst& shl = b_.insts[scaled_shl_];
    const Value base = y.id == scaled_shl_ ? x : y, index = shl.args[0];
    const Reg rb = vals_[base.id].in_reg() ? reg_of(base) : (ld(RDX, base), RDX);
    const Reg ri = vals_[index.id].in_reg() ? reg_of(index) : (ld(RCX, index), RCX);
    a_.lea(d, Mem{rb, 0, ri, uint8_t(kv(shl.args[1]) & 63)});
    st(i, d);
    return;
  }
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
  if (wide && op == kSub) note_sub_flags(x, y, in.type);  // x, y as given: a Sub never swaps
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
    if (op == kShl && w64 && amt >= 1 && amt <= 3 && vals_[i].uses == 1 &&
        i + 1 < b_.insts.size()) {
      const ir::Inst& next = b_.insts[i + 1];
      if (next.op == Opcode::Add && next.type == Type::I64 &&
          (next.args[0].id == i) != (next.args[1].id == i) &&
          !is_k(next.args[0].id == i ? next.args[1] : next.args[0])) {
        scaled_shl_ = i;  // the Add does it
        return;
      }
    }
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
  const size_t before = a_.size();
  bool fresh = false;  // a cmp of its own: the flags are this compare's from here
  if ((t == Type::I64 || t == Type::I32) && sub_flags_hold(x, y, t)) {
    // The Sub of these operands just set every flag a cmp would (arm64's C of a CMP).
  } else if (zero_cmp && zs != kO && zs_holds(x, t)) {
    cc = zs;
  } else {
    fresh = true;
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
    if (!fresh) flags_kept(before);
    return;
  }
  const size_t tail = a_.size();
  a_.setcc(cc, d);
  a_.movzx_rr(1, d, d);
  st(i, d);
  if (zero_cmp) zs_at_ = a_.size();
  if (!fresh) flags_kept(before);
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
  // V of the Sub the flags hold (x - y = x + ~y + 1): its OF, with no add of its own.
  if (ovf_of_sub(i)) return set_from_flags(i, kO);
  const Cc cc = in.op == Opcode::AddCarry ? kB : kO;
  // C or V of the add (AddC, or the other flag's) the flags hold: a setcc, no add of its own.
  if (in.op != Opcode::AddC && add_flags_hold(in)) return set_from_flags(i, cc);
  const bool wide = t == Type::I64 || t == Type::I32;
  ld(RAX, in.args[0]);
  if (wide) {
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
  if (wide) note_add_flags(in);
  const size_t before = a_.size();
  if (in.op == Opcode::AddC) {
    norm(RAX, t);  // mov eax, eax: the flags stay
    st(i, RAX);
    flags_kept(before);
    if (wide) note_zs_flags(uint32_t(i), t);  // N and Z of the sum: ZF and SF
    return;
  }
  set_from_flags(i, cc);
}

void Gen::set_from_flags(size_t i, Cc cc) {
  const size_t before = a_.size();
  if (!fuse_set_reg(i, cc)) {
    a_.setcc(cc, RAX);
    a_.movzx_rr(1, RAX, RAX);
    st(i, RAX);
  }
  flags_kept(before);
}

// rcx = tlb_index(guest address in a) * sizeof(TlbEntry), the entry's offset in an mmu_idx's
// table. Clobbers rdx. With BMI2 the two shifts are RORX (no copies first): the index keeps
// only the low 10 bits of each addend, which a rotate and a shift share.
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
    case Opcode::PcRel: {
      const Reg d = out(i);
      mov_pc(d, in.imm);
      st(i, d);
      return true;
    }
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
      const size_t before = a_.size();
      if (vals_[v.id].in_reg()) {  // an i1 home holds 0 or 1 (canonical): its low byte
        a_.store(t == Type::I1 ? 1 : bytes_of(t), m, reg_of(v));
        flags_kept(before);
      } else if (is_k(v) && (t == Type::I32 || (t == Type::I64 && fits_i32(int64_t(kv(v)))))) {
        a_.store_imm32(t == Type::I64, m, int32_t(kv(v)));
        flags_kept(before);
      } else if (is_k(v) && t == Type::I1) {  // arm64's C and V of a logical op: 0
        a_.store_imm8(m, uint8_t(kv(v) & 1));
        flags_kept(before);
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
      // ~y read only by the next instruction, the V of the Sub the flags hold: not needed.
      if (vals_[i].uses == 1 && i + 1 < b_.insts.size() && b_.insts[i + 1].args[1].id == i &&
          ovf_of_sub(i + 1))
        return true;
      const Reg d = out(i);
      const size_t before = a_.size();
      ld(d, in.args[0], /*keep_flags=*/true);
      if (t == Type::I64 || t == Type::I32) {
        a_.not_r(t == Type::I64, d);
        st(i, d);
        flags_kept(before);  // mov and not
        return true;
      }
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
      if (vals_[i].root != uint32_t(i)) return true;  // shares_source_home: nothing to do
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
      if (pos == 0 && (len == 8 || len == 16 || len == 32)) {  // arm64's SXTW, SXTB, SXTH
        const Value x = in.args[0];
        Reg src = d;
        if (vals_[x.id].in_reg())
          src = reg_of(x);
        else
          ld(d, x);
        a_.movsx_rr(len / 8, d, src);
        norm(d, t);
        st(i, d);
        return true;
      }
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
      // x86-64 (TSO) keeps loads in order with loads and later stores, and stores in order:
      // only a full barrier's store-then-load ordering needs an instruction.
      if (in.imm == uint64_t(ir::FenceKind::Full)) a_.lock_or_stack();
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
  if ((target ^ tb_.key.pc) & softmmu::kPageMask) {
    mov_pc(RAX, target);
    a_.store(8, Mem{RBX, kOffPc}, RAX);
    // The dispatcher never links across a page, so without this every such exit (a call into
    // another page of the kernel) would return to it: probe the jump cache here instead, at
    // the slot the target hashes to (in a pc-relative block a relocation: the target moves
    // with the block).
    a_.load(8, RCX, Mem{RBX, kOffJumpCache});
    if (!b_.pc_relative) {
      jump_cache_exit(Mem{RCX, int32_t(jump_cache_index(target) * sizeof(JumpCacheEntry))});
      return;
    }
    mov_reloc(RDX, RelocKind::JumpCacheDisp, int64_t(target - b_.guest_pc));
    a_.alu_rr(kAdd, true, RCX, RDX);
    jump_cache_exit(Mem{RCX, 0});
    return;
  }
  // A baseline successor: the engine points this jump at its fast entry (the successor checks
  // exit_request), so the chain goes on in this frame. The jump leaves cpu.pc behind: no code
  // in a block reads it (helpers and slow paths that may raise take their PC as an argument),
  // and a block that returns at its entry for exit_request stores its own PC there.
  // Unlinked, or linked to LLVM code, the jump falls through, with only the shared frame left:
  // linked, to the block's shared tail call; unlinked, to the code cache's stub for the slot,
  // which stores the target PC (from tb.ir.term) and returns for the dispatcher to link. An
  // exit was ~100 bytes of mostly cold code with its own PC store and two epilogues; now ~35.
  if (extra_) a_.alu_ri(kAdd, true, RSP, extra_);
  Reloc site{uint32_t(a_.jmp_patchable()), RelocKind::JumpSite, slot};
  relocs_.push_back(site);
  mov_tb(RAX, &tb_.link[slot]);
  a_.load(8, RDX, Mem{RAX, 0});
  a_.test_rr(true, RDX, RDX);
  a_.jcc(kNe, shared_tail(tail_call_, tail_call_used_));
  relocs_.push_back(Reloc{uint32_t(a_.jmp_rel32_placeholder()), RelocKind::ExitStub, slot});
}

void Gen::jump_cache_exit(Mem entry) {
  // A hit needs pc and flags to match and the entry to have code; a miss returns to the
  // dispatcher with nothing to link (one shared tail per block). Baseline code is entered at
  // its fast entry, as a direct link's.
  const Label miss = shared_tail(jc_miss_, jc_miss_used_);
  a_.alu_rm(kCmp, true, RAX, entry);
  a_.jcc(kNe, miss);
  a_.load(8, RDX, Mem{RBX, kOffJcTag});
  a_.alu_rm(kCmp, true, RDX, Mem{entry.base, entry.disp + kJcFlags});
  a_.jcc(kNe, miss);
  // The entry's code: a fast entry (bit 3 set) goes on in this frame, a NativeFn is
  // tail-called, null misses.
  Label not_fast = a_.new_label();
  a_.load(8, RDX, Mem{entry.base, entry.disp + kJcCode});
  a_.bt_ri(RDX, 3);
  a_.jcc(kAe, not_fast);  // CF clear: bit 3 clear
  if (extra_) a_.alu_ri(kAdd, true, RSP, extra_);
  a_.jmp_r(RDX);
  bind(not_fast);
  a_.test_rr(true, RDX, RDX);
  a_.jcc(kE, miss);
  if (extra_) a_.alu_ri(kAdd, true, RSP, extra_);
  a_.jmp(shared_tail(tail_call_, tail_call_used_));
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
      a_.shift_ri(kShl, false, RCX, kJumpCacheEntryBits);
      a_.alu_rm(kAdd, true, RCX, Mem{RBX, kOffJumpCache});
      jump_cache_exit(Mem{RCX, 0});
      return;
    }
    case ir::Terminal::Kind::Exit:
      if (!t.pc_in_state) {
        mov_pc(RAX, t.target);
        a_.store(8, Mem{RBX, kOffPc}, RAX);
      }
      ret_code(exec::make_exit_result(t.reason, t.arg));
      return;
    case ir::Terminal::Kind::None:
      return;
  }
}

}  // namespace gen

exec::NativeFn compile(exec::TranslationBlock& tb, CodeCache& cache, const Options& opt,
                       std::string* error, size_t* code_size, Workspace* ws) {
#if !defined(__x86_64__)
  if (error) *error = "baseline: the host is not x86-64";
  return nullptr;
#endif
  // A fresh Workspace allocates (and zero-fills) the 4 KiB code buffer: only without the
  // caller's.
  std::optional<Workspace> local;
  if (!ws) ws = &local.emplace();
  gen::Gen g(tb, opt, *ws->b, ws->relocs);
  std::string err;
  if (!g.run(err)) {
    if (error) *error = err;
    return nullptr;
  }
  uint8_t* at = place(tb, cache, std::span(g.data(), g.size()), ws->relocs);
  if (!at) {
    if (error) *error = "baseline: code cache full";
    return nullptr;
  }
  if (code_size) *code_size = g.size();
  return reinterpret_cast<exec::NativeFn>(at);
}

std::vector<uint8_t> detail::exit_stubs(size_t stub_at[3]) {
  using namespace gen;
  // Offsets into a TranslationBlock, from one (it is not standard-layout for offsetof).
  const auto tb = std::make_unique<exec::TranslationBlock>();
  auto off = [&](const void* field) {
    return int32_t(static_cast<const char*>(field) - reinterpret_cast<const char*>(tb.get()));
  };
  X64 a;
  const Label ret = a.new_label();
  for (unsigned slot = 0; slot < 2; ++slot) {
    stub_at[slot] = a.size();
    a.alu_ri(kSub, true, RAX, off(&tb->link[slot]));  // rax = the TranslationBlock
    a.store(8, Mem{RBX, kOffLastTb}, RAX);
    a.store_imm32(false, Mem{RBX, kOffLastExitSlot}, int32_t(slot));
    a.load(8, RCX, Mem{RAX, off(slot ? &tb->ir.term.target2 : &tb->ir.term.target)});
    a.store(8, Mem{RBX, kOffPc}, RCX);
    a.mov_imm(RAX, exec::kRetNext);
    a.jmp(ret);
  }
  // The shared epilogue (kReturnStub): rax holds the result, only the shared frame is left.
  stub_at[kReturnStub] = a.size();
  a.bind(ret);
  a.alu_ri(kAdd, true, RSP, kSharedFrameBytes);
  for (size_t k = std::size(kEntrySaved); k-- > 0;) a.pop(kEntrySaved[k]);
  a.ret();
  static constexpr uint8_t kInt3[16] = {0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc,
                                        0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc};
  a.append(kInt3, (16 - a.size() % 16) % 16);
  if (!a.resolve()) return {};
  return std::vector<uint8_t>(a.data(), a.data() + a.size());
}

uint64_t detail::generic_eval_address() {
  return uint64_t(&gen::generic_eval);
}

}  // namespace orrery::tcg::baseline
