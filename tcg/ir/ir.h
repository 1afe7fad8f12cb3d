// Orrery's intermediate representation: one guest translation block as a list of typed SSA
// instructions ending in an explicit terminal. Guest-neutral: guest state is addressed by byte
// offset into the CPU state structure, so partial registers (x86 AH/AX/EAX) are plain narrower
// GetReg/SetReg at the right offset.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace orrery::tcg::ir {

enum class Type : uint8_t { V, I1, I8, I16, I32, I64, I128, I256 };

/// Width in bits of an integer type (0 for V).
constexpr unsigned bits(Type t) {
  switch (t) {
    case Type::I1:
      return 1;
    case Type::I8:
      return 8;
    case Type::I16:
      return 16;
    case Type::I32:
      return 32;
    case Type::I64:
      return 64;
    case Type::I128:
      return 128;
    case Type::I256:
      return 256;
    default:
      return 0;
  }
}
constexpr uint64_t mask(Type t) {
  unsigned b = bits(t);
  return b >= 64 ? ~0ull : (1ull << b) - 1;
}
Type type_of_bits(unsigned bits);
/// The vector value types (bags of lanes; see VecOp1 in opcodes.inc).
constexpr bool is_vec(Type t) {
  return t == Type::I128 || t == Type::I256;
}
std::string_view type_name(Type t);

enum OpFlags : uint8_t {
  kPure = 0,
  kSideEffect = 1,
  kMayFault = 2,
  kRegsBarrier = 4,
};

enum class Opcode : uint8_t {
#define OP(name, res, a0, a1, a2, flags) name,
#include "tcg/ir/opcodes.inc"
#undef OP
  Count_
};
constexpr unsigned kNumOpcodes = static_cast<unsigned>(Opcode::Count_);

/// Type slot kinds used by the opcode table.
enum class Slot : uint8_t { V, T, A, I1, I8, I16, I32, I64, I128, I256 };

struct OpInfo {
  const char* name;
  Slot result;
  Slot args[3];
  uint8_t flags;
  unsigned num_args() const {
    unsigned n = 0;
    while (n < 3 && args[n] != Slot::V) ++n;
    return n;
  }
};
namespace detail {
// Inline so the passes, the verifier and the code generators, which ask for every instruction,
// index it directly (a call per instruction was ~4% of reg_elim).
inline constexpr OpInfo kOpTable[] = {
#define OP(name, res, a0, a1, a2, flags) {#name, Slot::res, {Slot::a0, Slot::a1, Slot::a2}, flags},
#include "tcg/ir/opcodes.inc"
#undef OP
};
static_assert(sizeof(kOpTable) / sizeof(kOpTable[0]) == kNumOpcodes);
}  // namespace detail

inline const OpInfo& op_info(Opcode op) {
  return detail::kOpTable[static_cast<unsigned>(op)];
}
/// The type a fixed slot stands for (V for V, T and A).
constexpr Type fixed_type(Slot s) {
  switch (s) {
    case Slot::I1:
      return Type::I1;
    case Slot::I8:
      return Type::I8;
    case Slot::I16:
      return Type::I16;
    case Slot::I32:
      return Type::I32;
    case Slot::I64:
      return Type::I64;
    case Slot::I128:
      return Type::I128;
    case Slot::I256:
      return Type::I256;
    default:
      return Type::V;
  }
}
inline bool is_pure(Opcode op) {
  return (op_info(op).flags & (kSideEffect | kMayFault)) == 0;
}

/// Comparison predicates for Opcode::Cmp.
enum class Cond : uint8_t { Eq, Ne, Ult, Ule, Ugt, Uge, Slt, Sle, Sgt, Sge };
std::string_view cond_name(Cond c);

/// Memory operation descriptor carried in Inst::imm of Load/Store (and VecLoad/VecStore).
struct MemOp {
  uint8_t size_log2 = 0;  // 0..3: 1, 2, 4, 8 bytes; 4 and 5 (16, 32 bytes) only on
                          // VecLoad/VecStore (I128, I256)
  bool sign = false;      // loads: sign-extend to the result type
  uint8_t mmu_idx = 0;    // which TLB (privilege / translation regime) the guest uses
  bool align = false;     // fault on misaligned access (exclusives, acquire/release, x86 #AC):
                          // PageTranslator::raise_alignment_fault; checked at align_bytes()
  // A 32-bit address (x86 outside 64-bit mode). The convention: the frontend computes the
  // address in I32 and zero-extends it to I64 (so it wraps at 4 GiB for free) and sets this
  // flag, which only the slow path reads: the bytes of an access that runs past 0xffffffff
  // wrap to address 0, as on the CPU.
  bool addr32 = false;
  // The access must be aligned to its size whatever the guest's alignment checking (x86
  // MOVAPS and legacy-SSE 16-byte operands: #GP(0)): a misaligned one raises
  // PageTranslator::raise_required_alignment_fault before any translation.
  bool required = false;

