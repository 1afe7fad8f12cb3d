#include "cpu/arm64/gdb.h"

#include <cstring>
#include <string>

#include "cpu/arm64/cpu.h"
#include "cpu/arm64/state.h"

namespace orrery::cpu::arm64 {

namespace {

/// A system register gdb can see, 64 bits wide.
struct SysReg {
  enum class Kind : uint8_t {
    Plain,      // a state field, freely writable
    Mmu,        // a state field that affects translation: writes flush the TLB
    ReadOnly,   // identification or owned by a device model (the timers)
    CurrentEl,  // PSTATE.EL as the CurrentEL register reads
    Daif,       // PSTATE.DAIF as the DAIF register reads
    Nzcv,       // PSTATE.NZCV as the NZCV register reads
  };
  const char* name;
  uint64_t Arm64State::*field;  // null for the PSTATE views
  Kind kind;
};

using K = SysReg::Kind;
constexpr SysReg kSysRegs[] = {
    {"SCTLR_EL1", &Arm64State::sctlr_el1, K::Mmu},
    {"TTBR0_EL1", &Arm64State::ttbr0_el1, K::Mmu},
    {"TTBR1_EL1", &Arm64State::ttbr1_el1, K::Mmu},
    {"TCR_EL1", &Arm64State::tcr_el1, K::Mmu},
    {"MAIR_EL1", &Arm64State::mair_el1, K::Mmu},
    {"AMAIR_EL1", &Arm64State::amair_el1, K::Plain},
    {"CONTEXTIDR_EL1", &Arm64State::contextidr_el1, K::Mmu},
    {"VBAR_EL1", &Arm64State::vbar_el1, K::Plain},
    {"ESR_EL1", &Arm64State::esr_el1, K::Plain},
    {"FAR_EL1", &Arm64State::far_el1, K::Plain},
    {"ELR_EL1", &Arm64State::elr_el1, K::Plain},
    {"SPSR_EL1", &Arm64State::spsr_el1, K::Plain},
    {"AFSR0_EL1", &Arm64State::afsr0_el1, K::Plain},
    {"AFSR1_EL1", &Arm64State::afsr1_el1, K::Plain},
    {"PAR_EL1", &Arm64State::par_el1, K::Plain},
    {"ACTLR_EL1", &Arm64State::actlr_el1, K::Plain},
    {"CPACR_EL1", &Arm64State::cpacr_el1, K::Plain},
    {"TPIDR_EL0", &Arm64State::tpidr_el0, K::Plain},
    {"TPIDR_EL1", &Arm64State::tpidr_el1, K::Plain},
    {"TPIDRRO_EL0", &Arm64State::tpidrro_el0, K::Plain},
    {"CSSELR_EL1", &Arm64State::csselr_el1, K::Plain},
    {"CNTKCTL_EL1", &Arm64State::cntkctl_el1, K::Plain},
    {"SP_EL0", &Arm64State::sp_el0, K::Plain},
    {"SP_EL1", &Arm64State::sp_el1, K::Plain},
    {"CNTFRQ_EL0", &Arm64State::cntfrq_el0, K::ReadOnly},
    {"CNTP_CTL_EL0", &Arm64State::cntp_ctl_el0, K::ReadOnly},
    {"CNTP_CVAL_EL0", &Arm64State::cntp_cval_el0, K::ReadOnly},
    {"CNTV_CTL_EL0", &Arm64State::cntv_ctl_el0, K::ReadOnly},
    {"CNTV_CVAL_EL0", &Arm64State::cntv_cval_el0, K::ReadOnly},
    {"MIDR_EL1", &Arm64State::midr_el1, K::ReadOnly},
    {"MPIDR_EL1", &Arm64State::mpidr_el1, K::ReadOnly},
    {"CurrentEL", nullptr, K::CurrentEl},
    {"DAIF", nullptr, K::Daif},
    {"NZCV", nullptr, K::Nzcv},
};
constexpr unsigned kNumSysRegs = sizeof(kSysRegs) / sizeof(kSysRegs[0]);
constexpr unsigned kNumRegs = kGdbRegFirstSys + kNumSysRegs;

uint32_t nzcv_bits(const Arm64State& s) {
  return uint32_t(s.nzcv.n & 1) << 31 | uint32_t(s.nzcv.z & 1) << 30 |
         uint32_t(s.nzcv.c & 1) << 29 | uint32_t(s.nzcv.v & 1) << 28;
}

void set_nzcv_bits(Arm64State& s, uint64_t v) {
  s.nzcv.n = (v >> 31) & 1;
  s.nzcv.z = (v >> 30) & 1;
  s.nzcv.c = (v >> 29) & 1;
  s.nzcv.v = (v >> 28) & 1;
}

/// PSTATE as SPSR_EL1 would hold it (AArch64, M[3:0] = EL and SPSel).
uint32_t cpsr(const Arm64State& s) {
  return nzcv_bits(s) | uint32_t(s.daif & 0xf) << 6 | uint32_t(s.el & 3) << 2 | (s.spsel & 1);
}

/// False for modes that do not exist here (AArch32, EL2, EL3).
bool set_cpsr(Arm64State& s, uint64_t v) {
  const unsigned el = (v >> 2) & 3;
  if ((v & (1u << 4)) || el > 1) return false;
  set_nzcv_bits(s, v);
  s.daif = (v >> 6) & 0xf;
  s.el = uint8_t(el);
  s.spsel = v & 1;
  return true;
}

uint64_t& current_sp(Arm64State& s) {
  return s.el == 0 || !s.spsel ? s.sp_el0 : s.sp_el1;
}

std::string build_target_xml() {
  std::string x =
      "<?xml version=\"1.0\"?>\n<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n<target>\n"
      "<architecture>aarch64</architecture>\n"
      "<feature name=\"org.gnu.gdb.aarch64.core\">\n"
      "<flags id=\"cpsr_flags\" size=\"4\">\n"
      "<field name=\"SP\" start=\"0\" end=\"0\"/><field name=\"EL\" start=\"2\" end=\"3\"/>\n"
      "<field name=\"nRW\" start=\"4\" end=\"4\"/><field name=\"F\" start=\"6\" end=\"6\"/>\n"
      "<field name=\"I\" start=\"7\" end=\"7\"/><field name=\"A\" start=\"8\" end=\"8\"/>\n"
      "<field name=\"D\" start=\"9\" end=\"9\"/><field name=\"IL\" start=\"20\" end=\"20\"/>\n"
      "<field name=\"V\" start=\"28\" end=\"28\"/><field name=\"C\" start=\"29\" end=\"29\"/>\n"
      "<field name=\"Z\" start=\"30\" end=\"30\"/><field name=\"N\" start=\"31\" end=\"31\"/>\n"
      "</flags>\n";
  for (unsigned i = 0; i < 31; ++i)
    x += "<reg name=\"x" + std::to_string(i) + "\" bitsize=\"64\"/>\n";
  x += "<reg name=\"sp\" bitsize=\"64\" type=\"data_ptr\"/>\n"
       "<reg name=\"pc\" bitsize=\"64\" type=\"code_ptr\"/>\n"
       "<reg name=\"cpsr\" bitsize=\"32\" type=\"cpsr_flags\"/>\n"
       "</feature>\n"
       "<feature name=\"org.gnu.gdb.aarch64.fpu\">\n"
       "<vector id=\"v2d\" type=\"ieee_double\" count=\"2\"/>\n"
       "<vector id=\"v2u\" type=\"uint64\" count=\"2\"/>\n"
       "<vector id=\"v2i\" type=\"int64\" count=\"2\"/>\n"
       "<vector id=\"v4f\" type=\"ieee_single\" count=\"4\"/>\n"
       "<vector id=\"v4u\" type=\"uint32\" count=\"4\"/>\n"
       "<vector id=\"v4i\" type=\"int32\" count=\"4\"/>\n"
       "<vector id=\"v8u\" type=\"uint16\" count=\"8\"/>\n"
       "<vector id=\"v8i\" type=\"int16\" count=\"8\"/>\n"
       "<vector id=\"v16u\" type=\"uint8\" count=\"16\"/>\n"
       "<vector id=\"v16i\" type=\"int8\" count=\"16\"/>\n"
       "<vector id=\"v1u\" type=\"uint128\" count=\"1\"/>\n"
       "<vector id=\"v1i\" type=\"int128\" count=\"1\"/>\n"
       "<union id=\"vnd\"><field name=\"f\" type=\"v2d\"/><field name=\"u\" type=\"v2u\"/>"
       "<field name=\"s\" type=\"v2i\"/></union>\n"
       "<union id=\"vns\"><field name=\"f\" type=\"v4f\"/><field name=\"u\" type=\"v4u\"/>"
       "<field name=\"s\" type=\"v4i\"/></union>\n"
       "<union id=\"vnh\"><field name=\"u\" type=\"v8u\"/><field name=\"s\" type=\"v8i\"/>"
       "</union>\n"
       "<union id=\"vnb\"><field name=\"u\" type=\"v16u\"/><field name=\"s\" type=\"v16i\"/>"
       "</union>\n"
       "<union id=\"vnq\"><field name=\"u\" type=\"v1u\"/><field name=\"s\" type=\"v1i\"/>"
       "</union>\n"
       "<union id=\"aarch64v\"><field name=\"d\" type=\"vnd\"/><field name=\"s\" type=\"vns\"/>"
       "<field name=\"h\" type=\"vnh\"/><field name=\"b\" type=\"vnb\"/>"
       "<field name=\"q\" type=\"vnq\"/></union>\n";
  for (unsigned i = 0; i < 32; ++i)
    x += "<reg name=\"v" + std::to_string(i) + "\" bitsize=\"128\" type=\"aarch64v\"/>\n";
  x += "<reg name=\"fpsr\" bitsize=\"32\"/>\n<reg name=\"fpcr\" bitsize=\"32\"/>\n</feature>\n";
  // System registers, as QEMU's sysregs feature: readable and writable as $NAME.
  x += "<feature name=\"org.qemu.gdb.aarch64.sysregs\">\n";
  for (const SysReg& r : kSysRegs)
    x += std::string("<reg name=\"") + r.name + "\" bitsize=\"64\" group=\"system\"/>\n";
  x += "</feature>\n</target>\n";
  return x;
}

class Arm64GdbTarget final : public TcgGdbTarget {
 public:
  explicit Arm64GdbTarget(tcg::exec::DebugState& d) : TcgGdbTarget(d), xml_(build_target_xml()) {}

