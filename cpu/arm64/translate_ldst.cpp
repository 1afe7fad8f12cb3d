// Loads and stores: exclusive and acquire/release, literal, pairs, and single registers with
// every addressing mode (unsigned offset, unscaled, pre/post-index, unprivileged, register
// offset), for general and SIMD&FP registers. Prefetches are no-ops.
//
// Loads compute every value before writing any register or the base (so a faulting access leaves
// state untouched), then write back the base, then the destination: for the CONSTRAINED
// UNPREDICTABLE Rt == Rn writeback case the loaded value wins. An SP base is checked for
// 16-byte alignment when SCTLR_EL1.SA/SA0 applies (base_reg). SIMD&FP forms first check
// CPACR_EL1.FPEN (fp_enabled_or_trap).
#include <optional>

#include "cpu/arm64/helpers.h"
#include "cpu/arm64/translate.h"

namespace orrery::cpu::arm64 {

using tcg::ir::Cond;
using tcg::ir::FenceKind;
using tcg::ir::MemOp;
using tcg::ir::Type;
using tcg::ir::Value;

namespace {

constexpr Type type_for_size(unsigned size_log2) {
  switch (size_log2) {
    case 0:
      return Type::I8;
    case 1:
      return Type::I16;
    case 2:
      return Type::I32;
    default:
      return Type::I64;
  }
}

/// A general-register access as the load/store register classes encode it in size:opc.
struct GprAccess {
  bool load;
  bool sign;
  Type type;  // of the loaded value before it is written to Xt (I32 for W destinations)
};

std::optional<GprAccess> decode_gpr(unsigned size, unsigned opc) {
  switch (opc) {
    case 0:
      return GprAccess{false, false, type_for_size(size)};  // STR
    case 1:
      return GprAccess{true, false, Type::I64};  // LDR (zero-extended)
    case 2:                                      // LDRS to X
      if (size == 3) return std::nullopt;        // PRFM in the forms that have it
      return GprAccess{true, true, Type::I64};
    default:  // LDRS to W
      if (size >= 2) return std::nullopt;
      return GprAccess{true, true, Type::I32};
  }
}

/// Size (log2 bytes, 0..4) of a SIMD&FP access from size:opc; opc<0> is load.
std::optional<unsigned> decode_fp_size(unsigned size, unsigned opc) {
  unsigned log2 = ((opc >> 1) << 2) | size;
  if (log2 > 4) return std::nullopt;
  return log2;
}

}  // namespace

// ---- SIMD&FP register helpers shared with translate_simd.cpp ----

void Translator::write_vreg(unsigned r, Value lo, Value hi) {
  e_.set_reg(off_vlo(r), e_.zext(Type::I64, lo));
  e_.set_reg(off_vhi(r), hi.valid() ? hi : e_.c64(0));
}

// ---- Exclusive and acquire/release ----

bool Translator::exclusive_load(unsigned size_log2, bool pair, bool acquire, u32 t2, u32 n, u32 t) {
  ExclusiveDesc desc;
  desc.rt = t;
  desc.rt2 = t2;
  desc.size_log2 = size_log2;
  desc.pair = pair;
  desc.mmu_idx = memop(0).mmu_idx;
  Value addr = base_reg(n);
  mte_check(addr, (pair ? 2u : 1u) << size_log2, false, n != 31);
  if (pair) {
    e_.call(kHelperLoadExclusive, {addr, e_.c64(desc.encode()), e_.pc_rel(pc_)});
  } else {
    // Inline, as the helper does it: an aligned load (a misaligned address faults before the
    // monitor changes), then the monitor. The Linux kernel's atomics on ARMv8.0 (no LSE) are
    // LDXR/STXR loops, and a helper call per LDXR was ~2% of a disk read's CPU.
    Value v = e_.load(Type::I64, addr, memop(size_log2, false, true));
    e_.set_reg(kOffMonitorAddr, addr);
    e_.set_reg(kOffMonitorValue, v);
    e_.set_reg(kOffMonitorValue2, e_.c64(0));
    e_.set_reg(kOffMonitorSize, e_.konst(Type::I8, 1u << size_log2));
    e_.set_reg(kOffMonitorValid, e_.konst(Type::I8, 1));
    set_x(t, v);
  }
  if (acquire) e_.fence(FenceKind::Load);
  return true;
}

bool Translator::exclusive_store(unsigned size_log2, bool pair, bool release, u32 s, u32 t2, u32 n,
                                 u32 t) {
  ExclusiveDesc desc;
  desc.rt = t;
  desc.rt2 = t2;
  desc.rs = s;
  desc.size_log2 = size_log2;
  desc.pair = pair;
  desc.mmu_idx = memop(0).mmu_idx;
  if (release) e_.fence(FenceKind::Full);
  Value addr = base_reg(n);
  mte_check(addr, (pair ? 2u : 1u) << size_log2, true, n != 31);
  if (pair) {
    e_.call(kHelperStoreExclusive, {addr, e_.c64(desc.encode()), e_.pc_rel(pc_)});
    return true;
  }
  // Inline: one host compare-and-swap against the value LDXR saw, as the helper does. With no
  // branches inside a block, a monitor that does not match still runs the compare-and-swap but
  // with desired == expected, so memory keeps its value, and the status is 1. That access may
  // fault where the helper's would not: the Arm ARM (AArch64.ExclusiveMonitorsPass) leaves it
  // IMPLEMENTATION DEFINED whether aborts are detected before or after the monitor check.
  const Type ty = type_for_size(size_log2);
  Value match = e_.and_(
      e_.and_(e_.cmp(Cond::Ne, e_.get_reg(Type::I8, kOffMonitorValid), e_.konst(Type::I8, 0)),
              e_.cmp(Cond::Eq, e_.get_reg(Type::I64, kOffMonitorAddr), addr)),
      e_.cmp(Cond::Eq, e_.get_reg(Type::I8, kOffMonitorSize), e_.konst(Type::I8, 1u << size_log2)));
  Value expected = e_.trunc(ty, e_.get_reg(Type::I64, kOffMonitorValue));
  Value desired = e_.select(match, e_.trunc(ty, get_x(t, true)), expected);
  Value old = e_.atomic_cmpxchg(addr, expected, desired, memop(size_log2, false, true));
  Value ok = e_.and_(match, e_.cmp(Cond::Eq, old, expected));
  e_.set_reg(kOffMonitorValid, e_.konst(Type::I8, 0));
  set_x(s, e_.zext(Type::I64, e_.xor_(ok, e_.c1(true))));
  return true;
}

bool Translator::STXR(u32 size, u32 s, u32 n, u32 t) {
  return exclusive_store(size, false, false, s, 31, n, t);
}
bool Translator::STLXR(u32 size, u32 s, u32 n, u32 t) {
  return exclusive_store(size, false, true, s, 31, n, t);
}
bool Translator::LDXR(u32 size, u32 n, u32 t) {
  return exclusive_load(size, false, false, 31, n, t);
}
bool Translator::LDAXR(u32 size, u32 n, u32 t) {
  return exclusive_load(size, false, true, 31, n, t);
}
bool Translator::STXP(u32 sz, u32 s, u32 t2, u32 n, u32 t) {
  return exclusive_store(2 + sz, true, false, s, t2, n, t);
}
bool Translator::STLXP(u32 sz, u32 s, u32 t2, u32 n, u32 t) {
  return exclusive_store(2 + sz, true, true, s, t2, n, t);
}
bool Translator::LDXP(u32 sz, u32 t2, u32 n, u32 t) {
  return exclusive_load(2 + sz, true, false, t2, n, t);
}
bool Translator::LDAXP(u32 sz, u32 t2, u32 n, u32 t) {
  return exclusive_load(2 + sz, true, true, t2, n, t);
}

bool Translator::STLR(u32 size, u32 n, u32 t) {
  Value addr = base_reg(n);
  mte_check(addr, 1u << size, true, n != 31);
  e_.fence(FenceKind::Full);  // release: earlier accesses complete first
  e_.store(addr, e_.trunc(type_for_size(size), get_x(t, true)), memop(size, false, true));
  return true;
}

bool Translator::LDAR(u32 size, u32 n, u32 t) {
  Value addr = base_reg(n);
  mte_check(addr, 1u << size, false, n != 31);
  Value v = e_.load(Type::I64, addr, memop(size, false, true));
  e_.fence(FenceKind::Load);  // acquire: later accesses stay after
  set_x(t, v);
  return true;
}

// ---- Literal ----

bool Translator::LDR_lit(u32 sf, u32 imm19, u32 t) {
  Value addr = e_.pc_rel(pc_ + sext(imm19, 19) * 4);
  set_x(t, e_.load(Type::I64, addr, memop(sf ? 3 : 2)));
  return true;
}

bool Translator::LDRSW_lit(u32 imm19, u32 t) {
  Value addr = e_.pc_rel(pc_ + sext(imm19, 19) * 4);
  set_x(t, e_.load(Type::I64, addr, memop(2, true)));
  return true;
}

bool Translator::PRFM_lit(u32, u32) {
  return true;
}

bool Translator::LDR_lit_fp(u32 opc, u32 imm19, u32 t) {
  if (opc == 3) return unallocated();
  if (!fp_enabled_or_trap()) return true;
  uint64_t addr = pc_ + sext(imm19, 19) * 4;
  unsigned log2 = 2 + opc;
  if (log2 == 4) {
    Value lo = e_.load(Type::I64, e_.pc_rel(addr), memop(3));
    Value hi = e_.load(Type::I64, e_.pc_rel(addr + 8), memop(3));
    write_vreg(t, lo, hi);
  } else {
    write_vreg(t, e_.load(Type::I64, e_.pc_rel(addr), memop(log2)), Value{});
  }
  return true;
}

// ---- Pairs ----

bool Translator::load_pair(unsigned scale, bool fp, bool sign32, u32 mode, u32 L, u32 imm7, u32 t2,
                           u32 n, u32 t) {
  const int64_t off = sext(imm7, 7) * (int64_t(1) << scale);
  const bool wb = mode == 1 || mode == 3;
  Value base = base_reg(n);
  Value addr = mode == 1 ? base : e_.add(base, e_.c64(off));
  Value addr2 = e_.add(addr, e_.c64(1ull << scale));
  const Type gpr_type = scale == 3 ? Type::I64 : (sign32 ? Type::I64 : Type::I32);
  mte_check(addr, 2u << scale, !L, wb || n != 31);
  if (L) {
    Value v[2][2];  // [register][half]
    Value addrs[2] = {addr, addr2};
    for (int i = 0; i < 2; ++i) {
      if (!fp) {
        v[i][0] = e_.load(gpr_type, addrs[i], memop(scale, sign32));
      } else if (scale == 4) {
        v[i][0] = e_.load(Type::I64, addrs[i], memop(3));
        v[i][1] = e_.load(Type::I64, e_.add(addrs[i], e_.c64(8)), memop(3));
      } else {
        v[i][0] = e_.load(Type::I64, addrs[i], memop(scale));
      }
    }
    if (wb) set_xsp(n, mode == 1 ? e_.add(base, e_.c64(off)) : addr);
    const u32 regs[2] = {t, t2};
    for (int i = 0; i < 2; ++i) {
      if (fp)
        write_vreg(regs[i], v[i][0], v[i][1]);
      else
        set_x(regs[i], v[i][0]);
    }
    return true;
  }
  const u32 regs[2] = {t, t2};
  Value addrs[2] = {addr, addr2};
  for (int i = 0; i < 2; ++i) {
    if (!fp) {
      e_.store(addrs[i], e_.trunc(type_for_size(scale), get_x(regs[i], true)), memop(scale));
    } else if (scale == 4) {
      e_.store(addrs[i], e_.get_reg(Type::I64, off_vlo(regs[i])), memop(3));
      e_.store(e_.add(addrs[i], e_.c64(8)), e_.get_reg(Type::I64, off_vhi(regs[i])), memop(3));
    } else {
      Value lo = e_.get_reg(Type::I64, off_vlo(regs[i]));
      e_.store(addrs[i], e_.trunc(type_for_size(scale), lo), memop(scale));
    }
  }
  if (wb) set_xsp(n, mode == 1 ? e_.add(base, e_.c64(off)) : addr);
  return true;
}

bool Translator::LDSTP(u32 sf, u32 mode, u32 L, u32 imm7, u32 t2, u32 n, u32 t) {
  return load_pair(sf ? 3 : 2, false, false, mode, L, imm7, t2, n, t);
}

bool Translator::LDPSW(u32 mode, u32 imm7, u32 t2, u32 n, u32 t) {
  if (mode == 0) return unallocated();  // no non-temporal LDPSW
  return load_pair(2, false, true, mode, 1, imm7, t2, n, t);
}

bool Translator::LDSTP_fp(u32 opc, u32 mode, u32 L, u32 imm7, u32 t2, u32 n, u32 t) {
  if (opc == 3) return unallocated();
  if (!fp_enabled_or_trap()) return true;
  return load_pair(2 + opc, true, false, mode, L, imm7, t2, n, t);
}

// ---- Prefetch: no architectural effect ----

bool Translator::PRFM_imm(u32, u32, u32) {
  return true;
}
bool Translator::PRFM_reg(u32, u32 option, u32, u32, u32) {
  return (option & 2) ? true : unallocated();
}
bool Translator::PRFUM(u32, u32, u32) {
  return true;
}

// ---- Single general registers ----

bool Translator::ldst_imm_gpr(u32 size, u32 opc, int64_t offset, u32 n, u32 t, int wb,
                              bool unpriv) {
  std::optional<GprAccess> acc = decode_gpr(size, opc);
  if (!acc) return unallocated();
  Value base = base_reg(n);
  Value updated = offset ? e_.add(base, e_.c64(offset)) : base;
  Value addr = wb == 1 ? base : updated;
  MemOp mo = unpriv ? memop_unpriv(size, acc->sign) : memop(size, acc->sign);
  mte_check(addr, 1u << size, !acc->load, wb || n != 31, unpriv);
  Value v;
  if (acc->load)
    v = e_.load(acc->type, addr, mo);
  else
    e_.store(addr, e_.trunc(acc->type, get_x(t, true)), mo);
  if (wb) set_xsp(n, updated);
  if (acc->load) set_x(t, v);
  return true;
}

bool Translator::LDST_uimm(u32 size, u32 opc, u32 imm12, u32 n, u32 t) {
  return ldst_imm_gpr(size, opc, int64_t(imm12) << size, n, t, 0);
}
bool Translator::LDST_unscaled(u32 size, u32 opc, u32 imm9, u32 n, u32 t) {
  return ldst_imm_gpr(size, opc, sext(imm9, 9), n, t, 0);
}
bool Translator::LDST_post(u32 size, u32 opc, u32 imm9, u32 n, u32 t) {
  return ldst_imm_gpr(size, opc, sext(imm9, 9), n, t, 1);
}
bool Translator::LDST_unpriv(u32 size, u32 opc, u32 imm9, u32 n, u32 t) {
  return ldst_imm_gpr(size, opc, sext(imm9, 9), n, t, 0, true);
}
bool Translator::LDST_pre(u32 size, u32 opc, u32 imm9, u32 n, u32 t) {
  return ldst_imm_gpr(size, opc, sext(imm9, 9), n, t, 2);
}

Value Translator::reg_offset_addr(u32 n, u32 m, u32 option, u32 S, unsigned scale) {
  Value base = base_reg(n);
  return e_.add(base, extend_reg(m, option, S ? scale : 0, true));
}

bool Translator::LDST_reg(u32 size, u32 opc, u32 m, u32 option, u32 S, u32 n, u32 t) {
  std::optional<GprAccess> acc = decode_gpr(size, opc);
  if (!acc || !(option & 2)) return unallocated();  // option<1> == 0 is reserved
  Value addr = reg_offset_addr(n, m, option, S, size);
  MemOp mo = memop(size, acc->sign);
  mte_check(addr, 1u << size, !acc->load, true);
  if (acc->load)
    set_x(t, e_.load(acc->type, addr, mo));
  else
    e_.store(addr, e_.trunc(acc->type, get_x(t, true)), mo);
  return true;
}

// ---- Single SIMD&FP registers ----

bool Translator::ldst_fp(unsigned log2, unsigned opc, u32 t, Value addr) {
  const bool load = opc & 1;
  if (load) {
    if (log2 == 4) {
      Value lo = e_.load(Type::I64, addr, memop(3));
      Value hi = e_.load(Type::I64, e_.add(addr, e_.c64(8)), memop(3));
      write_vreg(t, lo, hi);
    } else {
      write_vreg(t, e_.load(Type::I64, addr, memop(log2)), Value{});
    }
  } else if (log2 == 4) {
    e_.store(addr, e_.get_reg(Type::I64, off_vlo(t)), memop(3));
    e_.store(e_.add(addr, e_.c64(8)), e_.get_reg(Type::I64, off_vhi(t)), memop(3));
  } else {
    Value lo = e_.get_reg(Type::I64, off_vlo(t));
    e_.store(addr, e_.trunc(type_for_size(log2), lo), memop(log2));
  }
  return true;
}

bool Translator::ldst_imm_fp(u32 size, u32 opc, int64_t offset, u32 n, u32 t, int wb) {
  std::optional<unsigned> log2 = decode_fp_size(size, opc);
  if (!log2) return unallocated();
  if (!fp_enabled_or_trap()) return true;
  Value base = base_reg(n);
  Value updated = offset ? e_.add(base, e_.c64(offset)) : base;
  mte_check(wb == 1 ? base : updated, 1u << *log2, !(opc & 1), wb || n != 31);
  ldst_fp(*log2, opc, t, wb == 1 ? base : updated);
  if (wb) set_xsp(n, updated);
  return true;
}

bool Translator::LDST_uimm_fp(u32 size, u32 opc, u32 imm12, u32 n, u32 t) {
  std::optional<unsigned> log2 = decode_fp_size(size, opc);
  if (!log2) return unallocated();
  return ldst_imm_fp(size, opc, int64_t(imm12) << *log2, n, t, 0);
}
bool Translator::LDST_unscaled_fp(u32 size, u32 opc, u32 imm9, u32 n, u32 t) {
  return ldst_imm_fp(size, opc, sext(imm9, 9), n, t, 0);
}
bool Translator::LDST_post_fp(u32 size, u32 opc, u32 imm9, u32 n, u32 t) {
  return ldst_imm_fp(size, opc, sext(imm9, 9), n, t, 1);
}
bool Translator::LDST_pre_fp(u32 size, u32 opc, u32 imm9, u32 n, u32 t) {
  return ldst_imm_fp(size, opc, sext(imm9, 9), n, t, 2);
}

bool Translator::LDST_reg_fp(u32 size, u32 opc, u32 m, u32 option, u32 S, u32 n, u32 t) {
  std::optional<unsigned> log2 = decode_fp_size(size, opc);
  if (!log2 || !(option & 2)) return unallocated();
  if (!fp_enabled_or_trap()) return true;
  Value addr = reg_offset_addr(n, m, option, S, *log2);
  mte_check(addr, 1u << *log2, !(opc & 1), true);
  return ldst_fp(*log2, opc, t, addr);
}

}  // namespace orrery::cpu::arm64
