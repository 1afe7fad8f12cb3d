// Stand-ins for x86-isa's frontend and lazy-flags code until its branch is merged: a frontend
// that translates nothing (every block is an Undefined exit) and EFLAGS access valid only while
// cc_op is CcOp::Eflags. Deleted at the merge.
#include "cpu/x86/cpu.h"
#include "cpu/x86/seg.h"

namespace orrery::cpu::x86 {

namespace {

class PlaceholderFrontend final : public tcg::exec::Frontend {
 public:
  void translate(tcg::CpuCommon& cpu, const tcg::exec::CodeReader&,
                 const tcg::exec::TranslateOptions&, tcg::ir::Block& b) override {
    b.guest_size = 1;
    b.num_insns = 1;
    b.term.kind = tcg::ir::Terminal::Kind::Exit;
    b.term.reason = tcg::ir::ExitReason::Undefined;
    b.term.target = cpu.pc;
  }
  unsigned fetch_mmu_idx(const tcg::CpuCommon& cpu) const override {
    return (cpu.tb_flags & tb_flags::kCplMask) == 3 ? kMmuIdxUser : kMmuIdxKernelNoSmap;
  }
  uint64_t compute_tb_flags(const tcg::CpuCommon& cpu) const override {
    return x86::compute_tb_flags(state_of(const_cast<tcg::CpuCommon*>(&cpu)));
  }
};

}  // namespace

std::unique_ptr<tcg::exec::Frontend> make_frontend(hw::Log&) {
  return std::make_unique<PlaceholderFrontend>();
}

uint64_t read_eflags(X86State& s) {
  return s.eflags;
}
void write_eflags(X86State& s, uint64_t v) {
  s.eflags = (v & 0x3f7fd7) | eflags::kFixed1;
  s.cc_op = uint32_t(CcOp::Eflags);
}

}  // namespace orrery::cpu::x86
