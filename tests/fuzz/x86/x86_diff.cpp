// See x86_diff.h.
#include "tests/fuzz/x86/x86_diff.h"

#include "cpu/x86/state_compare.h"

#include <capstone/capstone.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <set>

namespace orrery::tests::x86fuzz {
namespace {

constexpr uint64_t kComparedFlags = 0x8d5 | 0x400 | 0x244100;  // CF PF AF ZF SF OF, DF; TF NT AC ID

std::string hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "%#" PRIx64, v);
  return b;
}

bool uses_row(const Snippet& s, const char* prefix) {
  for (uint16_t r : s.rows)
    if (std::string_view(X86Gen::row_name(r)).starts_with(prefix)) return true;
  return false;
}

bool uses_sse(const Snippet& s) {
  for (uint16_t r : s.rows) {
    Ext e = X86Gen::row_ext(r);
    if (e >= Ext::Sse && e <= Ext::Sse42) return true;
  }
  return false;
}

// A rule whose bug writes a wrong value explains everything computed from it later in the
// snippet: flags, stores, vector values, MXCSR flags and, when the snippet branches, the path
// (so RIP, the fault and the x87 state too).
bool diverged(Mismatch& m, const Snippet& s) {
  if (!(m.gprs || m.rflags || m.data || m.ymm || m.mxcsr)) return false;
  if (uses_row(s, "jcc")) {
    m = Mismatch{};
    return true;
  }
  m.gprs = 0;
  m.rflags = 0;
  m.data = m.ymm = false;
  m.mxcsr = 0;
  return true;
}

// Both qwords are double NaNs, or each differing dword is a float NaN on both sides.
bool nan_lanes(uint64_t a, uint64_t b) {
  auto nan64 = [](uint64_t v) {
    return (v & 0x7ff0000000000000) == 0x7ff0000000000000 && (v & 0x000fffffffffffff);
  };
  auto nan32 = [](uint32_t v) { return (v & 0x7f800000) == 0x7f800000 && (v & 0x7fffff); };
  if (nan64(a) && nan64(b)) return true;
  for (int h = 0; h < 2; ++h) {
    uint32_t x = uint32_t(a >> (32 * h)), y = uint32_t(b >> (32 * h));
    if (x != y && !(nan32(x) && nan32(y))) return false;
  }
  return true;
}

}  // namespace

namespace {

// The fuzzer's user state as the shared comparison sees it (no system part).
cpu::x86::ArchState arch_of(const X86UserState& u) {
  cpu::x86::ArchState a;
  for (unsigned i = 0; i < 16; ++i) a.gpr[i] = u.gpr[i];
  a.rip = u.rip;
  a.rflags = u.rflags;
  a.fcw = u.fcw;
  a.fsw = u.fsw;
  a.ftw = u.ftw;
  for (unsigned i = 0; i < 8; ++i) a.st[i] = {u.st[i].mantissa, u.st[i].sign_exp};
  a.mxcsr = u.mxcsr;
  for (unsigned i = 0; i < 16; ++i)
    for (unsigned q = 0; q < 4; ++q) a.ymm[i][q] = u.ymm[i].q[q];
  return a;
}

}  // namespace

