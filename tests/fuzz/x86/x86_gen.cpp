// See x86_gen.h. Encodings and flag columns follow the Intel SDM vol. 2 instruction pages.
#include "tests/fuzz/x86/x86_gen.h"

#include <array>
#include <cstring>
#include <initializer_list>
#include <span>

namespace orrery::tests::x86fuzz {
namespace {

// Arithmetic flags.
constexpr uint16_t C = 0x1, P = 0x4, A = 0x10, Z = 0x40, S = 0x80, O = 0x800;
constexpr uint16_t kAll = C | P | A | Z | S | O;
// x87 condition codes C0 C1 C2 C3.
constexpr uint16_t kC0 = 0x100, kC1 = 0x200, kC2 = 0x400, kC3 = 0x4000;
constexpr uint16_t kC023 = kC0 | kC2 | kC3;

/// Operand kinds. G/GM take the row's GPR width; G32/GM8/GM16 are fixed widths; X/XM are
/// vector registers of the row's vector length; X128/X128M are always XMM.
enum class Opd : uint8_t { None, G, G32, GM, GM8, GM16, M, X, XM, X128, X128M };
enum class Imm : uint8_t { None, I8, Iz, Sh, Cmp8, Cmp32, I64 };
/// Rows that need more than field filling.
enum class Sp : uint8_t {
  None,
  Cc,        // condition code in the opcode's low nibble: flags read depend on it
  Jcc,       // forward branch over the next few instructions
  Div,       // DIV: dividend high half cleared, divisor made odd (nonzero) first
  Idiv,      // IDIV: dividend sign-extended, divisor made odd first
  Str,       // string op: RSI/RDI inside the data page, RCX <= 16 first
  OpReg,     // register in the opcode's low 3 bits (BSWAP, MOV r64, imm64)
  X87Sti,    // x87 second byte op2 + i, i = ST(i)
  X87Fixed,  // x87 two fixed bytes
  Fnstsw,    // FNSTSW AX: reads the x87 condition codes
  Fixed,     // fixed bytes (op, op2 if nonzero), no operands
  Seq,       // a fixed byte sequence (stack pairs that leave RSP as it was, system opcodes)
};

struct Flags {
  uint16_t read = 0, write = 0, undef = 0;
};
constexpr Flags kArith{0, kAll, 0}, kLogic{0, kAll & ~A, A}, kIncDec{0, kAll & ~C, 0},
    kMul{0, C | O, S | Z | A | P}, kDivF{0, 0, kAll}, kBt{0, C, O | S | A | P},
    kCarryIn{C, kAll, 0}, kNone{};

struct Row {
  const char* name;
  Ext ext = Ext::Base;
  uint8_t pfx = 0;  // mandatory prefix (66, F2, F3; VEX pp); 0 if none
  uint8_t map = 0;  // 0: one-byte, 1: 0F, 2: 0F 38, 3: 0F 3A
  uint8_t op = 0;
  int8_t digit = -1;  // ModRM.reg /digit, or -1 when ModRM.reg is the `reg` operand
  Opd reg = Opd::None, rm = Opd::None, vvvv = Opd::None;
  uint8_t gw = 0;  // allowed GPR widths: 1 = 8, 2 = 16, 4 = 32, 8 = 64 bits
  uint8_t vl = 1;  // allowed vector lengths: 1 = 128, 2 = 256
  Imm imm = Imm::None;
  Flags f{};
  uint16_t fsw_def = 0, fsw_undef = 0;  // x87 condition codes defined / left undefined
  Sp sp = Sp::None;
  int8_t w = -1;  // REX.W / VEX.W: -1 from the GPR width, else fixed
  bool vex = false;
  uint8_t op2 = 0;                // x87 second byte
  bool lock = false;              // a memory destination may take LOCK (a quarter of the time)
  std::array<uint8_t, 12> seq{};  // Sp::Seq: the bytes
  uint8_t seq_len = 0;
};

// Builders for the common shapes, so each table line is one instruction.
constexpr Row alu(const char* n, uint8_t map, uint8_t op, int8_t digit, Opd reg, Opd rm, uint8_t gw,
                  Imm imm, Flags f, Ext e = Ext::Base, uint8_t pfx = 0) {
  return Row{.name = n,
             .ext = e,
             .pfx = pfx,
             .map = map,
             .op = op,
             .digit = digit,
             .reg = reg,
             .rm = rm,
             .gw = gw,
             .imm = imm,
             .f = f};
}
constexpr Row sse(const char* n, Ext e, uint8_t pfx, uint8_t map, uint8_t op, Imm imm = Imm::None,
                  Opd reg = Opd::X, Opd rm = Opd::XM, Flags f = {}, uint8_t gw = 0,
                  int8_t digit = -1) {
  return Row{.name = n,
             .ext = e,
             .pfx = pfx,
             .map = map,
             .op = op,
             .digit = digit,
             .reg = reg,
             .rm = rm,
             .gw = gw,
             .imm = imm,
             .f = f};
}
constexpr Row vex(const char* n, Ext e, uint8_t pfx, uint8_t map, uint8_t op, uint8_t vl,
                  int8_t w = 0, Imm imm = Imm::None, Opd reg = Opd::X, Opd vvvv = Opd::X,
                  Opd rm = Opd::XM, Flags f = {}, int8_t digit = -1) {
  return Row{.name = n,
             .ext = e,
             .pfx = pfx,
             .map = map,
             .op = op,
             .digit = digit,
             .reg = reg,
             .rm = rm,
             .vvvv = vvvv,
             .vl = vl,
             .imm = imm,
             .f = f,
             .w = w,
             .vex = true};
}
constexpr Row bmi(const char* n, Ext e, uint8_t pfx, uint8_t map, uint8_t op, Opd reg, Opd vvvv,
                  Opd rm, Flags f, int8_t digit = -1, Imm imm = Imm::None) {
  return Row{.name = n,
             .ext = e,
             .pfx = pfx,
             .map = map,
             .op = op,
             .digit = digit,
             .reg = reg,
             .rm = rm,
             .vvvv = vvvv,
             .gw = 4 | 8,
             .imm = imm,
             .f = f,
             .vex = true};
}
constexpr Row x87m(const char* n, uint8_t op, int8_t digit, uint16_t def, uint16_t undef) {
  return Row{.name = n,
             .ext = Ext::X87,
             .op = op,
             .digit = digit,
             .rm = Opd::M,
             .fsw_def = def,
             .fsw_undef = undef};
}
constexpr Row x87i(const char* n, uint8_t op, uint8_t op2, uint16_t def, uint16_t undef,
                   Flags f = {}) {
  return Row{.name = n,
             .ext = Ext::X87,
             .op = op,
             .f = f,
             .fsw_def = def,
             .fsw_undef = undef,
             .sp = Sp::X87Sti,
             .op2 = op2};
}
constexpr Row x87f(const char* n, uint8_t op2, uint16_t def, uint16_t undef) {
  return Row{.name = n,
             .ext = Ext::X87,
             .op = 0xd9,
             .fsw_def = def,
             .fsw_undef = undef,
             .sp = Sp::X87Fixed,
             .op2 = op2};
}
constexpr Row special(const char* n, uint8_t map, uint8_t op, Sp sp, uint8_t gw, Flags f,
                      int8_t digit = -1, Opd reg = Opd::None, Opd rm = Opd::None,
                      Imm imm = Imm::None) {
  return Row{.name = n,
             .map = map,
             .op = op,
             .digit = digit,
             .reg = reg,
             .rm = rm,
             .gw = gw,
             .imm = imm,
             .f = f,
             .sp = sp};
}

constexpr Row seq(const char* n, std::initializer_list<uint8_t> bytes, Flags f = {}) {
  Row r{.name = n, .f = f, .sp = Sp::Seq};
  for (uint8_t b : bytes) r.seq[r.seq_len++] = b;
  return r;
}

/// The row with its memory-destination form sometimes LOCKed (SDM: LOCK, the lockable list).
constexpr Row locked(Row r) {
  r.lock = true;
  return r;
}

using enum Opd;
using enum Ext;
constexpr uint8_t kV = 2 | 4 | 8;  // 16/32/64-bit forms
constexpr uint8_t kB = 1;          // 8-bit form
constexpr uint8_t k3264 = 4 | 8;
constexpr uint16_t kX87Arith = kC023;  // C1 reports rounding/stack fault; the rest undefined

// clang-format off
constexpr Row kTemplates[] = {
  // ---- integer ALU (SDM: ADD, OR, ADC, SBB, AND, SUB, XOR, CMP) ----
  locked(alu("add r/m,r", 0, 0x01, -1, G, GM, kV, Imm::None, kArith)),
  locked(alu("add r/m8,r8", 0, 0x00, -1, G, GM, kB, Imm::None, kArith)),
  alu("add r,r/m", 0, 0x03, -1, G, GM, kV, Imm::None, kArith),
  locked(alu("or r/m,r", 0, 0x09, -1, G, GM, kV, Imm::None, kLogic)),
  locked(alu("adc r/m,r", 0, 0x11, -1, G, GM, kV, Imm::None, kCarryIn)),
  alu("adc r8,r/m8", 0, 0x12, -1, G, GM, kB, Imm::None, kCarryIn),
  locked(alu("sbb r/m,r", 0, 0x19, -1, G, GM, kV, Imm::None, kCarryIn)),
  alu("and r,r/m", 0, 0x23, -1, G, GM, kV, Imm::None, kLogic),
  locked(alu("sub r/m,r", 0, 0x29, -1, G, GM, kV, Imm::None, kArith)),
  alu("sub r8,r/m8", 0, 0x2a, -1, G, GM, kB, Imm::None, kArith),
  locked(alu("xor r/m,r", 0, 0x31, -1, G, GM, kV, Imm::None, kLogic)),
  alu("cmp r/m,r", 0, 0x39, -1, G, GM, kV, Imm::None, kArith),
  alu("cmp r8,r/m8", 0, 0x3a, -1, G, GM, kB, Imm::None, kArith),
  locked(alu("add r/m,imm", 0, 0x81, 0, None, GM, kV, Imm::Iz, kArith)),
  locked(alu("adc r/m,imm8", 0, 0x83, 2, None, GM, kV, Imm::I8, kCarryIn)),
  locked(alu("sbb r/m8,imm8", 0, 0x80, 3, None, GM, kB, Imm::I8, kCarryIn)),
  locked(alu("and r/m,imm8", 0, 0x83, 4, None, GM, kV, Imm::I8, kLogic)),
  locked(alu("sub r/m,imm", 0, 0x81, 5, None, GM, kV, Imm::Iz, kArith)),
  locked(alu("xor r/m8,imm8", 0, 0x80, 6, None, GM, kB, Imm::I8, kLogic)),
  alu("cmp r/m,imm8", 0, 0x83, 7, None, GM, kV, Imm::I8, kArith),
  alu("test r/m,r", 0, 0x85, -1, G, GM, kV, Imm::None, kLogic),
  alu("test r/m8,imm8", 0, 0xf6, 0, None, GM, kB, Imm::I8, kLogic),
  locked(alu("not r/m", 0, 0xf7, 2, None, GM, kV | kB, Imm::None, kNone)),
  locked(alu("neg r/m", 0, 0xf7, 3, None, GM, kV, Imm::None, kArith)),
  locked(alu("neg r/m8", 0, 0xf6, 3, None, GM, kB, Imm::None, kArith)),
  locked(alu("inc r/m", 0, 0xff, 0, None, GM, kV, Imm::None, kIncDec)),
  locked(alu("dec r/m8", 0, 0xfe, 1, None, GM, kB, Imm::None, kIncDec)),
  alu("mov r/m,r", 0, 0x89, -1, G, GM, kV, Imm::None, kNone),
  alu("mov r8,r/m8", 0, 0x8a, -1, G, GM, kB, Imm::None, kNone),
  alu("mov r/m,imm", 0, 0xc7, 0, None, GM, kV, Imm::Iz, kNone),
  alu("lea r,m", 0, 0x8d, -1, G, M, kV, Imm::None, kNone),
  alu("movzx r,r/m8", 1, 0xb6, -1, G, GM8, kV, Imm::None, kNone),
  alu("movzx r,r/m16", 1, 0xb7, -1, G, GM16, k3264, Imm::None, kNone),
  alu("movsx r,r/m8", 1, 0xbe, -1, G, GM8, kV, Imm::None, kNone),
  alu("movsx r,r/m16", 1, 0xbf, -1, G, GM16, k3264, Imm::None, kNone),
  alu("movsxd r64,r/m32", 0, 0x63, -1, G, GM, 8, Imm::None, kNone),  // source is 32-bit
  locked(alu("xchg r/m,r", 0, 0x87, -1, G, GM, kV, Imm::None, kNone)),
  locked(alu("xadd r/m,r", 1, 0xc1, -1, G, GM, kV, Imm::None, kArith)),
  locked(alu("xadd r/m8,r8", 1, 0xc0, -1, G, GM, kB, Imm::None, kArith)),
  locked(alu("cmpxchg r/m,r", 1, 0xb1, -1, G, GM, kV, Imm::None, kArith)),
  locked(alu("cmpxchg r/m8,r8", 1, 0xb0, -1, G, GM, kB, Imm::None, kArith)),
  // ---- multiply and divide ----
  alu("mul r/m", 0, 0xf7, 4, None, GM, kV, Imm::None, kMul),
  alu("mul r/m8", 0, 0xf6, 4, None, GM, kB, Imm::None, kMul),
  alu("imul r/m", 0, 0xf7, 5, None, GM, kV, Imm::None, kMul),
  alu("imul r,r/m", 1, 0xaf, -1, G, GM, kV, Imm::None, kMul),
  alu("imul r,r/m,imm8", 0, 0x6b, -1, G, GM, kV, Imm::I8, kMul),
  alu("imul r,r/m,imm", 0, 0x69, -1, G, GM, kV, Imm::Iz, kMul),
  special("div r/m", 0, 0xf7, Sp::Div, kV, kDivF, 6, None, GM),
  special("div r/m8", 0, 0xf6, Sp::Div, kB, kDivF, 6, None, GM),
  special("idiv r/m", 0, 0xf7, Sp::Idiv, kV, kDivF, 7, None, GM),
  special("idiv r/m8", 0, 0xf6, Sp::Idiv, kB, kDivF, 7, None, GM),
  // ---- shifts and rotates (count 1..width-1 for immediates; CL may be >= width for 8/16) ----
  alu("rol r/m,imm8", 0, 0xc1, 0, None, GM, kV, Imm::Sh, Flags{0, C, O}),
  alu("ror r/m8,1", 0, 0xd0, 1, None, GM, kB, Imm::None, Flags{0, C | O, 0}),
  alu("rcl r/m,imm8", 0, 0xc1, 2, None, GM, kV, Imm::Sh, Flags{C, C, O}),
  alu("rcr r/m,cl", 0, 0xd3, 3, None, GM, kV | kB, Imm::None, Flags{C, 0, O}),
  alu("rcr r/m,1", 0, 0xd1, 3, None, GM, kV, Imm::None, Flags{C, C | O, 0}),
  alu("shl r/m,imm8", 0, 0xc1, 4, None, GM, kV | kB, Imm::Sh, Flags{0, C | S | Z | P, O | A}),
  alu("shr r/m,1", 0, 0xd1, 5, None, GM, kV, Imm::None, Flags{0, C | S | Z | P | O, A}),
  alu("sar r/m8,imm8", 0, 0xc0, 7, None, GM, kB, Imm::Sh, Flags{0, C | S | Z | P, O | A}),
  alu("shl r/m,cl", 0, 0xd3, 4, None, GM, kV | kB, Imm::None, Flags{0, 0, O | A | C}),
  alu("sar r/m,cl", 0, 0xd3, 7, None, GM, kV, Imm::None, Flags{0, 0, O | A | C}),
  alu("rol r/m,cl", 0, 0xd3, 0, None, GM, kV | kB, Imm::None, Flags{0, 0, O}),
  alu("shld r/m,r,imm8", 1, 0xa4, -1, G, GM, kV, Imm::Sh, Flags{0, C | S | Z | P, O | A}),
  alu("shrd r/m,r,imm8", 1, 0xac, -1, G, GM, kV, Imm::Sh, Flags{0, C | S | Z | P, O | A}),
  alu("shld r/m,r,cl", 1, 0xa5, -1, G, GM, k3264, Imm::None, Flags{0, 0, O | A}),
  alu("shrd r/m,r,cl", 1, 0xad, -1, G, GM, k3264, Imm::None, Flags{0, 0, O | A}),
  // ---- bit operations (register bit offsets only on registers: they can reach outside) ----
  alu("bt r,r", 1, 0xa3, -1, G, G, kV, Imm::None, kBt),
  alu("bts r,r", 1, 0xab, -1, G, G, kV, Imm::None, kBt),
  locked(alu("btr r/m,imm8", 1, 0xba, 6, None, GM, kV, Imm::I8, kBt)),
  locked(alu("btc r/m,imm8", 1, 0xba, 7, None, GM, kV, Imm::I8, kBt)),
  alu("bsf r,r/m", 1, 0xbc, -1, G, GM, kV, Imm::None, Flags{0, Z, C | O | S | A | P}),
  alu("bsr r,r/m", 1, 0xbd, -1, G, GM, kV, Imm::None, Flags{0, Z, C | O | S | A | P}),
  special("bswap r", 1, 0xc8, Sp::OpReg, k3264, kNone),
  special("mov r64,imm64", 0, 0xb8, Sp::OpReg, 8, kNone, -1, None, None, Imm::I64),
  alu("popcnt r,r/m", 1, 0xb8, -1, G, GM, kV, Imm::None, kArith, Sse42, 0xf3),
  alu("lzcnt r,r/m", 1, 0xbd, -1, G, GM, kV, Imm::None, Flags{0, C | Z, O | S | A | P}, Bmi1, 0xf3),
  alu("tzcnt r,r/m", 1, 0xbc, -1, G, GM, kV, Imm::None, Flags{0, C | Z, O | S | A | P}, Bmi1, 0xf3),
  alu("movbe r,m", 2, 0xf0, -1, G, M, kV, Imm::None, kNone),
  alu("movbe m,r", 2, 0xf1, -1, G, M, kV, Imm::None, kNone),
  alu("crc32 r32,r/m8", 2, 0xf0, -1, G32, GM, kB, Imm::None, kNone, Sse42, 0xf2),
  alu("crc32 r,r/m", 2, 0xf1, -1, G, GM, k3264, Imm::None, kNone, Sse42, 0xf2),
  alu("adcx r,r/m", 2, 0xf6, -1, G, GM, k3264, Imm::None, Flags{C, C, 0}, Adx, 0x66),
  alu("adox r,r/m", 2, 0xf6, -1, G, GM, k3264, Imm::None, Flags{O, O, 0}, Adx, 0xf3),
  // ---- condition codes and flag instructions ----
  special("cmovcc r,r/m", 1, 0x40, Sp::Cc, kV, kNone, -1, G, GM),
  special("setcc r/m8", 1, 0x90, Sp::Cc, kB, kNone, 0, None, GM),
  special("jcc rel8 (forward)", 0, 0x70, Sp::Jcc, 0, kNone),
  special("lahf", 0, 0x9f, Sp::Fixed, 0, Flags{S | Z | A | P | C, 0, 0}),
  special("sahf", 0, 0x9e, Sp::Fixed, 0, Flags{0, S | Z | A | P | C, 0}),
  special("clc", 0, 0xf8, Sp::Fixed, 0, Flags{0, C, 0}),
  special("stc", 0, 0xf9, Sp::Fixed, 0, Flags{0, C, 0}),
  special("cmc", 0, 0xf5, Sp::Fixed, 0, Flags{C, C, 0}),
  special("cld", 0, 0xfc, Sp::Fixed, 0, kNone),
  special("std", 0, 0xfd, Sp::Fixed, 0, kNone),
  special("cdq", 0, 0x99, Sp::Fixed, 0, kNone),
  // ---- string ops (op is the byte form; RCX <= 16) ----
  special("rep movs", 0, 0xa4, Sp::Str, kV | kB, kNone),
  special("rep stos", 0, 0xaa, Sp::Str, kV | kB, kNone),
  special("lods", 0, 0xac, Sp::Str, kV | kB, kNone),
  special("repe cmps", 0, 0xa6, Sp::Str, kV | kB, kArith),
  special("repne scas", 0, 0xae, Sp::Str, kV | kB, kArith),
  // ---- stack pairs (RSP ends where it started), sign extensions ----
  seq("call +0 + pop rcx", {0xe8, 0, 0, 0, 0, 0x59}),
  // POPF with TF, NT and AC cleared first: a #DB trap after the last instruction would land
  // in the runner's epilogue; this hypervisor's CPL3 drops NT; and AC (CR0.AM is on) is left
  // to the initial state (x86-diff --align-check).
  seq("push rax + and [rsp] ~(TF|NT|AC) + popfq",
      {0x50, 0x48, 0x81, 0x24, 0x24, 0xff, 0xbe, 0xfb, 0xff, 0x9d}, Flags{0, kAll, 0}),
  seq("pushfq + pop rdx", {0x9c, 0x5a}, Flags{kAll, 0, 0}),
  seq("enter 16 0 + leave", {0xc8, 0x10, 0, 0, 0xc9}),
  seq("push imm32 + pop rsi", {0x68, 0x01, 0, 0, 0x80, 0x5e}),
  seq("cbw", {0x66, 0x98}),
  seq("cwde", {0x98}),
  seq("cdqe", {0x48, 0x98}),
  seq("cwd", {0x66, 0x99}),
  seq("cqo", {0x48, 0x99}),
  locked(alu("cmpxchg8b m64", 1, 0xc7, 1, None, M, 4, Imm::None, Flags{0, Z, 0})),
  locked(alu("cmpxchg16b m128", 1, 0xc7, 1, None, M, 8, Imm::None, Flags{0, Z, 0})),
  alu("nop m", 1, 0x1f, 0, None, M, kV, Imm::None, kNone),  // Capstone 4: no register form
  // ---- system instructions at CPL3: faults through the IDT, and what CPL3 may read ----
  seq("hlt (#GP at CPL3)", {0xf4}),
  seq("cli (#GP at CPL3, IOPL 0)", {0xfa}),
  seq("ud2 (#UD)", {0x0f, 0x0b}),
  alu("smsw r/m", 1, 0x01, 4, None, GM, kV, Imm::None, kNone),
  alu("sgdt m", 1, 0x01, 0, None, M, 4, Imm::None, kNone),
  alu("sidt m", 1, 0x01, 1, None, M, 4, Imm::None, kNone),
  // Not STR/SLDT/LAR/LSL/VERR/VERW/MOV r,Sreg: under this machine's hypervisor CPL3 code runs
  // with the host's GDT and selectors (LAR 0x2b reads Linux's user data segment), so the
  // oracle's answers describe the host, not the guest tables the runners build.
  // ---- BCD and other opcodes invalid in 64-bit mode (#UD) ----
  special("aaa (#UD in 64-bit)", 0, 0x37, Sp::Fixed, 0, kNone),
  special("daa (#UD in 64-bit)", 0, 0x27, Sp::Fixed, 0, kNone),
  // ---- BMI1 / BMI2 ----
  bmi("andn", Bmi1, 0, 2, 0xf2, G, G, GM, Flags{0, S | Z | C | O, A | P}),
  bmi("bextr", Bmi1, 0, 2, 0xf7, G, G, GM, Flags{0, Z | C | O, A | S | P}),
  bmi("blsr", Bmi1, 0, 2, 0xf3, None, G, GM, Flags{0, S | Z | C | O, A | P}, 1),
  bmi("blsmsk", Bmi1, 0, 2, 0xf3, None, G, GM, Flags{0, S | Z | C | O, A | P}, 2),
  bmi("blsi", Bmi1, 0, 2, 0xf3, None, G, GM, Flags{0, S | Z | C | O, A | P}, 3),
  bmi("bzhi", Bmi2, 0, 2, 0xf5, G, G, GM, Flags{0, S | Z | C | O, A | P}),
  bmi("pdep", Bmi2, 0xf2, 2, 0xf5, G, G, GM, kNone),
  bmi("pext", Bmi2, 0xf3, 2, 0xf5, G, G, GM, kNone),
  bmi("mulx", Bmi2, 0xf2, 2, 0xf6, G, G, GM, kNone),
  bmi("rorx", Bmi2, 0xf2, 3, 0xf0, G, None, GM, kNone, -1, Imm::I8),
  bmi("sarx", Bmi2, 0xf3, 2, 0xf7, G, G, GM, kNone),
  bmi("shlx", Bmi2, 0x66, 2, 0xf7, G, G, GM, kNone),
  bmi("shrx", Bmi2, 0xf2, 2, 0xf7, G, G, GM, kNone),
  // ---- x87 (transcendentals and approximations excluded: vendor-specific precision) ----
  x87m("fld m32", 0xd9, 0, 0, kC023),
  x87m("fld m64", 0xdd, 0, 0, kC023),
  x87m("fld m80", 0xdb, 5, 0, kC023),
  x87m("fild m16", 0xdf, 0, 0, kC023),
  x87m("fild m32", 0xdb, 0, 0, kC023),
  x87m("fild m64", 0xdf, 5, 0, kC023),
  x87m("fst m32", 0xd9, 2, 0, kC023),
  x87m("fstp m64", 0xdd, 3, 0, kC023),
  x87m("fstp m80", 0xdb, 7, 0, kC023),
  x87m("fist m16", 0xdf, 2, 0, kC023),
  x87m("fistp m32", 0xdb, 3, 0, kC023),
  x87m("fisttp m64", 0xdd, 1, 0, kC023),
  x87m("fadd m64", 0xdc, 0, 0, kX87Arith),
  x87m("fmul m32", 0xd8, 1, 0, kX87Arith),
  x87m("fsub m64", 0xdc, 4, 0, kX87Arith),
  x87m("fdivr m32", 0xd8, 7, 0, kX87Arith),
  x87m("fidiv m32", 0xda, 6, 0, kX87Arith),
  x87m("fcom m64", 0xdc, 2, kC023 | kC1, 0),
  x87i("fadd st0,st(i)", 0xd8, 0xc0, 0, kX87Arith),
  x87i("fmul st0,st(i)", 0xd8, 0xc8, 0, kX87Arith),
  x87i("fsub st0,st(i)", 0xd8, 0xe0, 0, kX87Arith),
  x87i("fsubr st0,st(i)", 0xd8, 0xe8, 0, kX87Arith),
  x87i("fdiv st0,st(i)", 0xd8, 0xf0, 0, kX87Arith),
  x87i("fdivr st(i),st0", 0xdc, 0xf0, 0, kX87Arith),
  x87i("faddp st(i),st0", 0xde, 0xc0, 0, kX87Arith),
  x87i("fmulp st(i),st0", 0xde, 0xc8, 0, kX87Arith),
  x87i("fsubp st(i),st0", 0xde, 0xe8, 0, kX87Arith),
  x87i("fld st(i)", 0xd9, 0xc0, 0, kC023),
  x87i("fxch st(i)", 0xd9, 0xc8, 0, kC023),
  x87i("fstp st(i)", 0xdd, 0xd8, 0, kC023),
  x87i("ffree st(i)", 0xdd, 0xc0, 0, kC023 | kC1),
  x87i("fcom st(i)", 0xd8, 0xd0, kC023 | kC1, 0),
  x87i("fucomp st(i)", 0xdd, 0xe8, kC023 | kC1, 0),
  x87i("fcomi st0,st(i)", 0xdb, 0xf0, 0, 0, kArith),
  x87i("fucomip st0,st(i)", 0xdf, 0xe8, 0, 0, kArith),
  x87i("fcmovb st0,st(i)", 0xda, 0xc0, 0, 0, Flags{C, 0, 0}),
  x87i("fcmove st0,st(i)", 0xda, 0xc8, 0, 0, Flags{Z, 0, 0}),
  x87i("fcmovbe st0,st(i)", 0xda, 0xd0, 0, 0, Flags{C | Z, 0, 0}),
  x87i("fcmovu st0,st(i)", 0xda, 0xd8, 0, 0, Flags{P, 0, 0}),
  x87i("fcmovnb st0,st(i)", 0xdb, 0xc0, 0, 0, Flags{C, 0, 0}),
  x87i("fcmovnbe st0,st(i)", 0xdb, 0xd0, 0, 0, Flags{C | Z, 0, 0}),
  x87f("fld1", 0xe8, 0, kC023),
  x87f("fldpi", 0xeb, 0, kC023),
  x87f("fldl2e", 0xea, 0, kC023),
  x87f("fldz", 0xee, 0, kC023),
  x87f("fchs", 0xe0, 0, kC023),
  x87f("fabs", 0xe1, 0, kC023),
  x87f("ftst", 0xe4, kC023 | kC1, 0),
  x87f("fxam", 0xe5, kC023 | kC1, 0),
  x87f("fsqrt", 0xfa, 0, kX87Arith),
  x87f("frndint", 0xfc, 0, kX87Arith),
  x87f("fscale", 0xfd, 0, kX87Arith),
  x87f("fxtract", 0xf4, 0, kX87Arith),
  x87f("fprem", 0xf8, kC023 | kC1, 0),
  x87f("fprem1", 0xf5, kC023 | kC1, 0),
  x87f("fdecstp", 0xf6, 0, kC023),
  x87f("fincstp", 0xf7, 0, kC023),
  Row{.name = "fnstsw ax", .ext = X87, .op = 0xdf, .sp = Sp::Fnstsw, .op2 = 0xe0},
  Row{.name = "fnclex", .ext = X87, .op = 0xdb, .fsw_undef = kC023 | kC1, .sp = Sp::Fixed,
      .op2 = 0xe2},
  // ---- SSE ----
  sse("addps", Sse, 0, 1, 0x58), sse("addss", Sse, 0xf3, 1, 0x58),
  sse("mulps", Sse, 0, 1, 0x59), sse("subss", Sse, 0xf3, 1, 0x5c),
  sse("minps", Sse, 0, 1, 0x5d), sse("divss", Sse, 0xf3, 1, 0x5e),
  sse("maxss", Sse, 0xf3, 1, 0x5f), sse("sqrtps", Sse, 0, 1, 0x51),
  sse("andps", Sse, 0, 1, 0x54), sse("andnps", Sse, 0, 1, 0x55),
  sse("orps", Sse, 0, 1, 0x56), sse("xorps", Sse, 0, 1, 0x57),
  sse("cmpps", Sse, 0, 1, 0xc2, Imm::Cmp8), sse("cmpss", Sse, 0xf3, 1, 0xc2, Imm::Cmp8),
  sse("shufps", Sse, 0, 1, 0xc6, Imm::I8), sse("unpcklps", Sse, 0, 1, 0x14),
  sse("unpckhps", Sse, 0, 1, 0x15), sse("movups", Sse, 0, 1, 0x10),
  sse("movaps m,x", Sse, 0, 1, 0x29), sse("movhlps/movlps", Sse, 0, 1, 0x12),
  sse("comiss", Sse, 0, 1, 0x2f, Imm::None, X, XM, kArith),
  sse("ucomiss", Sse, 0, 1, 0x2e, Imm::None, X, XM, kArith),
  sse("cvtsi2ss", Sse, 0xf3, 1, 0x2a, Imm::None, X, GM, kNone, k3264),
  sse("cvttss2si", Sse, 0xf3, 1, 0x2c, Imm::None, G, XM, kNone, k3264),
  sse("cvtss2si", Sse, 0xf3, 1, 0x2d, Imm::None, G, XM, kNone, k3264),
  // ---- SSE2 ----
  sse("addpd", Sse2, 0x66, 1, 0x58), sse("mulsd", Sse2, 0xf2, 1, 0x59),
  sse("subpd", Sse2, 0x66, 1, 0x5c), sse("divpd", Sse2, 0x66, 1, 0x5e),
  sse("minsd", Sse2, 0xf2, 1, 0x5d), sse("maxpd", Sse2, 0x66, 1, 0x5f),
  sse("sqrtsd", Sse2, 0xf2, 1, 0x51), sse("cmppd", Sse2, 0x66, 1, 0xc2, Imm::Cmp8),
  sse("cmpsd", Sse2, 0xf2, 1, 0xc2, Imm::Cmp8), sse("shufpd", Sse2, 0x66, 1, 0xc6, Imm::I8),
  sse("ucomisd", Sse2, 0x66, 1, 0x2e, Imm::None, X, XM, kArith),
  sse("comisd", Sse2, 0x66, 1, 0x2f, Imm::None, X, XM, kArith),
  sse("cvtsi2sd", Sse2, 0xf2, 1, 0x2a, Imm::None, X, GM, kNone, k3264),
  sse("cvttsd2si", Sse2, 0xf2, 1, 0x2c, Imm::None, G, XM, kNone, k3264),
  sse("cvtsd2si", Sse2, 0xf2, 1, 0x2d, Imm::None, G, XM, kNone, k3264),
  sse("cvtps2pd", Sse2, 0, 1, 0x5a), sse("cvtpd2ps", Sse2, 0x66, 1, 0x5a),
  sse("cvtsd2ss", Sse2, 0xf2, 1, 0x5a), sse("cvtss2sd", Sse2, 0xf3, 1, 0x5a),
  sse("cvtdq2ps", Sse2, 0, 1, 0x5b), sse("cvtps2dq", Sse2, 0x66, 1, 0x5b),
  sse("cvttps2dq", Sse2, 0xf3, 1, 0x5b), sse("cvtdq2pd", Sse2, 0xf3, 1, 0xe6),
  sse("cvtpd2dq", Sse2, 0xf2, 1, 0xe6), sse("cvttpd2dq", Sse2, 0x66, 1, 0xe6),
  sse("paddb", Sse2, 0x66, 1, 0xfc), sse("paddw", Sse2, 0x66, 1, 0xfd),
  sse("paddd", Sse2, 0x66, 1, 0xfe), sse("paddq", Sse2, 0x66, 1, 0xd4),
  sse("paddusb", Sse2, 0x66, 1, 0xdc), sse("paddsw", Sse2, 0x66, 1, 0xed),
  sse("psubb", Sse2, 0x66, 1, 0xf8), sse("psubq", Sse2, 0x66, 1, 0xfb),
  sse("psubusw", Sse2, 0x66, 1, 0xd9), sse("psubsb", Sse2, 0x66, 1, 0xe8),
  sse("pmullw", Sse2, 0x66, 1, 0xd5), sse("pmulhw", Sse2, 0x66, 1, 0xe5),
  sse("pmulhuw", Sse2, 0x66, 1, 0xe4), sse("pmuludq", Sse2, 0x66, 1, 0xf4),
  sse("pmaddwd", Sse2, 0x66, 1, 0xf5), sse("pavgb", Sse2, 0x66, 1, 0xe0),
  sse("psadbw", Sse2, 0x66, 1, 0xf6), sse("pand", Sse2, 0x66, 1, 0xdb),
  sse("pandn", Sse2, 0x66, 1, 0xdf), sse("por", Sse2, 0x66, 1, 0xeb),
  sse("pxor", Sse2, 0x66, 1, 0xef), sse("pcmpeqb", Sse2, 0x66, 1, 0x74),
  sse("pcmpeqd", Sse2, 0x66, 1, 0x76), sse("pcmpgtw", Sse2, 0x66, 1, 0x65),
  sse("packsswb", Sse2, 0x66, 1, 0x63), sse("packuswb", Sse2, 0x66, 1, 0x67),
  sse("packssdw", Sse2, 0x66, 1, 0x6b), sse("punpcklbw", Sse2, 0x66, 1, 0x60),
  sse("punpckhwd", Sse2, 0x66, 1, 0x69), sse("punpckldq", Sse2, 0x66, 1, 0x62),
  sse("punpckhqdq", Sse2, 0x66, 1, 0x6d), sse("pminub", Sse2, 0x66, 1, 0xda),
  sse("pmaxsw", Sse2, 0x66, 1, 0xee), sse("pshufd", Sse2, 0x66, 1, 0x70, Imm::I8),
  sse("pshuflw", Sse2, 0xf2, 1, 0x70, Imm::I8), sse("pshufhw", Sse2, 0xf3, 1, 0x70, Imm::I8),
  sse("psllw x,imm8", Sse2, 0x66, 1, 0x71, Imm::I8, None, X, kNone, 0, 6),
  sse("psrad x,imm8", Sse2, 0x66, 1, 0x72, Imm::I8, None, X, kNone, 0, 4),
  sse("psrlq x,imm8", Sse2, 0x66, 1, 0x73, Imm::I8, None, X, kNone, 0, 2),
  sse("pslldq x,imm8", Sse2, 0x66, 1, 0x73, Imm::I8, None, X, kNone, 0, 7),
  sse("psrldq x,imm8", Sse2, 0x66, 1, 0x73, Imm::I8, None, X, kNone, 0, 3),
  sse("psllq x,x/m", Sse2, 0x66, 1, 0xf3), sse("psraw x,x/m", Sse2, 0x66, 1, 0xe1),
  sse("psrld x,x/m", Sse2, 0x66, 1, 0xd2),
  sse("pmovmskb", Sse2, 0x66, 1, 0xd7, Imm::None, G32, X),
  sse("movmskpd", Sse2, 0x66, 1, 0x50, Imm::None, G32, X),
  sse("movd/q x,r/m", Sse2, 0x66, 1, 0x6e, Imm::None, X, GM, kNone, k3264),
  sse("movd/q r/m,x", Sse2, 0x66, 1, 0x7e, Imm::None, X, GM, kNone, k3264),
  sse("movq x,x/m64", Sse2, 0xf3, 1, 0x7e), sse("movdqu", Sse2, 0xf3, 1, 0x6f),
  sse("movdqa m,x", Sse2, 0x66, 1, 0x7f),
  sse("pextrw", Sse2, 0x66, 1, 0xc5, Imm::I8, G32, X),
  sse("pinsrw", Sse2, 0x66, 1, 0xc4, Imm::I8, X, GM, kNone, 4),
  // ---- SSE3 / SSSE3 ----
  sse("addsubps", Sse3, 0xf2, 1, 0xd0), sse("haddpd", Sse3, 0x66, 1, 0x7c),
  sse("hsubps", Sse3, 0xf2, 1, 0x7d), sse("movshdup", Sse3, 0xf3, 1, 0x16),
  sse("movddup", Sse3, 0xf2, 1, 0x12),
  sse("pshufb", Ssse3, 0x66, 2, 0x00), sse("phaddw", Ssse3, 0x66, 2, 0x01),
  sse("phaddsw", Ssse3, 0x66, 2, 0x03), sse("pmaddubsw", Ssse3, 0x66, 2, 0x04),
  sse("phsubd", Ssse3, 0x66, 2, 0x06), sse("psignb", Ssse3, 0x66, 2, 0x08),
  sse("pmulhrsw", Ssse3, 0x66, 2, 0x0b), sse("pabsd", Ssse3, 0x66, 2, 0x1e),
  sse("palignr", Ssse3, 0x66, 3, 0x0f, Imm::I8),
  // ---- SSE4.1 ----
  sse("pblendvb (xmm0)", Sse41, 0x66, 2, 0x10), sse("blendvps (xmm0)", Sse41, 0x66, 2, 0x14),
  sse("ptest", Sse41, 0x66, 2, 0x17, Imm::None, X, XM, kArith),
  sse("pmovsxbw", Sse41, 0x66, 2, 0x20), sse("pmovsxdq", Sse41, 0x66, 2, 0x25),
  sse("pmovzxbd", Sse41, 0x66, 2, 0x31), sse("pmovzxwq", Sse41, 0x66, 2, 0x34),
  sse("pmuldq", Sse41, 0x66, 2, 0x28), sse("pcmpeqq", Sse41, 0x66, 2, 0x29),
  sse("packusdw", Sse41, 0x66, 2, 0x2b), sse("pminsb", Sse41, 0x66, 2, 0x38),
  sse("pminud", Sse41, 0x66, 2, 0x3b), sse("pmaxsd", Sse41, 0x66, 2, 0x3d),
  sse("pmaxuw", Sse41, 0x66, 2, 0x3e), sse("pmulld", Sse41, 0x66, 2, 0x40),
  sse("phminposuw", Sse41, 0x66, 2, 0x41),
  sse("roundps", Sse41, 0x66, 3, 0x08, Imm::I8), sse("roundsd", Sse41, 0x66, 3, 0x0b, Imm::I8),
  sse("blendps", Sse41, 0x66, 3, 0x0c, Imm::I8), sse("pblendw", Sse41, 0x66, 3, 0x0e, Imm::I8),
  sse("pextrb", Sse41, 0x66, 3, 0x14, Imm::I8, X, GM, kNone, 4),
  sse("pextrd/q", Sse41, 0x66, 3, 0x16, Imm::I8, X, GM, kNone, k3264),
  sse("extractps", Sse41, 0x66, 3, 0x17, Imm::I8, X, GM, kNone, 4),
  sse("pinsrb", Sse41, 0x66, 3, 0x20, Imm::I8, X, GM, kNone, 4),
  sse("insertps", Sse41, 0x66, 3, 0x21, Imm::I8),
  sse("pinsrd/q", Sse41, 0x66, 3, 0x22, Imm::I8, X, GM, kNone, k3264),
  sse("dpps", Sse41, 0x66, 3, 0x40, Imm::I8), sse("dppd", Sse41, 0x66, 3, 0x41, Imm::I8),
  sse("mpsadbw", Sse41, 0x66, 3, 0x42, Imm::I8),
  // ---- SSE4.2 and CLMUL ----
  sse("pcmpgtq", Sse42, 0x66, 2, 0x37),
  sse("pcmpestri", Sse42, 0x66, 3, 0x61, Imm::I8, X, XM, kArith),
  sse("pcmpestrm", Sse42, 0x66, 3, 0x60, Imm::I8, X, XM, kArith),
  sse("pcmpistri", Sse42, 0x66, 3, 0x63, Imm::I8, X, XM, kArith),
  sse("pcmpistrm", Sse42, 0x66, 3, 0x62, Imm::I8, X, XM, kArith),
  sse("pclmulqdq", Sse42, 0x66, 3, 0x44, Imm::I8),
  // ---- AVX (VEX.128 zeroes bits 255:128: a check of its own) ----
  vex("vaddps", Avx, 0, 1, 0x58, 3), vex("vmulpd", Avx, 0x66, 1, 0x59, 3),
  vex("vsubss", Avx, 0xf3, 1, 0x5c, 1), vex("vdivpd", Avx, 0x66, 1, 0x5e, 3),
  vex("vminps", Avx, 0, 1, 0x5d, 3), vex("vmaxsd", Avx, 0xf2, 1, 0x5f, 1),
  vex("vsqrtpd", Avx, 0x66, 1, 0x51, 3, 0, Imm::None, X, None),
  vex("vandnps", Avx, 0, 1, 0x55, 3), vex("vxorpd", Avx, 0x66, 1, 0x57, 3),
  vex("vcmpps", Avx, 0, 1, 0xc2, 3, 0, Imm::Cmp32), vex("vcmpsd", Avx, 0xf2, 1, 0xc2, 1, 0, Imm::Cmp32),
  vex("vshufps", Avx, 0, 1, 0xc6, 3, 0, Imm::I8), vex("vunpckhpd", Avx, 0x66, 1, 0x15, 3),
  vex("vaddsubpd", Avx, 0x66, 1, 0xd0, 3), vex("vhaddps", Avx, 0xf2, 1, 0x7c, 3),
  vex("vroundpd", Avx, 0x66, 3, 0x09, 3, 0, Imm::I8, X, None),
  vex("vdpps", Avx, 0x66, 3, 0x40, 3, 0, Imm::I8),
  vex("vblendps", Avx, 0x66, 3, 0x0c, 3, 0, Imm::I8),
  vex("vcvtdq2ps", Avx, 0, 1, 0x5b, 3, 0, Imm::None, X, None),
  vex("vcvttps2dq", Avx, 0xf3, 1, 0x5b, 3, 0, Imm::None, X, None),
  vex("vcvtps2pd", Avx, 0, 1, 0x5a, 2, 0, Imm::None, X, None, X128M),
  vex("vpermilps x,x,x/m", Avx, 0x66, 2, 0x0c, 3),
  vex("vpermilpd x,x/m,imm8", Avx, 0x66, 3, 0x05, 3, 0, Imm::I8, X, None),
  vex("vperm2f128", Avx, 0x66, 3, 0x06, 2, 0, Imm::I8),
  vex("vinsertf128", Avx, 0x66, 3, 0x18, 2, 0, Imm::I8, X, X, X128M),
  vex("vextractf128", Avx, 0x66, 3, 0x19, 2, 0, Imm::I8, X, None, X128M),
  vex("vbroadcastss m", Avx, 0x66, 2, 0x18, 3, 0, Imm::None, X, None, M),
  vex("vtestps", Avx, 0x66, 2, 0x0e, 3, 0, Imm::None, X, None, XM, kArith),
  vex("vptest", Avx, 0x66, 2, 0x17, 3, 0, Imm::None, X, None, XM, kArith),
  vex("vmovups", Avx, 0, 1, 0x10, 3, 0, Imm::None, X, None),
  vex("vpermilpd x,x,x/m", Avx, 0x66, 2, 0x0d, 3),
  vex("vcvtpd2ps", Avx, 0x66, 1, 0x5a, 3, 0, Imm::None, X, None),
  vex("vcvttpd2dq", Avx, 0x66, 1, 0xe6, 3, 0, Imm::None, X, None),
  vex("vrcpps", Avx, 0, 1, 0x53, 3, 0, Imm::None, X, None),
  vex("vmovmskps", Avx, 0, 1, 0x50, 3, 0, Imm::None, G32, None, X),
  vex("vunpcklps", Avx, 0, 1, 0x14, 3), vex("vsqrtss", Avx, 0xf3, 1, 0x51, 1),
  vex("vcvtsd2ss", Avx, 0xf2, 1, 0x5a, 1), vex("vmovddup", Avx, 0xf2, 1, 0x12, 3, 0, Imm::None, X, None),
  Row{.name = "vzeroupper", .ext = Avx, .map = 1, .op = 0x77, .sp = Sp::Fixed, .vex = true},
  // ---- AVX2 ----
  vex("vpaddb", Avx2, 0x66, 1, 0xfc, 3), vex("vpaddq", Avx2, 0x66, 1, 0xd4, 3),
  vex("vpsubw", Avx2, 0x66, 1, 0xf9, 3), vex("vpmulld", Avx2, 0x66, 2, 0x40, 3),
  vex("vpmulhuw", Avx2, 0x66, 1, 0xe4, 3), vex("vpmaddubsw", Avx2, 0x66, 2, 0x04, 3),
  vex("vpshufb", Avx2, 0x66, 2, 0x00, 3), vex("vpsadbw", Avx2, 0x66, 1, 0xf6, 3),
  vex("vpcmpgtq", Avx2, 0x66, 2, 0x37, 3), vex("vpminud", Avx2, 0x66, 2, 0x3b, 3),
  vex("vpackusdw", Avx2, 0x66, 2, 0x2b, 3), vex("vpunpcklbw", Avx2, 0x66, 1, 0x60, 3),
  vex("vpalignr", Avx2, 0x66, 3, 0x0f, 3, 0, Imm::I8),
  vex("vpblendd", Avx2, 0x66, 3, 0x02, 3, 0, Imm::I8),
  vex("vpermd", Avx2, 0x66, 2, 0x36, 2), vex("vpermps", Avx2, 0x66, 2, 0x16, 2),
  vex("vpermq", Avx2, 0x66, 3, 0x00, 2, 1, Imm::I8, X, None),
  vex("vpermpd", Avx2, 0x66, 3, 0x01, 2, 1, Imm::I8, X, None),
  vex("vperm2i128", Avx2, 0x66, 3, 0x46, 2, 0, Imm::I8),
  vex("vinserti128", Avx2, 0x66, 3, 0x38, 2, 0, Imm::I8, X, X, X128M),
  vex("vextracti128", Avx2, 0x66, 3, 0x39, 2, 0, Imm::I8, X, None, X128M),
  vex("vpbroadcastb", Avx2, 0x66, 2, 0x78, 3, 0, Imm::None, X, None, X128M),
  vex("vpbroadcastq", Avx2, 0x66, 2, 0x59, 3, 0, Imm::None, X, None, X128M),
  vex("vpsllvd", Avx2, 0x66, 2, 0x47, 3, 0), vex("vpsllvq", Avx2, 0x66, 2, 0x47, 3, 1),
  vex("vpsravd", Avx2, 0x66, 2, 0x46, 3, 0), vex("vpsrlvq", Avx2, 0x66, 2, 0x45, 3, 1),
  vex("vpmovsxbd", Avx2, 0x66, 2, 0x21, 3, 0, Imm::None, X, None, X128M),
  vex("vpsrlw y,imm8", Avx2, 0x66, 1, 0x71, 3, 0, Imm::I8, None, X, X, kNone, 2),
  vex("vpslldq y,imm8", Avx2, 0x66, 1, 0x73, 3, 0, Imm::I8, None, X, X, kNone, 7),
  vex("vpmovmskb", Avx2, 0x66, 1, 0xd7, 3, 0, Imm::None, G32, None, X),
  vex("vpmaxsb", Avx2, 0x66, 2, 0x3c, 3), vex("vpsubusb", Avx2, 0x66, 1, 0xd8, 3),
  vex("vpackssdw", Avx2, 0x66, 1, 0x6b, 3), vex("vpunpckhqdq", Avx2, 0x66, 1, 0x6d, 3),
  vex("vpmuldq", Avx2, 0x66, 2, 0x28, 3), vex("vphaddd", Avx2, 0x66, 2, 0x02, 3),
  vex("vpcmpeqq", Avx2, 0x66, 2, 0x29, 3), vex("vpminsw", Avx2, 0x66, 1, 0xea, 3),
  vex("vpabsb", Avx2, 0x66, 2, 0x1c, 3, 0, Imm::None, X, None),
  vex("vpshufd", Avx2, 0x66, 1, 0x70, 3, 0, Imm::I8, X, None),
  vex("vmpsadbw", Avx2, 0x66, 3, 0x42, 3, 0, Imm::I8),
  vex("vpsrld y,x/m", Avx2, 0x66, 1, 0xd2, 3, 0, Imm::None, X, X, X128M),
  vex("vpsraw y,x/m", Avx2, 0x66, 1, 0xe1, 3, 0, Imm::None, X, X, X128M),
  vex("vpbroadcastw", Avx2, 0x66, 2, 0x79, 3, 0, Imm::None, X, None, X128M),
  vex("vbroadcastsd y,x", Avx2, 0x66, 2, 0x19, 2, 0, Imm::None, X, None, X128M),
  vex("vpsrlvd", Avx2, 0x66, 2, 0x45, 3, 0),
  // ---- AVX/AVX2 forms of the IR vector ops (tcg/ir/vec_ops.inc), VEX.128 and VEX.256 ----
  vex("vpand", Avx2, 0x66, 1, 0xdb, 3), vex("vpandn", Avx2, 0x66, 1, 0xdf, 3),
  vex("vpor", Avx2, 0x66, 1, 0xeb, 3), vex("vpxor", Avx2, 0x66, 1, 0xef, 3),
  vex("vandps", Avx, 0, 1, 0x54, 3), vex("vorpd", Avx, 0x66, 1, 0x56, 3),
  vex("vpaddw", Avx2, 0x66, 1, 0xfd, 3), vex("vpaddd", Avx2, 0x66, 1, 0xfe, 3),
  vex("vpsubb", Avx2, 0x66, 1, 0xf8, 3), vex("vpsubd", Avx2, 0x66, 1, 0xfa, 3),
  vex("vpsubq", Avx2, 0x66, 1, 0xfb, 3),
  vex("vpcmpeqb", Avx2, 0x66, 1, 0x74, 3), vex("vpcmpeqw", Avx2, 0x66, 1, 0x75, 3),
  vex("vpcmpeqd", Avx2, 0x66, 1, 0x76, 3), vex("vpcmpgtb", Avx2, 0x66, 1, 0x64, 3),
  vex("vpcmpgtw", Avx2, 0x66, 1, 0x65, 3), vex("vpcmpgtd", Avx2, 0x66, 1, 0x66, 3),
  vex("vpminub", Avx2, 0x66, 1, 0xda, 3), vex("vpmaxub", Avx2, 0x66, 1, 0xde, 3),
  vex("vpmaxsw", Avx2, 0x66, 1, 0xee, 3),
  vex("vpmullw", Avx2, 0x66, 1, 0xd5, 3), vex("vpmuludq", Avx2, 0x66, 1, 0xf4, 3),
  vex("vpunpcklwd", Avx2, 0x66, 1, 0x61, 3), vex("vpunpckldq", Avx2, 0x66, 1, 0x62, 3),
  vex("vpunpcklqdq", Avx2, 0x66, 1, 0x6c, 3), vex("vpunpckhbw", Avx2, 0x66, 1, 0x68, 3),
  vex("vpunpckhwd", Avx2, 0x66, 1, 0x69, 3), vex("vpunpckhdq", Avx2, 0x66, 1, 0x6a, 3),
  vex("vunpcklpd", Avx, 0x66, 1, 0x14, 3), vex("vunpckhps", Avx, 0, 1, 0x15, 3),
  vex("vpsllw y,imm8", Avx2, 0x66, 1, 0x71, 3, 0, Imm::I8, None, X, X, kNone, 6),
  vex("vpsraw y,imm8", Avx2, 0x66, 1, 0x71, 3, 0, Imm::I8, None, X, X, kNone, 4),
  vex("vpslld y,imm8", Avx2, 0x66, 1, 0x72, 3, 0, Imm::I8, None, X, X, kNone, 6),
  vex("vpsrld y,imm8", Avx2, 0x66, 1, 0x72, 3, 0, Imm::I8, None, X, X, kNone, 2),
  vex("vpsrad y,imm8", Avx2, 0x66, 1, 0x72, 3, 0, Imm::I8, None, X, X, kNone, 4),
  vex("vpsllq y,imm8", Avx2, 0x66, 1, 0x73, 3, 0, Imm::I8, None, X, X, kNone, 6),
  vex("vpsrlq y,imm8", Avx2, 0x66, 1, 0x73, 3, 0, Imm::I8, None, X, X, kNone, 2),
  vex("vpsrldq y,imm8", Avx2, 0x66, 1, 0x73, 3, 0, Imm::I8, None, X, X, kNone, 3),
  vex("vmovdqa x,x", Avx, 0x66, 1, 0x6f, 3, 0, Imm::None, X, None, X),
  vex("vmovdqu", Avx, 0xf3, 1, 0x6f, 3, 0, Imm::None, X, None),
  // ---- FMA ----
  vex("vfmadd132ps", Fma, 0x66, 2, 0x98, 3, 0), vex("vfmadd213pd", Fma, 0x66, 2, 0xa8, 3, 1),
  vex("vfmadd231ss", Fma, 0x66, 2, 0xb9, 1, 0), vex("vfmsub231pd", Fma, 0x66, 2, 0xba, 3, 1),
  vex("vfnmadd213ps", Fma, 0x66, 2, 0xac, 3, 0), vex("vfnmsub132sd", Fma, 0x66, 2, 0x9f, 1, 1),
  vex("vfmaddsub231ps", Fma, 0x66, 2, 0xb6, 3, 0), vex("vfmsubadd213pd", Fma, 0x66, 2, 0xa7, 3, 1),
  vex("vfnmsub231ps", Fma, 0x66, 2, 0xbe, 3, 0), vex("vfmadd213sd", Fma, 0x66, 2, 0xa9, 1, 1),
  vex("vfmsub132ss", Fma, 0x66, 2, 0x9b, 1, 0), vex("vfnmadd231pd", Fma, 0x66, 2, 0xbc, 3, 1),
};
// clang-format on
constexpr size_t kNumRows = sizeof(kTemplates) / sizeof(kTemplates[0]);

// Arithmetic flags each condition code reads (SDM vol. 1, appendix B).
constexpr uint16_t kCcReads[16] = {O, O, C, C, Z,     Z,     C | Z,     C | Z,
                                   S, S, P, P, S | O, S | O, Z | S | O, Z | S | O};

bool is_gpr(Opd k) {
  return k == G || k == G32 || k == GM || k == GM8 || k == GM16;
}
bool is_vec(Opd k) {
  return k == X || k == XM || k == X128 || k == X128M;
}
bool may_be_mem(Opd k) {
  return k == GM || k == GM8 || k == GM16 || k == M || k == XM || k == X128M;
}

}  // namespace

namespace {

/// Builds one snippet, tracking which arithmetic flags and x87 condition codes are undefined.
class Builder {
 public:
  Builder(std::mt19937_64& rng, const std::vector<bool>& row_ok, bool any_base, bool lock,
          Snippet& out, bool misalign_vec = false)
      : rng_(rng),
        row_ok_(row_ok),
        any_base_(any_base),
        lock_(lock),
        misalign_vec_(misalign_vec),
        out_(out) {}

