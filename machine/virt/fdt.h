// The virt board's flattened device tree, generated with libfdt from the same memory map and
// interrupt map (virt_map.h) that wire the devices, so the two cannot disagree. Also patches
// /chosen (bootargs, initrd) into a user-supplied -dtb, as QEMU does.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace orrery::machine::virt {

struct FdtConfig {
  unsigned gic_version = 2;      // 2 or 3
  std::vector<uint64_t> mpidrs;  // one per vCPU
  std::string cpu_compatible;    // e.g. "arm,cortex-a57"
  uint64_t ram_size = 0;
  std::string bootargs;       // -append; empty: no bootargs property
  uint64_t initrd_start = 0;  // initrd_end > initrd_start: linux,initrd-* properties
  uint64_t initrd_end = 0;
  uint64_t redist_size = 0;  // GICv3: bytes of redistributor frames
  bool gicv2m = false;       // a GICv2m MSI frame (the PCIe node's msi-parent)
  bool its = false;          // a GICv3 ITS (the PCIe node's msi-map)
  bool pmu = false;          // a PMUv3 with its overflow PPI (an arm,armv8-pmuv3 node)
  /// /chosen's rng-seed (seeds the guest's RNG) and kaslr-seed (randomises the kernel's
  /// virtual base): QEMU's dtb-randomness. Empty: neither property.
  std::vector<uint8_t> rng_seed;
  uint64_t kaslr_seed = 0;
};

/// Builds the device tree blob; empty string on success.
std::string build_virt_fdt(const FdtConfig& cfg, std::vector<uint8_t>& out);

/// Checks that a user DTB is whole and well formed before libfdt edits it: the header, the size,
/// every structure-block token (fdt_check_full) and a terminated reserve map. Empty on success.
std::string check_user_dtb(std::span<const uint8_t> dtb);

/// Checks a user DTB (check_user_dtb) and sets /chosen's bootargs and initrd properties (only
/// those given); dtb is unchanged on failure. Empty string on success.
std::string patch_chosen(std::vector<uint8_t>& dtb, const std::string& bootargs,
                         uint64_t initrd_start, uint64_t initrd_end);

/// The device tree's "compatible" for a -cpu model name.
std::string cpu_compatible(const std::string& model);

}  // namespace orrery::machine::virt
