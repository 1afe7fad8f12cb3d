// Translator bugs that can be switched on, only to prove that lockstep verification catches
// one (-accel verify,inject=NAME; tests/guest/verify_inject.sh). kNone everywhere else.
#pragma once

#include <cstdint>

namespace orrery::cpu::x86 {

enum class InjectedBug : uint8_t {
  kNone,
  kAdcCarry,  // ADC ignores its carry in (result and flags), as ADD
};

}  // namespace orrery::cpu::x86
