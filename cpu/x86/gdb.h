// The x86 side of the gdbstub: gdb's i386:x86-64 register numbering (org.gnu.gdb.i386.core,
// .sse and .segments, as amd64 gdb expects them) plus Orrery's control-register feature, over
// X86Cpu state. Registers are 64-bit in every mode; rip is CS-relative (in real and protected
// mode gdb sees EIP), breakpoints are linear addresses.
#pragma once

#include <memory>
#include <string>

#include "cpu/common/gdb_target.h"

namespace orrery::cpu::x86 {

// gdb register numbers (the order of target.xml).
constexpr unsigned kGdbRegRip = 16;
constexpr unsigned kGdbRegEflags = 17;
constexpr unsigned kGdbRegCs = 18;     // cs ss ds es fs gs: 18..23
constexpr unsigned kGdbRegSt0 = 24;    // st0..st7: 80 bits each
constexpr unsigned kGdbRegFctrl = 32;  // fctrl fstat ftag fiseg fioff foseg fooff fop: 32..39
constexpr unsigned kGdbRegXmm0 = 40;   // xmm0..xmm15
constexpr unsigned kGdbRegMxcsr = 56;
constexpr unsigned kGdbRegFsBase = 57;
constexpr unsigned kGdbRegGsBase = 58;
constexpr unsigned kGdbRegFirstSys = 59;  // cr0 cr2 cr3 cr4 cr8 efer kernel_gs_base

constexpr unsigned kGdbRegCount = kGdbRegFirstSys + 7;

/// The target description (target.xml) of these registers, and each one's size in bytes (0:
/// none); shared with the KVM accelerator's target.
std::string gdb_target_xml();
unsigned gdb_register_bytes(unsigned regno);

/// The target for the vCPUs registered with debug; each must be an X86Cpu's VcpuExec.
std::unique_ptr<GdbTarget> create_gdb_target(tcg::exec::DebugState& debug);

}  // namespace orrery::cpu::x86
