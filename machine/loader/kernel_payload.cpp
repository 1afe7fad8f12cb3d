#include "machine/loader/kernel_payload.h"

#include <lzma.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include <algorithm>
#include <array>
#include <cinttypes>
#include <cstdio>
#include <cstring>

namespace orrery::machine::loader {

namespace {

struct FormatInfo {
  PayloadFormat format;
  std::string_view name;
  std::string_view magic;  // the first bytes (lib/decompress.c's compressed_formats)
  bool host;               // decompressed on the host
};
constexpr FormatInfo kFormats[] = {
    {PayloadFormat::Gzip, "gzip", {"\x1f\x8b", 2}, true},
    {PayloadFormat::Gzip, "gzip", {"\x1f\x9e", 2}, true},
    {PayloadFormat::Bzip2, "bzip2", {"BZh", 3}, false},
    {PayloadFormat::Lzma, "LZMA", {"\x5d\x00\x00", 3}, false},
    {PayloadFormat::Xz, "XZ", {"\xfd\x37\x7a\x58\x5a\x00", 6}, true},
    {PayloadFormat::Lzo, "LZO", {"\x89\x4c\x5a\x4f", 4}, false},
    {PayloadFormat::Lz4, "LZ4", {"\x02\x21\x4c\x18", 4}, false},
    {PayloadFormat::Zstd, "zstd", {"\x28\xb5\x2f\xfd", 4}, true},
};

/// The XZ decoder's memory limit: far above the dictionaries kernels use (xz_wrap.sh: 32 MiB),
/// far below what a hostile header could ask for.
constexpr uint64_t kXzMemlimit = uint64_t(256) << 20;
/// zlib counts in uInt: feed and drain at most this much per call.
constexpr uint64_t kZlibChunk = uint64_t(1) << 30;

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%" PRIx64, v);
  return buf;
}

const FormatInfo* find_format(PayloadFormat f) {
  for (const FormatInfo& i : kFormats)
    if (i.format == f) return &i;
  return nullptr;
}

/// gzip, in one pass into out (the declared size).
std::string inflate_payload(std::span<const uint8_t> in, std::span<uint8_t> out) {
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return "cannot initialise zlib";
  struct End {
    z_stream* z;
    ~End() { inflateEnd(z); }
  } end{&zs};
  zs.next_in = const_cast<Bytef*>(in.data());  // zlib's API is not const-correct
  zs.next_out = out.data();
  uint64_t in_left = in.size(), out_left = out.size();
  for (;;) {
    const uint64_t in_now = std::min(in_left, kZlibChunk), out_now = std::min(out_left, kZlibChunk);
    zs.avail_in = uInt(in_now);
    zs.avail_out = uInt(out_now);
    const int r = inflate(&zs, Z_NO_FLUSH);
    in_left -= in_now - zs.avail_in;
    out_left -= out_now - zs.avail_out;
    if (r == Z_STREAM_END) {
      if (out_left != 0) return "the stream ends " + std::to_string(out_left) + " bytes short";
      return {};
    }
    if (r == Z_DATA_ERROR || r == Z_NEED_DICT)
      return std::string("corrupt data: ") + (zs.msg ? zs.msg : "invalid stream");
    if (r == Z_MEM_ERROR) return "out of memory";
    if (r == Z_BUF_ERROR && out_left == 0) return "more data than the declared size";
    if (r == Z_BUF_ERROR && in_left == 0) return "truncated data";
    if (r != Z_OK && r != Z_BUF_ERROR) return "corrupt data";
  }
}

/// XZ (one stream: the size trailer follows it), into out.
std::string unxz_payload(std::span<const uint8_t> in, std::span<uint8_t> out) {
  lzma_stream s = LZMA_STREAM_INIT;
  if (lzma_stream_decoder(&s, kXzMemlimit, 0) != LZMA_OK) return "cannot initialise liblzma";
  struct End {
    lzma_stream* s;
    ~End() { lzma_end(s); }
  } end{&s};
  s.next_in = in.data();
  s.avail_in = in.size();
  s.next_out = out.data();
  s.avail_out = out.size();
  lzma_ret r = LZMA_OK;
  while (r == LZMA_OK) r = lzma_code(&s, LZMA_FINISH);
  switch (r) {
    case LZMA_STREAM_END:
      if (s.avail_out != 0)
        return "the stream ends " + std::to_string(s.avail_out) + " bytes short";
      return {};
    case LZMA_MEMLIMIT_ERROR:
      return "its dictionary needs more than " + std::to_string(kXzMemlimit >> 20) + " MiB";
    case LZMA_MEM_ERROR:
      return "out of memory";
    case LZMA_FORMAT_ERROR:
    case LZMA_OPTIONS_ERROR:
      return "unsupported XZ stream options";
    case LZMA_BUF_ERROR:
      return s.avail_out == 0 ? "more data than the declared size" : "truncated data";
    default:
      return "corrupt data";
  }
}

/// zstd (one frame: the size trailer follows it), into out. Single-shot decoding keeps no
/// window of its own: the output is the window.
std::string unzstd_payload(std::span<const uint8_t> in, std::span<uint8_t> out) {
  const size_t frame = ZSTD_findFrameCompressedSize(in.data(), in.size());
  if (ZSTD_isError(frame)) return std::string("corrupt data: ") + ZSTD_getErrorName(frame);
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  if (!dctx) return "out of memory";
  const size_t got = ZSTD_decompressDCtx(dctx, out.data(), out.size(), in.data(), frame);
  ZSTD_freeDCtx(dctx);
  if (ZSTD_isError(got)) {
    if (ZSTD_getErrorCode(got) == ZSTD_error_dstSize_tooSmall)
      return "more data than the declared size";
    return std::string("corrupt data: ") + ZSTD_getErrorName(got);
  }
  if (got != out.size())
    return "the stream ends " + std::to_string(out.size() - got) + " bytes short";
  return {};
}

}  // namespace

