#include <capstone/capstone.h>

#include <cinttypes>
#include <cstdio>

#include "tcg/baseline/baseline.h"

namespace orrery::tcg::baseline {

std::string disassemble(const uint8_t* code, size_t size) {
  csh h;
  if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK) return "(no x86-64 disassembler)\n";
  cs_insn* insn = nullptr;
  const size_t n = cs_disasm(h, code, size, uint64_t(uintptr_t(code)), 0, &insn);
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    char line[256];
    std::snprintf(line, sizeof line, "0x%016" PRIx64 ":  %s %s\n", insn[i].address,
                  insn[i].mnemonic, insn[i].op_str);
    out += line;
  }
  if (n) cs_free(insn, n);
  cs_close(&h);
  return out;
}

}  // namespace orrery::tcg::baseline
