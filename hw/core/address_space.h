// Guest-physical address spaces built from a tree of memory regions (containers, RAM, ROM, MMIO
// and aliases, with priorities), flattened into a sorted view of non-overlapping ranges that
// readers (the softmmu's TLB fills, DMA, loaders, debuggers) search without a lock.
//
// The tree may change while vCPUs run (PCI BARs, shadow RAM): each change re-flattens the tree
// under the space's update lock and publishes the new view with one atomic store. Readers never
// see a half-built view; an old view is freed once no reader can still be inside it (readers
// announce themselves on striped counters, and the writer waits for the old epoch to drain), so
// a guest moving a BAR in a loop uses constant memory. After publishing, the space tells its
// MemoryListeners (the TCG engine flushes every vCPU's TLB). RamListeners (KVM memory slots, a
// vhost-user memory table) hear of the RAM and ROM of a new view before it is published.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hw/core/mmio.h"
#include "hw/core/ram_backing.h"

namespace orrery::hw {

class AddressSpace;

/// Told about guest-physical writes that did not go through a CPU's softmmu (device DMA,
/// loaders, debuggers), so translated code on those pages can be dropped. The TCG engine
/// implements it; an accelerator without translated code needs none.
class GuestWriteObserver {
 public:
  virtual ~GuestWriteObserver() = default;
  virtual void guest_memory_written(uint64_t addr, uint64_t len) = 0;
};

/// A range of an address space whose mapping changed.
struct AddrRange {
  uint64_t addr = 0;
  uint64_t len = 0;  // 0 with addr 0: the whole 64-bit space
};

/// Told after a new view of an address space is published. Called on the thread that changed
/// the tree, with no lock of the address space held (the caller may hold device locks: a
/// listener must not wait there for other vCPUs; see tcg::exec::Engine).
class MemoryListener {
 public:
  virtual ~MemoryListener() = default;
  virtual void memory_map_changed(const AddressSpace& as,
                                  const std::vector<AddrRange>& changed) = 0;
};

/// A RAM or ROM range of a view, as an accelerator maps it into the guest (a KVM memory slot) or
/// another process maps it (a vhost-user memory table entry). Adjacent pieces of one backing
/// that are contiguous in guest and host memory are one range.
struct RamRange {
  uint64_t base = 0;        // guest-physical
  uint64_t size = 0;        // bytes
  uint8_t* host = nullptr;  // the host byte at base
  bool readonly = false;    // ROM, or RAM mapped read-only (shadow RAM); writes are not RAM's
  int fd = -1;              // the memfd the bytes live in, or -1 (anonymous memory)
  uint64_t fd_offset = 0;   // where base lies in fd
  friend bool operator==(const RamRange&, const RamRange&) = default;
};

/// Told the RAM and ROM of an address space (sorted by base) when added, and then whenever a
/// tree change alters them, before the new view is published: until the call returns, vCPUs
/// and devices still use the old view. Called with the space's update lock held, on the thread
/// that changed the tree (often a vCPU in a device access): a listener must not change the
/// tree, nor wait for vCPUs. MMIO-only changes are not told.
class RamListener {
 public:
  virtual ~RamListener() = default;
  virtual void ram_changed(const AddressSpace& as, const std::vector<RamRange>& ranges) = 0;
};

/// A guest access to a device, split or widened according to its valid/impl rules (what the
/// address space does for its MMIO regions; buses that decode further use it too).
MemResult mmio_access(MmioDevice& dev, uint64_t off, unsigned size, uint64_t& value, bool write,
                      const MemAttrs& attrs = {});

/// Size of the x86 I/O-port space (ports 0..0xffff), an AddressSpace of its own.
inline constexpr uint64_t kIoPortSpaceSize = 0x10000;

enum class RegionKind : uint8_t { Ram, Rom, Mmio };

/// One range of the flat view: a piece of a RAM, ROM or MMIO region, as mapped (possibly
/// through aliases, possibly cut where a higher-priority region covers it). Plain data: a
/// reader keeps its copy after the view is replaced.
struct Region {
  std::string_view name;  // the region's (or the alias's it is seen through); lives as the space
  uint64_t base = 0;
  uint64_t size = 0;
  RegionKind kind = RegionKind::Ram;
  uint8_t* host = nullptr;              // RAM and ROM: the host byte at base
  MmioDevice* dev = nullptr;            // MMIO
  uint64_t offset = 0;                  // MMIO: the device offset at base
  const RamBacking* backing = nullptr;  // RAM and ROM: the host memory (and its fd, if any)
  uint64_t backing_offset = 0;          // where in backing base lies
  bool contains(uint64_t a) const { return a >= base && a - base < size; }
};

/// What AddressSpace::find returns: a copy of the range (it stays usable when the view changes),
/// or nothing. Compares with nullptr like the pointer it replaces.
class RegionRef {
 public:
  RegionRef() = default;
  explicit RegionRef(const Region& r) : r_(r), found_(true) {}
  explicit operator bool() const { return found_; }
  const Region* operator->() const { return &r_; }
  const Region& operator*() const { return r_; }
  friend bool operator==(const RegionRef& a, std::nullptr_t) { return !a.found_; }

