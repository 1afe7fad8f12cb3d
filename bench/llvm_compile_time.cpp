// Reports how long the LLVM tier takes to compile a typical translated block
// (tests/unit/llvm/typical_block.h): the default configuration, code generator levels 0 and 2,
// and the default without IR passes, each one block at a time and in batches of 8; then the speed
// of generated code that calls a helper and chains through its link slot, relocatable (helpers,
// slow paths and block data by symbol, as the persistent cache needs) against the old absolute
// addresses. It only reports; nothing here passes or fails on a time (see bench/README.md).
//   build/bench/llvm_compile_time [BLOCKS [LOOPS [both|absolute|relocatable]]]
//   (default 48 blocks per configuration, 10,000,000 loop iterations, both code forms; one form
//   alone for instruction counts: run under callgrind with two LOOPS values and subtract)
#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include <llvm/Support/CommandLine.h>

#include "tcg/exec/cpu_common.h"
#include "tcg/ir/helpers.h"
#include "tcg/llvm/jit.h"
#include "tests/unit/llvm/typical_block.h"

namespace {

using namespace orrery::tcg;
namespace tl = orrery::tcg::llvm;

// Guest registers sit right after the common CPU state, as in the unit tests' TestCpu.
constexpr uint32_t kRegs = (sizeof(CpuCommon) + 7) & ~size_t(7);

double us_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
}

// Compile times are this thread's CPU time: the host may be busy with other work.
double cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) * 1e6 + double(ts.tv_nsec) / 1e3;
}

uint64_t h_step(CpuCommon*, uint64_t a, uint64_t, uint64_t) {
  return a * 3 + 1;
}
constexpr ir::Helper kStep{"bench_step", h_step};

// r0 += 1; r1 = step(r1); a loop back to itself through its link slot while r0 < r2.
std::unique_ptr<exec::TranslationBlock> loop_tb() {
  auto tb = std::make_unique<exec::TranslationBlock>();
  tb->key.pc = tb->ir.guest_pc = 0x4000;
  ir::Emitter e(tb->ir);
  e.insn_start(0x4000);
  ir::Value i = e.add(e.get_reg(ir::Type::I64, kRegs), e.c64(1));
  e.set_reg(kRegs, i);
  e.set_reg(kRegs + 8, e.call(kStep, {e.get_reg(ir::Type::I64, kRegs + 8)}));
  e.branch(e.cmp(ir::Cond::Ult, i, e.get_reg(ir::Type::I64, kRegs + 16)), 0x4000, 0x4004);
  return tb;
}

// Nanoseconds per loop iteration (the least of 5 runs) of the loop compiled relocatable or not.
int code_speed(uint64_t loops, int only) {
  struct Cpu {
    CpuCommon common;
    uint64_t r[3];
  };
  std::printf("generated code, %" PRIu64 " iterations of a helper call and a chained jump:\n",
              loops);
  double best[2] = {1e30, 1e30};
  for (int rep = 0; rep < 5; ++rep) {
    for (int reloc = 0; reloc < 2; ++reloc) {
      if (only >= 0 && reloc != only) continue;
      tl::JitOptions o;
      o.relocatable = reloc;
      std::string err;
      auto jit = tl::LlvmJit::create(o, err);
      auto tb = loop_tb();
      exec::NativeFn fn = jit ? jit->compile(*tb, &err) : nullptr;
      if (!fn) {
        std::fprintf(stderr, "llvm_compile_time: %s\n", err.c_str());
        return 1;
      }
      tb->link[0].store(fn);
      auto cpu = std::make_unique<Cpu>();
      cpu->r[2] = loops;
      auto t0 = std::chrono::steady_clock::now();
      fn(&cpu->common);
      best[reloc] = std::min(best[reloc], us_since(t0) * 1000.0 / double(loops));
      if (cpu->r[0] != loops) {
        std::fprintf(stderr, "llvm_compile_time: the loop ran %" PRIu64 " times\n", cpu->r[0]);
        return 1;
      }
    }
  }
  if (only != 1) std::printf("  absolute addresses %.3f ns/iteration\n", best[0]);
  if (only != 0) std::printf("  relocatable %.3f ns/iteration\n", best[1]);
  return 0;
}

