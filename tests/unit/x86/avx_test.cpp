// AVX, AVX2, FMA and F16C (VEX encodings) against the host CPU, as sse_test.cpp does for SSE:
// each snippet runs natively and on every Orrery tier over the same random records (YMM0-3, a
// 64-byte memory operand, MXCSR with varied rounding/FTZ/DAZ, RAX/RCX/RDX), and the outputs
// (YMM0-3, MXCSR, RAX/RCX/RDX, the arithmetic flags, the memory operand) must agree bit for bit.

#include <cstring>
#include <random>

#include "cpu/x86/exception.h"
#include "tests/unit/x86/harness.h"

namespace orrery::cpu::x86::test {
namespace {

constexpr unsigned kRecSize = 0x1c0, kRecs = 48;
constexpr uint64_t kRecBase = kHostData;

std::string program(const std::string& snippet) {
  std::string s = "default abs\nstmxcsr [" + hex(kHostData - 16) + "]\n";
  s += "mov r15, " + std::to_string(kRecs) + "\nmov rbx, " + hex(kRecBase) + "\n.loop:\n";
  for (unsigned i = 0; i < 4; ++i)
    s += "vmovdqu ymm" + std::to_string(i) + ", [rbx+" + std::to_string(32 * i) + "]\n";
  s += "ldmxcsr [rbx+0xc0]\nmov rax, [rbx+0xc8]\nmov rcx, [rbx+0xd0]\nmov rdx, [rbx+0xd8]\n";
  s += "push 2\npopfq\n" + snippet + "\npushfq\npop qword [rbx+0x1a0]\n";
  s += "and qword [rbx+0x1a0], 0x8d5\n";
  for (unsigned i = 0; i < 4; ++i)
    s += "vmovdqu [rbx+" + std::to_string(0x100 + 32 * i) + "], ymm" + std::to_string(i) + "\n";
  s += "stmxcsr [rbx+0x180]\nmov [rbx+0x188], rax\nmov [rbx+0x190], rcx\nmov [rbx+0x198], rdx\n";
  s += "add rbx, " + std::to_string(kRecSize) + "\ndec r15\njnz .loop\n";
  s += "ldmxcsr [" + hex(kHostData - 16) + "]\nvzeroupper\n";
  return s;
}

bool host_avx2_fma_f16c() {
  return host_has(1, 0, 2, 28) && host_has(1, 0, 2, 12) && host_has(1, 0, 2, 29) &&
         host_has(7, 0, 1, 5);
}

void enable_avx(Machine& m) {
  m.s().cr4 |= cr4::kOsfxsr | cr4::kOsxmmexcpt | cr4::kOsxsave;
  m.s().xcr0 = 7;
}

class X86Avx : public X86Test {
 protected:
  void check(const std::vector<std::string>& snippets) {
    if (!host_avx2_fma_f16c()) GTEST_SKIP() << "host without AVX2/FMA/F16C";
    check_records({program, [](uint64_t seed) { return simd_records(seed, kRecSize, kRecs, 24); },
                   kRecSize, enable_avx},
                  snippets);
  }
};

// Both widths, register and memory second source.
void three_op(std::vector<std::string>& s, const char* op, bool ymm = true) {
  s.push_back(std::string(op) + " xmm1, xmm2, xmm3");
  s.push_back(std::string(op) + " xmm0, xmm2, [rbx+0x80]");
  if (!ymm) return;
  s.push_back(std::string(op) + " ymm1, ymm2, ymm3");
  s.push_back(std::string(op) + " ymm3, ymm0, [rbx+0x80]");
  s.push_back(std::string(op) + " ymm2, ymm2, ymm2");
}
void two_op(std::vector<std::string>& s, const char* op, bool ymm = true) {
  s.push_back(std::string(op) + " xmm1, xmm2");
  s.push_back(std::string(op) + " xmm0, [rbx+0x80]");
  if (!ymm) return;
  s.push_back(std::string(op) + " ymm1, ymm2");
  s.push_back(std::string(op) + " ymm3, [rbx+0x80]");
}

TEST_P(X86Avx, FloatArith) {
  std::vector<std::string> s;
  for (const char* op : {"vaddps",  "vaddpd",  "vsubps",    "vsubpd",    "vmulps",    "vmulpd",
                         "vdivps",  "vdivpd",  "vminps",    "vminpd",    "vmaxps",    "vmaxpd",
                         "vandps",  "vandpd",  "vandnps",   "vandnpd",   "vorps",     "vorpd",
                         "vxorps",  "vxorpd",  "vaddsubps", "vaddsubpd", "vhaddps",   "vhaddpd",
                         "vhsubps", "vhsubpd", "vunpcklps", "vunpckhps", "vunpcklpd", "vunpckhpd"})
    three_op(s, op);
  for (const char* op : {"vaddss", "vaddsd", "vsubss", "vsubsd", "vmulss", "vmulsd", "vdivss",
                         "vdivsd", "vminss", "vminsd", "vmaxss", "vmaxsd", "vsqrtss", "vsqrtsd",
                         "vrcpss", "vrsqrtss", "vcvtss2sd", "vcvtsd2ss"})
    three_op(s, op, false);
  for (const char* op : {"vsqrtps", "vsqrtpd", "vrcpps", "vrsqrtps", "vcvtdq2ps", "vcvtps2dq",
                         "vcvttps2dq", "vmovsldup", "vmovshdup", "vmovddup"})
    two_op(s, op);
  for (int p : {0, 1, 2, 3, 4, 5, 6, 7, 8, 0x0d, 0x10, 0x13, 0x1d, 0x1f})
    for (const char* op : {"vcmpps", "vcmppd"}) {
      s.push_back(std::string(op) + " ymm1, ymm2, ymm3, " + std::to_string(p));
      s.push_back(std::string(op) + " xmm1, xmm2, [rbx+0x80], " + std::to_string(p));
    }
  for (int p : {0, 3, 9, 0x11, 0x1e})
    for (const char* op : {"vcmpss", "vcmpsd"})
      s.push_back(std::string(op) + " xmm1, xmm2, xmm3, " + std::to_string(p));
  for (int n : {0x1b, 0xe4, 0x72, 0x0f}) {
    s.push_back("vshufps ymm1, ymm2, ymm3, " + std::to_string(n));
    s.push_back("vshufpd ymm1, ymm2, [rbx+0x80], " + std::to_string(n));
    s.push_back("vblendps ymm1, ymm2, ymm3, " + std::to_string(n * 5));
    s.push_back("vblendpd ymm1, ymm2, [rbx+0x80], " + std::to_string(n));
    s.push_back("vdpps ymm1, ymm2, ymm3, " + std::to_string(n * 3));
    s.push_back("vroundps ymm1, ymm2, " + std::to_string(n & 15));
    s.push_back("vroundpd ymm1, [rbx+0x80], " + std::to_string(n & 15));
    s.push_back("vroundss xmm1, xmm2, xmm3, " + std::to_string(n & 15));
    s.push_back("vroundsd xmm1, xmm2, [rbx+0x80], " + std::to_string(n & 15));
    s.push_back("vdppd xmm1, xmm2, xmm3, " + std::to_string(n * 3));
  }
  for (const char* op : {"vblendvps", "vblendvpd", "vpblendvb"}) {
    s.push_back(std::string(op) + " ymm1, ymm2, ymm3, ymm0");
    s.push_back(std::string(op) + " xmm1, xmm2, [rbx+0x80], xmm3");
  }
  for (const char* op : {"vcomiss", "vucomiss", "vcomisd", "vucomisd"}) {
    s.push_back(std::string(op) + " xmm1, xmm2");
    s.push_back(std::string(op) + " xmm3, [rbx+0x80]");
  }
  for (const char* op : {"vcvtss2si", "vcvttss2si", "vcvtsd2si", "vcvttsd2si"}) {
    s.push_back(std::string(op) + " eax, xmm1");
    s.push_back(std::string(op) + " rcx, xmm2");
    s.push_back(std::string(op) + " edx, [rbx+0x80]");
  }
  for (const char* op : {"vcvtsi2ss", "vcvtsi2sd"}) {
    s.push_back(std::string(op) + " xmm1, xmm2, eax");
    s.push_back(std::string(op) + " xmm2, xmm3, rcx");
    s.push_back(std::string(op) + " xmm0, xmm1, dword [rbx+0x80]");
    s.push_back(std::string(op) + " xmm3, xmm3, qword [rbx+0x88]");
  }
  s.push_back("vcvtps2pd ymm1, xmm2");
  s.push_back("vcvtps2pd ymm1, [rbx+0x80]");
  s.push_back("vcvtps2pd xmm1, xmm2");
  s.push_back("vcvtdq2pd ymm1, xmm2");
  s.push_back("vcvtdq2pd xmm3, [rbx+0x80]");
  for (const char* op : {"vcvtpd2ps", "vcvtpd2dq", "vcvttpd2dq"}) {
    s.push_back(std::string(op) + " xmm1, ymm2");
    s.push_back(std::string(op) + " xmm1, yword [rbx+0x80]");
    s.push_back(std::string(op) + " xmm1, xmm2");
    s.push_back(std::string(op) + " xmm1, oword [rbx+0x80]");
  }
  s.push_back("vmovmskps eax, ymm1\nvmovmskpd ecx, ymm2\nvpmovmskb edx, ymm3");
  s.push_back("vmovmskps rax, xmm1\nvmovmskpd rcx, xmm2\nvpmovmskb rdx, xmm3");
  check(s);
}

// VMASKMOVDQU stores the selected bytes at DS:rDI: the record's spare bytes 0x1a8-0x1bf.
TEST_P(X86Avx, MaskedByteStores) {
  check({"lea rdi, [rbx+0x1a8]\nvmaskmovdqu xmm1, xmm2",
         "lea rdi, [rbx+0x1af]\nvmaskmovdqu xmm0, xmm3"});
}

TEST_P(X86Avx, Integer) {
  std::vector<std::string> s;
  for (const char* op :
       {"vpaddb",      "vpaddw",     "vpaddd",     "vpaddq",     "vpsubb",      "vpsubw",
        "vpsubd",      "vpsubq",     "vpaddsb",    "vpaddsw",    "vpaddusb",    "vpaddusw",
        "vpsubsb",     "vpsubsw",    "vpsubusb",   "vpsubusw",   "vpcmpeqb",    "vpcmpeqw",
        "vpcmpeqd",    "vpcmpeqq",   "vpcmpgtb",   "vpcmpgtw",   "vpcmpgtd",    "vpcmpgtq",
        "vpmullw",     "vpmulhw",    "vpmulhuw",   "vpmuludq",   "vpmaddwd",    "vpand",
        "vpandn",      "vpor",       "vpxor",      "vpunpcklbw", "vpunpcklwd",  "vpunpckldq",
        "vpunpcklqdq", "vpunpckhbw", "vpunpckhwd", "vpunpckhdq", "vpunpckhqdq", "vpacksswb",
        "vpackssdw",   "vpackuswb",  "vpackusdw",  "vpminub",    "vpmaxub",     "vpminsw",
        "vpmaxsw",     "vpavgb",     "vpavgw",     "vpsadbw",    "vpshufb",     "vphaddw",
        "vphaddd",     "vphaddsw",   "vphsubw",    "vphsubd",    "vphsubsw",    "vpmaddubsw",
        "vpmulhrsw",   "vpsignb",    "vpsignw",    "vpsignd",    "vpminsb",     "vpminsd",
        "vpminuw",     "vpminud",    "vpmaxsb",    "vpmaxsd",    "vpmaxuw",     "vpmaxud",
        "vpmulld",     "vpmuldq",    "vpsllvd",    "vpsllvq",    "vpsrlvd",     "vpsrlvq",
        "vpsravd",     "vpermd",     "vpermps"}) {
    const bool y_only = std::string(op) == "vpermd" || std::string(op) == "vpermps";
    if (y_only) {
      s.push_back(std::string(op) + " ymm1, ymm2, ymm3");
      s.push_back(std::string(op) + " ymm3, ymm0, [rbx+0x80]");
    } else {
      three_op(s, op);
    }
  }
  // Variable shifts with small counts too.
  s.push_back("vpsrld ymm2, ymm2, 27\nvpsllvd ymm1, ymm0, ymm2");
  s.push_back("vpsrlq ymm2, ymm2, 58\nvpsrlvq ymm1, ymm0, ymm2");
  s.push_back("vpsrld ymm2, ymm2, 27\nvpsravd xmm1, xmm0, xmm2");
  for (const char* op : {"vpabsb", "vpabsw", "vpabsd"}) two_op(s, op);
  for (const char* op :
       {"vpmovsxbw", "vpmovsxbd", "vpmovsxbq", "vpmovsxwd", "vpmovsxwq", "vpmovsxdq", "vpmovzxbw",
        "vpmovzxbd", "vpmovzxbq", "vpmovzxwd", "vpmovzxwq", "vpmovzxdq"}) {
    s.push_back(std::string(op) + " xmm1, xmm2");
    s.push_back(std::string(op) + " ymm1, xmm2");
    s.push_back(std::string(op) + " ymm3, [rbx+0x80]");
  }
  s.push_back("vphminposuw xmm1, xmm2");
  s.push_back("vptest ymm1, ymm2");
  s.push_back("vptest xmm1, [rbx+0x80]");
  s.push_back("vptest ymm1, ymm1");
  s.push_back("vtestps ymm1, ymm2\nsetz al\nsetc cl");
  s.push_back("vtestpd xmm1, [rbx+0x80]");
  s.push_back("vtestpd ymm3, ymm0");
  for (const char* op :
       {"vpsllw", "vpslld", "vpsllq", "vpsrlw", "vpsrld", "vpsrlq", "vpsraw", "vpsrad"}) {
    for (int n : {0, 1, 7, 15, 31, 33, 64, 200}) {
      s.push_back(std::string(op) + " ymm3, ymm1, " + std::to_string(n));
      s.push_back(std::string(op) + " xmm2, xmm1, " + std::to_string(n));
    }
    s.push_back(std::string(op) + " ymm1, ymm2, xmm3");
    s.push_back(std::string(op) + " ymm1, ymm2, [rbx+0x80]");
    s.push_back("vpsrlq xmm3, xmm3, 58\n" + std::string(op) + " ymm1, ymm2, xmm3");
  }
  for (int n : {0, 1, 5, 15, 16, 255}) {
    s.push_back("vpslldq ymm1, ymm2, " + std::to_string(n));
    s.push_back("vpsrldq xmm1, xmm2, " + std::to_string(n));
    s.push_back("vpalignr ymm1, ymm2, ymm3, " + std::to_string(n));
    s.push_back("vpalignr xmm1, xmm2, [rbx+0x80], " + std::to_string(n));
  }
  for (int n : {0x1b, 0xe4, 0x00, 0x4e, 0xa5}) {
    s.push_back("vpshufd ymm1, ymm2, " + std::to_string(n));
    s.push_back("vpshuflw ymm1, [rbx+0x80], " + std::to_string(n));
    s.push_back("vpshufhw xmm0, xmm3, " + std::to_string(n));
    s.push_back("vpblendw ymm1, ymm2, ymm3, " + std::to_string(n));
    s.push_back("vpblendd ymm1, ymm2, ymm3, " + std::to_string(n));
    s.push_back("vpblendd xmm1, xmm2, [rbx+0x80], " + std::to_string(n));
    s.push_back("vpermq ymm1, ymm2, " + std::to_string(n));
    s.push_back("vpermpd ymm1, [rbx+0x80], " + std::to_string(n));
    s.push_back("vpermilps ymm1, ymm2, " + std::to_string(n));
    s.push_back("vpermilpd ymm1, [rbx+0x80], " + std::to_string(n));
    s.push_back("vpermilps xmm1, xmm2, " + std::to_string(n));
    s.push_back("vpermilpd xmm1, xmm2, " + std::to_string(n));
    s.push_back("vperm2f128 ymm1, ymm2, ymm3, " + std::to_string(n));
    s.push_back("vperm2i128 ymm1, ymm2, [rbx+0x80], " + std::to_string(n));
    s.push_back("vmpsadbw ymm1, ymm2, ymm3, " + std::to_string(n));
    s.push_back("vmpsadbw xmm1, xmm2, xmm3, " + std::to_string(n & 7));
  }
  three_op(s, "vpermilps");
  three_op(s, "vpermilpd");
  check(s);
}

TEST_P(X86Avx, MovesAndLanes) {
  check(
      {"vmovaps ymm1, ymm2", "vmovups ymm1, [rbx+0x84]", "vmovups xmm1, [rbx+0x84]",
       "vmovapd [rbx+0x80], ymm3", "vmovdqa xmm0, [rbx+0x80]", "vmovdqa ymm0, [rbx+0x80]",
       "vmovdqu [rbx+0x81], ymm2", "vmovdqu [rbx+0x81], xmm2", "vlddqu ymm1, [rbx+0x83]",
       "vmovntdq [rbx+0x80], ymm1", "vmovntdqa ymm1, [rbx+0x80]", "vmovaps xmm1, xmm2",
       "vmovss xmm1, xmm2, xmm3", "vmovss xmm1, [rbx+0x84]", "vmovss [rbx+0x88], xmm3",
       "vmovsd xmm1, xmm2, xmm3", "vmovsd xmm0, [rbx+0x88]", "vmovsd [rbx+0x84], xmm3",
       "vmovd xmm1, eax", "vmovd xmm2, [rbx+0x80]", "vmovd ecx, xmm3", "vmovd [rbx+0x8c], xmm1",
       "vmovq xmm1, rax", "vmovq rdx, xmm2", "vmovq xmm3, xmm2", "vmovq xmm0, [rbx+0x88]",
       "vmovq [rbx+0x80], xmm1", "vmovlps xmm1, xmm2, [rbx+0x88]", "vmovhps xmm1, xmm3, [rbx+0x88]",
       "vmovlpd [rbx+0x80], xmm2", "vmovhpd [rbx+0x88], xmm2", "vmovhlps xmm1, xmm2, xmm3",
       "vmovlhps xmm1, xmm2, xmm3", "vpextrw eax, xmm1, 5", "vpinsrw xmm1, xmm2, ecx, 3",
       "vpinsrw xmm2, xmm0, [rbx+0x80], 7", "vpextrb eax, xmm2, 13", "vpextrb [rbx+0x81], xmm2, 4",
       "vpextrd ecx, xmm3, 2", "vpextrq rdx, xmm1, 1", "vextractps eax, xmm2, 3",
       "vpinsrb xmm0, xmm1, eax, 9", "vpinsrd xmm1, xmm3, [rbx+0x84], 2",
       "vpinsrq xmm3, xmm3, rdx, 1", "vinsertps xmm1, xmm2, xmm3, 0x5d",
       "vinsertps xmm1, xmm2, [rbx+0x84], 0x92", "vinsertf128 ymm1, ymm2, xmm3, 1",
       "vinsertf128 ymm1, ymm2, [rbx+0x80], 0", "vinserti128 ymm1, ymm1, xmm0, 0",
       "vextractf128 xmm1, ymm2, 1", "vextracti128 [rbx+0x88], ymm3, 1",
       "vextractf128 xmm3, ymm3, 0", "vbroadcastss ymm1, [rbx+0x84]", "vbroadcastss xmm1, xmm2",
       "vbroadcastss ymm1, xmm3", "vbroadcastsd ymm1, [rbx+0x88]", "vbroadcastsd ymm1, xmm0",
       "vbroadcastf128 ymm1, [rbx+0x80]", "vbroadcasti128 ymm2, [rbx+0x90]",
       "vpbroadcastb ymm1, xmm2", "vpbroadcastb xmm1, [rbx+0x83]", "vpbroadcastw ymm1, [rbx+0x82]",
       "vpbroadcastw xmm1, xmm3", "vpbroadcastd ymm1, xmm2", "vpbroadcastq ymm1, [rbx+0x88]",
       "vpbroadcastq xmm0, xmm0", "vmaskmovps ymm1, ymm2, [rbx+0x80]",
       "vmaskmovpd xmm1, xmm2, [rbx+0x80]", "vmaskmovps [rbx+0x80], ymm2, ymm3",
       "vmaskmovpd [rbx+0x80], ymm2, ymm3", "vpmaskmovd ymm1, ymm3, [rbx+0x80]",
       "vpmaskmovq [rbx+0x80], xmm1, xmm2", "vzeroupper", "vzeroall",
       "vaddps xmm1, xmm2, xmm3\nvzeroupper", "vldmxcsr [rbx+0xc0]\nvstmxcsr [rbx+0x84]",
       // A legacy SSE write keeps bits 255:128; VEX.128 clears them.
       "addps xmm1, xmm2\nmovaps xmm3, xmm0\npaddd xmm2, [rbx+0x80]",
       "vpaddd xmm1, xmm1, xmm2\nvmovdqa xmm3, xmm0"});
}

// The integer ops that are IR vector values (translate_avx_vec.cpp) in chains within one block,
// so values pass between instructions at both widths, and mixed with VEX.128 writes (which
// zero bits 255:128) and legacy SSE writes (which keep them) to the same register.
TEST_P(X86Avx, VectorIrChains) {
  check(
      {"vpaddd ymm1, ymm2, ymm3\nvpxor ymm1, ymm1, ymm0\nvpshufd ymm2, ymm1, 0x1b\n"
       "vpunpcklbw ymm3, ymm2, ymm1",
       "vpaddd ymm1, ymm2, ymm3\nvpaddd xmm1, xmm1, xmm0\nvpsubq ymm2, ymm1, ymm3",
       "vpaddd ymm1, ymm2, ymm3\npaddd xmm1, xmm0\nvpor ymm2, ymm1, ymm3",
       "vpaddw ymm1, ymm2, ymm3\nmovdqa xmm1, xmm0\nvpandn ymm2, ymm1, [rbx+0x80]",
       "vmovdqa ymm1, ymm2\nvpcmpeqb ymm1, ymm1, [rbx+0x80]\nvmovdqa xmm3, xmm1",
       "vmovdqu ymm1, ymm0\nvpcmpgtw ymm2, ymm1, ymm3\nvmovdqa xmm1, xmm2\n"
       "vpminub ymm0, ymm1, ymm2",
       "vpsllq ymm1, ymm1, 3\nvpsrldq ymm1, ymm1, 5\nvpmuludq ymm2, ymm1, ymm2\n"
       "vpmullw ymm3, ymm3, ymm2",
       "vpslldq xmm1, xmm2, 3\nvpsraw ymm2, ymm1, 17\nvpsrad xmm3, xmm2, 31",
       "vpxor ymm0, ymm0, ymm0\nvpcmpeqd ymm1, ymm1, ymm1\nvpsubb ymm2, ymm0, ymm1",
       "vpunpckhqdq ymm1, ymm2, [rbx+0x80]\nvpunpckhwd xmm2, xmm1, xmm3\nvpmaxsw ymm3, ymm2, ymm1",
       "vpmaxub ymm1, ymm2, ymm3\nvandps ymm2, ymm1, ymm0\nvunpcklpd xmm3, xmm1, [rbx+0x80]"});
}

// The SSE FP rows in VEX forms (translate_sse_fp.cpp) under records with the default MXCSR and
// others (the helper path): every CMP predicate at both widths, scalar memory operands of their
// own size, chains that pass FP results between instructions in one block, VEX.128 writes that
// zero bits 255:128 next to legacy writes that keep them, and the GPR conversions and COMIS
// feeding integer code and branches.
TEST_P(X86Avx, FpRowsInVexForms) {
  std::vector<std::string> s;
  for (int p = 0; p < 32; ++p) {
    const std::string n = std::to_string(p);
    s.push_back("vcmpps ymm1, ymm2, [rbx+0x80], " + n + "\nvcmppd xmm3, xmm0, xmm2, " + n);
    s.push_back("vcmpss xmm1, xmm2, [rbx+0x84], " + n + "\nvcmpsd xmm3, xmm3, xmm1, " + n);
  }
  for (const char* op : {"vaddss", "vsubss", "vmulss", "vdivss", "vminss", "vmaxss", "vsqrtss"})
    s.push_back(std::string(op) + " xmm1, xmm2, dword [rbx+0x8c]");
  for (const char* op : {"vaddsd", "vsubsd", "vmulsd", "vdivsd", "vminsd", "vmaxsd", "vsqrtsd"})
    s.push_back(std::string(op) + " xmm1, xmm2, qword [rbx+0x88]");
  s.push_back("vcvtss2sd xmm1, xmm2, dword [rbx+0x84]\nvcvtsd2ss xmm3, xmm0, qword [rbx+0x88]");
  s.push_back("vcvtps2pd xmm1, qword [rbx+0x88]\nvcvtdq2pd ymm2, oword [rbx+0x80]");
  s.push_back(
      "vaddps ymm1, ymm2, ymm3\nvmulps ymm1, ymm1, ymm0\nvsqrtps ymm2, ymm1\n"
      "vcmpps ymm3, ymm2, ymm1, 0x1d");
  s.push_back(
      "vdivpd ymm1, ymm2, [rbx+0x80]\nvcvtpd2ps xmm2, ymm1\nvcvtps2pd ymm3, xmm2\n"
      "vminpd ymm0, ymm3, ymm1");
  s.push_back(
      "vaddps ymm1, ymm2, ymm3\naddps xmm1, xmm0\nvmaxps ymm2, ymm1, ymm3\n"
      "vsubsd xmm3, xmm2, xmm1");
  s.push_back(
      "vcvttpd2dq xmm1, ymm2\nvcvtdq2ps xmm2, xmm1\nvcvtps2dq ymm3, ymm0\n"
      "vcvtdq2pd ymm0, xmm3");
  s.push_back(
      "vcvtsi2sd xmm1, xmm2, rax\nvaddsd xmm1, xmm1, xmm3\nvcvttsd2si rcx, xmm1\n"
      "vcvtsi2ss xmm2, xmm0, ecx\nvcvtss2si edx, xmm2");
  s.push_back(
      "vcomiss xmm1, xmm2\nsetb al\nsetz cl\nsetp dl\nvucomisd xmm3, xmm0\n"
      "adc rax, 0\ncmovz rcx, rdx");
  s.push_back(
      "cvtsi2ss xmm1, qword [rbx+0x88]\ncvtss2si rax, xmm1\ncomisd xmm1, xmm2\n"
      "cvttsd2si ecx, xmm3\nucomiss xmm0, dword [rbx+0x84]\nsbb rdx, rcx");
  check(s);
}

TEST_P(X86Avx, FmaF16c) {
  std::vector<std::string> s;
  for (const char* k : {"vfmadd", "vfmsub", "vfnmadd", "vfnmsub"})
    for (const char* o : {"132", "213", "231"}) {
      for (const char* ty : {"ps", "pd"}) {
        const std::string op = std::string(k) + o + ty;
        s.push_back(op + " ymm1, ymm2, ymm3");
        s.push_back(op + " xmm1, xmm2, [rbx+0x80]");
        s.push_back(op + " ymm0, ymm0, [rbx+0x80]");
      }
      for (const char* ty : {"ss", "sd"}) {
        const std::string op = std::string(k) + o + ty;
        s.push_back(op + " xmm1, xmm2, xmm3");
        s.push_back(op + " xmm3, xmm2, [rbx+0x80]");
      }
    }
  for (const char* k : {"vfmaddsub", "vfmsubadd"})
    for (const char* o : {"132", "213", "231"})
      for (const char* ty : {"ps", "pd"}) {
        const std::string op = std::string(k) + o + ty;
        s.push_back(op + " ymm1, ymm2, ymm3");
        s.push_back(op + " xmm1, xmm2, [rbx+0x80]");
      }
  for (int n : {0, 1, 2, 3, 4, 7}) {
    s.push_back("vcvtps2ph xmm1, ymm2, " + std::to_string(n));
    s.push_back("vcvtps2ph [rbx+0x88], xmm2, " + std::to_string(n));
    s.push_back("vcvtps2ph [rbx+0x80], ymm3, " + std::to_string(n));
  }
  s.push_back("vcvtph2ps ymm1, xmm2");
  s.push_back("vcvtph2ps xmm1, xmm2");
  s.push_back("vcvtph2ps ymm1, [rbx+0x80]");
  s.push_back("vcvtph2ps xmm3, [rbx+0x88]");
  check(s);
}

TEST_P(X86Avx, Gathers) {
  std::vector<std::string> s;
  // Indices 0..7 (shifted down), so every element lies in the 64-byte memory operand.
  for (const char* g :
       {"vpgatherdd ymm2, [rbx+0x80+ymm1*4], ymm3", "vgatherdps xmm2, [rbx+0x80+xmm1*4], xmm3",
        "vpgatherdq ymm2, [rbx+0x80+xmm1*8], ymm3", "vgatherdpd xmm2, [rbx+0x80+xmm1*8], xmm3",
        "vpgatherqd xmm2, [rbx+0x80+ymm1*4], xmm3", "vgatherqps xmm2, [rbx+0x80+xmm1*4], xmm3",
        "vpgatherqq ymm2, [rbx+0x80+ymm1*8], ymm3", "vgatherqpd xmm2, [rbx+0x80+xmm1*8], xmm3"}) {
    const bool q =
        std::string(g).find("q", 8) < 10 || std::string(g).find("gatherq") != std::string::npos;
    s.push_back(std::string(q ? "vpsrlq ymm1, ymm1, 61\n" : "vpsrld ymm1, ymm1, 29\n") + g);
    s.push_back(std::string(q ? "vpsrlq ymm1, ymm1, 61\n" : "vpsrld ymm1, ymm1, 29\n") +
                "vpcmpeqd ymm3, ymm3, ymm3\n" + g);
  }
  s.push_back("vpsrld ymm1, ymm1, 29\nmov rax, rbx\nvpgatherdd ymm2, [rax+0x40+ymm1*8+0x40], ymm3");
  check(s);
}

// #UD without CR4.OSXSAVE or XCR0.AVX, #NM with CR0.TS (CR0.EM does not matter), #GP for a
// misaligned VMOVAPS but not VADDPS, masked-off VMASKMOV elements never fault, and a gather
// that faults leaves the elements it loaded and clears their mask bits.
TEST_P(X86Avx, Faults) {
  if (!host_avx2_fma_f16c()) GTEST_SKIP() << "host without AVX2/FMA/F16C";
  auto m = make(Mode::Long64);
  auto run = [&](const std::string& src, bool osxsave, uint64_t xcr0, uint64_t cr0_bits = 0) {
    m->load_asm(src);
    m->s().cr4 |= cr4::kOsfxsr | cr4::kOsxmmexcpt | (osxsave ? cr4::kOsxsave : 0);
    m->s().xcr0 = xcr0;
    m->s().cr0 |= cr0_bits;
    m->s().mxcsr = 0x1f80;
    return m->run();
  };
  RunResult r = run("vaddps ymm0, ymm1, ymm2", false, 7);
  EXPECT_EQ(r.vector, int(vec::kUd));
  r = run("vaddps ymm0, ymm1, ymm2", true, 3);
  EXPECT_EQ(r.vector, int(vec::kUd));
  r = run("vaddps ymm0, ymm1, ymm2", true, 7, cr0::kTs);
  EXPECT_EQ(r.vector, int(vec::kNm));
  r = run("vaddps ymm0, ymm1, ymm2", true, 7, cr0::kEm);
  EXPECT_EQ(r.kind, RunResult::End);
  r = run("mov rax, 0x8010\nvmovaps ymm0, [rax]", true, 7);
  EXPECT_EQ(r.vector, int(vec::kGp));
  r = run("mov rax, 0x8010\nvmovaps xmm0, [rax]\nvaddps ymm0, ymm0, [rax+4]", true, 7);
  EXPECT_EQ(r.kind, RunResult::End);
  // The page at kIdtAddr (0x100000) is unmapped: elements there fault only when selected.
  r =
      run("mov rax, 0xffff8\nvpcmpeqd xmm1, xmm1, xmm1\nvpsrldq xmm1, xmm1, 8\n"
          "vmaskmovps xmm0, xmm1, [rax]\nvmaskmovps [rax], xmm1, xmm0",
          true, 7);
  EXPECT_EQ(r.kind, RunResult::End);
  r = run("mov rax, 0xffff8\nvpcmpeqd xmm1, xmm1, xmm1\nvmaskmovps xmm0, xmm1, [rax]", true, 7);
  EXPECT_EQ(r.kind, RunResult::Exception);
  // Gather: indices {0, 1, 0x3e000, 2}; element 2 is in the unmapped page.
  r =
      run("mov rax, 0x8000\nmov dword [rax+0x100], 0\nmov dword [rax+0x104], 1\n"
          "mov dword [rax+0x108], 0x3e000\nmov dword [rax+0x10c], 2\n"
          "mov dword [rax], 11\nmov dword [rax+4], 22\nmov dword [rax+8], 33\n"
          "vmovdqu xmm1, [rax+0x100]\nvpcmpeqd xmm3, xmm3, xmm3\nvpxor xmm2, xmm2, xmm2\n"
          "mov rbx, 0x7000\nvpgatherdd xmm2, [rbx+0x1000+xmm1*4], xmm3",
          true, 7);
  EXPECT_EQ(r.kind, RunResult::Exception);
  EXPECT_EQ(m->s().ymm[2].q[0], 0x000000160000000bull);
  EXPECT_EQ(m->s().ymm[3].q[0], 0u);
  EXPECT_EQ(m->s().ymm[3].q[1], 0xffffffffffffffffull);
  // The same register twice is #UD.
  r = run("mov rax, 0x8000\nvpgatherdd xmm2, [rax+xmm2*4], xmm3", true, 7);
  EXPECT_EQ(r.vector, int(vec::kUd));
}

ORRERY_X86_TIERS(X86Avx);

}  // namespace
}  // namespace orrery::cpu::x86::test
