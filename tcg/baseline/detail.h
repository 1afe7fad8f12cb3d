// Shared between the baseline tier's code generator and its persistence (persist.cpp).
#pragma once

#include <cstdint>

namespace orrery::tcg::baseline::detail {

/// Whether the host runs AVX2 (and the OS saves YMM state).
bool host_has_avx2();
/// Whether the host has BMI2 (RORX for the TLB index).
bool host_has_bmi2();
/// The entry the code's generic (rare) operations call.
uint64_t generic_eval_address();

}  // namespace orrery::tcg::baseline::detail
