#include "machine/loader/kernel.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <functional>
#include <system_error>
#include <thread>
#include <utility>

#include <zlib.h>

#include "hw/core/address_space.h"
#include "hw/core/thread_name.h"
#include "hw/core/user_file.h"

namespace orrery::machine::loader {

namespace {

uint64_t le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | p[i];
  return v;
}

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%" PRIx64, v);
  return buf;
}

// Copies a boot image into guest RAM. What a big copy costs is the host's first touch of the
// RAM (~10 ms for an arm64 Image of 33 MiB on small pages here, 40-110 ms when RAM was on fresh
// 2 MiB pages), so one of several MiB is split at a 2 MiB boundary of the destination and the
// halves are copied by two threads at once.
void copy_into_ram(uint8_t* dst, const uint8_t* src, size_t n) {
  constexpr uintptr_t kHuge = uintptr_t(2) << 20;
  constexpr size_t kSplitFrom = size_t(8) << 20;
  if (n < kSplitFrom) {
    std::memcpy(dst, src, n);
    return;
  }
  const uintptr_t mid = (reinterpret_cast<uintptr_t>(dst) + n / 2 + kHuge - 1) & ~(kHuge - 1);
  const size_t first = size_t(mid - reinterpret_cast<uintptr_t>(dst));
  std::thread upper;
  try {
    upper = std::thread([=] {
      hw::name_this_thread("image copy");
      std::memcpy(dst + first, src + first, n - first);
    });
  } catch (const std::system_error&) {  // no thread to be had: one copy, as before
    std::memcpy(dst, src, n);
    return;
  }
  std::memcpy(dst, src, first);
  upper.join();
}

// Copies bytes into RAM at addr and reports the footprint, after checking [addr, addr+span).
std::string place(std::span<const uint8_t> data, uint64_t addr, uint64_t span, RamWindow ram,
                  hw::AddressSpace& as, const char* what) {
  if (!ram.contains(addr, span))
    return std::string(what) + " of " + std::to_string(span) + " bytes at " + hex(addr) +
           " does not fit in RAM (" + hex(ram.base) + "-" + hex(ram.base + ram.size - 1) + ")";
  uint8_t* dst = as.host_ptr(addr, span);
  if (!dst) return "no guest memory at " + hex(addr);
  copy_into_ram(dst, data.data(), data.size());
  return {};
}

}  // namespace

std::string read_file(const std::string& path, uint64_t max_size, std::vector<uint8_t>& out) {
  out.clear();
  std::string err;
  hw::UniqueFd fd = hw::open_user_file(path, hw::UserFileUse::Input, err);
  if (!fd.valid()) return err;
  return read_whole(fd.get(), max_size, out);
}

