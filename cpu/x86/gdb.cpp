#include "cpu/x86/gdb.h"

#include <cstring>
#include <string>

#include "cpu/x86/cpu.h"
#include "cpu/x86/flags.h"
#include "cpu/x86/seg.h"
#include "cpu/x86/system.h"

namespace orrery::cpu::x86 {

namespace {

// gdb's amd64 order of the first 16 registers.
constexpr unsigned kGprOrder[16] = {kRax, kRbx, kRcx, kRdx, kRsi, kRdi, kRbp, kRsp,
                                    kR8,  kR9,  kR10, kR11, kR12, kR13, kR14, kR15};
constexpr const char* kGprNames[16] = {"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
                                       "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
constexpr unsigned kSegOrder[6] = {kCs, kSs, kDs, kEs, kFs, kGs};
constexpr const char* kSegNames[6] = {"cs", "ss", "ds", "es", "fs", "gs"};
constexpr const char* kFpuCtl[8] = {"fctrl", "fstat", "ftag",  "fiseg",
                                    "fioff", "foseg", "fooff", "fop"};
constexpr const char* kSysNames[] = {"cr0", "cr2", "cr3", "cr4", "cr8", "efer", "kernel_gs_base"};
constexpr unsigned kNumSys = sizeof(kSysNames) / sizeof(kSysNames[0]);
constexpr unsigned kNumRegs = kGdbRegFirstSys + kNumSys;
static_assert(kNumRegs == kGdbRegCount);

}  // namespace

std::string gdb_target_xml() {
  std::string x =
      "<?xml version=\"1.0\"?>\n<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n<target>\n"
      "<architecture>i386:x86-64</architecture>\n"
      "<feature name=\"org.gnu.gdb.i386.core\">\n";
  for (const char* n : kGprNames)
    x += std::string("<reg name=\"") + n + "\" bitsize=\"64\" type=\"int64\"/>\n";
  x += "<reg name=\"rip\" bitsize=\"64\" type=\"code_ptr\"/>\n"
       "<reg name=\"eflags\" bitsize=\"32\" type=\"int32\"/>\n";
  for (const char* n : kSegNames)
    x += std::string("<reg name=\"") + n + "\" bitsize=\"32\" type=\"int32\"/>\n";
  for (unsigned i = 0; i < 8; ++i)
    x += "<reg name=\"st" + std::to_string(i) + "\" bitsize=\"80\" type=\"i387_ext\"/>\n";
  for (const char* n : kFpuCtl)
    x += std::string("<reg name=\"") + n + "\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n";
  x += "</feature>\n<feature name=\"org.gnu.gdb.i386.sse\">\n"
       "<vector id=\"v4f\" type=\"ieee_single\" count=\"4\"/>\n"
       "<vector id=\"v2d\" type=\"ieee_double\" count=\"2\"/>\n"
       "<vector id=\"v16i8\" type=\"int8\" count=\"16\"/>\n"
       "<vector id=\"v8i16\" type=\"int16\" count=\"8\"/>\n"
       "<vector id=\"v4i32\" type=\"int32\" count=\"4\"/>\n"
       "<vector id=\"v2i64\" type=\"int64\" count=\"2\"/>\n"
       "<union id=\"vec128\"><field name=\"v4_float\" type=\"v4f\"/>"
       "<field name=\"v2_double\" type=\"v2d\"/><field name=\"v16_int8\" type=\"v16i8\"/>"
       "<field name=\"v8_int16\" type=\"v8i16\"/><field name=\"v4_int32\" type=\"v4i32\"/>"
       "<field name=\"v2_int64\" type=\"v2i64\"/><field name=\"uint128\" type=\"uint128\"/>"
       "</union>\n";
  for (unsigned i = 0; i < 16; ++i)
    x += "<reg name=\"xmm" + std::to_string(i) + "\" bitsize=\"128\" type=\"vec128\"/>\n";
  x += "<reg name=\"mxcsr\" bitsize=\"32\" type=\"int\" group=\"vector\"/>\n</feature>\n"
       "<feature name=\"org.gnu.gdb.i386.segments\">\n"
       "<reg name=\"fs_base\" bitsize=\"64\" type=\"int\"/>\n"
       "<reg name=\"gs_base\" bitsize=\"64\" type=\"int\"/>\n</feature>\n"
       "<feature name=\"org.orrery.gdb.x86.sys\">\n";
  for (const char* n : kSysNames)
    x += std::string("<reg name=\"") + n + "\" bitsize=\"64\" group=\"system\"/>\n";
  x += "</feature>\n</target>\n";
  return x;
}

unsigned gdb_register_bytes(unsigned regno) {
  if (regno <= kGdbRegRip) return 8;
  if (regno < kGdbRegSt0) return 4;
  if (regno < kGdbRegFctrl) return 10;
  if (regno < kGdbRegXmm0) return 4;
  if (regno < kGdbRegMxcsr) return 16;
  if (regno == kGdbRegMxcsr) return 4;
  return regno < kNumRegs ? 8 : 0;
}

namespace {

/// The FXSAVE-format full tag word bits for gdb's ftag (two bits per register: 11 empty).
uint32_t full_tag_word(const X87State& x) {
  uint32_t t = 0;
  for (unsigned i = 0; i < 8; ++i)
    if (!(x.ftw & (1u << i))) t |= 3u << (2 * i);  // empty; valid ones shown as 00 (valid)
  return t;
}

class X86GdbTarget final : public TcgGdbTarget {
 public:
  explicit X86GdbTarget(tcg::exec::DebugState& d) : TcgGdbTarget(d), xml_(gdb_target_xml()) {}

