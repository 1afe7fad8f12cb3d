// Shared between the baseline tier's code generator and its persistence (persist.cpp).
#pragma once

#include <cstdint>

#include "tcg/baseline/baseline.h"

namespace orrery::tcg::baseline::detail {

/// Whether the host runs AVX2 (and the OS saves YMM state).
bool host_has_avx2();
/// Whether the host has BMI2 (RORX for the TLB index).
bool host_has_bmi2();
/// The entry the code's generic (rare) operations call.
uint64_t generic_eval_address();
/// What a relocation site holds in this run: the one map from RelocKind to an address, used by
/// the code generator when it emits the site and by apply_relocs when it fills it in again.
uint64_t reloc_value(const Reloc& r, const exec::TranslationBlock& tb, const Options& opt);

}  // namespace orrery::tcg::baseline::detail