  void instruction() {
    for (;;) {
      bool want_base = any_base_ && rand(10) < 4;  // integer rows are ~40% of a snippet
      uint16_t idx = uint16_t(rand(kNumRows));
      const Row& r = kTemplates[idx];
      if (!row_ok_[idx] || (want_base && r.ext != Base)) continue;
      if (r.sp == Sp::Jcc && depth_ > 0) continue;
      out_.rows.push_back(idx);
      emit(r);
      return;
    }
  }

  /// One instruction of row `idx` (with the helpers it needs).
  void instruction_of_row(uint16_t idx) {
    out_.rows.push_back(idx);
    emit(kTemplates[idx]);
  }

  uint16_t undef() const { return undef_; }
  uint16_t fsw_undef() const { return fsw_undef_; }

 private:
  uint64_t rand(uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng_); }
  void byte(uint8_t b) { code().push_back(b); }
  void u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) byte(uint8_t(v >> (8 * i)));
  }
  std::vector<uint8_t>& code() { return *code_; }

  // Flags this instruction reads must be defined: if not, a CMP defines all six first.
  void need_flags(uint16_t read) {
    if (!(read & undef_)) return;
    unsigned a = unsigned(rand(16)), b = unsigned(rand(16));
    byte(uint8_t(0x48 | (b >> 3) << 2 | (a >> 3)));
    byte(0x39);  // cmp r/m64(a), r64(b)
    byte(uint8_t(0xc0 | (b & 7) << 3 | (a & 7)));
    if (depth_ == 0) undef_ = 0;
  }
  void flags(const Flags& f) {
    if (depth_ == 0) undef_ &= uint16_t(~f.write);
    undef_ |= f.undef;
  }
  void fsw(uint16_t def, uint16_t undef) {
    if (depth_ == 0) fsw_undef_ &= uint16_t(~def);
    fsw_undef_ |= undef;
  }

  unsigned pick_width(uint8_t gw) {
    unsigned n = 0, ws[4];
    for (unsigned i = 0; i < 4; ++i)
      if (gw & (1u << i)) ws[n++] = 8u << i;
    return n ? ws[rand(n)] : 0;
  }
  // A GPR the snippet may write: never RSP or R15; without REX, 4..7 are AH..BH for 8-bit.
  unsigned pick_gpr(unsigned width, bool norex) {
    for (;;) {
      unsigned v = unsigned(rand(norex ? 8 : 15));
      if (v == 4 && !(norex && width == 8)) continue;
      return v;
    }
  }
  static unsigned kind_width(Opd k, unsigned width) {
    switch (k) {
      case G32:
        return 32;
      case GM8:
        return 8;
      case GM16:
        return 16;
      default:
        return width;
    }
  }
  uint32_t mem_disp(bool vector) {
    uint32_t d = uint32_t(rand(layout::kDataSize - 64));
    if (vector && misalign_vec_) return rand(2) ? d & ~15u : rand(2) ? d & ~7u : d;
    return vector ? d & ~31u : (rand(2) ? d & ~7u : d);
  }
  void imm(Imm k, unsigned width) {
    switch (k) {
      case Imm::None:
        break;
      case Imm::I8:
        byte(uint8_t(rand(256)));
        break;
      case Imm::Cmp8:
        byte(uint8_t(rand(8)));
        break;
      case Imm::Cmp32:
        byte(uint8_t(rand(32)));
        break;
      case Imm::Sh:
        byte(uint8_t(1 + rand(width - 1)));
        break;
      case Imm::Iz:
        if (width == 8)
          byte(uint8_t(rand(256)));
        else if (width == 16) {
          byte(uint8_t(rand(256)));
          byte(uint8_t(rand(256)));
        } else
          u32(uint32_t(rand(2) ? rand(1ull << 32) : rand(64) - 32));
        break;
      case Imm::I64: {
        uint64_t v = rand(2) ? rng_() : (rand(2) ? rand(256) : ~0ull << rand(64));
        for (int i = 0; i < 8; ++i) byte(uint8_t(v >> (8 * i)));
        break;
      }
    }
  }

  void emit(const Row& r) {
    switch (r.sp) {
      case Sp::Jcc:
        return emit_jcc(r);
      case Sp::Str:
        return emit_string(r);
      case Sp::Fixed:
        need_flags(r.f.read);
        if (r.vex) {
          byte(0xc5);
          byte(0xf8);  // R=1 vvvv=1111 L=0 pp=0
        }
        byte(r.op);
        if (r.op2) byte(r.op2);
        flags(r.f);
        fsw(r.fsw_def, r.fsw_undef);
        return;
      case Sp::Seq:
        need_flags(r.f.read);
        for (unsigned i = 0; i < r.seq_len; ++i) byte(r.seq[i]);
        flags(r.f);
        return;
      case Sp::X87Sti:
        need_flags(r.f.read);
        byte(r.op);
        byte(uint8_t(r.op2 + rand(8)));
        flags(r.f);
        fsw(r.fsw_def, r.fsw_undef);
        return;
      case Sp::X87Fixed:
        byte(r.op);
        byte(r.op2);
        fsw(r.fsw_def, r.fsw_undef);
        return;
      case Sp::Fnstsw:
        if (fsw_undef_) {  // FTST defines C0..C3 first
          byte(0xd9);
          byte(0xe4);
          if (depth_ == 0) fsw_undef_ = 0;
        }
        byte(r.op);
        byte(r.op2);
        return;
      case Sp::OpReg: {
        unsigned width = pick_width(r.gw);
        unsigned reg = pick_gpr(width, false);
        byte(uint8_t(0x40 | (width == 64) << 3 | (reg >> 3)));
        if (r.map == 1) byte(0x0f);
        byte(uint8_t(r.op + (reg & 7)));
        imm(r.imm, width);
        return;
      }
      default:
        return emit_modrm(r);
    }
  }

  void emit_modrm(const Row& r) {
    unsigned width = pick_width(r.gw);
    unsigned L = 0;
    if (r.vex) L = (r.vl == 3) ? unsigned(rand(2)) : (r.vl == 2 ? 1 : 0);
    bool mem = r.rm == M || (may_be_mem(r.rm) && rand(2));
    bool norex = !r.vex && width == 8 && !mem && r.ext == Base && rand(2);
    bool is_div = r.sp == Sp::Div || r.sp == Sp::Idiv;
    auto operand = [&](Opd k) -> unsigned {
      if (is_gpr(k)) {
        unsigned w = kind_width(k, width);
        for (;;) {
          unsigned v = pick_gpr(w, norex);
          if (is_div && (v == 0 || v == 2 || v == 4)) continue;
          return v;
        }
      }
      if (is_vec(k)) return unsigned(rand(16));
      return 0;
    };
    unsigned reg = r.reg == None ? unsigned(r.digit < 0 ? 0 : r.digit) : operand(r.reg);
    unsigned rm = mem ? 7 : operand(r.rm);
    unsigned vvvv = operand(r.vvvv);
    uint32_t disp = mem ? mem_disp(is_vec(r.rm) || r.vex || r.ext != Base) : 0;
    unsigned w = r.w >= 0 ? unsigned(r.w) : unsigned(width == 64);
    unsigned rex_r = r.reg == None ? 0 : reg >> 3, rex_b = mem ? 1 : rm >> 3;

    uint8_t cc = 0;
    if (r.sp == Sp::Cc) {
      cc = uint8_t(rand(16));
      need_flags(kCcReads[cc]);
    }
    need_flags(r.f.read);
    if (is_div) emit_div_setup(r, width, mem, rm, disp, norex);

    if (mem && rand(8) == 0) {
      // A segment override (every base is 0 at CPL3 in 64-bit mode) or the address-size
      // prefix ([R15D + disp32]: the data page is below 4 GiB).
      static constexpr uint8_t kPrefixes[] = {0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x67};
      byte(kPrefixes[rand(std::size(kPrefixes))]);
    }
    if (r.vex) {
      uint8_t pp = r.pfx == 0x66 ? 1 : r.pfx == 0xf3 ? 2 : r.pfx == 0xf2 ? 3 : 0;
      if (r.map == 1 && !w && !rex_b && rand(2)) {
        byte(0xc5);
        byte(uint8_t((!rex_r) << 7 | (~vvvv & 15) << 3 | L << 2 | pp));
      } else {
        byte(0xc4);
        byte(uint8_t((!rex_r) << 7 | 1 << 6 | (!rex_b) << 5 | r.map));
        byte(uint8_t(w << 7 | (~vvvv & 15) << 3 | L << 2 | pp));
      }
    } else {
      if (mem && r.lock && lock_ && rand(4) == 0) byte(0xf0);
      if (width == 16 && (is_gpr(r.reg) || is_gpr(r.rm))) byte(0x66);
      if (r.pfx) byte(r.pfx);
      if (!norex) byte(uint8_t(0x40 | w << 3 | rex_r << 2 | rex_b));
      if (r.map >= 1) byte(0x0f);
      if (r.map == 2) byte(0x38);
      if (r.map == 3) byte(0x3a);
    }
    uint8_t op = r.op;
    if (r.sp == Sp::Cc) op = uint8_t(op + cc);
    byte(op);
    byte(uint8_t((mem ? 0x80 : 0xc0) | (reg & 7) << 3 | (rm & 7)));
    if (mem) u32(disp);
    imm(r.imm, width);
    flags(r.f);
  }

  // DIV/IDIV: a dividend whose quotient fits (high half zero / sign extension) and an odd,
  // so nonzero, divisor. IDIV of the most negative dividend by -1 still raises #DE, as it
  // should.
  void emit_div_setup(const Row& r, unsigned width, bool mem, unsigned rm, uint32_t disp,
                      bool norex) {
    if (r.sp == Sp::Div) {
      if (width == 8) {
        byte(0x0f);
        byte(0xb6);
        byte(0xc0);
      }  // movzx eax, al
      else {
        byte(0xba);
        u32(0);
      }  // mov edx, 0
    } else {
      if (width == 8) {
        byte(0x66);
        byte(0x98);
      }  // cbw
      else if (width == 16) {
        byte(0x66);
        byte(0x99);
      }  // cwd
      else if (width == 32)
        byte(0x99);  // cdq
      else {
        byte(0x48);
        byte(0x99);
      }  // cqo
    }
    // or r/m, 1 (same width and operand as the divide)
    if (width == 16) byte(0x66);
    if (!norex) byte(uint8_t(0x40 | (width == 64) << 3 | (mem ? 1 : rm >> 3)));
    byte(width == 8 ? 0x80 : 0x83);
    byte(uint8_t((mem ? 0x80 : 0xc0) | 1 << 3 | (rm & 7)));
    if (mem) u32(disp);
    byte(1);
    flags(kLogic);
  }

  void emit_jcc(const Row&) {
    uint8_t cc = uint8_t(rand(16));
    need_flags(kCcReads[cc]);
    std::vector<uint8_t> body;
    std::vector<uint8_t>* saved = code_;
    code_ = &body;
    ++depth_;
    unsigned n = 1 + unsigned(rand(3));
    for (unsigned i = 0; i < n; ++i) instruction();
    --depth_;
    code_ = saved;
    byte(uint8_t(0x70 + cc));
    byte(uint8_t(body.size()));  // at most 3 instructions with helpers: < 128 bytes
    code().insert(code().end(), body.begin(), body.end());
  }

  void emit_string(const Row& r) {
    unsigned width = pick_width(r.gw);
    uint32_t si = uint32_t(512 + rand(layout::kDataSize - 1024));
    uint32_t di = uint32_t(512 + rand(layout::kDataSize - 1024));
    uint32_t count = uint32_t(rand(17));
    byte(0x49);
    byte(0x8d);
    byte(0xb7);
    u32(si);  // lea rsi, [r15 + si]
    byte(0x49);
    byte(0x8d);
    byte(0xbf);
    u32(di);  // lea rdi, [r15 + di]
    byte(0xb9);
    u32(count);  // mov ecx, count
    bool compare = r.op == 0xa6 || r.op == 0xae;
    uint8_t rep = 0;
    unsigned k = unsigned(rand(4));
    if (compare)
      rep = k == 0 ? 0 : (k & 1 ? 0xf3 : 0xf2);
    else
      rep = k == 0 ? 0 : 0xf3;
    if (width == 16) byte(0x66);
    if (rep) byte(rep);
    if (width == 64) byte(0x48);
    byte(uint8_t(r.op + (width > 8)));
    if (compare && (!rep || count > 0)) flags(r.f);
  }

  std::mt19937_64& rng_;
  const std::vector<bool>& row_ok_;
  bool any_base_;
  bool lock_;
  bool misalign_vec_;
  Snippet& out_;
  std::vector<uint8_t>* code_ = &out_.code;
  int depth_ = 0;
  uint16_t undef_ = 0, fsw_undef_ = 0;
};