 private:
  Region r_;
  bool found_ = false;
};

/// A node of the region tree. Containers hold subregions at offsets with priorities; RAM, ROM
/// and MMIO are leaves; an alias shows a window of another region (which need not be mapped
/// itself). A region is mapped in at most one container. Changes to a mapped region (or to the
/// target of a mapped alias) are published at once; the region must stay alive while mapped.
class MemoryRegion {
 public:
  enum class Type : uint8_t { Container, Ram, Rom, Mmio, Alias };

  static std::unique_ptr<MemoryRegion> container(std::string name, uint64_t size);
  /// Anonymous host memory; null with error set when it cannot be allocated.
  static std::unique_ptr<MemoryRegion> ram(std::string name, uint64_t size, std::string& error);
  static std::unique_ptr<MemoryRegion> rom(std::string name, uint64_t size, std::string& error);
  /// Bytes [offset, offset+size) of backing (null with error set if outside it).
  static std::unique_ptr<MemoryRegion> ram(std::string name, std::shared_ptr<RamBacking> backing,
                                           uint64_t offset, uint64_t size, std::string& error);
  static std::unique_ptr<MemoryRegion> mmio(std::string name, uint64_t size, MmioDevice& dev);
  /// Bytes [offset, offset+size) of target, e.g. the top of the BIOS ROM below 1 MiB.
  static std::unique_ptr<MemoryRegion> alias(std::string name, MemoryRegion& target,
                                             uint64_t offset, uint64_t size);
  ~MemoryRegion();
  MemoryRegion(const MemoryRegion&) = delete;
  MemoryRegion& operator=(const MemoryRegion&) = delete;

  /// Maps child at offset addr of this container. Overlapping a sibling of the same priority is
  /// an error (a message; nothing changes); a higher priority covers a lower one.
  std::string add_subregion(MemoryRegion& child, uint64_t addr, int priority = 0);
  /// Unmaps child (no-op if it is not mapped here).
  void remove_subregion(MemoryRegion& child);
  /// A disabled region stays in its container but maps nothing (PAM, a BAR with decode off).
  void set_enabled(bool enabled);
  /// Moves the region within its container (a BAR write); same checks as add_subregion.
  std::string set_address(uint64_t addr);
  /// Points an alias at another offset of its target (e.g. a PCI window's base).
  void set_alias_offset(uint64_t offset);
  /// RAM seen through a read-only region (RAM itself, or an alias of it) is ROM: reads hit the
  /// RAM, writes are dropped (shadow RAM set read-only by the i440FX's PAM).
  void set_readonly(bool readonly);

