// Lowering of one translation block's IR to an LLVM function `i64 name(ptr cpu)` that follows
// the block-result protocol of tcg/exec/tb.h. Internal to tcg/llvm: includes LLVM headers.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Module.h>

#include "tcg/exec/tb.h"
#include "tcg/ir/helpers.h"
#include "tcg/ir/ir.h"
#include "tcg/opt/mem_runs.h"
#include "tcg/softmmu/softmmu.h"

namespace orrery::tcg::llvm {

namespace ll = ::llvm;

/// The softmmu entry points generated code calls on a TLB miss. Replaceable so unit tests can
/// observe misses without a full softmmu.
struct SlowPaths {
  uint64_t (*load)(CpuCommon* cpu, uint64_t vaddr, uint64_t memop, uint64_t insn_pc) = nullptr;
  void (*store)(CpuCommon* cpu, uint64_t vaddr, uint64_t value, uint64_t memop,
                uint64_t insn_pc) = nullptr;
  uint64_t (*atomic)(CpuCommon* cpu, uint64_t vaddr, uint64_t operand, uint64_t expected,
                     uint64_t desc, uint64_t insn_pc) = &softmmu::slow_atomic;
  void (*load_vec)(CpuCommon* cpu, uint64_t vaddr, uint64_t memop, uint64_t insn_pc,
                   uint64_t* data) = &softmmu::slow_load_vec;
  void (*store_vec)(CpuCommon* cpu, uint64_t vaddr, const uint64_t* data, uint64_t memop,
                    uint64_t insn_pc) = &softmmu::slow_store_vec;
};

// Generated code names everything outside itself by symbol, so that its object file can be
// linked into another process (the persistent translation cache): the slow paths and helpers
// are absolute symbols the JIT defines once, per-block data (link slots, the TB itself,
// native_execs) is reached at offsets from a per-member symbol `orrery_td<m>_<suffix>` that the
// JIT defines as the member's TranslationBlock address when it links the object.
inline constexpr const char* kSlowLoadSymbol = "orrery_slow_load";
inline constexpr const char* kSlowStoreSymbol = "orrery_slow_store";
inline constexpr const char* kSlowAtomicSymbol = "orrery_slow_atomic";
inline constexpr const char* kSlowLoadVecSymbol = "orrery_slow_load_vec";
inline constexpr const char* kSlowStoreVecSymbol = "orrery_slow_store_vec";
inline std::string helper_symbol(const ir::Helper& h) {
  return std::string("orrery_h_") + h.name;
}
inline std::string block_data_symbol(size_t member, const std::string& suffix) {
  return "orrery_td" + std::to_string(member) + "_" + suffix;
}

struct LinkNames {
  std::string suffix;  // unique per linked function: per-member data symbols end in it
  // Registers h's symbol for linking; false when it cannot have one (another helper has the
  // name): the call then embeds h's address and the code is not relocatable.
  std::function<bool(const ir::Helper&)> use_helper;
  // Embed host addresses instead (JitOptions::relocatable false: the code before the
  // persistent cache, kept to compare the speed of both).
  bool absolute = false;
  SlowPaths slow;
};

class BlockLowering {
 public:
  /// count_executions: every member adds one to its TranslationBlock::native_execs on entry
  /// (-d tier statistics; costs a memory increment per block).
  BlockLowering(ll::Module& m, LinkNames names, bool count_executions = false);

  /// Whether the function only names external things by symbol (no host address embedded).
  bool relocatable() const { return relocatable_; }

  /// Adds function `name` implementing tb to the module: tb alone, or tb's region (tb.region)
  /// with jumps between members as branches. Returns an empty string on success or the first
  /// problem (the function is then erased).
  std::string lower(const exec::TranslationBlock& tb, const std::string& name);

