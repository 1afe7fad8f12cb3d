#include "tests/unit/arm64/harness.h"

#include <cinttypes>
#include <cstdio>

#include <unicorn/unicorn.h>

#include <cstring>

#include "cpu/arm64/cpu_models.h"
#include "tests/unit/tier_name.h"

namespace orrery::cpu::arm64::test {

TestMachine::TestMachine(Tier tier, bool optimize, size_t code_cache_bytes,
                         uint32_t hot_threshold) {
  loop.start();
  std::string err = as.add_ram("ram", kRamBase, kRamSize);
  if (!err.empty()) {
    init_error = "cannot add RAM: " + err;
    return;
  }
  tcg::exec::EngineOptions opt;
  opt.tier = tier;
  opt.optimize = optimize;
  if (code_cache_bytes) opt.code_cache_bytes = code_cache_bytes;
  if (hot_threshold) {  // compile at exactly this count, whatever the benefit
    opt.hot_threshold = hot_threshold;
    opt.policy.by_benefit = false;
  }
  opt.stop_on_unimplemented = true;
  engine = std::make_unique<tcg::exec::Engine>(opt, log);
  init_error = engine->init();
  cpu = std::make_unique<Arm64Cpu>(default_cpu_model(), 0, as, *engine, *this, loop);
  for (unsigned i = 0; i < 16; ++i) {
    const uint32_t insn = hvc_insn(kVectorHvc + i);
    as.write_bytes(kVectorBase + 0x80 * i, &insn, 4);
  }
}

TestMachine::~TestMachine() = default;

void TestMachine::set_model(const CpuModel& model) {
  cpu.reset();
  cpu = std::make_unique<Arm64Cpu>(model, 0, as, *engine, *this, loop);
}

HvcResult TestMachine::hvc(Arm64Cpu&, uint16_t imm) {
  hvcs.push_back(imm);
  return HvcResult{HvcResult::Action::PowerOff, 0};
}

void TestMachine::load(const std::vector<uint32_t>& code, uint64_t at) {
  std::vector<uint32_t> words = code;
  words.push_back(kHvc0);
  as.write_bytes(at, words.data(), words.size() * 4);
  code_end = at + code.size() * 4;
  std::vector<uint8_t> zero(kDataSize, 0);
  as.write_bytes(kDataBase, zero.data(), zero.size());
  engine->flush();
  engine->forget_tier_history();  // a new program, not self-modifying code: tier=llvm compiles it
  restart(at);
}

void TestMachine::restart(uint64_t at) {
  cpu->reset(at);
  cpu->state().sp_el1 = kStackTop;
  cpu->state().vbar_el1 = kVectorBase;
  cpu->state().cpacr_el1 = 3u << 20;  // FP/SIMD enabled at EL0 and EL1
  cpu->mode_changed();
  hvcs.clear();
}

unsigned TestMachine::nzcv() const {
  const Nzcv& f = cpu->state().nzcv;
  return unsigned(f.n) << 3 | unsigned(f.z) << 2 | unsigned(f.c) << 1 | unsigned(f.v);
}

void TestMachine::set_nzcv(unsigned f) {
  Nzcv& n = cpu->state().nzcv;
  n.n = (f >> 3) & 1;
  n.z = (f >> 2) & 1;
  n.c = (f >> 1) & 1;
  n.v = f & 1;
}

uint64_t TestMachine::read_mem(uint64_t addr, unsigned size) const {
  uint64_t v = 0;
  EXPECT_TRUE(as.read_bytes(addr, &v, size));
  return v;
}

void TestMachine::write_mem(uint64_t addr, uint64_t value, unsigned size) {
  EXPECT_TRUE(as.write_bytes(addr, &value, size));
}

void Arm64Test::SetUp() {
  m = std::make_unique<TestMachine>(GetParam());
  if (!m->init_error.empty()) GTEST_SKIP() << "tier unavailable: " << m->init_error;
}

void Arm64Test::run_ok(const std::vector<uint32_t>& code) {
  m->load(code);
  rerun_ok();
}

void Arm64Test::rerun_ok() {
  ExitKind k = m->run();
  ASSERT_EQ(k, ExitKind::Shutdown) << exit_kind_name(k) << ": " << m->cpu->exit_message();
  ASSERT_EQ(m->cpu->pc(), m->code_end + 4) << "stopped at an HVC other than the final one";
}

void Arm64Test::expect_exception(unsigned vector, uint32_t ec) {
  ExitKind k = m->run();
  ASSERT_EQ(k, ExitKind::Shutdown) << exit_kind_name(k) << ": " << m->cpu->exit_message();
  ASSERT_EQ(m->hvcs.size(), 1u);
  ASSERT_EQ(m->hvcs[0], kVectorHvc + vector) << "wrong vector";
  EXPECT_EQ(m->cpu->state().esr_el1 >> 26, ec) << std::hex << m->cpu->state().esr_el1;
}

std::string tier_name(const ::testing::TestParamInfo<Tier>& info) {
  return tcg::test::tier_name(info);
}

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%" PRIx64, v);
  return buf;
}

