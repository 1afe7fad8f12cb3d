#include "hw/core/guest_memory.h"

#include <algorithm>
#include <array>

namespace orrery::hw {

namespace {

// Calls fn(region, offset, n) for each piece of [addr, addr+len); false if the range wraps or
// some byte lies outside every acceptable region (before fn sees any piece).
template <class Fn>
bool for_each_piece(const AddressSpace& as, uint64_t addr, uint64_t len, bool for_write, Fn fn) {
  if (len == 0) return true;
  if (addr + (len - 1) < addr) return false;
  auto usable = [&](const RegionRef& r) {
    return r && (r->kind == RegionKind::Ram || (!for_write && r->kind == RegionKind::Rom));
  };
  // Collect the whole range first, so a failing request has no partial effect, and so every
  // piece comes from lookups made before any is used (the view may change meanwhile).
  struct Piece {
    uint8_t* host;
    uint64_t n;
  };
  std::array<Piece, 4> few;
  std::vector<Piece> many;
  size_t count = 0;
  for (uint64_t a = addr, left = len; left;) {
    const RegionRef r = as.find(a);
    if (!usable(r)) return false;
    const uint64_t n = std::min(left, r->size - (a - r->base));
    const Piece p{r->host + (a - r->base), n};
    if (count < few.size()) {
      few[count] = p;
    } else {
      if (many.empty()) many.assign(few.begin(), few.end());
      many.push_back(p);
    }
    ++count;
    a += n, left -= n;
  }
  const Piece* pieces = many.empty() ? few.data() : many.data();
  for (size_t i = 0; i < count; ++i) fn(pieces[i].host, pieces[i].n);
  return true;
}

}  // namespace

bool GuestMemory::read(uint64_t addr, std::span<uint8_t> out) const {
  if (!allowed()) return false;
  uint8_t* p = out.data();
  return for_each_piece(as_, addr, out.size(), false, [&](uint8_t* host, uint64_t n) {
    std::memcpy(p, host, n);
    p += n;
  });
}

bool GuestMemory::write(uint64_t addr, std::span<const uint8_t> in) const {
  if (!allowed()) return false;
  const uint8_t* p = in.data();
  bool ok = for_each_piece(as_, addr, in.size(), true, [&](uint8_t* host, uint64_t n) {
    std::memcpy(host, p, n);
    p += n;
  });
  if (ok) as_.notify_written(addr, in.size());
  return ok;
}

bool GuestMemory::map(uint64_t addr, uint64_t len, bool for_write, std::vector<iovec>& out) const {
  if (!allowed()) return false;
  return for_each_piece(as_, addr, len, for_write, [&](uint8_t* host, uint64_t n) {
    // Adjacent regions are separate host mappings, so each piece is its own iovec.
    out.push_back(iovec{host, size_t(n)});
  });
}

MemResult GuestMemory::read_word(uint64_t addr, unsigned size, uint64_t& value) const {
  if (!allowed()) return MemResult::DecodeError;
  return as_.read(addr, size, value, attrs_);
}

MemResult GuestMemory::write_word(uint64_t addr, unsigned size, uint64_t value) const {
  if (!allowed()) return MemResult::DecodeError;
  const MemResult r = as_.write(addr, size, value, attrs_);
  if (r == MemResult::Ok) as_.notify_written(addr, size);
  return r;
}

}  // namespace orrery::hw
