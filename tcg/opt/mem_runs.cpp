#include "tcg/opt/mem_runs.h"

#include <algorithm>

namespace orrery::tcg::opt {

using ir::Opcode;

namespace {

// v as root + constant through I64 Add/Sub of constants (a few levels: address arithmetic).
// Wrapping (unsigned) arithmetic: any constants are allowed; find_mem_runs drops large offsets.
ir::Value resolve(const ir::Block& b, ir::Value v, int64_t& offset) {
  uint64_t off = 0;
  for (int depth = 0; depth < 8; ++depth) {
    const ir::Inst& in = b.at(v);
    if (in.type != ir::Type::I64 || in.nargs != 2) break;
    if (in.op != Opcode::Add && in.op != Opcode::Sub) break;
    const ir::Inst& a1 = b.at(in.args[1]);
    const ir::Inst& a0 = b.at(in.args[0]);
    if (a1.op == Opcode::Const) {
      off += in.op == Opcode::Add ? a1.imm : 0 - a1.imm;
      v = in.args[0];
    } else if (a0.op == Opcode::Const && in.op == Opcode::Add) {
      off += a0.imm;
      v = in.args[1];
    } else {
      break;
    }
  }
  offset = int64_t(off);
  return v;
}

struct Open {
  MemRun run;
  std::vector<uint32_t> members;
};

}  // namespace

MemRuns find_mem_runs(const ir::Block& b) {
  MemRuns out;
  out.run_of.assign(b.insts.size(), -1);
  out.offset.assign(b.insts.size(), 0);
  std::vector<Open> open;
  auto close = [&](Open& o) {
    if (o.members.size() >= 2) {
      const int32_t r = int32_t(out.runs.size());
      out.runs.push_back(o.run);
      for (uint32_t m : o.members) out.run_of[m] = r;
    }
    o.members.clear();
  };
  for (uint32_t i = 0; i < b.insts.size(); ++i) {
    const ir::Inst& in = b.insts[i];
    if (in.op == Opcode::Call) {
      for (Open& o : open) close(o);
      open.clear();
      continue;
    }
    if (in.op != Opcode::Load && in.op != Opcode::Store) continue;
    const ir::MemOp m = ir::MemOp::decode(in.imm);
    if (m.align || m.addr32 || m.mmu_idx >= 8) continue;
    const bool write = in.op == Opcode::Store;
    int64_t off = 0;
    const ir::Value base = resolve(b, in.args[0], off);
    // Offsets far from zero are not a loop's small steps (and keep the arithmetic below exact).
    // (Within +-1 MiB, so backends can use them as 32-bit displacements.)
    if (off < -(int64_t(1) << 20) || off > (int64_t(1) << 20)) continue;
    out.offset[i] = off;
    const int64_t end = off + int64_t(m.size());
    Open* o = nullptr;
    for (Open& c : open)
      if (c.run.base == base && c.run.write == write && c.run.mmu_idx == m.mmu_idx) o = &c;
    if (o) {
      const int64_t lo = std::min(o->run.lo, off), hi = std::max(o->run.hi, end);
      if (hi - lo <= kMaxRunSpan) {
        o->run.lo = lo;
        o->run.hi = hi;
        o->members.push_back(i);
        o->run.last = i;
        continue;
      }
      close(*o);
    } else {
      open.emplace_back();
      o = &open.back();
    }
    o->run = MemRun{i, i, base, off, end, m.mmu_idx, write};
    o->members.assign(1, i);
  }
  for (Open& o : open) close(o);
  return out;
}

}  // namespace orrery::tcg::opt
