#include "hw/core/address_space.h"

#include <pthread.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <thread>

#include "hw/core/host_access.h"

namespace orrery::hw {

using I128 = __int128;

// ---- Readers ----

// Announces a reader of the current view for its lifetime (see AddressSpace::Stripe).
class AddressSpace::ReadGuard {
 public:
  explicit ReadGuard(const AddressSpace& as)
      : stripe_(as.stripes_[(uintptr_t(pthread_self()) >> 12) % kStripes]) {
    parity_ = as.epoch_.load(std::memory_order_seq_cst) & 1;
    stripe_.readers[parity_].fetch_add(1, std::memory_order_seq_cst);
    view = as.view_.load(std::memory_order_seq_cst);
  }
  ~ReadGuard() { stripe_.readers[parity_].fetch_sub(1, std::memory_order_release); }
  ReadGuard(const ReadGuard&) = delete;
  ReadGuard& operator=(const ReadGuard&) = delete;

  const FlatView* view;

 private:
  Stripe& stripe_;
  unsigned parity_;
};

namespace {

const Region* search(const std::vector<Region>& v, uint64_t addr) {
  auto it = std::upper_bound(v.begin(), v.end(), addr,
                             [](uint64_t a, const Region& r) { return a < r.base; });
  if (it == v.begin()) return nullptr;
  --it;
  return it->contains(addr) ? &*it : nullptr;
}

}  // namespace

void AddressSpace::synchronize_readers() {
  // Two flips: the first lets readers of the old parity drain while new ones count on the
  // other; the second drains readers that read the parity just before the first flip.
  for (int i = 0; i < 2; ++i) {
    const unsigned old = epoch_.fetch_add(1, std::memory_order_seq_cst) & 1;
    for (Stripe& s : stripes_)
      while (s.readers[old].load(std::memory_order_seq_cst) != 0) std::this_thread::yield();
  }
}

bool AddressSpace::lookup(uint64_t addr, Region& out) const {
  ReadGuard g(*this);
  const Region* r = search(g.view->ranges, addr);
  if (!r) return false;
  out = *r;
  return true;
}

RegionRef AddressSpace::find(uint64_t addr) const {
  Region r;
  return lookup(addr, r) ? RegionRef(r) : RegionRef();
}

std::vector<Region> AddressSpace::regions() const {
  ReadGuard g(*this);
  return g.view->ranges;
}

// ---- The tree ----

std::unique_ptr<MemoryRegion> MemoryRegion::container(std::string name, uint64_t size) {
  return std::unique_ptr<MemoryRegion>(new MemoryRegion(std::move(name), Type::Container, size));
}

std::unique_ptr<MemoryRegion> MemoryRegion::ram(std::string name, std::shared_ptr<RamBacking> b,
                                                uint64_t offset, uint64_t size,
                                                std::string& error) {
  if (!b || offset > b->size() || size > b->size() - offset) {
    error = name + ": bytes outside the memory backend";
    return nullptr;
  }
  auto r = std::unique_ptr<MemoryRegion>(new MemoryRegion(std::move(name), Type::Ram, size));
  r->host_ = b->host() + offset;
  r->backing_offset_ = offset;
  r->backing_ = std::move(b);
  return r;
}

std::unique_ptr<MemoryRegion> MemoryRegion::ram(std::string name, uint64_t size,
                                                std::string& error) {
  if (size == 0) {
    error = name + ": region has zero size";
    return nullptr;
  }
  std::string err;
  std::shared_ptr<RamBacking> b = RamBacking::anonymous(size, err);
  if (!b) {
    error = name + ": " + err;
    return nullptr;
  }
  return ram(std::move(name), std::move(b), 0, size, error);
}

std::unique_ptr<MemoryRegion> MemoryRegion::rom(std::string name, uint64_t size,
                                                std::string& error) {
  auto r = ram(std::move(name), size, error);
  if (r) r->type_ = Type::Rom;
  return r;
}

std::unique_ptr<MemoryRegion> MemoryRegion::mmio(std::string name, uint64_t size, MmioDevice& dev) {
  auto r = std::unique_ptr<MemoryRegion>(new MemoryRegion(std::move(name), Type::Mmio, size));
  r->dev_ = &dev;
  return r;
}

std::unique_ptr<MemoryRegion> MemoryRegion::alias(std::string name, MemoryRegion& target,
                                                  uint64_t offset, uint64_t size) {
  auto r = std::unique_ptr<MemoryRegion>(new MemoryRegion(std::move(name), Type::Alias, size));
  r->target_ = &target;
  r->alias_offset_ = offset;
  target.alias_users_.push_back(r.get());
  return r;
}

MemoryRegion::~MemoryRegion() {
  if (parent_) parent_->remove_subregion(*this);
  for (MemoryRegion* c : children_) c->parent_ = nullptr;
  for (MemoryRegion* u : alias_users_) u->target_ = nullptr;
  if (target_) std::erase(target_->alias_users_, this);
}

void MemoryRegion::spaces(std::vector<AddressSpace*>& out) {
  // Bounded walk: an alias cycle (a guest cannot make one; a board bug could) must not hang.
  std::vector<MemoryRegion*> todo{this};
  for (unsigned steps = 0; !todo.empty() && steps < 4096; ++steps) {
    MemoryRegion* n = todo.back();
    todo.pop_back();
    for (MemoryRegion* u : n->alias_users_) todo.push_back(u);
    if (n->parent_) {
      todo.push_back(n->parent_);
    } else if (n->space_ && std::find(out.begin(), out.end(), n->space_) == out.end()) {
      out.push_back(n->space_);
    }
  }
}

template <class F>
auto MemoryRegion::update(F change) {
  std::vector<AddressSpace*> sp;
  spaces(sp);
  std::sort(sp.begin(), sp.end());  // one lock order
  std::vector<std::unique_lock<std::mutex>> locks;
  for (AddressSpace* s : sp) locks.emplace_back(s->update_mu_);
  auto result = change();
  std::vector<std::vector<AddrRange>> changed;
  for (AddressSpace* s : sp) changed.push_back(s->commit_locked());
  locks.clear();
  // Listeners run with no space locked: the TCG engine may make vCPUs flush their TLBs.
  for (size_t i = 0; i < sp.size(); ++i)
    if (!changed[i].empty()) sp[i]->notify_listeners(changed[i]);
  return result;
}

std::string MemoryRegion::check_place(const MemoryRegion& child, uint64_t addr,
                                      int priority) const {
  if (child.size_ == 0) return child.name_ + ": region has zero size";
  if (addr + child.size_ - 1 < addr) return child.name_ + ": region wraps the address space";
  if (space_ && space_->size_ != 0 && !space_->in_bounds(addr, child.size_))
    return child.name_ + ": region lies outside " + space_->name_;
  if (!child.enabled_) return {};
  for (const MemoryRegion* o : children_) {
    if (o == &child || !o->enabled_ || o->priority_ != priority) continue;
    if (addr <= o->addr_ + o->size_ - 1 && o->addr_ <= addr + child.size_ - 1)
      return child.name_ + ": overlaps " + o->name_;
  }
  return {};
}

std::string MemoryRegion::add_subregion(MemoryRegion& child, uint64_t addr, int priority) {
  if (type_ != Type::Container) return child.name_ + ": " + name_ + " is not a container";
  if (child.parent_ || child.space_) return child.name_ + ": region is already mapped";
  return update([&]() -> std::string {
    std::string err = check_place(child, addr, priority);
    if (!err.empty()) return err;
    child.addr_ = addr;
    child.priority_ = priority;
    child.parent_ = this;
    child.seq_ = ++next_seq_;
    children_.push_back(&child);
    // Highest priority first; among equals the later one (only disabled overlaps tie).
    std::stable_sort(children_.begin(), children_.end(), [](auto* a, auto* b) {
      return a->priority_ != b->priority_ ? a->priority_ > b->priority_ : a->seq_ > b->seq_;
    });
    return {};
  });
}

void MemoryRegion::remove_subregion(MemoryRegion& child) {
  if (child.parent_ != this) return;
  update([&] {
    std::erase(children_, &child);
    child.parent_ = nullptr;
    return 0;
  });
}

void MemoryRegion::set_enabled(bool enabled) {
  if (enabled == enabled_) return;
  update([&] {
    if (enabled && parent_) {
      // Enabling onto a sibling of the same priority is refused like mapping it there.
      enabled_ = true;
      if (!parent_->check_place(*this, addr_, priority_).empty()) enabled_ = false;
    } else {
      enabled_ = enabled;
    }
    return 0;
  });
}

std::string MemoryRegion::set_address(uint64_t addr) {
  if (!parent_) {
    addr_ = addr;
    return {};
  }
  return update([&]() -> std::string {
    std::string err = parent_->check_place(*this, addr, priority_);
    if (!err.empty()) return err;
    addr_ = addr;
    return {};
  });
}

void MemoryRegion::set_alias_offset(uint64_t offset) {
  update([&] {
    alias_offset_ = offset;
    return 0;
  });
}

void MemoryRegion::set_readonly(bool readonly) {
  if (readonly == readonly_) return;
  update([&] {
    readonly_ = readonly;
    return 0;
  });
}

// ---- Flattening ----

namespace {

// Renders a tree into non-overlapping ranges: higher priorities first, each range filling only
// what is still uncovered.
class Flattener {
 public:
  explicit Flattener(std::function<std::string_view(const std::string&)> intern)
      : intern_(std::move(intern)) {}

