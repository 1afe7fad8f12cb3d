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
    : log_(log), mem_base_(mem_base), mem_size_(mem_size), io_size_(io_size), io_base_(io_base) {
  mem_table_ = std::make_shared<Table>();
  io_table_ = std::make_shared<Table>();
  own_regions_ = {&mem_window_, &io_window_};
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
  auto mem = std::make_shared<Table>(), io = std::make_shared<Table>();
  for (PciDevice* d : devs_) {
    if (!d) continue;
    for (unsigned n = 0; n < kNumBars; ++n) {
      BarMapping m = d->bar_mapping(n);
      if (!m.enabled) continue;
      const bool is_io = m.type == BarType::Io;
      const uint64_t base = is_io ? io_base_ : mem_base_, size = is_io ? io_size_ : mem_size_;
      // Visible only inside the window: clip to it (a BAR partly outside decodes the part in).
      if (m.addr >= base + size || m.addr + m.size <= base) continue;
      (is_io ? io : mem)->push_back({m.addr, m.size, d->bar_device(n)});
    }
  }
  auto by_addr = [](const Decode& a, const Decode& b) { return a.addr < b.addr; };
  std::stable_sort(mem->begin(), mem->end(), by_addr);
  std::stable_sort(io->begin(), io->end(), by_addr);
  std::lock_guard g(map_mu_);
  mem_table_ = std::move(mem);
  io_table_ = std::move(io);
}

std::shared_ptr<const PciBus::Table> PciBus::table(bool io) {
  std::lock_guard g(map_mu_);
  return io ? io_table_ : mem_table_;
}

MemResult PciBus::access(bool io, uint64_t offset, unsigned size, uint64_t& value, bool write) {
  const uint64_t addr = (io ? io_base_ : mem_base_) + offset;
  std::shared_ptr<const Table> t = table(io);
  // The first BAR (lowest address) that covers the whole access; overlapping BARs are the
  // guest's mistake and resolve deterministically.
  for (const Decode& d : *t) {
    if (d.addr > addr) break;
    if (addr - d.addr >= d.size || size > d.size - (addr - d.addr)) continue;
    return mmio_access(*d.dev, addr - d.addr, size, value, write);
  }
  // Nothing claims it: a master abort, which reads all-ones.
  log_.log(kLogGuestErrors, "pci: %u-byte %s at %s address 0x%llx decodes to no BAR\n", size,
           write ? "write" : "read", io ? "I/O" : "memory", (unsigned long long)addr);
  if (!write) value = size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
  return MemResult::Ok;
}

MemResult PciBus::Window::read(uint64_t offset, unsigned size, uint64_t& value) {
  return bus_.access(io_, offset, size, value, false);
}

MemResult PciBus::Window::write(uint64_t offset, unsigned size, uint64_t value) {
  return bus_.access(io_, offset, size, value, true);
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
