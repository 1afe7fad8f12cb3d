// A TestCpu over the real softmmu for the tier tests that run blocks against it: an address
// space with RAM, a jump cache and the test's page translator.
#pragma once

#include <cstdint>
#include <memory>

#include "hw/core/address_space.h"
#include "llvm_test_util.h"
#include "tcg/softmmu/softmmu.h"

namespace orrery::tcg::llvm::test {

/// Tr is built from the CPU's CpuCommon. fill_ram() gives RAM's quadword at offset a the
/// value 0x9e3779b97f4a7c15 * (a + 1), so that every quadword differs.
template <typename Tr>
struct SoftmmuWorld {
  SoftmmuWorld(uint64_t ram, uint64_t ram_size) : ram_(ram), ram_size_(ram_size) {
    EXPECT_EQ(as.add_ram("ram", ram, ram_size), "");
    jc.reset(new JumpCacheEntry[kJumpCacheEntries]);
    cpu.common.jump_cache = jc.get();
  }
  void fill_ram() {
    for (uint64_t a = 0; a < ram_size_; a += 8) {
      const uint64_t v = 0x9e3779b97f4a7c15ull * (a + 1);
      EXPECT_TRUE(as.write_bytes(ram_ + a, &v, 8));
    }
  }
  uint64_t read64(uint64_t addr) {
    uint64_t v = 0;
    EXPECT_TRUE(as.read_bytes(addr, &v, 8));
    return v;
  }
  TestCpu cpu;
  std::unique_ptr<JumpCacheEntry[]> jc;
  hw::AddressSpace as;
  Tr tr{cpu.common};
  softmmu::Softmmu mmu{cpu.common, as, tr};

 private:
  uint64_t ram_, ram_size_;
};

}  // namespace orrery::tcg::llvm::test
