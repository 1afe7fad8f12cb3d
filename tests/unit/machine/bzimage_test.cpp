// Direct Linux boot on -M pc: the bzImage loader's checks, the zero page, e820 table, page
// tables and initrd placement it builds, and a run of a synthetic bzImage (data/linux64.asm,
// assembled by nasm) through the board's 64-bit entry.
#include "machine/loader/bzimage.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "cpu/x86/state.h"
#include "hw/core/address_space.h"
#include "hw/core/clock.h"
#include "hw/core/event_loop.h"
#include "hw/core/log.h"
#include "machine/pc/pc.h"
#include "tcg/exec/engine.h"
#include "tests/unit/machine/machine_harness.h"

namespace orrery::machine {
namespace {

using test::StringSink;

using loader::BzImageHeader;
using loader::LinuxBoot;
using loader::LinuxBootConfig;

constexpr uint64_t kMiB = uint64_t(1) << 20;

void put(std::vector<uint8_t>& b, size_t at, uint64_t v, unsigned size) {
  for (unsigned i = 0; i < size; ++i) b[at + i] = uint8_t(v >> (8 * i));
}
uint64_t get(const std::vector<uint8_t>& b, size_t at, unsigned size) {
  uint64_t v = 0;
  for (unsigned i = 0; i < size; ++i) v |= uint64_t(b[at + i]) << (8 * i);
  return v;
}

// A bzImage of protocol 2.15 as Debian's kernel has it: 2 setup sectors + 0x1000 bytes of
// protected-mode kernel (filled with 0xcc), relocatable, pref_address 16 MiB, init_size 1 MiB.
std::vector<uint8_t> image(size_t pm_size = 0x1000) {
  std::vector<uint8_t> b(1024 + pm_size, 0);
  b[0x1f1] = 1;
  put(b, 0x1fe, 0xaa55, 2);
  b[0x200] = 0xeb;
  b[0x201] = 0x6a;  // header ends at 0x26c
  put(b, 0x202, 0x53726448, 4);
  put(b, 0x206, 0x020f, 2);
  b[0x211] = 1;  // LOADED_HIGH
  put(b, 0x22c, 0x7fffffff, 4);
  put(b, 0x230, 0x200000, 4);
  b[0x234] = 1;
  put(b, 0x236, 1, 2);  // XLF_KERNEL_64
  put(b, 0x238, 2047, 4);
  put(b, 0x258, 0x1000000, 8);
  put(b, 0x260, 0x100000, 4);
  for (size_t i = 1024; i < b.size(); ++i) b[i] = 0xcc;
  return b;
}

class BzImageLoader : public ::testing::Test {
 protected:
  BzImageLoader() { as.add_ram("ram", 0, ram); }
  std::string load(const std::vector<uint8_t>& img, std::string_view cmdline = "console=ttyS0",
                   std::span<const uint8_t> initrd = {}) {
    LinuxBootConfig c;
    c.mem = {ram, 0, true};
    c.cmdline = cmdline;
    c.initrd = initrd;
    c.acpi_rsdp_addr = 0xf5a40;
    return loader::load_bzimage(img, c, as, boot);
  }
  std::vector<uint8_t> read(uint64_t addr, size_t n) {
    std::vector<uint8_t> v(n);
    EXPECT_TRUE(as.read_bytes(addr, v.data(), n));
    return v;
  }
  const uint64_t ram = 512 * kMiB;
  hw::AddressSpace as;
  LinuxBoot boot;
};

TEST_F(BzImageLoader, ParsesTheSetupHeader) {
  BzImageHeader h;
  ASSERT_EQ(loader::parse_bzimage_header(image(), h), "");
  EXPECT_EQ(h.version, 0x020f);
  EXPECT_EQ(h.setup_size, 1024u);
  EXPECT_EQ(h.header_end, 0x26cu);
  EXPECT_EQ(h.initrd_addr_max, 0x7fffffffu);
  EXPECT_EQ(h.kernel_alignment, 0x200000u);
  EXPECT_TRUE(h.relocatable);
  EXPECT_EQ(h.cmdline_size, 2047u);
  EXPECT_EQ(h.pref_address, 0x1000000u);
  EXPECT_EQ(h.init_size, 0x100000u);
  // setup_sects 0 means 4.
  auto img = image();
  img[0x1f1] = 0;
  img.resize(5 * 512 + 0x1000, 0xcc);
  ASSERT_EQ(loader::parse_bzimage_header(img, h), "");
  EXPECT_EQ(h.setup_size, 5 * 512u);
}

TEST_F(BzImageLoader, RefusesWhatItCannotBoot) {
  BzImageHeader h;
  auto expect_error = [&](std::vector<uint8_t> img, const std::string& needle) {
    const std::string err = loader::parse_bzimage_header(img, h);
    EXPECT_NE(err.find(needle), std::string::npos) << err;
    EXPECT_EQ(err.find('\n'), std::string::npos);
    EXPECT_NE(load(img), "");
  };
  auto img = image();
  put(img, 0x202, 0x53726447, 4);
  EXPECT_FALSE(loader::is_bzimage(img));
  expect_error(img, "not a bzImage");
  img = image();
  put(img, 0x206, 0x0205, 2);
  expect_error(img, "boot protocol 2.05 is too old");
  img = image();
  put(img, 0x236, 0, 2);
  expect_error(img, "no 64-bit entry point");
  img = image();
  img[0x211] = 0;
  expect_error(img, "zImage");
  img = image();
  put(img, 0x230, 0x300000, 4);
  expect_error(img, "kernel_alignment 0x300000 is not a power of two");
  img = image();
  img[0x201] = 0x10;  // the header would end before init_size
  expect_error(img, "the setup header ends at 0x212");
  img = image();
  img[0x201] = 0xa0;  // into the zero page's e820 area
  expect_error(img, "past the zero page");
  img = image();
  put(img, 0x1fe, 0, 2);
  expect_error(img, "boot_flag");
  img = image();
  img.resize(1024 + 0x100);  // no byte at the 64-bit entry
  expect_error(img, "ends before its protected-mode kernel's 64-bit entry");
  img = image();
  img[0x1f1] = 200;  // setup larger than the file
  expect_error(img, "ends before");
  img.assign(0x230, 0);
  put(img, 0x202, 0x53726448, 4);
  expect_error(img, "truncated");
}

TEST_F(BzImageLoader, RefusesWhatDoesNotFit) {
  auto img = image();
  put(img, 0x258, ram, 8);  // pref_address at the end of RAM
  EXPECT_NE(load(img).find("does not fit in RAM"), std::string::npos);
  img = image();
  put(img, 0x260, ram, 4);  // init_size larger than RAM
  EXPECT_NE(load(img).find("does not fit in RAM"), std::string::npos);
  img = image();
  put(img, 0x258, 0x1000, 8);  // below 1 MiB, over the boot structures
  img[0x234] = 0;
  EXPECT_NE(load(img).find("between 1 MiB"), std::string::npos);
  img = image();
  put(img, 0x238, 8, 4);
  EXPECT_EQ(load(img, "console=ttyS0"),
            "-append: the command line is 13 bytes; this kernel accepts at most 8");
  std::vector<uint8_t> initrd(ram, 1);
  const std::string err = load(image(), "", initrd);
  EXPECT_NE(err.find("-initrd: "), std::string::npos) << err;
  EXPECT_NE(err.find("do not fit"), std::string::npos) << err;
}

TEST_F(BzImageLoader, BuildsTheZeroPageTablesAndInitrd) {
  const auto img = image();
  const std::vector<uint8_t> initrd(10000, 0x5a);
  ASSERT_EQ(load(img, "console=ttyS0 quiet", initrd), "");
  EXPECT_EQ(boot.kernel_addr, 0x1000000u);
  EXPECT_EQ(boot.kernel_end, 0x1100000u);
  EXPECT_EQ(boot.entry, 0x1000200u);
  // As QEMU (its RAMDISK line for this size and RAM): page-aligned below the usable RAM's
  // last byte.
  EXPECT_EQ(boot.initrd_addr, (ram - 0x20000 - 1 - 10000) & ~uint64_t(0xfff));
  EXPECT_EQ(boot.initrd_size, 10000u);
  EXPECT_EQ(read(boot.initrd_addr, 10000), initrd);
  EXPECT_EQ(read(boot.kernel_addr, 0x1000), std::vector<uint8_t>(img.begin() + 1024, img.end()));

  const auto zp = read(boot.zero_page, 4096);
  // The setup header, copied, with type_of_loader set.
  // (The loader's own fields: type_of_loader, code32_start, ramdisk_image/size, cmd_line_ptr.)
  auto loader_field = [](size_t i) {
    return i == 0x210 || (i >= 0x214 && i < 0x220) || (i >= 0x228 && i < 0x22c);
  };
  for (size_t i = 0x1f1; i < 0x26c; ++i) {
    if (!loader_field(i)) {
      EXPECT_EQ(zp[i], img[i]) << "offset " << i;
    }
  }
  EXPECT_EQ(zp[0x210], 0xff);
  EXPECT_EQ(get(zp, 0x214, 4), 0x1000000u);  // code32_start
  EXPECT_EQ(get(zp, 0x228, 4), boot.cmdline_addr);
  EXPECT_EQ(get(zp, 0x0c8, 4), 0u);
  EXPECT_EQ(get(zp, 0x218, 4), boot.initrd_addr);
  EXPECT_EQ(get(zp, 0x21c, 4), 10000u);
  EXPECT_EQ(get(zp, 0x070, 8), 0xf5a40u);
  const auto cmd = read(boot.cmdline_addr, 20);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(cmd.data())), "console=ttyS0 quiet");
  // The e820 table: what SeaBIOS reports for 512 MiB with an AMD model (qemu64).
  const std::vector<loader::MemoryMapEntry> want = {{0, 0x9fc00, 1},
                                                    {0x9fc00, 0x400, 2},
                                                    {0xf0000, 0x10000, 2},
                                                    {0x100000, 0x1fee0000, 1},
                                                    {0x1ffe0000, 0x20000, 2},
                                                    {0xfffc0000, 0x40000, 2},
                                                    {0xfd00000000, 0x300000000, 2}};
  ASSERT_EQ(zp[0x1e8], want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(get(zp, 0x2d0 + 20 * i, 8), want[i].base) << i;
    EXPECT_EQ(get(zp, 0x2d0 + 20 * i + 8, 8), want[i].length) << i;
    EXPECT_EQ(get(zp, 0x2d0 + 20 * i + 16, 4), want[i].type) << i;
  }
  // The GDT's __BOOT_CS and __BOOT_DS and the identity map: 0x1f_e00000 through 2 MiB pages.
  const auto gdt = read(boot.gdt_base, 32);
  EXPECT_EQ(boot.gdt_limit, 31u);
  EXPECT_EQ(get(gdt, 0x10, 8), 0x00af9b000000ffffu);
  EXPECT_EQ(get(gdt, 0x18, 8), 0x00cf93000000ffffu);
  const uint64_t la = 0xfee00000;  // in the fourth gigabyte
  const uint64_t pml4e = get(read(boot.cr3, 8), 0, 8);
  const uint64_t pdpte = get(read((pml4e & ~0xfffull) + 8 * ((la >> 30) & 511), 8), 0, 8);
  const uint64_t pde = get(read((pdpte & ~0xfffull) + 8 * ((la >> 21) & 511), 8), 0, 8);
  EXPECT_EQ(pml4e & 3, 3u);
  EXPECT_EQ(pdpte & 3, 3u);
  EXPECT_EQ(pde, la | 0x83);
}

