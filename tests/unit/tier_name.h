// The gtest parameter name of an execution tier, for the suites that run once per tier.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "tcg/exec/engine.h"

namespace orrery::tcg::test {

inline std::string tier_name(const ::testing::TestParamInfo<exec::Tier>& info) {
  switch (info.param) {
    case exec::Tier::Interp:
      return "Interp";
    case exec::Tier::Baseline:
      return "Baseline";
    case exec::Tier::Llvm:
      return "Llvm";
    case exec::Tier::Auto:
      break;
  }
  return "Auto";
}

}  // namespace orrery::tcg::test
