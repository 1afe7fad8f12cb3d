// Translates random encodings of every decode row in every mode and checks that the IR is
// well-formed before and after optimisation, so translator paths that no program exercises
// still cannot hand the engine an ill-typed block.
#include <gtest/gtest.h>

#include <vector>

#include "cpu/arm64/decoder.h"
#include "cpu/arm64/frontend.h"
#include "cpu/arm64/state.h"
#include "tcg/opt/passes.h"

namespace orrery::cpu::arm64::test {
namespace {

TEST(Arm64TranslateSweep, EveryRowYieldsValidIr) {
  hw::Log log;
  Arm64Frontend fe(log);
  Arm64State state;
  uint64_t rng = 0x2545f4914f6cdd1dull;
  auto next = [&] {
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return uint32_t((rng * 0x2545f4914f6cdd1dull) >> 32);
  };
  const uint64_t fp = tb_flags::kFpEnabled;
  const uint64_t modes[] = {1 | tb_flags::kSpSel | fp, 1 | fp, fp};  // EL1h, EL1t, EL0
  unsigned translated = 0, rejected = 0;
  for (const DecodeRow& row : kDecodeTable) {
    for (unsigned k = 0; k < 300; ++k) {
      uint32_t insn = (next() & ~row.mask) | row.value;
      std::optional<InsnId> id = decode(insn);
      if (!id || *id != row.id) continue;  // an earlier row took it
      // The instruction, followed by a NOP so a non-ending instruction has a successor.
      uint32_t words[2] = {insn, 0xd503201f};
      for (uint64_t flags : modes) {
        state.common.tb_flags = flags;
        tcg::exec::CodeReader code(0x1000, reinterpret_cast<const uint8_t*>(words), sizeof words);
        tcg::exec::TranslateOptions opt;
        tcg::ir::Block b;
        b.guest_pc = 0x1000;
        fe.translate(state.common, code, opt, b);
        std::string err = tcg::ir::verify(b);
        ASSERT_TRUE(err.empty()) << row.name << " 0x" << std::hex << insn << ": " << err << "\n"
                                 << tcg::ir::print(b);
        tcg::opt::optimize(b);
        err = tcg::ir::verify(b);
        ASSERT_TRUE(err.empty()) << "after optimisation: " << row.name << " 0x" << std::hex << insn
                                 << ": " << err << "\n"
                                 << tcg::ir::print(b);
        // Rejected: unimplemented (an Undefined exit at the instruction) or an exception raised
        // by the first instruction (UNDEFINED encodings, traps).
        bool undefined =
            b.term.kind == tcg::ir::Terminal::Kind::Exit &&
            ((b.term.reason == tcg::ir::ExitReason::Undefined && b.term.target == 0x1000) ||
             (b.term.reason == tcg::ir::ExitReason::Exception && b.num_insns == 1));
        ++(undefined ? rejected : translated);
      }
    }
  }
  EXPECT_GT(translated, 100000u);
  EXPECT_GT(rejected, 0u);  // the sweep reaches the unallocated field values too
}

}  // namespace
}  // namespace orrery::cpu::arm64::test
