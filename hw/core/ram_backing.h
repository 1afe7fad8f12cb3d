// Host memory behind guest RAM: private anonymous memory, or a memfd that another process (a
// vhost-user backend) can map too. QEMU's -object memory-backend-ram / memory-backend-memfd.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace orrery::hw {

/// Asks the host for huge pages behind [host, host+size) (rounded out to whole pages): for
/// accelerators whose hardware page tables map guest RAM (KVM), where 2 MiB host pages give
/// 2 MiB second-stage mappings. Guest RAM starts on small pages (see ram_backing.cpp).
void advise_huge_pages(uint8_t* host, uint64_t size);

class RamBacking {
 public:
  /// Private anonymous memory (the default for -m).
  static std::unique_ptr<RamBacking> anonymous(uint64_t size, std::string& error);
  /// A memfd of size bytes, mapped shared (share) or copy-on-write; error says why on failure.
  static std::unique_ptr<RamBacking> memfd(const std::string& name, uint64_t size, bool share,
                                           std::string& error);
  /// Maps size bytes of an fd another process shared (a vhost-user frontend's guest RAM),
  /// taking ownership of the fd.
  static std::unique_ptr<RamBacking> map_fd(int fd, uint64_t size, std::string& error);
  ~RamBacking();
  RamBacking(const RamBacking&) = delete;
  RamBacking& operator=(const RamBacking&) = delete;

  uint8_t* host() const { return host_; }
  uint64_t size() const { return size_; }
  /// The memfd, or -1 for anonymous memory.
  int fd() const { return fd_; }
  bool shared() const { return shared_; }

 private:
  RamBacking(uint8_t* host, uint64_t size, int fd, bool shared)
      : host_(host), size_(size), fd_(fd), shared_(shared) {}
  uint8_t* host_;
  uint64_t size_;
  int fd_;
  bool shared_;
};

}  // namespace orrery::hw
