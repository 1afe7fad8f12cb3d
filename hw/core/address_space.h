// Guest-physical address space: a flat, sorted set of non-overlapping regions of RAM, ROM and
// MMIO. Boards build it once before any vCPU runs; afterwards it is read-only, so lookups need
// no lock.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "hw/core/mmio.h"
#include "hw/core/ram_backing.h"

namespace orrery::hw {

/// Told about guest-physical writes that did not go through a CPU's softmmu (device DMA,
/// loaders, debuggers), so translated code on those pages can be dropped. The TCG engine
/// implements it; an accelerator without translated code needs none.
class GuestWriteObserver {
 public:
  virtual ~GuestWriteObserver() = default;
  virtual void guest_memory_written(uint64_t addr, uint64_t len) = 0;
};

/// A guest access to a device, split or widened according to its valid/impl rules (what the
/// address space does for its MMIO regions; buses that decode further use it too).
MemResult mmio_access(MmioDevice& dev, uint64_t off, unsigned size, uint64_t& value, bool write);

/// Size of the x86 I/O-port space (ports 0..0xffff), an AddressSpace of its own.
inline constexpr uint64_t kIoPortSpaceSize = 0x10000;

enum class RegionKind : uint8_t { Ram, Rom, Mmio };

struct Region {
  std::string name;
  uint64_t base = 0;
  uint64_t size = 0;
  RegionKind kind = RegionKind::Ram;
  uint8_t* host = nullptr;              // RAM and ROM
  MmioDevice* dev = nullptr;            // MMIO
  const RamBacking* backing = nullptr;  // RAM and ROM: the host memory (and its fd, if any)
  uint64_t backing_offset = 0;          // where in backing the region starts
  bool contains(uint64_t a) const { return a >= base && a - base < size; }
};

class AddressSpace {
 public:
  /// The whole 64-bit space, e.g. guest-physical memory.
  AddressSpace() = default;
  /// A space of size bytes (addresses 0..size-1) called name, e.g. the x86 I/O-port space
  /// ("io", 64 KiB; its MMIO regions are the port devices). Regions must lie inside it and
  /// accesses reaching past its end are DecodeErrors. size 0 means the whole 64-bit space.
  AddressSpace(std::string name, uint64_t size) : name_(std::move(name)), size_(size) {}
  ~AddressSpace();
  AddressSpace(const AddressSpace&) = delete;
  AddressSpace& operator=(const AddressSpace&) = delete;

  /// Each returns an empty string on success, or why the region could not be added (overlap,
  /// zero size, out of host memory).
  std::string add_ram(const std::string& name, uint64_t base, uint64_t size);
  /// RAM on host memory the caller made (e.g. a shareable memfd); backing->size() bytes.
  std::string add_ram(const std::string& name, uint64_t base, std::shared_ptr<RamBacking> backing);
  /// RAM on bytes [offset, offset+size) of backing (one backing split into several regions,
  /// e.g. the PC's RAM below and above 4 GiB).
  std::string add_ram(const std::string& name, uint64_t base, std::shared_ptr<RamBacking> backing,
                      uint64_t offset, uint64_t size);
  std::string add_rom(const std::string& name, uint64_t base, uint64_t size);
  std::string add_mmio(const std::string& name, uint64_t base, uint64_t size, MmioDevice& dev);

  /// The region containing addr, or null.
  const Region* find(uint64_t addr) const;

  /// A device or memory access by the guest. Sizes 1/2/4/8; the access must not cross regions.
  MemResult read(uint64_t addr, unsigned size, uint64_t& value) const;
  MemResult write(uint64_t addr, unsigned size, uint64_t value) const;

  /// Who hears of writes made by write_bytes and device DMA (set before any vCPU runs).
  void set_write_observer(GuestWriteObserver* o) { observer_ = o; }
  void notify_written(uint64_t addr, uint64_t len) const {
    if (observer_ && len) observer_->guest_memory_written(addr, len);
  }

  /// Bulk copy for loaders and debuggers; may write ROM. False if any byte is not RAM/ROM.
  bool read_bytes(uint64_t addr, void* dst, uint64_t len) const;
  bool write_bytes(uint64_t addr, const void* src, uint64_t len) const;

  /// Host pointer for [addr, addr+len) when it lies inside one RAM/ROM region, else null.
  uint8_t* host_ptr(uint64_t addr, uint64_t len) const;

  const std::vector<Region>& regions() const { return regions_; }
  const std::string& name() const { return name_; }
  /// Bytes in the space; 0: the whole 64-bit space.
  uint64_t size() const { return size_; }

 private:
  /// True when [addr, addr+len) lies inside the space (len >= 1).
  bool in_bounds(uint64_t addr, uint64_t len) const {
    return size_ == 0 || (len <= size_ && addr <= size_ - len);
  }
  std::string name_ = "memory";
  uint64_t size_ = 0;
  std::string insert(Region r);
  std::vector<Region> regions_;  // sorted by base
  std::string add_host(const std::string& name, uint64_t base, RegionKind kind,
                       std::shared_ptr<RamBacking> backing);
  std::vector<std::shared_ptr<RamBacking>> backings_;
  GuestWriteObserver* observer_ = nullptr;
};

}  // namespace orrery::hw