std::string first_difference(const ArchState& got, const ArchState& want, bool fpsr) {
  for (unsigned i = 0; i < 31; ++i)
    if (got.x[i] != want.x[i])
      return "x" + std::to_string(i) + ": orrery " + hex(got.x[i]) + ", unicorn " + hex(want.x[i]);
  if (got.sp != want.sp) return "sp: orrery " + hex(got.sp) + ", unicorn " + hex(want.sp);
  if (got.nzcv != want.nzcv) return "nzcv: orrery " + hex(got.nzcv) + ", unicorn " + hex(want.nzcv);
  for (unsigned i = 0; i < 32; ++i)
    for (unsigned h = 0; h < 2; ++h)
      if (got.v[i].d[h] != want.v[i].d[h])
        return "v" + std::to_string(i) + (h ? ".d[1]" : ".d[0]") + ": orrery " +
               hex(got.v[i].d[h]) + ", unicorn " + hex(want.v[i].d[h]);
  constexpr uint64_t kFpsrMask = 0xf800009f;  // QC and the cumulative exception flags
  if (fpsr && (got.fpsr & kFpsrMask) != (want.fpsr & kFpsrMask))
    return "fpsr: orrery " + hex(got.fpsr) + ", unicorn " + hex(want.fpsr);
  for (size_t k = 0; k < got.data.size() && k < want.data.size(); ++k)
    if (got.data[k] != want.data[k])
      return "data byte " + hex(kDataBase + k) + ": orrery " + hex(got.data[k]) + ", unicorn " +
             hex(want.data[k]);
  return {};
}

std::string compare_with_unicorn(TestMachine& m, UnicornRef& uc, const Inputs& in, bool fpsr) {
  ArchState got, want;
  std::string err;
  if (!uc.run(in, want, err)) return err;
  if (!run_orrery(m, in, got, err)) return err;
  return first_difference(got, want, fpsr);
}

unsigned compare_runs_with_unicorn(TestMachine& m, UnicornRef& uc,
                                   const std::vector<uint32_t>& code, unsigned runs, uint64_t seed,
                                   const std::function<Inputs(Rng&)>& make, bool fpsr,
                                   const std::function<std::string(const Inputs&)>& describe) {
  m.load(code);
  uc.load(code);
  Rng rng{seed};
  for (unsigned k = 0; k < runs; ++k) {
    const Inputs in = make(rng);
    if (std::string diff = compare_with_unicorn(m, uc, in, fpsr); !diff.empty()) {
      ADD_FAILURE() << diff << (describe ? "\n" + describe(in) : std::string());
      return k;  // one report per case
    }
  }
  return runs;
}

bool run_orrery(TestMachine& m, const Inputs& in, ArchState& out, std::string& error) {
  m.restart();
  Arm64State& s = m.cpu->state();
  for (unsigned i = 0; i < 31; ++i) s.x[i] = in.x[i];
  m.set_nzcv(in.nzcv);
  s.fpcr = in.fpcr;
  s.fpsr = in.fpsr;
  for (unsigned i = 0; i < 32; ++i) s.v[i] = in.v[i];
  std::vector<uint8_t> data = in.data;
  data.resize(kDataSize, 0);
  m.as.write_bytes(kDataBase, data.data(), data.size());
  ExitKind k = m.run();
  if (k != ExitKind::Shutdown || m.cpu->pc() != m.code_end + 4) {
    error = std::string(exit_kind_name(k)) + ": " + m.cpu->exit_message();
    return false;
  }
  for (unsigned i = 0; i < 31; ++i) out.x[i] = s.x[i];
  out.sp = s.sp_el1;
  out.nzcv = m.nzcv();
  out.fpsr = s.fpsr;
  for (unsigned i = 0; i < 32; ++i) out.v[i] = s.v[i];
  out.data.resize(kDataSize);
  m.as.read_bytes(kDataBase, out.data.data(), kDataSize);
  return true;
}

