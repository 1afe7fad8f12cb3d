// A translation block and the protocol its compiled forms (interpreter program, native code)
// follow when they finish. Both tiers return the same BlockResult codes, so the dispatcher
// treats them alike.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "tcg/exec/cpu_common.h"
#include "tcg/ir/ir.h"

namespace orrery::tcg::interp {
struct Program;
}

namespace orrery::tcg::exec {

// NativeFn (cpu_common.h): native code of a block; runs from cpu->pc == the block's PC and
// returns a block result as below.

/// What a block returns: low 8 bits a code, bits 32..63 an argument (Exit terminals).
///   code < kRetNext      the block ended in Terminal::Exit with that ExitReason; the argument is
///                        Terminal::arg; cpu->pc is set
///   kRetNext             a Jump/Branch/Indirect ended the block; cpu->pc is the next PC. For a
///                        direct exit that was not chained, cpu->last_tb/last_exit_slot name it
///                        (last_tb is null after an indirect jump)
///   kRetPending          cpu->pending_exit is set; guest state (PC included) is already exact
///   kRetExitRequest      cpu->exit_request was seen at block entry; cpu->pc is this block's PC
constexpr uint64_t kRetNext = 0x20;
constexpr uint64_t kRetPending = 0x21;
constexpr uint64_t kRetExitRequest = 0x22;
constexpr uint64_t make_exit_result(ir::ExitReason r, uint64_t arg) {
  return uint64_t(r) | (arg << 32);
}

struct TbKey {
  uint64_t pc = 0;
  uint64_t phys_pc = 0;  // physical address of the first instruction (code-page tracking)
  uint64_t flags = 0;    // guest mode bits the translation depends on (CpuCommon::tb_flags)
  uint64_t cs_base = 0;  // code-segment base (CpuCommon::cs_base; x86 outside 64-bit mode)
  bool operator==(const TbKey&) const = default;
};

/// The key of the block at pc, a direct exit's target in from's guest page (links and regions
/// keep to one page): the same mode, and pc's offset in from's physical page.
inline TbKey key_in_page(const TbKey& from, uint64_t pc) {
  return TbKey{pc, (from.phys_pc & softmmu::kPageMask) | (pc & ~softmmu::kPageMask), from.flags,
               from.cs_base};
}

struct TranslationBlock;
/// Whether a direct exit of `from` may jump straight into `to` (VcpuExec::run and
/// Engine::link_installed): within one guest page, whose mapping a link cannot re-check, and
/// not into a block running on into the next page (only a lookup re-checks that), unless it
/// loops on itself: it was entered through a lookup, and its loop checks exit_request on every
/// pass, which any TLB flush (from another vCPU too) sets before it completes.
bool may_chain(const TranslationBlock& from, const TranslationBlock& to);

struct TranslationBlock {
  static constexpr uint64_t kNoPage = ~0ull;
  TbKey key;
  // The physical page the block runs on into when it spans two (CodeReader::extend), else
  // kNoPage. Not part of the key: a lookup checks that the next virtual page still maps here.
  uint64_t phys_page2 = kNoPage;
  // What a lookup reads (VcpuExec::find_or_translate, the jump cache's check) shares the key's
  // cache line: a boot's ~200k jump-cache misses each found the block on lines of their own.
  std::atomic<NativeFn> native{nullptr};
  std::atomic<bool> valid{true};
  // Installed from the persistent cache ahead of need (Engine::install_ahead): its entry's hit
  // flag, set by the first lookup that finds the block, so only code that ran is kept.
  std::atomic<std::atomic<bool>*> cache_hit{nullptr};
  // The optimised IR; immutable once published (the JIT thread reads it), except that a block
  // translated for the baseline tier or the interpreter keeps only its scalars (guest_pc,
  // guest_size, num_insns, term) and sets ir_dropped: few blocks are ever compiled, and keeping
  // every block's instructions was most of a boot's heap. Engine::tier_up has it translated
  // again (VcpuExec::rebuild_ir, under the engine's lock) before anything reads the
  // instructions: the cache key, the compile. ir_dropped is guarded by the engine's lock once
  // the block is published.
  ir::Block ir;
  bool ir_dropped = false;
  uint32_t ir_size = 0;  // ir.insts.size() of the optimised IR, kept when it is dropped
  size_t ir_insts() const { return ir_dropped ? ir_size : ir.insts.size(); }
  std::unique_ptr<interp::Program> prog;

