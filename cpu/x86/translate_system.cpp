// Translators of the system instructions. The privilege checks the block's mode decides
// statically (CPL, IOPL, real/virtual-8086 mode from tb_flags) are made here; the rest of each
// instruction's semantics is one call of helper_sys, which runs the C++ in control.cpp,
// tables.cpp, transfer.cpp and msr.cpp and turns a GuestFault into the exception. Instructions
// that may change the mode, the PC or the interrupt state end the block.
#include "cpu/x86/translate_system.h"

#include "cpu/x86/cpu.h"
#include "cpu/x86/seg.h"
#include "cpu/x86/system.h"
#include "hw/core/log.h"

namespace orrery::cpu::x86 {

using tcg::ir::ExitReason;
using tcg::ir::Type;
using tcg::ir::Value;

namespace {

enum class SysOp : uint8_t {
  ReadCr,
  WriteCr,
  ReadDr,
  WriteDr,
  Lmsw,
  Clts,
  Lgdt,
  Lidt,
  Lldt,
  Ltr,
  Lar,
  Lsl,
  Verr,
  Verw,
  LoadSreg,
  FarJmp,
  FarCall,
  FarRet,
  Iret,
  IntN,
  Syscall,
  Sysret,
  Sysenter,
  Sysexit,
  Swapgs,
  ReadSegBase,
  WriteSegBase,
  Cli,
  Sti,
  Rdmsr,
  Wrmsr,
  Cpuid,
  Rdtsc,
  Rdtscp,
  Rdpid,
  Invlpg,
  Invpcid,
  Xgetbv,
  Xsetbv,
  In,
  Out,
  Ins,
  Outs,
  Clac,
  Stac,
  PopfVirtual,
};

// a = op | aux << 8 (16 bits) | insn length << 24 | x << 32; b = a 64-bit value; c = insn_pc.
uint64_t helper_sys(tcg::CpuCommon* c, uint64_t a, uint64_t b, uint64_t insn_pc);
const tcg::ir::Helper kHelperSys{"x86_sys", helper_sys};

// INS/OUTS: aux = size | address-size code << 4 (0: 16, 1: 32, 2: 64) | rep << 7 |
// segment << 8. A REP runs at most this many iterations per call, then re-executes.
constexpr uint64_t kStringChunk = 4096;

/// The CPU's I/O gate stops the instruction before its port access (X86Cpu::IoGate).
bool io_gate_stops(X86Cpu& cpu, uint16_t port, unsigned size, bool in, bool string,
                   uint64_t insn_pc) {
  X86Cpu::IoGate* g = cpu.io_gate();
  if (!g || !g->stop_before_io(port, size, in, string)) return false;
  cpu.state().common.pc = insn_pc;
  cpu.state().common.pending_exit = uint32_t(tcg::PendingExit::Debug);
  return true;
}

uint64_t string_io(X86Cpu& cpu, bool in, unsigned aux, uint64_t insn_pc, uint64_t next_pc) {
  X86State& s = cpu.state();
  const unsigned size = aux & 0xf;
  const unsigned asz = (aux >> 4) & 3;
  const bool rep = aux & 0x80;
  const unsigned seg = (aux >> 8) & 7;
  const uint64_t mask = asz == 0 ? 0xffff : asz == 1 ? 0xffffffffull : ~0ull;
  const uint16_t port = uint16_t(s.gpr[kRdx]);
  check_io(cpu, port, size);
  uint64_t count = rep ? (s.gpr[kRcx] & mask) : 1;
  if (count == 0) {
    s.common.pc = next_pc;
    return 0;
  }
  if (io_gate_stops(cpu, port, size, in, true, insn_pc)) return 0;
  const int64_t step = (compute_eflags(s) & eflags::kDf) ? -int64_t(size) : int64_t(size);
  const unsigned reg = in ? kRdi : kRsi;
  const unsigned idx = cpu.data_mmu_idx();
  const bool wrap32 = !code64(s);
  uint64_t done = 0;
  for (; done < count && done < kStringChunk; ++done) {
    const uint64_t off = s.gpr[reg] & mask;
    uint64_t la = s.seg[seg].base + off;
    if (wrap32) la &= 0xffffffffu;
    if (in) {
      // The write is checked (it may fault) before the port is read, as the SDM orders it.
      (void)cpu.read_linear(la, size, idx);
      cpu.write_linear(la, size, cpu.port_in(port, size), idx);
    } else {
      cpu.port_out(port, size, cpu.read_linear(la, size, idx));
    }
    s.gpr[reg] = (s.gpr[reg] & ~mask) | ((off + step) & mask);
    if (rep) s.gpr[kRcx] = (s.gpr[kRcx] & ~mask) | ((s.gpr[kRcx] - 1) & mask);
  }
  s.common.pc = done == count ? next_pc : insn_pc;
  return 0;
}

uint64_t helper_sys(tcg::CpuCommon* c, uint64_t a, uint64_t b, uint64_t insn_pc) {
  X86State& s = state_of(c);
  if (!s.owner) {  // a bare state (frontend unit tests): no system to run it on
    c->pc = insn_pc;
    c->stop_message = "x86: system instruction on a vCPU state without an X86Cpu";
    c->pending_exit = uint32_t(tcg::PendingExit::Stop);
    return 0;
  }
  X86Cpu& cpu = *s.owner;
  const auto op = SysOp(a & 0xff);
  const unsigned aux = unsigned(a >> 8) & 0xffff;
  const unsigned len = unsigned(a >> 24) & 0xff;
  const uint32_t x = uint32_t(a >> 32);
  c->pc = insn_pc;
  uint64_t next_pc = insn_pc + len;
  if (!code64(s)) next_pc &= 0xffffffffu;
  const uint64_t next_rip = next_pc - s.seg[kCs].base;
  try {
    uint64_t r = 0;
    switch (op) {
      case SysOp::ReadCr:
        r = read_cr(cpu, aux);
        break;
      case SysOp::WriteCr:
        write_cr(cpu, aux, b);
        break;
      case SysOp::ReadDr:
        r = read_dr(cpu, aux);
        break;
      case SysOp::WriteDr:
        write_dr(cpu, aux, b);
        break;
      case SysOp::Lmsw:
        lmsw(cpu, uint16_t(b));
        break;
      case SysOp::Clts:
        clts(cpu);
        break;
      case SysOp::Lgdt:
        lgdt(cpu, b, x);
        break;
      case SysOp::Lidt:
        lidt(cpu, b, x);
        break;
      case SysOp::Lldt:
        lldt(cpu, uint16_t(b));
        break;
      case SysOp::Ltr:
        ltr(cpu, uint16_t(b));
        break;
      case SysOp::Lar:
      case SysOp::Lsl: {
        uint32_t v = 0;
        const bool ok = op == SysOp::Lar ? lar(cpu, uint16_t(b), v) : lsl(cpu, uint16_t(b), v);
        r = ok ? (1ull << 32) | v : 0;
        break;
      }
      case SysOp::Verr:
        r = verr(cpu, uint16_t(b));
        break;
      case SysOp::Verw:
        r = verw(cpu, uint16_t(b));
        break;
      case SysOp::LoadSreg:
        load_sreg(cpu, aux, uint16_t(b));
        break;
      case SysOp::FarJmp:
        far_jmp(cpu, uint16_t(x), b, aux, next_rip);
        return 0;
      case SysOp::FarCall:
        far_call(cpu, uint16_t(x), b, aux, next_rip);
        return 0;
      case SysOp::FarRet:
        far_ret(cpu, aux & 0xf, uint16_t(x));
        return 0;
      case SysOp::Iret:
        iret(cpu, aux, next_rip);
        return 0;
      case SysOp::IntN:
        software_interrupt(cpu, uint8_t(aux), EventKind::SoftwareInt, next_rip);
        return 0;
      case SysOp::Syscall:
        syscall_insn(cpu, next_rip);
        return 0;
      case SysOp::Sysret:
        sysret_insn(cpu, aux);
        return 0;
      case SysOp::Sysenter:
        sysenter_insn(cpu);
        return 0;
      case SysOp::Sysexit:
        sysexit_insn(cpu, aux);
        return 0;
      case SysOp::Swapgs:
        swapgs_insn(cpu);
        break;
      case SysOp::ReadSegBase:
        r = read_seg_base(cpu, aux);
        break;
      case SysOp::WriteSegBase:
        write_seg_base(cpu, aux, b);
        break;
      case SysOp::Cli:
        cli_insn(cpu);
        break;
      case SysOp::PopfVirtual:
        popf_virtual(cpu);
        break;
      case SysOp::Sti:
        sti_insn(cpu);
        break;
      case SysOp::Rdmsr: {
        require_cpl0(cpu);
        const uint64_t v = read_msr(cpu, uint32_t(s.gpr[kRcx]));
        s.gpr[kRax] = uint32_t(v);
        s.gpr[kRdx] = v >> 32;
        break;
      }
      case SysOp::Wrmsr:
        require_cpl0(cpu);
        write_msr(cpu, uint32_t(s.gpr[kRcx]),
                  uint32_t(s.gpr[kRax]) | (uint64_t(uint32_t(s.gpr[kRdx])) << 32));
        break;
      case SysOp::Cpuid:
        cpuid_insn(cpu);
        break;
      case SysOp::Rdtsc:
      case SysOp::Rdtscp:
        rdtsc_insn(cpu, op == SysOp::Rdtscp);
        break;
      case SysOp::Rdpid:
        r = rdpid_insn(cpu);
        break;
      case SysOp::Invlpg:
        invlpg(cpu, b);
        break;
      case SysOp::Invpcid:
        invpcid(cpu, x, b);
        break;
      case SysOp::Xgetbv: {
        const uint64_t v = read_xcr(cpu, uint32_t(s.gpr[kRcx]));
        s.gpr[kRax] = uint32_t(v);
        s.gpr[kRdx] = v >> 32;
        break;
      }
      case SysOp::Xsetbv:
        write_xcr(cpu, uint32_t(s.gpr[kRcx]),
                  uint32_t(s.gpr[kRax]) | (uint64_t(uint32_t(s.gpr[kRdx])) << 32));
        break;
      case SysOp::In:
        check_io(cpu, uint16_t(b), aux);
        if (io_gate_stops(cpu, uint16_t(b), aux, true, false, insn_pc)) return 0;
        r = cpu.port_in(uint16_t(b), aux);
        break;
      case SysOp::Out:
        check_io(cpu, uint16_t(b), aux);
        if (io_gate_stops(cpu, uint16_t(b), aux, false, false, insn_pc)) return 0;
        cpu.port_out(uint16_t(b), aux, x);
        break;
      case SysOp::Ins:
      case SysOp::Outs:
        return string_io(cpu, op == SysOp::Ins, aux, insn_pc, next_pc);
      case SysOp::Clac:
      case SysOp::Stac:
        if (cpu.cpl() != 0) throw GuestFault{vec::kGp, 0};
        write_eflags(s, op == SysOp::Stac ? compute_eflags(s) | eflags::kAc
                                          : compute_eflags(s) & ~eflags::kAc);
        cpu.mode_changed();
        break;
    }
    c->pc = next_pc;
    return r;
  } catch (const GuestFault& f) {
    raise_fault(cpu, f);
    return 0;
  }
}

uint64_t pack(SysOp op, unsigned aux, const TranslateContext& t, uint32_t x = 0) {
  return uint64_t(op) | (uint64_t(aux & 0xffff) << 8) | (uint64_t(t.insn().length) << 24) |
         (uint64_t(x) << 32);
}

/// Calls helper_sys; x_dyn (I64, low 32 bits used) is the runtime x when given.
Value sys(TranslateContext& t, SysOp op, unsigned aux = 0, Value b = {}, Value x_dyn = {},
          uint32_t x = 0) {
  auto& e = t.e();
  Value a = e.c64(pack(op, aux, t, x));
  if (x_dyn.valid()) {
    Value xv = e.zext(Type::I64, x_dyn);
    a = e.or_(a, e.shl(e.and_(xv, e.c64(0xffffffff)), e.c64(32)));
  }
  if (!b.valid()) b = e.c64(0);
  if (e.type_of(b) != Type::I64) b = e.zext(Type::I64, b);
  return e.call(kHelperSys, {a, b, e.c64(t.pc())});
}

/// Ends the block after a helper that may have changed the PC or the mode.
bool end_lookup(TranslateContext& t) {
  t.cc_unknown();
  t.exit_pc_in_state();
  return true;
}
/// Ends the block and returns to the vCPU loop (interrupt shadow, interrupts enabled).
bool end_to_loop(TranslateContext& t) {
  t.cc_unknown();
  t.e().exit_pc_in_state(ExitReason::Exception);
  t.mark_ended();
  return true;
}

bool need_cpl0(TranslateContext& t) {
  return t.protected_mode() && t.cpl() != 0;
}
bool umip_blocks(TranslateContext& t) {
  return (t.tb_flags() & tb_flags::kUmip) && t.cpl() != 0;
}

unsigned seg_index(ZydisRegister r) {
  return unsigned(r - ZYDIS_REGISTER_ES);
}

/// Sets ZF to ok (I1), keeping the other flags.
void set_zf(TranslateContext& t, Value ok) {
  auto& e = t.e();
  Value f = e.and_(t.get_eflags(), e.c64(~eflags::kZf));
  f = e.or_(f, e.shl(e.zext(Type::I64, ok), e.c64(6)));
  t.set_arith_flags(f);
}

uint64_t dtr_base_offset(bool idt) {
  return offsetof(X86State, gdtr) + (idt ? sizeof(DescriptorTableReg) : 0) +
         offsetof(DescriptorTableReg, base);
}
uint64_t dtr_limit_offset(bool idt) {
  return offsetof(X86State, gdtr) + (idt ? sizeof(DescriptorTableReg) : 0) +
         offsetof(DescriptorTableReg, limit);
}

bool load_dtr(TranslateContext& t, bool idt) {
  auto& e = t.e();
  if (!t.is_mem(0)) return t.ud();
  if (need_cpl0(t) || t.vm86()) return t.gp0();
  Value addr = t.addr_of(0);
  Value limit = t.load(Type::I16, addr);
  Value base_addr = e.add(addr, e.c64(2));
  Value base =
      t.code64() ? t.load(Type::I64, base_addr) : e.zext(Type::I64, t.load(Type::I32, base_addr));
  if (t.op_bits() == 16) base = e.and_(base, e.c64(0xffffff));
  sys(t, idt ? SysOp::Lidt : SysOp::Lgdt, 0, base, limit);
  return true;
}

bool store_dtr(TranslateContext& t, bool idt) {
  auto& e = t.e();
  if (!t.is_mem(0)) return t.ud();
  if (umip_blocks(t)) return t.gp0();
  Value addr = t.addr_of(0);
  Value limit = e.get_reg(Type::I32, uint32_t(dtr_limit_offset(idt)));
  Value base = e.get_reg(Type::I64, uint32_t(dtr_base_offset(idt)));
  // No #AC at CPL 3 whatever the address: silicon raises none (x86-diff --align-check on KVM).
  t.store(addr, e.trunc(Type::I16, limit), false);
  Value base_addr = e.add(addr, e.c64(2));
  if (t.code64()) {
    t.store(base_addr, base, false);
  } else {
    Value b32 = e.trunc(Type::I32, base);
    if (t.op_bits() == 16) b32 = e.and_(b32, e.c32(0xffffff));
    t.store(base_addr, b32, false);
  }
  return true;
}

/// The value a register or memory destination gets from a 16-bit system value (SLDT, STR,
/// SMSW): registers take the operand size (zero-extended), memory 16 bits.
void write_sel(TranslateContext& t, Value v16) {
  auto& e = t.e();
  if (t.is_reg(0)) {
    t.write(0, e.zext(t.type_of_op(0), v16));
  } else {
    t.store(t.addr_of(0), v16, false);  // no #AC, as SGDT/SIDT (checked on KVM)
  }
}

bool far_transfer(TranslateContext& t, SysOp op) {
  auto& e = t.e();
  const unsigned opsize = t.op_bits() / 8;
  if (t.op(0).type == ZYDIS_OPERAND_TYPE_POINTER) {
    sys(t, op, opsize, e.c64(t.op(0).ptr.offset), {}, t.op(0).ptr.segment);
    return end_lookup(t);
  }
  if (!t.is_mem(0)) return t.ud();
  Value addr = t.addr_of(0);
  Value off = e.zext(Type::I64, t.load(t.type_of_bits(opsize * 8), addr));
  Value sel = t.load(Type::I16, e.add(addr, e.c64(opsize)));
  sys(t, op, opsize, off, sel);
  return end_lookup(t);
}

}  // namespace

// ---- Control and debug registers ----

bool sys_mov_cr(TranslateContext& t) {
  if (need_cpl0(t)) return t.gp0();
  if (t.vm86()) return t.gp0();
  const bool to_cr =
      t.op(0).reg.value >= ZYDIS_REGISTER_CR0 && t.op(0).reg.value <= ZYDIS_REGISTER_CR15;
  const unsigned crn = unsigned((to_cr ? t.op(0) : t.op(1)).reg.value - ZYDIS_REGISTER_CR0);
  if (crn == 1 || (crn > 4 && crn != 8)) return t.ud();
  const Type ty = t.code64() ? Type::I64 : Type::I32;
  if (to_cr) {
    Value v = t.get_gpr(TranslateContext::gpr_num(t.op(1).reg.value), ty);
    sys(t, SysOp::WriteCr, crn, v);
    return end_lookup(t);
  }
  Value v = sys(t, SysOp::ReadCr, crn);
  t.set_gpr(TranslateContext::gpr_num(t.op(0).reg.value), t.e().trunc(ty, v));
  return true;
}

bool sys_mov_dr(TranslateContext& t) {
  if (need_cpl0(t) || t.vm86()) return t.gp0();
  const bool to_dr =
      t.op(0).reg.value >= ZYDIS_REGISTER_DR0 && t.op(0).reg.value <= ZYDIS_REGISTER_DR15;
  const unsigned drn = unsigned((to_dr ? t.op(0) : t.op(1)).reg.value - ZYDIS_REGISTER_DR0);
  if (drn > 7) return t.ud();
  const Type ty = t.code64() ? Type::I64 : Type::I32;
  if (to_dr) {
    sys(t, SysOp::WriteDr, drn, t.get_gpr(TranslateContext::gpr_num(t.op(1).reg.value), ty));
    return end_lookup(t);
  }
  Value v = sys(t, SysOp::ReadDr, drn);
  t.set_gpr(TranslateContext::gpr_num(t.op(0).reg.value), t.e().trunc(ty, v));
  return true;
}

bool sys_lmsw(TranslateContext& t) {
  if (need_cpl0(t) || t.vm86()) return t.gp0();
  sys(t, SysOp::Lmsw, 0, t.read(0, Type::I16));
  return end_lookup(t);
}

bool sys_smsw(TranslateContext& t) {
  if (umip_blocks(t)) return t.gp0();
  auto& e = t.e();
  Value cr0v = e.get_reg(Type::I64, uint32_t(offsetof(X86State, cr0)));
  if (t.is_reg(0)) {
    t.write(0, e.trunc(t.type_of_op(0), cr0v));
  } else {
    t.store(t.addr_of(0), e.trunc(Type::I16, cr0v), false);  // no #AC (checked on KVM)
  }
  return true;
}

bool sys_clts(TranslateContext& t) {
  if (need_cpl0(t) || t.vm86()) return t.gp0();
  sys(t, SysOp::Clts);
  return end_lookup(t);
}

// ---- Descriptor tables and segments ----

bool sys_lgdt(TranslateContext& t) {
  return load_dtr(t, false);
}
bool sys_lidt(TranslateContext& t) {
  return load_dtr(t, true);
}
bool sys_sgdt(TranslateContext& t) {
  return store_dtr(t, false);
}
bool sys_sidt(TranslateContext& t) {
  return store_dtr(t, true);
}

bool sys_lldt(TranslateContext& t) {
  if (!t.protected_mode() || t.vm86()) return t.ud();
  if (t.cpl() != 0) return t.gp0();
  sys(t, SysOp::Lldt, 0, t.read(0, Type::I16));
  return true;
}

bool sys_ltr(TranslateContext& t) {
  if (!t.protected_mode() || t.vm86()) return t.ud();
  if (t.cpl() != 0) return t.gp0();
  sys(t, SysOp::Ltr, 0, t.read(0, Type::I16));
  return true;
}

bool sys_sldt(TranslateContext& t) {
  if (!t.protected_mode() || t.vm86()) return t.ud();
  if (umip_blocks(t)) return t.gp0();
  write_sel(t, t.e().get_reg(Type::I16, seg_selector_offset(kLdtr)));
  return true;
}

bool sys_str(TranslateContext& t) {
  if (!t.protected_mode() || t.vm86()) return t.ud();
  if (umip_blocks(t)) return t.gp0();
  write_sel(t, t.e().get_reg(Type::I16, seg_selector_offset(kTr)));
  return true;
}

bool sys_lar(TranslateContext& t) {
  auto& e = t.e();
  if (!t.protected_mode() || t.vm86()) return t.ud();
  const bool lsl = t.mnemonic() == ZYDIS_MNEMONIC_LSL;
  Value r = sys(t, lsl ? SysOp::Lsl : SysOp::Lar, 0, e.trunc(Type::I16, t.read(1)));
  Value ok = e.cmp(tcg::ir::Cond::Ne, e.lshr(r, e.c64(32)), e.c64(0));
  const Type ty = t.type_of_op(0);
  Value old = t.read(0);
  Value nv = e.trunc(ty, r);
  if (ty == Type::I64) nv = e.and_(r, e.c64(0xffffffff));
  if (ty == Type::I32) {
    // ZF = 0 leaves all 64 bits of the register (a 32-bit write would zero-extend it).
    const unsigned reg = TranslateContext::gpr_num(t.op(0).reg.value);
    t.set_gpr(reg, e.select(ok, e.zext(Type::I64, nv), t.get_gpr(reg, Type::I64)));
  } else {
    t.write(0, e.select(ok, nv, old));
  }
  set_zf(t, ok);
  return true;
}

bool sys_lsl(TranslateContext& t) {
  return sys_lar(t);
}

bool sys_verr(TranslateContext& t) {
  auto& e = t.e();
  if (!t.protected_mode() || t.vm86()) return t.ud();
  const bool w = t.mnemonic() == ZYDIS_MNEMONIC_VERW;
  Value r = sys(t, w ? SysOp::Verw : SysOp::Verr, 0, t.read(0, Type::I16));
  set_zf(t, e.cmp(tcg::ir::Cond::Ne, r, e.c64(0)));
  return true;
}

bool sys_verw(TranslateContext& t) {
  return sys_verr(t);
}

bool sys_arpl(TranslateContext& t) {
  auto& e = t.e();
  if (!t.protected_mode() || t.vm86()) return t.ud();
  Value dst = t.read(0, Type::I16);
  Value src = t.read(1, Type::I16);
  Value drpl = e.and_(dst, e.konst(Type::I16, 3));
  Value srpl = e.and_(src, e.konst(Type::I16, 3));
  Value adjust = e.cmp(tcg::ir::Cond::Ult, drpl, srpl);
  t.write(0, e.select(adjust, e.or_(e.and_(dst, e.konst(Type::I16, 0xfffc)), srpl), dst));
  set_zf(t, adjust);
  return true;
}

bool sys_mov_sreg(TranslateContext& t) {
  auto& e = t.e();
  const bool to_seg = t.is_reg(0) && t.op(0).reg.value >= ZYDIS_REGISTER_ES &&
                      t.op(0).reg.value <= ZYDIS_REGISTER_GS;
  if (!to_seg) {
    const unsigned r = seg_index(t.op(1).reg.value);
    write_sel(t, e.get_reg(Type::I16, seg_selector_offset(r)));
    return true;
  }
  const unsigned r = seg_index(t.op(0).reg.value);
  if (r == kCs) return t.ud();
  sys(t, SysOp::LoadSreg, r, t.read(1, Type::I16));
  return r == kSs ? end_to_loop(t) : end_lookup(t);
}

bool sys_push_sreg(TranslateContext& t) {
  auto& e = t.e();
  const unsigned r = seg_index(t.op(0).reg.value);
  Value sel = e.get_reg(Type::I16, seg_selector_offset(r));
  t.push(e.zext(t.op_type(), sel));
  return true;
}

bool sys_pop_sreg(TranslateContext& t) {
  auto& e = t.e();
  const unsigned r = seg_index(t.op(0).reg.value);
  const Type ty = t.op_type();
  Value sp = t.get_sp();
  Value v = t.load(ty, t.stack_addr(sp));
  sys(t, SysOp::LoadSreg, r, e.trunc(Type::I16, v));
  t.set_sp(e.add(sp, e.c64(tcg::ir::bits(ty) / 8)));
  return r == kSs ? end_to_loop(t) : end_lookup(t);
}

bool sys_load_far_ptr(TranslateContext& t) {
  auto& e = t.e();
  if (!t.is_mem(1)) return t.ud();
  unsigned r = kDs;
  switch (t.mnemonic()) {
    case ZYDIS_MNEMONIC_LES:
      r = kEs;
      break;
    case ZYDIS_MNEMONIC_LFS:
      r = kFs;
      break;
    case ZYDIS_MNEMONIC_LGS:
      r = kGs;
      break;
    case ZYDIS_MNEMONIC_LSS:
      r = kSs;
      break;
    default:
      break;
  }
  const Type ty = t.type_of_op(0);
  Value addr = t.addr_of(1);
  Value off = t.load(ty, addr);
  Value sel = t.load(Type::I16, e.add(addr, e.c64(tcg::ir::bits(ty) / 8)));
  sys(t, SysOp::LoadSreg, r, sel);
  t.write(0, off);
  return r == kSs ? end_to_loop(t) : end_lookup(t);
}

// ---- Far transfers and interrupts ----

bool sys_jmp_far(TranslateContext& t) {
  return far_transfer(t, SysOp::FarJmp);
}
bool sys_call_far(TranslateContext& t) {
  return far_transfer(t, SysOp::FarCall);
}

bool sys_ret_far(TranslateContext& t) {
  uint32_t imm = 0;
  if (t.num_visible_ops() > 0 && t.is_imm(0)) imm = uint32_t(t.op(0).imm.value.u & 0xffff);
  sys(t, SysOp::FarRet, t.op_bits() / 8, {}, {}, imm);
  return end_lookup(t);
}

bool sys_popf_virtual(TranslateContext& t) {
  if (!(t.tb_flags() & tb_flags::kVme) || t.op_bits() != 16) return t.gp0();
  sys(t, SysOp::PopfVirtual);
  return end_lookup(t);
}

bool sys_iret(TranslateContext& t) {
  sys(t, SysOp::Iret, t.op_bits() / 8);
  return end_to_loop(t);  // NMIs are unblocked and IF may be set
}

bool sys_int(TranslateContext& t) {
  sys(t, SysOp::IntN, unsigned(t.op(0).imm.value.u & 0xff));
  t.cc_unknown();
  t.e().exit_pc_in_state(ExitReason::Exception);
  t.mark_ended();
  return true;
}

bool sys_syscall(TranslateContext& t) {
  sys(t, SysOp::Syscall);
  return end_lookup(t);
}

bool sys_sysret(TranslateContext& t) {
  sys(t, SysOp::Sysret, t.op_bits() / 8);
  return end_to_loop(t);
}

bool sys_sysenter(TranslateContext& t) {
  sys(t, SysOp::Sysenter);
  return end_lookup(t);
}

bool sys_sysexit(TranslateContext& t) {
  sys(t, SysOp::Sysexit, t.op_bits() / 8);
  return end_lookup(t);
}

bool sys_swapgs(TranslateContext& t) {
  if (!t.code64()) return t.ud();
  if (t.cpl() != 0) return t.gp0();
  sys(t, SysOp::Swapgs);
  return true;
}

bool sys_rdfsbase(TranslateContext& t) {
  if (!t.code64()) return t.ud();
  const unsigned r = t.mnemonic() == ZYDIS_MNEMONIC_RDGSBASE ? kGs : kFs;
  Value v = sys(t, SysOp::ReadSegBase, r);
  t.write(0, t.e().trunc(t.type_of_op(0), v));
  return true;
}
bool sys_rdgsbase(TranslateContext& t) {
  return sys_rdfsbase(t);
}

bool sys_wrfsbase(TranslateContext& t) {
  if (!t.code64()) return t.ud();
  const unsigned r = t.mnemonic() == ZYDIS_MNEMONIC_WRGSBASE ? kGs : kFs;
  sys(t, SysOp::WriteSegBase, r, t.read(0));
  return true;
}
bool sys_wrgsbase(TranslateContext& t) {
  return sys_wrfsbase(t);
}

// ---- Interrupt flag and HLT ----

/// CR4.VME in virtual-8086 mode or CR4.PVI at CPL 3: CLI/STI above IOPL touch VIF.
bool virtual_if(TranslateContext& t) {
  if (t.vm86()) return t.tb_flags() & tb_flags::kVme;
  return t.cpl() == 3 && (t.tb_flags() & tb_flags::kPvi);
}

bool sys_cli(TranslateContext& t) {
  if (t.protected_mode() && t.cpl() > t.iopl() && !virtual_if(t)) return t.gp0();
  sys(t, SysOp::Cli);
  return true;
}

bool sys_sti(TranslateContext& t) {
  if (t.protected_mode() && t.cpl() > t.iopl() && !virtual_if(t)) return t.gp0();
  sys(t, SysOp::Sti);
  return end_to_loop(t);  // the shadow: one more instruction, then interrupts
}

bool sys_hlt(TranslateContext& t) {
  if (need_cpl0(t)) return t.gp0();
  t.e().exit(ExitReason::Halt, t.next_pc());
  t.mark_ended();
  return true;
}

bool sys_clac(TranslateContext& t) {
  if (need_cpl0(t)) return t.ud();
  sys(t, t.mnemonic() == ZYDIS_MNEMONIC_STAC ? SysOp::Stac : SysOp::Clac);
  return end_lookup(t);
}
bool sys_stac(TranslateContext& t) {
  return sys_clac(t);
}

// ---- MSRs, CPUID, time stamps, caches and TLBs ----

bool sys_rdmsr(TranslateContext& t) {
  if (need_cpl0(t) || t.vm86()) return t.gp0();
  sys(t, SysOp::Rdmsr);
  return true;
}

bool sys_wrmsr(TranslateContext& t) {
  if (need_cpl0(t) || t.vm86()) return t.gp0();
  sys(t, SysOp::Wrmsr);
  return end_lookup(t);  // EFER, FS/GS bases
}

bool sys_cpuid(TranslateContext& t) {
  sys(t, SysOp::Cpuid);
  return true;
}

bool sys_rdtsc(TranslateContext& t) {
  sys(t, SysOp::Rdtsc);
  return true;
}

bool sys_rdtscp(TranslateContext& t) {
  sys(t, SysOp::Rdtscp);
  return true;
}

bool sys_rdpid(TranslateContext& t) {
  Value v = sys(t, SysOp::Rdpid);
  t.write(0, t.e().trunc(t.type_of_op(0), v));
  return true;
}

bool sys_rdpmc(TranslateContext& t) {
  // No performance counters: RDPMC faults as with CR4.PCE clear or an invalid counter.
  return t.gp0();
}

bool sys_invd(TranslateContext& t) {
  if (need_cpl0(t) || t.vm86()) return t.gp0();
  return true;  // caches are coherent: nothing to write back or drop
}

bool sys_wbinvd(TranslateContext& t) {
  return sys_invd(t);
}

bool sys_invlpg(TranslateContext& t) {
  if (!t.is_mem(0)) return t.ud();
  if (need_cpl0(t) || t.vm86()) return t.gp0();
  sys(t, SysOp::Invlpg, 0, t.addr_of(0));
  return end_lookup(t);  // the code page may have changed under the block
}

bool sys_invpcid(TranslateContext& t) {
  if (!t.is_mem(1)) return t.ud();
  if (need_cpl0(t) || t.vm86()) return t.gp0();
  Value type = t.read(0);
  Value capped =
      t.e().select(t.e().cmp(tcg::ir::Cond::Ult, t.e().zext(Type::I64, type), t.e().c64(4)),
                   t.e().zext(Type::I64, type), t.e().c64(4));
  sys(t, SysOp::Invpcid, 0, t.addr_of(1), capped);
  return end_lookup(t);
}

bool sys_xgetbv(TranslateContext& t) {
  if (!(t.tb_flags() & tb_flags::kOsxsave)) return t.ud();
  sys(t, SysOp::Xgetbv);
  return true;
}

bool sys_xsetbv(TranslateContext& t) {
  if (!(t.tb_flags() & tb_flags::kOsxsave)) return t.ud();
  if (need_cpl0(t) || t.vm86()) return t.gp0();
  sys(t, SysOp::Xsetbv);
  return end_lookup(t);
}

bool sys_monitor(TranslateContext& t) {
  return t.ud();
}  // not advertised
bool sys_mwait(TranslateContext& t) {
  return t.ud();
}

// ---- I/O ports ----

bool sys_in(TranslateContext& t) {
  auto& e = t.e();
  const unsigned size = t.op(0).size / 8;
  Value port = t.is_imm(1) ? e.c64(t.op(1).imm.value.u & 0xff)
                           : e.zext(Type::I64, t.get_gpr(kRdx, Type::I16));
  Value v = sys(t, SysOp::In, size, port);
  t.write(0, e.trunc(t.type_of_op(0), v));
  return true;
}

bool sys_out(TranslateContext& t) {
  auto& e = t.e();
  const unsigned size = t.op(1).size / 8;
  Value port = t.is_imm(0) ? e.c64(t.op(0).imm.value.u & 0xff)
                           : e.zext(Type::I64, t.get_gpr(kRdx, Type::I16));
  sys(t, SysOp::Out, size, port, t.read(1));
  return end_lookup(t);  // a device may have raised an interrupt or asked for a reset
}

namespace {

bool string_port(TranslateContext& t, bool in) {
  unsigned size = 1;
  switch (t.mnemonic()) {
    case ZYDIS_MNEMONIC_INSW:
    case ZYDIS_MNEMONIC_OUTSW:
      size = 2;
      break;
    case ZYDIS_MNEMONIC_INSD:
    case ZYDIS_MNEMONIC_OUTSD:
      size = 4;
      break;
    default:
      break;
  }
  const unsigned asz = t.addr_bits() == 16 ? 0 : t.addr_bits() == 32 ? 1 : 2;
  unsigned seg = kEs;
  if (!in) {
    seg = kDs;
    for (unsigned i = 0; i < t.num_ops(); ++i)
      if (t.is_mem(i) && t.op(i).mem.segment >= ZYDIS_REGISTER_ES &&
          t.op(i).mem.segment <= ZYDIS_REGISTER_GS)
        seg = seg_index(t.op(i).mem.segment);
  }
  const unsigned aux = size | (asz << 4) | (t.has_rep() ? 0x80 : 0) | (seg << 8);
  t.flush_flags();  // the helper reads DF
  sys(t, in ? SysOp::Ins : SysOp::Outs, aux);
  return end_lookup(t);
}

}  // namespace

bool sys_ins(TranslateContext& t) {
  return string_port(t, true);
}
bool sys_outs(TranslateContext& t) {
  return string_port(t, false);
}

}  // namespace orrery::cpu::x86
