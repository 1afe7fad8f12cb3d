#include "tcg/ir/ir.h"

#include <cinttypes>
#include <cstdio>

#include "tcg/ir/helpers.h"
#include "tcg/ir/vec_eval.h"

namespace orrery::tcg::ir {

namespace {

bool is_int(Type t) {
  return t == Type::I1 || t == Type::I8 || t == Type::I16 || t == Type::I32 || t == Type::I64;
}

}  // namespace

Type type_of_bits(unsigned b) {
  switch (b) {
    case 1:
      return Type::I1;
    case 8:
      return Type::I8;
    case 16:
      return Type::I16;
    case 32:
      return Type::I32;
    case 64:
      return Type::I64;
    case 128:
      return Type::I128;
    case 256:
      return Type::I256;
    default:
      return Type::V;
  }
}

std::string_view type_name(Type t) {
  switch (t) {
    case Type::V:
      return "void";
    case Type::I1:
      return "i1";
    case Type::I8:
      return "i8";
    case Type::I16:
      return "i16";
    case Type::I32:
      return "i32";
    case Type::I64:
      return "i64";
    case Type::I128:
      return "i128";
    case Type::I256:
      return "i256";
  }
  return "?";
}

std::string_view cond_name(Cond c) {
  static constexpr std::string_view kNames[] = {"eq",  "ne",  "ult", "ule", "ugt",
                                                "uge", "slt", "sle", "sgt", "sge"};
  unsigned i = static_cast<unsigned>(c);
  return i < std::size(kNames) ? kNames[i] : "?";
}

std::string_view atomic_op_name(AtomicOp op) {
  switch (op) {
    case AtomicOp::Add:
      return "add";
    case AtomicOp::And:
      return "and";
    case AtomicOp::Or:
      return "or";
    case AtomicOp::Xor:
      return "xor";
    case AtomicOp::Xchg:
      return "xchg";
  }
  return "?";
}

std::string_view exit_reason_name(ExitReason r) {
  switch (r) {
    case ExitReason::Lookup:
      return "lookup";
    case ExitReason::Exception:
      return "exception";
    case ExitReason::Halt:
      return "halt";
    case ExitReason::Hypercall:
      return "hypercall";
    case ExitReason::Supervisor:
      return "supervisor";
    case ExitReason::Undefined:
      return "undefined";
    case ExitReason::Breakpoint:
      return "breakpoint";
    case ExitReason::Step:
      return "step";
    case ExitReason::FetchFault:
      return "fetch_fault";
  }
  return "?";
}

std::string print(const Block& b) {
  std::string out;
  char buf[256];
  std::snprintf(buf, sizeof buf, "block pc=0x%" PRIx64 " size=%u insns=%u\n", b.guest_pc,
                b.guest_size, b.num_insns);
  out += buf;
  for (size_t n = 0; n < b.insts.size(); ++n) {
    const Inst& i = b.insts[n];
    if (i.op == Opcode::Nop) continue;
    if (i.op == Opcode::InsnStart) {
      std::snprintf(buf, sizeof buf, " ---- 0x%" PRIx64 "\n", i.imm);
      out += buf;
      continue;
    }
    Type rt = result_type(i);
    if (rt != Type::V) {
      std::snprintf(buf, sizeof buf, "  v%zu:%s = ", n, std::string(type_name(rt)).c_str());
    } else {
      std::snprintf(buf, sizeof buf, "  ");
    }
    out += buf;
    out += op_info(i.op).name;
    if (op_info(i.op).result != Slot::T || i.op == Opcode::SetReg)
      if (rt != i.type && i.type != Type::V) {
        out += ".";
        out += type_name(i.type);
      }
    for (unsigned k = 0; k < i.nargs; ++k) {
      std::snprintf(buf, sizeof buf, "%s v%u", k ? "," : "", i.args[k].id);
      out += buf;
    }
    switch (i.op) {
      case Opcode::Const:
      case Opcode::PcRel:
      case Opcode::GetReg:
      case Opcode::SetReg:
        std::snprintf(buf, sizeof buf, "%s%s0x%" PRIx64, i.nargs ? "," : " ",
                      i.op == Opcode::Const || i.op == Opcode::PcRel ? "$" : "@", i.imm);
        out += buf;
        break;
      case Opcode::Cmp:
        out += ", ";
        out += cond_name(static_cast<Cond>(i.imm));
        break;
      case Opcode::ExtractU:
      case Opcode::ExtractS:
      case Opcode::Deposit:
        std::snprintf(buf, sizeof buf, ", pos=%" PRIu64 " len=%" PRIu64, i.imm, i.imm2);
        out += buf;
        break;
      case Opcode::Load:
      case Opcode::Store:
      case Opcode::AtomicRmw:
      case Opcode::AtomicCmpxchg:
      case Opcode::VecLoad:
      case Opcode::VecStore: {
        MemOp m = MemOp::decode(i.imm);
        std::snprintf(buf, sizeof buf, ", %s%u mmu%u%s%s%s", m.sign ? "s" : "u", m.size() * 8,
                      m.mmu_idx, m.align ? " aligned" : "", m.required ? " required" : "",
                      m.addr32 ? " a32" : "");
        out += buf;
        if (i.op == Opcode::AtomicRmw && i.imm2 < kNumAtomicOps) {
          out += " ";
          out += atomic_op_name(AtomicOp(i.imm2));
        }
        break;
      }
      case Opcode::VecLane:
      case Opcode::VecHalf:
        std::snprintf(buf, sizeof buf, i.op == Opcode::VecLane ? ", q%" PRIu64 : ", h%" PRIu64,
                      i.imm);
        out += buf;
        break;
      case Opcode::VecOp1:
      case Opcode::VecOp2:
        out += i.imm < kNumVecOps ? ", " : ", ?";
        if (i.imm < kNumVecOps) out += vec_op_info(VecOp(i.imm)).name;
        if (i.op == Opcode::VecOp1 || i.imm2 != 0) {
          std::snprintf(buf, sizeof buf, " $0x%" PRIx64, i.imm2);
          out += buf;
        }
        break;
      case Opcode::Fence:
        std::snprintf(buf, sizeof buf, " kind=%" PRIu64, i.imm);
        out += buf;
        break;
      case Opcode::TrapIf:
        out += " @";
        out += reinterpret_cast<const Helper*>(i.imm)->name;
        std::snprintf(buf, sizeof buf, "(0x%" PRIx64 ")", i.imm2);
        out += buf;
        break;
      case Opcode::Call:
      case Opcode::CallPure:
        out += " @";
        out += reinterpret_cast<const Helper*>(i.imm)->name;
        break;
      default:
        break;
    }
    out += "\n";
  }
  const Terminal& t = b.term;
  switch (t.kind) {
    case Terminal::Kind::None:
      out += "  <no terminal>\n";
      break;
    case Terminal::Kind::Jump:
      std::snprintf(buf, sizeof buf, "  jump 0x%" PRIx64 "\n", t.target);
      out += buf;
      break;
    case Terminal::Kind::Branch:
      std::snprintf(buf, sizeof buf, "  branch v%u ? 0x%" PRIx64 " : 0x%" PRIx64 "\n", t.cond.id,
                    t.target, t.target2);
      out += buf;
      break;
    case Terminal::Kind::Indirect:
      std::snprintf(buf, sizeof buf, "  jump_indirect v%u\n", t.value.id);
      out += buf;
      break;
    case Terminal::Kind::Exit:
      if (t.pc_in_state) {
        std::snprintf(buf, sizeof buf, "  exit %s pc=<state> arg=0x%" PRIx64 "\n",
                      std::string(exit_reason_name(t.reason)).c_str(), t.arg);
      } else {
        std::snprintf(buf, sizeof buf, "  exit %s pc=0x%" PRIx64 " arg=0x%" PRIx64 "\n",
                      std::string(exit_reason_name(t.reason)).c_str(), t.target, t.arg);
      }
      out += buf;
      break;
  }
  return out;
}

std::string verify(const Block& b) {
  char buf[200];
  auto fail = [&](size_t n, const char* what) {
    const Opcode op = b.insts[n].op;
    const char* name = static_cast<unsigned>(op) < kNumOpcodes ? op_info(op).name : "?";
    std::snprintf(buf, sizeof buf, "v%zu (%s): %s", n, name, what);
    return std::string(buf);
  };
  for (size_t n = 0; n < b.insts.size(); ++n) {
    const Inst& i = b.insts[n];
    if (static_cast<unsigned>(i.op) >= kNumOpcodes) return fail(n, "bad opcode");
    const OpInfo& info = op_info(i.op);
    if (i.op == Opcode::Nop) continue;
    bool is_call = i.op == Opcode::Call || i.op == Opcode::CallPure;
    if (is_call ? i.nargs > 3 : i.nargs != info.num_args()) return fail(n, "wrong argument count");
    // Vector values: GetReg/SetReg and the lane operations at either vector width.
    const bool vec_only = i.op == Opcode::VecOp1 || i.op == Opcode::VecOp2 ||
                          i.op == Opcode::VecLoad || i.op == Opcode::VecStore;
    const bool vec_reg =
        (i.op == Opcode::GetReg || i.op == Opcode::SetReg || vec_only) && is_vec(i.type);
    if (vec_only && !vec_reg) return fail(n, "vector op on a non-vector type");
    if (!vec_reg && (info.result == Slot::T || i.op == Opcode::Cmp || i.op == Opcode::AddCarry ||
                     i.op == Opcode::AddOvf || i.op == Opcode::SetReg || i.op == Opcode::Store)) {
      if (!is_int(i.type) ||
          (i.type == Type::I1 && info.result == Slot::T && i.op != Opcode::Const &&
           i.op != Opcode::GetReg && i.op != Opcode::Select && i.op != Opcode::And &&
           i.op != Opcode::Or && i.op != Opcode::Xor && i.op != Opcode::Not &&
           i.op != Opcode::ZExt && i.op != Opcode::Trunc))
        return fail(n, "bad type");
    }
    for (unsigned k = 0; k < i.nargs; ++k) {
      Value a = i.args[k];
      if (!a.valid() || a.id >= n) return fail(n, "argument not defined before use");
      const Inst& def = b.insts[a.id];
      if (def.op == Opcode::Nop) return fail(n, "argument is a removed instruction");
      Type at = result_type(def);
      if (at == Type::V) return fail(n, "argument has no value");
      Slot s = is_call ? Slot::I64 : info.args[k];
      Type want = s == Slot::T ? i.type : fixed_type(s);
      if (s == Slot::A) {
        if (!is_int(at)) return fail(n, "argument must be an integer");
        if (i.op == Opcode::Trunc && bits(at) < bits(i.type)) return fail(n, "trunc widens");
        if ((i.op == Opcode::ZExt || i.op == Opcode::SExt) && bits(at) > bits(i.type))
          return fail(n, "extension narrows");
      } else if (at != want) {
        return fail(n, "argument type mismatch");
      }
    }
    if (i.op == Opcode::ExtractU || i.op == Opcode::ExtractS || i.op == Opcode::Deposit) {
      if (i.imm2 == 0 || i.imm + i.imm2 > bits(i.type)) return fail(n, "field out of range");
    }
    if (i.op == Opcode::Cmp && i.imm > static_cast<uint64_t>(Cond::Sge)) return fail(n, "bad cond");
    if ((i.op == Opcode::VecOp1 || i.op == Opcode::VecOp2) &&
        (i.imm >= kNumVecOps || vec_op_info(VecOp(i.imm)).arity != i.nargs))
      return fail(n, "bad vector op");
    if ((i.op == Opcode::VecOp1 || i.op == Opcode::VecOp2) && is_fp_vec_op(VecOp(i.imm)) &&
        i.type != Type::I128)
      return fail(n, "floating-point vector rows are 128-bit only");
    if ((i.op == Opcode::VecLane || i.op == Opcode::VecHalf) && i.imm > 1)
      return fail(n, "lane out of range");
    if ((i.op == Opcode::Load || i.op == Opcode::Store) &&
        MemOp::decode(i.imm).size() * 8 > bits(i.type))
      return fail(n, "memory size wider than value");
    if ((i.op == Opcode::VecLoad || i.op == Opcode::VecStore) &&
        (MemOp::decode(i.imm).size() * 8 != bits(i.type) || MemOp::decode(i.imm).sign))
      return fail(n, "vector memory size is not its type's");
    if ((i.op == Opcode::Load || i.op == Opcode::Store || i.op == Opcode::AtomicRmw ||
         i.op == Opcode::AtomicCmpxchg) &&
        MemOp::decode(i.imm).size() > 8)
      return fail(n, "scalar memory size over 8 bytes");
    if (i.op == Opcode::AtomicRmw || i.op == Opcode::AtomicCmpxchg) {
      const MemOp m = MemOp::decode(i.imm);
      if (m.size() * 8 != bits(i.type) || m.sign) return fail(n, "atomic size is not its type's");
      if (i.op == Opcode::AtomicRmw && i.imm2 >= kNumAtomicOps) return fail(n, "bad atomic op");
    }
    if ((is_call || i.op == Opcode::TrapIf) && i.imm == 0) return fail(n, "call without helper");
  }
  const Terminal& t = b.term;
  auto check_val = [&](Value v, Type want) -> bool {
    return v.valid() && v.id < b.insts.size() && b.insts[v.id].op != Opcode::Nop &&
           result_type(b.insts[v.id]) == want;
  };
  switch (t.kind) {
    case Terminal::Kind::None:
      return "block has no terminal";
    case Terminal::Kind::Branch:
      if (!check_val(t.cond, Type::I1)) return "branch condition is not an i1 value";
      break;
    case Terminal::Kind::Indirect:
      if (!check_val(t.value, Type::I64)) return "indirect target is not an i64 value";
      break;
    default:
      break;
  }
  return {};
}

}  // namespace orrery::tcg::ir
