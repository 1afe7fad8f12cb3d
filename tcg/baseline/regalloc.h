// Register allocation for the baseline tier: one linear pass over a block's IR (straight-line
// code) gives each value a fixed home for its whole life, a host register or a stack slot.
// Values never move, so slow paths emitted after the main line find them where the main line
// left them. A value gets a register while one is free over its live range [definition, last
// use]; a range that spans a helper call made on the main line takes a callee-saved register
// (all of them are saved once by the C entry of a chain of blocks). Caller-saved pool registers are
// never live across a main-line call; slow paths save and restore them around their calls.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "tcg/baseline/x64.h"
#include "tcg/ir/ir.h"

namespace orrery::tcg::baseline {

/// Where one IR value lives.
struct ValueHome {
  int32_t slot = -1;   // frame slot (8 bytes; two for I128), or -1
  Reg reg = RSP;       // a pool register, or RSP for none
  bool konst = false;  // a constant: materialised where used
  uint32_t uses = 0;   // readers (2 when an alias shares the home: never retracted)
  uint32_t end = 0;    // index of the last instruction reading it (insts.size(): terminal)
  uint32_t root = 0;   // the value whose home this is (itself, or an alias's source)
  uint64_t k = 0;
  bool in_reg() const { return reg != RSP; }
};

/// The allocation pool. Caller-saved registers first (free on entry); the code generator's
/// scratch registers (rax, rcx, rdx, rsi, rdi) and rbx/r12 are not in it.
inline constexpr Reg kCallerPool[] = {R8, R9, R10, R11};
inline constexpr Reg kCalleePool[] = {R13, R14, R15, RBP};

inline bool is_caller_pool(Reg r) {
  return r == R8 || r == R9 || r == R10 || r == R11;
}

/// Whether the baseline code of `in` calls a helper on the main line (generic evaluation or a
/// Call); must match the code generator, which checks it.
bool calls_on_main_line(const ir::Inst& in, bool const_count);

struct Allocation {
  int32_t slots = 0;                   // frame slots in use
  std::vector<Reg> callee;             // callee-saved registers used
  std::vector<uint8_t> calls;          // per instruction: calls_on_main_line
  std::vector<uint32_t> calls_before;  // calls among instructions [0, i)
};

/// Whether `in`'s value is its source's canonical value (a ZExt, or a Trunc of a source with no
/// bits above the Trunc's width): it shares the source's home and has no code of its own.
bool shares_source_home(const ir::Block& b, const ir::Inst& in);

/// Fills homes (one per instruction) for b. `registers` false: every value in a slot (the
/// pre-allocator code, for comparison). `extra_reads`: (value, instruction) pairs the code
/// generator reads besides the IR's arguments (a run's TLB probe reads its base before the
/// run's first access), so those values live at least that long.
void allocate(const ir::Block& b, std::vector<ValueHome>& homes, Allocation& out,
              bool registers = true,
              std::span<const std::pair<uint32_t, uint32_t>> extra_reads = {});

}  // namespace orrery::tcg::baseline