TEST_F(BzImageLoader, PlacesTheInitrdWhereQemuDoes) {
  // qemu-system-x86_64 -M pc -m 512 with a 1028409-byte initrd: "RAMDISK: [mem
  // 0x1fee4000-0x1ffdffff]"; a page-sized one goes a page below the limit there too.
  const std::vector<uint8_t> initrd(1028409, 0);
  ASSERT_EQ(load(image(), "", initrd), "");
  EXPECT_EQ(boot.initrd_addr, 0x1fee4000u);
  ASSERT_EQ(load(image(), "", std::vector<uint8_t>(0x1000)), "");
  EXPECT_EQ(boot.initrd_addr, 0x1ffde000u);
  auto img = image();
  put(img, 0x22c, 0x0fffffff, 4);  // initrd_addr_max
  ASSERT_EQ(load(img, "", initrd), "");
  EXPECT_EQ(boot.initrd_addr, (0x0fffffffu - 1028409u) & ~0xfffu);
}

TEST_F(BzImageLoader, LoadsANonRelocatableKernelAtPrefAddress) {
  auto img = image();
  img[0x234] = 0;
  put(img, 0x258, 0x1234000, 8);
  ASSERT_EQ(load(img), "");
  EXPECT_EQ(boot.kernel_addr, 0x1234000u);
  img[0x234] = 1;  // relocatable: rounded up to kernel_alignment
  ASSERT_EQ(load(img), "");
  EXPECT_EQ(boot.kernel_addr, 0x1400000u);
}

