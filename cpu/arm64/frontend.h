// The AArch64 frontend: the translation engine's view of the A64 decoder and translator.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "hw/core/log.h"
#include "tcg/exec/frontend.h"
#include "tcg/ir/emitter.h"

namespace orrery::cpu::arm64 {

class Arm64Frontend : public tcg::exec::Frontend {
 public:
  /// Unallocated and unimplemented encodings are reported to log (-d unimp).
  explicit Arm64Frontend(hw::Log& log);
  ~Arm64Frontend() override;
  Arm64Frontend(const Arm64Frontend&) = delete;
  Arm64Frontend& operator=(const Arm64Frontend&) = delete;

  void translate(tcg::CpuCommon& cpu, const tcg::exec::CodeReader& code,
                 const tcg::exec::TranslateOptions& opt, tcg::ir::Block& b) override;
  unsigned fetch_mmu_idx(const tcg::CpuCommon& cpu) const override;
  uint64_t compute_tb_flags(const tcg::CpuCommon& cpu) const override;
  /// Blocks translated while hardware breakpoints are checked depend on their addresses.
  uint64_t cs_base(const tcg::CpuCommon& cpu) const override;
  std::string disassemble(uint64_t pc, const uint8_t* bytes, size_t len) const override;

  /// Encodings with no decode row that the architecture leaves unallocated (UNDEFINED), as
  /// opposed to allocated ones Orrery does not implement yet.
  static bool is_unallocated_space(uint32_t insn);

 private:
  /// Software step (tb_flags::kSs): ends the one-instruction block with the step.
  static void end_stepped_block(tcg::ir::Emitter& e, tcg::ir::Block& b);

  hw::Log& log_;
  size_t capstone_ = 0;  // csh; 0 when Capstone could not be opened
};

}  // namespace orrery::cpu::arm64
