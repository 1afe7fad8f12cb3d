// The AArch64 differential fuzzer: random instruction sequences run on Orrery (interpreter and
// LLVM tiers) and on Unicorn from the same random state; registers, SP, NZCV and the data area
// must agree, and so must the decision that an encoding is undefined.
#pragma once

#include <cstdint>
#include <string>

namespace orrery::tests::fuzz {

struct FuzzResult {
  uint64_t sequences = 0;
  uint64_t instructions = 0;
  uint64_t skipped = 0;     // Unicorn rejected the sequence (undefined or unsupported)
  uint64_t mismatches = 0;
  std::string first_failure;  // a reproducible report of the first mismatch
  std::string summary;        // one line for each of the first 20 mismatches
};

/// Runs `count` sequences of up to `length` instructions from `seed`. max: the ARMv8.2
/// templates (FP16, DotProd) with Orrery and Unicorn both as the "max" CPU model.
FuzzResult fuzz_arm64(uint64_t seed, uint64_t count, unsigned length, bool max = false);

}  // namespace orrery::tests::fuzz