  void render(const MemoryRegion& n, I128 origin, I128 lo, I128 last, std::string_view alias,
              unsigned depth, bool readonly = false) {
    if (depth > 32 || n.size() == 0 || !n.enabled()) return;
    readonly = readonly || n.readonly();
    lo = std::max(lo, origin);
    last = std::min(last, origin + I128(n.size()) - 1);
    if (lo > last) return;
    switch (n.type()) {
      case MemoryRegion::Type::Container:
        for (const MemoryRegion* c : n.subregions())
          render(*c, origin + c->address(), lo, last, alias, depth + 1, readonly);
        return;
      case MemoryRegion::Type::Alias:
        if (const MemoryRegion* t = n.alias_target())
          render(*t, origin - I128(n.alias_offset()), lo, last,
                 alias.empty() ? intern_(n.name()) : alias, depth + 1, readonly);
        return;
      default:
        leaf(n, origin, lo, last, alias.empty() ? intern_(n.name()) : alias, readonly);
        return;
    }
  }

  std::vector<Region> take() {
    std::vector<Region> v;
    v.reserve(out_.size());
    for (auto& [base, r] : out_) v.push_back(r);
    return v;
  }

 private:
  void leaf(const MemoryRegion& n, I128 origin, I128 lo, I128 last, std::string_view name,
            bool readonly) {
    Region t;
    t.name = name;
    t.kind = n.type() == MemoryRegion::Type::Mmio              ? RegionKind::Mmio
             : n.type() == MemoryRegion::Type::Rom || readonly ? RegionKind::Rom
                                                               : RegionKind::Ram;
    t.host = n.host();
    t.dev = n.device();
    t.backing = n.backing().get();
    t.backing_offset = n.backing_offset();
    auto emit = [&](I128 a, I128 b) {
      Region r = t;
      const uint64_t rel = uint64_t(a - origin);
      r.base = uint64_t(a);
      r.size = uint64_t(b - a + 1);
      if (r.host) r.host += rel;
      if (r.kind == RegionKind::Mmio) r.offset = rel;
      r.backing_offset += rel;
      out_.emplace(r.base, r);
    };
    I128 cursor = lo;
    auto it = out_.upper_bound(uint64_t(lo));
    if (it != out_.begin()) {
      auto prev = std::prev(it);
      cursor = std::max(cursor, I128(prev->second.base) + prev->second.size);
    }
    std::vector<std::pair<I128, I128>> gaps;
    for (; it != out_.end() && I128(it->second.base) <= last; ++it) {
      if (I128(it->second.base) > cursor) gaps.emplace_back(cursor, I128(it->second.base) - 1);
      cursor = std::max(cursor, I128(it->second.base) + it->second.size);
    }
    if (cursor <= last) gaps.emplace_back(cursor, last);
    for (auto [a, b] : gaps) emit(a, b);
  }

