// SSE..SSE4.2, AES-NI, PCLMULQDQ, SHA and CRC32 against the host CPU: each snippet runs natively
// and on every Orrery tier over the same random records (XMM0-3, a 32-byte memory operand,
// MXCSR with varied rounding/FTZ/DAZ, RAX/RCX/RDX), and the outputs (XMM0-3, MXCSR, RAX/RCX/RDX,
// the arithmetic flags, the memory operand) must agree bit for bit.

#include <cstring>
#include <random>

#include "cpu/x86/exception.h"
#include "tests/unit/x86/harness.h"

namespace orrery::cpu::x86::test {
namespace {

constexpr unsigned kRecSize = 320, kRecs = 64;
constexpr uint64_t kRecBase = kHostData;

// The loop both the host and the guest run: rbx walks the records, r15 counts.
std::string program(const std::string& snippet) {
  std::string s = "default abs\nstmxcsr [" + hex(kHostData - 16) + "]\n";
  s += "mov r15, " + std::to_string(kRecs) + "\nmov rbx, " + hex(kRecBase) + "\n.loop:\n";
  for (unsigned i = 0; i < 4; ++i)
    s += "movdqu xmm" + std::to_string(i) + ", [rbx+" + std::to_string(16 * i) + "]\n";
  for (unsigned i = 0; i < 4; ++i)
    s += "movq mm" + std::to_string(i) + ", [rbx+" + std::to_string(8 + 16 * i) + "]\n";
  s += "ldmxcsr [rbx+0x60]\nmov rax, [rbx+0x68]\nmov rcx, [rbx+0x70]\nmov rdx, [rbx+0x78]\n";
  s += "push 2\npopfq\n" + snippet + "\npushfq\npop qword [rbx+0xe0]\n";
  s += "and qword [rbx+0xe0], 0x8d5\n";
  for (unsigned i = 0; i < 4; ++i)
    s += "movdqu [rbx+" + std::to_string(0x80 + 16 * i) + "], xmm" + std::to_string(i) + "\n";
  for (unsigned i = 0; i < 4; ++i)
    s += "movq [rbx+" + std::to_string(0x100 + 8 * i) + "], mm" + std::to_string(i) + "\n";
  s += "emms\nstmxcsr [rbx+0xc0]\nmov [rbx+0xc8], rax\nmov [rbx+0xd0], rcx\nmov [rbx+0xd8], rdx\n";
  s += "add rbx, " + std::to_string(kRecSize) + "\ndec r15\njnz .loop\n";
  s += "ldmxcsr [" + hex(kHostData - 16) + "]\n";
  return s;
}

class X86Sse : public X86Test {
 protected:
  void check(const std::vector<std::string>& snippets) {
    check_records({program, [](uint64_t seed) { return simd_records(seed, kRecSize, kRecs, 12); },
                   kRecSize, [](Machine& m) { m.s().cr4 |= cr4::kOsfxsr | cr4::kOsxmmexcpt; }},
                  snippets);
  }
};

TEST_P(X86Sse, Sse2Integer) {
  std::vector<std::string> s;
  for (const char* op :
       {"paddb",     "paddw",      "paddd",     "paddq",     "psubb",     "psubw",      "psubd",
        "psubq",     "paddsb",     "paddsw",    "paddusb",   "paddusw",   "psubsb",     "psubsw",
        "psubusb",   "psubusw",    "pcmpeqb",   "pcmpeqw",   "pcmpeqd",   "pcmpgtb",    "pcmpgtw",
        "pcmpgtd",   "pmullw",     "pmulhw",    "pmulhuw",   "pmuludq",   "pmaddwd",    "pand",
        "pandn",     "por",        "pxor",      "andps",     "andpd",     "andnps",     "andnpd",
        "orps",      "orpd",       "xorps",     "xorpd",     "psllw",     "pslld",      "psllq",
        "psrlw",     "psrld",      "psrlq",     "psraw",     "psrad",     "punpcklbw",  "punpcklwd",
        "punpckldq", "punpcklqdq", "punpckhbw", "punpckhwd", "punpckhdq", "punpckhqdq", "packsswb",
        "packssdw",  "packuswb",   "pminub",    "pmaxub",    "pminsw",    "pmaxsw",     "pavgb",
        "pavgw",     "psadbw"}) {
    s.push_back(std::string(op) + " xmm1, xmm2");
    s.push_back(std::string(op) + " xmm0, [rbx+0x40]");
  }
  for (const char* op : {"psllw", "pslld", "psllq", "psrlw", "psrld", "psrlq", "psraw", "psrad"})
    for (int n : {0, 1, 7, 15, 31, 33, 64, 200})
      s.push_back(std::string(op) + " xmm3, " + std::to_string(n));
  for (int n : {0, 1, 5, 15, 16, 255}) {
    s.push_back("pslldq xmm1, " + std::to_string(n));
    s.push_back("psrldq xmm1, " + std::to_string(n));
  }
  // The zeroing idioms (IR: a register with itself) and the bitwise ops on one register.
  s.push_back("pxor xmm1, xmm1\npsubq xmm2, xmm2\nxorps xmm3, xmm3\nxorpd xmm0, xmm0");
  s.push_back("pand xmm1, xmm1\npor xmm2, xmm2\npandn xmm3, xmm3\npaddq xmm0, xmm0");
  for (int n : {0x1b, 0xe4, 0x00, 0xff, 0x4e}) {
    s.push_back("pshufd xmm1, xmm2, " + std::to_string(n));
    s.push_back("pshuflw xmm1, [rbx+0x40], " + std::to_string(n));
    s.push_back("pshufhw xmm0, xmm3, " + std::to_string(n));
  }
  check(s);
}

TEST_P(X86Sse, Sse2Moves) {
  check({"movaps xmm1, xmm2",
         "movups xmm1, [rbx+0x44]",
         "movapd [rbx+0x40], xmm3",
         "movdqa xmm0, [rbx+0x40]",
         "movdqu [rbx+0x41], xmm2",
         "lddqu xmm1, [rbx+0x43]",
         "movntdq [rbx+0x40], xmm1",
         "movss xmm1, xmm2",
         "movss xmm1, [rbx+0x44]",
         "movss [rbx+0x48], xmm3",
         "movsd xmm1, xmm2",
         "movsd xmm0, [rbx+0x48]",
         "movsd [rbx+0x44], xmm3",
         "movd xmm1, eax",
         "movd xmm2, [rbx+0x40]",
         "movd ecx, xmm3",
         "movd [rbx+0x4c], xmm1",
         "movq xmm1, rax",
         "movq rdx, xmm2",
         "movq xmm3, xmm2",
         "movq xmm0, [rbx+0x48]",
         "movq [rbx+0x40], xmm1",
         "movlps xmm1, [rbx+0x48]",
         "movhps xmm1, [rbx+0x48]",
         "movlpd [rbx+0x40], xmm2",
         "movhpd [rbx+0x48], xmm2",
         "movhlps xmm1, xmm2",
         "movlhps xmm1, xmm2",
         "movmskps eax, xmm1",
         "movmskpd ecx, xmm2",
         "pmovmskb edx, xmm3",
         "pextrw eax, xmm1, 5",
         "pinsrw xmm1, ecx, 3",
         "pinsrw xmm2, [rbx+0x40], 7",
         "pextrb eax, xmm2, 13",
         "pextrb [rbx+0x41], xmm2, 4",
         "pextrd ecx, xmm3, 2",
         "pextrq rdx, xmm1, 1",
         "extractps eax, xmm2, 3",
         "pinsrb xmm0, eax, 9",
         "pinsrd xmm1, [rbx+0x44], 2",
         "pinsrq xmm3, rdx, 1",
         "ldmxcsr [rbx+0x60]\nstmxcsr [rbx+0x48]"});
}

TEST_P(X86Sse, Sse2Float) {
  std::vector<std::string> s;
  for (const char* op :
       {"addps",    "addpd",    "addss",    "addsd",     "subps",    "subpd",    "subss",
        "subsd",    "mulps",    "mulpd",    "mulss",     "mulsd",    "divps",    "divpd",
        "divss",    "divsd",    "minps",    "minpd",     "minss",    "minsd",    "maxps",
        "maxpd",    "maxss",    "maxsd",    "sqrtps",    "sqrtpd",   "sqrtss",   "sqrtsd",
        "unpcklps", "unpckhps", "unpcklpd", "unpckhpd",  "cvtps2pd", "cvtpd2ps", "cvtss2sd",
        "cvtsd2ss", "cvtdq2ps", "cvtps2dq", "cvttps2dq", "cvtdq2pd", "cvtpd2dq", "cvttpd2dq"}) {
    s.push_back(std::string(op) + " xmm1, xmm2");
    s.push_back(std::string(op) + " xmm0, [rbx+0x40]");
  }
  for (int p = 0; p < 8; ++p)
    for (const char* op : {"cmpps", "cmppd", "cmpss", "cmpsd"})
      s.push_back(std::string(op) + " xmm1, xmm2, " + std::to_string(p));
  for (const char* op : {"comiss", "ucomiss", "comisd", "ucomisd"}) {
    s.push_back(std::string(op) + " xmm1, xmm2");
    s.push_back(std::string(op) + " xmm3, [rbx+0x40]");
  }
  for (int n : {0x1b, 0xe4, 0x72}) s.push_back("shufps xmm1, xmm2, " + std::to_string(n));
  for (int n : {0, 1, 2, 3}) s.push_back("shufpd xmm1, [rbx+0x40], " + std::to_string(n));
  for (const char* op : {"cvtss2si", "cvttss2si", "cvtsd2si", "cvttsd2si"}) {
    s.push_back(std::string(op) + " eax, xmm1");
    s.push_back(std::string(op) + " rcx, xmm2");
    s.push_back(std::string(op) + " edx, [rbx+0x40]");
  }
  for (const char* op : {"cvtsi2ss", "cvtsi2sd"}) {
    s.push_back(std::string(op) + " xmm1, eax");
    s.push_back(std::string(op) + " xmm2, rcx");
    s.push_back(std::string(op) + " xmm0, dword [rbx+0x40]");
    s.push_back(std::string(op) + " xmm3, qword [rbx+0x48]");
  }
  check(s);
}

TEST_P(X86Sse, Sse3To42) {
  if (!host_has(1, 0, 2, 20)) GTEST_SKIP() << "host without SSE4.2";
  std::vector<std::string> s;
  for (const char* op :
       {"addsubps", "addsubpd", "haddps",     "haddpd",   "hsubps",   "hsubpd",   "movsldup",
        "movshdup", "movddup",  "pshufb",     "phaddw",   "phaddd",   "phaddsw",  "phsubw",
        "phsubd",   "phsubsw",  "pmaddubsw",  "pmulhrsw", "pabsb",    "pabsw",    "pabsd",
        "psignb",   "psignw",   "psignd",     "blendvps", "blendvpd", "pblendvb", "pminsb",
        "pminsd",   "pminuw",   "pminud",     "pmaxsb",   "pmaxsd",   "pmaxuw",   "pmaxud",
        "pmulld",   "pmuldq",   "pcmpeqq",    "packusdw", "pmovsxbw", "pmovsxbd", "pmovsxbq",
        "pmovsxwd", "pmovsxwq", "pmovsxdq",   "pmovzxbw", "pmovzxbd", "pmovzxbq", "pmovzxwd",
        "pmovzxwq", "pmovzxdq", "phminposuw", "ptest",    "pcmpgtq"}) {
    s.push_back(std::string(op) + " xmm1, xmm2");
    s.push_back(std::string(op) + " xmm3, [rbx+0x40]");
  }
  for (int n : {0, 3, 8, 15, 17, 31, 32}) s.push_back("palignr xmm1, xmm2, " + std::to_string(n));
  for (int n : {0x00, 0x5a, 0xff, 0x0f}) {
    s.push_back("pblendw xmm1, xmm2, " + std::to_string(n));
    s.push_back("blendps xmm1, [rbx+0x40], " + std::to_string(n));
    s.push_back("blendpd xmm1, xmm2, " + std::to_string(n));
    s.push_back("insertps xmm1, xmm2, " + std::to_string(n * 3 + 0x40));
    s.push_back("insertps xmm1, [rbx+0x44], " + std::to_string(n));
  }
  for (int n = 0; n < 16; ++n) {
    for (const char* op : {"roundps", "roundpd", "roundss", "roundsd"})
      s.push_back(std::string(op) + " xmm1, xmm2, " + std::to_string(n));
  }
  for (int n : {0xff, 0xf1, 0x3c, 0x31, 0x12})
    for (const char* op : {"dpps", "dppd"})
      s.push_back(std::string(op) + " xmm1, xmm2, " + std::to_string(n));
  for (int n = 0; n < 8; ++n) s.push_back("mpsadbw xmm1, xmm2, " + std::to_string(n));
  for (int n : {0x00, 0x01, 0x04, 0x08, 0x0c, 0x18, 0x1a, 0x3a, 0x40, 0x44, 0x4a, 0x6c, 0x7d})
    for (const char* op : {"pcmpestri", "pcmpestrm", "pcmpistri", "pcmpistrm"}) {
      s.push_back(std::string(op) + " xmm1, xmm2, " + std::to_string(n));
      s.push_back(std::string(op) + " xmm2, [rbx+0x41], " + std::to_string(n));
    }
  s.push_back("rex.w pcmpestri xmm1, xmm2, 0x0c");
  for (const char* w : {"al", "ax", "eax", "rax"})
    s.push_back(std::string("crc32 ") + (w[0] == 'r' ? "rcx, " : "ecx, ") + w);
  s.push_back("crc32 edx, byte [rbx+0x40]\ncrc32 edx, dword [rbx+0x44]");
  check(s);
}

TEST_P(X86Sse, AesClmulSha) {
  if (!host_has(1, 0, 2, 25) || !host_has(7, 0, 1, 29)) GTEST_SKIP() << "host without AES/SHA";
  std::vector<std::string> s;
  for (const char* op : {"aesenc", "aesenclast", "aesdec", "aesdeclast", "aesimc", "sha1nexte",
                         "sha1msg1", "sha1msg2", "sha256msg1", "sha256msg2", "sha256rnds2"}) {
    s.push_back(std::string(op) + " xmm1, xmm2");
    s.push_back(std::string(op) + " xmm3, [rbx+0x40]");
  }
  for (int n : {0, 1, 0x10, 0x11, 0x36, 0x80}) {
    s.push_back("pclmulqdq xmm1, xmm2, " + std::to_string(n));
    s.push_back("aeskeygenassist xmm1, xmm2, " + std::to_string(n));
  }
  for (int n = 0; n < 4; ++n) s.push_back("sha1rnds4 xmm1, xmm2, " + std::to_string(n));
  check(s);
}

// MASKMOVDQU and MASKMOVQ store the selected bytes at DS:rDI: here the record's spare bytes
// 0x120-0x13f, which the comparison covers (also with a 32-bit address and an unaligned rDI).
TEST_P(X86Sse, MaskedByteStores) {
  check({"lea rdi, [rbx+0x120]\nmaskmovdqu xmm1, xmm2",
         "lea rdi, [rbx+0x12f]\nmaskmovdqu xmm3, xmm0",
         "lea edi, [ebx+0x123]\na32 maskmovdqu xmm2, xmm1",
         "lea rdi, [rbx+0x131]\nmaskmovq mm1, mm2", "lea rdi, [rbx+0x138]\nmaskmovq mm3, mm0"});
}

TEST_P(X86Sse, Mmx) {
  std::vector<std::string> s;
  for (const char* op :
       {"paddb",     "paddw",     "paddd",     "paddq",    "psubb",     "psubw",     "psubd",
        "psubq",     "paddsb",    "paddsw",    "paddusb",  "paddusw",   "psubsb",    "psubsw",
        "psubusb",   "psubusw",   "pcmpeqb",   "pcmpeqw",  "pcmpeqd",   "pcmpgtb",   "pcmpgtw",
        "pcmpgtd",   "pmullw",    "pmulhw",    "pmulhuw",  "pmuludq",   "pmaddwd",   "pand",
        "pandn",     "por",       "pxor",      "psllw",    "pslld",     "psllq",     "psrlw",
        "psrld",     "psrlq",     "psraw",     "psrad",    "punpcklbw", "punpcklwd", "punpckldq",
        "punpckhbw", "punpckhwd", "punpckhdq", "packsswb", "packssdw",  "packuswb",  "pminub",
        "pmaxub",    "pminsw",    "pmaxsw",    "pavgb",    "pavgw",     "psadbw",    "pshufb",
        "phaddw",    "phaddd",    "phaddsw",   "phsubw",   "phsubd",    "phsubsw",   "pmaddubsw",
        "pmulhrsw",  "pabsb",     "pabsw",     "pabsd",    "psignb",    "psignw",    "psignd"}) {
    s.push_back(std::string(op) + " mm1, mm2");
    s.push_back(std::string(op) + " mm0, [rbx+0x40]");
  }
  for (const char* op : {"psllw", "pslld", "psllq", "psrlw", "psrld", "psrlq", "psraw", "psrad"})
    for (int n : {0, 3, 17, 40, 64}) s.push_back(std::string(op) + " mm3, " + std::to_string(n));
  for (int n : {0, 3, 8, 12, 16, 200}) s.push_back("palignr mm1, mm2, " + std::to_string(n));
  for (int n : {0x1b, 0xe4, 0x4e}) s.push_back("pshufw mm1, mm2, " + std::to_string(n));
  for (const char* op :
       {"movd mm1, eax", "movd ecx, mm2", "movq mm3, rdx", "movq rax, mm1", "movq mm0, mm3",
        "movq [rbx+0x40], mm2", "movd [rbx+0x44], mm1", "movntq [rbx+0x48], mm3",
        "pinsrw mm1, ecx, 2", "pextrw eax, mm2, 3", "pmovmskb edx, mm3", "emms\nmovd mm1, eax"})
    s.push_back(op);
  check(s);
}

// Faults: misaligned MOVAPS/PADDB memory operands, reserved MXCSR bits, an unmasked
// divide-by-zero (#XM, or #UD without CR4.OSXMMEXCPT), SSE without CR4.OSFXSR, CR0.TS.
TEST_P(X86Sse, Faults) {
  auto m = make(Mode::Long64);
  auto run = [&](const std::string& src, uint64_t cr4_bits, uint64_t cr0_bits = 0) {
    m->load_asm(src);
    m->s().cr4 |= cr4_bits;
    m->s().cr0 |= cr0_bits;
    m->s().mxcsr = 0x1f80;
    return m->run();
  };
  const uint64_t on = cr4::kOsfxsr | cr4::kOsxmmexcpt;
  RunResult r = run("mov rax, 0x8004\nmovaps xmm0, [rax]", on);
  EXPECT_EQ(r.vector, int(vec::kGp));
  r = run("mov rax, 0x8008\npaddb xmm0, [rax]", on);
  EXPECT_EQ(r.vector, int(vec::kGp));
  r = run("mov rax, 0x8004\nmovups xmm0, [rax]\naddss xmm0, [rax]", on);
  EXPECT_EQ(r.kind, RunResult::End);
  r = run("mov rax, 0x8000\nmov dword [rax], 0x10000\nldmxcsr [rax]", on);
  EXPECT_EQ(r.vector, int(vec::kGp));
  // Unmask ZE (bit 9), then 1/0: the destination keeps its value, MXCSR.ZE is set.
  const std::string div =
      "mov rax, 0x8000\nmov dword [rax], 0x1d80\nldmxcsr [rax]\nmov eax, 0x3f800000\n"
      "movd xmm0, eax\nxorps xmm1, xmm1\ndivss xmm0, xmm1\nmov ebx, 1";
  r = run(div, on);
  EXPECT_EQ(r.vector, int(vec::kXm));
  EXPECT_EQ(m->s().ymm[0].q[0], 0x3f800000u);
  EXPECT_EQ(m->s().mxcsr & 0x3f, 4u);
  EXPECT_EQ(m->s().gpr[kRbx], 0u);
  r = run(div, cr4::kOsfxsr);
  EXPECT_EQ(r.vector, int(vec::kUd));
  r = run("addps xmm0, xmm1", 0);
  EXPECT_EQ(r.vector, int(vec::kUd));
  r = run("addps xmm0, xmm1", on, cr0::kTs);
  EXPECT_EQ(r.vector, int(vec::kNm));
  r = run("addps xmm0, xmm1", on, cr0::kEm);
  EXPECT_EQ(r.vector, int(vec::kUd));
}

ORRERY_X86_TIERS(X86Sse);

}  // namespace
}  // namespace orrery::cpu::x86::test
