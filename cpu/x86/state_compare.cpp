// See state_compare.h.
#include "cpu/x86/state_compare.h"

#include <cinttypes>
#include <cstdio>

#include "cpu/x86/flags.h"

namespace orrery::cpu::x86 {
namespace {

constexpr const char* kGprNames[kNumGprs] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp",
                                             "rsi", "rdi", "r8",  "r9",  "r10", "r11",
                                             "r12", "r13", "r14", "r15"};
constexpr const char* kSegNames[kNumSegs] = {"es", "cs", "ss", "ds", "fs", "gs", "ldtr", "tr"};

void add(std::vector<FieldDiff>& out, FieldKind k, unsigned index, std::string name, uint64_t a,
         uint64_t b, uint64_t mask = ~0ull) {
  if (((a ^ b) & mask) == 0) return;
  FieldDiff d{k, index, std::move(name)};
  d.a = a & mask;
  d.b = b & mask;
  d.mask = mask;
  out.push_back(std::move(d));
}

}  // namespace

std::string hex64(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "%#" PRIx64, v);
  return b;
}

ArchState arch_state_of(const X86State& s) {
  ArchState a;
  for (unsigned i = 0; i < kNumGprs; ++i) a.gpr[i] = s.gpr[i];
  a.rip = s.common.pc - s.seg[kCs].base;
  a.rflags = compute_eflags(s);
  a.fcw = s.x87.fcw;
  a.fsw = uint16_t((s.x87.fsw & ~0x3800u) | (unsigned(s.x87.top & 7) << 11));
  a.ftw = s.x87.ftw;
  for (unsigned i = 0; i < 8; ++i) {
    const F80& r = s.x87.st[(s.x87.top + i) & 7];
    a.st[i] = {r.mant, r.sign_exp};
  }
  a.mxcsr = s.mxcsr;
  for (unsigned i = 0; i < 16; ++i)
    for (unsigned q = 0; q < 4; ++q) a.ymm[i][q] = s.ymm[i].q[q];
  a.has_system = true;
  for (unsigned i = 0; i < kNumSegs; ++i) a.seg[i] = s.seg[i];
  a.gdtr = s.gdtr;
  a.idtr = s.idtr;
  a.cr0 = s.cr0;
  a.cr2 = s.cr2;
  a.cr3 = s.cr3;
  a.cr4 = s.cr4;
  a.cr8 = s.cr8;
  a.efer = s.efer;
  a.xcr0 = s.xcr0;
  return a;
}

std::vector<FieldDiff> diff_arch_states(const ArchState& a, const ArchState& b,
                                        const CompareMasks& m) {
  std::vector<FieldDiff> out;
  add(out, FieldKind::Rip, 0, "rip", a.rip, b.rip);
  for (unsigned i = 0; i < kNumGprs; ++i)
    add(out, FieldKind::Gpr, i, kGprNames[i], a.gpr[i], b.gpr[i]);
  add(out, FieldKind::Rflags, 0, "rflags", a.rflags, b.rflags, m.rflags);
  add(out, FieldKind::Fsw, 0, "fsw", a.fsw, b.fsw, m.fsw);
  add(out, FieldKind::Mxcsr, 0, "mxcsr", a.mxcsr, b.mxcsr);
  add(out, FieldKind::Fcw, 0, "fcw", a.fcw, b.fcw);
  add(out, FieldKind::Ftw, 0, "ftw", a.ftw, b.ftw);
  for (unsigned i = 0; i < 8; ++i)
    if (a.st[i].mantissa != b.st[i].mantissa || a.st[i].sign_exp != b.st[i].sign_exp) {
      FieldDiff d{FieldKind::St, i, "st" + std::to_string(i)};
      d.a = a.st[i].mantissa;
      d.b = b.st[i].mantissa;
      d.a_hi = a.st[i].sign_exp;
      d.b_hi = b.st[i].sign_exp;
      out.push_back(std::move(d));
    }
  for (unsigned i = 0; i < 16; ++i)
    for (unsigned q = 0; q < 4; ++q)
      add(out, FieldKind::Ymm, i * 4 + q, "ymm" + std::to_string(i) + ".q" + std::to_string(q),
          a.ymm[i][q], b.ymm[i][q]);
  if (!a.has_system || !b.has_system) return out;
  for (unsigned i = 0; i < kNumSegs; ++i) {
    const std::string n = kSegNames[i];
    add(out, FieldKind::System, i, n + ".sel", a.seg[i].selector, b.seg[i].selector);
    add(out, FieldKind::System, i, n + ".base", a.seg[i].base, b.seg[i].base);
    add(out, FieldKind::System, i, n + ".limit", a.seg[i].limit, b.seg[i].limit);
    add(out, FieldKind::System, i, n + ".attr", a.seg[i].attr, b.seg[i].attr);
  }
  add(out, FieldKind::System, 0, "gdtr.base", a.gdtr.base, b.gdtr.base);
  add(out, FieldKind::System, 0, "gdtr.limit", a.gdtr.limit, b.gdtr.limit);
  add(out, FieldKind::System, 0, "idtr.base", a.idtr.base, b.idtr.base);
  add(out, FieldKind::System, 0, "idtr.limit", a.idtr.limit, b.idtr.limit);
  add(out, FieldKind::System, 0, "cr0", a.cr0, b.cr0);
  add(out, FieldKind::System, 0, "cr2", a.cr2, b.cr2);
  add(out, FieldKind::System, 0, "cr3", a.cr3, b.cr3);
  add(out, FieldKind::System, 0, "cr4", a.cr4, b.cr4);
  add(out, FieldKind::System, 0, "cr8", a.cr8, b.cr8);
  add(out, FieldKind::System, 0, "efer", a.efer, b.efer);
  add(out, FieldKind::System, 0, "xcr0", a.xcr0, b.xcr0);
  return out;
}

