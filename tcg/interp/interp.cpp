#include "tcg/interp/interp.h"

#include <cstring>

#include "tcg/ir/eval.h"
#include "tcg/ir/helpers.h"
#include "tcg/softmmu/softmmu.h"

namespace orrery::tcg::interp {

using ir::Opcode;
using ir::Type;

std::unique_ptr<Program> build(const ir::Block& b, const exec::TranslationBlock* tb) {
  auto p = std::make_unique<Program>();
  p->num_slots = uint32_t(b.insts.size());
  p->term = b.term;
  p->tb = tb;
  p->steps.reserve(b.insts.size());
  uint64_t pc = b.guest_pc;
  for (size_t n = 0; n < b.insts.size(); ++n) {
    const ir::Inst& i = b.insts[n];
    if (i.op == Opcode::Nop) continue;
    if (i.op == Opcode::InsnStart) {
      pc = i.imm;
      continue;
    }
    Step s{};
    s.handler = uint16_t(i.op);
    s.type = uint8_t(i.type);
    s.dst = uint32_t(n);
    s.a = i.nargs > 0 ? i.args[0].id : 0;
    s.b = i.nargs > 1 ? i.args[1].id : 0;
    s.c = i.nargs > 2 ? i.args[2].id : 0;
    // Extensions need the source width; keep it in imm2, which they don't otherwise use.
    s.imm = i.imm;
    s.imm2 = (i.op == Opcode::SExt) ? ir::bits(b.type_of(i.args[0])) : i.imm2;
    // Calls with fewer than three arguments read slot 0..; mark absent ones.
    if (i.op == Opcode::Call || i.op == Opcode::CallPure) s.pad = i.nargs;
    s.pc = pc;
    p->steps.push_back(s);
  }
  return p;
}

namespace {

inline uint64_t read_reg(const CpuCommon* cpu, uint64_t off, Type t) {
  const uint8_t* p = reinterpret_cast<const uint8_t*>(cpu) + off;
  switch (t) {
    case Type::I1: return *p & 1;
    case Type::I8: return *p;
    case Type::I16: { uint16_t v; std::memcpy(&v, p, 2); return v; }
    case Type::I32: { uint32_t v; std::memcpy(&v, p, 4); return v; }
    default: { uint64_t v; std::memcpy(&v, p, 8); return v; }
  }
}

inline void write_reg(CpuCommon* cpu, uint64_t off, Type t, uint64_t v) {
  uint8_t* p = reinterpret_cast<uint8_t*>(cpu) + off;
  switch (t) {
    case Type::I1: *p = uint8_t(v & 1); break;
    case Type::I8: *p = uint8_t(v); break;
    case Type::I16: { uint16_t x = uint16_t(v); std::memcpy(p, &x, 2); break; }
    case Type::I32: { uint32_t x = uint32_t(v); std::memcpy(p, &x, 4); break; }
    default: std::memcpy(p, &v, 8); break;
  }
}

inline uint64_t host_load(const uint8_t* h, unsigned size) {
  switch (size) {
    case 1: return *h;
    case 2: { uint16_t v; std::memcpy(&v, h, 2); return v; }
    case 4: { uint32_t v; std::memcpy(&v, h, 4); return v; }
    default: { uint64_t v; std::memcpy(&v, h, 8); return v; }
  }
}

inline void host_store(uint8_t* h, unsigned size, uint64_t v) { std::memcpy(h, &v, size); }

uint64_t finish(const Program& p, CpuCommon* cpu, const uint64_t* s) {
  const ir::Terminal& t = p.term;
  auto direct = [&](uint64_t target, unsigned slot) {
    cpu->pc = target;
    cpu->last_tb = const_cast<exec::TranslationBlock*>(p.tb);
    cpu->last_exit_slot = slot;
    return exec::kRetNext;
  };
  switch (t.kind) {
    case ir::Terminal::Kind::Jump: return direct(t.target, 0);
    case ir::Terminal::Kind::Branch:
      return s[t.cond.id] ? direct(t.target, 0) : direct(t.target2, 1);
    case ir::Terminal::Kind::Indirect:
      cpu->pc = s[t.value.id];
      cpu->last_tb = nullptr;
      return exec::kRetNext;
    case ir::Terminal::Kind::Exit:
      if (!t.pc_in_state) cpu->pc = t.target;
      return exec::make_exit_result(t.reason, t.arg);
    case ir::Terminal::Kind::None: break;
  }
  return exec::make_exit_result(ir::ExitReason::Lookup, 0);
}

uint64_t run_steps(const Program& p, CpuCommon* cpu, uint64_t* s) {
  for (const Step& st : p.steps) {
    const Type t = static_cast<Type>(st.type);
    switch (static_cast<Opcode>(st.handler)) {
      case Opcode::GetReg: s[st.dst] = read_reg(cpu, st.imm, t); break;
      case Opcode::SetReg: write_reg(cpu, st.imm, t, s[st.a]); break;
      case Opcode::Load: {
        const ir::MemOp m = ir::MemOp::decode(st.imm);
        const uint64_t va = s[st.a];
        uint64_t v;
        if (const uint8_t* h = softmmu::tlb_hit(cpu, va, m, false)) {
          v = host_load(h, m.size());
        } else {
          v = softmmu::slow_load(cpu, va, st.imm, st.pc);
          if (cpu->pending_exit) return exec::kRetPending;
        }
        s[st.dst] = m.sign ? uint64_t(ir::sext_bits(v, m.size() * 8)) & ir::mask(t) : v;
        break;
      }
      case Opcode::Store: {
        const ir::MemOp m = ir::MemOp::decode(st.imm);
        const uint64_t va = s[st.a];
        if (uint8_t* h = softmmu::tlb_hit(cpu, va, m, true)) {
          host_store(h, m.size(), s[st.b]);
        } else {
          softmmu::slow_store(cpu, va, s[st.b], st.imm, st.pc);
          if (cpu->pending_exit) return exec::kRetPending;
        }
        break;
      }
      case Opcode::Fence:
        if (st.imm != uint64_t(ir::FenceKind::Instruction))
          std::atomic_thread_fence(std::memory_order_seq_cst);
        break;
      case Opcode::Call:
      case Opcode::CallPure: {
        const auto* h = reinterpret_cast<const ir::Helper*>(st.imm);
        const unsigned n = st.pad;
        s[st.dst] = h->fn(cpu, n > 0 ? s[st.a] : 0, n > 1 ? s[st.b] : 0, n > 2 ? s[st.c] : 0);
        if (st.handler == uint16_t(Opcode::Call) && cpu->pending_exit) return exec::kRetPending;
        break;
      }
      default:
        s[st.dst] = ir::eval_pure(static_cast<Opcode>(st.handler), t, unsigned(st.imm2), s[st.a],
                                  s[st.b], s[st.c], st.imm, st.imm2);
        break;
    }
  }
  return finish(p, cpu, s);
}

}  // namespace

uint64_t run(const Program& p, CpuCommon* cpu) {
  if (cpu->exit_request.load(std::memory_order_relaxed)) return exec::kRetExitRequest;
  constexpr uint32_t kStackSlots = 2048;
  if (p.num_slots <= kStackSlots) {
    uint64_t s[kStackSlots];
    return run_steps(p, cpu, s);
  }
  std::unique_ptr<uint64_t[]> heap(new uint64_t[p.num_slots]);
  return run_steps(p, cpu, heap.get());
}

}  // namespace orrery::tcg::interp
