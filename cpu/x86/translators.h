// Declarations of every translator named by insn_table.inc (the table is the one list).
#pragma once

#include "cpu/x86/translate.h"

namespace orrery::cpu::x86 {

#define X86_INSN(mnemonic, form, fn) bool fn(TranslateContext& t);
#include "cpu/x86/insn_table.inc"
#undef X86_INSN

}  // namespace orrery::cpu::x86