std::string format_field_diff(const FieldDiff& d, std::string_view a_name,
                              std::string_view b_name) {
  std::string s = "  " + d.name;
  if (d.mask != ~0ull) s += " (mask " + hex64(d.mask) + ")";
  s += ": " + std::string(a_name) + " ";
  if (d.kind == FieldKind::St) {
    s += hex64(d.a_hi) + ":" + hex64(d.a) + " " + std::string(b_name) + " " + hex64(d.b_hi) + ":" +
         hex64(d.b);
  } else {
    s += hex64(d.a) + " " + std::string(b_name) + " " + hex64(d.b);
  }
  return s + "\n";
}

std::string format_arch_states(const ArchState& a, const ArchState& b, std::string_view a_name,
                               std::string_view b_name, const CompareMasks& masks) {
  const std::vector<FieldDiff> diffs = diff_arch_states(a, b, masks);
  auto differs = [&](const std::string& name) {
    for (const FieldDiff& d : diffs)
      if (d.name == name) return true;
    return false;
  };
  char line[160];
  std::snprintf(line, sizeof line, "  %-12s %-22.22s %-22.22s\n", "", std::string(a_name).c_str(),
                std::string(b_name).c_str());
  std::string out = line;
  auto row = [&](const std::string& name, const std::string& x, const std::string& y) {
    std::snprintf(line, sizeof line, "%c %-12s %-22s %-22s\n", differs(name) ? '*' : ' ',
                  name.c_str(), x.c_str(), y.c_str());
    out += line;
  };
  auto row64 = [&](const std::string& name, uint64_t x, uint64_t y) {
    row(name, hex64(x), hex64(y));
  };
  row64("rip", a.rip, b.rip);
  for (unsigned i = 0; i < kNumGprs; ++i) row64(kGprNames[i], a.gpr[i], b.gpr[i]);
  row64("rflags", a.rflags, b.rflags);
  if (a.has_system && b.has_system) {
    for (unsigned i = 0; i < kNumSegs; ++i) {
      const std::string n = kSegNames[i];
      row64(n + ".sel", a.seg[i].selector, b.seg[i].selector);
      row64(n + ".base", a.seg[i].base, b.seg[i].base);
      row64(n + ".limit", a.seg[i].limit, b.seg[i].limit);
      row64(n + ".attr", a.seg[i].attr, b.seg[i].attr);
    }
    row64("gdtr.base", a.gdtr.base, b.gdtr.base);
    row64("gdtr.limit", a.gdtr.limit, b.gdtr.limit);
    row64("idtr.base", a.idtr.base, b.idtr.base);
    row64("idtr.limit", a.idtr.limit, b.idtr.limit);
    row64("cr0", a.cr0, b.cr0);
    row64("cr2", a.cr2, b.cr2);
    row64("cr3", a.cr3, b.cr3);
    row64("cr4", a.cr4, b.cr4);
    row64("cr8", a.cr8, b.cr8);
    row64("efer", a.efer, b.efer);
    row64("xcr0", a.xcr0, b.xcr0);
  }
  row64("fcw", a.fcw, b.fcw);
  row64("fsw", a.fsw, b.fsw);
  row64("ftw", a.ftw, b.ftw);
  for (unsigned i = 0; i < 8; ++i)
    row("st" + std::to_string(i), hex64(a.st[i].sign_exp) + ":" + hex64(a.st[i].mantissa),
        hex64(b.st[i].sign_exp) + ":" + hex64(b.st[i].mantissa));
  row64("mxcsr", a.mxcsr, b.mxcsr);
  // Vector registers only where they are not all zero on both sides, or differ.
  for (unsigned i = 0; i < 16; ++i)
    for (unsigned q = 0; q < 4; ++q) {
      const std::string n = "ymm" + std::to_string(i) + ".q" + std::to_string(q);
      if (a.ymm[i][q] || b.ymm[i][q]) row64(n, a.ymm[i][q], b.ymm[i][q]);
    }
  return out;
}

void copy_arch_state(X86State& d, const X86State& s) {
  d.common.pc = s.common.pc;
  for (unsigned i = 0; i < kNumGprs; ++i) d.gpr[i] = s.gpr[i];
  d.cc_dst = s.cc_dst;
  d.cc_src = s.cc_src;
  d.cc_src2 = s.cc_src2;
  d.cc_op = s.cc_op;
  d.eflags = s.eflags;
  for (unsigned i = 0; i < kNumSegs; ++i) d.seg[i] = s.seg[i];
  d.gdtr = s.gdtr;
  d.idtr = s.idtr;
  d.cr0 = s.cr0;
  d.cr2 = s.cr2;
  d.cr3 = s.cr3;
  d.cr4 = s.cr4;
  d.cr8 = s.cr8;
  d.efer = s.efer;
  d.xcr0 = s.xcr0;
  for (unsigned i = 0; i < 8; ++i) d.dr[i] = s.dr[i];
  d.x87 = s.x87;
  d.mxcsr = s.mxcsr;
  for (unsigned i = 0; i < 16; ++i) d.ymm[i] = s.ymm[i];
  d.vex_tmp[0] = s.vex_tmp[0];
  d.vex_tmp[1] = s.vex_tmp[1];
  d.msr = s.msr;
  d.inhibit_irq = s.inhibit_irq;
  d.nmi_blocked = s.nmi_blocked;
  d.halted = s.halted;
  d.pending_exception = s.pending_exception;
}

}  // namespace orrery::cpu::x86