TEST(PcFirmwareMtrrs, PciWindowFollowsRamBelow4G) {
  cpu::x86::X86State s;
  pc::program_firmware_mtrrs(s, 3u << 30, 40);
  EXPECT_EQ(s.msr.mtrr_var[0], 0xc0000000u);
  EXPECT_EQ(s.msr.mtrr_var[1], 0xffc0000800u);
  pc::program_firmware_mtrrs(s, 3584 * kMiB - 1, 36);
  EXPECT_EQ(s.msr.mtrr_var[0], 0xe0000000u);
  EXPECT_EQ(s.msr.mtrr_var[1], 0xfe0000800u);
  EXPECT_EQ(s.msr.mtrr_var[2], 0u);
}

class PcLinux : public test::InterpMachineTest {
 protected:
};

TEST_F(PcLinux, BootsASyntheticBzImageThroughThe64BitEntry) {
#ifndef ORRERY_TEST_BZIMAGE
  GTEST_SKIP() << "nasm was not found at configure time";
#else
  std::ifstream f(ORRERY_TEST_BZIMAGE, std::ios::binary);
  ASSERT_TRUE(f) << ORRERY_TEST_BZIMAGE;
  const std::vector<uint8_t> kernel((std::istreambuf_iterator<char>(f)),
                                    std::istreambuf_iterator<char>());
  const std::string initrd_path = ::testing::TempDir() + "/orrery_bzimage_initrd";
  {
    std::ofstream o(initrd_path, std::ios::binary);
    o << "initramfs!";
  }
  MachineConfig c;
  c.cpu_model = "qemu64";
  c.ram_size = 512 * kMiB;
  c.cpus = 1;
  c.no_reboot = true;
  c.devices = {{"isa-debug-exit", {{"iobase", "0xf4"}, {"iosize", "4"}}}};
  std::string err;
  auto m = pc::PcMachine::create(c, ctx, err);
  ASSERT_TRUE(m) << err;
  auto& pc = static_cast<pc::PcMachine&>(*m);
  StringSink out;
  m->serial_port(0, &out);
  BootImages images{kernel, {}, "console=ttyS0 root=/dev/ram", {}, {}, {}, {}};
  images.kernel_path = ORRERY_TEST_BZIMAGE;
  images.initrd_path = initrd_path;
  ASSERT_EQ(m->load_boot(images), "");
  ASSERT_TRUE(pc.boots_linux());

  // The CPU at the 64-bit entry.
  namespace x = cpu::x86;
  const x::X86State& s = pc.cpu(0).state();
  EXPECT_EQ(pc.cpu(0).rip(), 0x1000200u);
  EXPECT_EQ(s.gpr[x::kRsi], loader::kLinuxZeroPage);
  EXPECT_EQ(s.gpr[x::kRax], 0u);
  EXPECT_EQ(s.gpr[x::kRbx], 0u);
  EXPECT_EQ(s.gpr[x::kRbp], 0u);
  EXPECT_EQ(s.gpr[x::kRdi], 0u);
  EXPECT_EQ(s.seg[x::kCs].selector, 0x10);
  EXPECT_TRUE(s.seg[x::kCs].attr & x::seg_attr::kL);
  for (unsigned r : {x::kDs, x::kEs, x::kSs, x::kFs, x::kGs}) EXPECT_EQ(s.seg[r].selector, 0x18);
  EXPECT_EQ(s.efer & (x::efer::kLme | x::efer::kLma), x::efer::kLme | x::efer::kLma);
  EXPECT_EQ(s.cr0 & (x::cr0::kPe | x::cr0::kPg), x::cr0::kPe | x::cr0::kPg);
  EXPECT_TRUE(s.cr4 & x::cr4::kPae);
  EXPECT_EQ(s.cr3, loader::kLinuxPml4);
  EXPECT_EQ(s.eflags & x::eflags::kIf, 0u);
  EXPECT_EQ(s.gdtr.base, loader::kLinuxGdtAddr);
  // SeaBIOS's MTRRs: enabled, write-back by default, the PCI window from 2 GiB uncached.
  EXPECT_EQ(s.msr.mtrr_def_type, 0xc06u);
  EXPECT_EQ(s.msr.mtrr_var[0], 0x80000000u);
  EXPECT_EQ(s.msr.mtrr_var[1], 0xff80000800u);
  EXPECT_EQ(s.msr.mtrr_fixed[0], 0x0606060606060606u);
  EXPECT_EQ(s.msr.mtrr_fixed[2], 0u);
  EXPECT_EQ(s.msr.mtrr_fixed[10], 0x0505050505050505u);

  EXPECT_EQ(m->run(), (0x21 << 1) | 1);
  EXPECT_EQ(m->error(), "");
  EXPECT_EQ(out.out,
            "linux64: zero page ok\n"
            "cmdline: console=ttyS0 root=/dev/ram\n"
            "initrd: initramfs!e820 entries: 7\n"
            "loaded at 0000000001000000\n");
  std::remove(initrd_path.c_str());
#endif
}

}  // namespace
}  // namespace orrery::machine
