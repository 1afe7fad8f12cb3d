// Unmasked SIMD FP overflow and underflow (x86-diff --oracle kvm --unmask-mxcsr): the MXCSR
// flags an #XM leaves. Expected values are the AMD host's (natively, SIGFPE's saved MXCSR, and
// under KVM). A lane whose overflow or underflow is unmasked reports OE or UE with PE only when
// its result rounded to the destination precision with an unbounded exponent is inexact; other
// lanes report their masked conditions; an unmasked underflow is raised by an exact tiny result
// too (and FTZ does not apply). Orrery reported the masked run's PE and missed exact tiny
// results.
#include <immintrin.h>
#include <setjmp.h>
#include <signal.h>
#include <ucontext.h>

#include <cstdlib>
#include <cstring>
#include <random>

#include "cpu/x86/exception.h"
#include "tests/unit/x86/harness.h"

namespace orrery::cpu::x86::test {
namespace {

class X86DiffRegressMxcsr : public X86Test {
 protected:
  struct Outcome {
    int vector;
    unsigned flags;   // MXCSR 5:0 afterwards
    uint64_t xmm0lo;  // the destination, unchanged by a fault
  };
  // Runs `insn` with xmm0..xmm2 loaded from the 32-bit words `x` (4 per register), MXCSR =
  // `mxcsr`, CR4.OSXMMEXCPT set.
  Outcome run(const std::string& insn, unsigned mxcsr, const std::vector<uint32_t>& x) {
    auto m = make(Mode::Long64);
    std::string src = "mov rax, 0x8000\n";
    for (size_t i = 0; i < x.size(); ++i)
      src += "mov dword [rax+" + std::to_string(4 * i) + "], " + hex(x[i]) + "\n";
    src += "mov dword [rax+0x100], " + hex(mxcsr) + "\n";
    for (size_t r = 0; r < 3; ++r)
      src += "movups xmm" + std::to_string(r) + ", [rax+" + std::to_string(16 * r) + "]\n";
    src += "ldmxcsr [rax+0x100]\n" + insn + "\nmov ebx, 1";
    m->load_asm(src);
    m->s().cr4 |= cr4::kOsfxsr | cr4::kOsxmmexcpt | cr4::kOsxsave;
    m->s().xcr0 = 7;
    const RunResult r = m->run();
    return {r.kind == RunResult::End ? -1 : r.vector, m->s().mxcsr & 0x3f, m->s().ymm[0].q[0]};
  }
};

uint32_t f(float v) {
  uint32_t u;
  std::memcpy(&u, &v, 4);
  return u;
}
std::vector<uint32_t> dbl(double lo, double hi) {
  uint64_t a, b;
  std::memcpy(&a, &lo, 8);
  std::memcpy(&b, &hi, 8);
  return {uint32_t(a), uint32_t(a >> 32), uint32_t(b), uint32_t(b >> 32)};
}

constexpr unsigned kUm0 = 0x1780, kOm0 = 0x1b80, kIe = 1, kDe = 2, kOe = 8, kUe = 16, kPe = 32;
const float kMin = 0x1p-126f, kThird = 1.0f / 3;

TEST_P(X86DiffRegressMxcsr, UnmaskedUnderflowReportsPrecisionOnlyWhenUnboundedResultInexact) {
  // fmin * third is exact with an unbounded exponent: UE alone (the masked run: UE|PE).
  Outcome o = run("mulss xmm0, xmm1", kUm0, {f(kMin), 0, 0, 0, f(kThird), 0, 0, 0});
  EXPECT_EQ(o.vector, int(vec::kXm));
  EXPECT_EQ(o.flags, kUe);
  EXPECT_EQ(o.xmm0lo, f(kMin));
  // FTZ does not apply to an unmasked underflow.
  o = run("mulss xmm0, xmm1", kUm0 | 0x8000, {f(kMin), 0, 0, 0, f(kThird), 0, 0, 0});
  EXPECT_EQ(o.vector, int(vec::kXm));
  EXPECT_EQ(o.flags, kUe);
  // An exact tiny result (fmin / 4) raises the unmasked underflow (masked: nothing).
  o = run("mulss xmm0, xmm1", kUm0, {f(kMin), 0, 0, 0, f(0.25f), 0, 0, 0});
  EXPECT_EQ(o.vector, int(vec::kXm));
  EXPECT_EQ(o.flags, kUe);
  // (fmin + ulp) * (1 - 2^-23) rounded down: tiny and inexact at 24 bits.
  o = run("mulss xmm0, xmm1", kUm0 | 0x2000,
          {f(0x1.000002p-126f), 0, 0, 0, f(0x1.fffffcp-1f), 0, 0, 0});
  EXPECT_EQ(o.vector, int(vec::kXm));
  EXPECT_EQ(o.flags, kUe | kPe);
  // The same rounded to nearest is fmin: no underflow at all.
  o = run("mulss xmm0, xmm1", kUm0, {f(0x1.000002p-126f), 0, 0, 0, f(0x1.fffffcp-1f), 0, 0, 0});
  EXPECT_EQ(o.vector, -1);
  EXPECT_EQ(o.flags, kPe);
  // A denormal operand (masked DE) and an exact tiny sum.
  o = run("addss xmm0, xmm1", kUm0, {f(kMin / 4), 0, 0, 0, f(kMin / 4), 0, 0, 0});
  EXPECT_EQ(o.vector, int(vec::kXm));
  EXPECT_EQ(o.flags, kDe | kUe);
}

TEST_P(X86DiffRegressMxcsr, PackedLanesReportTheirOwnConditions) {
  // Lane 0 underflows exactly, lane 1 (third * third) is inexact: UE|PE.
  Outcome o = run("mulps xmm0, xmm1", kUm0,
                  {f(kMin), f(kThird), f(1), f(1), f(0.25f), f(kThird), f(1), f(1)});
  EXPECT_EQ(o.vector, int(vec::kXm));
  EXPECT_EQ(o.flags, kUe | kPe);
  // Lane 0 underflows, lane 1 has a (masked) SNaN.
  o = run("mulps xmm0, xmm1", kUm0, {f(kMin), 0x7fa00000, f(1), f(1), f(0.25f), f(1), f(1), f(1)});
  EXPECT_EQ(o.vector, int(vec::kXm));
  EXPECT_EQ(o.flags, kIe | kUe);
  // Lane 0 underflows, lane 1 overflows (masked): OE|PE from lane 1.
  o = run("mulps xmm0, xmm1", kUm0,
          {f(kMin), f(3e38f), f(1), f(1), f(kThird), f(3e38f), f(1), f(1)});
  EXPECT_EQ(o.flags, kOe | kUe | kPe);
  // An exact overflow (2^127 * 4) unmasked: OE alone; with an inexact lane beside it: OE|PE.
  o = run("mulss xmm0, xmm1", kOm0, {f(0x1p127f), 0, 0, 0, f(4), 0, 0, 0});
  EXPECT_EQ(o.vector, int(vec::kXm));
  EXPECT_EQ(o.flags, kOe);
  o = run("haddps xmm0, xmm1", kOm0,
          {f(0x1p127f), f(0x1p127f), f(1), f(kThird), f(1), f(1), f(1), f(1)});
  EXPECT_EQ(o.flags, kOe | kPe);
  o = run("vaddpd ymm0, ymm0, ymm1", kOm0 & ~0x800u, [] {
    auto v = dbl(0x1p1023, 1), w = dbl(0x1p1023, 1);
    v.insert(v.end(), w.begin(), w.end());
    return v;
  }());
  EXPECT_EQ(o.vector, int(vec::kXm));
  EXPECT_EQ(o.flags, kOe);
}

TEST_P(X86DiffRegressMxcsr, ConversionsFmaAndDotProducts) {
  // CVTSD2SS of 2^-130 (exact in single) and of 1e-40 (not).
  std::vector<uint32_t> x = {0, 0, 0, 0};
  auto in = dbl(0x1p-130, 0);
  x.insert(x.end(), in.begin(), in.end());
  Outcome o = run("cvtsd2ss xmm0, xmm1", kUm0, x);
  EXPECT_EQ(o.vector, int(vec::kXm));
  EXPECT_EQ(o.flags, kUe);
  x = {0, 0, 0, 0};
  in = dbl(1e-40, 0);
  x.insert(x.end(), in.begin(), in.end());
  EXPECT_EQ(run("cvtsd2ss xmm0, xmm1", kUm0, x).flags, kUe | kPe);
  // FMA: lane 0 fmin * third + 0 (exact, tiny), lane 1 third * third + 1 (inexact).
  o = run("vfmadd231ps xmm2, xmm0, xmm1", kUm0,
          {f(kMin), f(kThird), f(1), f(1), f(kThird), f(kThird), f(1), f(1), 0, f(1), 0, 0});
  EXPECT_EQ(o.vector, int(vec::kXm));
  EXPECT_EQ(o.flags, kUe | kPe);
  o = run("vfmadd231ps xmm2, xmm0, xmm1", kUm0,
          {f(kMin), f(1), f(1), f(1), f(kThird), f(1), f(1), f(1), 0, f(1), 0, 0});
  EXPECT_EQ(o.flags, kUe);
  // DPPS: exact products, then 2 fmin - 1.5 fmin underflows in the first sum: UE; an
  // underflowing product with an inexact one beside it: UE|PE.
  o = run("dpps xmm0, xmm1, 0xff", kUm0,
          {f(2 * kMin), f(1.5f * kMin), f(1), 0, f(1), f(-1), f(kThird), 0});
  EXPECT_EQ(o.vector, int(vec::kXm));
  EXPECT_EQ(o.flags, kUe);
  o = run("dpps xmm0, xmm1, 0xff", kUm0,
          {f(2 * kMin), f(1), f(1), f(kThird), f(kThird), 0, 0, f(kThird)});
  EXPECT_EQ(o.flags, kUe | kPe);
}

// Random operands near the overflow and underflow thresholds under random MXCSR control words
// (some of OM/UM/PM/DM/IM clear): every instruction the lane model covers, natively (an unmasked
// exception arrives as SIGFPE with the MXCSR it left) and on the tier.
sigjmp_buf g_jmp;
volatile unsigned g_fault_mxcsr;
void on_sigfpe(int, siginfo_t*, void* ctx) {
  g_fault_mxcsr = static_cast<ucontext_t*>(ctx)->uc_mcontext.fpregs->mxcsr;
  siglongjmp(g_jmp, 1);
}

struct NativeOut {
  bool fault;
  unsigned mxcsr;
  __m128i r;
};

using NativeFn = __m128i (*)(__m128i, __m128i, __m128i);
#define NATIVE2(insn)                                \
  +[](__m128i a, __m128i b, __m128i) {               \
    asm volatile(insn " %1, %0" : "+x"(a) : "x"(b)); \
    return a;                                        \
  }
#define NATIVE3(insn)                                            \
  +[](__m128i a, __m128i b, __m128i c) {                         \
    asm volatile(insn " %2, %1, %0" : "+x"(c) : "x"(a), "x"(b)); \
    return c;                                                    \
  }

struct Form {
  const char* asm_text;  // Orrery's: xmm2 = op(xmm0, xmm1) or xmm0 = op(xmm0, xmm1)
  NativeFn native;
  bool dbl, fma;
};

const Form kForms[] = {
    {"mulps xmm0, xmm1", NATIVE2("mulps"), false, false},
    {"mulss xmm0, xmm1", NATIVE2("mulss"), false, false},
    {"mulpd xmm0, xmm1", NATIVE2("mulpd"), true, false},
    {"mulsd xmm0, xmm1", NATIVE2("mulsd"), true, false},
    {"divps xmm0, xmm1", NATIVE2("divps"), false, false},
    {"divsd xmm0, xmm1", NATIVE2("divsd"), true, false},
    {"addps xmm0, xmm1", NATIVE2("addps"), false, false},
    {"subpd xmm0, xmm1", NATIVE2("subpd"), true, false},
    {"addsubps xmm0, xmm1", NATIVE2("addsubps"), false, false},
    {"haddps xmm0, xmm1", NATIVE2("haddps"), false, false},
    {"hsubpd xmm0, xmm1", NATIVE2("hsubpd"), true, false},
    {"cvtpd2ps xmm0, xmm1", NATIVE2("cvtpd2ps"), true, false},
    {"cvtsd2ss xmm0, xmm1", NATIVE2("cvtsd2ss"), true, false},
    {"dpps xmm0, xmm1, 0xf3", NATIVE2("dpps $0xf3,"), false, false},
    {"dppd xmm0, xmm1, 0x31", NATIVE2("dppd $0x31,"), true, false},
    {"vmulps xmm0, xmm0, xmm1",
     +[](__m128i a, __m128i b, __m128i) {
       asm volatile("vmulps %1, %0, %0" : "+x"(a) : "x"(b));
       return a;
     },
     false, false},
    {"vcvtps2ph xmm0, xmm1, 4", NATIVE2("vcvtps2ph $4,"), false, false},
    {"vcvtps2ph xmm0, xmm1, 1", NATIVE2("vcvtps2ph $1,"), false, false},
    {"vfmadd231ps xmm2, xmm0, xmm1", NATIVE3("vfmadd231ps"), false, true},
    {"vfnmsub132pd xmm2, xmm0, xmm1", NATIVE3("vfnmsub132pd"), true, true},
    {"vfmaddsub213ps xmm2, xmm0, xmm1", NATIVE3("vfmaddsub213ps"), false, true},
};

NativeOut run_native(NativeFn fn, __m128i a, __m128i b, __m128i c, unsigned mxcsr) {
  struct sigaction sa = {}, old;
  sa.sa_sigaction = on_sigfpe;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGFPE, &sa, &old);
  NativeOut out{};
  const unsigned host = _mm_getcsr();
  if (sigsetjmp(g_jmp, 1)) {
    out.fault = true;
    out.mxcsr = g_fault_mxcsr;
  } else {
    _mm_setcsr(mxcsr);
    out.r = fn(a, b, c);
    out.mxcsr = _mm_getcsr();
  }
  _mm_setcsr(host);
  sigaction(SIGFPE, &old, nullptr);
  return out;
}

// A float (or double) near the thresholds: denormals, the smallest normals, the largest
// numbers, around 1 and 2^(precision/2) (products of those land near the thresholds), powers of
// two and short significands (exact results).
uint64_t pick(std::mt19937_64& rng, bool dbl) {
  const int bias = dbl ? 1023 : 127, mant = dbl ? 52 : 23;
  uint64_t frac = rng() & ((1ull << mant) - 1);
  const uint64_t sign = uint64_t(rng() & 1) << (dbl ? 63 : 31);
  const int exps[] = {0,
                      1 + int(rng() % 3),
                      2 * bias - int(rng() % 3),
                      bias + int(rng() % 5) - 2,
                      bias / 2 + int(rng() % bias),
                      1 + int(rng() % 40),
                      2 * bias - 40 + int(rng() % 40),
                      bias - mant / 2 + int(rng() % 5) - 2};
  const int exp = exps[rng() % 8];
  if (rng() % 4 == 0) frac &= ~((1ull << (mant - 3)) - 1);
  if (rng() % 8 == 0) frac = 0;
  return sign | uint64_t(exp) << mant | frac;
}

// Where Intel cores differ, Orrery models one of them and the host may be the other. With UM = 0,
// VCVTPS2PH of a denormal single raises #XM with DE and UE; cores with AVX512-FP16 (Sapphire Rapids
// here) add PE, older ones (and Orrery) report PE only when the result with unbounded exponent is
// inexact, which it never is for a denormal single. Normal tiny inputs agree on both.
bool half_denormal_pe_variant(const Form& form, bool fault, unsigned host, unsigned tier) {
  using namespace mxcsr_bits;
  return fault && std::string_view(form.asm_text).starts_with("vcvtps2ph") &&
         (host & kDe) && (host & kUe) && (host & 0xffff) == ((tier | kPe) & 0xffff);
}

TEST_P(X86DiffRegressMxcsr, MatchesHostOnRandomOperands) {
  if (!host_has(1, 0, 2, 12) || !host_has(1, 0, 2, 29) || !host_has(7, 0, 1, 5))
    GTEST_SKIP() << "no FMA/F16C/AVX2 on the host";
  // ORRERY_MXCSR_SEED / ORRERY_MXCSR_CASES (cases per instruction) make a longer run.
  const char* seed_env = std::getenv("ORRERY_MXCSR_SEED");
  const char* cases_env = std::getenv("ORRERY_MXCSR_CASES");
  std::mt19937_64 rng(seed_env                   ? std::strtoull(seed_env, nullptr, 0)
                      : GetParam() == Tier::Llvm ? 7
                                                 : 11);
  const unsigned per_form = cases_env ? unsigned(std::strtoul(cases_env, nullptr, 0))
                            : GetParam() == Tier::Llvm ? 40
                                                       : 400;
  unsigned faults = 0, cases = 0;
  for (const Form& form : kForms) {
    auto m = make(Mode::Long64);
    m->load_asm(
        "mov rax, 0x8000\nmovups xmm0, [rax]\nmovups xmm1, [rax+16]\n"
        "movups xmm2, [rax+32]\nldmxcsr [rax+48]\n" +
        std::string(form.asm_text) + "\nstmxcsr [rax+52]");
    m->s().cr4 |= cr4::kOsfxsr | cr4::kOsxmmexcpt | cr4::kOsxsave;
    m->s().xcr0 = 7;
    for (unsigned n = 0; n < per_form; ++n) {
      uint64_t in[6];
      for (unsigned i = 0; i < 6; ++i) {
        in[i] = form.dbl ? pick(rng, true) : pick(rng, false) | pick(rng, false) << 32;
      }
      // Lane pairs that keep exponents close (sums and differences that cancel).
      if (rng() % 2) in[2] = in[0] ^ (rng() & (form.dbl ? 0xfffff : 0x000fffff000fffff));
      unsigned mxcsr = 0x1f80 | unsigned(rng() % 4) << 13 | (rng() % 8 == 0 ? 0x8000 : 0) |
                       (rng() % 8 == 0 ? 0x40 : 0);
      mxcsr &= ~(unsigned(rng() % 4 == 0 ? 0x1f : 0x18 & rng()) << 7);
      const __m128i a = _mm_set_epi64x(int64_t(in[1]), int64_t(in[0]));
      const __m128i b = _mm_set_epi64x(int64_t(in[3]), int64_t(in[2]));
      const __m128i c = _mm_set_epi64x(int64_t(in[5]), int64_t(in[4]));
      const NativeOut want = run_native(form.native, a, b, c, mxcsr);
      for (unsigned i = 0; i < 6; ++i) m->write_mem(0x8000 + 8 * i, in[i], 8);
      m->write_mem(0x8000 + 48, mxcsr, 4);
      m->write_mem(0x8000 + 52, 0, 4);
      m->restart();
      const RunResult r = m->run();
      const bool fault = r.kind != RunResult::End;
      ++cases;
      faults += want.fault;
      const unsigned got = fault ? m->s().mxcsr : unsigned(m->read_mem(0x8000 + 52, 4));
      const unsigned dst = form.fma ? 2 : 0;
      const bool same =
          fault == want.fault &&
          ((got & 0xffff) == (want.mxcsr & 0xffff) ||
           half_denormal_pe_variant(form, want.fault, want.mxcsr, got)) &&
          (fault || (m->s().ymm[dst].q[0] == uint64_t(_mm_cvtsi128_si64(want.r)) &&
                     m->s().ymm[dst].q[1] ==
                         uint64_t(_mm_cvtsi128_si64(_mm_unpackhi_epi64(want.r, want.r)))));
      EXPECT_TRUE(same) << form.asm_text << " mxcsr " << hex(mxcsr) << " in " << hex(in[0]) << " "
                        << hex(in[1]) << " " << hex(in[2]) << " " << hex(in[3]) << " " << hex(in[4])
                        << " " << hex(in[5]) << ": host " << (want.fault ? "#XM " : "")
                        << hex(want.mxcsr) << ", tier "
                        << (fault ? "fault " + std::to_string(r.vector) + " " : "") << hex(got);
      if (!same) return;
    }
  }
  EXPECT_GT(faults, cases / 20) << "too few unmasked exceptions to mean anything";
  if (cases_env) std::printf("%u cases, %u unmasked exceptions on the host\n", cases, faults);
}

ORRERY_X86_TIERS(X86DiffRegressMxcsr);

}  // namespace
}  // namespace orrery::cpu::x86::test