  unsigned register_count() const override { return kNumRegs; }
  unsigned g_register_count() const override { return kGdbRegFsBase; }
  unsigned pc_register() const override { return kGdbRegRip; }
  unsigned register_bytes(unsigned regno) const override { return gdb_register_bytes(regno); }
  std::optional<std::string_view> feature_xml(std::string_view annex) const override {
    if (annex == "target.xml") return std::string_view(xml_);
    return std::nullopt;
  }

  bool read_register(unsigned thread, unsigned regno, std::span<uint8_t> out) override {
    X86Cpu* cpu = cpu_of(thread);
    if (!cpu || out.size() != register_bytes(regno) || out.empty()) return false;
    X86State& s = cpu->state();
    uint64_t v = 0;
    if (regno < 16) {
      v = s.gpr[kGprOrder[regno]];
    } else if (regno == kGdbRegRip) {
      v = cpu->rip();
    } else if (regno == kGdbRegEflags) {
      v = compute_eflags(s);
    } else if (regno < kGdbRegSt0) {
      v = s.seg[kSegOrder[regno - kGdbRegCs]].selector;
    } else if (regno < kGdbRegFctrl) {
      // ST(i) is physical register (top + i) & 7.
      const F80& r = s.x87.st[(s.x87.top + regno - kGdbRegSt0) & 7];
      std::memcpy(out.data(), &r.mant, 8);
      std::memcpy(out.data() + 8, &r.sign_exp, 2);
      return true;
    } else if (regno < kGdbRegXmm0) {
      const X87State& x = s.x87;
      switch (regno - kGdbRegFctrl) {
        case 0:
          v = x.fcw;
          break;
        case 1:
          v = (x.fsw & ~0x3800u) | (uint32_t(x.top & 7) << 11);
          break;
        case 2:
          v = full_tag_word(x);
          break;
        case 3:
          v = x.fcs;
          break;
        case 4:
          v = x.fip;
          break;
        case 5:
          v = x.fds;
          break;
        case 6:
          v = x.fdp;
          break;
        default:
          v = x.fop;
          break;
      }
    } else if (regno < kGdbRegMxcsr) {
      std::memcpy(out.data(), s.ymm[regno - kGdbRegXmm0].q, 16);
      return true;
    } else if (regno == kGdbRegMxcsr) {
      v = s.mxcsr;
    } else if (regno == kGdbRegFsBase) {
      v = s.seg[kFs].base;
    } else if (regno == kGdbRegGsBase) {
      v = s.seg[kGs].base;
    } else {
      switch (regno - kGdbRegFirstSys) {
        case 0:
          v = s.cr0;
          break;
        case 1:
          v = s.cr2;
          break;
        case 2:
          v = s.cr3;
          break;
        case 3:
          v = s.cr4;
          break;
        case 4:  // the TPR's class, as MOV from CR8 reads it
          v = cpu->local_apic() ? cpu->local_apic()->read_cr8() : s.cr8;
          break;
        case 5:
          v = s.efer;
          break;
        default:
          v = s.msr.kernel_gs_base;
          break;
      }
    }
    std::memcpy(out.data(), &v, out.size());  // little-endian host and guest
    return true;
  }