  std::function<std::string_view(const std::string&)> intern_;
  std::map<uint64_t, Region> out_;
};

}  // namespace

// ---- The space ----

AddressSpace::AddressSpace(std::string name, uint64_t size)
    : name_(std::move(name)),
      size_(size),
      root_(MemoryRegion::container(name_, size ? size : ~0ull)) {
  root_->space_ = this;
  current_ = std::make_unique<FlatView>();
  view_.store(current_.get());
}

AddressSpace::~AddressSpace() {
  // Unhook the tree first: the regions' destructors must not republish a dying space.
  root_->space_ = nullptr;
  for (MemoryRegion* c : root_->children_) c->parent_ = nullptr;
  root_->children_.clear();
}

std::string_view AddressSpace::intern(const std::string& s) {
  for (const std::string& n : names_)
    if (n == s) return n;
  return names_.emplace_back(s);
}

void AddressSpace::add_listener(MemoryListener* l) {
  std::lock_guard lk(update_mu_);
  listeners_.push_back(l);
}

namespace {

std::vector<RamRange> ram_of(const std::vector<Region>& view) {
  std::vector<RamRange> out;
  for (const Region& r : view) {
    if (r.kind == RegionKind::Mmio) continue;
    RamRange x{r.base,
               r.size,
               r.host,
               r.kind == RegionKind::Rom,
               r.backing ? r.backing->fd() : -1,
               r.backing ? r.backing_offset : 0};
    if (!out.empty()) {
      RamRange& p = out.back();
      if (p.base + p.size == x.base && p.host + p.size == x.host && p.readonly == x.readonly &&
          p.fd == x.fd && (x.fd < 0 || p.fd_offset + p.size == x.fd_offset)) {
        p.size += x.size;
        continue;
      }
    }
    out.push_back(x);
  }
  return out;
}

}  // namespace

std::vector<RamRange> AddressSpace::ram_ranges() const {
  ReadGuard g(*this);
  return ram_of(g.view->ranges);
}

void AddressSpace::add_ram_listener(RamListener* l) {
  std::lock_guard lk(update_mu_);
  ram_told_ = ram_of(current_->ranges);
  l->ram_changed(*this, ram_told_);
  ram_listeners_.push_back(l);
}

void AddressSpace::remove_ram_listener(RamListener* l) {
  std::lock_guard lk(update_mu_);
  std::erase(ram_listeners_, l);
}

void AddressSpace::notify_listeners(const std::vector<AddrRange>& changed) {
  std::vector<MemoryListener*> ls;
  {
    std::lock_guard lk(update_mu_);
    ls = listeners_;
  }
  for (MemoryListener* l : ls) l->memory_map_changed(*this, changed);
}

namespace {

// Where the bytes at addr come from in a view, for comparing two views.
struct Source {
  bool mapped = false;
  RegionKind kind = RegionKind::Ram;
  const uint8_t* host = nullptr;   // RAM, ROM: the host byte
  const MmioDevice* dev = nullptr;  // MMIO: the device, at offset
  uint64_t offset = 0;
  bool operator==(const Source&) const = default;
};

Source source_at(const std::vector<Region>& v, uint64_t addr) {
  const Region* r = search(v, addr);
  if (!r) return {};
  if (r->kind == RegionKind::Mmio)
    return {true, r->kind, nullptr, r->dev, r->offset + (addr - r->base)};
  return {true, r->kind, r->host + (addr - r->base), nullptr, 0};
}

// The ranges whose bytes come from somewhere else in b than in a.
std::vector<AddrRange> diff(const std::vector<Region>& a, const std::vector<Region>& b) {
  std::vector<I128> cuts;
  for (const auto* v : {&a, &b})
    for (const Region& r : *v) {
      cuts.push_back(r.base);
      cuts.push_back(I128(r.base) + r.size);
    }
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  std::vector<AddrRange> out;
  for (size_t i = 0; i + 1 < cuts.size(); ++i) {
    const uint64_t s = uint64_t(cuts[i]);
    const I128 len = cuts[i + 1] - cuts[i];
    if (source_at(a, s) == source_at(b, s)) continue;
    if (!out.empty() && I128(out.back().addr) + out.back().len == cuts[i]) {
      out.back().len += uint64_t(len);
    } else {
      out.push_back({s, uint64_t(len)});
    }
  }
  return out;
}

}  // namespace

std::vector<AddrRange> AddressSpace::commit_locked() {
  Flattener f([this](const std::string& s) { return intern(s); });
  const I128 last = size_ ? I128(size_) - 1 : I128(~0ull);
  for (const MemoryRegion* c : root_->children_) f.render(*c, c->addr_, 0, last, {}, 1);
  auto next = std::make_unique<FlatView>();
  next->ranges = f.take();
  std::vector<AddrRange> changed = diff(current_->ranges, next->ranges);
  if (!ram_listeners_.empty()) {
    // RAM listeners map the new RAM before anyone can use it through the new view.
    std::vector<RamRange> ram = ram_of(next->ranges);
    if (ram != ram_told_) {
      ram_told_ = std::move(ram);
      for (RamListener* l : ram_listeners_) l->ram_changed(*this, ram_told_);
    }
  }
  view_.store(next.get(), std::memory_order_seq_cst);
  generation_.fetch_add(1, std::memory_order_relaxed);
  // The old view is freed once no reader can be inside it (update lock held: one at a time).
  synchronize_readers();
  current_ = std::move(next);
  return changed;
}

// ---- Sugar ----

std::string AddressSpace::add_owned(std::unique_ptr<MemoryRegion> r, uint64_t base, int priority) {
  std::string err = root_->add_subregion(*r, base, priority);
  if (err.empty()) owned_.push_back(std::move(r));
  return err;
}

std::string AddressSpace::add_ram(const std::string& name, uint64_t base, uint64_t size) {
  std::string err;
  auto r = MemoryRegion::ram(name, size, err);
  return r ? add_owned(std::move(r), base) : err;
}

std::string AddressSpace::add_ram(const std::string& name, uint64_t base,
                                  std::shared_ptr<RamBacking> backing) {
  const uint64_t size = backing->size();
  return add_ram(name, base, std::move(backing), 0, size);
}

std::string AddressSpace::add_ram(const std::string& name, uint64_t base,
                                  std::shared_ptr<RamBacking> backing, uint64_t offset,
                                  uint64_t size) {
  std::string err;
  auto r = MemoryRegion::ram(name, std::move(backing), offset, size, err);
  return r ? add_owned(std::move(r), base) : err;
}

std::string AddressSpace::add_rom(const std::string& name, uint64_t base, uint64_t size) {
  std::string err;
  auto r = MemoryRegion::rom(name, size, err);
  return r ? add_owned(std::move(r), base) : err;
}

std::string AddressSpace::add_mmio(const std::string& name, uint64_t base, uint64_t size,
                                   MmioDevice& dev) {
  return add_owned(MemoryRegion::mmio(name, size, dev), base);
}

// ---- Accesses ----

MemResult mmio_access(MmioDevice& dev, uint64_t off, unsigned size, uint64_t& value, bool write,
                      const MemAttrs& attrs) {
  AccessRules v = dev.valid();
  if (size < v.min_size || size > v.max_size) return MemResult::DeviceError;
  if (!v.unaligned && (off & (size - 1))) return MemResult::DeviceError;
  auto rd = [&](uint64_t o, unsigned n, uint64_t& x) { return dev.read_attrs(o, n, x, attrs); };
  auto wr = [&](uint64_t o, unsigned n, uint64_t x) { return dev.write_attrs(o, n, x, attrs); };
  AccessRules im = dev.impl();
  if (size >= im.min_size && size <= im.max_size)
    return write ? wr(off, size, value) : rd(off, size, value);
  if (size > im.max_size) {
    // Split into impl-sized pieces, little-endian.
    unsigned piece = im.max_size;
    uint64_t result = 0;
    for (unsigned done = 0; done < size; done += piece) {
      uint64_t part = write ? (value >> (done * 8)) : 0;
      if (piece < 8) part &= (1ull << (piece * 8)) - 1;
      MemResult r = write ? wr(off + done, piece, part) : rd(off + done, piece, part);
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
  MemResult r = rd(base, unit, word);
  if (r != MemResult::Ok) return r;
  uint64_t m = (size >= 8 ? ~0ull : (1ull << (size * 8)) - 1) << shift;
  if (!write) {
    value = (word & m) >> shift;
    return MemResult::Ok;
  }
  word = (word & ~m) | ((value << shift) & m);
  return wr(base, unit, word);
}

// RAM and ROM are copied inside the read section (short, and no copy of the range needed);
// devices are called after it, so a device may change the map.
MemResult AddressSpace::read(uint64_t addr, unsigned size, uint64_t& value,
                             const MemAttrs& attrs) const {
  if (!in_bounds(addr, size)) return MemResult::DecodeError;
  MmioDevice* dev;
  uint64_t off;
  {
    ReadGuard g(*this);
    const Region* r = search(g.view->ranges, addr);
    if (!r || addr + size - 1 - r->base >= r->size) return MemResult::DecodeError;
    if (r->kind != RegionKind::Mmio) {
      value = host_load(r->host + (addr - r->base), size);
      return MemResult::Ok;
    }
    dev = r->dev;
    off = r->offset + (addr - r->base);
  }
  return mmio_access(*dev, off, size, value, false, attrs);
}

MemResult AddressSpace::write(uint64_t addr, unsigned size, uint64_t value,
                              const MemAttrs& attrs) const {
  if (!in_bounds(addr, size)) return MemResult::DecodeError;
  MmioDevice* dev;
  uint64_t off;
  {
    ReadGuard g(*this);
    const Region* r = search(g.view->ranges, addr);
    if (!r || addr + size - 1 - r->base >= r->size) return MemResult::DecodeError;
    if (r->kind == RegionKind::Rom) return MemResult::Ok;  // ignored, as on hardware
    if (r->kind == RegionKind::Ram) {
      host_store(r->host + (addr - r->base), size, value);
      return MemResult::Ok;
    }
    dev = r->dev;
    off = r->offset + (addr - r->base);
  }
  return mmio_access(*dev, off, size, value, true, attrs);
}

uint8_t* AddressSpace::host_ptr(uint64_t addr, uint64_t len) const {
  ReadGuard g(*this);
  const Region* r = search(g.view->ranges, addr);
  if (!r || r->kind == RegionKind::Mmio) return nullptr;
  if (len > r->size || addr - r->base > r->size - len) return nullptr;
  return r->host + (addr - r->base);
}

bool AddressSpace::read_bytes(uint64_t addr, void* dst, uint64_t len) const {
  auto* out = static_cast<uint8_t*>(dst);
  ReadGuard g(*this);
  while (len) {
    const Region* r = search(g.view->ranges, addr);
    if (!r || r->kind == RegionKind::Mmio) return false;
    uint64_t n = std::min(len, r->size - (addr - r->base));
    std::memcpy(out, r->host + (addr - r->base), n);
    out += n, addr += n, len -= n;
  }
  return true;
}

bool AddressSpace::write_bytes(uint64_t addr, const void* src, uint64_t len) const {
  auto* in = static_cast<const uint8_t*>(src);
  const uint64_t start = addr, total = len;
  {
    ReadGuard g(*this);
    while (len) {
      const Region* r = search(g.view->ranges, addr);
      if (!r || r->kind == RegionKind::Mmio) {
        notify_written(start, total - len);
        return false;
      }
      uint64_t n = std::min(len, r->size - (addr - r->base));
      std::memcpy(r->host + (addr - r->base), in, n);
      in += n, addr += n, len -= n;
    }
  }
  notify_written(start, total);  // outside the read section: the engine takes its lock
  return true;
}

}  // namespace orrery::hw