  unsigned register_count() const override { return kNumRegs; }
  unsigned g_register_count() const override { return kGdbRegFirstSys; }
  unsigned pc_register() const override { return kGdbRegPc; }
  unsigned register_bytes(unsigned regno) const override {
    if (regno < kGdbRegCpsr) return 8;
    if (regno == kGdbRegCpsr || regno == kGdbRegFpsr || regno == kGdbRegFpcr) return 4;
    if (regno < kGdbRegFpsr) return 16;
    return regno < kNumRegs ? 8 : 0;
  }
  std::optional<std::string_view> feature_xml(std::string_view annex) const override {
    if (annex == "target.xml") return std::string_view(xml_);
    return std::nullopt;
  }

  bool read_register(unsigned thread, unsigned regno, std::span<uint8_t> out) override {
    Arm64Cpu* cpu = cpu_of(thread);
    if (!cpu || out.size() != register_bytes(regno) || out.empty()) return false;
    Arm64State& s = cpu->state();
    uint64_t v = 0;
    if (regno < 31) {
      v = s.x[regno];
    } else if (regno == kGdbRegSp) {
      v = current_sp(s);
    } else if (regno == kGdbRegPc) {
      v = s.common.pc;
    } else if (regno == kGdbRegCpsr) {
      v = cpsr(s);
    } else if (regno < kGdbRegFpsr) {
      std::memcpy(out.data(), s.v[regno - kGdbRegV0].d, 16);
      return true;
    } else if (regno == kGdbRegFpsr) {
      v = s.fpsr;
    } else if (regno == kGdbRegFpcr) {
      v = s.fpcr;
    } else {
      const SysReg& r = kSysRegs[regno - kGdbRegFirstSys];
      switch (r.kind) {
        case K::CurrentEl:
          v = uint64_t(s.el & 3) << 2;
          break;
        case K::Daif:
          v = uint64_t(s.daif & 0xf) << 6;
          break;
        case K::Nzcv:
          v = nzcv_bits(s);
          break;
        default:
          v = s.*r.field;
      }
    }
    std::memcpy(out.data(), &v, out.size());  // little-endian host and guest
    return true;
  }

