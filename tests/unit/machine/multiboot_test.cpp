// The multiboot loader: images are built here byte by byte; the placement and the information
// structure are checked against what qemu-system-x86_64 -M pc gave the same kernel (a dump
// program run under QEMU 7.2 / SeaBIOS 1.16.2, quoted in the expectations).
#include "machine/loader/multiboot.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "hw/core/address_space.h"

namespace orrery::machine::loader {
namespace {

constexpr uint64_t kMiB = 1 << 20;

void put32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  if (b.size() < at + 4) b.resize(at + 4);
  for (int i = 0; i < 4; ++i) b[at + i] = uint8_t(v >> (8 * i));
}
void put16(std::vector<uint8_t>& b, size_t at, uint16_t v) {
  if (b.size() < at + 2) b.resize(at + 2);
  b[at] = uint8_t(v), b[at + 1] = uint8_t(v >> 8);
}
void header(std::vector<uint8_t>& b, size_t at, uint32_t flags) {
  put32(b, at, kMultibootHeaderMagic);
  put32(b, at + 4, flags);
  put32(b, at + 8, uint32_t(0u - kMultibootHeaderMagic - flags));
}

// A 32-bit i386 ELF with one PT_LOAD: filesz bytes of 0xAB... at paddr, memsz total; the
// multiboot header (flags 3) sits in the segment's bytes.
std::vector<uint8_t> elf32(uint32_t paddr, uint32_t filesz, uint32_t memsz, uint8_t cls = 1,
                           uint16_t machine = 3) {
  std::vector<uint8_t> b(0x100 + filesz, 0);
  const uint8_t ident[] = {0x7f, 'E', 'L', 'F', cls, 1, 1};
  std::memcpy(b.data(), ident, sizeof ident);
  put16(b, 16, 2);
  put16(b, 18, machine);
  put32(b, 20, 1);
  put32(b, 24, paddr + 0x10);  // entry
  put32(b, 28, 52);            // phoff
  put16(b, 40, 52);
  put16(b, 42, 32);
  put16(b, 44, 1);
  put32(b, 52, 1);  // PT_LOAD
  put32(b, 56, 0x100);
  put32(b, 60, paddr);
  put32(b, 64, paddr);
  put32(b, 68, filesz);
  put32(b, 72, memsz);
  for (uint32_t i = 0; i < filesz; ++i) b[0x100 + i] = uint8_t(0xab + i);
  header(b, 0x100, 3);
  return b;
}

// An a.out-kludge image: header at offset hdr, loaded so the file's byte 0 is at load_addr.
std::vector<uint8_t> aout(uint32_t load_addr, uint32_t size, uint32_t load_end, uint32_t bss_end,
                          size_t hdr = 0x40) {
  std::vector<uint8_t> b(size, 0x5a);
  header(b, hdr, kMultibootAoutKludge);
  put32(b, hdr + 12, uint32_t(load_addr + hdr));  // header_addr
  put32(b, hdr + 16, load_addr);
  put32(b, hdr + 20, load_end);
  put32(b, hdr + 24, bss_end);
  put32(b, hdr + 28, load_addr + 0x80);  // entry
  return b;
}

class MultibootTest : public ::testing::Test {
 protected:
  MultibootTest() { EXPECT_EQ(as.add_ram("ram", 0, 128 * kMiB), ""); }
  uint32_t rd32(uint64_t a) {
    uint32_t v = 0;
    EXPECT_TRUE(as.read_bytes(a, &v, 4));
    return v;
  }
  uint64_t rd64(uint64_t a) { return rd32(a) | uint64_t(rd32(a + 4)) << 32; }
  std::string rdstr(uint64_t a) {
    std::string s;
    for (char c; as.read_bytes(a, &c, 1) && c && s.size() < 256; ++a) s += c;
    return s;
  }
  std::string load(std::span<const uint8_t> k, std::span<const MultibootModule> mods = {},
                   std::string_view append = "a b") {
    return load_multiboot(k, "dump.elf", append, mods, mem, as, boot);
  }