// The registers go through the comparison -accel verify uses (cpu/x86/state_compare.h), under
// the snippet's undefined-flag masks; the fault and the data area are the fuzzer's own.
Mismatch compare_states(const X86UserState& o, const X86UserState& t, const Snippet& snip,
                        std::string* detail) {
  using cpu::x86::FieldDiff;
  using cpu::x86::FieldKind;
  Mismatch m;
  std::string d;
  auto note = [&](const std::string& what, uint64_t a, uint64_t b) {
    d += "  " + what + ": oracle " + hex(a) + " target " + hex(b) + "\n";
  };
  m.oracle_vector = o.fault.vector;
  m.target_vector = t.fault.vector;
  m.oracle_fsw = o.fsw;
  m.oracle_mxcsr = o.mxcsr;
  if (o.fault.vector != t.fault.vector || (o.fault.has_error_code && t.fault.has_error_code &&
                                           o.fault.error_code != t.fault.error_code)) {
    m.fault = true;
    note("fault vector", uint64_t(int64_t(o.fault.vector)), uint64_t(int64_t(t.fault.vector)));
  }
  uint16_t rflags_undef = snip.rflags_undef, fsw_undef = snip.fsw_undef;
  if (o.fault.vector >= 0 && o.rip >= layout::kCodeAddr)
    snip.masks_at(o.rip - layout::kCodeAddr, rflags_undef, fsw_undef);
  cpu::x86::CompareMasks masks;
  masks.rflags = kComparedFlags & ~uint64_t(rflags_undef);
  masks.fsw = uint16_t(~fsw_undef);
  m.ymm_nan_only = true;
  for (const FieldDiff& f : cpu::x86::diff_arch_states(arch_of(o), arch_of(t), masks)) {
    switch (f.kind) {
      case FieldKind::Rip:
        m.rip = true;
        break;
      case FieldKind::Gpr:
        m.gprs |= uint16_t(1u << f.index);
        break;
      case FieldKind::Rflags:
        m.rflags = f.a ^ f.b;
        break;
      case FieldKind::Fsw:
        m.fsw = uint16_t(f.a ^ f.b);
        break;
      case FieldKind::Mxcsr:
        m.mxcsr = uint32_t(f.a ^ f.b);
        break;
      case FieldKind::Fcw:
        m.fcw = true;
        break;
      case FieldKind::Ftw:
        m.ftw = true;
        break;
      case FieldKind::St:
        m.st = true;
        break;
      case FieldKind::Ymm:
        m.ymm = true;
        if (!nan_lanes(f.a, f.b)) m.ymm_nan_only = false;
        break;
      case FieldKind::System:
        break;
    }
    d += cpu::x86::format_field_diff(f, "oracle", "target");
  }
  for (size_t i = 0; i < o.data.size(); i += 8) {
    uint64_t a, b;
    std::memcpy(&a, &o.data[i], 8);
    std::memcpy(&b, &t.data[i], 8);
    if (a != b) {
      m.data = true;
      note("data+" + hex(i), a, b);
    }
  }
  if (detail) *detail = d;
  return m;
}

std::string disassemble(std::span<const uint8_t> code) {
  csh h;
  if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK) return "  (capstone unavailable)\n";
  cs_insn* insn = nullptr;
  size_t n = cs_disasm(h, code.data(), code.size(), layout::kCodeAddr, 0, &insn);
  std::string out;
  size_t consumed = 0;
  for (size_t i = 0; i < n; ++i) {
    char line[256];
    std::string bytes;
    for (unsigned b = 0; b < insn[i].size; ++b) {
      char x[4];
      std::snprintf(x, sizeof x, "%02x", insn[i].bytes[b]);
      bytes += x;
    }
    std::snprintf(line, sizeof line, "  %#" PRIx64 ": %-30s %s %s\n", insn[i].address,
                  bytes.c_str(), insn[i].mnemonic, insn[i].op_str);
    out += line;
    consumed += insn[i].size;
  }
  if (consumed < code.size())
    out += "  (" + std::to_string(code.size() - consumed) + " bytes capstone cannot decode)\n";
  cs_free(insn, n);
  cs_close(&h);
  return out;
}

