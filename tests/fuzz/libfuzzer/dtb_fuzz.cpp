// A user -dtb: check_user_dtb then patch_chosen must reject or fix up any blob without
// touching memory they should not, and whatever they accept must come out well formed.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

extern "C" {
#include <libfdt.h>
}

#include "machine/virt/fdt.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // First byte: length of the bootargs; second: whether to add an initrd.
  if (size < 2) return 0;
  std::string bootargs(data[0], 'x');
  bool initrd = data[1] & 1;
  std::vector<uint8_t> dtb(data + 2, data + size);
  std::string err = orrery::machine::virt::patch_chosen(dtb, bootargs, initrd ? 0x48000000 : 0,
                                                        initrd ? 0x48001000 : 0);
  if (err.empty() && fdt_check_full(dtb.data(), dtb.size()) != 0) __builtin_trap();
  return 0;
}