  hw::AddressSpace as;
  PcMemory mem{128 * kMiB, 0, true};
  MultibootBoot boot;
};

TEST_F(MultibootTest, ElfKernelAndTheInformationQemuGives) {
  auto k = elf32(0x100000, 0x100, 0x3000);
  ASSERT_EQ(load(k), "");
  EXPECT_EQ(boot.entry, 0x100010u);
  EXPECT_EQ(boot.eax, 0x2badb002u);
  EXPECT_EQ(boot.ebx, 0x9500u);
  EXPECT_EQ(rd32(0x100000), kMultibootHeaderMagic);
  EXPECT_EQ(rd32(0x1000fc) >> 24, uint8_t(0xab + 0xff));
  EXPECT_EQ(rd32(0x100100), 0u);  // bss
  const uint64_t mbi = 0x9500;
  EXPECT_EQ(rd32(mbi + 0), 0x24fu);        // flags
  EXPECT_EQ(rd32(mbi + 4), 0x27fu);        // mem_lower: 639 KiB
  EXPECT_EQ(rd32(mbi + 8), 0x1fb80u);      // mem_upper for -m 128M
  EXPECT_EQ(rd32(mbi + 12), 0x8000ffffu);  // boot_device
  EXPECT_EQ(rd32(mbi + 20), 0u);           // mods_count
  EXPECT_EQ(rd32(mbi + 24), 0x103000u);    // mods_addr: the page after the kernel
  EXPECT_EQ(rd32(mbi + 16), 0x103000u);    // cmdline right there without modules
  EXPECT_EQ(rdstr(rd32(mbi + 16)), "dump.elf a b");
  EXPECT_EQ(rdstr(rd32(mbi + 64)), "qemu");
  EXPECT_EQ(rd32(mbi + 44), 0xa8u);  // mmap_length: seven entries
  EXPECT_EQ(rd32(mbi + 48), 0x9000u);
  // QEMU: 0/9fc00 usable, 9fc00/400, f0000/10000 reserved, 100000/7ee0000 usable,
  // 7fe0000/20000, fffc0000/40000, fd00000000/300000000 reserved.
  const uint64_t want[][3] = {{0, 0x9fc00, 1},
                              {0x9fc00, 0x400, 2},
                              {0xf0000, 0x10000, 2},
                              {0x100000, 0x7ee0000, 1},
                              {0x7fe0000, 0x20000, 2},
                              {0xfffc0000, 0x40000, 2},
                              {0xfd00000000, 0x300000000, 2}};
  for (unsigned i = 0; i < 7; ++i) {
    const uint64_t e = 0x9000 + 24 * i;
    EXPECT_EQ(rd32(e), 20u);
    EXPECT_EQ(rd64(e + 4), want[i][0]) << i;
    EXPECT_EQ(rd64(e + 12), want[i][1]) << i;
    EXPECT_EQ(rd32(e + 20), want[i][2]) << i;
  }
}

TEST_F(MultibootTest, ModulesAsQemuPlacesThem) {
  // QEMU with a kernel occupying 0xff000..0x1021e4 and -initrd "m1 arg1 x,m2" (6 bytes each):
  // mods at 0x103000, cmdlines at 0x103020 and 0x10302a, the kernel's at 0x10302d, the
  // loader name at 0x10303a, modules at 0x104000 and 0x105000.
  auto k = elf32(0xff000, 0x100, 0x31e4);
  const std::vector<uint8_t> m1 = {'h', 'e', 'l', 'l', 'o', '\n'},
                             m2 = {'w', 'o', 'r', 'l', 'd', '\n'};
  const MultibootModule mods[] = {{"m1 arg1 x", m1}, {"m2", m2}};
  ASSERT_EQ(load(k, mods), "");
  const uint64_t mbi = 0x9500;
  EXPECT_EQ(rd32(mbi + 20), 2u);
  EXPECT_EQ(rd32(mbi + 24), 0x103000u);
  EXPECT_EQ(rd32(mbi + 16), 0x10302du);
  EXPECT_EQ(rd32(mbi + 64), 0x10303au);
  EXPECT_EQ(rd32(0x103000), 0x104000u);
  EXPECT_EQ(rd32(0x103004), 0x104006u);
  EXPECT_EQ(rd32(0x103008), 0x103020u);
  EXPECT_EQ(rdstr(0x103020), "m1 arg1 x");
  EXPECT_EQ(rd32(0x103010), 0x105000u);
  EXPECT_EQ(rd32(0x103014), 0x105006u);
  EXPECT_EQ(rdstr(rd32(0x103018)), "m2");
  EXPECT_EQ(rdstr(0x104000), "hello\n");
  EXPECT_EQ(rdstr(0x105000), "world\n");
  EXPECT_EQ(boot.high, 0x105006u);
}

TEST_F(MultibootTest, HeaderSearch) {
  uint64_t off = 0;
  std::vector<uint8_t> b(16384, 0);
  EXPECT_FALSE(find_multiboot_header(b, off));
  header(b, 8140, 0);  // the last place QEMU looks
  EXPECT_TRUE(find_multiboot_header(b, off));
  EXPECT_EQ(off, 8140u);
  std::vector<uint8_t> far(16384, 0);
  header(far, 8144, 0);
  EXPECT_FALSE(find_multiboot_header(far, off));
  std::vector<uint8_t> unaligned(100, 0);
  header(unaligned, 2, 0);
  EXPECT_FALSE(find_multiboot_header(unaligned, off));
  std::vector<uint8_t> bad(100, 0);
  header(bad, 8, 0);
  put32(bad, 16, 1);  // checksum off by one
  EXPECT_FALSE(find_multiboot_header(bad, off));
  std::vector<uint8_t> cut(20, 0);
  header(cut, 8, 0);
  cut.resize(19);  // checksum not wholly in the file
  EXPECT_FALSE(find_multiboot_header(cut, off));
  EXPECT_NE(load(std::vector<uint8_t>(64, 0)).find("neither a bzImage nor a multiboot kernel"), std::string::npos);
}

TEST_F(MultibootTest, AoutKludge) {
  auto k = aout(0x200000, 0x1000, 0x200800, 0x203000);
  ASSERT_EQ(load(k), "");
  EXPECT_EQ(boot.entry, 0x200080u);
  EXPECT_EQ(rd32(0x200040), kMultibootHeaderMagic);
  EXPECT_EQ(rd32(0x2007fc), 0x5a5a5a5au);
  EXPECT_EQ(rd32(0x200800), 0u);  // past load_end: bss
  EXPECT_EQ(rd32(0x9500 + 24), 0x203000u);
  // load_end 0: the rest of the file; bss_end 0: no bss.
  auto whole = aout(0x300000, 0x1800, 0, 0);
  ASSERT_EQ(load(whole), "");
  EXPECT_EQ(rd32(0x3017fc), 0x5a5a5a5au);
  EXPECT_EQ(rd32(0x9500 + 24), 0x302000u);
}

TEST_F(MultibootTest, AoutKludgeWithTheHeaderInsideTheImage) {
  // The file's first 0x100 bytes are not loaded: header_addr - load_addr < header offset.
  auto k = aout(0x200000, 0x1000, 0, 0, 0x140);
  put32(k, 0x140 + 12, 0x200040);
  put32(k, 0x140 + 8, uint32_t(0u - kMultibootHeaderMagic - kMultibootAoutKludge));
  ASSERT_EQ(load(k), "");
  EXPECT_EQ(rd32(0x200040), kMultibootHeaderMagic);
}

TEST_F(MultibootTest, BadImagesAreOneLineErrorsAndWriteNothing) {
  struct Case {
    std::vector<uint8_t> image;
    const char* words;
  };
  auto header_below_load = aout(0x200000, 0x1000, 0, 0);
  put32(header_below_load, 0x40 + 12, 0x1fffff);
  auto header_before_file = aout(0x200000, 0x1000, 0, 0);
  put32(header_before_file, 0x40 + 12, 0x200100);
  auto short_kludge = std::vector<uint8_t>(24, 0);
  header(short_kludge, 0, kMultibootAoutKludge);
  Case cases[] = {
      {elf32(0x100000, 0x100, 0x200, 2, 62), "64-bit ELF"},
      {elf32(0x100000, 0x100, 0x200, 1, 62), "64-bit ELF"},
      {elf32(0x100000, 0x100, 0x200, 1, 40), "expected i386"},
      {elf32(0x100000, 0x100, 0x80), "filesz > memsz"},
      {elf32(0xfffff000, 0x100, 0x2000), "past 4 GiB"},
      {elf32(0x7ff0000, 0x100, 0x20000), "do not fit in RAM"},
      {elf32(0x8000, 0x100, 0x2000), "overlaps the boot information"},
      {aout(0x200000, 0x1000, 0x1fffff, 0), "load_end_addr"},
      {aout(0x200000, 0x1000, 0x202000, 0), "past the end of the file"},
      {aout(0x200000, 0x1000, 0x200800, 0x200400), "bss_end_addr"},
      {aout(0xfffff000, 0x2000, 0, 0), "below 4 GiB"},
      {aout(0x7fff000, 0x1000, 0, 0x9000000), "do not fit in RAM"},
      {header_below_load, "below load_addr"},
      {header_before_file, "before the file"},
      {short_kludge, "truncated"},
  };
  auto no_elf = std::vector<uint8_t>(64, 0);
  header(no_elf, 0, 0);
  for (const Case& c : cases) {
    std::string err = load(c.image);
    EXPECT_NE(err.find(c.words), std::string::npos) << c.words << ": " << err;
    EXPECT_EQ(err.find('\n'), std::string::npos);
  }
  EXPECT_NE(load(no_elf).find("must be an ELF"), std::string::npos);
  auto bad_ph = elf32(0x100000, 0x100, 0x200);
  put32(bad_ph, 56, 0xfffffff0);  // segment offset past the file
  EXPECT_NE(load(bad_ph).find("past the end of the file"), std::string::npos);
  auto many_ph = elf32(0x100000, 0x100, 0x200);
  put16(many_ph, 44, 0xffff);
  EXPECT_NE(load(many_ph).find("program headers extend"), std::string::npos);
  // A module that does not fit.
  auto k = elf32(0x100000, 0x100, 0x200);
  std::vector<uint8_t> big(130 * kMiB);
  const MultibootModule mods[] = {{"big", big}};
  EXPECT_NE(load(k, mods).find("do not fit in RAM"), std::string::npos);
  // Nothing was written by any of these.
  EXPECT_EQ(rd32(0x9500), 0u);
  EXPECT_EQ(rd32(0x100000), 0u);
}

TEST(PcMemoryMap, SplitsAsQemuReportsThem) {
  // qemu -M pc -m 4G: 3 GiB below 4 GiB, 1 GiB above.
  auto m = pc_memory_map({0xc0000000, 0x40000000, true});
  ASSERT_EQ(m.size(), 8u);
  EXPECT_EQ(m[3].base, 0x100000u);
  EXPECT_EQ(m[3].length, 0xbfee0000u);
  EXPECT_EQ(m[4].base, 0xbffe0000u);
  EXPECT_EQ(m[6].base, 0x100000000u);
  EXPECT_EQ(m[6].length, 0x40000000u);
  EXPECT_EQ(m[6].type, 1u);
  EXPECT_EQ(m[7].base, 0xfd00000000u);
  auto intel = pc_memory_map({128 * kMiB, 0, false});
  EXPECT_EQ(intel.size(), 6u);
}

TEST(MultibootModules, SplitLikeQemu) {
  EXPECT_EQ(split_multiboot_modules("m1 arg1 x,m2"), (std::vector<std::string>{"m1 arg1 x", "m2"}));
  EXPECT_EQ(split_multiboot_modules("a,,b c,d,"), (std::vector<std::string>{"a,b c", "d"}));
  EXPECT_EQ(split_multiboot_modules(""), std::vector<std::string>{});
  EXPECT_EQ(multiboot_module_file("dir/m1 arg1 x"), "dir/m1");
  EXPECT_EQ(multiboot_module_file("m2"), "m2");
}

}  // namespace
}  // namespace orrery::machine::loader
