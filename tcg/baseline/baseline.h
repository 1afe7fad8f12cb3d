// The baseline tier: translates a block's IR straight to x86-64 machine code in one linear pass,
// in microseconds, so that every block runs native from its first execution. Values live in
// host registers or stack slots, guest memory accesses inline the softmmu TLB lookup, and
// blocks are entered like the LLVM tier's code (same NativeFn protocol, tcg/exec/tb.h); chained
// baseline blocks jump to each other's fast entries and share one frame. Hot blocks are then
// recompiled by the LLVM tier, which the baseline code requests by counting its executions.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tcg/baseline/code_cache.h"
#include "tcg/exec/tb.h"
#include "tcg/ir/helpers.h"
#include "tcg/softmmu/softmmu.h"

namespace orrery::tcg::exec {
class Engine;
}

namespace orrery::tcg::baseline {

struct Options {
  // Nonzero: the code counts its executions down in a counter cell of the code cache
  // (TranslationBlock::count_cell) and calls tier_up(engine, tb, cpu) when it reaches zero (the
  // engine re-arms it); 0 disables counting.
  uint32_t hot_threshold = 0;
  void (*tier_up)(exec::Engine* engine, exec::TranslationBlock* tb, CpuCommon* cpu) = nullptr;
  exec::Engine* engine = nullptr;
  // 256-bit vector ops as VEX-encoded AVX2 instructions when the host has AVX2; false (or a
  // host without it) runs each as two SSE2 halves.
  bool avx2 = true;
  // The TLB index with BMI2's RORX when the host has it; false (or a host without it) uses
  // mov and shr.
  bool bmi2 = true;
  // Values in host registers (regalloc.h); false keeps every value in a stack slot (the tier
  // before the allocator, kept for comparisons).
  bool registers = true;
  // TLB-miss entry points; tests substitute their own to observe misses.
  uint64_t (*slow_load)(CpuCommon*, uint64_t, uint64_t, uint64_t) = &softmmu::slow_load;
  void (*slow_store)(CpuCommon*, uint64_t, uint64_t, uint64_t, uint64_t) = &softmmu::slow_store;
  uint64_t (*slow_atomic)(CpuCommon*, uint64_t, uint64_t, uint64_t, uint64_t,
                          uint64_t) = &softmmu::slow_atomic;
  void (*slow_load_vec)(CpuCommon*, uint64_t, uint64_t, uint64_t,
                        uint64_t*) = &softmmu::slow_load_vec;
  void (*slow_store_vec)(CpuCommon*, uint64_t, const uint64_t*, uint64_t,
                         uint64_t) = &softmmu::slow_store_vec;
};

/// What a 64-bit immediate in baseline code stands for when it is not a constant of the IR:
/// everything that differs between runs (tcg/exec/translation_cache.h stores code with these
/// sites and fills them in again; see apply_relocs). Append only: stored code names the kinds.
enum class RelocKind : uint8_t {
  Tb,        // the TranslationBlock's address plus addend (link[i], the TB)
  Engine,    // Options::engine
  TierUp,    // Options::tier_up
  SlowLoad,  // Options::slow_load, ...
  SlowStore,
  SlowAtomic,
  SlowLoadVec,
  SlowStoreVec,
  GenericEval,    // the code generator's own ir::eval_pure trampoline
  Helper,         // helper->fn
  JumpSite,       // the rel32 of direct exit `addend`'s patchable jump (4 bytes, 0: not linked)
  Counter,        // the rel32 of `dec dword [rip+rel32]`: the block's count_cell (4 bytes)
  GuestPc,        // the block's guest PC plus addend (a PcRel, an exit or fault PC)
  JumpCacheDisp,  // the jump-cache byte offset of the guest PC block PC + addend
  ExitStub,       // the rel32 of a `jmp` to the code cache's exit stub `addend` (0-2)
  Count
};
/// Bytes a relocation site covers.
constexpr unsigned reloc_width(RelocKind k) {
  return k == RelocKind::JumpSite || k == RelocKind::Counter || k == RelocKind::ExitStub ? 4 : 8;
}
struct Reloc {
  uint32_t at = 0;  // offset of the 8-byte immediate in the block's code
  RelocKind kind = RelocKind::Tb;
  int64_t addend = 0;  // Tb: byte offset into the TranslationBlock; GuestPc: from the PC
  const ir::Helper* helper = nullptr;  // Helper
};

/// Scratch buffers for compile(), reused between blocks by one thread (saves allocations).
struct Workspace {
  Workspace();
  ~Workspace();
  struct Buffers;
  std::unique_ptr<Buffers> b;
  // The relocations of the code the last compile() made with this workspace.
  std::vector<Reloc> relocs;
};

/// Names everything in opt (and the host) that shapes the code compile() makes, besides the
/// block's IR and the build (persistent cache keys).
std::string code_config(const Options& opt);

/// Fills in the relocation sites of code made for another TranslationBlock (or another run)
/// for tb and opt, after place() (which fills the Counter site). Every Helper reloc must name a
/// helper.
void apply_relocs(uint8_t* code, std::span<const Reloc> relocs, const exec::TranslationBlock& tb,
                  const Options& opt);

/// Copies tb's code into cache with the tier-up counter cell its Counter relocation names, if
/// any (tb's count moves there and the site is filled in). Null when the cache is full.
uint8_t* place(exec::TranslationBlock& tb, CodeCache& cache, std::span<const uint8_t> code,
               std::span<const Reloc> relocs);

/// Where baseline code continues after its C entry (every block's first kFastEntryOffset bytes
/// save the callee-saved registers, reserve the shared frame and load rbx and r12). A chained
/// exit from baseline code jumps here, with that frame, rbx = cpu and r12 = its TLB table.
inline constexpr size_t kFastEntryOffset = 24;
inline const uint8_t* fast_entry(exec::NativeFn fn) {
  return reinterpret_cast<const uint8_t*>(fn) + kFastEntryOffset;
}

/// Where the patchable jumps of the direct exits of baseline code at `code` are (from its
/// JumpSite relocations; null for an exit without one).
void find_jump_sites(uint8_t* code, std::span<const Reloc> relocs, uint8_t* sites[2]);
/// Points the patchable jump whose rel32 is at `site` at `target` (a fast entry in the same
/// code cache), or back at its own slow path (null), with one atomic store: a thread running
/// the jump takes the old or the new way, both valid.
void patch_jump(uint8_t* site, const uint8_t* target);

/// Compiles tb's IR into cache. tb must outlive the code (its address and &tb->link are
/// embedded); code that counts moves tb's count to a counter cell of the cache
/// (TranslationBlock::use_cell). Returns null, with *error set when given, if the block uses
/// something this tier does not generate (it then stays in the interpreter) or the cache is
/// full.
exec::NativeFn compile(exec::TranslationBlock& tb, CodeCache& cache, const Options& opt,
                       std::string* error = nullptr, size_t* code_size = nullptr,
                       Workspace* ws = nullptr);

/// Host code as text, one instruction per line (Capstone; for -d out_asm).
std::string disassemble(const uint8_t* code, size_t size);

}  // namespace orrery::tcg::baseline
