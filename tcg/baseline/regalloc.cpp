#include "tcg/baseline/regalloc.h"

#include <algorithm>

namespace orrery::tcg::baseline {

using ir::Opcode;
using ir::Type;

bool calls_on_main_line(const ir::Inst& in, bool const_count) {
  const Type t = in.type;
  const bool wide = t == Type::I64 || t == Type::I32;
  switch (in.op) {
    case Opcode::Call:
    case Opcode::CallPure:
      return true;
    case Opcode::MulHiU:
    case Opcode::MulHiS:
      return t != Type::I64;
    case Opcode::Shl:
    case Opcode::Lshr:
    case Opcode::Ashr:
    case Opcode::Rotr: {
      if (!const_count) return !wide;
      if (wide) return false;
      if (t == Type::I8 || t == Type::I16) return in.op == Opcode::Rotr;
      return true;
    }
    case Opcode::AddC:
    case Opcode::AddCarry:
    case Opcode::AddOvf:
      return t == Type::I1;
    case Opcode::ExtractS:
      return in.imm2 == 0 || in.imm2 >= 64;
    case Opcode::Nop:
    case Opcode::Const:
    case Opcode::PcRel:
    case Opcode::ZExt:
    case Opcode::InsnStart:
    case Opcode::GetReg:
    case Opcode::SetReg:
    case Opcode::VecBuild:
    case Opcode::VecLane:
    case Opcode::VecConcat:
    case Opcode::VecHalf:
    case Opcode::VecOp1:
    case Opcode::VecOp2:
    case Opcode::Add:
    case Opcode::Sub:
    case Opcode::And:
    case Opcode::Or:
    case Opcode::Xor:
    case Opcode::Mul:
    case Opcode::Not:
    case Opcode::Neg:
    case Opcode::SExt:
    case Opcode::Trunc:
    case Opcode::ExtractU:
    case Opcode::Deposit:
    case Opcode::Cmp:
    case Opcode::Select:
    case Opcode::Load:
    case Opcode::Store:
    case Opcode::AtomicRmw:
    case Opcode::AtomicCmpxchg:
    case Opcode::TrapIf:
    case Opcode::Fence:
      return false;
    default:
      return true;  // generic evaluation (or no code at all: the block is not compiled)
  }
}

bool shares_source_home(const ir::Block& b, const ir::Inst& in) {
  if (in.op == Opcode::ZExt) return true;  // canonical values are already zero-extended
  if (in.op != Opcode::Trunc) return false;
  // A Trunc of a value with no bits above its width: a zero-extending load or a field of at
  // most that width (arm64's LDR W, LDRB, LDRH read back as W registers).
  const ir::Inst& src = b.insts[in.args[0].id];
  const unsigned width = ir::bits(in.type);
  if (src.op == Opcode::Load) {
    const ir::MemOp m = ir::MemOp::decode(src.imm);
    return !m.sign && m.size() * 8 <= width;
  }
  return src.op == Opcode::ExtractU && src.imm2 <= width;
}

void allocate(const ir::Block& b, std::vector<ValueHome>& homes, Allocation& out, bool registers,
              std::span<const std::pair<uint32_t, uint32_t>> extra_reads) {
  const size_t n = b.insts.size();
  homes.assign(n, ValueHome{});
  out.slots = 0;
  out.callee.clear();
  out.calls.assign(n, 0);
  out.calls_before.assign(n + 1, 0);
  // Constants, aliases (shares_source_home: the alias shares its source's home, so the source
  // lives as long as the alias is read), uses and last uses.
  for (size_t i = 0; i < n; ++i) {
    const ir::Inst& in = b.insts[i];
    ValueHome& h = homes[i];
    h.end = uint32_t(i);
    h.root = uint32_t(i);
    const bool alias = shares_source_home(b, in);
    if (in.op == Opcode::Const) {
      h.konst = true;
      h.k = in.imm & ir::mask(in.type);
    } else if (alias) {
      const ValueHome& src = homes[in.args[0].id];
      h.root = src.root;
      h.konst = src.konst;
      h.k = src.k;
    }
    for (unsigned k = 0; k < in.nargs; ++k) {
      ValueHome& a = homes[in.args[k].id];
      a.uses += alias ? 2 : 1;
      homes[a.root].end = uint32_t(i);
    }
    const bool const_count = in.nargs > 1 && homes[in.args[1].id].konst;
    out.calls[i] = calls_on_main_line(in, const_count);
    out.calls_before[i + 1] = out.calls_before[i] + out.calls[i];
  }
  for (const auto& [v, at] : extra_reads) {
    ValueHome& a = homes[v];
    a.uses += 2;  // never the single use that lets a store be dropped
    homes[a.root].end = std::max(homes[a.root].end, at);
  }
  for (ir::Value v : {b.term.cond, b.term.value}) {
    if (!v.valid()) continue;
    ++homes[v.id].uses;
    homes[homes[v.id].root].end = uint32_t(n);
  }
  // One linear scan: a register is free for the result of the instruction making its value's
  // last read (the code generator reads every operand before it writes a result register, or
  // computes in rax when an operand would be overwritten first).
  int64_t busy_until[16];
  for (int64_t& e : busy_until) e = -1;
  uint16_t callee_used = 0;
  auto take = [&](Reg r, size_t i) {
    if (busy_until[r] > int64_t(i)) return false;
    busy_until[r] = homes[i].end;
    homes[i].reg = r;
    return true;
  };
  for (size_t i = 0; i < n; ++i) {
    const ir::Inst& in = b.insts[i];
    ValueHome& h = homes[i];
    const Type rt = ir::result_type(in);
    if (rt == Type::V || h.konst) continue;
    if (h.root != uint32_t(i)) {  // shares_source_home
      h.slot = homes[h.root].slot;
      h.reg = homes[h.root].reg;
      continue;
    }
    if (ir::is_vec(rt)) {  // vectors: 16 or 32 bytes, two or four slots (movdqu/vmovdqu)
      h.slot = out.slots;
      out.slots += int32_t(ir::bits(rt) / 64);
      continue;
    }
    bool placed = false;
    if (registers) {
      // Calls strictly inside (i, end): the value must survive them.
      const bool crosses = h.end > i + 1 && out.calls_before[h.end] != out.calls_before[i + 1];
      if (!crosses)
        for (Reg r : kCallerPool)
          if ((placed = take(r, i))) break;
      if (!placed)
        for (Reg r : kCalleePool)
          if ((placed = take(r, i))) {
            callee_used |= uint16_t(1u << r);
            break;
          }
    }
    if (!placed) h.slot = out.slots++;
  }
  for (Reg r : kCalleePool)
    if (callee_used & (1u << r)) out.callee.push_back(r);
}

}  // namespace orrery::tcg::baseline
