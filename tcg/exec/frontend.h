// What a guest CPU supplies to the translation engine: a translator from guest code to IR.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>

#include "tcg/exec/cpu_common.h"
#include "tcg/ir/ir.h"

namespace orrery::tcg::exec {

/// Guest code bytes available to one translation: the rest of the page holding the block's
/// first instruction. A block never spans pages, so one code page protects it.
class CodeReader {
 public:
  CodeReader(uint64_t page_vaddr, const uint8_t* host, uint64_t len)
      : base_(page_vaddr), host_(host), len_(len) {}
  /// Little-endian read; nullopt when [vaddr, vaddr+n) leaves the page.
  template <typename T>
  std::optional<T> read(uint64_t vaddr) const {
    if (vaddr < base_ || vaddr - base_ + sizeof(T) > len_) return std::nullopt;
    T v;
    std::memcpy(&v, host_ + (vaddr - base_), sizeof(T));
    return v;
  }
  bool contains(uint64_t vaddr, uint64_t n) const {
    return vaddr >= base_ && vaddr - base_ + n <= len_;
  }

 private:
  uint64_t base_;
  const uint8_t* host_;
  uint64_t len_;
};

/// Terminal::arg of the ExitReason::Breakpoint exit a frontend emits for a debugger
/// breakpoint (guest BRK immediates are narrower, so they never collide).
constexpr uint64_t kDebugBreakpointArg = 0xffffffff;

struct TranslateOptions {
  unsigned max_insns = 512;  // 1 for single-step
  /// Debugger breakpoints (empty when none): the block must end before an instruction at a
  /// PC for which this is true, or, if it is the block's first, be only
  /// exit(ExitReason::Breakpoint, pc, kDebugBreakpointArg).
  std::function<bool(uint64_t)> stop_before;
};

class Frontend {
 public:
  virtual ~Frontend() = default;
  /// Translates the block at cpu.pc in mode cpu.tb_flags into b (guest_pc is preset). Must end
  /// b with a terminal. Undecodable or unimplemented instructions end the block with
  /// ExitReason::Undefined at their PC (or raise the guest's exception once it has one).
  virtual void translate(CpuCommon& cpu, const CodeReader& code, const TranslateOptions& opt,
                         ir::Block& b) = 0;
  /// The MMU index used for instruction fetch in the current mode.
  virtual unsigned fetch_mmu_idx(const CpuCommon& cpu) const = 0;
  /// Recomputes cpu.tb_flags from the guest's mode registers.
  virtual uint64_t compute_tb_flags(const CpuCommon& cpu) const = 0;
  /// Disassembles one instruction for -d in_asm (may be empty).
  virtual std::string disassemble(uint64_t pc, const uint8_t* bytes, size_t len) const {
    (void)pc, (void)bytes, (void)len;
    return {};
  }
};

}  // namespace orrery::tcg::exec
