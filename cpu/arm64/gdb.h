// The AArch64 side of the gdbstub: gdb's register numbering (org.gnu.gdb.aarch64.core and .fpu,
// then Orrery's system-register feature) and the target description, over Arm64Cpu state.
#pragma once

#include <memory>

#include "cpu/common/gdb_target.h"

namespace orrery::cpu::arm64 {

// gdb register numbers (the order of target.xml).
constexpr unsigned kGdbRegSp = 31;
constexpr unsigned kGdbRegPc = 32;
constexpr unsigned kGdbRegCpsr = 33;
constexpr unsigned kGdbRegV0 = 34;
constexpr unsigned kGdbRegFpsr = 66;
constexpr unsigned kGdbRegFpcr = 67;
constexpr unsigned kGdbRegFirstSys = 68;  // system registers follow, 64 bits each

/// The target for the vCPUs registered with debug; each must be an Arm64Cpu's VcpuExec.
std::unique_ptr<GdbTarget> create_gdb_target(tcg::exec::DebugState& debug);

}  // namespace orrery::cpu::arm64