  constexpr uint64_t encode() const {
    return uint64_t(size_log2 & 3) | (uint64_t(sign) << 2) | (uint64_t(align) << 3) |
           (uint64_t(addr32) << 4) | (uint64_t(size_log2 >> 2) << 5) | (uint64_t(required) << 6) |
           (uint64_t(mmu_idx) << 8);
  }
  static constexpr MemOp decode(uint64_t v) {
    return MemOp{uint8_t((v & 3) | ((v >> 3) & 4)),
                 bool(v & 4),
                 uint8_t((v >> 8) & 0xff),
                 bool(v & 8),
                 bool(v & 16),
                 bool(v & 64)};
  }
  constexpr unsigned size() const { return 1u << size_log2; }
  /// The alignment `align` checks: the access size, but at most 16 bytes. A 32-byte vector
  /// access is checked as two 16-byte elements: x86 raises #AC for a ymm operand that is not
  /// 16-byte aligned and none at 16 mod 32 (seen on silicon with x86-diff --misalign-vec
  /// --align-check), as AArch64 checks LDP Q by its element.
  constexpr unsigned align_bytes() const { return size() < 16 ? size() : 16; }
  /// The alignment an inline TLB fast path must see before it may skip the slow path's checks:
  /// `required` wants the whole size, `align` align_bytes(), otherwise any address will do.
  constexpr unsigned fast_align() const { return required ? size() : align ? align_bytes() : 1; }
};

enum class FenceKind : uint8_t { Full, Load, Store, Instruction };

/// Inst::imm2 of AtomicRmw: the new memory value from the old one and the operand. Subtraction
/// is Add of the negated operand.
enum class AtomicOp : uint8_t { Add, And, Or, Xor, Xchg };
constexpr unsigned kNumAtomicOps = 5;
std::string_view atomic_op_name(AtomicOp op);

/// An SSA value: the index of the instruction that produces it.
struct Value {
  uint32_t id = kNone;
  static constexpr uint32_t kNone = 0xffffffff;
  bool valid() const { return id != kNone; }
  bool operator==(const Value&) const = default;
};

struct Inst {
  Opcode op = Opcode::Nop;
  Type type = Type::V;  // the table's T: the result type, or the operand type of Cmp, AddCarry,
                        // AddOvf, SetReg and Store, whose results are fixed by the table
  uint8_t nargs = 0;
  Value args[3];
  uint64_t imm = 0;
  uint64_t imm2 = 0;
};

/// The type of the value an instruction produces (V for none).
inline Type result_type(const Inst& i) {
  const Slot r = op_info(i.op).result;
  return r == Slot::T ? i.type : fixed_type(r);
}

/// Why a block returns to the dispatcher (Terminal::Kind::Exit).
enum class ExitReason : uint8_t {
  Lookup,      // nothing special: state changed in a way that needs a fresh TB lookup
  Exception,   // a helper raised a guest exception and already updated guest state
  Halt,        // WFI/HLT: wait for an interrupt
  Hypercall,   // HVC-style call to the board; Terminal::arg is the immediate
  Supervisor,  // SVC/SYSCALL when the board handles it (user-mode or bare-metal traps)
  Undefined,   // an unallocated or unimplemented encoding; Terminal::arg is the encoding
  Breakpoint,  // debugger breakpoint
  Step,        // single-step done
  FetchFault,  // the block's first instruction crosses onto a page that cannot be fetched
               // (see exec::CodeReader): the engine raises the fetch fault; never executed
};
std::string_view exit_reason_name(ExitReason r);

struct Terminal {
  enum class Kind : uint8_t {
    None,      // not yet set (the verifier rejects it)
    Jump,      // direct jump to target
    Branch,    // if cond then target else target2 (both direct)
    Indirect,  // jump to the PC held in value
    Exit,      // return to the dispatcher with reason; the PC is target, or the state's PC when
               // pc_in_state is set (a helper already wrote it)
  };
  Kind kind = Kind::None;
  Value cond;
  Value value;
  uint64_t target = 0;
  uint64_t target2 = 0;
  ExitReason reason = ExitReason::Lookup;
  bool pc_in_state = false;
  uint64_t arg = 0;
};

struct Block {
  uint64_t guest_pc = 0;    // first guest instruction
  uint32_t guest_size = 0;  // bytes of guest code covered
  uint32_t num_insns = 0;   // guest instructions
  std::vector<Inst> insts;
  Terminal term;
  // Set by a frontend whose every PC-derived value is a PcRel, an InsnStart, a direct target
  // or an exit PC (PC-relative by construction) and that took no decision on the PC's value
  // beyond its offset in the page: the block may run at any address with the same page offset
  // and the same bytes (tcg/exec/translation_cache.h).
  bool pc_relative = false;

  const Inst& at(Value v) const { return insts[v.id]; }
  Type type_of(Value v) const { return result_type(insts[v.id]); }
};

std::string print(const Block& b);

/// Returns an empty string when the block is well-formed, or the first problem found.
std::string verify(const Block& b);

}  // namespace orrery::tcg::ir
