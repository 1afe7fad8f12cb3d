// x87 against the host CPU: each snippet runs natively and on every Orrery tier over the same
// random records (eight 80-bit registers, FCW with varied precision/rounding, a 32-byte memory
// operand, RAX/RCX), and FNSAVE's image (FCW, FSW, tags, registers; the pointer fields zeroed),
// the arithmetic flags and the memory operand must agree bit for bit. Plus hand-checked #MF,
// #NM, FNSTENV/FLDENV and FXSAVE/FXRSTOR tests.
#include <cstring>
#include <random>

#include "cpu/x86/exception.h"
#include "tests/unit/x86/harness.h"

namespace orrery::cpu::x86::test {
namespace {

constexpr unsigned kRecSize = 512, kRecs = 32;
constexpr uint64_t kRecBase = kHostData;

std::string program(const std::string& snippet) {
  std::string s = "default abs\nmov r15, " + std::to_string(kRecs) + "\nmov rbx, " + hex(kRecBase);
  s += "\n.loop:\nfninit\nfldcw [rbx+0xa0]\n";
  for (int i = 7; i >= 0; --i) s += "fld tword [rbx+" + std::to_string(16 * i) + "]\n";
  s += "mov rax, [rbx+0xa8]\nmov rcx, [rbx+0xb0]\ncmp rax, rcx\n" + snippet + "\n";
  s += "pushfq\npop qword [rbx+0xb8]\nand qword [rbx+0xb8], 0x8d5\n";
  s += "fnsave [rbx+0xc0]\nmov dword [rbx+0xcc], 0\nmov dword [rbx+0xd0], 0\n";
  s += "mov dword [rbx+0xd4], 0\nmov dword [rbx+0xd8], 0\nmov [rbx+0x140], rax\n";
  s += "add rbx, " + std::to_string(kRecSize) + "\ndec r15\njnz .loop\nfninit\n";
  return s;
}

void random_f80(std::mt19937_64& g, uint8_t* p) {
  long double v = 0;
  switch (g() % 8) {
    case 0:
      v = (long double)(int64_t(g() % 20001) - 10000) / (long double)(1 + g() % 13);
      break;
    case 1:
      v = (long double)(int64_t(g() % 200) - 100);
      break;
    case 2: {
      static const long double kSpecial[] = {0.0L,
                                             -0.0L,
                                             __builtin_infl(),
                                             -__builtin_infl(),
                                             __builtin_nanl(""),
                                             1e-4940L,
                                             1e4931L,
                                             0.5L,
                                             3.14159265358979323846L,
                                             1e19L,
                                             -1e-300L};
      v = kSpecial[g() % 11];
      break;
    }
    case 3: {  // random bits with the integer bit set (a normal, mostly)
      uint64_t m = g() | (1ull << 63);
      uint16_t se = uint16_t(g() % 0x8000) | uint16_t(g() & 0x8000);
      std::memcpy(p, &m, 8);
      std::memcpy(p + 8, &se, 2);
      return;
    }
    default:
      v = (long double)(int64_t(g() % 2000001) - 1000000) / (long double)(1 + g() % 1000) *
          ((g() % 3) ? 1.0L : 1e10L);
      break;
  }
  std::memcpy(p, &v, 10);
}

std::vector<uint8_t> records(uint64_t seed) {
  std::mt19937_64 g(seed);
  std::vector<uint8_t> r(kRecSize * kRecs, 0);
  for (unsigned i = 0; i < kRecs; ++i) {
    uint8_t* p = &r[i * kRecSize];
    for (unsigned k = 0; k < 8; ++k) random_f80(g, p + 16 * k);
    for (unsigned q = 0; q < 4; ++q) {
      uint64_t v;
      switch (g() % 4) {
        case 0: {
          double d = double(int64_t(g() % 20001) - 10000) / double(1 + g() % 7);
          std::memcpy(&v, &d, 8);
          break;
        }
        case 1: {
          float f = float(int(g() % 2001) - 1000) / float(1 + g() % 9);
          uint32_t u;
          std::memcpy(&u, &f, 4);
          v = uint64_t(u) | uint64_t(u) << 32;
          break;
        }
        case 2:
          v = uint64_t(int64_t(g() % 2001) - 1000);
          break;
        default:
          v = g();
          break;
      }
      std::memcpy(p + 0x80 + 8 * q, &v, 8);
    }
    const uint16_t fcw =
        uint16_t(0x007f | (i % 4) << 10 | ((i / 4) % 4 == 1 ? 0 : (i / 4) % 4) << 8);
    std::memcpy(p + 0xa0, &fcw, 2);
    const uint64_t a = g() % 4, c = g() % 4;
    std::memcpy(p + 0xa8, &a, 8);
    std::memcpy(p + 0xb0, &c, 8);
  }
  return r;
}

class X86X87 : public X86Test {
 protected:
  void check(const std::vector<std::string>& snippets) {
    check_records({program, records, kRecSize, {}}, snippets);
  }
};

TEST_P(X86X87, Arithmetic) {
  std::vector<std::string> s;
  for (const char* op : {"fadd", "fsub", "fsubr", "fmul", "fdiv", "fdivr"}) {
    const std::string o = op;
    s.push_back(o + " st0, st3");
    s.push_back(o + " st2, st0");
    s.push_back(o + "p st5, st0");
    s.push_back(o + " dword [rbx+0x80]");
    s.push_back(o + " qword [rbx+0x88]");
    s.push_back("fi" + o.substr(1) + " word [rbx+0x90]");
    s.push_back("fi" + o.substr(1) + " dword [rbx+0x98]");
    s.push_back("ffree st3\n" + o + " st0, st3");
  }
  for (const char* op :
       {"fchs", "fabs", "fsqrt", "frndint", "fscale", "fxtract", "fprem", "fprem1", "f2xm1",
        "fyl2x", "fyl2xp1", "fptan", "fpatan", "fsin", "fcos", "fsincos", "ftst", "fxam"}) {
    s.push_back(op);
    s.push_back(std::string("ffree st7\n") + op);
    s.push_back(std::string("ffree st0\n") + op);
  }
  s.push_back("fld1\nfld1\nfscale");
  s.push_back("ffree st7\nffree st6\nfld1\nfldpi\nfxch\nfpatan");
  check(s);
}

TEST_P(X86X87, LoadsStoresAndStack) {
  std::vector<std::string> s;
  for (const char* p : {"", "ffree st7\n", "ffree st0\n"}) {
    const std::string pre = p;
    for (const char* op : {"fld st3",
                           "fld dword [rbx+0x80]",
                           "fld qword [rbx+0x88]",
                           "fld tword [rbx+0x80]",
                           "fild word [rbx+0x90]",
                           "fild dword [rbx+0x90]",
                           "fild qword [rbx+0x90]",
                           "fbld [rbx+0x80]",
                           "fld1",
                           "fldz",
                           "fldpi",
                           "fldl2e",
                           "fldl2t",
                           "fldlg2",
                           "fldln2",
                           "fst st3",
                           "fstp st2",
                           "fst dword [rbx+0x80]",
                           "fstp qword [rbx+0x88]",
                           "fstp tword [rbx+0x90]",
                           "fist word [rbx+0x80]",
                           "fistp dword [rbx+0x84]",
                           "fistp qword [rbx+0x88]",
                           "fisttp word [rbx+0x80]",
                           "fisttp dword [rbx+0x84]",
                           "fisttp qword [rbx+0x88]",
                           "fbstp [rbx+0x80]",
                           "fxch st3",
                           "fincstp",
                           "fdecstp",
                           "ffree st2",
                           "fcmovb st0, st3",
                           "fcmove st0, st1",
                           "fcmovbe st0, st2",
                           "fcmovu st0, st4",
                           "fcmovnb st0, st3",
                           "fcmovne st0, st1",
                           "fcmovnbe st0, st2",
                           "fcmovnu st0, st4",
                           "fnstsw ax",
                           "fnstsw [rbx+0x80]",
                           "fnstcw [rbx+0x84]",
                           "fldcw [rbx+0x90]\nfnclex\nfadd st0, st1",
                           "fnclex",
                           "fwait",
                           "fnop"})
      s.push_back(pre + op);
  }
  check(s);
}

TEST_P(X86X87, Compares) {
  std::vector<std::string> s;
  for (const char* p : {"", "ffree st0\n", "ffree st1\n"}) {
    const std::string pre = p;
    for (const char* op :
         {"fcom st1", "fcomp st2", "fcompp", "fucom st3", "fucomp st1", "fucompp",
          "fcom dword [rbx+0x80]", "fcomp qword [rbx+0x88]", "ficom word [rbx+0x90]",
          "ficomp dword [rbx+0x90]", "fcomi st0, st1", "fcomip st0, st2", "fucomi st0, st3",
          "fucomip st0, st1", "fcom st1\nfnstsw ax\nsahf"})
      s.push_back(pre + op);
  }
  check(s);
}

TEST_P(X86X87, FaultsAndImages) {
  auto m = make(Mode::Long64);
  // An unmasked divide by zero: ES set, #MF at the next waiting x87 instruction only.
  m->load_asm(
      "fninit\nmov rax, 0x8000\nmov word [rax], 0x37b\nfldcw [rax]\nfld1\nfldz\nfdivp st1, st0\n"
      "fnstsw [rax+2]\nmov ebx, 1\nfld1\nmov ecx, 1");
  RunResult r = m->run();
  EXPECT_EQ(r.vector, int(vec::kMf));
  EXPECT_EQ(m->read_mem(kDataAddr + 2, 2) & 0x80ff, 0x8084u);  // B, ES, ZE
  EXPECT_EQ(m->s().gpr[kRbx], 1u);
  EXPECT_EQ(m->s().gpr[kRcx], 0u);
  // #NM under CR0.TS; FWAIT only with CR0.MP too.
  m->s().x87 = X87State{};
  m->load_asm("fld1");
  m->s().cr0 |= cr0::kTs;
  EXPECT_EQ(m->run().vector, int(vec::kNm));
  m->load_asm("fwait\nmov ebx, 7");
  m->s().cr0 |= cr0::kTs;
  EXPECT_EQ(m->run().kind, RunResult::End);
  EXPECT_EQ(m->s().gpr[kRbx], 7u);
  m->load_asm("fwait");
  m->s().cr0 |= cr0::kTs | cr0::kMp;
  EXPECT_EQ(m->run().vector, int(vec::kNm));
  // FNSTENV/FLDENV and FXSAVE/FXRSTOR round trips; FXSAVE needs 16-byte alignment.
  m->load_asm(
      "fninit\nfldpi\nfld1\nmov rax, 0x8000\nfnstenv [rax]\nfninit\nfldenv [rax]\n"
      "fstp tword [rax+0x100]\nfstp tword [rax+0x110]\nmov rcx, 0x3ff0000000000000\n"
      "movq xmm5, rcx\nfldl2t\nfxsave [rax+0x200]\nfninit\npxor xmm5, xmm5\nfxrstor [rax+0x200]\n"
      "movq rdx, xmm5\nfstp tword [rax+0x120]");
  m->s().cr4 |= cr4::kOsfxsr;
  r = m->run();
  ASSERT_EQ(r.kind, RunResult::End) << r.vector;
  EXPECT_EQ(m->read_mem(kDataAddr + 0x100, 8), 0x8000000000000000ull);  // 1.0
  EXPECT_EQ(m->read_mem(kDataAddr + 0x108, 2), 0x3fffu);
  EXPECT_EQ(m->read_mem(kDataAddr + 0x110, 8), 0xc90fdaa22168c235ull);  // pi
  EXPECT_EQ(m->read_mem(kDataAddr + 0x120, 8),
            0xd49a784bcd1b8afeull);  // log2(10), rounded to nearest
  EXPECT_EQ(m->s().gpr[kRdx], 0x3ff0000000000000ull);
  EXPECT_EQ(m->read_mem(kDataAddr + 0x200, 2), 0x37fu);   // FCW
  EXPECT_EQ(m->read_mem(kDataAddr + 0x218, 4), 0x1f80u);  // MXCSR
  EXPECT_EQ(m->read_mem(kDataAddr + 0x21c, 4), 0xffffu);  // MXCSR_MASK
  m->load_asm("mov rax, 0x8008\nfxsave [rax]");
  EXPECT_EQ(m->run().vector, int(vec::kGp));
  m->load_asm("mov rax, 0x8000\nmov dword [rax+24], 0x10000\nfxrstor [rax]");
  EXPECT_EQ(m->run().vector, int(vec::kGp));
}

// XSAVE/XRSTOR of x87, SSE and AVX (the upper YMM halves set in the state: no AVX yet), the
// init state for a component XSTATE_BV leaves out, and the #GP/#UD cases.
TEST_P(X86X87, Xsave) {
  auto m = make(Mode::Long64);
  const std::string save =
      "fninit\nfldpi\nmov rcx, 0x1122334455667788\nmovq xmm5, rcx\nmov rdi, 0x8000\n"
      "mov eax, 7\nxor edx, edx\nxsave [rdi]\n";
  auto setup = [&](const std::string& src) {
    m->load_asm(src);
    m->s().cr4 |= cr4::kOsfxsr | cr4::kOsxsave;
    m->s().xcr0 = 7;
    m->s().ymm[3].q[2] = 0xabcdef;
    m->s().ymm[3].q[3] = 0x55;
  };
  setup(save + "xor ecx, ecx");
  ASSERT_EQ(m->run().kind, RunResult::End);
  EXPECT_EQ(m->read_mem(kDataAddr, 2), 0x37fu);                                // FCW
  EXPECT_EQ(m->read_mem(kDataAddr + 24, 4), 0x1f80u);                          // MXCSR
  EXPECT_EQ(m->read_mem(kDataAddr + 32, 8), 0xc90fdaa22168c235ull);            // ST0
  EXPECT_EQ(m->read_mem(kDataAddr + 160 + 5 * 16, 8), 0x1122334455667788ull);  // XMM5
  EXPECT_EQ(m->read_mem(kDataAddr + 512, 8), 7u);                              // XSTATE_BV
  EXPECT_EQ(m->read_mem(kDataAddr + 576 + 3 * 16, 8), 0xabcdefu);              // YMM3 high
  EXPECT_EQ(m->read_mem(kDataAddr + 576 + 3 * 16 + 8, 8), 0x55u);
  // Restore after clobbering; then again with XSTATE_BV = x87 only: SSE and AVX initialised.
  setup(save +
        "fninit\npxor xmm5, xmm5\nxrstor [rdi]\nmovq rbx, xmm5\nfstp qword [rdi+0x400]\n"
        "mov qword [rdi+512], 1\nxrstor [rdi]\nmovq rsi, xmm5\n");
  RunResult r = m->run();
  ASSERT_EQ(r.kind, RunResult::End) << r.vector;
  EXPECT_EQ(m->s().gpr[kRbx], 0x1122334455667788ull);
  EXPECT_EQ(m->read_mem(kDataAddr + 0x400, 8), 0x400921fb54442d18ull);  // pi as a double
  EXPECT_EQ(m->s().gpr[kRsi], 0u);
  EXPECT_EQ(m->s().ymm[3].q[2], 0u);
  setup("mov rdi, 0x8020\nmov eax, 7\nxor edx, edx\nxsave [rdi]");
  EXPECT_EQ(m->run().vector, int(vec::kGp));
  setup("mov rdi, 0x8000\nmov qword [rdi+512], 8\nmov eax, 7\nxor edx, edx\nxrstor [rdi]");
  EXPECT_EQ(m->run().vector, int(vec::kGp));
  m->load_asm("mov rdi, 0x8000\nxsave [rdi]");
  EXPECT_EQ(m->run().vector, int(vec::kUd));
}

ORRERY_X86_TIERS(X86X87);

}  // namespace
}  // namespace orrery::cpu::x86::test