 private:
  // lower.cpp
  bool lower_member(size_t m);
  bool lower_inst(const ir::Inst& in, uint32_t index);
  // Guest registers read or written with one consistent width across the region live in
  // allocas (promoted to SSA by SROA); sync_out writes the written ones back to the CPU state
  // before anything that may observe it (slow paths, helpers, exits), sync_in reloads all of
  // them after a helper that may have changed them.
  // A flag the region writes but never reads is not promoted (its last value would stay live
  // around a loop for the syncs); each write replaces the member's pending value, which
  // sync_out stores on its (cold) path and flush_flags stores on the main path at the member's
  // end and before helpers: a flag rewritten within a member (SUBS then ADDS) costs no store.
  void plan_registers();
  void sync_out();
  void sync_in();
  void flush_flags();
  int member_index(uint64_t target) const;              // -1 if target is not in the region
  ll::BasicBlock* member_block(uint64_t target) const;  // null if target is not in the region
  // Which members check exit_request on entry: the head and every target of an edge from a
  // member at or after it in region order (so each cycle has one).
  void plan_exit_checks();
  // Loads inside the function's loops remember the page their last TLB hit matched and its
  // addend (loop-carried through allocas), so the next access to that page skips the probe.
  // Only this vCPU changes its TLB's read entries (remote flushes are queued and acknowledged
  // by this thread; protect_code_page touches write entries only), and only through slow
  // paths and helpers, where forget_load_pages() drops them; every exit leaves the function.
  void plan_load_pages();
  void forget_load_pages();
  void tag(ll::Instruction* i, ll::MDNode* type);
  ll::Value* arg(const ir::Inst& in, unsigned k) { return values_[in.args[k].id]; }
  bool check_args(const ir::Inst& in, uint32_t index);
  bool fail(std::string msg);
  ll::IntegerType* int_type(ir::Type t);
  ll::Type* value_type(ir::Type t);     // int_type, or <2|4 x i64> for I128/I256 (vectors)
  ll::Value* field_ptr(size_t offset);  // (i8*)cpu + offset
  ll::Value* load_field(ll::Type* t, size_t offset);
  // A CpuCommon pointer that never changes while generated code runs (the TLB table, the jump
  // cache): marked invariant so LLVM loads it once, even across slow-path calls.
  ll::Value* load_invariant_ptr(size_t offset);
  // An aligned load of a word other threads write (exit_request, link slots, jump cache
  // entries): volatile, not atomic, so FastISel selects it (an atomic load sends the rest of its
  // basic block, often the whole block body, to SelectionDAG). On the x86-64 host this is one
  // mov, which is single-copy atomic and, under TSO, an acquire load; nothing after it in the
  // generated code relies on more than that (the linked code is reached by a call through it).
  ll::LoadInst* load_shared(ll::Type* t, ll::Value* ptr, unsigned align);
  void store_field(ll::Value* v, size_t offset);
  ll::Value* const_ptr(const void* p);
  ll::Value* extern_ptr(const std::string& symbol);  // the address of an absolute symbol
  ll::Value* helper_ptr(const ir::Helper& h);
  ll::Value* slow_ptr(const char* symbol, const void* fn);
  // The current member's TranslationBlock field at `field` (an address inside *tb_).
  ll::Value* tb_ptr(const void* field);
  ll::BasicBlock* pending_block();
  void branch_if_pending();  // after a slow path or helper: leave with kRetPending if set
  void cond_br_cold(ll::Value* cond, ll::BasicBlock* cold, ll::BasicBlock* hot);

  // lower_alu.cpp: everything pure except Call
  ll::Value* lower_alu(const ir::Inst& in);
  // AddCarry/AddOvf when cin is a constant (and, for cin = 1, b a constant or a Not): the
  // host's flag from an add or subtraction intrinsic; null for the generic form.
  ll::Value* carry_flag_const_cin(bool overflow, ll::Value* a, ll::Value* b, ll::Value* cin);
  ll::Value* lower_extract(const ir::Inst& in, bool sign);
  ll::Value* lower_deposit(const ir::Inst& in);

  // lower_vec.cpp: the 128-bit vector ops
  ll::Value* lower_vec(const ir::Inst& in);
  ll::Value* lower_vec_fp(const ir::Inst& in);

