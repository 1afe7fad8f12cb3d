// Differential tests against the host CPU: each snippet runs natively and on Orrery (64-bit
// mode, every tier) from the same registers and flags; registers, the compared flags and the
// shared data area must agree. The flag mask of a case leaves out flags the SDM calls
// undefined for it.
#include <cstring>

#include "tests/unit/x86/harness.h"

namespace orrery::cpu::x86::test {
namespace {

constexpr uint64_t C = eflags::kCf, P = eflags::kPf, A = eflags::kAf, Z = eflags::kZf,
                   S = eflags::kSf, O = eflags::kOf;
constexpr uint64_t kAll = C | P | A | Z | S | O;

struct Case {
  std::string src;
  uint64_t mask;
};

std::vector<Case> cases() {
  std::vector<Case> v;
  const char* a[4] = {"al", "ax", "eax", "rax"};
  const char* b[4] = {"bl", "bx", "ebx", "rbx"};
  const char* c[4] = {"cl", "cx", "ecx", "rcx"};
  const char* d[4] = {"dl", "dx", "edx", "rdx"};
  const char* sz[4] = {"byte", "word", "dword", "qword"};
  const char* r8[4] = {"r8b", "r8w", "r8d", "r8"};
  for (const char* op : {"add", "adc", "sub", "sbb", "cmp", "and", "or", "xor", "test"}) {
    for (int i = 0; i < 4; ++i) {
      v.push_back({std::string(op) + " " + a[i] + ", " + b[i], kAll});
      v.push_back({std::string(op) + " " + r8[i] + ", " + d[i], kAll});
      v.push_back({std::string(op) + " " + a[i] + ", 0x7f", kAll});
      v.push_back({std::string(op) + " " + c[i] + ", -3", kAll});
      v.push_back({std::string(op) + " " + sz[i] + " [rdi+8], " + b[i], kAll});
      if (std::string(op) != "test")
        v.push_back({std::string(op) + " " + b[i] + ", [rdi+16]", kAll});
    }
    v.push_back({std::string(op) + " ah, bh", kAll});
    if (std::string(op) != "cmp" && std::string(op) != "test")
      v.push_back({std::string("lock ") + op + " dword [rdi+4], ecx", kAll});
  }
  for (const char* op : {"neg", "not", "inc", "dec"})
    for (int i = 0; i < 4; ++i) {
      v.push_back({std::string(op) + " " + b[i], kAll});
      v.push_back({std::string(op) + " " + sz[i] + " [rdi+24]", kAll});
      v.push_back({std::string("lock ") + op + " " + sz[i] + " [rdi+32]", kAll});
    }
  for (int i = 0; i < 4; ++i) {
    v.push_back({std::string("mul ") + b[i], C | O});
    v.push_back({std::string("imul ") + b[i], C | O});
    v.push_back({std::string("mul ") + sz[i] + " [rdi]", C | O});
    if (i > 0) {
      v.push_back({std::string("imul ") + a[i] + ", " + b[i], C | O});
      v.push_back({std::string("imul ") + a[i] + ", " + b[i] + ", -7", C | O});
      v.push_back({std::string("imul ") + c[i] + ", " + sz[i] + " [rdi], 1000", C | O});
    }
    // Inputs made safe from #DE: a zero high half and a nonzero divisor, or a divisor that
    // is positive and at least 2.
    v.push_back({std::string("xor edx, edx\nxor ah, ah\nor ") + b[i] + ", 1\ndiv " + b[i], 0});
    v.push_back({std::string("shr ") + b[i] + ", 2\nor " + b[i] + ", 2\n" +
                     (i == 0   ? "cbw"
                      : i == 1 ? "cwd"
                      : i == 2 ? "cdq"
                               : "cqo") +
                     "\nidiv " + b[i],
                 0});
  }
  for (const char* op : {"shl", "shr", "sar", "rol", "ror", "rcl", "rcr"}) {
    const bool rot = op[0] == 'r';
    for (int i = 0; i < 4; ++i) {
      v.push_back({std::string(op) + " " + b[i] + ", 1", rot ? C | O : C | P | Z | S | O});
      v.push_back({std::string(op) + " " + b[i] + ", cl", rot ? C : C | P | Z | S});
      v.push_back({std::string(op) + " " + b[i] + ", 5", rot ? C : C | P | Z | S});
      v.push_back({std::string(op) + " " + sz[i] + " [rdi+40], cl", rot ? C : C | P | Z | S});
      v.push_back({std::string("and cl, 7\n") + op + " " + b[i] + ", cl", rot ? C : C | P | Z | S});
    }
  }
  for (const char* op : {"shld", "shrd"})
    for (int i = 1; i < 4; ++i) {
      v.push_back({std::string(op) + " " + a[i] + ", " + b[i] + ", 1", C | P | Z | S | O});
      v.push_back({std::string(op) + " " + a[i] + ", " + b[i] + ", 7", C | P | Z | S});
      if (i > 1)
        v.push_back({std::string(op) + " " + a[i] + ", " + b[i] + ", cl", C | P | Z | S});
      else
        v.push_back({std::string("and cl, 15\n") + op + " ax, bx, cl", C | P | Z | S});
    }
  for (const char* op : {"bt", "bts", "btr", "btc"})
    for (int i = 1; i < 4; ++i) {
      v.push_back({std::string(op) + " " + a[i] + ", " + b[i], C});
      v.push_back({std::string(op) + " " + a[i] + ", 13", C});
      v.push_back(
          {std::string("and ") + b[i] + ", 255\n" + op + " " + sz[i] + " [rdi+64], " + b[i], C});
      v.push_back({std::string("and ") + b[i] + ", 127\nsub " + b[i] + ", 64\n" + op + " " + sz[i] +
                       " [rdi+128], " + b[i],
                   C});
      v.push_back({std::string(op) + " " + sz[i] + " [rdi+8], 33", C});
      if (std::string(op) != "bt")
        v.push_back(
            {std::string("and ") + b[i] + ", 63\nlock " + op + " " + sz[i] + " [rdi+64], " + b[i],
             C});
    }
  for (int i = 1; i < 4; ++i) {
    for (const char* op : {"bsf", "bsr"})
      v.push_back({std::string(op) + " " + a[i] + ", " + b[i], Z});
    v.push_back({std::string("popcnt ") + a[i] + ", " + b[i], kAll});
    v.push_back({std::string("lzcnt ") + a[i] + ", " + b[i], C | Z});
    v.push_back({std::string("tzcnt ") + a[i] + ", " + b[i], C | Z});
    if (i > 1) v.push_back({std::string("bswap ") + a[i], kAll});
    v.push_back({std::string("movbe ") + a[i] + ", [rdi+8]", kAll});
    v.push_back({std::string("movbe [rdi+8], ") + a[i], kAll});
  }
  v.pop_back(), v.pop_back();
  v.push_back({"movbe rax, [rdi+8]", kAll});
  v.push_back({"movbe [rdi+8], rax", kAll});
  for (int i = 2; i < 4; ++i) {
    v.push_back({std::string("andn ") + a[i] + ", " + b[i] + ", " + c[i], S | Z | C | O});
    v.push_back({std::string("bextr ") + a[i] + ", " + b[i] + ", " + c[i], Z | C | O});
    v.push_back({std::string("blsi ") + a[i] + ", " + b[i], S | Z | C | O});
    v.push_back({std::string("blsmsk ") + a[i] + ", " + b[i], S | Z | C | O});
    v.push_back({std::string("blsr ") + a[i] + ", " + b[i], S | Z | C | O});
    v.push_back({std::string("bzhi ") + a[i] + ", " + b[i] + ", " + c[i], S | Z | C | O});
    v.push_back({std::string("mulx ") + a[i] + ", " + b[i] + ", " + c[i], kAll});
    v.push_back({std::string("mulx ") + a[i] + ", " + a[i] + ", " + c[i], kAll});
    v.push_back({std::string("pdep ") + a[i] + ", " + b[i] + ", " + c[i], kAll});
    v.push_back({std::string("pext ") + a[i] + ", " + b[i] + ", " + c[i], kAll});
    v.push_back({std::string("rorx ") + a[i] + ", " + b[i] + ", 13", kAll});
    for (const char* op : {"sarx", "shlx", "shrx"})
      v.push_back({std::string(op) + " " + a[i] + ", " + b[i] + ", " + c[i], kAll});
    v.push_back({std::string("adcx ") + a[i] + ", " + b[i], kAll});
    v.push_back({std::string("adox ") + a[i] + ", " + b[i], kAll});
  }
  const char* cc[16] = {"o", "no", "b", "ae", "e", "ne", "be", "a",
                        "s", "ns", "p", "np", "l", "ge", "le", "g"};
  for (const char* k : cc) {
    v.push_back({std::string("cmp eax, ebx\nset") + k + " cl", kAll});
    v.push_back({std::string("cmp al, bl\ncmov") + k + " rdx, rsi", kAll});
    v.push_back({std::string("set") + k + " cl", kAll});  // flags straight from the input
    v.push_back({std::string("add ax, bx\nset") + k + " cl", kAll});
    v.push_back({std::string("sub rax, rbx\nj") + k + " .t\nmov ecx, 1\n.t:", kAll});
    v.push_back({std::string("and eax, ebx\nj") + k + " .t\nmov ecx, 1\n.t:", kAll});
    v.push_back({std::string("inc eax\nset") + k + " cl", kAll});
    v.push_back({std::string("dec bl\nset") + k + " cl", kAll});
    v.push_back({std::string("shl eax, 1\nset") + k + " cl", kAll & ~A});
    v.push_back({std::string("sar eax, 1\nset") + k + " cl", kAll & ~A});
    // After IMUL only CF and OF are defined.
    if (!strcmp(k, "o") || !strcmp(k, "no") || !strcmp(k, "b") || !strcmp(k, "ae"))
      v.push_back({std::string("imul eax, ebx\nset") + k + " cl", C | O});
    v.push_back({std::string("adc rax, rbx\nset") + k + " cl", kAll});
    v.push_back({std::string("sbb ecx, edx\ncmov") + k + " eax, ebx", kAll});
    // BLSR leaves PF and AF undefined: older cores set PF from the result, Sapphire Rapids
    // clears it. Consumers of PF would read an undefined flag.
    if (strcmp(k, "p") && strcmp(k, "np"))
      v.push_back({std::string("blsr eax, ebx\nset") + k + " cl", S | Z | C | O});
  }
  for (const char* s :
       {"cbw",
        "cwde",
        "cdqe",
        "cwd",
        "cdq",
        "cqo",
        "lahf",
        "sahf",
        "clc",
        "stc",
        "cmc",
        "xchg eax, ebx",
        "xchg ax, r9w",
        "xchg [rdi+8], rbx",
        "xchg bl, ah",
        "xadd eax, ebx",
        "xadd [rdi+8], ecx",
        "lock xadd [rdi+8], rcx",
        "xadd al, al",
        "cmpxchg ebx, ecx",
        "cmpxchg [rdi+8], rcx",
        "cmpxchg bl, cl",
        "lock cmpxchg [rdi+8], cx",
        "lea eax, [rbx+rcx*4+7]",
        "lea ax, [rbx+rcx*2-1]",
        "lea rax, [rbx+rcx*8+0x12345678]",
        "movzx eax, bl",
        "movzx rax, bx",
        "movsx eax, bl",
        "movsx rax, bx",
        "movsxd rax, ebx",
        "movsx ax, bl",
        "mov eax, ebx\ncmpxchg8b [rdi+8]",
        // IR atomics (AtomicRmw/AtomicCmpxchg): every LOCK form and size, compare-exchanges
        // that succeed and fail, and misaligned operands (one across a cache line).
        "lock xchg [rdi+8], bl",
        "xchg [rdi+8], bx",
        "xchg ebx, [rdi+8]",
        "lock cmpxchg [rdi+8], bl",
        "lock cmpxchg [rdi+8], ecx",
        "mov rax, [rdi+8]\nlock cmpxchg [rdi+8], rcx",
        "mov eax, [rdi+8]\nlock cmpxchg [rdi+8], ebx",
        "lock xadd [rdi+8], bl",
        "lock xadd [rdi+8], bx",
        "lock xadd [rdi+8], ebx",
        "lock add qword [rdi+8], -5",
        "lock sub word [rdi+8], bx",
        "lock adc byte [rdi+8], bl",
        "lock sbb qword [rdi+8], rbx",
        "lock and qword [rdi+8], rbx",
        "lock or byte [rdi+8], 0x81",
        "lock xor word [rdi+8], bx",
        "lock add dword [rdi+62], ebx",
        "lock xadd [rdi+33], rbx",
        "lock cmpxchg [rdi+3], ecx",
        "mov rax, [rdi+60]\nlock cmpxchg [rdi+60], rcx",
        "lock cmpxchg8b [rdi+8]",
        "mov eax, [rdi+8]\nmov edx, [rdi+12]\nlock cmpxchg8b [rdi+8]",
        "mov eax, [rdi+60]\nmov edx, [rdi+64]\nlock cmpxchg8b [rdi+60]",
        "lock cmpxchg16b [rdi+16]",
        "mov rdx, [rdi]\nmov rax, [rdi+8]\ncmpxchg16b [rdi]",
        "lea rsi, [rdi+64]\nlodsb",
        "lea rsi, [rdi+64]\nlodsd",
        "lea rsi, [rdi+64]\nlea rdi, [rdi+128]\nmovsq",
        "lea rsi, [rdi+64]\nlea rdi, [rdi+128]\ncmpsw",
        "lea rdi, [rdi+64]\nscasb",
        "lea rdi, [rdi+64]\nstosd",
        "lea rbx, [rdi+64]\nxlatb",
        "push rbx\npop rax",
        "push word 5\npop ax",
        "pushfq\npop rax\nand eax, 0xcd5",
        "and ebx, 0x8d5\npush rbx\npopfq",
        "enter 32, 0\nleave",
        "push rbp\nlea rbp, [rsp-64]\nenter 16, 3\nmov rax, rsp\nsub rax, rbp\nleave\npop rbp",
        "mov [rdi+8], ah",
        "not qword [rdi]\nnot byte [rdi+9]",
        "and ecx, 63\nlea rsi, [rdi+256]\nlea rdi, [rdi+512]\nrep movsb",
        "and ecx, 31\nlea rdi, [rdi+256]\nrep stosq",
        "and ecx, 31\nlea rsi, [rdi+256]\nlea rdi, [rdi+512]\nrepe cmpsb",
        "and ecx, 31\nlea rdi, [rdi+256]\nrepne scasw"}) {
    v.push_back({s, kAll});
  }
  return v;
}

class X86HostDiff : public X86Test {};

TEST_P(X86HostDiff, MatchesHost) {
  HostRunner host;
  ASSERT_TRUE(host.ok()) << "cannot map the host runner's fixed region";
  auto m = make(Mode::Long64);
  uint64_t seed = 0x1234567;
  auto rnd = [&] {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return seed ^ (seed >> 29);
  };
  const uint64_t edge[] = {0,
                           1,
                           0x7f,
                           0x80,
                           0xff,
                           0x7fff,
                           0x8000,
                           0xffff,
                           0x7fffffff,
                           0x80000000,
                           0xffffffff,
                           0x7fffffffffffffffull,
                           0x8000000000000000ull,
                           ~0ull};
  unsigned failures = 0;
  const std::vector<Case> all = cases();
  std::vector<std::string> srcs;
  for (const Case& c : all) srcs.push_back(c.src);
  const std::vector<std::vector<uint8_t>> codes = assemble_many(srcs, 64);
  ASSERT_EQ(codes.size(), all.size());
  for (size_t ci = 0; ci < all.size(); ++ci) {
    const Case& c = all[ci];
    const std::vector<uint8_t>& code = codes[ci];
    m->load(code);
    for (unsigned n = 0; n < 12 && failures < 20; ++n) {
      Regs in;
      for (uint64_t& r : in.gpr) r = rnd();
      if (n < 6) {
        in.gpr[kRax] = edge[rnd() % 14];
        in.gpr[kRbx] = edge[rnd() % 14];
        in.gpr[kRcx] = n == 0 ? 0 : edge[rnd() % 14];
      }
      in.gpr[kRdi] = kHostData;
      in.flags = rnd() & kAll;
      uint8_t data[1024];
      for (uint8_t& x : data) x = uint8_t(rnd());
      host.write_data(data, sizeof data);
      Regs want = host.run(code, in);
      std::vector<uint8_t> want_data(host.data(), host.data() + sizeof data);

      m->as.write_bytes(kHostData, data, sizeof data);
      m->set_regs(in);
      m->restart();
      RunResult r = m->run();
      std::string where = "`" + c.src + "` input " + std::to_string(n);
      if (r.kind != RunResult::End) {
        ADD_FAILURE() << where << ": did not finish (" << r.message << " vector " << r.vector
                      << ")";
        ++failures;
        continue;
      }
      Regs got = m->regs();
      for (unsigned i = 0; i < 16; ++i) {
        if (i == kRsp) continue;
        if (got.gpr[i] != want.gpr[i]) {
          ADD_FAILURE() << where << ": gpr " << i << " " << hex(got.gpr[i]) << " want "
                        << hex(want.gpr[i]);
          ++failures;
        }
      }
      if ((got.flags ^ want.flags) & c.mask) {
        ADD_FAILURE() << where << ": flags " << hex(got.flags & kAll) << " want "
                      << hex(want.flags & kAll) << " (compared " << hex(c.mask) << ", input "
                      << hex(in.flags) << ")";
        ++failures;
      }
      std::vector<uint8_t> got_data(sizeof data);
      m->as.read_bytes(kHostData, got_data.data(), got_data.size());
      if (got_data != want_data) {
        ADD_FAILURE() << where << ": data differs";
        ++failures;
      }
    }
  }
}

ORRERY_X86_TIERS(X86HostDiff);

}  // namespace
}  // namespace orrery::cpu::x86::test