  const std::string& name() const { return name_; }
  Type type() const { return type_; }
  uint64_t size() const { return size_; }
  uint64_t address() const { return addr_; }
  int priority() const { return priority_; }
  bool enabled() const { return enabled_; }
  bool readonly() const { return readonly_; }
  uint8_t* host() const { return host_; }
  const std::shared_ptr<RamBacking>& backing() const { return backing_; }
  uint64_t backing_offset() const { return backing_offset_; }
  MmioDevice* device() const { return dev_; }
  const MemoryRegion* alias_target() const { return target_; }
  uint64_t alias_offset() const { return alias_offset_; }
  /// A container's subregions, highest priority first.
  const std::vector<MemoryRegion*>& subregions() const { return children_; }

 private:
  friend class AddressSpace;
  MemoryRegion(std::string name, Type type, uint64_t size)
      : name_(std::move(name)), type_(type), size_(size) {}
  /// Overlap, zero size, or the region reaching past its container.
  std::string check_place(const MemoryRegion& child, uint64_t addr, int priority) const;
  /// Every address space this region is (directly or through aliases) visible in.
  void spaces(std::vector<AddressSpace*>& out);
  /// Applies change to the tree under the locks of the spaces it affects, then republishes.
  template <class F>
  auto update(F change);

  std::string name_;
  Type type_;
  uint64_t size_;
  uint64_t addr_ = 0;
  int priority_ = 0;
  bool enabled_ = true;
  bool readonly_ = false;
  uint64_t seq_ = 0;       // insertion order in the container
  uint64_t next_seq_ = 0;  // containers: the last seq_ given
  MemoryRegion* parent_ = nullptr;
  std::vector<MemoryRegion*> children_;  // containers: by priority, highest first
  uint8_t* host_ = nullptr;              // RAM/ROM
  std::shared_ptr<RamBacking> backing_;  // RAM/ROM
  uint64_t backing_offset_ = 0;
  MmioDevice* dev_ = nullptr;               // MMIO
  MemoryRegion* target_ = nullptr;          // alias
  uint64_t alias_offset_ = 0;               // alias
  std::vector<MemoryRegion*> alias_users_;  // aliases of this region
  AddressSpace* space_ = nullptr;           // set on the root container of a space
};

class AddressSpace {
 public:
  /// The whole 64-bit space, e.g. guest-physical memory.
  AddressSpace() : AddressSpace("memory", 0) {}
  /// A space of size bytes (addresses 0..size-1) called name, e.g. the x86 I/O-port space
  /// ("io", 64 KiB; its MMIO regions are the port devices). Regions must lie inside it and
  /// accesses reaching past its end are DecodeErrors. size 0 means the whole 64-bit space.
  AddressSpace(std::string name, uint64_t size);
  ~AddressSpace();
  AddressSpace(const AddressSpace&) = delete;
  AddressSpace& operator=(const AddressSpace&) = delete;

  /// The container everything is mapped in.
  MemoryRegion& root() { return *root_; }

  /// Sugar for a region at priority 0 in the root, owned by the space. Each returns an empty
  /// string on success, or why the region could not be added (overlap, zero size, out of host
  /// memory).
  std::string add_ram(const std::string& name, uint64_t base, uint64_t size);
  /// RAM on host memory the caller made (e.g. a shareable memfd); backing->size() bytes.
  std::string add_ram(const std::string& name, uint64_t base, std::shared_ptr<RamBacking> backing);
  /// RAM on bytes [offset, offset+size) of backing (one backing split into several regions,
  /// e.g. the PC's RAM below and above 4 GiB).
  std::string add_ram(const std::string& name, uint64_t base, std::shared_ptr<RamBacking> backing,
                      uint64_t offset, uint64_t size);
  std::string add_rom(const std::string& name, uint64_t base, uint64_t size);
  std::string add_mmio(const std::string& name, uint64_t base, uint64_t size, MmioDevice& dev);
  /// Maps a region made elsewhere (priority 0 sugar does not fit) and keeps it alive.
  std::string add_owned(std::unique_ptr<MemoryRegion> r, uint64_t base, int priority = 0);

