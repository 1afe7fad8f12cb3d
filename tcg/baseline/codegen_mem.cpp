// The baseline code generator's memory accesses: the inline TLB probe, loads, stores and
// atomics with their slow paths, and the cold paths emitted after a block's main line.
#include "tcg/baseline/gen.h"

namespace orrery::tcg::baseline::gen {

void Gen::tlb_index(Reg a) {
  using softmmu::kPageBits;
  using softmmu::kTlbBits;
  static_assert(sizeof(softmmu::TlbEntry) == 32);
  if (bmi2_) {
    a_.rorx(RCX, a, kPageBits);
    a_.rorx(RDX, a, kPageBits + kTlbBits);
  } else {
    a_.mov_rr(true, RCX, a);
    a_.shift_ri(kShr, true, RCX, kPageBits);
    a_.mov_rr(true, RDX, RCX);
    a_.shift_ri(kShr, true, RDX, kTlbBits);
  }
  a_.alu_rr(kAdd, false, RCX, RDX);
  a_.alu_ri(kAnd, false, RCX, (1 << kTlbBits) - 1);
  a_.shift_ri(kShl, false, RCX, 5);
}

// Jumps to miss unless the TLB entry of the access at the guest address in register a (not
// rcx or rdx; left unchanged) matches; returns the operand of that entry's addend
// ([r12 + rcx + disp]). Clobbers rcx, rdx. atomic: a hit must also be aligned (a host atomic
// must not split).
Mem Gen::tlb_probe(Reg a, const ir::MemOp& m, bool write, Label miss, bool atomic) {
  tlb_index(a);
  const int32_t base =
      int32_t(m.mmu_idx) * int32_t(sizeof(softmmu::TlbEntry)) * softmmu::kTlbEntries;
  // softmmu::tlb_compare_value: the low address bits an access must have clear are in the
  // compare, so a misaligned one misses (the slow path faults it, or makes a split atomic a
  // read and a write); an access running into the next page misses; otherwise a misaligned
  // access within the page hits (x86 code makes millions).
  const unsigned fa = atomic ? m.size() : m.fast_align();
  if (m.size() > fa)
    a_.lea(RDX, Mem{a, int32_t(m.size() - fa)});
  else
    a_.mov_rr(true, RDX, a);
  a_.alu_ri(kAnd, true, RDX, int32_t(int64_t(softmmu::kPageMask) | int64_t(fa - 1)));
  a_.alu_rm(kCmp, true, RDX,
            Mem{R12,
                base + int32_t(write ? offsetof(softmmu::TlbEntry, addr_write)
                                     : offsetof(softmmu::TlbEntry, addr_read)),
                RCX});
  a_.jcc(kNe, miss);
  return Mem{R12, base + int32_t(offsetof(softmmu::TlbEntry, addend)), RCX};
}

// rax = virtual address on entry and on a miss; on a hit rax = host address. Clobbers rcx, rdx.
void Gen::tlb_lookup(const ir::MemOp& m, bool write, Label miss, bool atomic) {
  a_.alu_rm(kAdd, true, RAX, tlb_probe(RAX, m, write, miss, atomic));
}

// A TLB hit is one movdqu, or for 32 bytes one AVX2 vmovdqu (two movdqu without AVX2: the hit
// means the whole access is in one RAM page, so the halves cannot fault apart); each is per 8
// bytes atomic on the host, as x86 guarantees. A miss goes through
// softmmu::slow_load_vec/slow_store_vec on the value's stack slot, which translates both pages
// of a crossing access before moving a byte.
void Gen::gen_vec_mem(size_t i, bool is_store) {
  const ir::Inst& in = b_.insts[i];
  const ir::MemOp m = ir::MemOp::decode(in.imm);
  Label miss = a_.new_label();
  ld(RAX, in.args[0]);
  tlb_lookup(m, is_store, miss);
  const Mem host{RAX, 0}, value = is_store ? slot(in.args[1]) : slot_of(i);
  const Mem from = is_store ? value : host, to = is_store ? host : value;
  if (m.size() == 32 && avx2_) {
    a_.vmovdqu_load(0, from);
    a_.vmovdqu_store(to, 0);
    a_.vzeroupper();
  } else {
    for (int32_t h = 0; h < int32_t(m.size() / 16); ++h) {
      a_.movdqu_load(0, Mem{from.base, from.disp + 16 * h});
      a_.movdqu_store(Mem{to.base, to.disp + 16 * h}, 0);
    }
  }
  bind(cold(is_store ? Cold::Kind::VecStoreMiss : Cold::Kind::VecLoadMiss, miss, uint32_t(i), pc_));
}

// One probe for the run's bytes [base + lo, base + hi): the entry at the first byte's index
// must hold the last byte's page with no flag bits, the compare each member's own fast path
// would make. A run that crosses into the next page misses without a check of its own: the
// index hash (tlb_index: page plus page >> 10) never gives consecutive pages one slot, so that
// entry cannot hold the last byte's page. rax = base + addend on a hit, 0 on a miss; clobbers
// rcx, rdx, rsi.
void Gen::probe_run(const opt::MemRun& r, Mem run_slot) {
  Label miss = a_.new_label(), done = a_.new_label();
  // allocate() counted this read (probe_reads_), so ld() never drops the base's store.
  ld(RAX, r.base);
  Reg first = RAX;
  if (r.lo) a_.lea(first = RSI, Mem{RAX, int32_t(r.lo)});
  tlb_index(first);
  a_.lea(RDX, Mem{RAX, int32_t(r.hi - 1)});
  a_.alu_ri(kAnd, true, RDX, int32_t(int64_t(softmmu::kPageMask)));
  const int32_t base =
      int32_t(r.mmu_idx) * int32_t(sizeof(softmmu::TlbEntry)) * softmmu::kTlbEntries;
  a_.alu_rm(kCmp, true, RDX,
            Mem{R12,
                base + int32_t(r.write ? offsetof(softmmu::TlbEntry, addr_write)
                                       : offsetof(softmmu::TlbEntry, addr_read)),
                RCX});
  a_.jcc(kNe, miss);
  a_.alu_rm(kAdd, true, RAX, Mem{R12, base + int32_t(offsetof(softmmu::TlbEntry, addend)), RCX});
  a_.jmp(done);
  bind(miss);
  a_.mov_imm(RAX, 0);
  bind(done);
  a_.store(8, run_slot, RAX);
}

// A slow path may change the memory map (a device access), which flushes this vCPU's TLB at
// once: the runs in progress stop trusting their probes.
void Gen::end_runs_in_progress(uint32_t i) {
  for (size_t r = 0; r < runs_.runs.size(); ++r)
    if (runs_.runs[r].leader <= i && runs_.runs[r].last > i)
      a_.alu_mi(kAnd, true, run_slot(int32_t(r)), 0);
}

// A Load's or Store's access at host: a store's value from its register (else rdx, loaded here,
// after any TLB probe, which clobbers rdx); a load's result straight into its home register,
// sign-extended to 64 bits as its MemOp says (gen_mem canonicalises it).
void Gen::access(size_t i, Mem host) {
  const ir::Inst& in = b_.insts[i];
  const ir::MemOp m = ir::MemOp::decode(in.imm);
  if (in.op == Opcode::Store) {
    Reg v = RDX;
    if (vals_[in.args[1].id].in_reg())
      v = reg_of(in.args[1]);
    else
      ld(RDX, in.args[1]);
    a_.store(m.size(), host, v);
  } else if (m.sign) {
    a_.load_sx(m.size(), out(i), host);
  } else {
    a_.load(m.size(), out(i), host);
  }
}

// A Load's or Store's own TLB probe, then its access; a miss jumps to miss with the guest
// address in the register returned. The probe reads the address from its home register (else
// rax) and the access adds the entry's addend as an index register: no copies of the address.
Reg Gen::own_access(size_t i, Label miss) {
  const ir::Inst& in = b_.insts[i];
  Reg addr = reg_of(in.args[0]);
  if (addr == RSP) ld(addr = RAX, in.args[0]);
  a_.load(8, RCX, tlb_probe(addr, ir::MemOp::decode(in.imm), in.op == Opcode::Store, miss));
  access(i, Mem{addr, 0, RCX});
  return addr;
}

void Gen::gen_mem(size_t i, bool is_store) {
  const ir::Inst& in = b_.insts[i];
  const int32_t run = runs_.run_of[i];
  if (run >= 0) {
    // A run member: straight to host memory while the run's probe holds.
    const Mem rs = run_slot(run);
    // The leader's probe leaves the run's host pointer in rax (reloading it from the slot just
    // stored waited on the store); later members read the slot.
    if (runs_.runs[run].leader == i)
      probe_run(runs_.runs[run], rs);
    else
      a_.load(8, RAX, rs);
    // A failed run probe (rax = 0) takes the member's own probe out of line (RunMiss): the
    // main line keeps only the test and the access.
    Label own_probe = a_.new_label();
    a_.test_rr(true, RAX, RAX);
    a_.jcc(kE, own_probe);
    access(i, Mem{RAX, int32_t(runs_.offset[i])});
    bind(cold(Cold::Kind::RunMiss, own_probe, uint32_t(i), pc_));
  } else {
    Label miss = a_.new_label();
    const Reg addr = own_access(i, miss);
    bind(cold(is_store ? Cold::Kind::StoreMiss : Cold::Kind::LoadMiss, miss, uint32_t(i), pc_,
              addr));
  }
  if (is_store) return;
  const Reg d = out(i);
  if (ir::MemOp::decode(in.imm).sign) norm(d, in.type);
  st(i, d);
}

// A TLB hit (aligned: the compare includes the low address bits) is a host atomic on the
// host address; the result (the old value) ends in rax.
void Gen::gen_atomic(size_t i) {
  const ir::Inst& in = b_.insts[i];
  const ir::MemOp m = ir::MemOp::decode(in.imm);
  const unsigned size = m.size();
  Label miss = a_.new_label();
  ld(RAX, in.args[0]);
  tlb_lookup(m, true, miss, true);
  a_.mov_rr(true, RCX, RAX);
  const Mem host{RCX, 0};
  if (in.op == Opcode::AtomicCmpxchg) {
    ld(RAX, in.args[1]);
    ld(RDX, in.args[2]);
    a_.lock_rm(0xb0, size, host, RDX);
  } else {
    ld(RDX, in.args[1]);
    switch (ir::AtomicOp(in.imm2)) {
      case ir::AtomicOp::Add:
        a_.lock_rm(0xc0, size, host, RDX);
        a_.mov_rr(true, RAX, RDX);
        break;
      case ir::AtomicOp::Xchg:
        a_.xchg_mr(size, host, RDX);
        a_.mov_rr(true, RAX, RDX);
        break;
      default: {  // and/or/xor: a compare-exchange loop
        const Alu op = ir::AtomicOp(in.imm2) == ir::AtomicOp::And  ? kAnd
                       : ir::AtomicOp(in.imm2) == ir::AtomicOp::Or ? kOr
                                                                   : kXor;
        a_.mov_rr(true, RSI, RDX);
        a_.load(size, RAX, host);
        Label retry = a_.new_label();
        bind(retry);
        a_.mov_rr(true, RDX, RAX);
        a_.alu_rr(op, true, RDX, RSI);
        a_.lock_rm(0xb0, size, host, RDX);
        a_.jcc(kNe, retry);
        break;
      }
    }
  }
  if (size < 4) a_.movzx_rr(size, RAX, RAX);
  if (size == 4) a_.mov_rr(false, RAX, RAX);
  bind(cold(Cold::Kind::AtomicMiss, miss, uint32_t(i), pc_));
  st(i, RAX);
}

Gen::ColdTarget Gen::cold_target(const Cold& c) const {
  switch (c.kind) {
    case Cold::Kind::TierUp:
      return {RelocKind::TierUp};
    case Cold::Kind::LoadMiss:
      return {RelocKind::SlowLoad};
    case Cold::Kind::StoreMiss:
      return {RelocKind::SlowStore};
    case Cold::Kind::AtomicMiss:
      return {RelocKind::SlowAtomic};
    case Cold::Kind::VecLoadMiss:
      return {RelocKind::SlowLoadVec};
    case Cold::Kind::VecStoreMiss:
      return {RelocKind::SlowStoreVec};
    case Cold::Kind::RunMiss:  // its own probe's miss path is a LoadMiss or StoreMiss
      return {b_.insts[c.inst].op == Opcode::Store ? RelocKind::SlowStore : RelocKind::SlowLoad};
    case Cold::Kind::Trap:
      return {RelocKind::Helper, reinterpret_cast<const ir::Helper*>(b_.insts[c.inst].imm)};
  }
  return {RelocKind::Helper};
}

void Gen::emit_cold(const Cold& c) {
  bind(c.entry);
  const ir::Inst* in = c.kind == Cold::Kind::TierUp ? nullptr : &b_.insts[c.inst];
  switch (c.kind) {
    case Cold::Kind::TierUp:
      mov_reloc(RDI, RelocKind::Engine);
      mov_tb(RSI, &tb_);
      a_.mov_rr(true, RDX, RBX);
      call_abs(RelocKind::TierUp);  // tier_up(engine, tb, cpu)
      break;
    case Cold::Kind::LoadMiss: {  // c.addr = guest address
      const ir::MemOp m = ir::MemOp::decode(in->imm);
      a_.mov_rr(true, RSI, c.addr);
      save_caller_pool();
      a_.mov_imm(RDX, in->imm);
      mov_pc(RCX, c.pc);
      cold_call(cold_target(c));
      restore_caller_pool();
      check_pending();
      end_runs_in_progress(c.inst);
      if (m.sign && m.size() < 8) a_.movsx_rr(m.size(), RAX, RAX);
      if (out(c.inst) != RAX) a_.mov_rr(true, out(c.inst), RAX);  // the main line's register
      break;
    }
    case Cold::Kind::StoreMiss:  // c.addr = guest address
      a_.mov_rr(true, RSI, c.addr);
      ld(RDX, in->args[1]);  // before the pushes move the stack slots
      save_caller_pool();
      a_.mov_imm(RCX, in->imm);
      mov_pc(R8, c.pc);
      cold_call(cold_target(c));
      restore_caller_pool();
      check_pending();
      end_runs_in_progress(c.inst);
      break;
    case Cold::Kind::AtomicMiss: {  // rax = guest address
      const bool cx = in->op == Opcode::AtomicCmpxchg;
      const unsigned kind = cx ? softmmu::kAtomicCmpxchg : unsigned(in->imm2);
      a_.mov_rr(true, RSI, RAX);
      ld(RDX, cx ? in->args[2] : in->args[1]);
      if (cx)
        ld(RCX, in->args[1]);
      else
        a_.mov_imm(RCX, 0);
      save_caller_pool();
      a_.mov_imm(R8, softmmu::atomic_desc(in->imm, kind));
      mov_pc(R9, c.pc);
      cold_call(cold_target(c));
      restore_caller_pool();
      check_pending();
      end_runs_in_progress(c.inst);
      break;
    }
    case Cold::Kind::VecLoadMiss:  // rax = guest address; the slow path fills the value's slot
      a_.mov_rr(true, RSI, RAX);
      a_.mov_imm(RDX, in->imm);
      mov_pc(RCX, c.pc);
      a_.lea(R8, slot_of(c.inst));
      cold_call(cold_target(c));
      check_pending();
      end_runs_in_progress(c.inst);
      break;
    case Cold::Kind::VecStoreMiss:  // rax = guest address
      a_.mov_rr(true, RSI, RAX);
      a_.lea(RDX, slot(in->args[1]));
      a_.mov_imm(RCX, in->imm);
      mov_pc(R8, c.pc);
      cold_call(cold_target(c));
      check_pending();
      end_runs_in_progress(c.inst);
      break;
    case Cold::Kind::RunMiss: {  // rax = 0: the run's probe failed; the member probes alone
      Label miss = a_.new_label();
      const Reg addr = own_access(c.inst, miss);
      a_.jmp(c.back);
      const bool is_store = in->op == Opcode::Store;
      emit_cold(Cold{is_store ? Cold::Kind::StoreMiss : Cold::Kind::LoadMiss, miss, c.back, c.inst,
                     c.pc, addr});
      return;  // that miss path jumps back too
    }
    case Cold::Kind::Trap: {
      save_caller_pool();
      a_.mov_imm(RSI, in->imm2);
      mov_pc(RDX, c.pc);
      a_.mov_imm(RCX, 0);
      cold_call(cold_target(c));
      restore_caller_pool();
      check_pending();
      break;
    }
  }
  a_.jmp(c.back);
}

}  // namespace orrery::tcg::baseline::gen
