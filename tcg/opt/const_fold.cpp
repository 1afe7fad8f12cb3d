#include <utility>

#include "tcg/ir/eval.h"
#include "tcg/opt/passes.h"
#include "tcg/opt/rewrite.h"

namespace orrery::tcg::opt {

using ir::Inst;
using ir::Opcode;

namespace {

bool foldable(Opcode op) {
  return ir::is_pure(op) && op != Opcode::GetReg && op != Opcode::CallPure && op != Opcode::Nop &&
         op != Opcode::Const && op != Opcode::PcRel && op != Opcode::VecBuild &&
         op != Opcode::VecLane && op != Opcode::VecOp1 && op != Opcode::VecOp2 &&
         op != Opcode::VecConcat && op != Opcode::VecHalf;  // no vector consts
}

}  // namespace

void const_fold(ir::Block& b) {
  Forwarding fwd(b.insts.size());
  auto is_const = [&](ir::Value v, uint64_t& out) {
    const Inst& d = b.insts[v.id];
    if (d.op != Opcode::Const) return false;
    out = d.imm;
    return true;
  };
  for (size_t n = 0; n < b.insts.size(); ++n) {
    Inst& i = b.insts[n];
    fwd.apply(i);
    if (i.op == Opcode::TrapIf) {
      uint64_t c = 0;
      if (is_const(i.args[0], c) && c == 0) i = Inst{};  // can never trap
      continue;
    }
    if (!foldable(i.op)) continue;
    uint64_t c[3] = {0, 0, 0};
    bool all = true;
    bool k[3] = {false, false, false};
    for (unsigned a = 0; a < i.nargs; ++a) {
      k[a] = is_const(i.args[a], c[a]);
      all &= k[a];
    }
    const ir::Type rt = ir::result_type(i);
    auto become_const = [&](uint64_t v) {
      i = Inst{};
      i.op = Opcode::Const;
      i.type = rt;
      i.imm = v & ir::mask(rt);
    };
    // A negated comparison is the inverse comparison, which the code generators fuse into a
    // compare and branch.
    auto become_inverse_of = [&](const Inst& cmp) {
      Inst inv = cmp;
      inv.imm = uint64_t(ir::invert_cond(ir::Cond(cmp.imm)));
      i = inv;
    };
    // A constant offset from a PC-derived value is PC-derived (ADRP then ADD: one PcRel).
    if (i.type == ir::Type::I64 && (i.op == Opcode::Add || i.op == Opcode::Sub) && (k[0] || k[1])) {
      const Inst& other = b.insts[i.args[k[0] ? 1 : 0].id];
      if (other.op == Opcode::PcRel && (k[1] || i.op == Opcode::Add)) {
        const uint64_t off = c[k[0] ? 0 : 1];
        const uint64_t v = i.op == Opcode::Add ? other.imm + off : other.imm - off;
        i = Inst{};
        i.op = Opcode::PcRel;
        i.type = ir::Type::I64;
        i.imm = v;
        continue;
      }
    }
    if (all) {
      unsigned src_bits = i.nargs ? ir::bits(b.type_of(i.args[0])) : 0;
      become_const(ir::eval_pure(i.op, i.type, src_bits, c[0], c[1], c[2], i.imm, i.imm2));
      continue;
    }
    // Identities that forward an argument unchanged.
    const ir::Value self{uint32_t(n)};
    auto forward_to = [&](ir::Value v) { fwd.replace(self, v); };
    const uint64_t all_ones = ir::mask(i.type);
    switch (i.op) {
      case Opcode::Xor:
        // x86 JNE, JAE...: the frontend inverts JE's test.
        if (i.type == ir::Type::I1 && (k[0] || k[1]) && c[k[0] ? 0 : 1] == 1) {
          const Inst& cmp = b.insts[i.args[k[0] ? 1 : 0].id];
          if (cmp.op == Opcode::Cmp) {
            become_inverse_of(cmp);
            break;
          }
        }
        [[fallthrough]];
      case Opcode::Add:
      case Opcode::Or:
      case Opcode::Shl:
      case Opcode::Lshr:
      case Opcode::Ashr:
      case Opcode::Rotr:
        if (k[1] && c[1] == 0)
          forward_to(i.args[0]);
        else if (k[0] && c[0] == 0 &&
                 (i.op == Opcode::Add || i.op == Opcode::Or || i.op == Opcode::Xor))
          forward_to(i.args[1]);
        break;
      case Opcode::Sub:
        if (k[1] && c[1] == 0) forward_to(i.args[0]);
        break;
      case Opcode::Mul:
        if (k[1] && c[1] == 1)
          forward_to(i.args[0]);
        else if (k[0] && c[0] == 1)
          forward_to(i.args[1]);
        break;
      case Opcode::And:
        if (k[1] && c[1] == all_ones)
          forward_to(i.args[0]);
        else if (k[0] && c[0] == all_ones)
          forward_to(i.args[1]);
        break;
      case Opcode::Not:
        // Flag logic: !!x is x, and a negated comparison is the inverse comparison.
        if (const Inst& d = b.insts[i.args[0].id]; d.op == Opcode::Not) {
          forward_to(d.args[0]);
        } else if (d.op == Opcode::Cmp) {
          become_inverse_of(d);
        }
        break;
      case Opcode::Trunc: {
        // Arm64's W registers: every 32-bit operation reads Trunc(GetReg) and writes
        // ZExt(result), so after reg_elim a read of a W register written earlier in the block is
        // Trunc(ZExt(x)), which is x. Folding it leaves the code generators one value (a home,
        // a register) where they had a copy per read.
        const ir::Value x = i.args[0];
        const unsigned to = ir::bits(i.type);
        if (ir::bits(b.type_of(x)) > 64) break;
        if (ir::bits(b.type_of(x)) == to) {
          forward_to(x);
          break;
        }
        const Inst& d = b.insts[x.id];
        if (d.op != Opcode::ZExt && d.op != Opcode::SExt && d.op != Opcode::Trunc) break;
        const ir::Value inner = d.args[0];
        const unsigned from = ir::bits(b.type_of(inner));
        if (from == to) {
          forward_to(inner);  // Trunc(ZExt(x)), Trunc(SExt(x)) of x's own width
        } else if (from > to) {
          i.args[0] = inner;  // a narrower Trunc of the inner value
        } else {
          i.op = d.op;  // Trunc(ZExt(x)) to a width above x's is ZExt(x) to it (SExt alike)
          i.args[0] = inner;
        }
        break;
      }
      case Opcode::AddOvf:
        // x + 0 + 0 and x + ~0 + 1 (the V of x - 0) never overflow.
        if (k[1] && k[2] && ((c[1] == 0 && c[2] == 0) || (c[1] == all_ones && c[2] == 1)))
          become_const(0);
        break;
      case Opcode::Select:
        if (k[0]) {
          forward_to(c[0] ? i.args[1] : i.args[2]);
          break;
        }
        if (i.args[1] == i.args[2]) {
          forward_to(i.args[1]);
          break;
        }
        if (const Inst& d = b.insts[i.args[0].id]; d.op == Opcode::Not) {
          // Select(!c, a, b) is Select(c, b, a) (arm64's CSET on a clear flag).
          i.args[0] = d.args[0];
          std::swap(i.args[1], i.args[2]);
          std::swap(k[1], k[2]);
          std::swap(c[1], c[2]);
        }
        // Select(c, 1, 0) is c, zero-extended (CSET).
        if (k[1] && k[2] && c[1] == 1 && c[2] == 0) {
          if (i.type == ir::Type::I1) {
            forward_to(i.args[0]);
          } else {
            const ir::Value cond = i.args[0];
            const ir::Type t = i.type;
            i = Inst{};
            i.op = Opcode::ZExt;
            i.type = t;
            i.nargs = 1;
            i.args[0] = cond;
          }
        }
        break;
      default:
        break;
    }
  }
  fwd.apply(b.term);
  // A branch on a constant becomes a jump.
  if (b.term.kind == ir::Terminal::Kind::Branch && b.insts[b.term.cond.id].op == Opcode::Const) {
    uint64_t target = b.insts[b.term.cond.id].imm ? b.term.target : b.term.target2;
    b.term.kind = ir::Terminal::Kind::Jump;
    b.term.target = target;
    b.term.cond = {};
  }
}

}  // namespace orrery::tcg::opt