  /// The range containing addr in the current view, or nothing.
  RegionRef find(uint64_t addr) const;

  /// A device or memory access by the guest. Sizes 1/2/4/8; the access must not cross regions.
  MemResult read(uint64_t addr, unsigned size, uint64_t& value, const MemAttrs& attrs = {}) const;
  MemResult write(uint64_t addr, unsigned size, uint64_t value, const MemAttrs& attrs = {}) const;

  /// Who hears of writes made by write_bytes and device DMA (set before any vCPU runs).
  void set_write_observer(GuestWriteObserver* o) { observer_ = o; }
  void notify_written(uint64_t addr, uint64_t len) const {
    if (observer_ && len) observer_->guest_memory_written(addr, len);
  }
  /// Who hears of new views (set before any vCPU runs; several may listen).
  void add_listener(MemoryListener* l);
  /// Adds a RamListener and tells it the current RAM and ROM at once; remove it before it dies.
  void add_ram_listener(RamListener* l);
  void remove_ram_listener(RamListener* l);
  /// The RAM and ROM of the current view, as RamListeners are told them.
  std::vector<RamRange> ram_ranges() const;

  /// Bulk copy for loaders and debuggers; may write ROM. False if any byte is not RAM/ROM.
  bool read_bytes(uint64_t addr, void* dst, uint64_t len) const;
  bool write_bytes(uint64_t addr, const void* src, uint64_t len) const;

  /// Host pointer for [addr, addr+len) when it lies inside one RAM/ROM range, else null. The
  /// host memory lives as long as its region's backing (the space keeps its own regions').
  uint8_t* host_ptr(uint64_t addr, uint64_t len) const;

  /// A copy of the current view, sorted by base.
  std::vector<Region> regions() const;
  const std::string& name() const { return name_; }
  /// Bytes in the space; 0: the whole 64-bit space.
  uint64_t size() const { return size_; }
  /// Views published so far (tests).
  uint64_t generation() const { return generation_.load(std::memory_order_relaxed); }

 private:
  friend class MemoryRegion;
  struct FlatView {
    std::vector<Region> ranges;  // sorted by base, non-overlapping
  };
  // Readers count themselves on one of kStripes cache lines (by thread), under the epoch's
  // parity; a writer flips the parity and waits for the old one to drain, twice.
  static constexpr unsigned kStripes = 16;
  struct alignas(64) Stripe {
    std::atomic<uint64_t> readers[2] = {0, 0};
  };
  class ReadGuard;
  /// True when [addr, addr+len) lies inside the space (len >= 1).
  bool in_bounds(uint64_t addr, uint64_t len) const {
    return size_ == 0 || (len <= size_ && addr <= size_ - len);
  }
  /// Copies the range containing addr out of the current view.
  bool lookup(uint64_t addr, Region& out) const;
  /// Rebuilds and publishes the view; returns what changed. Update lock held.
  std::vector<AddrRange> commit_locked();
  void notify_listeners(const std::vector<AddrRange>& changed);
  /// Waits until no reader can be inside a view published before the last store.
  void synchronize_readers();
  std::string_view intern(const std::string& s);

  std::string name_;
  uint64_t size_;
  std::unique_ptr<MemoryRegion> root_;
  std::vector<std::unique_ptr<MemoryRegion>> owned_;
  GuestWriteObserver* observer_ = nullptr;
  std::vector<MemoryListener*> listeners_;
  std::vector<RamListener*> ram_listeners_;  // guarded by update_mu_
  std::vector<RamRange> ram_told_;           // what they were told last; update_mu_

  std::mutex update_mu_;  // serializes tree changes and publishing
  std::atomic<const FlatView*> view_;
  std::unique_ptr<const FlatView> current_;  // owns view_
  std::atomic<uint64_t> generation_{0};
  std::atomic<unsigned> epoch_{0};
  mutable std::array<Stripe, kStripes> stripes_;
  std::deque<std::string> names_;  // interned region names (Region::name points here)
};

}  // namespace orrery::hw
