// Random-instruction differential fuzzing against Unicorn: sequences of random encodings drawn
// from the data-processing and SIMD rows of the decode table (every field random, encodings
// Orrery rejects as unallocated skipped) run from random state on both; all registers and flags
// must agree. A mismatch is narrowed to the first instruction whose prefix diverges.
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <set>
#include <string_view>

#include "cpu/arm64/decoder.h"
#include "tests/unit/arm64/harness.h"

namespace orrery::cpu::arm64::test {
namespace {

/// Rows whose instructions neither branch nor touch memory nor system state.
bool fuzzable(const DecodeRow& r) {
  static const std::set<std::string_view> kExcluded = {
      "ADR", "ADRP",  // PC-relative: fine, but uninteresting at random
  };
  const size_t first = size_t(InsnId::ADR), last_imm = size_t(InsnId::EXTR);
  const size_t first_reg = size_t(InsnId::AND_shift), last_reg = size_t(InsnId::UMULH);
  const size_t first_simd = size_t(InsnId::FMOV_gen), last_simd = size_t(InsnId::USHLL);
  const size_t i = size_t(r.id);
  bool in_range = (i >= first && i <= last_imm) || (i >= first_reg && i <= last_reg) ||
                  (i >= first_simd && i <= last_simd);
  return in_range && !kExcluded.count(r.name);
}

/// True if Orrery translates insn (rather than rejecting it as unallocated/unimplemented).
bool accepted(Arm64Frontend& fe, uint32_t insn) {
  Arm64State st;
  st.common.tb_flags = 1 | tb_flags::kSpSel | tb_flags::kFpEnabled;
  uint32_t words[2] = {insn, 0xd503201f};
  tcg::exec::CodeReader code(0x1000, reinterpret_cast<const uint8_t*>(words), sizeof words);
  tcg::ir::Block b;
  b.guest_pc = 0x1000;
  fe.translate(st.common, code, tcg::exec::TranslateOptions{}, b);
  // Unimplemented (Undefined exit) and UNDEFINED (an exception raised) encodings are skipped.
  return !(b.term.kind == tcg::ir::Terminal::Kind::Exit &&
           (b.term.reason == tcg::ir::ExitReason::Undefined ||
            b.term.reason == tcg::ir::ExitReason::Exception));
}

Inputs random_inputs(Rng& r) {
  Inputs in;
  for (uint64_t& x : in.x) {
    switch (r.next() % 4) {
      case 0:
        x = r.next() % 65;
        break;
      case 1:
        x = ~(r.next() % 65);
        break;
      default:
        x = r.next();
        break;
    }
  }
  in.nzcv = unsigned(r.next() & 15);
  for (VReg& v : in.v) v.d[0] = r.next(), v.d[1] = r.next();
  return in;
}

using FuzzTest = Arm64Test;

TEST_P(FuzzTest, RandomDataProcessingMatchesUnicorn) {
  UnicornRef uc;
  ASSERT_TRUE(uc.ok());
  Arm64Frontend& fe = m->cpu->frontend();
  std::vector<const DecodeRow*> rows;
  for (const DecodeRow& r : kDecodeTable)
    if (fuzzable(r)) rows.push_back(&r);
  ASSERT_GT(rows.size(), 80u);

  Rng rng{0x853c49e6748fea9bull};
  const unsigned kPrograms = GetParam() == Tier::Llvm ? 60 : 400;
  constexpr unsigned kLength = 48, kRunsPerProgram = 4;
  unsigned checked = 0;
  for (unsigned p = 0; p < kPrograms; ++p) {
    std::vector<uint32_t> code;
    while (code.size() < kLength) {
      const DecodeRow& r = *rows[rng.next() % rows.size()];
      uint32_t insn = (uint32_t(rng.next()) & ~r.mask) | r.value;
      std::optional<InsnId> id = decode(insn);
      if (!id || *id != r.id || !accepted(fe, insn)) continue;
      code.push_back(insn);
    }
    m->load(code);
    uc.load(code);
    for (unsigned k = 0; k < kRunsPerProgram; ++k) {
      Inputs in = random_inputs(rng);
      ArchState got, want;
      std::string err;
      bool uc_ok = uc.run(in, want, err);
      bool orrery_ok = uc_ok && run_orrery(*m, in, got, err);
      std::string diff = uc_ok && orrery_ok ? first_difference(got, want) : err;
      if (diff.empty()) {
        ++checked;
        continue;
      }
      // Narrow down: the shortest prefix that already disagrees.
      size_t bad = code.size();
      for (size_t len = 1; len <= code.size(); ++len) {
        std::vector<uint32_t> prefix(code.begin(), code.begin() + len);
        TestMachine pm(GetParam());
        UnicornRef pu;
        pm.load(prefix);
        pu.load(prefix);
        ArchState a, b;
        std::string e2;
        bool ok = pu.run(in, b, e2) && run_orrery(pm, in, a, e2);
        if (!ok || !first_difference(a, b).empty()) {
          bad = len - 1;
          diff = ok ? first_difference(a, b) : e2;
          break;
        }
      }
      uint32_t insn = code[std::min(bad, code.size() - 1)];
      const uint8_t* bytes = reinterpret_cast<const uint8_t*>(&insn);
      std::optional<InsnId> id = decode(insn);
      ADD_FAILURE() << "program " << p << ", instruction " << bad << ": 0x" << std::hex << insn
                    << " (" << fe.disassemble(0, bytes, 4) << ", row "
                    << (id ? decode_row(*id).name : "?") << "): " << diff;
      break;
    }
  }
  EXPECT_GT(checked, kPrograms * kRunsPerProgram / 2);
}

ORRERY_ARM64_TIERS(FuzzTest);

}  // namespace
}  // namespace orrery::cpu::arm64::test
