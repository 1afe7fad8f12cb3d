// Lowering of guest memory access (inline TLB fast path, softmmu slow path), helper calls,
// fences and block terminals (chaining, the indirect-jump cache, exits).
#include <cstddef>

#include <llvm/IR/InlineAsm.h>
#include <llvm/IR/MDBuilder.h>

#include "tcg/ir/helpers.h"
#include "tcg/llvm/lower.h"

namespace orrery::tcg::llvm {

namespace {
constexpr size_t kEntryAddrRead = offsetof(softmmu::TlbEntry, addr_read);
constexpr size_t kEntryAddrWrite = offsetof(softmmu::TlbEntry, addr_write);
constexpr size_t kEntryAddend = offsetof(softmmu::TlbEntry, addend);
static_assert(offsetof(JumpCacheEntry, pc) == 0);
constexpr size_t kJcFlags = offsetof(JumpCacheEntry, flags);
constexpr size_t kJcCode = offsetof(JumpCacheEntry, code);
static_assert(sizeof(std::atomic<exec::NativeFn>) == sizeof(void*));
static_assert(sizeof(std::atomic<uint64_t>) == sizeof(uint64_t));
}  // namespace

// The entry for (mmu_idx, tlb_index(vaddr)) and whether the access hits it (softmmu::tlb_hit,
// the interpreter's, also misses misaligned accesses without alignment asked for).
ll::Value* BlockLowering::tlb_entry(ll::Value* vaddr, unsigned mmu_idx) {
  ll::Value* table = load_invariant_ptr(offsetof(CpuCommon, tlb));
  // softmmu::tlb_index
  ll::Value* idx =
      b_.CreateAnd(b_.CreateAdd(b_.CreateLShr(vaddr, softmmu::kPageBits),
                                b_.CreateLShr(vaddr, softmmu::kPageBits + softmmu::kTlbBits)),
                   b_.getInt64(softmmu::kTlbEntries - 1));
  ll::Value* off = b_.CreateAdd(
      b_.CreateShl(idx, 5),  // sizeof(TlbEntry) == 32
      b_.getInt64(uint64_t(mmu_idx) * softmmu::kTlbEntries * sizeof(softmmu::TlbEntry)));
  return b_.CreateInBoundsGEP(b_.getInt8Ty(), table, off);
}

ll::Value* BlockLowering::tlb_compare_and_entry(ll::Value* vaddr, ir::MemOp m, bool write,
                                                ll::Value*& entry) {
  entry = tlb_entry(vaddr, m.mmu_idx);
  ll::Value* cmp_addr = b_.CreateInBoundsGEP(b_.getInt8Ty(), entry,
                                             b_.getInt64(write ? kEntryAddrWrite : kEntryAddrRead));
  auto* expect = b_.CreateAlignedLoad(b_.getInt64Ty(), cmp_addr, ll::MaybeAlign(8));
  tag(expect, tbaa_tlb_);
  // softmmu::tlb_compare_value: with alignment asked for (and for atomics) the low address
  // bits are in the compare, so a misaligned access misses; the page compared is that of the
  // access's last aligned block, so an access crossing into the next page misses and a
  // misaligned one within one page hits (x86 code makes millions). The baseline tier's
  // tlb_lookup does the same.
  const uint64_t fa = m.fast_align();
  ll::Value* last = m.size() > fa ? b_.CreateAdd(vaddr, b_.getInt64(m.size() - fa)) : vaddr;
  ll::Value* masked = b_.CreateAnd(last, b_.getInt64(softmmu::kPageMask | (fa - 1)));
  return b_.CreateICmpEQ(masked, expect);
}

// The TLB hit's host address: vaddr + the entry's addend.
ll::Value* BlockLowering::host_pointer(ll::Value* entry, ll::Value* vaddr, ll::Value** addend) {
  auto* a = b_.CreateAlignedLoad(
      b_.getInt64Ty(), b_.CreateInBoundsGEP(b_.getInt8Ty(), entry, b_.getInt64(kEntryAddend)),
      ll::MaybeAlign(8));
  tag(a, tbaa_tlb_);
  if (addend) *addend = a;
  return b_.CreateIntToPtr(b_.CreateAdd(vaddr, a), b_.getPtrTy());
}

// One probe for the run's bytes [a, last]: both in one page (checked outright, not left to
// the slot hash) whose entry matches with no flag bits, the
// same compare each member's own fast path would make.
void BlockLowering::probe_run(int32_t r) {
  const opt::MemRun& run = runs_.runs[r];
  ll::Value* base = values_[run.base.id];
  ll::Value* a = b_.CreateAdd(base, b_.getInt64(uint64_t(run.lo)));
  ll::Value* last = b_.CreateAdd(a, b_.getInt64(uint64_t(run.hi - run.lo - 1)));
  ll::Value* entry = tlb_entry(a, run.mmu_idx);
  auto* expect = b_.CreateAlignedLoad(
      b_.getInt64Ty(),
      b_.CreateInBoundsGEP(b_.getInt8Ty(), entry,
                           b_.getInt64(run.write ? kEntryAddrWrite : kEntryAddrRead)),
      ll::MaybeAlign(8));
  tag(expect, tbaa_tlb_);
  ll::Value* page = b_.getInt64(softmmu::kPageMask);
  ll::Value* ok =
      b_.CreateAnd(b_.CreateICmpEQ(b_.CreateAnd(last, page), expect),
                   b_.CreateICmpEQ(b_.CreateAnd(b_.CreateXor(a, last), page), b_.getInt64(0)));
  auto* hit_bb = ll::BasicBlock::Create(ctx_, "run_probe_hit", fn_);
  auto* join_bb = ll::BasicBlock::Create(ctx_, "run_probe_join", fn_);
  ll::BasicBlock* from = b_.GetInsertBlock();
  ll::MDBuilder md(ctx_);
  b_.CreateCondBr(ok, hit_bb, join_bb, md.createLikelyBranchWeights());
  b_.SetInsertPoint(hit_bb);
  auto* addend = b_.CreateAlignedLoad(
      b_.getInt64Ty(), b_.CreateInBoundsGEP(b_.getInt8Ty(), entry, b_.getInt64(kEntryAddend)),
      ll::MaybeAlign(8));
  tag(addend, tbaa_tlb_);
  ll::Value* host = b_.CreateAdd(base, addend);
  b_.CreateBr(join_bb);
  b_.SetInsertPoint(join_bb);
  ll::PHINode* ok_phi = b_.CreatePHI(b_.getInt1Ty(), 2);
  ok_phi->addIncoming(b_.getTrue(), hit_bb);
  ok_phi->addIncoming(b_.getFalse(), from);
  ll::PHINode* host_phi = b_.CreatePHI(b_.getInt64Ty(), 2);
  host_phi->addIncoming(host, hit_bb);
  host_phi->addIncoming(b_.getInt64(0), from);
  // An alloca (SROA makes it SSA again) so that slow paths in between can clear it.
  ll::BasicBlock& entry_bb = fn_->getEntryBlock();
  ll::IRBuilder<> eb(&entry_bb, entry_bb.begin());
  run_ok_[r] = eb.CreateAlloca(b_.getInt1Ty());
  b_.CreateStore(ok_phi, run_ok_[r]);
  run_host_[r] = host_phi;
}

ll::Value* BlockLowering::run_member(int32_t r, ll::BasicBlock* usual) {
  if (index_ == runs_.runs[r].leader) probe_run(r);
  auto* fused = ll::BasicBlock::Create(ctx_, "run_hit", fn_);
  ll::MDBuilder md(ctx_);
  b_.CreateCondBr(b_.CreateLoad(b_.getInt1Ty(), run_ok_[r]), fused, usual,
                  md.createLikelyBranchWeights());
  b_.SetInsertPoint(fused);
  return b_.CreateIntToPtr(b_.CreateAdd(run_host_[r], b_.getInt64(uint64_t(runs_.offset[index_]))),
                           b_.getPtrTy());
}

void BlockLowering::end_runs_in_progress() {
  for (size_t r = 0; r < runs_.runs.size(); ++r)
    if (run_ok_[r] && runs_.runs[r].last > index_) b_.CreateStore(b_.getFalse(), run_ok_[r]);
}

ll::Value* BlockLowering::guest_access(const char* name, ll::Value* vaddr, ir::MemOp m, bool write,
                                       ll::function_ref<ll::Value*(ll::Value* host)> fast,
                                       ll::function_ref<ll::Value*()> slow) {
  const std::string n(name);
  auto* hit_bb = ll::BasicBlock::Create(ctx_, n + "_hit", fn_);
  auto* miss_bb = ll::BasicBlock::Create(ctx_, n + "_miss", fn_);
  auto* join_bb = ll::BasicBlock::Create(ctx_, n + "_join", fn_);

  ll::Value* run_val = nullptr;
  ll::BasicBlock* run_end = nullptr;
  if (const int32_t r = runs_.run_of[index_]; r >= 0) {
    auto* usual_bb = ll::BasicBlock::Create(ctx_, n + "_usual", fn_);
    run_val = fast(run_member(r, usual_bb));
    run_end = b_.GetInsertBlock();
    b_.CreateBr(join_bb);
    b_.SetInsertPoint(usual_bb);
  }

  // A remembered page (plan_load_pages): one compare of the page and the alignment bits of
  // the access's size against the page the last hit matched. A naturally aligned access
  // never crosses a page, so its first byte's page is its last's (the hit's addend holds for
  // that page only); a misaligned one always takes the probe below.
  const int32_t lp = write ? -1 : load_page_of_[member_][index_];
  const uint64_t fa = m.fast_align();
  ll::Value* keep = b_.getInt64(softmmu::kPageMask | (fa - 1));
  ll::Value* cached_val = nullptr;
  ll::BasicBlock* cached_end = nullptr;
  if (lp >= 0) {
    const LoadPage& p = load_pages_[lp];
    auto* cached_bb = ll::BasicBlock::Create(ctx_, n + "_cached", fn_);
    auto* probe_bb = ll::BasicBlock::Create(ctx_, n + "_probe", fn_);
    ll::Value* page = b_.CreateLoad(b_.getInt64Ty(), p.page);
    ll::Value* same = b_.CreateICmpEQ(
        b_.CreateAnd(vaddr, b_.getInt64(softmmu::kPageMask | (m.size() - 1))), page);
    ll::MDBuilder md(ctx_);
    b_.CreateCondBr(same, cached_bb, probe_bb, md.createLikelyBranchWeights());
    b_.SetInsertPoint(cached_bb);
    ll::Value* addend = b_.CreateLoad(b_.getInt64Ty(), p.addend);
    cached_val = fast(b_.CreateIntToPtr(b_.CreateAdd(vaddr, addend), b_.getPtrTy()));
    cached_end = b_.GetInsertBlock();
    b_.CreateBr(join_bb);
    b_.SetInsertPoint(probe_bb);
  }

  ll::Value* entry = nullptr;
  ll::Value* hit = tlb_compare_and_entry(vaddr, m, write, entry);
  cond_br_cold(b_.CreateNot(hit), miss_bb, hit_bb);

  b_.SetInsertPoint(hit_bb);
  ll::Value* addend = nullptr;
  ll::Value* host = host_pointer(entry, vaddr, &addend);
  if (lp >= 0) {
    // On a hit the last byte's masked address is the entry's compare value, and the first
    // byte is on that page too.
    const uint64_t last_off = m.size() > fa ? m.size() - fa : 0;
    b_.CreateStore(b_.CreateAnd(b_.CreateAdd(vaddr, b_.getInt64(last_off)), keep),
                   load_pages_[lp].page);
    b_.CreateStore(addend, load_pages_[lp].addend);
  }
  ll::Value* fast_val = fast(host);
  ll::BasicBlock* hit_end = b_.GetInsertBlock();
  b_.CreateBr(join_bb);

  b_.SetInsertPoint(miss_bb);
  sync_out();  // the slow path may raise a guest exception, which needs exact state
  ll::Value* slow_val = slow();
  end_runs_in_progress();
  forget_load_pages();  // the slow path refills the TLB, and may flush it
  branch_if_pending();
  ll::BasicBlock* slow_end = b_.GetInsertBlock();
  b_.CreateBr(join_bb);

  b_.SetInsertPoint(join_bb);
  if (!fast_val) return nullptr;
  ll::PHINode* phi = b_.CreatePHI(fast_val->getType(), 2 + !!run_val + !!cached_val);
  phi->addIncoming(fast_val, hit_end);
  phi->addIncoming(slow_val, slow_end);
  if (run_val) phi->addIncoming(run_val, run_end);
  if (cached_val) phi->addIncoming(cached_val, cached_end);
  return phi;
}

ll::CallInst* BlockLowering::call_slow(const char* symbol, const void* fn, ll::FunctionType* ty,
                                       ll::ArrayRef<ll::Value*> args) {
  ll::CallInst* call = b_.CreateCall(ty, slow_ptr(symbol, fn), args);
  call->addFnAttr(ll::Attribute::Cold);
  call->addFnAttr(ll::Attribute::NoUnwind);
  return call;
}

ll::Value* BlockLowering::lower_load(const ir::Inst& in) {
  ir::MemOp m = ir::MemOp::decode(in.imm);
  if (m.mmu_idx >= softmmu::kNumMmuIdx || in.type == ir::Type::V) {
    fail("Load: bad memop or type");
    return nullptr;
  }
  ll::Value* vaddr = arg(in, 0);
  auto* mem_ty = ll::IntegerType::get(ctx_, m.size() * 8);
  ll::Value* v = guest_access(
      "ld", vaddr, m, false,
      [&](ll::Value* host) {
        auto* ld = b_.CreateAlignedLoad(mem_ty, host, ll::MaybeAlign(1));
        tag(ld, tbaa_guest_);
        return ld;
      },
      [&] {
        auto* i64 = b_.getInt64Ty();
        auto* sty = ll::FunctionType::get(i64, {b_.getPtrTy(), i64, i64, i64}, false);
        ll::CallInst* call =
            call_slow(kSlowLoadSymbol, reinterpret_cast<const void*>(names_.slow.load), sty,
                      {cpu_, vaddr, b_.getInt64(in.imm), b_.getInt64(insn_pc_)});
        // Narrow to the access size ourselves, so the extension below is the only one.
        return b_.CreateTrunc(call, mem_ty);
      });
  ll::IntegerType* ty = int_type(in.type);
  if (ty->getBitWidth() < mem_ty->getBitWidth()) return b_.CreateTrunc(v, ty);
  return m.sign ? b_.CreateSExtOrBitCast(v, ty) : b_.CreateZExtOrBitCast(v, ty);
}

void BlockLowering::lower_store(const ir::Inst& in) {
  ir::MemOp m = ir::MemOp::decode(in.imm);
  if (m.mmu_idx >= softmmu::kNumMmuIdx) {
    fail("Store: bad memop");
    return;
  }
  ll::Value* vaddr = arg(in, 0);
  ll::Value* value = arg(in, 1);
  auto* mem_ty = ll::IntegerType::get(ctx_, m.size() * 8);
  guest_access(
      "st", vaddr, m, true,
      [&](ll::Value* host) -> ll::Value* {
        tag(b_.CreateAlignedStore(b_.CreateZExtOrTrunc(value, mem_ty), host, ll::MaybeAlign(1)),
            tbaa_guest_);
        return nullptr;
      },
      [&]() -> ll::Value* {
        auto* i64 = b_.getInt64Ty();
        auto* sty =
            ll::FunctionType::get(b_.getVoidTy(), {b_.getPtrTy(), i64, i64, i64, i64}, false);
        call_slow(kSlowStoreSymbol, reinterpret_cast<const void*>(names_.slow.store), sty,
                  {cpu_, vaddr, b_.CreateZExtOrTrunc(value, i64), b_.getInt64(in.imm),
                   b_.getInt64(insn_pc_)});
        return nullptr;
      });
}

// An alloca in the function's entry block (so it is one stack slot, not one per execution).
ll::AllocaInst* BlockLowering::entry_alloca(ll::Type* t) {
  ll::BasicBlock& entry = fn_->getEntryBlock();
  ll::IRBuilder<> eb(&entry, entry.begin());
  return eb.CreateAlloca(t);
}

// VecLoad/VecStore: a TLB hit is one 16- or 32-byte host access (align 1: a movdqu, or a
// vmovdqu ymm where the host has AVX); a miss calls softmmu::slow_load_vec/slow_store_vec
// through a stack slot.
ll::Value* BlockLowering::lower_vec_load(const ir::Inst& in) {
  ir::MemOp m = ir::MemOp::decode(in.imm);
  if (m.mmu_idx >= softmmu::kNumMmuIdx || m.size() * 8 != ir::bits(in.type)) {
    fail("VecLoad: bad memop");
    return nullptr;
  }
  ll::Type* vty = value_type(in.type);
  ll::Value* vaddr = arg(in, 0);
  return guest_access(
      "vld", vaddr, m, false,
      [&](ll::Value* host) {
        auto* ld = b_.CreateAlignedLoad(vty, host, ll::MaybeAlign(1));
        tag(ld, tbaa_guest_);
        return ld;
      },
      [&] {
        ll::AllocaInst* buf = entry_alloca(vty);
        auto* i64 = b_.getInt64Ty();
        auto* sty = ll::FunctionType::get(b_.getVoidTy(),
                                          {b_.getPtrTy(), i64, i64, i64, b_.getPtrTy()}, false);
        call_slow(kSlowLoadVecSymbol, reinterpret_cast<const void*>(names_.slow.load_vec), sty,
                  {cpu_, vaddr, b_.getInt64(in.imm), b_.getInt64(insn_pc_), buf});
        return b_.CreateAlignedLoad(vty, buf, ll::MaybeAlign(8));
      });
}

void BlockLowering::lower_vec_store(const ir::Inst& in) {
  ir::MemOp m = ir::MemOp::decode(in.imm);
  if (m.mmu_idx >= softmmu::kNumMmuIdx || m.size() * 8 != ir::bits(in.type)) {
    fail("VecStore: bad memop");
    return;
  }
  ll::Value* vaddr = arg(in, 0);
  ll::Value* value = arg(in, 1);
  guest_access(
      "vst", vaddr, m, true,
      [&](ll::Value* host) -> ll::Value* {
        tag(b_.CreateAlignedStore(value, host, ll::MaybeAlign(1)), tbaa_guest_);
        return nullptr;
      },
      [&]() -> ll::Value* {
        ll::AllocaInst* buf = entry_alloca(value->getType());
        b_.CreateAlignedStore(value, buf, ll::MaybeAlign(8));
        auto* i64 = b_.getInt64Ty();
        auto* sty = ll::FunctionType::get(b_.getVoidTy(),
                                          {b_.getPtrTy(), i64, b_.getPtrTy(), i64, i64}, false);
        call_slow(kSlowStoreVecSymbol, reinterpret_cast<const void*>(names_.slow.store_vec), sty,
                  {cpu_, vaddr, buf, b_.getInt64(in.imm), b_.getInt64(insn_pc_)});
        return nullptr;
      });
}

// The TLB hit (aligned: the compare includes the low address bits) is a host atomic; a miss
// calls the softmmu, which also covers MMIO and code pages.
ll::Value* BlockLowering::lower_atomic(const ir::Inst& in) {
  const ir::MemOp m = ir::MemOp::decode(in.imm);
  const bool cx = in.op == ir::Opcode::AtomicCmpxchg;
  if (m.mmu_idx >= softmmu::kNumMmuIdx || m.size() * 8 != ir::bits(in.type) ||
      (!cx && in.imm2 >= ir::kNumAtomicOps)) {
    fail("atomic: bad memop, type or op");
    return nullptr;
  }
  ll::Value* vaddr = arg(in, 0);
  ll::Value* operand = cx ? arg(in, 2) : arg(in, 1);
  ll::Value* expected = cx ? arg(in, 1) : nullptr;
  auto* ty = int_type(in.type);
  ir::MemOp aligned = m;  // a host atomic must not split: misaligned ones miss
  aligned.align = true;
  return guest_access(
      "at", vaddr, aligned, true,
      [&](ll::Value* host) -> ll::Value* {
        const ll::Align align(m.size());
        const auto seq = ll::AtomicOrdering::SequentiallyConsistent;
        if (cx) {
          auto* x =
              b_.CreateAtomicCmpXchg(host, expected, operand, ll::MaybeAlign(align), seq, seq);
          return b_.CreateExtractValue(x, 0);
        }
        ll::AtomicRMWInst::BinOp op = ll::AtomicRMWInst::Xchg;
        switch (ir::AtomicOp(in.imm2)) {
          case ir::AtomicOp::Add:
            op = ll::AtomicRMWInst::Add;
            break;
          case ir::AtomicOp::And:
            op = ll::AtomicRMWInst::And;
            break;
          case ir::AtomicOp::Or:
            op = ll::AtomicRMWInst::Or;
            break;
          case ir::AtomicOp::Xor:
            op = ll::AtomicRMWInst::Xor;
            break;
          case ir::AtomicOp::Xchg:
            op = ll::AtomicRMWInst::Xchg;
            break;
        }
        return b_.CreateAtomicRMW(op, host, operand, ll::MaybeAlign(align), seq);
      },
      [&] {
        auto* i64 = b_.getInt64Ty();
        auto* sty = ll::FunctionType::get(i64, {b_.getPtrTy(), i64, i64, i64, i64, i64}, false);
        const unsigned kind = cx ? softmmu::kAtomicCmpxchg : unsigned(in.imm2);
        ll::CallInst* call =
            call_slow(kSlowAtomicSymbol, reinterpret_cast<const void*>(names_.slow.atomic), sty,
                      {cpu_, vaddr, b_.CreateZExtOrTrunc(operand, i64),
                       expected ? b_.CreateZExtOrTrunc(expected, i64) : b_.getInt64(0),
                       b_.getInt64(softmmu::atomic_desc(in.imm, kind)), b_.getInt64(insn_pc_)});
        return b_.CreateTrunc(call, ty);
      });
}

ll::Value* BlockLowering::lower_call(const ir::Inst& in, bool pure) {
  const auto* h = reinterpret_cast<const ir::Helper*>(in.imm);
  if (!h || !h->fn) {
    fail("Call: null helper");
    return nullptr;
  }
  auto* i64 = b_.getInt64Ty();
  auto* fty = ll::FunctionType::get(i64, {b_.getPtrTy(), i64, i64, i64}, false);
  ll::Value* args[4] = {cpu_, b_.getInt64(0), b_.getInt64(0), b_.getInt64(0)};
  for (unsigned k = 0; k < in.nargs; ++k) args[k + 1] = arg(in, k);
  if (!pure) {
    flush_flags();
    sync_out();  // helpers read and write guest state in memory
  }
  ll::CallInst* call = b_.CreateCall(fty, helper_ptr(*h), args);
  call->addFnAttr(ll::Attribute::NoUnwind);
  if (pure) {
    // Pure helpers touch no guest state and never fault, so LLVM may CSE or drop them.
    call->setMemoryEffects(ll::MemoryEffects::none());
    call->addFnAttr(ll::Attribute::WillReturn);
  } else {
    branch_if_pending();
    sync_in();
  }
  return call;
}

// The check is inline; only the cold path syncs state and calls the raising helper.
void BlockLowering::lower_trap(const ir::Inst& in) {
  const auto* h = reinterpret_cast<const ir::Helper*>(in.imm);
  if (!h || !h->fn) {
    fail("TrapIf: null helper");
    return;
  }
  auto* trap = ll::BasicBlock::Create(ctx_, "trap", fn_);
  auto* cont = ll::BasicBlock::Create(ctx_, "no_trap", fn_);
  cond_br_cold(arg(in, 0), trap, cont);
  b_.SetInsertPoint(trap);
  sync_out();
  auto* i64 = b_.getInt64Ty();
  auto* fty = ll::FunctionType::get(i64, {b_.getPtrTy(), i64, i64, i64}, false);
  ll::CallInst* call = b_.CreateCall(
      fty, helper_ptr(*h), {cpu_, b_.getInt64(in.imm2), b_.getInt64(insn_pc_), b_.getInt64(0)});
  call->addFnAttr(ll::Attribute::Cold);
  call->addFnAttr(ll::Attribute::NoUnwind);
  branch_if_pending();
  sync_in();  // a helper that declined to raise may still have touched state
  b_.CreateBr(cont);
  b_.SetInsertPoint(cont);
}

void BlockLowering::lower_fence(const ir::Inst& in) {
  switch (ir::FenceKind(in.imm)) {
    case ir::FenceKind::Full: {
      // LLVM makes a seq_cst fence an mfence (~17 ns on this project's AMD EPYC host); a locked
      // OR of zero on the stack orders the same for ordinary memory in ~2 ns, as the baseline
      // tier does (its memory clobber keeps LLVM from moving accesses across it).
      auto* ft = ll::FunctionType::get(b_.getVoidTy(), false);
      b_.CreateCall(ft, ll::InlineAsm::get(ft, "lock orl $$0, (%rsp)",
                                           "~{memory},~{dirflag},~{fpsr},~{flags}",
                                           /*hasSideEffects=*/true));
      break;
    }
    case ir::FenceKind::Load:
      b_.CreateFence(ll::AtomicOrdering::Acquire);
      break;
    case ir::FenceKind::Store:
      b_.CreateFence(ll::AtomicOrdering::Release);
      break;
    case ir::FenceKind::Instruction:
      // Code modification is handled by the translation cache; only keep the compiler honest.
      b_.CreateFence(ll::AtomicOrdering::SequentiallyConsistent, ll::SyncScope::SingleThread);
      break;
    default:
      fail("Fence: bad kind");
  }
}

// Tail-calls the block linked in tb.link[slot] when there is one, else returns kRetNext with
// last_tb/last_exit_slot naming this exit so the dispatcher can link it.
void BlockLowering::emit_chain(unsigned slot) {
  auto* linked = ll::BasicBlock::Create(ctx_, "chain", fn_);
  auto* unlinked = ll::BasicBlock::Create(ctx_, "unchained", fn_);
  ll::Value* next = load_shared(b_.getPtrTy(), tb_ptr(&tb_->link[slot]), 8);
  b_.CreateCondBr(b_.CreateIsNull(next), unlinked, linked);

  b_.SetInsertPoint(linked);
  auto* fty = ll::FunctionType::get(b_.getInt64Ty(), {b_.getPtrTy()}, false);
  ll::CallInst* call = b_.CreateCall(fty, next, {cpu_});
  call->setTailCallKind(ll::CallInst::TCK_MustTail);
  b_.CreateRet(call);

  b_.SetInsertPoint(unlinked);
  store_field(tb_ptr(tb_), offsetof(CpuCommon, last_tb));
  store_field(b_.getInt32(slot), offsetof(CpuCommon, last_exit_slot));
  b_.CreateRet(b_.getInt64(exec::kRetNext));
}

// Tail-calls the block the jump cache holds for pc (already stored in cpu.pc), else returns
// kRetNext with nothing to link.
void BlockLowering::emit_jump_cache_exit(ll::Value* pc) {
  // Probe the jump cache exactly as jump_cache_index() does, from its shift tables.
  ll::Value* cache = load_invariant_ptr(offsetof(CpuCommon, jump_cache));
  auto fold = [&](const auto& shifts) {
    ll::Value* x = nullptr;
    for (int sh : shifts) {
      ll::Value* t = sh > 0   ? b_.CreateLShr(pc, uint64_t(sh))
                     : sh < 0 ? b_.CreateShl(pc, uint64_t(-sh))
                              : pc;
      x = x ? b_.CreateXor(x, t) : t;
    }
    return x;
  };
  ll::Value* group = b_.CreateAnd(fold(kJumpCacheGroupShifts), b_.getInt64(kJumpCacheGroupMask));
  ll::Value* low = b_.CreateAnd(fold(kJumpCacheSlotShifts), b_.getInt64(kJumpCacheGroupSize - 1));
  ll::Value* idx = b_.CreateOr(b_.CreateShl(group, kJumpCacheGroupBits), low);
  ll::Value* e =
      b_.CreateInBoundsGEP(b_.getInt8Ty(), cache, b_.CreateShl(idx, kJumpCacheEntryBits));
  ll::Value* epc = load_shared(b_.getInt64Ty(), e, 8);  // other threads may invalidate it
  ll::Value* eflags = b_.CreateAlignedLoad(
      b_.getInt64Ty(), b_.CreateInBoundsGEP(b_.getInt8Ty(), e, b_.getInt64(kJcFlags)),
      ll::MaybeAlign(8));
  ll::Value* code = b_.CreateAlignedLoad(
      b_.getPtrTy(), b_.CreateInBoundsGEP(b_.getInt8Ty(), e, b_.getInt64(kJcCode)),
      ll::MaybeAlign(8));
  ll::Value* flags = load_field(b_.getInt64Ty(), offsetof(CpuCommon, jc_tag));
  ll::Value* hit =
      b_.CreateAnd(b_.CreateAnd(b_.CreateICmpEQ(epc, pc), b_.CreateICmpEQ(eflags, flags)),
                   b_.CreateIsNotNull(code));
  // A baseline fast entry (bit 3 set) is entered at its block's C entry, 24 bytes before.
  ll::Value* fast = b_.CreateICmpNE(
      b_.CreateAnd(b_.CreatePtrToInt(code, b_.getInt64Ty()), b_.getInt64(JumpCacheEntry::kFastBit)),
      b_.getInt64(0));
  ll::Value* native = b_.CreateSelect(
      fast, b_.CreateGEP(b_.getInt8Ty(), code, b_.getInt64(-JumpCacheEntry::kFastOffset)), code);
  auto* found = ll::BasicBlock::Create(ctx_, "jc_hit", fn_);
  auto* missed = ll::BasicBlock::Create(ctx_, "jc_miss", fn_);
  b_.CreateCondBr(hit, found, missed);
  b_.SetInsertPoint(found);
  auto* fty = ll::FunctionType::get(b_.getInt64Ty(), {b_.getPtrTy()}, false);
  ll::CallInst* call = b_.CreateCall(fty, native, {cpu_});
  call->setTailCallKind(ll::CallInst::TCK_MustTail);
  b_.CreateRet(call);
  b_.SetInsertPoint(missed);
  store_field(ll::ConstantPointerNull::get(b_.getPtrTy()), offsetof(CpuCommon, last_tb));
  b_.CreateRet(b_.getInt64(exec::kRetNext));
}

bool BlockLowering::lower_terminal(const ir::Block& blk) {
  const ir::Terminal& t = blk.term;
  flush_flags();  // on every path out: another member, or the function's exits
  auto value_of = [&](ir::Value v) -> ll::Value* {
    if (!v.valid() || v.id >= values_.size()) return nullptr;
    return values_[v.id];
  };
  // A direct exit to another member of the region is a branch; anything else leaves the
  // function, so the promoted registers go back to memory first.
  auto direct = [&](uint64_t target, unsigned slot) {
    if (ll::BasicBlock* bb = member_block(target)) {
      b_.CreateBr(bb);
      return;
    }
    sync_out();
    store_field(b_.getInt64(target), offsetof(CpuCommon, pc));
    // The dispatcher never links across a page: probe the jump cache rather than return to it.
    if ((target ^ tb_->key.pc) & softmmu::kPageMask)
      emit_jump_cache_exit(b_.getInt64(target));
    else
      emit_chain(slot);
  };
  switch (t.kind) {
    case ir::Terminal::Kind::Jump:
      direct(t.target, 0);
      return true;
    case ir::Terminal::Kind::Branch: {
      ll::Value* cond = value_of(t.cond);
      if (!cond || !cond->getType()->isIntegerTy(1)) return fail("Branch: condition is not I1");
      auto* taken = ll::BasicBlock::Create(ctx_, "taken", fn_);
      auto* not_taken = ll::BasicBlock::Create(ctx_, "not_taken", fn_);
      b_.CreateCondBr(cond, taken, not_taken);
      b_.SetInsertPoint(taken);
      direct(t.target, 0);
      b_.SetInsertPoint(not_taken);
      direct(t.target2, 1);
      return true;
    }
    case ir::Terminal::Kind::Indirect: {
      ll::Value* pc = value_of(t.value);
      if (!pc || !pc->getType()->isIntegerTy()) return fail("Indirect: bad target value");
      sync_out();
      pc = b_.CreateZExtOrTrunc(pc, b_.getInt64Ty());
      store_field(pc, offsetof(CpuCommon, pc));
      emit_jump_cache_exit(pc);
      return true;
    }
    case ir::Terminal::Kind::Exit:
      sync_out();
      if (!t.pc_in_state) store_field(b_.getInt64(t.target), offsetof(CpuCommon, pc));
      b_.CreateRet(b_.getInt64(exec::make_exit_result(t.reason, t.arg)));
      return true;
    default:
      return fail("block has no terminal");
  }
}

}  // namespace orrery::tcg::llvm