DiffResult run_diff(X86Runner& oracle, X86Runner& target, const DiffOptions& opt) {
  DiffResult res;
  X86Gen gen(opt.seed, opt.exts, opt.skip_rows);
  gen.set_lock_prefixes(opt.lock_prefixes);
  gen.set_unmask_mxcsr(opt.unmask_mxcsr);
  gen.set_align_check(opt.align_check);
  gen.set_misalign_vectors(opt.misalign_vec);
  auto t0 = std::chrono::steady_clock::now();
  unsigned reported = 0;
  for (uint64_t i = 0; i < opt.count; ++i) {
    X86UserState init = gen.random_state();
    Snippet snip = gen.random_snippet(opt.length);
    X86UserState a = init, b = init;
    if (!oracle.run(snip.code, a) || !target.run(snip.code, b)) {
      res.runner_error = true;
      res.report += "runner error at sequence " + std::to_string(i) + ": " + oracle.error() +
                    target.error() + "\n" + disassemble(snip.code);
      break;
    }
    if (a.fault.vector == X86Fault::kRefused || b.fault.vector == X86Fault::kRefused) {
      ++res.refused;
      continue;
    }
    ++res.runs;
    res.instructions += snip.rows.size();
    if (a.fault.vector >= 0) ++res.oracle_faults;
    std::string detail;
    Mismatch m = compare_states(a, b, snip, &detail);
    if (!m.any()) continue;
    std::string classes;
    Mismatch rest = m;
    for (const AllowRule& r : opt.allow)
      if (r.explain(rest, snip)) classes += (classes.empty() ? "" : "+") + std::string(r.name);
    if (!rest.any()) {
      ++res.allowed[classes];
      continue;
    }
    ++res.mismatches;
    if (reported++ < opt.max_reports) {
      res.report += "mismatch: seed " + std::to_string(opt.seed) + " sequence " +
                    std::to_string(i) + " (" + oracle.name() + " vs " + target.name() + "), rows:";
      for (uint16_t r : snip.rows) res.report += std::string(" [") + X86Gen::row_name(r) + "]";
      res.report += "\n" + disassemble(snip.code) + detail;
    }
  }
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

// Known Unicorn 2.0.1 (QEMU 5.0 TCG) differences from real silicon, found by this fuzzer
// (README.md lists them). Each rule clears only the state its bug touches.
std::span<const AllowRule> unicorn_allow_list() {
  static const AllowRule kRules[] = {
      {"unicorn-mxcsr-exception-flags",
       "SSE arithmetic never sets the MXCSR exception flags (IE DE ZE OE UE PE)",
       [](Mismatch& m, const Snippet&) {
         bool hit = m.mxcsr & 0x3f;
         m.mxcsr &= ~0x3fu;
         return hit;
       }},
      {"unicorn-x87-status-flags",
       "x87 arithmetic does not set FSW PE/UE/OE/DE, the stack-fault bit, C1 round-up, ES, B",
       [](Mismatch& m, const Snippet&) {
         bool hit = m.fsw & 0x82ff;
         m.fsw &= uint16_t(~0x82ffu);
         return hit;
       }},
      {"unicorn-x87-stack-fault",
       "masked x87 stack underflow/overflow does not load the QNaN indefinite (tags, ST differ)",
       [](Mismatch& m, const Snippet&) {
         if (!(m.oracle_fsw & 0x40) || !(m.ftw || m.st || m.data || (m.fsw & 0x4500))) return false;
         m.ftw = m.st = m.data = false;  // FST of an empty register stores the indefinite
         m.rflags = 0;                   // FCOMI of an empty register: unordered
         m.fsw &= uint16_t(~0x4500u);    // FCOM/FUCOM of an empty register: unordered
         return true;
       }},
      {"unicorn-x87-invalid-store",
       "a masked invalid x87 integer store (FIST/FISTTP) writes no integer indefinite",
       [](Mismatch& m, const Snippet& s) {
         if (!(m.oracle_fsw & 1) || !m.data || !uses_row(s, "fist")) return false;
         m.data = false;
         return true;
       }},
      {"unicorn-x87-invalid-result",
       "a masked x87 invalid operation (FPREM, FSQRT of a negative...) leaves other values "
       "than the QNaN indefinite",
       [](Mismatch& m, const Snippet&) {
         if (!(m.oracle_fsw & 1) || !(m.ftw || m.st || m.data)) return false;
         m.ftw = m.st = m.data = false;
         return true;
       }},
      {"unicorn-bsf-bsr-zero-source",
       "BSF/BSR of zero zero-extends a 32-bit destination; AMD silicon leaves it alone (the SDM "
       "calls the destination undefined)",
       [](Mismatch& m, const Snippet& s) {
         return (uses_row(s, "bsf") || uses_row(s, "bsr")) && diverged(m, s);
       }},
      {"unicorn-sse-daz-ftz",
       "MXCSR.DAZ and MXCSR.FTZ are ignored: denormal inputs and tiny results are not flushed "
       "(vector results, conversions and compares computed from them differ)",
       [](Mismatch& m, const Snippet& s) {
         return (m.oracle_mxcsr & 0x8040) && uses_sse(s) && diverged(m, s);
       }},
      {"unicorn-dpps-dppd", "DPPS/DPPD round differently from silicon and lose the sign of zero",
       [](Mismatch& m, const Snippet& s) { return uses_row(s, "dpp") && diverged(m, s); }},
      {"unicorn-bextr", "BEXTR extracts wrong bits for some start/length controls",
       [](Mismatch& m, const Snippet& s) { return uses_row(s, "bextr") && diverged(m, s); }},
      {"unicorn-bzhi", "BZHI: wrong SF and CF, and wrong results for some indexes",
       [](Mismatch& m, const Snippet& s) { return uses_row(s, "bzhi") && diverged(m, s); }},
      {"unicorn-pcmpxstrx",
       "PCMPESTRx/PCMPISTRx: wrong index/mask/flags around invalid (past-the-end) elements",
       [](Mismatch& m, const Snippet& s) {
         return (uses_row(s, "pcmpestr") || uses_row(s, "pcmpistr")) && diverged(m, s);
       }},
      {"unicorn-sse3-nan-sign",
       "HSUBPS/HADDPD/ADDSUBPS: a NaN operand comes back with its sign flipped",
       [](Mismatch& m, const Snippet& s) {
         return (uses_row(s, "hsub") || uses_row(s, "hadd") || uses_row(s, "addsub")) &&
                diverged(m, s);
       }},
      {"unicorn-phadd-phsub-same-register",
       "PHADDx/PHSUBx with the destination also the source read the half-written destination",
       [](Mismatch& m, const Snippet& s) {
         return (uses_row(s, "phadd") || uses_row(s, "phsub")) && diverged(m, s);
       }},
      {"unicorn-pdep-pext", "PDEP/PEXT results are wrong (GPR results differ)",
       [](Mismatch& m, const Snippet& s) {
         return (uses_row(s, "pdep") || uses_row(s, "pext")) && diverged(m, s);
       }},
      {"unicorn-bls-carry", "BLSI/BLSMSK/BLSR set CF wrongly",
       [](Mismatch& m, const Snippet& s) { return uses_row(s, "bls") && diverged(m, s); }},
      {"unicorn-cmpxchg32-zero-extends",
       "32-bit CMPXCHG to a register zero-extends it even when the compare fails (AMD, the "
       "oracle here, leaves it alone)",
       [](Mismatch& m, const Snippet& s) {
         return uses_row(s, "cmpxchg r/m,r") && diverged(m, s);
       }},

      {"unicorn-idiv-overflow-double-fault",
       "the #DE of an overflowing IDIV reaches the interrupt hook as vector 8",
       [](Mismatch& m, const Snippet& s) {
         if (m.oracle_vector != 0 || m.target_vector != 8 || !uses_row(s, "idiv")) return false;
         m.fault = false;
         return true;
       }},
      {"unicorn-sse-nan-choice",
       "with two NaN operands Unicorn returns the other one (silicon: the first source)",
       [](Mismatch& m, const Snippet&) {
         if (!m.ymm || !m.ymm_nan_only) return false;
         m.ymm = false;
         return true;
       }},
      {"unicorn-ud-movbe-popcnt-pclmul",
       "MOVBE, POPCNT and PCLMULQDQ raise #UD although the CPU model has them (the run "
       "diverges after)",
       [](Mismatch& m, const Snippet& s) {
         if (m.target_vector != 6 || (m.oracle_vector == 6 && !m.rip) ||
             !(uses_row(s, "movbe") || uses_row(s, "popcnt") || uses_row(s, "pclmul")))
           return false;
         m = Mismatch{};
         return true;
       }},
  };
  return kRules;
}

}  // namespace orrery::tests::x86fuzz