  bool write_register(unsigned thread, unsigned regno, std::span<const uint8_t> in) override {
    X86Cpu* cpu = cpu_of(thread);
    if (!cpu || in.size() != register_bytes(regno) || in.empty()) return false;
    X86State& s = cpu->state();
    if (regno >= kGdbRegSt0 && regno < kGdbRegFctrl) {
      F80& r = s.x87.st[(s.x87.top + regno - kGdbRegSt0) & 7];
      std::memcpy(&r.mant, in.data(), 8);
      std::memcpy(&r.sign_exp, in.data() + 8, 2);
      return true;
    }
    if (regno >= kGdbRegXmm0 && regno < kGdbRegMxcsr) {
      std::memcpy(s.ymm[regno - kGdbRegXmm0].q, in.data(), 16);
      return true;
    }
    uint64_t v = 0;
    std::memcpy(&v, in.data(), in.size());
    if (regno < 16) {
      s.gpr[kGprOrder[regno]] = v;
    } else if (regno == kGdbRegRip) {
      cpu->set_rip(v);
    } else if (regno == kGdbRegEflags) {
      set_eflags(s, v, 0x3f7fd5);
      cpu->mode_changed();
    } else if (regno < kGdbRegSt0) {
      // Selectors: real and virtual-8086 mode reload the base; protected mode would need the
      // descriptor checks, so only the visible selector changes there (as QEMU's stub does).
      const unsigned r = kSegOrder[regno - kGdbRegCs];
      if (!protected_mode(s) || vm86(s)) {
        const uint64_t rip = cpu->rip();
        load_segment_real(s, r, uint16_t(v), vm86(s));
        if (r == kCs) cpu->set_rip(rip);
      } else {
        s.seg[r].selector = uint16_t(v);
      }
      cpu->mode_changed();
    } else if (regno < kGdbRegXmm0) {
      X87State& x = s.x87;
      switch (regno - kGdbRegFctrl) {
        case 0:
          x.fcw = uint16_t(v);
          break;
        case 1:
          x.fsw = uint16_t(v & ~0x3800u);
          x.top = uint8_t((v >> 11) & 7);
          break;
        case 2:
          x.ftw = 0;
          for (unsigned i = 0; i < 8; ++i)
            if (((v >> (2 * i)) & 3) != 3) x.ftw |= uint8_t(1u << i);
          break;
        case 3:
          x.fcs = uint16_t(v);
          break;
        case 4:
          x.fip = v;
          break;
        case 5:
          x.fds = uint16_t(v);
          break;
        case 6:
          x.fdp = v;
          break;
        default:
          x.fop = uint16_t(v & 0x7ff);
          break;
      }
    } else if (regno == kGdbRegMxcsr) {
      s.mxcsr = uint32_t(v) & 0xffff;
      cpu->mode_changed();  // tb_flags::kMxcsrDefault
    } else if (regno == kGdbRegFsBase) {
      s.seg[kFs].base = v;
    } else if (regno == kGdbRegGsBase) {
      s.seg[kGs].base = v;
    } else {
      const unsigned n = regno - kGdbRegFirstSys;
      if (n == 6) {
        s.msr.kernel_gs_base = v;
        return true;
      }
      // Through the architectural checks, as if the guest executed MOV CRn / WRMSR EFER at
      // CPL 0 (a value the CPU would refuse is refused).
      static constexpr unsigned kCrNum[5] = {0, 2, 3, 4, 8};
      const uint64_t cs_sel = s.seg[kCs].selector;
      try {
        s.seg[kCs].selector = uint16_t(cs_sel & ~3u);
        if (n < 5) {
          write_cr(*cpu, kCrNum[n], v);
        } else {
          write_msr(*cpu, 0xc0000080, v);
        }
      } catch (const GuestFault&) {
        s.seg[kCs].selector = uint16_t(cs_sel);
        return false;
      }
      s.seg[kCs].selector = uint16_t(cs_sel);
      cpu->mode_changed();
    }
    return true;
  }

 protected:
  unsigned debug_mmu_idx(tcg::exec::VcpuExec& v) const override {
    const X86State& s = state_of(&v.cpu());
    return s.owner ? s.owner->data_mmu_idx() : kMmuIdxKernelNoSmap;
  }

 private:
  X86Cpu* cpu_of(unsigned thread) {
    tcg::exec::VcpuExec* v = debug().vcpu(thread);
    return v ? state_of(&v->cpu()).owner : nullptr;
  }

  std::string xml_;
};

}  // namespace

std::unique_ptr<GdbTarget> create_gdb_target(tcg::exec::DebugState& debug) {
  return std::make_unique<X86GdbTarget>(debug);
}

}  // namespace orrery::cpu::x86
