// -kernel as ELF: parse_elf64 must reject anything malformed, and load_elf64 must then write
// only inside guest RAM.
#include <cstddef>
#include <cstdint>
#include <span>

#include "hw/core/address_space.h"
#include "machine/loader/elf.h"

namespace {
constexpr uint64_t kRamBase = 0x40000000, kRamSize = 8 << 20;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace orrery::machine::loader;
  static orrery::hw::AddressSpace* as = [] {
    auto* a = new orrery::hw::AddressSpace;
    a->add_ram("ram", kRamBase, kRamSize);
    return a;
  }();
  std::span<const uint8_t> in(data, size);
  ElfImage img;
  if (!parse_elf64(in, kEmAarch64, img).empty()) return 0;
  load_elf64(in, img, {kRamBase, kRamSize}, *as);
  return 0;
}