// Values that exercise edge cases: signed/unsigned boundaries and small numbers.
uint64_t interesting_int(std::mt19937_64& rng) {
  static constexpr uint64_t kVals[] = {0,
                                       1,
                                       2,
                                       0x7f,
                                       0x80,
                                       0xff,
                                       0x7fff,
                                       0x8000,
                                       0xffff,
                                       0x7fffffff,
                                       0x80000000,
                                       0xffffffff,
                                       ~0ull,
                                       0x8000000000000000,
                                       0x7fffffffffffffff,
                                       0x100000000};
  switch (rng() % 4) {
    case 0:
      return kVals[rng() % std::size(kVals)];
    case 1:
      return rng() % 64;
    default:
      return rng();
  }
}
double interesting_double(std::mt19937_64& rng) {
  static constexpr double kVals[] = {0.0,
                                     -0.0,
                                     1.0,
                                     -1.0,
                                     0.5,
                                     1.5,
                                     3.0,
                                     -2.5,
                                     1e300,
                                     -1e-300,
                                     4.9e-324,
                                     2.2250738585072014e-308,
                                     9.2233720368547758e18,
                                     -2147483648.0,
                                     2147483647.5,
                                     0.1,
                                     3.14159265358979};
  switch (rng() % 4) {
    case 0:
      return kVals[rng() % std::size(kVals)];
    case 1:
      return double(int64_t(rng() % 2001) - 1000) / 8.0;
    default: {
      double d;
      uint64_t bits = rng();
      std::memcpy(&d, &bits, 8);
      return d;
    }
  }
}
void put_value(std::mt19937_64& rng, uint8_t* p) {  // 8 bytes of something interesting
  uint64_t v;
  switch (rng() % 4) {
    case 0:
      v = interesting_int(rng);
      break;
    case 1: {
      double d = interesting_double(rng);
      std::memcpy(&v, &d, 8);
      break;
    }
    case 2: {
      float f[2] = {float(interesting_double(rng)), float(interesting_double(rng))};
      std::memcpy(&v, f, 8);
      break;
    }
    default:
      v = rng();
      break;
  }
  std::memcpy(p, &v, 8);
}

}  // namespace

