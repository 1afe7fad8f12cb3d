// A flat softmmu translator for the tcg and LLVM tier tests: virtual = physical but for one page
// the guest's tables do not map, and every fault counted with its address.
#pragma once

#include <cstdint>

#include "tcg/softmmu/softmmu.h"

namespace orrery::tcg::test {

/// Translation faults (the page at `unmapped`; none by default), bus errors and alignment
/// faults each count themselves, record the address and raise PendingExit::Exception.
class FaultTranslator : public softmmu::PageTranslator {
 public:
  explicit FaultTranslator(CpuCommon& c, uint64_t unmapped = ~0ull) : cpu(c), unmapped_(unmapped) {}
  bool translate(uint64_t vaddr, softmmu::Access, unsigned, softmmu::Translation& out) override {
    if ((vaddr & ~(softmmu::kPageSize - 1)) == unmapped_) {
      fault(faults, vaddr);
      return false;
    }
    out.phys = vaddr;
    return true;
  }
  void raise_bus_error(uint64_t vaddr, uint64_t, softmmu::Access) override { fault(faults, vaddr); }
  void raise_alignment_fault(uint64_t vaddr, softmmu::Access) override {
    fault(align_faults, vaddr);
  }
  CpuCommon& cpu;
  int faults = 0, align_faults = 0;  // translation faults and bus errors; alignment faults
  uint64_t fault_addr = 0;

 protected:
  void fault(int& count, uint64_t addr) {
    ++count;
    fault_addr = addr;
    cpu.pending_exit = uint32_t(PendingExit::Exception);
  }

 private:
  uint64_t unmapped_;
};

}  // namespace orrery::tcg::test
