// -kernel on the pc machine: load_multiboot must reject any malformed multiboot image (header,
// a.out address fields, ELF32 program headers) and otherwise write only inside guest RAM.
// The input is the kernel; two small modules ride along so their placement is exercised too.
#include <cstddef>
#include <cstdint>
#include <span>

#include "hw/core/address_space.h"
#include "machine/loader/multiboot.h"

namespace {
constexpr uint64_t kRamSize = 8 << 20;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace orrery::machine::loader;
  static orrery::hw::AddressSpace* as = [] {
    auto* a = new orrery::hw::AddressSpace;
    a->add_ram("ram", 0, kRamSize);
    return a;
  }();
  static const uint8_t kModule[] = {'m', 'o', 'd', '\n'};
  const MultibootModule mods[] = {{"m1 arg", kModule}, {"m2", kModule}};
  MultibootBoot boot;
  std::span<const uint8_t> in(data, size);
  // With modules and without, so a kernel that only just fits is reached too.
  if (load_multiboot(in, "k", "console=ttyS0", mods, {kRamSize, 0, true}, *as, boot).empty() &&
      (boot.low >= kRamSize || boot.high > kRamSize))
    __builtin_trap();
  load_multiboot(in, "k", "", {}, {kRamSize, 0, false}, *as, boot);
  return 0;
}
