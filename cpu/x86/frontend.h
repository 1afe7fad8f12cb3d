// The x86 frontend: decodes guest code with Zydis 4 in the mode tb_flags give (16-, 32- or
// 64-bit), dispatches each instruction through insn_table.inc to its translator, and raises #UD
// for encodings that are invalid or have no translator (the latter named under -d unimp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cpu/x86/translate.h"
#include "hw/core/log.h"
#include "tcg/exec/frontend.h"

namespace orrery::cpu::x86 {

class X86Frontend : public tcg::exec::Frontend {
 public:
  explicit X86Frontend(hw::Log& log);
  ~X86Frontend() override;
  X86Frontend(const X86Frontend&) = delete;
  X86Frontend& operator=(const X86Frontend&) = delete;

  void translate(tcg::CpuCommon& cpu, const tcg::exec::CodeReader& code,
                 const tcg::exec::TranslateOptions& opt, tcg::ir::Block& b) override;
  unsigned fetch_mmu_idx(const tcg::CpuCommon& cpu) const override;
  uint64_t compute_tb_flags(const tcg::CpuCommon& cpu) const override;
  /// CS.base outside 64-bit mode (translations compute EIP = linear PC - CS.base).
  uint64_t cs_base(const tcg::CpuCommon& cpu) const override;
  /// Whether the host can run a Zydis ISA extension whose helpers use host instructions.
  static bool host_can_run(unsigned isa_ext);
  std::string disassemble(uint64_t pc, const uint8_t* bytes, size_t len) const override;

  /// The operand forms of insn_table.inc.
  enum class Form : uint8_t { Any, Cr, Dr, Sreg, Far, Xmm };
  struct Row {
    ZydisMnemonic mnemonic;
    Form form;
    TranslateFn fn;
    const char* name;
  };
  /// The translator of a decoded instruction, or null (no row for its mnemonic and form).
  TranslateFn lookup(const ZydisDecodedInstruction& insn, const ZydisDecodedOperand* ops) const;

 private:
  void log_unimplemented(uint64_t pc, const ZydisDecodedInstruction& insn);
  static void return_to_cpu_loop(tcg::ir::Emitter& e, tcg::ir::Block& b);

  hw::Log& log_;
  size_t capstone_ = 0;                 // csh; 0 when Capstone could not be opened
  std::vector<std::vector<Row>> rows_;  // by mnemonic
  std::mutex unimp_mu_;
  std::set<std::pair<uint64_t, int>> unimp_logged_;  // (pc, mnemonic) already named
};

}  // namespace orrery::cpu::x86
