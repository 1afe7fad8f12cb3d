// The generated device tree, parsed back with libfdt: nodes, addresses and interrupts must
// match virt_map.h; /chosen carries bootargs and the initrd; patch_chosen edits a user DTB.
#include "machine/virt/fdt.h"

#include <gtest/gtest.h>

extern "C" {
#include <libfdt.h>
}

#include <string>
#include <vector>

#include "machine/virt/virt_map.h"

namespace orrery::machine::virt {
namespace {

std::vector<uint32_t> cells(const std::vector<uint8_t>& dtb, const char* path, const char* prop) {
  int node = fdt_path_offset(dtb.data(), path);
  EXPECT_GE(node, 0) << path;
  int len = 0;
  auto* p = static_cast<const fdt32_t*>(fdt_getprop(dtb.data(), node, prop, &len));
  std::vector<uint32_t> v;
  for (int i = 0; p && i < len / 4; ++i) v.push_back(fdt32_to_cpu(p[i]));
  return v;
}

std::string str(const std::vector<uint8_t>& dtb, const char* path, const char* prop) {
  int node = fdt_path_offset(dtb.data(), path);
  if (node < 0) return "<no node>";
  int len = 0;
  auto* p = static_cast<const char*>(fdt_getprop(dtb.data(), node, prop, &len));
  return p ? std::string(p, size_t(len > 0 ? len - 1 : 0)) : "<no prop>";
}

FdtConfig config(unsigned gic, unsigned cpus) {
  FdtConfig c;
  c.gic_version = gic;
  for (unsigned i = 0; i < cpus; ++i) c.mpidrs.push_back(0x8000'0000u | i);
  c.cpu_compatible = cpu_compatible("cortex-a57");
  c.ram_size = 512 * MiB;
  c.bootargs = "console=ttyAMA0 quiet";
  c.initrd_start = 0x4800'0000;
  c.initrd_end = 0x4810'0000;
  c.redist_size = cpus * 0x20000;
  return c;
}

TEST(FdtTest, GicV2Tree) {
  std::vector<uint8_t> dtb;
  ASSERT_EQ(build_virt_fdt(config(2, 2), dtb), "");
  ASSERT_EQ(fdt_check_header(dtb.data()), 0);
  EXPECT_EQ(cells(dtb, "/memory@40000000", "reg"),
            (std::vector<uint32_t>{0, 0x4000'0000, 0, 512 * MiB}));
  EXPECT_EQ(str(dtb, "/cpus/cpu@1", "enable-method"), "psci");
  EXPECT_EQ(str(dtb, "/cpus/cpu@0", "compatible"), "arm,cortex-a57");
  EXPECT_EQ(cells(dtb, "/cpus/cpu@1", "reg"), std::vector<uint32_t>{1});
  EXPECT_EQ(str(dtb, "/psci", "method"), "hvc");
  EXPECT_EQ(str(dtb, "/psci", "compatible"),
            std::string("arm,psci-1.0\0arm,psci-0.2\0arm,psci", 34));
  EXPECT_EQ(str(dtb, "/intc@8000000", "compatible"), "arm,cortex-a15-gic");
  EXPECT_EQ(cells(dtb, "/intc@8000000", "#interrupt-cells"), std::vector<uint32_t>{3});
  EXPECT_EQ(cells(dtb, "/intc@8000000", "reg"),
            (std::vector<uint32_t>{0, 0x0800'0000, 0, 0x10000, 0, 0x0801'0000, 0, 0x10000}));
  // Timer PPIs 13, 14, 11, 10 with the GICv2 CPU mask for two CPUs.
  std::vector<uint32_t> t = cells(dtb, "/timer", "interrupts");
  ASSERT_EQ(t.size(), 12u);
  EXPECT_EQ(t[1], kPpiTimerSecurePhys);
  EXPECT_EQ(t[4], kPpiTimerPhys);
  EXPECT_EQ(t[7], kPpiTimerVirt);
  EXPECT_EQ(t[10], kPpiTimerHyp);
  EXPECT_EQ(t[2], 0x304u);
  EXPECT_EQ(cells(dtb, "/pl011@9000000", "interrupts"),
            (std::vector<uint32_t>{0, virt_spi(VirtRegion::Uart), 4}));
  EXPECT_EQ(cells(dtb, "/pl031@9010000", "interrupts"),
            (std::vector<uint32_t>{0, virt_spi(VirtRegion::Rtc), 4}));
  EXPECT_EQ(str(dtb, "/pl011@9000000", "clock-names"), std::string("uartclk\0apb_pclk", 16));
  EXPECT_EQ(str(dtb, "/chosen", "bootargs"), "console=ttyAMA0 quiet");
  EXPECT_EQ(str(dtb, "/chosen", "stdout-path"), "/pl011@9000000");
  EXPECT_EQ(cells(dtb, "/chosen", "linux,initrd-start"), (std::vector<uint32_t>{0, 0x4800'0000}));
  EXPECT_EQ(cells(dtb, "/chosen", "linux,initrd-end"), (std::vector<uint32_t>{0, 0x4810'0000}));
  // Everything refers to the GIC and the clock by phandle.
  uint32_t gic = cells(dtb, "/intc@8000000", "phandle")[0];
  EXPECT_EQ(cells(dtb, "/", "interrupt-parent")[0], gic);
  uint32_t clk = cells(dtb, "/apb-pclk", "phandle")[0];
  EXPECT_EQ(cells(dtb, "/pl031@9010000", "clocks")[0], clk);
}

TEST(FdtTest, GicV3Tree) {
  std::vector<uint8_t> dtb;
  FdtConfig c = config(3, 4);
  c.bootargs.clear();
  c.initrd_end = c.initrd_start;  // no initrd
  ASSERT_EQ(build_virt_fdt(c, dtb), "");
  EXPECT_EQ(str(dtb, "/intc@8000000", "compatible"), "arm,gic-v3");
  EXPECT_EQ(cells(dtb, "/intc@8000000", "reg"),
            (std::vector<uint32_t>{0, 0x0800'0000, 0, 0x10000, 0, 0x080A'0000, 0, 4 * 0x20000}));
  EXPECT_EQ(cells(dtb, "/timer", "interrupts")[2], 4u);  // no CPU mask with GICv3
  EXPECT_EQ(str(dtb, "/chosen", "bootargs"), "<no prop>");
  EXPECT_EQ(str(dtb, "/chosen", "linux,initrd-start"), "<no prop>");
  EXPECT_GE(fdt_path_offset(dtb.data(), "/cpus/cpu@3"), 0);
}

// dtb-randomness (QEMU's names and sizes): a 32-byte rng-seed the kernel credits to its RNG
// and an 8-byte kaslr-seed; without seeds, neither property.
TEST(FdtTest, ChosenSeedsOnlyWhenGiven) {
  std::vector<uint8_t> dtb;
  FdtConfig c = config(2, 1);
  ASSERT_EQ(build_virt_fdt(c, dtb), "");
  EXPECT_EQ(str(dtb, "/chosen", "rng-seed"), "<no prop>");
  EXPECT_EQ(str(dtb, "/chosen", "kaslr-seed"), "<no prop>");
  for (uint8_t i = 0; i < 32; ++i) c.rng_seed.push_back(uint8_t(0xa0 + i));
  c.kaslr_seed = 0x0123'4567'89ab'cdefull;
  ASSERT_EQ(build_virt_fdt(c, dtb), "");
  const int chosen = fdt_path_offset(dtb.data(), "/chosen");
  int len = 0;
  auto* seed = static_cast<const uint8_t*>(fdt_getprop(dtb.data(), chosen, "rng-seed", &len));
  ASSERT_NE(seed, nullptr);
  EXPECT_EQ(std::vector<uint8_t>(seed, seed + len), c.rng_seed);
  EXPECT_EQ(cells(dtb, "/chosen", "kaslr-seed"), (std::vector<uint32_t>{0x0123'4567, 0x89ab'cdef}));
  EXPECT_EQ(str(dtb, "/chosen", "bootargs"), "console=ttyAMA0 quiet");
}

TEST(FdtTest, PatchChosenOfUserDtb) {
  std::vector<uint8_t> dtb;
  FdtConfig c = config(2, 1);
  c.bootargs.clear();
  c.initrd_end = c.initrd_start;
  ASSERT_EQ(build_virt_fdt(c, dtb), "");
  ASSERT_EQ(patch_chosen(dtb, "root=/dev/ram", 0x4900'0000, 0x4900'1000), "");
  EXPECT_EQ(str(dtb, "/chosen", "bootargs"), "root=/dev/ram");
  EXPECT_EQ(cells(dtb, "/chosen", "linux,initrd-end"), (std::vector<uint32_t>{0, 0x4900'1000}));
  EXPECT_EQ(str(dtb, "/psci", "method"), "hvc");  // the rest is untouched
}

TEST(FdtTest, BadUserDtbRejected) {
  std::vector<uint8_t> junk(100, 0x55);
  EXPECT_NE(patch_chosen(junk, "x", 0, 0).find("not a valid device tree"), std::string::npos);
  std::vector<uint8_t> tiny(4, 0);
  EXPECT_NE(patch_chosen(tiny, "x", 0, 0), "");
  std::vector<uint8_t> dtb;
  ASSERT_EQ(build_virt_fdt(config(2, 1), dtb), "");
  dtb.resize(dtb.size() / 2);
  EXPECT_NE(patch_chosen(dtb, "x", 0, 0).find("truncated"), std::string::npos);
}

TEST(FdtTest, CorruptUserDtbRejectedBeforeEditing) {
  // Issue 9: a reserve map starting at the end of the blob passed fdt_check_header, then
  // fdt_open_into moved a negative size and corrupted the heap.
  std::vector<uint8_t> good;
  ASSERT_EQ(build_virt_fdt(config(2, 1), good), "");
  std::vector<uint8_t> dtb = good;
  fdt_set_off_mem_rsvmap(dtb.data(), fdt_totalsize(dtb.data()));
  EXPECT_NE(patch_chosen(dtb, "x", 0, 0).find("not a valid device tree"), std::string::npos);
  // A structure block whose tokens are garbage.
  dtb = good;
  for (uint32_t i = 0; i < 64; ++i) dtb[fdt_off_dt_struct(dtb.data()) + 8 + i] = 0xEE;
  EXPECT_NE(patch_chosen(dtb, "x", 0, 0).find("not a valid device tree"), std::string::npos);
  // Strings block pointing past the end.
  dtb = good;
  fdt_set_size_dt_strings(dtb.data(), fdt_totalsize(dtb.data()));
  EXPECT_NE(patch_chosen(dtb, "x", 0, 0).find("not a valid device tree"), std::string::npos);
  // The blob itself is left as it was on failure.
  EXPECT_EQ(fdt_size_dt_strings(dtb.data()), fdt_totalsize(dtb.data()));
}

TEST(FdtTest, UnreadableNodeNameRejectedNotACrash) {
  // Before version 16 node names are full paths; the root's empty name then has no '/', so
  // fdt_get_name fails, and Debian's libfdt 1.6.1 fdt_check_full dereferenced that NULL (the
  // libFuzzer target found it: corpus/dtb/regress_unreadable_node_name).
  std::vector<uint8_t> dtb;
  ASSERT_EQ(build_virt_fdt(config(2, 1), dtb), "");
  fdt_set_version(dtb.data(), 15);
  fdt_set_last_comp_version(dtb.data(), 2);
  EXPECT_NE(patch_chosen(dtb, "x", 0, 0).find("not a valid device tree"), std::string::npos);
}

}  // namespace
}  // namespace orrery::machine::virt

namespace orrery::machine::virt {
namespace {

TEST(FdtTest, PcieHostBridgeLikeQemuGpex) {
  std::vector<uint8_t> dtb;
  FdtConfig c = config(2, 1);
  c.gicv2m = true;
  ASSERT_EQ(build_virt_fdt(c, dtb), "");
  const char* n = "/pcie@10000000";
  EXPECT_EQ(str(dtb, n, "compatible"), "pci-host-ecam-generic");
  EXPECT_EQ(str(dtb, n, "device_type"), "pci");
  EXPECT_EQ(cells(dtb, n, "#address-cells"), std::vector<uint32_t>{3});
  EXPECT_EQ(cells(dtb, n, "#size-cells"), std::vector<uint32_t>{2});
  EXPECT_EQ(cells(dtb, n, "#interrupt-cells"), std::vector<uint32_t>{1});
  EXPECT_EQ(cells(dtb, n, "linux,pci-domain"), std::vector<uint32_t>{0});
  EXPECT_EQ(cells(dtb, n, "bus-range"), (std::vector<uint32_t>{0, 15}));
  EXPECT_EQ(cells(dtb, n, "reg"), (std::vector<uint32_t>{0, 0x3f00'0000, 0, 0x100'0000}));
  EXPECT_EQ(
      cells(dtb, n, "ranges"),
      (std::vector<uint32_t>{0x01000000, 0,    0,           0,    0x3eff'0000, 0,    0x10000,
                             0x02000000, 0,    0x1000'0000, 0,    0x1000'0000, 0,    0x2eff'0000,
                             0x03000000, 0x80, 0,           0x80, 0,           0x80, 0}));
  EXPECT_EQ(str(dtb, n, "dma-coherent"), "");
  EXPECT_EQ(cells(dtb, n, "interrupt-map-mask"), (std::vector<uint32_t>{0x1800, 0, 0, 7}));
  // 16 entries of 10 cells: slot 2 pin INTC (3) lands on SPI 3 + (2 + 2) % 4 = 3.
  const uint32_t gic = cells(dtb, "/intc@8000000", "phandle")[0];
  std::vector<uint32_t> map = cells(dtb, n, "interrupt-map");
  ASSERT_EQ(map.size(), 160u);
  const size_t e = (2 * 4 + 2) * 10;
  EXPECT_EQ(std::vector<uint32_t>(map.begin() + e, map.begin() + e + 10),
            (std::vector<uint32_t>{2 << 11, 0, 0, 3, gic, 0, 0, 0, 3, 4}));
  // MSI through the v2m frame under the GIC.
  const char* v2m = "/intc@8000000/v2m@8020000";
  EXPECT_EQ(str(dtb, v2m, "compatible"), "arm,gic-v2m-frame");
  EXPECT_EQ(str(dtb, v2m, "msi-controller"), "");
  EXPECT_EQ(cells(dtb, v2m, "reg"), (std::vector<uint32_t>{0, 0x0802'0000, 0, 0x1000}));
  EXPECT_EQ(cells(dtb, n, "msi-parent"), cells(dtb, v2m, "phandle"));
  EXPECT_EQ(cells(dtb, n, "msi-map"), std::vector<uint32_t>{});
  // GICv3 without an ITS: INTx only.
  c = config(3, 1);
  ASSERT_EQ(build_virt_fdt(c, dtb), "");
  EXPECT_EQ(cells(dtb, n, "msi-parent"), std::vector<uint32_t>{});
  EXPECT_EQ(cells(dtb, n, "msi-map"), std::vector<uint32_t>{});
  EXPECT_LT(fdt_path_offset(dtb.data(), v2m), 0);
}

TEST(FdtTest, GicV3ItsLikeQemu) {
  std::vector<uint8_t> dtb;
  FdtConfig c = config(3, 2);
  c.its = true;
  ASSERT_EQ(build_virt_fdt(c, dtb), "");
  const char* its = "/intc@8000000/its@8080000";
  EXPECT_EQ(str(dtb, its, "compatible"), "arm,gic-v3-its");
  EXPECT_EQ(str(dtb, its, "msi-controller"), "");
  EXPECT_EQ(cells(dtb, its, "#msi-cells"), std::vector<uint32_t>{1});
  EXPECT_EQ(cells(dtb, its, "reg"), (std::vector<uint32_t>{0, 0x0808'0000, 0, 0x20000}));
  // Requester IDs 0..0xffff map one to one onto DeviceIDs of the ITS.
  const uint32_t ph = cells(dtb, its, "phandle")[0];
  EXPECT_EQ(cells(dtb, "/pcie@10000000", "msi-map"), (std::vector<uint32_t>{0, ph, 0, 0x10000}));
  EXPECT_EQ(cells(dtb, "/pcie@10000000", "msi-parent"), std::vector<uint32_t>{});
}

}  // namespace
}  // namespace orrery::machine::virt
