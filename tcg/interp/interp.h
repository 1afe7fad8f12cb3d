// The interpreter tier: reference semantics of the IR, and the cold tier that runs every block
// until it is hot. A block is first lowered to a compact Program (fixed-size steps over a frame
// of 64-bit slots) so running it is a tight switch loop.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "tcg/exec/tb.h"
#include "tcg/ir/ir.h"

namespace orrery::tcg::interp {

struct Step {
  uint16_t handler;  // see interp.cpp
  uint8_t op;        // ir::Opcode, for the generic handler
  uint8_t type;      // ir::Type of the operation
  uint8_t nargs;
  uint32_t dst;
  uint32_t a, b, c;
  uint64_t imm;
  uint64_t imm2;
  uint64_t pc;       // guest PC of the instruction this step belongs to
};

struct Program {
  struct Const {
    uint32_t slot;
    uint64_t value;
  };
  std::vector<Const> consts;  // written into their slots when the block starts
  std::vector<Step> steps;    // ends with a step that runs the terminal
  uint32_t num_slots = 0;
  ir::Terminal term;
  const exec::TranslationBlock* tb = nullptr;
};

std::unique_ptr<Program> build(const ir::Block& b, const exec::TranslationBlock* tb);

/// Runs p for cpu; returns a block result as defined in exec/tb.h.
uint64_t run(const Program& p, CpuCommon* cpu);

}  // namespace orrery::tcg::interp
