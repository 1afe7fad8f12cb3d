#include "hw/core/guest_memory.h"

#include <algorithm>

namespace orrery::hw {

namespace {

// Calls fn(region, offset, n) for each piece of [addr, addr+len); false if the range wraps or
// some byte lies outside every acceptable region (before fn sees any piece).
template <class Fn>
bool for_each_piece(const AddressSpace& as, uint64_t addr, uint64_t len, bool for_write, Fn fn) {
  if (len == 0) return true;
  if (addr + (len - 1) < addr) return false;
  auto usable = [&](const Region* r) {
    return r && (r->kind == RegionKind::Ram || (!for_write && r->kind == RegionKind::Rom));
  };
  // Check the whole range first, so a failing request has no partial effect.
  for (uint64_t a = addr, left = len; left;) {
    const Region* r = as.find(a);
    if (!usable(r)) return false;
    uint64_t n = std::min(left, r->size - (a - r->base));
    a += n, left -= n;
  }
  for (uint64_t a = addr, left = len; left;) {
    const Region* r = as.find(a);
    uint64_t n = std::min(left, r->size - (a - r->base));
    fn(*r, a - r->base, n);
    a += n, left -= n;
  }
  return true;
}

}  // namespace

bool GuestMemory::read(uint64_t addr, std::span<uint8_t> out) const {
  if (!allowed()) return false;
  uint8_t* p = out.data();
  return for_each_piece(as_, addr, out.size(), false,
                        [&](const Region& r, uint64_t off, uint64_t n) {
                          std::memcpy(p, r.host + off, n);
                          p += n;
                        });
}

bool GuestMemory::write(uint64_t addr, std::span<const uint8_t> in) const {
  if (!allowed()) return false;
  const uint8_t* p = in.data();
  bool ok =
      for_each_piece(as_, addr, in.size(), true, [&](const Region& r, uint64_t off, uint64_t n) {
        std::memcpy(r.host + off, p, n);
        p += n;
      });
  if (ok) as_.notify_written(addr, in.size());
  return ok;
}

bool GuestMemory::map(uint64_t addr, uint64_t len, bool for_write, std::vector<iovec>& out) const {
  if (!allowed()) return false;
  return for_each_piece(as_, addr, len, for_write, [&](const Region& r, uint64_t off, uint64_t n) {
    // Adjacent regions are separate host mappings, so each piece is its own iovec.
    out.push_back(iovec{r.host + off, size_t(n)});
  });
}

}  // namespace orrery::hw