const char* ext_name(Ext e) {
  static constexpr const char* kNames[] = {"base",  "x87",    "sse",    "sse2", "sse3",
                                           "ssse3", "sse4.1", "sse4.2", "bmi1", "bmi2",
                                           "adx",   "avx",    "avx2",   "fma"};
  return kNames[unsigned(e)];
}

X86Gen::X86Gen(uint64_t seed, uint32_t exts, std::span<const char* const> skip_rows)
    : rng_(seed), row_ok_(kNumRows) {
  for (size_t i = 0; i < kNumRows; ++i) {
    bool ok = exts & ext_bit(kTemplates[i].ext);
    for (const char* p : skip_rows)
      if (std::string_view(kTemplates[i].name).starts_with(p)) ok = false;
    row_ok_[i] = ok;
    if (ok && kTemplates[i].ext == Base) any_base_ = true;
  }
}

const char* X86Gen::row_name(uint16_t row) {
  return row < kNumRows ? kTemplates[row].name : "?";
}
size_t X86Gen::num_rows() {
  return kNumRows;
}
Ext X86Gen::row_ext(uint16_t row) {
  return row < kNumRows ? kTemplates[row].ext : Ext::Base;
}

X86UserState X86Gen::random_state() {
  X86UserState s;
  for (auto& g : s.gpr) g = interesting_int(rng_);
  s.gpr[4] = layout::kStackAddr + layout::kStackSize - 0x100;
  s.gpr[kDataBaseReg] = layout::kDataAddr;
  s.rflags = (rng_() & kAll) | (rand(4) == 0 ? 0x400 : 0) | 0x202;
  if (align_check_) s.rflags |= 0x40000;  // EFLAGS.AC
  for (auto& y : s.ymm)
    for (unsigned i = 0; i < 4; ++i) put_value(rng_, reinterpret_cast<uint8_t*>(&y.q[i]));
  static constexpr uint32_t kRc[] = {0, 1, 2, 3};
  s.mxcsr = 0x1f80 | kRc[rand(4)] << 13 | (rand(8) == 0 ? 0x8000 : 0) |
            (rand(8) == 0 ? 0x40 : 0);  // FTZ, DAZ
  if (unmask_mxcsr_ && rand(8) == 0)    // some SIMD exceptions unmasked: #XM (CR4.OSXMMEXCPT)
    s.mxcsr &= ~(uint32_t(1 + rand(63)) << 7);
  static constexpr uint16_t kPc[] = {0, 2, 3, 3};  // single, double, extended (01 reserved)
  s.fcw = uint16_t(0x7f | 0x40 | kPc[rand(4)] << 8 | rand(4) << 10);
  unsigned top = unsigned(rand(8)), used = unsigned(rand(9));
  s.fsw = uint16_t(top << 11);
  s.ftw = 0;
  for (unsigned i = 0; i < 8; ++i) {
    long double v = i < used ? (long double)interesting_double(rng_) : 0.0L;
    uint8_t raw[16] = {};
    std::memcpy(raw, &v, 10);
    std::memcpy(&s.st[i].mantissa, raw, 8);
    std::memcpy(&s.st[i].sign_exp, raw + 8, 2);
    if (i < used) s.ftw |= uint8_t(1u << ((top + i) & 7));
  }
  for (size_t off = 0; off < layout::kDataSize; off += 8) put_value(rng_, &s.data[off]);
  return s;
}

