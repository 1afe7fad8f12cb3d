// Block lowering: function skeleton, argument checking and per-op dispatch. ALU ops live in
// lower_alu.cpp; memory, calls, fences and terminals in lower_mem.cpp.
#include "tcg/llvm/lower.h"

#include <algorithm>
#include <cstddef>

#include <llvm/IR/MDBuilder.h>

namespace orrery::tcg::llvm {

namespace {

// The operand/result slots of every opcode, generated from the one op table so the lowering
// can reject malformed IR before LLVM sees it (LLVM's own checks are compiled out in release).
struct OpSig {
  const char* name;
  ir::Slot res;
  ir::Slot args[3];
};
constexpr OpSig kOpSigs[] = {
#define OP(name, res, a0, a1, a2, flags) \
  {#name, ir::Slot::res, {ir::Slot::a0, ir::Slot::a1, ir::Slot::a2}},
#include "tcg/ir/opcodes.inc"
#undef OP
};
static_assert(std::size(kOpSigs) == ir::kNumOpcodes);

ir::Type slot_type(ir::Slot s, ir::Type own) {
  switch (s) {
    case ir::Slot::T:
      return own;
    case ir::Slot::I1:
      return ir::Type::I1;
    case ir::Slot::I8:
      return ir::Type::I8;
    case ir::Slot::I16:
      return ir::Type::I16;
    case ir::Slot::I32:
      return ir::Type::I32;
    case ir::Slot::I64:
      return ir::Type::I64;
    case ir::Slot::I128:
      return ir::Type::I128;
    case ir::Slot::I256:
      return ir::Type::I256;
    default:
      return ir::Type::V;  // V, and A (any integer; checked by the op)
  }
}

}  // namespace

BlockLowering::BlockLowering(ll::Module& m, LinkNames names, bool count_executions)
    : count_executions_(count_executions),
      mod_(m),
      ctx_(m.getContext()),
      names_(std::move(names)),
      b_(m.getContext()) {}

bool BlockLowering::fail(std::string msg) {
  if (error_.empty()) error_ = std::move(msg);
  return false;
}

ll::IntegerType* BlockLowering::int_type(ir::Type t) {
  return ll::IntegerType::get(ctx_, ir::bits(t));
}

ll::Type* BlockLowering::value_type(ir::Type t) {
  if (ir::is_vec(t)) return ll::FixedVectorType::get(b_.getInt64Ty(), ir::bits(t) / 64);
  return int_type(t);
}

ll::Value* BlockLowering::field_ptr(size_t offset) {
  if (offset == 0) return cpu_;
  return b_.CreateConstInBoundsGEP1_64(b_.getInt8Ty(), cpu_, offset);
}

ll::Value* BlockLowering::load_field(ll::Type* t, size_t offset) {
  auto* l = b_.CreateAlignedLoad(t, field_ptr(offset), ll::MaybeAlign(1));
  if (tbaa_cpu_) tag(l, tbaa_cpu_);
  return l;
}

ll::Value* BlockLowering::load_invariant_ptr(size_t offset) {
  auto* l = b_.CreateAlignedLoad(b_.getPtrTy(), field_ptr(offset), ll::MaybeAlign(8));
  l->setMetadata(ll::LLVMContext::MD_invariant_load, ll::MDNode::get(ctx_, {}));
  return l;
}

ll::LoadInst* BlockLowering::load_shared(ll::Type* t, ll::Value* ptr, unsigned align) {
  return b_.CreateAlignedLoad(t, ptr, ll::MaybeAlign(align), /*isVolatile=*/true);
}

void BlockLowering::store_field(ll::Value* v, size_t offset) {
  auto* s = b_.CreateAlignedStore(v, field_ptr(offset), ll::MaybeAlign(1));
  if (tbaa_cpu_) tag(s, tbaa_cpu_);
}

ll::Value* BlockLowering::const_ptr(const void* p) {
  return ll::ConstantExpr::getIntToPtr(b_.getInt64(reinterpret_cast<uintptr_t>(p)), b_.getPtrTy());
}

ll::Value* BlockLowering::extern_ptr(const std::string& symbol) {
  if (ll::GlobalVariable* g = mod_.getNamedGlobal(symbol)) return g;
  // Not dso_local: position-independent code reaches it through a GOT entry the linker builds
  // next to the code (data: a RIP-relative load of the address; calls: a stub), wherever the
  // JIT maps the object. FastISel selects these; it gives up on large-code-model globals.
  return new ll::GlobalVariable(mod_, b_.getInt8Ty(), /*isConstant=*/false,
                                ll::GlobalValue::ExternalLinkage, nullptr, symbol);
}

ll::Value* BlockLowering::helper_ptr(const ir::Helper& h) {
  if (!names_.absolute && names_.use_helper && h.name && names_.use_helper(h))
    return extern_ptr(helper_symbol(h));
  relocatable_ = false;
  return const_ptr(reinterpret_cast<const void*>(h.fn));
}

ll::Value* BlockLowering::slow_ptr(const char* symbol, const void* fn) {
  return names_.absolute ? const_ptr(fn) : extern_ptr(symbol);
}

ll::Value* BlockLowering::tb_ptr(const void* field) {
  if (names_.absolute) {
    relocatable_ = false;
    return const_ptr(field);
  }
  const auto offset =
      uint64_t(static_cast<const char*>(field) - reinterpret_cast<const char*>(tb_));
  ll::Value* base = extern_ptr(block_data_symbol(member_, names_.suffix));
  if (offset == 0) return base;
  return b_.CreateConstInBoundsGEP1_64(b_.getInt8Ty(), base, offset);
}

ll::BasicBlock* BlockLowering::pending_block() {
  if (!pending_) {
    pending_ = ll::BasicBlock::Create(ctx_, "pending", fn_);
    ll::IRBuilder<> pb(pending_);
    pb.CreateRet(pb.getInt64(exec::kRetPending));
  }
  return pending_;
}

void BlockLowering::cond_br_cold(ll::Value* cond, ll::BasicBlock* cold, ll::BasicBlock* hot) {
  ll::MDBuilder md(ctx_);
  b_.CreateCondBr(cond, cold, hot, md.createUnlikelyBranchWeights());
}

void BlockLowering::branch_if_pending() {
  ll::Value* p = load_field(b_.getInt32Ty(), offsetof(CpuCommon, pending_exit));
  auto* cont = ll::BasicBlock::Create(ctx_, "cont", fn_);
  cond_br_cold(b_.CreateICmpNE(p, b_.getInt32(0)), pending_block(), cont);
  b_.SetInsertPoint(cont);
}

bool BlockLowering::check_args(const ir::Inst& in, uint32_t index) {
  const OpSig& sig = kOpSigs[unsigned(in.op)];
  unsigned want = 0;
  while (want < 3 && sig.args[want] != ir::Slot::V) ++want;
  bool optional = in.op == ir::Opcode::Call || in.op == ir::Opcode::CallPure;
  if (in.nargs > want || (!optional && in.nargs != want))
    return fail(std::string(sig.name) + ": wrong number of arguments");
  for (unsigned k = 0; k < in.nargs; ++k) {
    uint32_t id = in.args[k].id;
    if (id >= index || !values_[id])
      return fail(std::string(sig.name) + ": argument " + std::to_string(k) + " is not a value");
    ll::Type* have = values_[id]->getType();
    if (sig.args[k] == ir::Slot::A) continue;
    ir::Type t = slot_type(sig.args[k], in.type);
    if (t == ir::Type::V || have != value_type(t))
      return fail(std::string(sig.name) + ": argument " + std::to_string(k) + " has wrong type");
  }
  return true;
}

std::string BlockLowering::lower(const exec::TranslationBlock& tb, const std::string& name) {
  tb_ = &tb;
  relocatable_ = true;
  error_.clear();
  pending_ = nullptr;
  members_.clear();
  if (tb.region.empty() || tb.region.front() != &tb) {
    members_.push_back(&tb);
  } else {
    members_.assign(tb.region.begin(), tb.region.end());
  }

  auto* fty = ll::FunctionType::get(b_.getInt64Ty(), {b_.getPtrTy()}, false);
  fn_ = ll::Function::Create(fty, ll::GlobalValue::ExternalLinkage, name, mod_);
  fn_->setDoesNotThrow();  // helpers must not throw; no unwind tables needed
  cpu_ = fn_->getArg(0);
  cpu_->setName("cpu");

  ll::MDBuilder md(ctx_);
  ll::MDNode* root = md.createTBAARoot("orrery");
  tbaa_cpu_ = md.createTBAAScalarTypeNode("cpu", root);
  tbaa_guest_ = md.createTBAAScalarTypeNode("guest", root);
  tbaa_tlb_ = md.createTBAAScalarTypeNode("tlb", root);
  tbaa_count_ = md.createTBAAScalarTypeNode("count", root);

  auto* entry = ll::BasicBlock::Create(ctx_, "entry", fn_);
  member_bbs_.clear();
  for (size_t m = 0; m < members_.size(); ++m)
    member_bbs_.push_back(ll::BasicBlock::Create(ctx_, "tb" + std::to_string(m), fn_));
  b_.SetInsertPoint(entry);
  plan_registers();
  plan_exit_checks();
  plan_load_pages();
  b_.CreateBr(member_bbs_[0]);

  bool ok = true;
  for (size_t m = 0; ok && m < members_.size(); ++m) ok = lower_member(m);
  if (!ok) {
    fn_->eraseFromParent();
    fn_ = nullptr;
    if (error_.empty()) error_ = "lowering failed";
  }
  return error_;
}

bool BlockLowering::lower_member(size_t m) {
  tb_ = members_[m];
  member_ = m;
  const ir::Block& blk = tb_->ir;
  insn_pc_ = blk.guest_pc;
  values_.assign(blk.insts.size(), nullptr);
  pending_flags_.clear();
  runs_ = opt::find_mem_runs(blk);
  run_ok_.assign(runs_.runs.size(), nullptr);
  run_host_.assign(runs_.runs.size(), nullptr);

  // The function's entry and every loop in it honour exit_request (tb.h: kRetExitRequest), so
  // a loop inside the region still stops for interrupts, the debugger and shutdown.
  auto* body = ll::BasicBlock::Create(ctx_, "body", fn_);
  b_.SetInsertPoint(member_bbs_[m]);
  if (checks_exit_[m]) {
    auto* stop = ll::BasicBlock::Create(ctx_, "exit_request", fn_);
    ll::Value* req = load_shared(b_.getInt32Ty(), field_ptr(offsetof(CpuCommon, exit_request)), 4);
    cond_br_cold(b_.CreateICmpNE(req, b_.getInt32(0)), stop, body);
    b_.SetInsertPoint(stop);
    sync_out();
    // The head is also reached through the region's back edges, where cpu->pc is stale.
    store_field(b_.getInt64(blk.guest_pc), offsetof(CpuCommon, pc));
    b_.CreateRet(b_.getInt64(exec::kRetExitRequest));
  } else {
    b_.CreateBr(body);
  }
  b_.SetInsertPoint(body);
  if (count_executions_) {
    // A plain increment: a count lost to a race between vCPUs only skews the statistics.
    ll::Value* at = tb_ptr(&tb_->native_execs);
    auto* n = b_.CreateAlignedLoad(b_.getInt64Ty(), at, ll::MaybeAlign(8));
    tag(n, tbaa_count_);
    tag(b_.CreateAlignedStore(b_.CreateAdd(n, b_.getInt64(1)), at, ll::MaybeAlign(8)), tbaa_count_);
  }

  bool ok = true;
  for (uint32_t i = 0; ok && i < blk.insts.size(); ++i) {
    const ir::Inst& in = blk.insts[i];
    if (unsigned(in.op) >= ir::kNumOpcodes) {
      ok = fail("instruction " + std::to_string(i) + ": bad opcode");
      break;
    }
    index_ = i;
    ok = check_args(in, i) && lower_inst(in, i);
    if (!ok && error_.find("instruction") != 0)
      error_ = "instruction " + std::to_string(i) + ": " + error_;
  }
  if (ok) ok = lower_terminal(blk);
  return ok;
}

void BlockLowering::plan_registers() {
  regs_.clear();
  reg_index_.clear();
  // Byte-level ownership: a register is promoted only if every access to its bytes uses the
  // same offset and width (x86 AL/AH/AX/EAX aliasing stays in memory).
  struct Use {
    uint64_t off;
    ir::Type type;
    bool written;
  };
  std::vector<Use> uses;
  uint64_t max_end = 0;
  for (const exec::TranslationBlock* t : members_)
    for (const ir::Inst& in : t->ir.insts) {
      if (in.op != ir::Opcode::GetReg && in.op != ir::Opcode::SetReg) continue;
      uses.push_back({in.imm, in.type, in.op == ir::Opcode::SetReg});
      max_end = std::max<uint64_t>(max_end, in.imm + std::max(1u, ir::bits(in.type) / 8));
    }
  if (max_end > (1u << 20)) return;         // implausible state size: leave everything in memory
  std::vector<int32_t> owner(max_end, -1);  // byte -> index in regs_, or -2 if conflicting
  reg_index_.assign(max_end, -1);
  for (const Use& u : uses) {
    const unsigned size = std::max(1u, ir::bits(u.type) / 8);
    int32_t idx = reg_index_[u.off];
    if (idx >= 0 && regs_[idx].type == u.type) {
      regs_[idx].written |= u.written;
      regs_[idx].read |= !u.written;
      continue;
    }
    bool clash = idx != -1;
    for (unsigned k = 0; k < size && !clash; ++k) clash = owner[u.off + k] != -1;
    if (clash) {
      for (unsigned k = 0; k < size; ++k) {
        int32_t o = owner[u.off + k];
        if (o >= 0) regs_[o].live = false;
        owner[u.off + k] = -2;
      }
      if (idx >= 0) regs_[idx].live = false;
      reg_index_[u.off] = -2;
      continue;
    }
    reg_index_[u.off] = int32_t(regs_.size());
    for (unsigned k = 0; k < size; ++k) owner[u.off + k] = int32_t(regs_.size());
    regs_.push_back({u.off, u.type, u.written, !u.written, true, nullptr});
  }
  for (PromotedReg& r : regs_) {
    // A condition flag (I1) the function writes but never reads (a block sets it and its own
    // branch consumes it) is not promoted: its last value stayed live across a loop only for
    // the syncs before slow paths and exits, one register (or spill) per flag. It is stored
    // once per member instead (kLazyFlag). Wider write-only registers stay promoted: stored at
    // every write, a loop's dead temporaries cost more than their syncs did.
    if (!r.live) {
      reg_index_[r.offset] = -2;
      continue;
    }
    if (!r.read && r.type == ir::Type::I1) {
      reg_index_[r.offset] = kLazyFlag;
      continue;
    }
    ll::Type* t = r.type == ir::Type::I1 ? b_.getInt8Ty() : value_type(r.type);
    r.slot = b_.CreateAlloca(t);
    b_.CreateStore(load_field(t, r.offset), r.slot);
  }
}

void BlockLowering::sync_out() {
  for (const PromotedReg& r : regs_)
    if (r.slot && r.written)
      store_field(b_.CreateLoad(r.slot->getAllocatedType(), r.slot), r.offset);
  for (const auto& [offset, v] : pending_flags_) store_field(v, offset);
}

void BlockLowering::flush_flags() {
  for (const auto& [offset, v] : pending_flags_) store_field(v, offset);
  pending_flags_.clear();
}

void BlockLowering::sync_in() {
  for (const PromotedReg& r : regs_)
    if (r.slot) b_.CreateStore(load_field(r.slot->getAllocatedType(), r.offset), r.slot);
  forget_load_pages();  // the helper may have changed the TLB (TLBI, a translation regime)
}

void BlockLowering::plan_load_pages() {
  load_pages_.clear();
  load_page_of_.assign(members_.size(), {});
  // Members on a cycle lie between the target and the source of an edge to a member no later
  // in region order (plan_exit_checks); a member's loop size is that of the smallest such
  // span. Elsewhere a load runs once per call and a remembered page would never be used.
  const size_t none = members_.size() + 1;
  std::vector<size_t> loop_size(members_.size(), none);
  for (size_t m = 0; m < members_.size(); ++m) {
    const ir::Terminal& t = members_[m]->ir.term;
    if (t.kind != ir::Terminal::Kind::Jump && t.kind != ir::Terminal::Kind::Branch) continue;
    for (uint64_t target : {t.target, t.target2}) {
      const int to = member_index(target);
      if (to >= 0 && size_t(to) <= m)
        for (size_t k = size_t(to); k <= m; ++k)
          loop_size[k] = std::min(loop_size[k], m - size_t(to) + 1);
      if (t.kind == ir::Terminal::Kind::Jump) break;
    }
  }
  struct Site {
    size_t loop_size, member, inst;
  };
  std::vector<Site> sites;
  for (size_t m = 0; m < members_.size(); ++m) {
    const std::vector<ir::Inst>& insts = members_[m]->ir.insts;
    load_page_of_[m].assign(insts.size(), -1);
    if (loop_size[m] == none) continue;
    const opt::MemRuns runs = opt::find_mem_runs(members_[m]->ir);
    for (size_t i = 0; i < insts.size(); ++i) {
      const ir::Inst& in = insts[i];
      if (in.op != ir::Opcode::Load && in.op != ir::Opcode::VecLoad) continue;
      if (runs.run_of[i] >= 0) continue;  // its run's probe serves it
      // The forgotten value kTlbInvalid must never equal a masked address (guest_access).
      if (ir::MemOp::decode(in.imm).size() > softmmu::kTlbInvalid) continue;
      sites.push_back({loop_size[m], m, i});
    }
  }
  // Each remembered page is two values live across the loop: beyond a few they cost more in
  // spills than the probes they save, so the innermost loops' loads come first.
  constexpr size_t kMaxLoadPages = 4;
  std::stable_sort(sites.begin(), sites.end(),
                   [](const Site& a, const Site& b) { return a.loop_size < b.loop_size; });
  if (sites.size() > kMaxLoadPages) sites.resize(kMaxLoadPages);
  for (const Site& site : sites) {
    load_page_of_[site.member][site.inst] = int32_t(load_pages_.size());
    LoadPage p{b_.CreateAlloca(b_.getInt64Ty()), b_.CreateAlloca(b_.getInt64Ty())};
    b_.CreateStore(b_.getInt64(softmmu::kTlbInvalid), p.page);
    b_.CreateStore(b_.getInt64(0), p.addend);
    load_pages_.push_back(p);
  }
}

void BlockLowering::forget_load_pages() {
  for (const LoadPage& p : load_pages_) b_.CreateStore(b_.getInt64(softmmu::kTlbInvalid), p.page);
}

int BlockLowering::member_index(uint64_t target) const {
  for (size_t m = 0; m < members_.size(); ++m)
    if (members_[m]->key.pc == target && members_[m]->key.flags == members_[0]->key.flags)
      return int(m);
  return -1;
}

ll::BasicBlock* BlockLowering::member_block(uint64_t target) const {
  const int m = member_index(target);
  return m < 0 ? nullptr : member_bbs_[m];
}

void BlockLowering::plan_exit_checks() {
  // Every cycle through the members has an edge to a member no later in this order, so
  // checking at the entry and at the targets of such edges stops every loop inside the function;
  // a member reached only from earlier ones is left to those checks.
  checks_exit_.assign(members_.size(), false);
  checks_exit_[0] = true;
  for (size_t m = 0; m < members_.size(); ++m) {
    const ir::Terminal& t = members_[m]->ir.term;
    if (t.kind != ir::Terminal::Kind::Jump && t.kind != ir::Terminal::Kind::Branch) continue;
    const unsigned n = t.kind == ir::Terminal::Kind::Branch ? 2 : 1;
    for (uint64_t target : {t.target, t.target2}) {
      const int to = member_index(target);
      if (to >= 0 && size_t(to) <= m) checks_exit_[to] = true;
      if (n == 1) break;
    }
  }
}

void BlockLowering::tag(ll::Instruction* i, ll::MDNode* type) {
  ll::MDBuilder md(ctx_);
  i->setMetadata(ll::LLVMContext::MD_tbaa, md.createTBAAStructTagNode(type, type, 0));
}

bool BlockLowering::lower_inst(const ir::Inst& in, uint32_t index) {
  using ir::Opcode;
  ll::Value* r = nullptr;
  switch (in.op) {
    case Opcode::Nop:
      return true;
    case Opcode::InsnStart:
      insn_pc_ = in.imm;
      return true;
    case Opcode::Const:
    case Opcode::PcRel:  // LLVM code is keyed by its PC (tcg/llvm/code_cache.h)
      if (in.type == ir::Type::V) return fail("Const: no type");
      // Masked: LLVM expects the value to fit the type (the Emitter masks, hand-built IR may not).
      r = ll::ConstantInt::get(int_type(in.type), in.imm & ir::mask(in.type));
      break;
    case Opcode::GetReg: {
      if (in.type == ir::Type::V) return fail("GetReg: no type");
      if (in.imm < reg_index_.size() && reg_index_[in.imm] >= 0) {
        ll::AllocaInst* slot = regs_[reg_index_[in.imm]].slot;
        r = b_.CreateLoad(slot->getAllocatedType(), slot);
        if (in.type == ir::Type::I1) r = b_.CreateTrunc(r, b_.getInt1Ty());
        break;
      }
      if (in.type == ir::Type::I1) {
        // Flags are stored as one byte 0/1; like the interpreter, only bit 0 counts.
        r = b_.CreateTrunc(load_field(b_.getInt8Ty(), in.imm), b_.getInt1Ty());
      } else {
        r = load_field(value_type(in.type), in.imm);
      }
      break;
    }
    case Opcode::SetReg: {
      ll::Value* v = arg(in, 0);
      if (in.type == ir::Type::I1) v = b_.CreateZExt(v, b_.getInt8Ty());
      if (in.imm < reg_index_.size() && reg_index_[in.imm] >= 0) {
        b_.CreateStore(v, regs_[reg_index_[in.imm]].slot);
      } else if (in.imm < reg_index_.size() && reg_index_[in.imm] == kLazyFlag) {
        auto same = [&](const auto& p) { return p.first == in.imm; };
        if (auto it = std::find_if(pending_flags_.begin(), pending_flags_.end(), same);
            it != pending_flags_.end())
          it->second = v;
        else
          pending_flags_.emplace_back(in.imm, v);
      } else {
        store_field(v, in.imm);
      }
      return true;
    }
    case Opcode::Load:
      r = lower_load(in);
      break;
    case Opcode::Store:
      lower_store(in);
      return error_.empty();
    case Opcode::VecLoad:
      r = lower_vec_load(in);
      break;
    case Opcode::VecStore:
      lower_vec_store(in);
      return error_.empty();
    case Opcode::AtomicRmw:
    case Opcode::AtomicCmpxchg:
      r = lower_atomic(in);
      break;
    case Opcode::Fence:
      lower_fence(in);
      return error_.empty();
    case Opcode::TrapIf:
      lower_trap(in);
      return error_.empty();
    case Opcode::Call:
      r = lower_call(in, false);
      break;
    case Opcode::CallPure:
      r = lower_call(in, true);
      break;
    case Opcode::VecBuild:
    case Opcode::VecLane:
    case Opcode::VecOp1:
    case Opcode::VecOp2:
    case Opcode::VecConcat:
    case Opcode::VecHalf:
      r = lower_vec(in);
      break;
    default:
      r = lower_alu(in);
      break;
  }
  if (!r)
    return fail(error_.empty() ? std::string(kOpSigs[unsigned(in.op)].name) + ": unsupported"
                               : error_);
  values_[index] = r;
  return true;
}

}  // namespace orrery::tcg::llvm
