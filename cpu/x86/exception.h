// Raising x86 exceptions from generated code and helpers. x86-sys implements delivery (IDT,
// gates, privilege changes, double faults); translators only call these through the helpers in
// translate.h (TranslateContext::raise, raise_if) so one path exists.
#pragma once

#include <cstdint>

#include "cpu/x86/state.h"

namespace orrery::cpu::x86 {

/// Exception vectors.
namespace vec {
constexpr unsigned kDe = 0, kDb = 1, kNmi = 2, kBp = 3, kOf = 4, kBr = 5, kUd = 6, kNm = 7;
constexpr unsigned kDf = 8, kTs = 10, kNp = 11, kSs = 12, kGp = 13, kPf = 14, kMf = 16;
constexpr unsigned kAc = 17, kMc = 18, kXm = 19;
}  // namespace vec

/// Delivers exception `vector` (error_code -1: none) for the instruction whose first byte is at
/// the linear address insn_pc (CS base + EIP): a fault, so the saved return address is that
/// instruction. Sets common.pc to where execution continues and common.pending_exit to
/// PendingExit::Exception.
void raise_exception(X86State& s, unsigned vector, int32_t error_code /* -1: none */,
                     uint64_t insn_pc);

/// INT n (kind 0), INT3 (kind 1), INTO (kind 2), INT1/ICEBP (kind 3): a trap whose saved return
/// address is next_pc (linear); INT n, INT3 and INTO check the gate's DPL against CPL. Sets
/// common.pc and common.pending_exit like raise_exception.
void raise_software_interrupt(X86State& s, unsigned vector, unsigned kind, uint64_t insn_pc,
                              uint64_t next_pc);

}  // namespace orrery::cpu::x86