std::string read_whole(int fd, uint64_t max_size, std::vector<uint8_t>& out) {
  out.clear();
  struct stat st;
  if (::fstat(fd, &st) != 0) return std::strerror(errno);
  if (!S_ISREG(st.st_mode)) return "not a regular file";
  if (st.st_size == 0) return "file is empty";
  uint64_t size = uint64_t(st.st_size);
  if (size > max_size)
    return "file is too large (" + std::to_string(size) + " bytes; the limit is " +
           std::to_string(max_size) + ")";
  out.resize(size);
  uint64_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(fd, out.data() + done, size - done, off_t(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::string("read failed: ") + std::strerror(errno);
    if (n == 0) break;  // the file shrank while reading
    done += uint64_t(n);
  }
  out.resize(done);
  if (done == 0) return "file is empty";
  return {};
}

FileBytes::FileBytes(FileBytes&& o) noexcept
    : map_(std::exchange(o.map_, nullptr)),
      map_size_(std::exchange(o.map_size_, 0)),
      copy_(std::move(o.copy_)) {}

FileBytes& FileBytes::operator=(FileBytes&& o) noexcept {
  if (this != &o) {
    reset();
    map_ = std::exchange(o.map_, nullptr);
    map_size_ = std::exchange(o.map_size_, 0);
    copy_ = std::move(o.copy_);
  }
  return *this;
}

FileBytes::~FileBytes() {
  reset();
}

void FileBytes::reset() {
  if (map_) ::munmap(const_cast<uint8_t*>(map_), map_size_);  // munmap takes a non-const pointer
  map_ = nullptr;
  map_size_ = 0;
  copy_ = {};
}

std::string map_whole(int fd, uint64_t max_size, FileBytes& out) {
  // Below this a read costs less than setting up a mapping.
  constexpr uint64_t kMapAtLeast = uint64_t(1) << 20;
  out.reset();
  struct stat st;
  if (::fstat(fd, &st) != 0) return std::strerror(errno);
  if (S_ISREG(st.st_mode) && uint64_t(st.st_size) >= kMapAtLeast &&
      uint64_t(st.st_size) <= max_size) {
    const size_t size = size_t(st.st_size);
    // MAP_POPULATE maps the cached pages in one call instead of a fault per page.
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (p != MAP_FAILED) {
      struct stat again;
      // A file that changed size meanwhile is read instead (its mapping could end short).
      if (::fstat(fd, &again) == 0 && again.st_size == st.st_size) {
        out.map_ = static_cast<const uint8_t*>(p);
        out.map_size_ = size;
        return {};
      }
      ::munmap(p, size);
    }
  }
  return read_whole(fd, max_size, out.copy_);
}

bool parse_arm64_image_header(std::span<const uint8_t> data, Arm64ImageHeader& hdr) {
  if (data.size() < Arm64ImageHeader::kSize) return false;
  const uint8_t* p = data.data();
  uint32_t magic =
      uint32_t(p[56]) | uint32_t(p[57]) << 8 | uint32_t(p[58]) << 16 | uint32_t(p[59]) << 24;
  if (magic != Arm64ImageHeader::kMagic) return false;
  hdr.text_offset = le64(p + 8);
  hdr.image_size = le64(p + 16);
  hdr.flags = le64(p + 24);
  if (hdr.image_size == 0) hdr.text_offset = Arm64ImageHeader::kLegacyTextOffset;
  return true;
}

bool is_gzip(std::span<const uint8_t> data) {
  return data.size() >= 2 && data[0] == 0x1F && data[1] == 0x8B;
}

namespace {

/// Inflates a gzip stream through a small window, handing each piece to sink; sets produced.
/// Fails as soon as more than max_size bytes come out, so a bomb costs time, not memory.
std::string inflate_gzip(std::span<const uint8_t> data, uint64_t max_size,
                         const std::function<void(std::span<const uint8_t>)>& sink,
                         uint64_t& produced) {
  produced = 0;
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return "gzip: cannot initialise zlib";
  struct End {
    z_stream* z;
    ~End() { inflateEnd(z); }
  } end{&zs};
  zs.next_in = const_cast<Bytef*>(data.data());  // zlib's API is not const-correct
  uint64_t in_left = data.size();
  std::vector<uint8_t> window(64 * 1024);
  for (;;) {
    uint64_t in_now = std::min<uint64_t>(in_left, 1u << 30);
    zs.avail_in = uInt(in_now);
    zs.next_out = window.data();
    zs.avail_out = uInt(window.size());
    int r = inflate(&zs, Z_NO_FLUSH);
    in_left -= in_now - zs.avail_in;
    uint64_t got = window.size() - zs.avail_out;
    produced += got;
    if (produced > max_size)
      return "gzip: decompressed kernel is larger than guest RAM (" + std::to_string(max_size) +
             " bytes); give more memory with -m";
    if (got != 0 && sink) sink(std::span<const uint8_t>(window.data(), got));
    if (r == Z_STREAM_END) return {};
    if (r == Z_DATA_ERROR || r == Z_NEED_DICT)
      return std::string("corrupt gzip data: ") + (zs.msg ? zs.msg : "invalid stream");
    if (r == Z_MEM_ERROR) return "gzip: out of memory";
    if (r == Z_BUF_ERROR && in_left == 0 && zs.avail_in == 0)
      return "gzip data is truncated (the file ends inside the compressed stream)";
    if (r != Z_OK && r != Z_BUF_ERROR) return "corrupt gzip data";
  }
}

}  // namespace

std::string gunzip(std::span<const uint8_t> data, uint64_t max_size, std::vector<uint8_t>& out) {
  out.clear();
  // Two passes: the first only measures (and stops at max_size), so memory is never committed
  // to a guess and the output buffer is allocated once, at its exact size, with no regrowth
  // copies. Inflating twice costs far less than booting the kernel does.
  uint64_t size = 0;
  std::string err = inflate_gzip(data, max_size, nullptr, size);
  if (!err.empty()) return err;
  if (size == 0) return "gzip stream decompresses to nothing";
  out.reserve(size);
  uint64_t again = 0;
  err = inflate_gzip(
      data, size,
      [&out](std::span<const uint8_t> piece) { out.insert(out.end(), piece.begin(), piece.end()); },
      again);
  if (!err.empty() || again != size) {
    out.clear();
    return err.empty() ? "gzip data changed while inflating" : err;
  }
  return {};
}

namespace {
constexpr uint64_t k2MiB = 2 << 20;
uint64_t align_up(uint64_t v, uint64_t a) {
  return (v + a - 1) & ~(a - 1);
}
}  // namespace

std::string place_initrd(std::span<const uint8_t> initrd, const BootInfo& kernel, RamWindow ram,
                         hw::AddressSpace& as, uint64_t& start, uint64_t& end) {
  uint64_t low = align_up(kernel.high, k2MiB) + kMaxDtbSize;  // kernel, then the DTB slot
  uint64_t top = ram.base + std::min<uint64_t>(ram.size, uint64_t(1) << 30);
  if (initrd.size() > top - std::min(top, low)) {
    // Not in the first GiB: anywhere above the DTB slot will do for modern kernels.
    top = ram.base + ram.size;
    if (initrd.size() > top - std::min(top, low))
      return "initrd of " + std::to_string(initrd.size()) +
             " bytes does not fit in RAM after the "
             "kernel; give more memory with -m";
  }
  start = (top - initrd.size()) & ~uint64_t(0xFFF);
  end = start + initrd.size();
  return place(initrd, start, initrd.size(), ram, as, "initrd");
}

std::string place_dtb(std::span<const uint8_t> dtb, const BootInfo& kernel, RamWindow ram,
                      uint64_t initrd_start, uint64_t initrd_end, hw::AddressSpace& as,
                      uint64_t& addr) {
  if (dtb.size() > kMaxDtbSize)
    return "device tree of " + std::to_string(dtb.size()) + " bytes exceeds the 2 MiB limit";
  addr = align_up(kernel.high, k2MiB);
  if (initrd_end > initrd_start && addr < initrd_end && initrd_start < addr + dtb.size())
    return "device tree would overlap the initrd";
  return place(dtb, addr, dtb.size(), ram, as, "device tree");
}

std::string load_arm64_kernel(std::span<const uint8_t> data, RamWindow ram, hw::AddressSpace& as,
                              BootInfo& out) {
  out = {};
  if (data.empty()) return "file is empty";
  if (is_elf(data)) {
    ElfImage img;
    std::string err = parse_elf64(data, kEmAarch64, img);
    if (err.empty()) err = load_elf64(data, img, ram, as);
    if (!err.empty()) return err;
    out.kind = KernelKind::Elf;
    out.entry = img.entry;
    out.low = ~0ull;
    for (const ElfSegment& s : img.segments) {
      out.low = std::min(out.low, s.paddr);
      out.high = std::max(out.high, s.paddr + s.memsz);
    }
    return {};
  }
  if (is_gzip(data)) {
    // Debian's vmlinuz is a gzipped Image; it can never need more than guest RAM.
    std::vector<uint8_t> inflated;
    std::string err = gunzip(data, ram.size, inflated);
    if (!err.empty()) return err;
    if (is_gzip(inflated)) return "gzip-compressed kernel contains another gzip stream";
    return load_arm64_kernel(inflated, ram, as, out);
  }
  Arm64ImageHeader hdr;
  if (parse_arm64_image_header(data, hdr)) {
    // booting.rst: the Image goes at a 2 MiB-aligned base plus text_offset, and needs
    // image_size bytes there (its bss included) — more than the file when bss is large.
    if (hdr.text_offset >= ram.size)
      return "arm64 Image text_offset " + hex(hdr.text_offset) + " lies outside RAM";
    uint64_t span = std::max<uint64_t>(data.size(), hdr.image_size);
    uint64_t addr = ram.base + hdr.text_offset;
    std::string err = place(data, addr, span, ram, as, "arm64 Image");
    if (!err.empty()) return err;
    out.kind = KernelKind::LinuxImage;
    out.entry = addr;
    out.low = addr;
    out.high = addr + span;
    return {};
  }
  std::string err = place(data, ram.base, data.size(), ram, as, "raw image");
  if (!err.empty()) return err;
  out.kind = KernelKind::Raw;
  out.entry = ram.base;
  out.low = ram.base;
  out.high = ram.base + data.size();
  return {};
}

}  // namespace orrery::machine::loader