int run(unsigned blocks) {
  std::vector<std::unique_ptr<exec::TranslationBlock>> tbs;
  for (unsigned i = 0; i < blocks; ++i)
    tbs.push_back(tl::test::typical_tb(0x10000 + 0x1000 * i, kRegs));
  struct Config {
    const char* name;
    unsigned level;
    bool passes;
  };
  std::printf("%u typical blocks per configuration; CPU microseconds per block\n", blocks);
  std::printf("%-16s %8s %8s %9s %13s %8s %10s\n", "configuration", "single", "lower", "IR passes",
              "codegen+link", "link", "batch of 8");
  for (const Config& c : {Config{"default", 1, true}, Config{"codegen level 0", 0, true},
                          Config{"codegen level 2", 2, true}, Config{"no IR passes", 1, false}}) {
    tl::JitOptions o;
    o.codegen_level = c.level;
    o.run_passes = c.passes;
    std::string err;
    auto jit = tl::LlvmJit::create(o, err);
    if (!jit) {
      std::fprintf(stderr, "llvm_compile_time: %s\n", err.c_str());
      return 1;
    }
    jit->compile(*tl::test::typical_tb(0, kRegs), nullptr);  // warm up
    tl::LlvmJit::Stats s0 = jit->stats();
    double t0 = cpu_us();
    for (auto& tb : tbs) {
      if (!jit->compile(*tb, &err)) {
        std::fprintf(stderr, "llvm_compile_time: %s: %s\n", c.name, err.c_str());
        return 1;
      }
    }
    double single = (cpu_us() - t0) / blocks;
    tl::LlvmJit::Stats s = jit->stats();
    t0 = cpu_us();
    for (unsigned i = 0; i < blocks; i += 8) {
      std::vector<const exec::TranslationBlock*> in;
      for (unsigned k = i; k < std::min(blocks, i + 8); ++k) in.push_back(tbs[k].get());
      std::vector<exec::NativeFn> out(in.size());
      jit->compile_batch(in, out, nullptr);
      for (exec::NativeFn f : out) {
        if (!f) {
          std::fprintf(stderr, "llvm_compile_time: %s: a batch failed to compile\n", c.name);
          return 1;
        }
      }
    }
    double batched = (cpu_us() - t0) / blocks;
    std::printf("%-16s %8.0f %8.0f %9.0f %13.0f %8.0f %10.0f\n", c.name, single,
                double(s.lower_us - s0.lower_us) / blocks, double(s.opt_us - s0.opt_us) / blocks,
                double(s.codegen_us - s0.codegen_us) / blocks,
                double(s.link_us - s0.link_us) / blocks, batched);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // LLVM's own options for looking inside the pipeline, e.g.
  // ORRERY_LLVM_OPTS="-pass-remarks-missed=sdagisel" (what FastISel leaves to SelectionDAG).
  const char* self[] = {argv[0]};
  ::llvm::cl::ParseCommandLineOptions(1, self, "", nullptr, "ORRERY_LLVM_OPTS");
  unsigned blocks = argc > 1 ? unsigned(std::strtoul(argv[1], nullptr, 10)) : 48;
  const uint64_t loops = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 10000000;
  const std::string mode = argc > 3 ? argv[3] : "both";
  const int only = mode == "absolute" ? 0 : mode == "relocatable" ? 1 : -1;
  if (blocks == 0 || loops == 0 || (only < 0 && mode != "both")) {
    std::fputs(
        "usage: llvm_compile_time [BLOCKS [LOOPS [both|absolute|relocatable]]]  (counts > 0)\n",
        stderr);
    return 1;
  }
  if (int r = run(blocks)) return r;
  return code_speed(loops, only);
}