// ---- Unicorn ----

namespace {
int uc_xreg(unsigned i) {
  if (i == 29) return UC_ARM64_REG_X29;
  if (i == 30) return UC_ARM64_REG_X30;
  return UC_ARM64_REG_X0 + int(i);
}
}  // namespace

UnicornRef::UnicornRef(int cpu_model) {
  uc_engine* uc = nullptr;
  if (uc_open(UC_ARCH_ARM64, UC_MODE_ARM, &uc) != UC_ERR_OK) return;
  if (cpu_model >= 0 && uc_ctl_set_cpu_model(uc, cpu_model) != UC_ERR_OK) {
    uc_close(uc);
    return;
  }
  if (uc_mem_map(uc, kRamBase, kRamSize, UC_PROT_ALL) != UC_ERR_OK) {
    uc_close(uc);
    return;
  }
  uc_ = uc;
}

UnicornRef::~UnicornRef() {
  if (uc_) uc_close(uc_);
}

void UnicornRef::load(const std::vector<uint32_t>& code) {
  std::vector<uint32_t> words = code;
  words.push_back(kHvc0);
  // Unicorn keeps translated blocks across writes to guest memory; drop the old code's.
  if (end_) uc_ctl_remove_cache(uc_, kCodeBase, end_ + 4);
  uc_mem_write(uc_, kCodeBase, words.data(), words.size() * 4);
  end_ = kCodeBase + code.size() * 4;
  uc_ctl_remove_cache(uc_, kCodeBase, end_ + 4);
}

bool UnicornRef::run(const Inputs& in, ArchState& out, std::string& error) {
  for (unsigned i = 0; i < 31; ++i) uc_reg_write(uc_, uc_xreg(i), &in.x[i]);
  uint64_t sp = kStackTop;
  uc_reg_write(uc_, UC_ARM64_REG_SP, &sp);
  uint64_t nzcv = uint64_t(in.nzcv) << 28;
  uc_reg_write(uc_, UC_ARM64_REG_NZCV, &nzcv);
  uint64_t fpcr = in.fpcr, fpsr = in.fpsr;
  uc_reg_write(uc_, UC_ARM64_REG_FPCR, &fpcr);
  uc_reg_write(uc_, UC_ARM64_REG_FPSR, &fpsr);
  uint64_t cpacr = 3ull << 20;
  uc_reg_write(uc_, UC_ARM64_REG_CPACR_EL1, &cpacr);
  for (unsigned i = 0; i < 32; ++i) uc_reg_write(uc_, UC_ARM64_REG_Q0 + int(i), &in.v[i]);
  std::vector<uint8_t> data = in.data;
  data.resize(kDataSize, 0);
  uc_mem_write(uc_, kDataBase, data.data(), data.size());
  uc_err err = uc_emu_start(uc_, kCodeBase, end_, 0, 0);
  if (err != UC_ERR_OK) {
    error = std::string("unicorn: ") + uc_strerror(err);
    return false;
  }
  for (unsigned i = 0; i < 31; ++i) uc_reg_read(uc_, uc_xreg(i), &out.x[i]);
  uc_reg_read(uc_, UC_ARM64_REG_SP, &out.sp);
  uc_reg_read(uc_, UC_ARM64_REG_NZCV, &nzcv);
  out.nzcv = unsigned(nzcv >> 28) & 0xf;
  uc_reg_read(uc_, UC_ARM64_REG_FPSR, &fpsr);
  out.fpsr = fpsr;
  for (unsigned i = 0; i < 32; ++i) uc_reg_read(uc_, UC_ARM64_REG_Q0 + int(i), &out.v[i]);
  out.data.resize(kDataSize);
  uc_mem_read(uc_, kDataBase, out.data.data(), kDataSize);
  return true;
}

}  // namespace orrery::cpu::arm64::test
