// -kernel as a whole: kind detection, gzip, the arm64 Image header and raw placement, then the
// initrd and device tree slots after it. Nothing may be written outside guest RAM.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "hw/core/address_space.h"
#include "machine/loader/kernel.h"

namespace {
constexpr uint64_t kRamBase = 0x40000000, kRamSize = 16 << 20;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace orrery::machine::loader;
  static orrery::hw::AddressSpace* as = [] {
    auto* a = new orrery::hw::AddressSpace;
    a->add_ram("ram", kRamBase, kRamSize);
    return a;
  }();
  RamWindow ram{kRamBase, kRamSize};
  BootInfo info;
  if (!load_arm64_kernel(std::span<const uint8_t>(data, size), ram, *as, info).empty()) return 0;
  if (info.entry < kRamBase || info.high > kRamBase + kRamSize || info.low > info.high)
    __builtin_trap();
  std::vector<uint8_t> initrd(4096, 1), dtb(512, 2);
  uint64_t start = 0, end = 0, addr = 0;
  if (place_initrd(initrd, info, ram, *as, start, end).empty() && start < info.high)
    __builtin_trap();  // the initrd must not overwrite the kernel
  place_dtb(dtb, info, ram, start, end, *as, addr);
  return 0;
}
