// Shared between the baseline tier's code generator and its persistence (persist.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "tcg/baseline/baseline.h"

namespace orrery::tcg::baseline::detail {

/// Whether the host runs AVX2 (and the OS saves YMM state).
bool host_has_avx2();
/// Whether the host has BMI2 (RORX for the TLB index).
bool host_has_bmi2();
/// The entry the code's generic (rare) operations call.
uint64_t generic_eval_address();
/// The code every CodeCache starts with, which blocks reach with rel32 jumps (RelocKind::
/// ExitStub), always with only the shared frame left. Stubs 0 and 1: a direct exit of that
/// slot, unlinked (rax = &tb->link[slot]): store the slot's target PC, name the exit (last_tb,
/// last_exit_slot) for the dispatcher to link and return. Stub 2 (gen::kReturnStub): the
/// epilogue, returning rax. stub_at[i] receives each stub's offset in the returned code.
std::vector<uint8_t> exit_stubs(size_t stub_at[3]);
/// What a relocation site holds in this run: the one map from RelocKind to an address, used by
/// the code generator when it emits the site and by apply_relocs when it fills it in again.
uint64_t reloc_value(const Reloc& r, const exec::TranslationBlock& tb, const Options& opt);

}  // namespace orrery::tcg::baseline::detail
