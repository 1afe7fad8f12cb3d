// Coverage probe for real binaries (not a regression test): with ORRERY_ARM64_LISTING naming a
// file of "hexword mnemonic" lines (e.g. the SIMD/FP instructions of an objdump listing), every
// word is decoded and translated, and the mnemonics the translator rejects are printed with
// their counts. Skipped when the variable is unset.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "cpu/arm64/frontend.h"
#include "cpu/arm64/state.h"

namespace orrery::cpu::arm64::test {
namespace {

TEST(Arm64FpCoverage, ListingTranslates) {
  const char* path = std::getenv("ORRERY_ARM64_LISTING");
  if (!path) GTEST_SKIP() << "set ORRERY_ARM64_LISTING to a 'hexword mnemonic' file";
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  hw::Log log;
  Arm64Frontend fe(log);
  Arm64State state;
  state.common.tb_flags = 1 | tb_flags::kSpSel | tb_flags::kFpEnabled;
  std::map<std::string, unsigned> rejected, total;
  unsigned words = 0, bad = 0;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string hexword, mnem;
    if (!(ls >> hexword >> mnem)) continue;
    uint32_t words2[2] = {uint32_t(std::stoul(hexword, nullptr, 16)), 0xd503201f};
    tcg::exec::CodeReader code(0x1000, reinterpret_cast<const uint8_t*>(words2), sizeof words2);
    tcg::exec::TranslateOptions opt;
    tcg::ir::Block b;
    b.guest_pc = 0x1000;
    fe.translate(state.common, code, opt, b);
    const bool undefined = b.term.kind == tcg::ir::Terminal::Kind::Exit &&
                           b.term.reason == tcg::ir::ExitReason::Undefined &&
                           b.term.target == 0x1000;
    ++words;
    ++total[mnem];
    if (undefined) ++bad, ++rejected[mnem];
  }
  std::printf("%u SIMD/FP instructions, %u rejected (%zu of %zu mnemonics)\n", words, bad,
              rejected.size(), total.size());
  for (const auto& [m, n] : rejected)
    std::printf("  rejected %5u / %5u  %s\n", n, total[m], m.c_str());
}

}  // namespace
}  // namespace orrery::cpu::arm64::test
