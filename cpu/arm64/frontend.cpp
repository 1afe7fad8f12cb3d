#include "cpu/arm64/frontend.h"

#include <capstone/capstone.h>

#include "cpu/arm64/decoder.h"
#include "cpu/arm64/helpers.h"
#include "cpu/arm64/state.h"
#include "cpu/arm64/translate.h"

namespace orrery::cpu::arm64 {

using tcg::ir::ExitReason;

Arm64Frontend::Arm64Frontend(hw::Log& log) : log_(log) {
  csh h = 0;
  if (cs_open(CS_ARCH_ARM64, CS_MODE_ARM, &h) == CS_ERR_OK) capstone_ = h;
}

Arm64Frontend::~Arm64Frontend() {
  if (capstone_) {
    csh h = capstone_;
    cs_close(&h);
  }
}

void Arm64Frontend::translate(tcg::CpuCommon& cpu, const tcg::exec::CodeReader& code,
                              const tcg::exec::TranslateOptions& opt, tcg::ir::Block& b) {
  tcg::ir::Emitter e(b);
  Translator tr(e, cpu.tb_flags);
  uint64_t pc = b.guest_pc;

  if (pc & 3) {
    // A PC alignment fault; until the exception model exists, the vCPU stops with a message.
    e.insn_start(pc);
    e.call(kHelperStop, {e.c64(uint64_t(StopCode::PcAlignment)), e.c64(pc), e.c64(pc)});
    e.exit(ExitReason::Undefined, pc, 0);
    b.guest_size = 4;
    return;
  }

  const unsigned max_insns = opt.max_insns ? opt.max_insns : 1;
  for (unsigned n = 0;; ++n) {
    if (n == max_insns) {
      e.jump(pc);
      break;
    }
    std::optional<uint32_t> insn = code.read<uint32_t>(pc);
    if (!insn) {  // the block stops at the end of its page
      e.jump(pc);
      break;
    }
    e.insn_start(pc);
    const size_t mark = b.insts.size();
    tr.begin(pc, *insn);
    std::optional<InsnId> id = decode(*insn);
    if (!id || !dispatch(tr, *id, *insn)) {
      b.insts.resize(mark);  // drop whatever the rejected instruction emitted
      if (!id) {
        log_.log(hw::kLogUnimp,
                 "arm64: unallocated or unimplemented encoding 0x%08x at PC 0x%016llx\n", *insn,
                 (unsigned long long)pc);
      } else if (tr.why().empty()) {
        log_.log(hw::kLogUnimp, "arm64: unallocated encoding 0x%08x (%s) at PC 0x%016llx\n", *insn,
                 decode_row(*id).desc, (unsigned long long)pc);
      } else {
        log_.log(hw::kLogUnimp, "arm64: unimplemented: %s (0x%08x at PC 0x%016llx)\n",
                 tr.why().c_str(), *insn, (unsigned long long)pc);
      }
      e.exit(ExitReason::Undefined, pc, *insn);
      pc += 4;
      break;
    }
    pc += 4;
    if (tr.ended()) break;
  }
  b.guest_size = uint32_t(pc - b.guest_pc);
}

unsigned Arm64Frontend::fetch_mmu_idx(const tcg::CpuCommon& cpu) const {
  return state_of(cpu).el == 0 ? kMmuIdxEl0 : kMmuIdxEl1;
}

uint64_t Arm64Frontend::compute_tb_flags(const tcg::CpuCommon& cpu) const {
  const Arm64State& s = state_of(cpu);
  uint64_t f = uint64_t(s.el & tb_flags::kElMask) << tb_flags::kElShift;
  if (s.el != 0 && s.spsel) f |= tb_flags::kSpSel;  // SPSel has no effect at EL0
  return f;
}

std::string Arm64Frontend::disassemble(uint64_t pc, const uint8_t* bytes, size_t len) const {
  if (!capstone_) return {};
  cs_insn* insn = nullptr;
  size_t count = cs_disasm(capstone_, bytes, len, pc, 1, &insn);
  if (count == 0) return "(bad)";
  std::string out = insn[0].mnemonic;
  if (insn[0].op_str[0]) {
    out += ' ';
    out += insn[0].op_str;
  }
  cs_free(insn, count);
  return out;
}

}  // namespace orrery::cpu::arm64
