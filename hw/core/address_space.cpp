#include "hw/core/address_space.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>

#include "hw/core/host_access.h"

namespace orrery::hw {

AddressSpace::~AddressSpace() = default;

std::string AddressSpace::insert(Region r) {
  if (r.size == 0) return r.name + ": region has zero size";
  if (r.base + r.size - 1 < r.base) return r.name + ": region wraps the address space";
  if (!in_bounds(r.base, r.size)) return r.name + ": region lies outside " + name_;
  for (const Region& o : regions_) {
    if (r.base <= o.base + o.size - 1 && o.base <= r.base + r.size - 1)
      return r.name + ": overlaps " + o.name;
  }
  auto it = std::lower_bound(regions_.begin(), regions_.end(), r.base,
                             [](const Region& x, uint64_t b) { return x.base < b; });
  regions_.insert(it, std::move(r));
  return {};
}

std::string AddressSpace::add_host(const std::string& name, uint64_t base, RegionKind kind,
                                   std::shared_ptr<RamBacking> backing) {
  Region r{name, base, backing->size(), kind, backing->host(), nullptr, backing.get()};
  std::string err = insert(std::move(r));
  if (err.empty()) backings_.push_back(std::move(backing));
  return err;
}

std::string AddressSpace::add_ram(const std::string& name, uint64_t base, uint64_t size) {
  if (size == 0) return name + ": region has zero size";
  std::string err;
  std::shared_ptr<RamBacking> b = RamBacking::anonymous(size, err);
  if (!b) return name + ": " + err;
  return add_host(name, base, RegionKind::Ram, std::move(b));
}

std::string AddressSpace::add_ram(const std::string& name, uint64_t base,
                                  std::shared_ptr<RamBacking> backing) {
  return add_host(name, base, RegionKind::Ram, std::move(backing));
}

std::string AddressSpace::add_ram(const std::string& name, uint64_t base,
                                  std::shared_ptr<RamBacking> backing, uint64_t offset,
                                  uint64_t size) {
  if (offset > backing->size() || size > backing->size() - offset)
    return name + ": bytes outside the memory backend";
  Region r{name,    base,          size,  RegionKind::Ram, backing->host() + offset,
           nullptr, backing.get(), offset};
  std::string err = insert(std::move(r));
  if (err.empty()) backings_.push_back(std::move(backing));
  return err;
}

std::string AddressSpace::add_rom(const std::string& name, uint64_t base, uint64_t size) {
  if (size == 0) return name + ": region has zero size";
  std::string err;
  std::shared_ptr<RamBacking> b = RamBacking::anonymous(size, err);
  if (!b) return name + ": " + err;
  return add_host(name, base, RegionKind::Rom, std::move(b));
}

std::string AddressSpace::add_mmio(const std::string& name, uint64_t base, uint64_t size,
                                   MmioDevice& dev) {
  return insert(Region{name, base, size, RegionKind::Mmio, nullptr, &dev});
}

const Region* AddressSpace::find(uint64_t addr) const {
  auto it = std::upper_bound(regions_.begin(), regions_.end(), addr,
                             [](uint64_t a, const Region& r) { return a < r.base; });
  if (it == regions_.begin()) return nullptr;
  --it;
  return it->contains(addr) ? &*it : nullptr;
}

MemResult mmio_access(MmioDevice& dev, uint64_t off, unsigned size, uint64_t& value, bool write) {
  AccessRules v = dev.valid();
  if (size < v.min_size || size > v.max_size) return MemResult::DeviceError;
  if (!v.unaligned && (off & (size - 1))) return MemResult::DeviceError;
  AccessRules im = dev.impl();
  if (size >= im.min_size && size <= im.max_size)
    return write ? dev.write(off, size, value) : dev.read(off, size, value);
  if (size > im.max_size) {
    // Split into impl-sized pieces, little-endian.
    unsigned piece = im.max_size;
    uint64_t result = 0;
    for (unsigned done = 0; done < size; done += piece) {
      uint64_t part = write ? (value >> (done * 8)) : 0;
      if (piece < 8) part &= (1ull << (piece * 8)) - 1;
      MemResult r = write ? dev.write(off + done, piece, part) : dev.read(off + done, piece, part);
      if (r != MemResult::Ok) return r;
      if (!write) result |= part << (done * 8);
    }
    if (!write) value = result;
    return MemResult::Ok;
  }
  // Narrower than the device implements: access the containing aligned unit.
  unsigned unit = im.min_size;
  uint64_t base = off & ~uint64_t(unit - 1);
  unsigned shift = unsigned(off - base) * 8;
  uint64_t word = 0;
  MemResult r = dev.read(base, unit, word);
  if (r != MemResult::Ok) return r;
  uint64_t m = (size >= 8 ? ~0ull : (1ull << (size * 8)) - 1) << shift;
  if (!write) {
    value = (word & m) >> shift;
    return MemResult::Ok;
  }
  word = (word & ~m) | ((value << shift) & m);
  return dev.write(base, unit, word);
}

MemResult AddressSpace::read(uint64_t addr, unsigned size, uint64_t& value) const {
  if (!in_bounds(addr, size)) return MemResult::DecodeError;
  const Region* r = find(addr);
  if (!r || addr + size - 1 - r->base >= r->size) return MemResult::DecodeError;
  if (r->kind == RegionKind::Mmio) return mmio_access(*r->dev, addr - r->base, size, value, false);
  value = host_load(r->host + (addr - r->base), size);
  return MemResult::Ok;
}

MemResult AddressSpace::write(uint64_t addr, unsigned size, uint64_t value) const {
  if (!in_bounds(addr, size)) return MemResult::DecodeError;
  const Region* r = find(addr);
  if (!r || addr + size - 1 - r->base >= r->size) return MemResult::DecodeError;
  switch (r->kind) {
    case RegionKind::Mmio:
      return mmio_access(*r->dev, addr - r->base, size, value, true);
    case RegionKind::Rom:
      return MemResult::Ok;  // writes to ROM are ignored, as on hardware
    case RegionKind::Ram:
      host_store(r->host + (addr - r->base), size, value);
      return MemResult::Ok;
  }
  return MemResult::DecodeError;
}

uint8_t* AddressSpace::host_ptr(uint64_t addr, uint64_t len) const {
  const Region* r = find(addr);
  if (!r || r->kind == RegionKind::Mmio) return nullptr;
  if (len > r->size || addr - r->base > r->size - len) return nullptr;
  return r->host + (addr - r->base);
}

bool AddressSpace::read_bytes(uint64_t addr, void* dst, uint64_t len) const {
  auto* out = static_cast<uint8_t*>(dst);
  while (len) {
    const Region* r = find(addr);
    if (!r || r->kind == RegionKind::Mmio) return false;
    uint64_t n = std::min(len, r->size - (addr - r->base));
    std::memcpy(out, r->host + (addr - r->base), n);
    out += n, addr += n, len -= n;
  }
  return true;
}

bool AddressSpace::write_bytes(uint64_t addr, const void* src, uint64_t len) const {
  auto* in = static_cast<const uint8_t*>(src);
  while (len) {
    const Region* r = find(addr);
    if (!r || r->kind == RegionKind::Mmio) return false;
    uint64_t n = std::min(len, r->size - (addr - r->base));
    std::memcpy(r->host + (addr - r->base), in, n);
    notify_written(addr, n);
    in += n, addr += n, len -= n;
  }
  return true;
}

}  // namespace orrery::hw
