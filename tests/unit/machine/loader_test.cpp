// Kernel loader tests: crafted ELF64 files (good and malformed), arm64 Images, raw and gzip.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "hw/core/address_space.h"
#include "machine/loader/elf.h"
#include "machine/loader/kernel.h"

namespace orrery::machine::loader {
namespace {

constexpr uint64_t kRamBase = 0x4000'0000;
constexpr uint64_t kRamSize = 16 << 20;

void put16(std::vector<uint8_t>& b, size_t off, uint16_t v) {
  for (int i = 0; i < 2; ++i) b[off + i] = uint8_t(v >> (8 * i));
}
void put32(std::vector<uint8_t>& b, size_t off, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[off + i] = uint8_t(v >> (8 * i));
}
void put64(std::vector<uint8_t>& b, size_t off, uint64_t v) {
  for (int i = 0; i < 8; ++i) b[off + i] = uint8_t(v >> (8 * i));
}

struct Seg {
  uint32_t type = 1;  // PT_LOAD
  uint64_t vaddr, paddr;
  std::vector<uint8_t> bytes;
  uint64_t memsz;
};

/// Builds a little-endian ELF64 executable: header, program headers, then segment bytes.
std::vector<uint8_t> make_elf(const std::vector<Seg>& segs, uint64_t entry,
                              uint16_t machine = kEmAarch64) {
  size_t phoff = 64, data = phoff + 56 * segs.size();
  size_t total = data;
  for (const Seg& s : segs) total += s.bytes.size();
  std::vector<uint8_t> b(total, 0);
  b[0] = 0x7F, b[1] = 'E', b[2] = 'L', b[3] = 'F';
  b[4] = 2, b[5] = 1, b[6] = 1;
  put16(b, 16, 2);  // ET_EXEC
  put16(b, 18, machine);
  put32(b, 20, 1);
  put64(b, 24, entry);
  put64(b, 32, phoff);
  put16(b, 52, 64);
  put16(b, 54, 56);
  put16(b, 56, uint16_t(segs.size()));
  size_t off = data;
  for (size_t i = 0; i < segs.size(); ++i) {
    size_t ph = phoff + 56 * i;
    const Seg& s = segs[i];
    put32(b, ph, s.type);
    put32(b, ph + 4, 5);
    put64(b, ph + 8, off);
    put64(b, ph + 16, s.vaddr);
    put64(b, ph + 24, s.paddr);
    put64(b, ph + 32, s.bytes.size());
    put64(b, ph + 40, s.memsz);
    put64(b, ph + 48, 0x1000);
    std::memcpy(b.data() + off, s.bytes.data(), s.bytes.size());
    off += s.bytes.size();
  }
  return b;
}

std::vector<uint8_t> good_elf() {
  return make_elf({{1, kRamBase, kRamBase, {1, 2, 3, 4}, 16},
                   {1, kRamBase + 0x1000, kRamBase + 0x1000, {9, 9}, 2}},
                  kRamBase);
}

class LoaderTest : public ::testing::Test {
 protected:
  LoaderTest() { EXPECT_EQ(as.add_ram("ram", kRamBase, kRamSize), ""); }
  std::string load(const std::vector<uint8_t>& f) { return load_arm64_kernel(f, ram, as, info); }
  uint8_t byte(uint64_t addr) {
    uint64_t v = 0;
    EXPECT_EQ(as.read(addr, 1, v), hw::MemResult::Ok);
    return uint8_t(v);
  }
  hw::AddressSpace as;
  RamWindow ram{kRamBase, kRamSize};
  BootInfo info;
};

TEST_F(LoaderTest, GoodElfLoadsSegmentsAndZeroFills) {
  // Dirty the bss area first: memsz beyond filesz must become zero.
  ASSERT_TRUE(as.write_bytes(kRamBase + 4, "\xAA\xAA\xAA\xAA", 4));
  ASSERT_EQ(load(good_elf()), "");
  EXPECT_EQ(info.kind, KernelKind::Elf);
  EXPECT_EQ(info.entry, kRamBase);
  EXPECT_EQ(byte(kRamBase), 1);
  EXPECT_EQ(byte(kRamBase + 3), 4);
  EXPECT_EQ(byte(kRamBase + 4), 0);
  EXPECT_EQ(byte(kRamBase + 15), 0);
  EXPECT_EQ(byte(kRamBase + 0x1001), 9);
  EXPECT_EQ(info.low, kRamBase);
  EXPECT_EQ(info.high, kRamBase + 0x1002);
}

TEST_F(LoaderTest, EntryTranslatedThroughSegment) {
  // Linked high, loaded low: the boot PC is the physical address of the entry.
  auto f = make_elf({{1, 0xFFFF'0000'0000'0000, kRamBase + 0x2000, {0xD5, 0x03}, 0x100}},
                    0xFFFF'0000'0000'0010);
  ASSERT_EQ(load(f), "");
  EXPECT_EQ(info.entry, kRamBase + 0x2010);
}

TEST_F(LoaderTest, NonLoadSegmentsIgnored) {
  auto f = make_elf({{4, 0, 0, {1, 2}, 2}, {1, kRamBase, kRamBase, {7}, 1}}, kRamBase);
  ASSERT_EQ(load(f), "");
  EXPECT_EQ(byte(kRamBase), 7);
}

TEST(ElfParse, RejectsWrongMachine) {
  auto f = make_elf({{1, kRamBase, kRamBase, {1}, 1}}, kRamBase, kEmX86_64);
  ElfImage img;
  EXPECT_EQ(parse_elf64(f, kEmAarch64, img), "ELF is for x86-64, expected AArch64");
}

TEST(ElfParse, RejectsClassAndEndianness) {
  auto f = good_elf();
  ElfImage img;
  f[4] = 1;
  EXPECT_EQ(parse_elf64(f, kEmAarch64, img), "32-bit ELF, expected ELF64");
  f[4] = 2;
  f[5] = 2;
  EXPECT_EQ(parse_elf64(f, kEmAarch64, img), "big-endian ELF, expected little-endian");
  f[5] = 1;
  f[6] = 0;
  EXPECT_NE(parse_elf64(f, kEmAarch64, img), "");
}

TEST(ElfParse, RejectsNonExecutableType) {
  auto f = good_elf();
  put16(f, 16, 1);  // ET_REL
  ElfImage img;
  EXPECT_NE(parse_elf64(f, kEmAarch64, img).find("not an executable"), std::string::npos);
}

TEST(ElfParse, EveryTruncationFailsCleanly) {
  auto f = good_elf();
  for (size_t n = 0; n < f.size(); ++n) {
    std::vector<uint8_t> t(f.begin(), f.begin() + ptrdiff_t(n));
    ElfImage img;
    EXPECT_NE(parse_elf64(t, kEmAarch64, img), "") << "length " << n;
  }
  ElfImage img;
  EXPECT_EQ(parse_elf64(f, kEmAarch64, img), "");
}

TEST(ElfParse, RejectsBadProgramHeaderTable) {
  ElfImage img;
  auto f = good_elf();
  put64(f, 32, ~0ull - 10);  // phoff near the top: must not wrap
  EXPECT_EQ(parse_elf64(f, kEmAarch64, img), "ELF program headers extend past the end of the file");
  f = good_elf();
  put16(f, 56, 0);
  EXPECT_EQ(parse_elf64(f, kEmAarch64, img), "ELF has no program headers");
  f = good_elf();
  put16(f, 56, 0xFFFF);
  EXPECT_NE(parse_elf64(f, kEmAarch64, img), "");
  f = good_elf();
  put16(f, 54, 8);
  EXPECT_NE(parse_elf64(f, kEmAarch64, img).find("too small"), std::string::npos);
}

TEST(ElfParse, RejectsBadSegments) {
  ElfImage img;
  auto f = good_elf();
  put64(f, 64 + 8, ~0ull - 1);  // p_offset huge
  EXPECT_EQ(parse_elf64(f, kEmAarch64, img), "ELF segment 0 extends past the end of the file");
  f = good_elf();
  put64(f, 64 + 32, ~0ull);  // p_filesz huge (and > memsz)
  EXPECT_NE(parse_elf64(f, kEmAarch64, img), "");
  f = good_elf();
  put64(f, 64 + 40, 2);  // memsz < filesz
  EXPECT_EQ(parse_elf64(f, kEmAarch64, img), "ELF segment 0 has file size larger than memory size");
  f = make_elf({{1, ~0ull - 1, ~0ull - 1, {1}, 16}}, ~0ull - 1);
  EXPECT_EQ(parse_elf64(f, kEmAarch64, img), "ELF segment 0 wraps around the address space");
  f = make_elf({{1, kRamBase, kRamBase, {1}, 0x100}, {1, kRamBase + 0x80, kRamBase + 0x80, {2}, 1}},
               kRamBase);
  EXPECT_NE(parse_elf64(f, kEmAarch64, img).find("overlap"), std::string::npos);
  f = make_elf({{4, kRamBase, kRamBase, {1}, 1}}, kRamBase);
  EXPECT_EQ(parse_elf64(f, kEmAarch64, img), "ELF has no loadable segments");
  f = make_elf({{1, kRamBase, kRamBase, {1}, 0x10}}, kRamBase + 0x10);
  EXPECT_NE(parse_elf64(f, kEmAarch64, img).find("entry point"), std::string::npos);
}

TEST_F(LoaderTest, SegmentOutsideRamRejectedWithoutWriting) {
  auto f =
      make_elf({{1, kRamBase, kRamBase, {5}, 1}, {1, 0x0900'0000, 0x0900'0000, {6}, 1}}, kRamBase);
  std::string err = load(f);
  EXPECT_NE(err.find("lies outside RAM"), std::string::npos) << err;
  EXPECT_EQ(byte(kRamBase), 0);  // nothing written
  f = make_elf({{1, kRamBase + kRamSize - 4, kRamBase + kRamSize - 4, {5}, 8}},
               kRamBase + kRamSize - 4);
  EXPECT_NE(load(f).find("lies outside RAM"), std::string::npos);
}

TEST_F(LoaderTest, RandomCorruptionNeverCrashes) {
  auto base = good_elf();
  uint32_t seed = 12345;
  for (int iter = 0; iter < 5000; ++iter) {
    auto f = base;
    for (int k = 0; k < 4; ++k) {
      seed = seed * 1103515245 + 12345;
      size_t pos = (seed >> 8) % f.size();
      seed = seed * 1103515245 + 12345;
      f[pos] = uint8_t(seed >> 16);
    }
    (void)load(f);  // must return (error or success), never crash
  }
}

std::vector<uint8_t> make_image(uint64_t text_offset, uint64_t image_size, size_t file_size) {
  std::vector<uint8_t> b(file_size, 0xCC);
  std::memset(b.data(), 0, 64);
  put32(b, 0, 0x14000010);  // b +0x40 (code0)
  put64(b, 8, text_offset);
  put64(b, 16, image_size);
  put32(b, 56, 0x644D5241);
  return b;
}

TEST_F(LoaderTest, Arm64ImageAtTextOffset) {
  auto f = make_image(0x80000, 0x100000, 0x1000);
  ASSERT_EQ(load(f), "");
  EXPECT_EQ(info.kind, KernelKind::LinuxImage);
  EXPECT_EQ(info.entry, kRamBase + 0x80000);
  EXPECT_EQ(byte(kRamBase + 0x80000), 0x10);
  EXPECT_EQ(byte(kRamBase + 0x80000 + 0x40), 0xCC);
  EXPECT_EQ(info.high, kRamBase + 0x80000 + 0x100000);
}

TEST_F(LoaderTest, Arm64ImageZeroTextOffsetAndLegacy) {
  ASSERT_EQ(load(make_image(0, 0x2000, 0x1000)), "");
  EXPECT_EQ(info.entry, kRamBase);
  // image_size 0: a pre-3.17 kernel, text_offset is 0x80000 whatever the header says.
  ASSERT_EQ(load(make_image(0x1234, 0, 0x1000)), "");
  EXPECT_EQ(info.entry, kRamBase + 0x80000);
}

// An Image of several MiB is copied by two threads, split at a 2 MiB boundary of guest RAM:
// every byte lands where it belongs on both sides of the split.
TEST_F(LoaderTest, LargeArm64ImageLandsWhole) {
  constexpr size_t kFile = (12 << 20) + 1234;
  auto f = make_image(0x80000, kFile, kFile);
  for (size_t i = 64; i < kFile; ++i) f[i] = uint8_t(i * 131 + (i >> 12));
  ASSERT_EQ(load(f), "");
  std::vector<uint8_t> back(kFile);
  ASSERT_TRUE(as.read_bytes(kRamBase + 0x80000, back.data(), back.size()));
  EXPECT_TRUE(back == f);
}

TEST_F(LoaderTest, Arm64ImageTooBigForRam) {
  EXPECT_NE(load(make_image(0, kRamSize + 1, 0x1000)).find("does not fit"), std::string::npos);
  EXPECT_NE(load(make_image(kRamSize, 0x1000, 0x1000)).find("outside RAM"), std::string::npos);
  EXPECT_NE(load(make_image(~0ull - 0x10, 0x1000, 0x1000)), "");
}

TEST_F(LoaderTest, RawBinaryAtRamBase) {
  std::vector<uint8_t> f = {0x1F, 0x20, 0x03, 0xD5};  // nop
  ASSERT_EQ(load(f), "");
  EXPECT_EQ(info.kind, KernelKind::Raw);
  EXPECT_EQ(info.entry, kRamBase);
  EXPECT_EQ(byte(kRamBase + 3), 0xD5);
  std::vector<uint8_t> big(kRamSize + 1, 0);
  EXPECT_NE(load(big).find("does not fit"), std::string::npos);
}

TEST_F(LoaderTest, GzipRejected) {
  std::vector<uint8_t> f = {0x1F, 0x8B, 8, 0, 0, 0, 0, 0};
  EXPECT_NE(load(f).find("gzip"), std::string::npos);
}

TEST_F(LoaderTest, EmptyRejected) {
  EXPECT_EQ(load({}), "file is empty");
}

TEST(ReadFile, Errors) {
  std::vector<uint8_t> out;
  EXPECT_EQ(read_file("/nonexistent/kernel", 100, out), "No such file or directory");
  EXPECT_EQ(read_file("/", 100, out), "is a directory");
  EXPECT_EQ(read_file("/dev/null", 100, out), "not a regular file (it is a character device)");
  char path[] = "/tmp/orrery_loader_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(read_file(path, 100, out), "file is empty");
  ASSERT_EQ(write(fd, "abcdef", 6), 6);
  close(fd);
  EXPECT_EQ(read_file(path, 100, out), "");
  EXPECT_EQ(out.size(), 6u);
  EXPECT_NE(read_file(path, 5, out).find("too large"), std::string::npos);
  std::remove(path);
}

// map_whole gives the same bytes as read_whole for a mapped (large) and a read (small) file,
// and the same errors.
TEST(MapWhole, BytesAndErrors) {
  char path[] = "/tmp/orrery_loader_map_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  FileBytes out;
  EXPECT_EQ(map_whole(fd, 100, out), "file is empty");
  std::vector<uint8_t> big((size_t(1) << 20) + 12345);
  for (size_t i = 0; i < big.size(); ++i) big[i] = uint8_t(i * 7 + (i >> 12));
  ASSERT_EQ(write(fd, big.data(), big.size()), ssize_t(big.size()));
  ASSERT_EQ(map_whole(fd, big.size(), out), "");
  ASSERT_EQ(out.bytes().size(), big.size());
  EXPECT_TRUE(std::equal(big.begin(), big.end(), out.bytes().begin()));
  FileBytes moved = std::move(out);
  EXPECT_TRUE(out.bytes().empty());
  EXPECT_EQ(moved.bytes().size(), big.size());
  EXPECT_EQ(moved.bytes()[big.size() - 1], big.back());
  EXPECT_NE(map_whole(fd, big.size() - 1, out).find("too large"), std::string::npos);
  ASSERT_EQ(ftruncate(fd, 6), 0);
  ASSERT_EQ(map_whole(fd, 100, out), "");
  ASSERT_EQ(out.bytes().size(), 6u);
  EXPECT_EQ(out.bytes()[5], big[5]);
  moved.reset();
  EXPECT_TRUE(moved.bytes().empty());
  close(fd);
  std::remove(path);
}

}  // namespace
}  // namespace orrery::machine::loader

// ---- gzip kernels, initrd and device tree placement ----
#include "tests/unit/machine/gzip_bytes.h"

namespace orrery::machine::loader {
namespace {

using test::gzip_bytes;

std::vector<uint8_t> arm64_image(uint64_t image_size, size_t file_size = 4096) {
  std::vector<uint8_t> b(file_size, 0);
  put64(b, 8, 0);  // text_offset 0 (modern kernels)
  put64(b, 16, image_size);
  put64(b, 24, 0xA);
  put32(b, 56, Arm64ImageHeader::kMagic);
  b[100] = 0x42;
  return b;
}

class BootLoaderTest : public ::testing::Test {
 protected:
  BootLoaderTest() { EXPECT_EQ(as.add_ram("ram", kRamBase, kRamSize), ""); }
  RamWindow ram{kRamBase, kRamSize};
  hw::AddressSpace as;
  BootInfo info;
};

TEST_F(BootLoaderTest, GzipImageInflated) {
  std::vector<uint8_t> img = arm64_image(3 << 20);
  ASSERT_EQ(load_arm64_kernel(gzip_bytes(img), ram, as, info), "");
  EXPECT_EQ(info.kind, KernelKind::LinuxImage);
  EXPECT_EQ(info.entry, kRamBase);
  EXPECT_EQ(info.high, kRamBase + (3 << 20));
  uint8_t b = 0;
  ASSERT_TRUE(as.read_bytes(kRamBase + 100, &b, 1));
  EXPECT_EQ(b, 0x42);
}

TEST_F(BootLoaderTest, GzipTruncatedCorruptAndBomb) {
  std::vector<uint8_t> gz = gzip_bytes(arm64_image(0, 64 * 1024));
  std::vector<uint8_t> cut(gz.begin(), gz.begin() + gz.size() / 2);
  EXPECT_NE(load_arm64_kernel(cut, ram, as, info).find("truncated"), std::string::npos);
  std::vector<uint8_t> bad = gz;
  for (size_t i = 12; i < bad.size() - 8; ++i) bad[i] ^= 0xA5;
  EXPECT_NE(load_arm64_kernel(bad, ram, as, info).find("corrupt gzip"), std::string::npos);
  // More than RAM once inflated (zeros compress ~1000:1).
  std::vector<uint8_t> bomb = gzip_bytes(std::vector<uint8_t>(kRamSize + 4096, 0));
  EXPECT_LT(bomb.size(), 100u * 1024);
  EXPECT_NE(load_arm64_kernel(bomb, ram, as, info).find("larger than guest RAM"),
            std::string::npos);
  std::vector<uint8_t> out;
  EXPECT_NE(gunzip(bomb, 1 << 20, out), "");
}

// A gzip stream of mib MiB of zeros, built cheaply: after the first MiB every MiB compresses to
// the same bytes once each is ended with a sync flush, so the rest is one piece repeated.
std::vector<uint8_t> zero_bomb(unsigned mib) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::vector<uint8_t> zeros(1 << 20, 0), out;
  auto step = [&](int flush) {
    std::vector<uint8_t> piece(deflateBound(&zs, zeros.size()) + 64);
    zs.next_in = zeros.data();
    zs.avail_in = flush == Z_FINISH ? 0 : uInt(zeros.size());
    zs.next_out = piece.data();
    zs.avail_out = uInt(piece.size());
    deflate(&zs, flush);
    piece.resize(piece.size() - zs.avail_out);
    return piece;
  };
  std::vector<uint8_t> first = step(Z_SYNC_FLUSH), repeated = step(Z_SYNC_FLUSH);
  EXPECT_EQ(step(Z_SYNC_FLUSH), repeated);
  out = first;
  for (unsigned i = 1; i < mib; ++i) out.insert(out.end(), repeated.begin(), repeated.end());
  deflateEnd(&zs);
  // No trailer: the stream is cut short, which gunzip must notice only if it gets that far.
  return out;
}

long max_rss_kib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

TEST(Gunzip, StopsAtTheCapWithoutCommittingMemory) {
  std::vector<uint8_t> bomb = zero_bomb(512);
  EXPECT_LT(bomb.size(), 1u << 20);
  long before = max_rss_kib();
  std::vector<uint8_t> out;
  EXPECT_EQ(gunzip(bomb, 256 << 20, out),
            "gzip: decompressed kernel is larger than guest RAM (268435456 bytes); give more "
            "memory with -m");
  EXPECT_TRUE(out.empty());
  // Issue 9: the output buffer doubled up to the cap, and both copies were live at once.
  EXPECT_LT(max_rss_kib() - before, 32 * 1024) << "KiB of peak memory grew";
}

TEST(Gunzip, OutputIsAllocatedAtItsExactSize) {
  std::vector<uint8_t> img(3 << 20);
  for (size_t i = 0; i < img.size(); ++i) img[i] = uint8_t(i * 7 / 4096);
  std::vector<uint8_t> out;
  ASSERT_EQ(gunzip(gzip_bytes(img), 64 << 20, out), "");
  EXPECT_EQ(out, img);
  EXPECT_EQ(out.capacity(), out.size());  // never preallocated to a guess or regrown
  // Exactly at the cap is fine; one byte less is not.
  EXPECT_EQ(gunzip(gzip_bytes(img), img.size(), out), "");
  EXPECT_NE(gunzip(gzip_bytes(img), img.size() - 1, out), "");
}

TEST_F(BootLoaderTest, InitrdHighAndDtbAfterKernel) {
  ASSERT_EQ(load_arm64_kernel(arm64_image(3 << 20), ram, as, info), "");
  std::vector<uint8_t> initrd(100000, 7);
  uint64_t start = 0, end = 0;
  ASSERT_EQ(place_initrd(initrd, info, ram, as, start, end), "");
  EXPECT_EQ(end - start, initrd.size());
  EXPECT_LE(end, kRamBase + kRamSize);
  EXPECT_EQ(start % 4096, 0u);
  std::vector<uint8_t> dtb(5000, 1);
  uint64_t addr = 0;
  ASSERT_EQ(place_dtb(dtb, info, ram, start, end, as, addr), "");
  EXPECT_EQ(addr, kRamBase + (4 << 20));  // the 2 MiB boundary after the kernel
  EXPECT_TRUE(addr + dtb.size() <= start);
  std::vector<uint8_t> huge(kRamSize, 0);
  EXPECT_NE(place_initrd(huge, info, ram, as, start, end).find("does not fit"), std::string::npos);
  std::vector<uint8_t> big_dtb(kMaxDtbSize + 1, 0);
  EXPECT_NE(place_dtb(big_dtb, info, ram, 0, 0, as, addr).find("2 MiB"), std::string::npos);
}

}  // namespace
}  // namespace orrery::machine::loader
