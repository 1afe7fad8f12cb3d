// Host decompression of an x86 bzImage's payload (machine/loader/kernel_payload.h): format
// detection, gzip/XZ/zstd round trips, the checks on corrupt, truncated and oversized payloads
// and on the vmlinux ELF, load_bzimage's host path and its fallback to the guest's own
// decompressor, and the pc board entering a synthetic kernel proper either way
// (-M pc,kernel-decompress=host|guest). Every image is built here.
#include "machine/loader/kernel_payload.h"

#include <gtest/gtest.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "hw/core/address_space.h"
#include "machine/loader/bzimage.h"
#include "machine/pc/pc.h"
#include "tests/unit/machine/gzip_bytes.h"
#include "tests/unit/machine/machine_harness.h"

namespace orrery::machine {
namespace {

using loader::HostKernel;
using loader::HostKernelResult;
using loader::PayloadFormat;

constexpr uint64_t kMiB = uint64_t(1) << 20;
constexpr uint64_t kBase = 0x1000000;  // pref_address, as Debian's kernel has it
constexpr uint64_t kInitSize = kMiB;

using Bytes = std::vector<uint8_t>;

void put(Bytes& b, size_t at, uint64_t v, unsigned size) {
  for (unsigned i = 0; i < size; ++i) b[at + i] = uint8_t(v >> (8 * i));
}
void append_le32(Bytes& b, uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(uint8_t(v >> (8 * i)));
}

struct Segment {
  uint64_t vaddr, paddr;
  Bytes data;
  uint64_t memsz;
};

/// An ELF64 executable with one PT_LOAD per segment (data 16-byte aligned after the headers),
/// then 64 bytes standing for the KASLR relocation table.
Bytes make_elf(const std::vector<Segment>& segs, uint64_t entry, uint16_t machine = 62) {
  const size_t phoff = 64, phsize = 56;
  Bytes b(phoff + phsize * segs.size(), 0);
  const uint8_t ident[] = {0x7f, 'E', 'L', 'F', 2, 1, 1};
  std::copy(std::begin(ident), std::end(ident), b.begin());
  put(b, 16, 2, 2);  // ET_EXEC
  put(b, 18, machine, 2);
  put(b, 20, 1, 4);
  put(b, 24, entry, 8);
  put(b, 32, phoff, 8);
  put(b, 52, 64, 2);
  put(b, 54, phsize, 2);
  put(b, 56, segs.size(), 2);
  for (size_t i = 0; i < segs.size(); ++i) {
    b.resize((b.size() + 15) & ~size_t(15), 0);
    const size_t ph = phoff + i * phsize, off = b.size();
    put(b, ph, 1, 4);  // PT_LOAD
    put(b, ph + 4, 7, 4);
    put(b, ph + 8, off, 8);
    put(b, ph + 16, segs[i].vaddr, 8);
    put(b, ph + 24, segs[i].paddr, 8);
    put(b, ph + 32, segs[i].data.size(), 8);
    put(b, ph + 40, segs[i].memsz, 8);
    b.insert(b.end(), segs[i].data.begin(), segs[i].data.end());
  }
  b.insert(b.end(), 64, 0x5e);
  return b;
}

/// The synthetic kernel proper: at its entry (16 MiB), code that prints H on COM1 when RSI is
/// the zero page and exits through isa-debug-exit with 0x21 (else with 0x31); a data segment
/// with a bss tail; and a segment linked at virtual address 0 as .data..percpu is.
const Bytes kEntryCode = {
    0x48, 0x81, 0xfe, 0x00, 0x70, 0x00, 0x00,  // cmp rsi, 0x7000
    0x75, 0x0c,                                // jne bad
    0xb0, 'H',                                 // mov al, 'H'
    0x66, 0xba, 0xf8, 0x03,                    // mov dx, 0x3f8
    0xee,                                      // out dx, al
    0xb0, 0x21, 0xe6, 0xf4,                    // mov al, 0x21; out 0xf4, al
    0xf4,                                      // hlt
    0xb0, 0x31, 0xe6, 0xf4, 0xf4,              // bad: mov al, 0x31; out 0xf4, al; hlt
};
std::vector<Segment> kernel_segments() {
  return {{0xffffffff81000000, kBase, kEntryCode, kEntryCode.size()},
          {0xffffffff81010000, kBase + 0x10000, Bytes(0x300, 0xd7), 0x2000},
          {0, kBase + 0x20000, Bytes(0x40, 0x9c), 0x40}};
}
Bytes kernel_elf() {
  return make_elf(kernel_segments(), kBase);
}

// The stream's ISIZE is the size trailer.
Bytes gzip(const Bytes& in) {
  return test::gzip_bytes(in);
}

/// As the kernel's xz_wrap.sh makes it: the x86 BCJ filter, LZMA2, CRC32; then the size.
Bytes xz(const Bytes& in) {
  lzma_options_lzma opt;
  EXPECT_FALSE(lzma_lzma_preset(&opt, 6));
  lzma_filter filters[] = {
      {LZMA_FILTER_X86, nullptr}, {LZMA_FILTER_LZMA2, &opt}, {LZMA_VLI_UNKNOWN, nullptr}};
  Bytes out(lzma_stream_buffer_bound(in.size()));
  size_t pos = 0;
  EXPECT_EQ(lzma_stream_buffer_encode(filters, LZMA_CHECK_CRC32, nullptr, in.data(), in.size(),
                                      out.data(), &pos, out.size()),
            LZMA_OK);
  out.resize(pos);
  append_le32(out, uint32_t(in.size()));
  return out;
}

/// With a checksum, as the zstd program writes by default (the kernel's zstd22).
Bytes zstd(const Bytes& in) {
  Bytes out(ZSTD_compressBound(in.size()));
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 19);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
  const size_t n = ZSTD_compress2(cctx, out.data(), out.size(), in.data(), in.size());
  ZSTD_freeCCtx(cctx);
  EXPECT_FALSE(ZSTD_isError(n));
  out.resize(n);
  append_le32(out, uint32_t(in.size()));
  return out;
}

Bytes compress(PayloadFormat f, const Bytes& in) {
  return f == PayloadFormat::Gzip ? gzip(in) : f == PayloadFormat::Xz ? xz(in) : zstd(in);
}

constexpr PayloadFormat kHostFormats[] = {PayloadFormat::Gzip, PayloadFormat::Xz,
                                          PayloadFormat::Zstd};

TEST(KernelPayload, DetectsTheKernelsCompressions) {
  const Bytes elf = kernel_elf();
  for (PayloadFormat f : kHostFormats) {
    EXPECT_EQ(loader::detect_payload_format(compress(f, elf)), f);
    EXPECT_TRUE(loader::host_decompresses(f));
  }
  const std::pair<Bytes, PayloadFormat> others[] = {
      {{'B', 'Z', 'h', '9'}, PayloadFormat::Bzip2},
      {{0x5d, 0, 0, 0x80}, PayloadFormat::Lzma},
      {{0x89, 'L', 'Z', 'O', 0}, PayloadFormat::Lzo},
      {{0x02, 0x21, 0x4c, 0x18}, PayloadFormat::Lz4},
      {{0x7f, 'E', 'L', 'F'}, PayloadFormat::Unknown},
      {{0xfd, '7', 'z', 'X', 'Z'}, PayloadFormat::Unknown},  // XZ's magic is six bytes
      {{}, PayloadFormat::Unknown}};
  for (const auto& [bytes, f] : others) {
    EXPECT_EQ(loader::detect_payload_format(bytes), f);
    EXPECT_FALSE(loader::host_decompresses(f));
  }
  EXPECT_EQ(loader::payload_format_name(PayloadFormat::Xz), "XZ");
}

TEST(KernelPayload, DecompressesGzipXzAndZstd) {
  Bytes big(300000);
  for (size_t i = 0; i < big.size(); ++i) big[i] = uint8_t(i * 7 + (i >> 9));
  for (PayloadFormat f : kHostFormats) {
    const Bytes payload = compress(f, big);
    EXPECT_EQ(loader::payload_declared_size(payload), big.size());
    Bytes out(big.size() + 100, 0xee);
    uint64_t size = 0;
    EXPECT_EQ(loader::decompress_payload(f, payload, out, size), "")
        << loader::payload_format_name(f);
    EXPECT_EQ(size, big.size());
    EXPECT_TRUE(std::equal(big.begin(), big.end(), out.begin())) << loader::payload_format_name(f);
    EXPECT_EQ(out.back(), 0xee);
  }
}

TEST(KernelPayload, RefusesCorruptTruncatedAndOversizedPayloads) {
  const Bytes data(200000, 0x41);
  for (PayloadFormat f : kHostFormats) {
    SCOPED_TRACE(std::string(loader::payload_format_name(f)));
    const Bytes good = compress(f, data);
    auto expect_error = [&](const Bytes& payload, const std::string& needle,
                            uint64_t max = kInitSize) {
      Bytes out(max);
      uint64_t size = 1;
      const std::string err = loader::decompress_payload(f, payload, out, size);
      EXPECT_NE(err, "");
      EXPECT_NE(err.find(needle), std::string::npos) << err;
      EXPECT_EQ(err.find('\n'), std::string::npos);
      EXPECT_EQ(size, 0u);
    };
    // Cut in the middle, keeping a size trailer: the stream ends early.
    Bytes cut(good.begin(), good.begin() + good.size() / 2);
    append_le32(cut, uint32_t(data.size()));
    expect_error(cut, "");
    // A bit flipped inside the compressed data.
    Bytes flipped = good;
    flipped[good.size() / 2] ^= 0x10;
    expect_error(flipped, "");
    // The trailer says more, or less, than the stream holds.
    Bytes more = good;
    put(more, more.size() - 4, data.size() + 1, 4);
    // (gzip's trailer is the stream's own ISIZE, which zlib checks.)
    expect_error(more, f == PayloadFormat::Gzip ? "incorrect length check" : "short");
    Bytes less = good;
    put(less, less.size() - 4, data.size() - 1, 4);
    expect_error(less, "more data than the declared size");
    // Larger than init_size allows, huge, zero, and nothing at all.
    expect_error(good, "more than init_size", data.size() - 1);
    Bytes huge = good;
    put(huge, huge.size() - 4, 0xffffffff, 4);
    expect_error(huge, "more than init_size");
    Bytes zero = good;
    put(zero, zero.size() - 4, 0, 4);
    expect_error(zero, "no decompressed size");
    expect_error(Bytes(good.begin(), good.begin() + 3), "no decompressed size");
  }
  Bytes out(kInitSize);
  uint64_t size = 0;
  EXPECT_NE(
      loader::decompress_payload(PayloadFormat::Bzip2, {{'B', 'Z', 'h', 0, 0, 0, 0}}, out, size),
      "");
}

TEST(KernelPayload, ChecksTheVmlinuxElf) {
  loader::ElfImage img;
  ASSERT_EQ(loader::check_vmlinux(kernel_elf(), kBase, kInitSize, img), "");
  EXPECT_EQ(img.entry, kBase);  // e_entry is physical
  ASSERT_EQ(img.segments.size(), 3u);
  EXPECT_EQ(img.segments[1].memsz, 0x2000u);

  auto expect_error = [&](const Bytes& elf, const std::string& needle) {
    const std::string err = loader::check_vmlinux(elf, kBase, kInitSize, img);
    EXPECT_NE(err, "");
    EXPECT_NE(err.find(needle), std::string::npos) << err;
  };
  expect_error(make_elf(kernel_segments(), kBase, 183), "expected x86-64");
  Bytes elf32 = kernel_elf();
  elf32[4] = 1;
  expect_error(elf32, "32-bit ELF");
  const Bytes whole = kernel_elf();
  expect_error(Bytes(whole.begin(), whole.begin() + 100), "past the end");
  auto segs = kernel_segments();
  segs[2].paddr = kBase - 0x1000;  // below pref_address
  expect_error(make_elf(segs, kBase), "outside the kernel's 0x1000000-0x10fffff");
  segs = kernel_segments();
  segs[2].memsz = kInitSize - 0x20000 + 1;  // its bss one byte past init_size
  expect_error(make_elf(segs, kBase), "outside the kernel's");
  segs[2].memsz = kInitSize - 0x20000;  // up to the last byte: fine
  EXPECT_EQ(loader::check_vmlinux(make_elf(segs, kBase), kBase, kInitSize, img), "");
  segs = kernel_segments();
  segs[2].memsz = ~uint64_t(0) - 0x100;  // wraps
  expect_error(make_elf(segs, kBase), "wraps");
  segs = kernel_segments();
  segs[1].paddr = ~uint64_t(0) - 0x1000;
  expect_error(make_elf(segs, kBase), "");
  expect_error(make_elf(kernel_segments(), kBase + 0x30000), "entry point");
  expect_error(make_elf(kernel_segments(), 0xffffffff81000000), "entry point");
  // The entry in a segment's bss only: nothing there to run.
  expect_error(make_elf(kernel_segments(), kBase + 0x10000 + 0x1000), "not in a segment's data");
  // Program headers or a segment's file bytes past the end of the data.
  Bytes elf = kernel_elf();
  put(elf, 32, elf.size() - 8, 8);
  expect_error(elf, "past the end");
  elf = kernel_elf();
  put(elf, 64 + 8, elf.size() - 4, 8);
  expect_error(elf, "past the end");
  expect_error(Bytes(whole.begin(), whole.begin() + 63), "truncated");
}

TEST(KernelPayload, PlacesTheSegmentsInPlace) {
  // The window as a reset leaves RAM: not zero.
  Bytes window(kInitSize, 0xaa);
  HostKernel k;
  std::string why;
  for (PayloadFormat f : kHostFormats) {
    std::fill(window.begin(), window.end(), 0xaa);
    ASSERT_EQ(loader::place_host_kernel(compress(f, kernel_elf()), kBase, window, k, why),
              HostKernelResult::Ready)
        << why;
    EXPECT_EQ(k.format, f);
    EXPECT_EQ(k.elf.entry, kBase);
    EXPECT_TRUE(k.touched);
    EXPECT_TRUE(std::equal(kEntryCode.begin(), kEntryCode.end(), window.begin()));
    Bytes data(0x300, 0xd7);
    data.resize(0x2000, 0);  // the bss cleared
    EXPECT_TRUE(std::equal(data.begin(), data.end(), window.begin() + 0x10000));
    EXPECT_EQ(Bytes(window.begin() + 0x20000, window.begin() + 0x20040), Bytes(0x40, 0x9c));
  }
  // A segment whose move would overwrite a later one's data before that one moves: its
  // destination (0x200..0x500) covers the next segment's source (right after its own, which
  // starts at 0xf0).
  auto segs = kernel_segments();
  segs[0].paddr = kBase + 0x200;
  segs[0].data.resize(0x300, 0x90);
  segs[0].memsz = 0x300;
  EXPECT_EQ(loader::place_host_kernel(gzip(make_elf(segs, kBase + 0x200)), kBase, window, k, why),
            HostKernelResult::Invalid);
  EXPECT_NE(why.find("would overwrite the data of the segment at 0x1010000"), std::string::npos)
      << why;
}

TEST(KernelPayload, SaysWhenTheGuestMustDecompress) {
  Bytes window(kInitSize);
  HostKernel k;
  std::string why;
  EXPECT_EQ(loader::place_host_kernel({{'B', 'Z', 'h', '9', 1, 2, 3, 4}}, kBase, window, k, why),
            HostKernelResult::Unsupported);
  EXPECT_EQ(why, "the host does not decompress bzip2");
  EXPECT_FALSE(k.touched);
  EXPECT_EQ(loader::place_host_kernel({{1, 2, 3, 4, 5}}, kBase, window, k, why),
            HostKernelResult::Unsupported);
  EXPECT_NE(why.find("not recognised"), std::string::npos);
  Bytes corrupt = xz(kernel_elf());
  corrupt[corrupt.size() / 2] ^= 0xff;
  EXPECT_EQ(loader::place_host_kernel(corrupt, kBase, window, k, why), HostKernelResult::Invalid);
  EXPECT_EQ(why.rfind("XZ payload: ", 0), 0u) << why;
  EXPECT_TRUE(k.touched);
  EXPECT_EQ(loader::place_host_kernel(gzip(make_elf(kernel_segments(), kBase, 183)), kBase, window,
                                      k, why),
            HostKernelResult::Invalid);
  EXPECT_EQ(why, "the decompressed kernel: ELF is for AArch64, expected x86-64");
  // A valid ELF, but the decompressed data is larger than init_size.
  EXPECT_EQ(
      loader::place_host_kernel(gzip(kernel_elf()), kBase, std::span(window).first(0x100), k, why),
      HostKernelResult::Invalid);
  EXPECT_NE(why.find("more than init_size"), std::string::npos) << why;
  // More loadable segments than the in-place move takes.
  std::vector<Segment> many;
  for (uint64_t i = 0; i <= loader::kMaxVmlinuxSegments; ++i)
    many.push_back({kBase + i * 0x100, kBase + i * 0x100, Bytes(0x10, 0xc3), 0x10});
  EXPECT_EQ(loader::place_host_kernel(gzip(make_elf(many, kBase)), kBase, window, k, why),
            HostKernelResult::Invalid);
  EXPECT_NE(why.find("65 loadable segments"), std::string::npos) << why;
}

// A bzImage of protocol 2.15 (as Debian's): 2 setup sectors; the protected-mode kernel holds
// 0x200 bytes of hlt, its startup_64 (code that prints G and exits with 0x22), and from 0x300
// the payload.
constexpr uint64_t kPayloadOffset = 0x300;
const Bytes kStartup64Code = {
    0xb0, 'G',  0x66, 0xba, 0xf8, 0x03, 0xee,  // mov al, 'G'; mov dx, 0x3f8; out dx, al
    0xb0, 0x22, 0xe6, 0xf4, 0xf4,              // mov al, 0x22; out 0xf4, al; hlt
};
Bytes bzimage(const Bytes& payload) {
  Bytes b(1024 + kPayloadOffset, 0);
  b[0x1f1] = 1;
  put(b, 0x1fe, 0xaa55, 2);
  b[0x200] = 0xeb;
  b[0x201] = 0x6a;
  put(b, 0x202, 0x53726448, 4);
  put(b, 0x206, 0x020f, 2);
  b[0x211] = 1;
  put(b, 0x22c, 0x7fffffff, 4);
  put(b, 0x230, 0x200000, 4);
  b[0x234] = 1;
  put(b, 0x236, 1, 2);
  put(b, 0x238, 2047, 4);
  put(b, 0x248, kPayloadOffset, 4);
  put(b, 0x24c, payload.size(), 4);
  put(b, 0x258, kBase, 8);
  put(b, 0x260, kInitSize, 4);
  std::fill(b.begin() + 1024, b.begin() + 1024 + 0x200, 0xf4);
  std::copy(kStartup64Code.begin(), kStartup64Code.end(), b.begin() + 1024 + 0x200);
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

class HostBoot : public ::testing::Test {
 protected:
  HostBoot() { as.add_ram("ram", 0, 512 * kMiB); }
  std::string load(const Bytes& img, loader::KernelDecompress d = loader::KernelDecompress::Host) {
    // RAM where the kernel goes as a reset leaves it: not zero.
    const Bytes junk(kInitSize, 0xaa);
    EXPECT_TRUE(as.write_bytes(kBase, junk.data(), junk.size()));
    loader::LinuxBootConfig c;
    c.mem = {512 * kMiB, 0, true};
    c.cmdline = "console=ttyS0";
    c.decompress = d;
    return loader::load_bzimage(img, c, as, boot);
  }
  Bytes read(uint64_t addr, size_t n) {
    Bytes v(n);
    EXPECT_TRUE(as.read_bytes(addr, v.data(), n));
    return v;
  }
  hw::AddressSpace as;
  loader::LinuxBoot boot;
};

TEST_F(HostBoot, LoadsTheKernelProperAtItsPhysicalAddresses) {
  for (PayloadFormat f : kHostFormats) {
    SCOPED_TRACE(std::string(loader::payload_format_name(f)));
    ASSERT_EQ(load(bzimage(compress(f, kernel_elf()))), "");
    EXPECT_TRUE(boot.host_decompressed);
    EXPECT_EQ(boot.fallback, "");
    EXPECT_EQ(boot.entry, kBase);
    EXPECT_EQ(boot.kernel_addr, kBase);
    EXPECT_EQ(boot.kernel_end, kBase + kInitSize);  // all of init_size stays reserved
    EXPECT_EQ(read(kBase, kEntryCode.size()), kEntryCode);
    Bytes data(0x300, 0xd7);
    data.resize(0x2000, 0);  // the bss cleared
    EXPECT_EQ(read(kBase + 0x10000, 0x2000), data);
    EXPECT_EQ(read(kBase + 0x20000, 0x40), Bytes(0x40, 0x9c));
    // The zero page as on the guest path: code32_start still the load address.
    const Bytes zp = read(boot.zero_page, 0x300);
    EXPECT_EQ(zp[0x210], 0xff);
    EXPECT_EQ(zp[0x214] | zp[0x215] << 8 | zp[0x216] << 16 | zp[0x217] << 24, int(kBase));
  }
}

TEST_F(HostBoot, FallsBackToTheGuestsDecompressor) {
  const Bytes good = xz(kernel_elf());
  auto expect_guest_path = [&](const Bytes& img, const std::string& why, bool unsupported) {
    ASSERT_EQ(load(img), "");
    EXPECT_FALSE(boot.host_decompressed);
    EXPECT_NE(boot.fallback.find(why), std::string::npos) << boot.fallback;
    EXPECT_EQ(boot.fallback_unsupported, unsupported) << boot.fallback;
    EXPECT_EQ(boot.entry, kBase + 0x200);
    EXPECT_EQ(read(kBase + 0x200, kStartup64Code.size()), kStartup64Code);
  };
  // Formats the host lacks, and no payload at all.
  expect_guest_path(bzimage({'B', 'Z', 'h', '9', 0, 0, 0, 0}), "bzip2", true);
  Bytes img = bzimage(good);
  put(img, 0x24c, 0, 4);
  expect_guest_path(img, "no payload", true);
  // A payload past the end of the file, truncated or corrupt, or decompressing to a bad ELF.
  img = bzimage(good);
  put(img, 0x24c, good.size() + 1, 4);
  expect_guest_path(img, "extends past the end of the file", false);
  img = bzimage(good);
  put(img, 0x248, 0xffffffff, 4);
  expect_guest_path(img, "extends past the end of the file", false);
  Bytes cut(good.begin(), good.end() - 40);
  append_le32(cut, uint32_t(kernel_elf().size()));
  expect_guest_path(bzimage(cut), "XZ payload", false);
  auto segs = kernel_segments();
  segs[1].paddr = kBase + kInitSize;
  expect_guest_path(bzimage(xz(make_elf(segs, kBase))), "outside the kernel's", false);
  // pref_address not aligned: the kernel would load elsewhere than where it was linked.
  img = bzimage(good);
  put(img, 0x258, kBase + 0x1000, 8);
  ASSERT_EQ(load(img), "");
  EXPECT_NE(boot.fallback.find("not aligned"), std::string::npos) << boot.fallback;
  // Asked for the guest's decompressor: no fallback to report.
  ASSERT_EQ(load(bzimage(good), loader::KernelDecompress::Guest), "");
  EXPECT_FALSE(boot.host_decompressed);
  EXPECT_EQ(boot.fallback, "");
  EXPECT_EQ(boot.entry, kBase + 0x200);
}

class PcHostBoot : public test::InterpMachineTest {
 protected:
  /// Boots img on -M pc with props; returns the exit status and sets out to COM1's output.
  int run(const Bytes& img, std::vector<std::pair<std::string, std::string>> props,
          std::string& out) {
    MachineConfig c;
    c.cpu_model = "qemu64";
    c.ram_size = 512 * kMiB;
    c.cpus = 1;
    c.no_reboot = true;
    c.properties = std::move(props);
    c.devices = {{"isa-debug-exit", {{"iobase", "0xf4"}, {"iosize", "4"}}}};
    std::string err;
    auto m = pc::PcMachine::create(c, ctx, err);
    EXPECT_TRUE(m) << err;
    if (!m) return -1;
    test::StringSink sink;
    m->serial_port(0, &sink);
    BootImages images{img, {}, "console=ttyS0", {}, {}, {}, {}};
    images.kernel_path = "bzImage";
    EXPECT_EQ(m->load_boot(images), "");
    const int status = m->run();
    out = sink.out;
    return status;
  }
};

TEST_F(PcHostBoot, EntersTheKernelProperOrTheDecompressorAsAsked) {
  const std::string log_path = ::testing::TempDir() + "/orrery_hostboot_log";
  ASSERT_TRUE(log.set_file(log_path));
  log.set_mask_bits(hw::kLogUnimp | hw::kLogGuestErrors);
  std::string out;
  EXPECT_EQ(run(bzimage(xz(kernel_elf())), {}, out), (0x21 << 1) | 1);
  EXPECT_EQ(out, "H");
  EXPECT_EQ(run(bzimage(gzip(kernel_elf())), {{"kernel-decompress", "host"}}, out),
            (0x21 << 1) | 1);
  EXPECT_EQ(out, "H");
  EXPECT_EQ(run(bzimage(xz(kernel_elf())), {{"kernel-decompress", "guest"}}, out), (0x22 << 1) | 1);
  EXPECT_EQ(out, "G");
  // A format the host lacks: the guest path, said once under -d unimp.
  EXPECT_EQ(run(bzimage({'B', 'Z', 'h', '9', 0, 0, 0, 0}), {}, out), (0x22 << 1) | 1);
  EXPECT_EQ(out, "G");
  ASSERT_TRUE(log.set_file("/dev/null"));
  std::ifstream f(log_path);
  const std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const std::string line =
      "pc: -kernel: not decompressed on the host (the host does not decompress bzip2); the "
      "kernel's own decompressor runs\n";
  EXPECT_NE(text.find(line), std::string::npos) << text;
  EXPECT_EQ(text.find("not decompressed"), text.rfind("not decompressed")) << text;
  std::remove(log_path.c_str());

  std::string err;
  MachineConfig c;
  c.cpu_model = "qemu64";
  c.ram_size = 512 * kMiB;
  c.cpus = 1;
  c.properties = {{"kernel-decompress", "both"}};
  EXPECT_FALSE(pc::PcMachine::create(c, ctx, err));
  EXPECT_EQ(err, "kernel-decompress=both: expected host or guest");
}

}  // namespace
}  // namespace orrery::machine