  bool write_register(unsigned thread, unsigned regno, std::span<const uint8_t> in) override {
    Arm64Cpu* cpu = cpu_of(thread);
    if (!cpu || in.size() != register_bytes(regno) || in.empty()) return false;
    Arm64State& s = cpu->state();
    if (regno >= kGdbRegV0 && regno < kGdbRegFpsr) {
      std::memcpy(s.v[regno - kGdbRegV0].d, in.data(), 16);
      return true;
    }
    uint64_t v = 0;
    std::memcpy(&v, in.data(), in.size());
    if (regno < 31) {
      s.x[regno] = v;
    } else if (regno == kGdbRegSp) {
      current_sp(s) = v;
    } else if (regno == kGdbRegPc) {
      s.common.pc = v;
    } else if (regno == kGdbRegCpsr) {
      if (!set_cpsr(s, v)) return false;
      cpu->mode_changed();
    } else if (regno == kGdbRegFpsr) {
      s.fpsr = v;
    } else if (regno == kGdbRegFpcr) {
      s.fpcr = v;
    } else {
      const SysReg& r = kSysRegs[regno - kGdbRegFirstSys];
      switch (r.kind) {
        case K::ReadOnly:
          return false;
        case K::CurrentEl:
          if (((v >> 2) & 3) > 1) return false;
          s.el = (v >> 2) & 3;
          cpu->mode_changed();
          break;
        case K::Daif:
          s.daif = (v >> 6) & 0xf;
          break;
        case K::Nzcv:
          set_nzcv_bits(s, v);
          break;
        case K::Mmu:
          s.*r.field = v;
          cpu->mmu().flush_all();  // the translation regime changed under cached entries
          cpu->mode_changed();
          break;
        case K::Plain:
          s.*r.field = v;
          cpu->mode_changed();
          break;
      }
    }
    return true;
  }

 protected:
  unsigned debug_mmu_idx(tcg::exec::VcpuExec& v) const override {
    return state_of(v.cpu()).el == 0 ? kMmuIdxEl0 : kMmuIdxEl1;
  }

 private:
  Arm64Cpu* cpu_of(unsigned thread) {
    tcg::exec::VcpuExec* v = debug().vcpu(thread);
    return v ? state_of(v->cpu()).owner : nullptr;
  }

  std::string xml_;
};

}  // namespace

std::unique_ptr<GdbTarget> create_gdb_target(tcg::exec::DebugState& debug) {
  return std::make_unique<Arm64GdbTarget>(debug);
}

}  // namespace orrery::cpu::arm64