void Snippet::masks_at(uint64_t at, uint16_t& rflags, uint16_t& fsw) const {
  rflags = fsw = 0;
  for (const Mark& m : marks) {
    rflags |= m.rflags_undef;
    fsw |= m.fsw_undef;
    if (m.end > at) break;
  }
}

Snippet X86Gen::row_snippet(uint16_t row) {
  Snippet out;
  if (row >= kNumRows) return out;
  Builder b(rng_, row_ok_, any_base_, lock_, out, misalign_vec_);
  b.instruction_of_row(row);
  out.marks.push_back({uint32_t(out.code.size()), b.undef(), b.fsw_undef()});
  out.rflags_undef = b.undef();
  out.fsw_undef = b.fsw_undef();
  return out;
}

bool X86Gen::row_is_invalid(uint16_t row) {
  return row < kNumRows &&
         std::string_view(kTemplates[row].name).find("#UD") != std::string_view::npos;
}

Snippet X86Gen::random_snippet(unsigned length) {
  Snippet out;
  Builder b(rng_, row_ok_, any_base_, lock_, out, misalign_vec_);
  for (unsigned i = 0; i < length; ++i) {
    b.instruction();
    out.marks.push_back({uint32_t(out.code.size()), b.undef(), b.fsw_undef()});
  }
  out.rflags_undef = b.undef();
  out.fsw_undef = b.fsw_undef();
  return out;
}

}  // namespace orrery::tests::x86fuzz
