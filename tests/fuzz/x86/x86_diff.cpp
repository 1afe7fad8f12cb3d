// See x86_diff.h.
#include "tests/fuzz/x86/x86_diff.h"

#include <capstone/capstone.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <set>

namespace orrery::tests::x86fuzz {
namespace {

constexpr uint64_t kComparedFlags = 0x8d5 | 0x400;  // CF PF AF ZF SF OF, DF

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

}  // namespace

Mismatch compare_states(const X86UserState& o, const X86UserState& t, const Snippet& snip,
                        std::string* detail) {
  Mismatch m;
  std::string d;
  auto note = [&](const std::string& what, uint64_t a, uint64_t b) {
    d += "  " + what + ": oracle " + hex(a) + " target " + hex(b) + "\n";
  };
  static constexpr const char* kGprNames[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp",
                                                "rsi", "rdi", "r8",  "r9",  "r10", "r11",
                                                "r12", "r13", "r14", "r15"};
  m.oracle_vector = o.fault.vector;
  m.target_vector = t.fault.vector;
  if (o.fault.vector != t.fault.vector || (o.fault.has_error_code && t.fault.has_error_code &&
                                           o.fault.error_code != t.fault.error_code)) {
    m.fault = true;
    note("fault vector", uint64_t(int64_t(o.fault.vector)), uint64_t(int64_t(t.fault.vector)));
  }
  if (o.rip != t.rip) {
    m.rip = true;
    note("rip", o.rip, t.rip);
  }
  for (unsigned i = 0; i < 16; ++i)
    if (o.gpr[i] != t.gpr[i]) {
      m.gprs |= uint16_t(1u << i);
      note(kGprNames[i], o.gpr[i], t.gpr[i]);
    }
  uint64_t fmask = kComparedFlags & ~uint64_t(snip.rflags_undef);
  if ((o.rflags ^ t.rflags) & fmask) {
    m.rflags = (o.rflags ^ t.rflags) & fmask;
    note("rflags (mask " + hex(fmask) + ")", o.rflags & fmask, t.rflags & fmask);
  }
  uint16_t smask = uint16_t(~snip.fsw_undef);
  if ((o.fsw ^ t.fsw) & smask) {
    m.fsw = uint16_t((o.fsw ^ t.fsw) & smask);
    note("fsw (mask " + hex(smask) + ")", o.fsw & smask, t.fsw & smask);
  }
  if (o.mxcsr != t.mxcsr) {
    m.mxcsr = o.mxcsr ^ t.mxcsr;
    note("mxcsr", o.mxcsr, t.mxcsr);
  }
  if (o.fcw != t.fcw) {
    m.fcw = true;
    note("fcw", o.fcw, t.fcw);
  }
  if (o.ftw != t.ftw) {
    m.ftw = true;
    note("ftw", o.ftw, t.ftw);
  }
  for (unsigned i = 0; i < 8; ++i)
    if (!(o.st[i] == t.st[i])) {
      m.st = true;
      d += "  st" + std::to_string(i) + ": oracle " + hex(o.st[i].sign_exp) + ":" +
           hex(o.st[i].mantissa) + " target " + hex(t.st[i].sign_exp) + ":" +
           hex(t.st[i].mantissa) + "\n";
    }
  for (unsigned i = 0; i < 16; ++i)
    for (unsigned q = 0; q < 4; ++q)
      if (o.ymm[i].q[q] != t.ymm[i].q[q]) {
        m.ymm = true;
        note("ymm" + std::to_string(i) + ".q" + std::to_string(q), o.ymm[i].q[q], t.ymm[i].q[q]);
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
    char line[160];
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
  X86Gen gen(opt.seed, opt.exts);
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
    ++res.runs;
    res.instructions += snip.rows.size();
    if (a.fault.vector >= 0) ++res.oracle_faults;
    std::string detail;
    Mismatch m = compare_states(a, b, snip, &detail);
    if (!m.any()) continue;
    const AllowRule* rule = nullptr;
    for (const AllowRule& r : opt.allow)
      if (r.match(m, snip)) {
        rule = &r;
        break;
      }
    if (rule) {
      ++res.allowed[rule->name];
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

// Known Unicorn 2.0.1 (QEMU 5.0 TCG) differences from real silicon, found by this fuzzer.
// Each rule matches only mismatches confined to the state its bug touches.
std::span<const AllowRule> unicorn_allow_list() {
  static const AllowRule kRules[] = {
      {"placeholder", "never matches", [](const Mismatch&, const Snippet&) { return false; }},
  };
  (void)uses_row;
  return kRules;
}

}  // namespace orrery::tests::x86fuzz