  // lower_mem.cpp: guest memory, calls, fences, terminals
  ll::Value* tlb_entry(ll::Value* vaddr, unsigned mmu_idx);
  ll::Value* tlb_compare_and_entry(ll::Value* vaddr, ir::MemOp m, bool write, ll::Value*& entry);
  // Runs of accesses with one TLB probe (tcg/opt/mem_runs.h): probe_run before the leader;
  // run_member branches to `usual` when the probe missed, else continues in the fused access's
  // block and returns the member's host address.
  void probe_run(int32_t r);
  ll::Value* run_member(int32_t r, ll::BasicBlock* usual);
  // In a slow path: the runs in progress stop using their probe (it may be stale).
  void end_runs_in_progress();
  ll::Value* host_pointer(ll::Value* entry, ll::Value* vaddr, ll::Value** addend = nullptr);
  // One guest access, the scaffolding every kind shares: a run member's fused access (when
  // the instruction is one), then the inline TLB compare at m (tlb_compare_and_entry) with
  // `fast` on a hit and, in a cold block, sync_out, `slow`, the end of the runs in progress
  // and a branch out when the slow path raised. `fast` gets the host address; both return the
  // access's value (null for stores), joined by a PHI. Blocks are named name_hit, name_miss...
  // A load with a remembered page (plan_load_pages) first compares against that page.
  ll::Value* guest_access(const char* name, ll::Value* vaddr, ir::MemOp m, bool write,
                          ll::function_ref<ll::Value*(ll::Value* host)> fast,
                          ll::function_ref<ll::Value*()> slow);
  // A cold, non-unwinding call of a softmmu slow path.
  ll::CallInst* call_slow(const char* symbol, const void* fn, ll::FunctionType* ty,
                          ll::ArrayRef<ll::Value*> args);
  ll::Value* lower_load(const ir::Inst& in);
  void lower_store(const ir::Inst& in);
  ll::Value* lower_vec_load(const ir::Inst& in);
  void lower_vec_store(const ir::Inst& in);
  ll::AllocaInst* entry_alloca(ll::Type* t);
  ll::Value* lower_atomic(const ir::Inst& in);
  ll::Value* lower_call(const ir::Inst& in, bool pure);
  void lower_fence(const ir::Inst& in);
  void lower_trap(const ir::Inst& in);
  bool lower_terminal(const ir::Block& b);
  void emit_chain(unsigned slot);
  void emit_jump_cache_exit(ll::Value* pc);

  struct PromotedReg {
    uint64_t offset;
    ir::Type type;
    bool written;
    bool read;
    bool live;  // false once another access of different width touches its bytes
    ll::AllocaInst* slot;
  };
  std::vector<PromotedReg> regs_;
  std::vector<int32_t> reg_index_;  // by byte offset into the state: index into regs_, or -1
  static constexpr int32_t kLazyFlag = -3;  // reg_index_ of a write-only flag (sync_out)
  std::vector<std::pair<uint64_t, ll::Value*>> pending_flags_;  // offset, i8 value
  std::vector<const exec::TranslationBlock*> members_;
  std::vector<ll::BasicBlock*> member_bbs_;
  std::vector<bool> checks_exit_;     // by member: plan_exit_checks
  ll::MDNode* tbaa_cpu_ = nullptr;    // CPU state (guest registers and CpuCommon)
  ll::MDNode* tbaa_guest_ = nullptr;  // guest memory through the TLB's host addend
  ll::MDNode* tbaa_tlb_ = nullptr;    // the TLB table
  ll::MDNode* tbaa_count_ = nullptr;  // TranslationBlock::native_execs
  bool count_executions_ = false;

  // plan_load_pages
  struct LoadPage {
    ll::AllocaInst* page;    // i64: the matched compare value, or kTlbInvalid (matches nothing)
    ll::AllocaInst* addend;  // i64: that entry's host addend
  };
  std::vector<LoadPage> load_pages_;
  std::vector<std::vector<int32_t>> load_page_of_;  // by member, by instruction: index or -1

  ll::Module& mod_;
  ll::LLVMContext& ctx_;
  LinkNames names_;
  bool relocatable_ = true;
  size_t member_ = 0;
  ll::IRBuilder<> b_;
  ll::Function* fn_ = nullptr;
  ll::Value* cpu_ = nullptr;
  ll::BasicBlock* pending_ = nullptr;
  const exec::TranslationBlock* tb_ = nullptr;
  std::vector<ll::Value*> values_;
  uint32_t index_ = 0;                   // the instruction being lowered
  opt::MemRuns runs_;                    // the current member's
  std::vector<ll::AllocaInst*> run_ok_;  // by run: i1, the probe hit and still holds
  std::vector<ll::Value*> run_host_;     // by run: i64, the host address of the run's base
  uint64_t insn_pc_ = 0;
  std::string error_;
};

}  // namespace orrery::tcg::llvm