PayloadFormat detect_payload_format(std::span<const uint8_t> payload) {
  for (const FormatInfo& i : kFormats)
    if (payload.size() >= i.magic.size() &&
        std::equal(i.magic.begin(), i.magic.end(), payload.begin(),
                   [](char m, uint8_t b) { return uint8_t(m) == b; }))
      return i.format;
  return PayloadFormat::Unknown;
}

std::string_view payload_format_name(PayloadFormat f) {
  const FormatInfo* i = find_format(f);
  return i ? i->name : "unknown";
}

bool host_decompresses(PayloadFormat f) {
  const FormatInfo* i = find_format(f);
  return i && i->host;
}

uint32_t payload_declared_size(std::span<const uint8_t> payload) {
  if (payload.size() < 4) return 0;
  const uint8_t* t = payload.data() + payload.size() - 4;
  return uint32_t(t[0]) | uint32_t(t[1]) << 8 | uint32_t(t[2]) << 16 | uint32_t(t[3]) << 24;
}

std::string decompress_payload(PayloadFormat f, std::span<const uint8_t> payload,
                               std::span<uint8_t> out, uint64_t& size) {
  size = 0;
  if (!host_decompresses(f))
    return std::string(payload_format_name(f)) + " is not decompressed on the host";
  const uint64_t declared = payload_declared_size(payload);
  if (declared == 0) return "the payload declares no decompressed size";
  if (declared > out.size())
    return "the payload declares " + std::to_string(declared) + " bytes, more than init_size (" +
           std::to_string(out.size()) + ")";
  const std::span<uint8_t> dst = out.first(declared);
  std::string err = f == PayloadFormat::Gzip ? inflate_payload(payload, dst)
                    : f == PayloadFormat::Xz ? unxz_payload(payload, dst)
                                             : unzstd_payload(payload, dst);
  if (err.empty()) size = declared;
  return err;
}

std::string check_vmlinux(std::span<const uint8_t> elf, uint64_t base, uint64_t size,
                          ElfImage& image) {
  std::string err = parse_elf64(elf, kEmX86_64, image, ElfEntry::Physical);
  if (!err.empty()) return err;
  const RamWindow window{base, size};
  bool entry_in_file = false;
  for (const ElfSegment& s : image.segments) {
    if (!window.contains(s.paddr, s.memsz))
      return "ELF segment at " + hex(s.paddr) + " (" + hex(s.memsz) +
             " bytes) lies outside the kernel's " + hex(base) + "-" + hex(base + size - 1);
    entry_in_file |= image.entry - s.paddr < s.filesz && image.entry >= s.paddr;
  }
  if (!entry_in_file) return "ELF entry point " + hex(image.entry) + " is not in a segment's data";
  return {};
}

HostKernelResult place_host_kernel(std::span<const uint8_t> payload, uint64_t base,
                                   std::span<uint8_t> window, HostKernel& out, std::string& why) {
  out = {};
  out.format = detect_payload_format(payload);
  const std::string name(payload_format_name(out.format));
  if (!host_decompresses(out.format)) {
    why = out.format == PayloadFormat::Unknown ? "the payload's compression is not recognised"
                                               : "the host does not decompress " + name;
    return HostKernelResult::Unsupported;
  }
  auto invalid = [&](std::string msg) {
    why = std::move(msg);
    out.elf = {};
    return HostKernelResult::Invalid;
  };
  out.touched = true;
  uint64_t size = 0;
  std::string err = decompress_payload(out.format, payload, window, size);
  if (!err.empty()) return invalid(name + " payload: " + err);
  const std::span<const uint8_t> elf = window.first(size);
  err = check_vmlinux(elf, base, window.size(), out.elf);
  if (!err.empty()) return invalid("the decompressed kernel: " + err);

  // The move in place: segments by ascending p_paddr, each into bytes that no later segment
  // still has to be read from (its own source may overlap: memmove).
  std::vector<ElfSegment> segs = out.elf.segments;
  if (segs.size() > kMaxVmlinuxSegments)
    return invalid("the decompressed kernel has " + std::to_string(segs.size()) +
                   " loadable segments (at most " + std::to_string(kMaxVmlinuxSegments) + ")");
  std::sort(segs.begin(), segs.end(),
            [](const ElfSegment& a, const ElfSegment& b) { return a.paddr < b.paddr; });
  for (size_t i = 0; i < segs.size(); ++i) {
    const uint64_t dst = segs[i].paddr - base, dst_end = dst + segs[i].filesz;
    for (size_t j = i + 1; j < segs.size(); ++j)
      if (dst < segs[j].offset + segs[j].filesz && segs[j].offset < dst_end)
        return invalid("the decompressed kernel: ELF segment at " + hex(segs[i].paddr) +
                       " would overwrite the data of the segment at " + hex(segs[j].paddr) +
                       " before it is moved");
  }
  for (const ElfSegment& s : segs)
    std::memmove(window.data() + (s.paddr - base), window.data() + s.offset, s.filesz);
  for (const ElfSegment& s : segs)
    std::memset(window.data() + (s.paddr - base) + s.filesz, 0, s.memsz - s.filesz);
  return HostKernelResult::Ready;
}

}  // namespace orrery::machine::loader