  // Tier-up counting (tcg/exec/tier_policy.h). Baseline code decrements *count_cell at every
  // execution (a plain, racy decrement: a count lost to another vCPU only delays tier-up) and
  // calls Engine::tier_up once it reaches zero or below; the interpreter does the same
  // (count()). The cell is one of the code cache's, which baseline code addresses
  // RIP-relative (two instructions a block), or own_cell. Counting goes on past a check: the
  // compile queue takes the hottest block first (a count capped at the threshold kept a boot's
  // hottest loops, RSA arithmetic, from ever being compiled).
  // The most a cell counts down. Small, because the decrement is not atomic: a vCPU that read
  // the cell just before another armed it writes back the old count, and executions() then
  // counts the whole armed distance as run (at 2^31, one block of an SMP boot showed 4.3G
  // executions under -d tier). A parked block checks in again after this many executions.
  static constexpr uint32_t kParked = 1u << 20;
  std::atomic<uint32_t>* count_cell = &own_cell;
  std::atomic<uint32_t> own_cell{kParked};
  std::atomic<uint32_t> count_origin{kParked};  // executions() when the cell reaches zero
  std::atomic<uint32_t> armed_at{0};            // executions() at the last arm()
  /// Executions in the baseline tier or the interpreter so far. Exact under the engine's lock;
  /// a racy read (the compile thread's) may be off while arm() runs. Never fewer than at the
  /// last arm(): a stale write-back of a count larger than the one armed (tier_up parks the
  /// block, then arms its next check nearer) would otherwise go back, past zero to ~2^32 (a
  /// warm SMP boot's -d tier showed 9.3G guest instructions for ~0.6G).
  uint32_t executions() const {
    const uint32_t at = armed_at.load(std::memory_order_relaxed);
    const uint32_t n =
        count_origin.load(std::memory_order_relaxed) - count_cell->load(std::memory_order_relaxed);
    return int32_t(n - at) < 0 ? at : n;
  }
  /// The next check comes at `at` executions (at most kParked from now); 0: none (the cell
  /// counts down its most, and that check only parks it again). Under the engine's lock.
  /// `at` is compared unsigned: a target 2^31 or more ahead (thresh=4000000000, a policy's
  /// back-off) is far away, not past; a count that wrapped only brings one check early.
  void arm(uint32_t at) {
    const uint32_t n = executions();
    const uint32_t left = !at       ? kParked
                          : at <= n ? 1  // already past: the next execution
                                    : std::min(at - n, kParked);
    armed_at.store(n, std::memory_order_relaxed);
    count_origin.store(n + left, std::memory_order_relaxed);
    count_cell->store(left, std::memory_order_relaxed);
  }
  /// Counts n executions (the interpreter; tests); true when a check is due.
  bool count(uint32_t n = 1) {
    return int32_t(count_cell->fetch_sub(n, std::memory_order_relaxed) - n) <= 0;
  }
  /// Moves the count to `cell` (the code cache's, before code addressing it is published).
  void use_cell(std::atomic<uint32_t>* cell) {
    cell->store(count_cell->load(std::memory_order_relaxed), std::memory_order_relaxed);
    count_cell = cell;
  }
  // Executions of this block's LLVM code, alone or inside a region, counted only under -d tier
  // (JitOptions::count_executions).
  std::atomic<uint64_t> native_execs{0};
  std::atomic<bool> compile_queued{false};
  bool tier_never = false;  // the policy keeps it out of LLVM for good (under the engine's lock)
  // Queued at its first translation because the profile of an earlier run named it
  // (Engine::tier_ahead); set before it is queued. Such a block is never dropped cold.
  bool ahead = false;

  // Direct successors: slot 0 is Jump's target or Branch's taken target, slot 1 Branch's
  // not-taken target. Native code tail-calls link[i] when it is non-null; the dispatcher fills
  // it once both blocks are native, and invalidation clears it.
  std::atomic<NativeFn> link[2] = {nullptr, nullptr};
  // The block's baseline code (kept when LLVM code replaces it: a vCPU may still run it) jumps
  // to a baseline successor's fast entry through a patched `jmp rel32` at these sites (null:
  // no such code or exit), without leaving its frame; Engine::set_link keeps them in step with
  // link under the engine's lock.
  uint8_t* jump_site[2] = {nullptr, nullptr};
  TranslationBlock* link_tb[2] = {nullptr, nullptr};
  std::vector<std::pair<TranslationBlock*, unsigned>> incoming;  // guarded by the cache's lock

  // Region compilation: when this block gets hot, its native code covers `region` (this block
  // first, then hot blocks reachable from it through direct links), with jumps between members
  // compiled as branches so guest registers stay in host registers across a loop. Set before
  // the block is queued and immutable afterwards. A member's `region_heads` lists the blocks
  // whose code includes it (guarded by the cache's lock): invalidating a member invalidates
  // those heads too.
  std::vector<TranslationBlock*> region;
  std::vector<TranslationBlock*> region_heads;

  ~TranslationBlock();
};

inline bool may_chain(const TranslationBlock& from, const TranslationBlock& to) {
  return ((from.key.pc ^ to.key.pc) & softmmu::kPageMask) == 0 &&
         (to.phys_page2 == TranslationBlock::kNoPage || &to == &from);
}

}  // namespace orrery::tcg::exec
