// Segment-register loads and the descriptor tables (Intel SDM vol. 3A, chapters 3 and 5).
#include "cpu/x86/seg.h"

#include "cpu/x86/cpu.h"

namespace orrery::cpu::x86 {

Descriptor read_descriptor(X86Cpu& cpu, uint16_t sel, uint32_t ext, bool wide) {
  X86State& s = cpu.state();
  uint64_t base;
  uint32_t limit;
  if (sel & 4) {
    if ((s.seg[kLdtr].selector & 0xfffc) == 0 || !(s.seg[kLdtr].attr & seg_attr::kP))
      throw GuestFault{vec::kGp, sel_error(sel, ext)};
    base = s.seg[kLdtr].base;
    limit = s.seg[kLdtr].limit;
  } else {
    base = s.gdtr.base;
    limit = s.gdtr.limit;
  }
  const uint32_t index = sel & 0xfff8;
  if (index + (wide ? 15u : 7u) > limit) throw GuestFault{vec::kGp, sel_error(sel, ext)};
  Descriptor d;
  d.addr = base + index;
  const uint64_t raw = cpu.read_linear(d.addr, 8, kMmuIdxImplicit);
  d.lo = uint32_t(raw);
  d.hi = uint32_t(raw >> 32);
  if (wide) d.high = cpu.read_linear(d.addr + 8, 8, kMmuIdxImplicit);
  return d;
}

void set_accessed(X86Cpu& cpu, Descriptor& d) {
  if (!d.s() || (d.hi & (1u << 8)) || d.addr == 0) return;
  d.hi |= 1u << 8;
  cpu.write_linear(d.addr + 5, 1, (d.hi >> 8) & 0xff, kMmuIdxImplicit);
}

SegmentCache make_cache(uint16_t sel, const Descriptor& d) {
  SegmentCache c;
  c.selector = sel;
  c.attr = d.attr();
  c.limit = d.limit();
  c.base = d.base();
  return c;
}

SegmentCache null_segment(uint16_t sel, unsigned dpl) {
  SegmentCache c;
  c.selector = sel;
  c.attr = uint16_t(dpl << seg_attr::kDplShift);  // not present: unusable
  c.limit = 0;
  c.base = 0;
  return c;
}

void load_segment_real(X86State& s, unsigned r, uint16_t sel, bool vm) {
  SegmentCache& c = s.seg[r];
  c.selector = sel;
  c.base = uint64_t(sel) << 4;
  if (vm) {
    // Virtual-8086 mode: 64K, read/write (code for CS), DPL 3.
    c.limit = 0xffff;
    c.attr = uint16_t(seg_attr::kP | seg_attr::kS | (3u << seg_attr::kDplShift) |
                      (r == kCs ? 0xb : 0x3));
  }
  // Real mode keeps the limit and attributes of the cache (big real mode works).
}

uint64_t stack_mask(const X86State& s) {
  if (code64(s)) return ~0ull;
  return (s.seg[kSs].attr & seg_attr::kDb) ? 0xffffffffull : 0xffff;
}

void load_segment(X86Cpu& cpu, unsigned r, uint16_t sel) {
  X86State& s = cpu.state();
  if (!protected_mode(s) || vm86(s)) {
    load_segment_real(s, r, sel, vm86(s));
    return;
  }
  const unsigned cpl = cpu.cpl();
  const unsigned rpl = sel & 3;
  if ((sel & 0xfffc) == 0) {
    // SS may be null only in 64-bit mode at CPL < 3 with RPL = CPL.
    if (r == kSs && !(code64(s) && cpl < 3 && rpl == cpl)) throw GuestFault{vec::kGp, 0};
    s.seg[r] = null_segment(sel, r == kSs ? cpl : 0);
    return;
  }
  Descriptor d = read_descriptor(cpu, sel, 0);
  const uint32_t err = sel_error(sel, 0);
  if (r == kSs) {
    if (rpl != cpl || d.dpl() != cpl || !d.writable_data()) throw GuestFault{vec::kGp, err};
    if (!d.present()) throw GuestFault{vec::kSs, err};
  } else {
    if (!d.s() || !d.readable()) throw GuestFault{vec::kGp, err};
    // Data and non-conforming code: both RPL and CPL must be <= DPL.
    if (!d.conforming() && (rpl > d.dpl() || cpl > d.dpl())) throw GuestFault{vec::kGp, err};
    if (!d.present()) throw GuestFault{vec::kNp, err};
  }
  set_accessed(cpu, d);
  s.seg[r] = make_cache(sel, d);
  if (r == kSs) s.inhibit_irq = 1;  // MOV SS / POP SS / LSS shadow the next instruction
}

void set_cs(X86State& s, uint16_t sel, const Descriptor& d, unsigned cpl, uint64_t rip) {
  s.seg[kCs] = make_cache(sel, d);
  if ((s.efer & efer::kLma) && d.l()) s.seg[kCs].base = 0;  // 64-bit code ignores the base
  (void)cpl;  // CPL is the RPL of CS, which callers set to it
  if (!code64(s)) rip &= 0xffffffffu;
  s.common.pc = s.seg[kCs].base + rip;
  if (!code64(s) && !(s.efer & efer::kLma)) s.common.pc &= 0xffffffffu;
}

void tss_stack(X86Cpu& cpu, unsigned dpl, unsigned ist, uint16_t& ss, uint64_t& sp, uint32_t ext) {
  X86State& s = cpu.state();
  const SegmentCache& tr = s.seg[kTr];
  if (!(tr.attr & seg_attr::kP)) throw GuestFault{vec::kTs, sel_error(tr.selector, ext)};
  if (s.efer & efer::kLma) {
    const uint32_t off = ist ? 0x24 + (ist - 1) * 8 : 4 + dpl * 8;
    if (off + 7 > tr.limit) throw GuestFault{vec::kTs, sel_error(tr.selector, ext)};
    sp = cpu.read_linear(tr.base + off, 8, kMmuIdxImplicit);
    ss = uint16_t(dpl);
    return;
  }
  const unsigned type = tr.attr & seg_attr::kTypeMask;
  if (type & 8) {  // 32-bit TSS
    const uint32_t off = 4 + dpl * 8;
    if (off + 5 > tr.limit) throw GuestFault{vec::kTs, sel_error(tr.selector, ext)};
    sp = cpu.read_linear(tr.base + off, 4, kMmuIdxImplicit);
    ss = uint16_t(cpu.read_linear(tr.base + off + 4, 2, kMmuIdxImplicit));
  } else {  // 16-bit TSS
    const uint32_t off = 2 + dpl * 4;
    if (off + 3 > tr.limit) throw GuestFault{vec::kTs, sel_error(tr.selector, ext)};
    sp = cpu.read_linear(tr.base + off, 2, kMmuIdxImplicit);
    ss = uint16_t(cpu.read_linear(tr.base + off + 2, 2, kMmuIdxImplicit));
  }
}

}  // namespace orrery::cpu::x86
