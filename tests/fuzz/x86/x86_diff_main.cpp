// x86-diff: run random snippets on an oracle and a target and print the mismatches.
//   x86-diff --seed N --count N [--length N] [--oracle kvm|unicorn]
//            [--target unicorn|kvm|orrery|orrery-interp|orrery-baseline|orrery-llvm]
//            [--exts all|novex|only:EXT] [--rows NAME-PREFIX] [--unmask-mxcsr] [--align-check]
//            [--misalign-vec] [--reports N] [--no-allow]
// --exts defaults to every extension against KVM alone, to the set whose Unicorn differences
// are classified (no x87, no VEX) when Unicorn is involved, and to the extensions Orrery
// implements (orrery_exts()) when Orrery is. Orrery gets no allow-list.
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tests/fuzz/x86/kvm_runner.h"
#include "tests/fuzz/x86/orrery_runner.h"
#include "tests/fuzz/x86/unicorn_runner.h"
#include "tests/fuzz/x86/x86_diff.h"

namespace x = orrery::tests::x86fuzz;

namespace {

std::unique_ptr<x::X86Runner> make_runner(const std::string& name) {
  std::string why;
  std::unique_ptr<x::X86Runner> r;
  if (name == "kvm")
    r = x::KvmRunner::create(why);
  else if (name == "unicorn")
    r = x::UnicornRunner::create(why);
  else if (name.starts_with("orrery"))
    r = x::make_orrery_runner(name, why);
  else
    why = "unknown runner (kvm, unicorn, orrery, orrery-interp, orrery-baseline, orrery-llvm)";
  if (!r) std::fprintf(stderr, "x86-diff: %s: %s\n", name.c_str(), why.c_str());
  return r;
}

bool parse_u64(const char* s, uint64_t& v) {
  char* end;
  errno = 0;
  v = std::strtoull(s, &end, 0);
  return *s && !*end && errno == 0;
}

}  // namespace

int main(int argc, char** argv) {
  x::DiffOptions opt;
  opt.max_reports = 10;
  std::string oracle_name = "kvm", target_name = "unicorn", exts = "auto";
  bool allow = true;
  std::string only_rows;
  std::vector<const char*> skip;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "x86-diff: %s needs a value\n", a.c_str());
        std::exit(1);
      }
      return argv[++i];
    };
    uint64_t v = 0;
    if (a == "--seed" && parse_u64(value(), v))
      opt.seed = v;
    else if (a == "--count" && parse_u64(value(), v))
      opt.count = v;
    else if (a == "--length" && parse_u64(value(), v) && v > 0 && v < 200)
      opt.length = unsigned(v);
    else if (a == "--oracle")
      oracle_name = value();
    else if (a == "--target")
      target_name = value();
    else if (a == "--exts")
      exts = value();
    else if (a == "--no-allow")
      allow = false;
    else if (a == "--align-check")  // initial states set EFLAGS.AC (CR0.AM is on): #AC
      opt.align_check = true;
    else if (a == "--reports")  // how many mismatches to print in full (default 10)
      opt.max_reports = unsigned(std::strtoul(value(), nullptr, 0));
    else if (a == "--misalign-vec")  // vector/x87 memory operands sometimes misaligned
      opt.misalign_vec = true;
    else if (a == "--unmask-mxcsr")  // some initial states unmask SIMD exceptions
      opt.unmask_mxcsr = true;
    else if (a == "--rows")  // debugging: only rows whose name starts with this
      only_rows = value();
    else {
      std::fprintf(
          stderr,
          "x86-diff: bad argument '%s' (usage: --seed N --count N [--length N] "
          "[--oracle kvm|unicorn] [--target unicorn|kvm|orrery[-interp|-baseline|-llvm]] "
          "[--exts all|novex|only:EXT] [--rows NAME-PREFIX] [--unmask-mxcsr] [--align-check] "
          "[--misalign-vec] [--reports N] [--no-allow])\n",
          a.c_str());
      return 1;
    }
  }
  bool unicorn = oracle_name == "unicorn" || target_name == "unicorn";
  bool orrery = oracle_name.starts_with("orrery") || target_name.starts_with("orrery");
  if (exts == "all")
    opt.exts = x::kAllExts;
  else if (exts == "novex")
    opt.exts = x::kAllExts & ~x::kVexExts;
  else if (exts == "auto" && orrery)
    opt.exts = x::orrery_exts() & (unicorn ? x::kUnicornCiExts : x::kAllExts);
  else if (exts == "auto" && unicorn)
    opt.exts = x::kUnicornCiExts;
  else if (exts.starts_with("only:")) {  // e.g. only:base or only:sse2 (debugging)
    opt.exts = 0;
    for (unsigned e = 0; e < unsigned(x::Ext::Count_); ++e)
      if (exts.substr(5) == x::ext_name(x::Ext(e))) opt.exts = 1u << e;
    if (!opt.exts) {
      std::fprintf(stderr, "x86-diff: unknown extension in --exts %s\n", exts.c_str());
      return 1;
    }
  } else if (exts != "auto") {
    std::fprintf(stderr, "x86-diff: --exts must be all, novex, only:EXT or auto\n");
    return 1;
  }
  if (allow && unicorn) opt.allow = x::unicorn_allow_list();
  if (unicorn) {
    skip.assign(std::begin(x::kUnicornSkipRows), std::end(x::kUnicornSkipRows));
    opt.lock_prefixes = x::kUnicornLockPrefixes;
  }
  if (!only_rows.empty())
    for (uint16_t r = 0; r < x::X86Gen::num_rows(); ++r)
      if (!std::string_view(x::X86Gen::row_name(r)).starts_with(only_rows))
        skip.push_back(x::X86Gen::row_name(r));
  opt.skip_rows = skip;
  auto oracle = make_runner(oracle_name);
  auto target = make_runner(target_name);
  if (!oracle || !target) return 1;
  x::DiffResult r = x::run_diff(*oracle, *target, opt);
  std::printf("%s", r.report.c_str());
  std::printf("seed %" PRIu64 ": %" PRIu64 " sequences (%" PRIu64 " instructions, %" PRIu64
              " ended in an oracle exception), %" PRIu64 " mismatches, %.0f sequences/s\n",
              opt.seed, r.runs, r.instructions, r.oracle_faults, r.mismatches,
              r.seconds > 0 ? double(r.runs) / r.seconds : 0.0);
  if (r.refused) std::printf("  refused by a runner: %" PRIu64 "\n", r.refused);
  for (auto& [name, n] : r.allowed) std::printf("  allowed (%s): %" PRIu64 "\n", name.c_str(), n);
  for (auto* runner : {oracle.get(), target.get()})
    if (auto* u = dynamic_cast<x::UnicornRunner*>(runner); u && u->resets())
      std::printf("  unicorn engine re-created %" PRIu64 " times\n", u->resets());
  for (auto* runner : {oracle.get(), target.get()})
    if (auto* o = dynamic_cast<x::OrreryRunner*>(runner))
      std::printf("  %s: %.1f us per run, %" PRIu64 " runs stuck (hang or vCPU stop)\n",
                  o->name().c_str(), o->ns_per_run() / 1000, o->stuck());
  if (auto* k = dynamic_cast<x::KvmRunner*>(oracle.get()))
    std::printf("  kvm: %.1f us per run, %.1f us per run ending in an exception\n",
                k->ns_per_run() / 1000, k->ns_per_fault_run() / 1000);
  return r.runner_error || r.mismatches ? 1 : 0;
}
