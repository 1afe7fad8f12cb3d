// Segment descriptors (Intel SDM vol. 3A, 3.4.5 and 5): reading them from the GDT/LDT with the
// limit checks, decoding them into the SegmentCache format, and the segment-register loads
// shared by MOV/POP Sreg, far transfers, IRET and event delivery. Internal to cpu/x86.
#pragma once

#include <cstdint>

#include "cpu/x86/exception.h"
#include "cpu/x86/flags.h"
#include "cpu/x86/state.h"

namespace orrery::cpu::x86 {

class X86Cpu;

/// The MMU index of implicit supervisor accesses (GDT, LDT, IDT, TSS): supervisor at any CPL,
/// and SMAP applies to them whatever EFLAGS.AC says (SDM 4.6).
constexpr unsigned kMmuIdxImplicit = kMmuIdxKernel;

/// A raw 8-byte descriptor (16 for system descriptors in long mode: `high` is bytes 8..15).
struct Descriptor {
  uint32_t lo = 0, hi = 0;
  uint64_t high = 0;
  uint64_t addr = 0;  // linear address it was read from (to set the accessed bit)

  uint32_t base() const { return (lo >> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000u); }
  uint32_t limit() const {
    uint32_t l = (lo & 0xffff) | (hi & 0xf0000);
    return (hi & (1u << 23)) ? (l << 12) | 0xfff : l;
  }
  unsigned type() const { return (hi >> 8) & 0xf; }
  bool s() const { return hi & (1u << 12); }
  unsigned dpl() const { return (hi >> 13) & 3; }
  bool present() const { return hi & (1u << 15); }
  bool code() const { return s() && (type() & 8); }
  bool conforming() const { return code() && (type() & 4); }
  bool readable() const { return !code() || (type() & 2); }  // code: R bit
  bool writable_data() const { return s() && !(type() & 8) && (type() & 2); }
  bool l() const { return hi & (1u << 21); }
  bool db() const { return hi & (1u << 22); }
  /// The packed SegmentCache attribute (see state.h).
  uint16_t attr() const { return uint16_t(((hi >> 8) & 0xff) | ((hi >> 8) & 0xf000)); }
  /// Gate fields.
  uint16_t gate_selector() const { return uint16_t(lo >> 16); }
  uint64_t gate_offset() const {
    return (lo & 0xffff) | (hi & 0xffff0000u) | (high & 0xffffffffu) << 32;
  }
  unsigned gate_ist() const { return hi & 7; }
  unsigned gate_param_count() const { return hi & 0x1f; }
};

/// The selector error code (index, TI) plus EXT.
constexpr uint32_t sel_error(uint16_t sel, uint32_t ext) {
  return (sel & 0xfffc) | ext;
}

/// Reads the descriptor sel names from the GDT or LDT (8 bytes; 16 with wide, for system
/// descriptors in long mode). Throws #GP(sel_error) when the index is beyond the table's
/// limit (or the LDT is null).
Descriptor read_descriptor(X86Cpu& cpu, uint16_t sel, uint32_t ext, bool wide = false);
/// Sets the accessed bit of a code/data descriptor in memory (as the processor does on load).
void set_accessed(X86Cpu& cpu, Descriptor& d);
/// The segment cache of a descriptor.
SegmentCache make_cache(uint16_t sel, const Descriptor& d);

/// Loads data/stack segment register r (not CS) from sel with the protected-mode checks (SDM
/// MOV/POP/LDS): null allowed except for SS (outside 64-bit mode at CPL < 3); #GP/#SS/#NP with
/// the selector's error code. In real and virtual-8086 mode the base is sel << 4.
void load_segment(X86Cpu& cpu, unsigned r, uint16_t sel);
/// Loads the hidden part of a segment register in real/virtual-8086 mode.
void load_segment_real(X86State& s, unsigned r, uint16_t sel, bool vm86);
/// A null selector loaded into a data segment register: unusable, with DPL = rpl for SS.
SegmentCache null_segment(uint16_t sel, unsigned dpl);

/// Sets CS with CPL = cpl (RPL of the selector), and the PC to CS.base + rip.
void set_cs(X86State& s, uint16_t sel, const Descriptor& d, unsigned cpl, uint64_t rip);

/// Reads SS:RSP for privilege level dpl from the current TSS (32-bit or 16-bit; 64-bit TSS:
/// RSPn or IST slot ist when ist != 0). Throws #TS on a TSS too short.
void tss_stack(X86Cpu& cpu, unsigned dpl, unsigned ist, uint16_t& ss, uint64_t& sp, uint32_t ext);

/// The stack-pointer mask of the current SS (0xffff or 0xffffffff; all ones in 64-bit mode).
uint64_t stack_mask(const X86State& s);
/// True in 64-bit mode (long mode with CS.L).
inline bool code64(const X86State& s) {
  return (s.efer & efer::kLma) && (s.seg[kCs].attr & seg_attr::kL);
}
inline bool protected_mode(const X86State& s) {
  return (s.cr0 & cr0::kPe) != 0;
}
inline bool vm86(const X86State& s) {
  return (s.eflags & eflags::kVm) != 0;
}

/// The full EFLAGS (arithmetic bits materialised from the lazy state) and storing all of it.
inline uint64_t read_eflags(const X86State& s) {
  return compute_eflags(s);
}
inline void write_eflags(X86State& s, uint64_t value) {
  set_eflags(s, value, ~0ull);
}

}  // namespace orrery::cpu::x86
