#include "hw/pci/pci_bus.h"

#include <algorithm>

#include "hw/core/address_space.h"

namespace orrery::hw::pci {

bool MemoryMsiSink::deliver_msi(const MsiMessage& msg) {
  if (as_.write(msg.address, 4, msg.data) != MemResult::Ok) return false;
  const RegionRef r = as_.find(msg.address);
  if (r && r->kind == RegionKind::Ram) as_.notify_written(msg.address, 4);  // a DMA write
  return true;
}

PciBus::PciBus(Log& log, uint64_t mem_base, uint64_t mem_size, uint64_t io_size, uint64_t io_base)
    : log_(log),
      mem_base_(mem_base),
      mem_size_(mem_size),
      io_size_(io_size),
      io_base_(io_base),
      mem_region_(MemoryRegion::container("pci-mem", mem_size)),
      io_region_(MemoryRegion::container("pci-io", io_size)),
      mem_abort_(MemoryRegion::mmio("pci-mem-unassigned", mem_size, mem_unassigned_)),
      io_abort_(MemoryRegion::mmio("pci-io-unassigned", io_size, io_unassigned_)) {
  // Below every BAR (their priorities start at 1).
  mem_region_->add_subregion(*mem_abort_, 0, 0);
  io_region_->add_subregion(*io_abort_, 0, 0);
  own_regions_ = {&mem_unassigned_, &io_unassigned_};
}

bool PciBus::owns_region(const MmioDevice* dev) const {
  return std::find(own_regions_.begin(), own_regions_.end(), dev) != own_regions_.end();
}

std::string PciBus::plug(PciDevice& dev, unsigned devfn) {
  if (devfn >= kNumDevfn) return "no slot " + std::to_string(devfn >> 3);
  if (devs_[devfn])
    return "slot " + std::to_string(devfn >> 3) + " function " + std::to_string(devfn & 7) +
           " is already in use by " + devs_[devfn]->name();
  devs_[devfn] = &dev;
  dev.attach(*this, devfn);
  std::lock_guard g(map_mu_);
  for (unsigned n = 0; n < kNumBars; ++n) {
    MmioDevice* bar = dev.bar_device(n);
    const BarMapping m = dev.bar_mapping(n);
    if (!bar || m.type == BarType::None) continue;
    bars_[devfn][n].whole =
        MemoryRegion::mmio(dev.name() + " BAR" + std::to_string(n), m.size, *bar);
    // MSI writes aimed at a BAR are refused (see owns_region).
    if (!owns_region(bar)) own_regions_.push_back(bar);
  }
  return {};
}

int PciBus::free_slot(unsigned first) const {
  for (unsigned s = first; s < 32; ++s) {
    bool used = false;
    for (unsigned f = 0; f < 8; ++f) used |= devs_[pci_devfn(s, f)] != nullptr;
    if (!used) return int(s);
  }
  return -1;
}

uint32_t PciBus::config_read(unsigned devfn, unsigned offset, unsigned size) {
  PciDevice* d = device(devfn);
  if (!d) return size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
  uint32_t v = d->config_read(offset, size);
  if (offset <= kCfgHeaderType && offset + size > kCfgHeaderType && (devfn & 7) == 0) {
    // Multi-function bit (header type bit 7), at any width that covers the header type: set
    // when another function of the slot exists.
    for (unsigned f = 1; f < 8; ++f)
      if (devs_[devfn + f]) v |= 0x80u << (8 * (kCfgHeaderType - offset));
  }
  return v;
}

void PciBus::config_write(unsigned devfn, unsigned offset, unsigned size, uint32_t value) {
  if (PciDevice* d = device(devfn)) d->config_write(offset, size, value);
}

void PciBus::reset() {
  for (PciDevice* d : devs_)
    if (d) d->reset();
  remap();
}

void PciBus::remap() {
  std::lock_guard g(map_mu_);
  for (unsigned devfn = 0; devfn < kNumDevfn; ++devfn) {
    if (!devs_[devfn]) continue;
    for (unsigned n = 0; n < kNumBars; ++n)
      if (bars_[devfn][n].whole) remap_bar_locked(*devs_[devfn], n, bars_[devfn][n]);
  }
}

void PciBus::remap_bar_locked(PciDevice& d, unsigned n, BarRegion& b) {
  const BarMapping m = d.bar_mapping(n);
  const bool is_io = m.type == BarType::Io;
  const uint64_t base = is_io ? io_base_ : mem_base_, size = is_io ? io_size_ : mem_size_;
  // Visible only inside the window: clip to it (a BAR partly outside decodes the part in).
  const uint64_t lo = std::max(m.addr, base);
  const uint64_t end = std::min(m.addr + m.size, base + size);  // enabled: m.addr + m.size > 0
  if (!m.enabled || lo >= end) {
    if (b.view) b.view->set_enabled(false);
    return;
  }
  const uint64_t at = lo - base, alias_offset = lo - m.addr, len = end - lo;
  if (b.view && b.view->size() == len && b.view->alias_offset() == alias_offset) {
    // A move or re-enable of the same window of the BAR: one new view, or two while disabled.
    if (b.view->address() != at) b.view->set_address(at);
    b.view->set_enabled(true);
    return;
  }
  b.view.reset();  // unmaps the old one
  b.view = MemoryRegion::alias(b.whole->name(), *b.whole, alias_offset, len);
  // Unique priorities above the master abort's 0: overlapping BARs are the guest's mistake and
  // resolve deterministically, and the placement cannot fail (the view lies in the window).
  const int priority = 1 + int(d.devfn() * kNumBars + n);
  (is_io ? *io_region_ : *mem_region_).add_subregion(*b.view, at, priority);
}

MemResult PciBus::Unassigned::read(uint64_t offset, unsigned size, uint64_t& value) {
  // Nothing claims it: a master abort, which reads all-ones.
  bus_.log_.log(kLogGuestErrors, "pci: %u-byte read at %s address 0x%llx decodes to no BAR\n", size,
                io_ ? "I/O" : "memory",
                (unsigned long long)((io_ ? bus_.io_base_ : bus_.mem_base_) + offset));
  value = size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
  return MemResult::Ok;
}

MemResult PciBus::Unassigned::write(uint64_t offset, unsigned size, uint64_t value) {
  bus_.log_.log(kLogGuestErrors, "pci: %u-byte write at %s address 0x%llx decodes to no BAR\n",
                size, io_ ? "I/O" : "memory",
                (unsigned long long)((io_ ? bus_.io_base_ : bus_.mem_base_) + offset));
  return MemResult::Ok;
}

void PciBus::set_device_intx(unsigned devfn, unsigned pin, bool level) {
  if (pin < 1 || pin > 4) return;
  std::lock_guard g(irq_mu_);
  if (intx_asserted_[devfn] == level) return;
  intx_asserted_[devfn] = level;
  const unsigned line = pci_swizzle(devfn >> 3, pin);
  intx_count_[line] += level ? 1 : -1;
  intx_[line].set(intx_count_[line] != 0);
}

}  // namespace orrery::hw::pci
