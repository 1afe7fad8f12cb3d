#include "hw/core/ram_backing.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace orrery::hw {

namespace {

uint8_t* map(uint64_t size, int fd, bool shared) {
  // MAP_NORESERVE: guest RAM is touched lazily, so a large -m costs nothing until used.
  const int flags =
      (fd < 0 ? MAP_ANONYMOUS : 0) | (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_NORESERVE;
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, flags, fd, 0);
  if (p == MAP_FAILED) return nullptr;
  // Small host pages, even where the host would give huge ones: a fresh 2 MiB page costs the
  // host ~1.4-2.3 ms to back and zero on a VM host with free page reporting (a Firecracker
  // microVM here) against ~0.35 ms per MiB of 4 KiB pages, and a booting kernel touches
  // ~66 MiB of its RAM on the critical path (warm arm64 boot: median 0.84 -> 0.72 s).
  // Accelerators that map RAM into hardware page tables ask for huge pages
  // (advise_huge_pages); under TCG every access goes through the softmmu anyway.
  madvise(p, size, MADV_NOHUGEPAGE);
  return static_cast<uint8_t*>(p);
}

}  // namespace

std::unique_ptr<RamBacking> RamBacking::anonymous(uint64_t size, std::string& error) {
  uint8_t* p = map(size, -1, false);
  if (!p) {
    error = "cannot allocate " + std::to_string(size) +
            " bytes of host memory: " + std::strerror(errno);
    return nullptr;
  }
  return std::unique_ptr<RamBacking>(new RamBacking(p, size, -1, false));
}

std::unique_ptr<RamBacking> RamBacking::memfd(const std::string& name, uint64_t size, bool share,
                                              std::string& error) {
  int fd = memfd_create(name.c_str(), MFD_CLOEXEC);
  if (fd < 0) {
    error = std::string("memfd_create: ") + std::strerror(errno);
    return nullptr;
  }
  if (ftruncate(fd, off_t(size)) != 0) {
    error = "cannot size the memfd to " + std::to_string(size) + " bytes: " + std::strerror(errno);
    close(fd);
    return nullptr;
  }
  uint8_t* p = map(size, fd, share);
  if (!p) {
    error = "cannot map " + std::to_string(size) + " bytes of memfd: " + std::strerror(errno);
    close(fd);
    return nullptr;
  }
  return std::unique_ptr<RamBacking>(new RamBacking(p, size, fd, share));
}

std::unique_ptr<RamBacking> RamBacking::map_fd(int fd, uint64_t size, std::string& error) {
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
  if (p == MAP_FAILED) {
    error = "cannot map " + std::to_string(size) + " bytes of a shared fd: " + std::strerror(errno);
    close(fd);
    return nullptr;
  }
  return std::unique_ptr<RamBacking>(new RamBacking(static_cast<uint8_t*>(p), size, fd, true));
}

void advise_huge_pages(uint8_t* host, uint64_t size) {
  constexpr uintptr_t kPage = 4096;
  const uintptr_t lo = reinterpret_cast<uintptr_t>(host) & ~(kPage - 1);
  const uintptr_t hi = (reinterpret_cast<uintptr_t>(host) + size + kPage - 1) & ~(kPage - 1);
  if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_HUGEPAGE);
}

RamBacking::~RamBacking() {
  munmap(host_, size_);
  if (fd_ >= 0) close(fd_);
}

}  // namespace orrery::hw
