// -kernel bzImage on the pc machine: load_bzimage must reject any malformed setup header
// (version, lengths, alignment, addresses) and otherwise write only inside guest RAM. The input
// is the image; a small initrd rides along so its placement is exercised too.
#include <cstddef>
#include <cstdint>
#include <span>

#include "hw/core/address_space.h"
#include "machine/loader/bzimage.h"

namespace {
constexpr uint64_t kRamSize = 32 << 20;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace orrery::machine::loader;
  static orrery::hw::AddressSpace* as = [] {
    auto* a = new orrery::hw::AddressSpace;
    a->add_ram("ram", 0, kRamSize);
    return a;
  }();
  static const uint8_t kInitrd[] = {'0', '7', '0', '7', '0', '1'};
  std::span<const uint8_t> in(data, size);
  LinuxBootConfig c;
  c.mem = {kRamSize, 0, true};
  c.cmdline = "console=ttyS0";
  c.initrd = kInitrd;
  LinuxBoot boot;
  if (load_bzimage(in, c, *as, boot).empty() &&
      (boot.kernel_end > kRamSize || boot.initrd_addr + boot.initrd_size > kRamSize ||
       boot.initrd_addr < boot.kernel_end))
    __builtin_trap();
  c.initrd = {};
  c.cmdline = {};
  load_bzimage(in, c, *as, boot);
  return 0;
}
