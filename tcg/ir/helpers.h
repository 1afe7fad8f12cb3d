// Runtime helpers callable from IR (Opcode::Call / CallPure). A helper is a plain function that
// receives the vCPU's common state; frontends define them as constexpr Helper objects, and the IR
// refers to them by address, so no registry is needed.
#pragma once

#include <cstdint>

namespace orrery::tcg {
struct CpuCommon;
}

namespace orrery::tcg::ir {

using HelperFn = uint64_t (*)(CpuCommon* cpu, uint64_t a, uint64_t b, uint64_t c);

struct Helper {
  const char* name;
  HelperFn fn;
  bool pure = false;  // no guest-state access, never faults: may be folded away or reordered
};

}  // namespace orrery::tcg::ir
