#include "tests/fuzz/arm64_fuzz.h"

#include <capstone/capstone.h>

#include <unicorn/unicorn.h>
#include <cinttypes>
#include <cstdio>

#include "cpu/arm64/cpu_models.h"

#include "tests/fuzz/arm64_gen.h"
#include "tests/unit/arm64/harness.h"

namespace orrery::tests::fuzz {

namespace a64 = orrery::cpu::arm64;
using a64::test::ArchState;
using a64::test::Inputs;

namespace {

std::string disassemble(const std::vector<uint32_t>& code) {
  std::string out;
  csh h;
  if (cs_open(CS_ARCH_ARM64, CS_MODE_ARM, &h) != CS_ERR_OK) return out;
  for (size_t i = 0; i < code.size(); ++i) {
    cs_insn* insn = nullptr;
    size_t n = cs_disasm(h, reinterpret_cast<const uint8_t*>(&code[i]), 4,
                         a64::test::kCodeBase + 4 * i, 1, &insn);
    char word[16];
    std::snprintf(word, sizeof word, "  %08x  ", code[i]);
    out += word;
    out += n ? insn[0].mnemonic : "?";
    out += ' ';
    out += n ? insn[0].op_str : "";
    out += '\n';
    if (n) cs_free(insn, n);
  }
  cs_close(&h);
  return out;
}

Inputs random_inputs(Generator& g) {
  Inputs in;
  for (uint64_t& x : in.x) x = g.bits(2) == 0 ? g.bits(8) : g.u64();
  for (unsigned i = 16; i < kBaseReg; ++i) in.x[i] = g.bits(6);  // small index registers
  in.x[kBaseReg] = a64::test::kDataBase + a64::test::kDataSize / 2;
  in.nzcv = g.bits(4);
  in.data.resize(a64::test::kDataSize);
  for (uint8_t& b : in.data) b = uint8_t(g.bits(8));
  for (auto& v : in.v)
    for (uint64_t& h : v.d) h = g.bits(2) == 0 ? g.u64() >> g.bits(6) : g.u64();
  // FPCR: half the time the default, else a rounding mode with FZ, FZ16, DN or AHP.
  static constexpr uint64_t kFpcrBits[] = {0, 1u << 19, 1u << 24, 1u << 25, 1u << 26};
  if (g.bits(1)) in.fpcr = uint64_t(g.bits(2)) << 22 | kFpcrBits[g.bits(8) % 5];
  return in;
}

}  // namespace

static const char* tier_name(const a64::test::TestMachine* m, const a64::test::TestMachine& interp,
                      const a64::test::TestMachine& baseline) {
  return m == &interp ? "interp" : m == &baseline ? "baseline" : "llvm";
}

FuzzResult fuzz_arm64(uint64_t seed, uint64_t count, unsigned length, bool max) {
  static_assert(kReach * 2 <= a64::test::kDataSize);
  FuzzResult res;
  Generator gen(seed, max);
  a64::test::UnicornRef uc(max ? UC_CPU_ARM64_MAX : -1);
  a64::test::TestMachine interp(a64::test::Tier::Interp);
  a64::test::TestMachine baseline(a64::test::Tier::Baseline);
  a64::test::TestMachine llvm(a64::test::Tier::Llvm);
  if (max)
    for (a64::test::TestMachine* m : {&interp, &baseline, &llvm})
      m->set_model(*a64::find_cpu_model("max"));
  if (!uc.ok() || !llvm.init_error.empty() || !baseline.init_error.empty()) {
    res.first_failure =
        "setup failed: " + (uc.ok() ? llvm.init_error + baseline.init_error : "unicorn");
    res.mismatches = 1;
    return res;
  }
  for (uint64_t n = 0; n < count; ++n) {
    std::vector<uint32_t> code = gen.sequence(1 + unsigned(gen.bits(16) % length));
    Inputs in = random_inputs(gen);
    ++res.sequences;
    res.instructions += code.size();

    uc.load(code);
    ArchState ref;
    std::string uc_err;
    const bool uc_ok = uc.run(in, ref, uc_err);

    for (a64::test::TestMachine* m : {&interp, &baseline, &llvm}) {
      m->load(code);
      ArchState got;
      std::string err;
      const bool ok = a64::test::run_orrery(*m, in, got, err);
      std::string diff;
      if (!uc_ok && !ok) continue;  // both refuse the encoding
      if (!uc_ok) {
        diff = "unicorn refused (" + uc_err + ") but orrery ran it";
      } else if (!ok) {
        diff = "orrery stopped: " + err;
      } else {
        diff = a64::test::first_difference(got, ref);
      }
      if (diff.empty()) continue;
      if (!uc_ok) {
        // Unicorn's CPU model has features a Cortex-A57 lacks; Orrery running an encoding
        // Unicorn rejects is only counted.
        ++res.skipped;
        continue;
      }
      ++res.mismatches;
      if (res.mismatches <= 20) {
        char head[160];
        std::snprintf(head, sizeof head, "seed %" PRIu64 " sequence %" PRIu64 " tier %s: ", seed,
                      n, tier_name(m, interp, baseline));
        res.summary += head + diff + "\n";
      }
      if (res.first_failure.empty()) {
        char head[160];
        std::snprintf(head, sizeof head, "seed %" PRIu64 " sequence %" PRIu64 " tier %s: ", seed,
                      n, tier_name(m, interp, baseline));
        res.first_failure = head + diff + "\n" + disassemble(code);
      }
    }
  }
  return res;
}

}  // namespace orrery::tests::fuzz
