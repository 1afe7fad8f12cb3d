#include "hw/pci/pci_device.h"

#include <cstring>

#include "hw/pci/msix.h"
#include "hw/pci/pci_bus.h"

namespace orrery::hw::pci {

namespace {

void put16(std::array<uint8_t, kConfigSize>& c, unsigned off, uint16_t v) {
  std::memcpy(&c[off], &v, 2);
}
void put32(std::array<uint8_t, kConfigSize>& c, unsigned off, uint32_t v) {
  std::memcpy(&c[off], &v, 4);
}

}  // namespace

PciDevice::PciDevice(const AddressSpace& as, Log& log, std::string name, const PciIds& ids)
    : as_(as), log_(log), name_(std::move(name)), ids_(ids) {
  put16(config_, kCfgVendorId, ids.vendor);
  put16(config_, kCfgDeviceId, ids.device);
  config_[kCfgRevision] = ids.revision;
  config_[kCfgClassProg] = uint8_t(ids.class_code);
  config_[kCfgClassProg + 1] = uint8_t(ids.class_code >> 8);
  config_[kCfgClassProg + 2] = uint8_t(ids.class_code >> 16);
  put16(config_, kCfgSubsysVendor, ids.subsys_vendor);
  put16(config_, kCfgSubsysId, ids.subsys_id);
  config_[kCfgIntPin] = ids.int_pin;
  // Command: I/O, memory, bus master, parity, SERR and INTx disable are the guest's.
  put16(wmask_, kCfgCommand,
        kCmdIo | kCmdMemory | kCmdBusMaster | kCmdParity | kCmdSerr | kCmdIntxDisable);
  // Status: the error bits are write-1-to-clear; nothing else is writable.
  put16(w1c_, kCfgStatus, 0xf900);
  wmask_[0x0c] = 0xff;  // cache line size
  wmask_[0x0d] = 0xff;  // latency timer
  wmask_[kCfgIntLine] = 0xff;
  reset_ = config_;
}

void PciDevice::attach(PciBus& bus, unsigned devfn) {
  bus_ = &bus;
  devfn_ = devfn;
}

void PciDevice::init_bytes(unsigned offset, const void* src, unsigned len) {
  std::memcpy(&config_[offset], src, len);
  std::memcpy(&reset_[offset], src, len);
}

void PciDevice::set_config_byte(unsigned offset, uint8_t value) {
  std::lock_guard g(cfg_mu_);
  config_[offset] = value;
}

void PciDevice::set_writable(unsigned offset, unsigned len, uint8_t mask) {
  for (unsigned i = 0; i < len; ++i) wmask_[offset + i] = mask;
}

void PciDevice::add_bar(unsigned n, BarType type, uint64_t size, bool prefetchable,
                        MmioDevice& dev) {
  bars_[n] = {type, size, &dev};
  const unsigned off = kCfgBar0 + 4 * n;
  uint32_t low = 0;
  if (type == BarType::Io) {
    low = 1;
  } else {
    low = (type == BarType::Mem64 ? 4 : 0) | (prefetchable ? 8 : 0);
  }
  put32(config_, off, low);
  put32(reset_, off, low);
  // Only the address bits above the size are writable: sizing by writing all-ones reads back
  // ~(size - 1) with the type bits.
  const uint64_t addr_mask = ~(size - 1) & (type == BarType::Io ? ~3ull : ~15ull);
  put32(wmask_, off, uint32_t(addr_mask));
  if (type == BarType::Mem64) {
    bars_[n + 1] = {};
    put32(wmask_, off + 4, uint32_t(addr_mask >> 32));
  }
}

unsigned PciDevice::add_capability(uint8_t id, unsigned len) {
  const unsigned off = next_cap_;
  config_[off] = id;
  config_[off + 1] = 0;
  if (last_cap_)
    config_[last_cap_ + 1] = uint8_t(off);
  else
    config_[kCfgCapPtr] = uint8_t(off);
  put16(config_, kCfgStatus, uint16_t(config_[kCfgStatus] | kStatusCapList));
  last_cap_ = off;
  next_cap_ = (off + len + 3) & ~3u;
  reset_ = config_;
  return off;
}

unsigned PciDevice::add_msix_capability(unsigned vectors, unsigned bar, uint32_t table_offset,
                                        uint32_t pba_offset) {
  const unsigned off = add_capability(kCapIdMsix, 12);
  put16(config_, off + 2, uint16_t(vectors - 1));  // table size - 1; RO
  wmask_[off + 3] = 0xc0;                          // enable (15) and function mask (14)
  put32(config_, off + 4, table_offset | bar);
  put32(config_, off + 8, pba_offset | bar);
  reset_ = config_;
  return off;
}

uint64_t PciDevice::bar_address_locked(unsigned n) const {
  uint32_t lo;
  std::memcpy(&lo, &config_[kCfgBar0 + 4 * n], 4);
  if (bars_[n].type == BarType::Io) return lo & ~3u;
  uint64_t a = lo & ~15u;
  if (bars_[n].type == BarType::Mem64) {
    uint32_t hi;
    std::memcpy(&hi, &config_[kCfgBar0 + 4 * n + 4], 4);
    a |= uint64_t(hi) << 32;
  }
  return a;
}

BarMapping PciDevice::bar_mapping(unsigned n) {
  if (n >= kNumBars || bars_[n].type == BarType::None) return {};
  std::lock_guard g(cfg_mu_);
  BarMapping m;
  m.type = bars_[n].type;
  m.size = bars_[n].size;
  m.addr = bar_address_locked(n);
  uint16_t cmd;
  std::memcpy(&cmd, &config_[kCfgCommand], 2);
  const bool on = m.type == BarType::Io ? (cmd & kCmdIo) : (cmd & kCmdMemory);
  // Address 0 is "not programmed" (as QEMU treats it); an address whose BAR would wrap
  // decodes nothing.
  m.enabled = on && m.addr != 0 && m.addr + m.size > m.addr;
  return m;
}

uint16_t PciDevice::config_word(unsigned offset) {
  std::lock_guard g(cfg_mu_);
  uint16_t v;
  std::memcpy(&v, &config_[offset], 2);
  return v;
}

uint32_t PciDevice::config_read(unsigned offset, unsigned size) {
  if (offset >= kConfigSize || (size != 1 && size != 2 && size != 4) || (offset & (size - 1))) {
    log_.log(kLogGuestErrors, "pci: %s: bad %u-byte config read at 0x%x\n", name_.c_str(), size,
             offset);
    return 0xffffffffu;
  }
  uint32_t v = 0;
  if (intercept_config(offset, size, false, v)) return v;
  std::lock_guard g(cfg_mu_);
  std::memcpy(&v, &config_[offset], size);
  return v;
}

void PciDevice::config_write(unsigned offset, unsigned size, uint32_t value) {
  if (offset >= kConfigSize || (size != 1 && size != 2 && size != 4) || (offset & (size - 1))) {
    log_.log(kLogGuestErrors, "pci: %s: bad %u-byte config write at 0x%x\n", name_.c_str(), size,
             offset);
    return;
  }
  if (intercept_config(offset, size, true, value)) return;
  bool remap = false;
  {
    std::lock_guard g(cfg_mu_);
    for (unsigned i = 0; i < size; ++i) {
      const unsigned o = offset + i;
      const uint8_t b = uint8_t(value >> (8 * i));
      config_[o] = uint8_t((config_[o] & ~wmask_[o]) | (b & wmask_[o]));
      config_[o] &= uint8_t(~(b & w1c_[o]));
      if ((o >= kCfgCommand && o < kCfgCommand + 2) ||
          (o >= kCfgBar0 && o < kCfgBar0 + 4 * kNumBars))
        remap = true;
    }
    uint16_t cmd;
    std::memcpy(&cmd, &config_[kCfgCommand], 2);
    const bool was_master = bus_master_.load(std::memory_order_relaxed);
    bus_master_.store((cmd & kCmdBusMaster) != 0, std::memory_order_release);
    if (was_master && !(cmd & kCmdBusMaster))
      log_.log(kLogInt, "pci: %s: bus mastering disabled\n", name_.c_str());
    update_intx_locked();
  }
  if (remap && bus_) bus_->remap();
  config_written(offset, size);
}

void PciDevice::reset() {
  {
    std::lock_guard g(cfg_mu_);
    config_ = reset_;
    intx_level_ = false;
    bus_master_.store(false, std::memory_order_release);
    update_intx_locked();
  }
  if (bus_) bus_->remap();
}

void PciDevice::set_intx(bool level) {
  std::lock_guard g(cfg_mu_);
  intx_level_ = level;
  update_intx_locked();
}

void PciDevice::update_intx_locked() {
  uint16_t cmd, status;
  std::memcpy(&cmd, &config_[kCfgCommand], 2);
  std::memcpy(&status, &config_[kCfgStatus], 2);
  // Status.interrupt shows the device's request even while INTx is disabled.
  status = uint16_t(intx_level_ ? status | kStatusInterrupt : status & ~kStatusInterrupt);
  put16(config_, kCfgStatus, status);
  if (bus_ && ids_.int_pin)
    bus_->set_device_intx(devfn_, ids_.int_pin, intx_level_ && !(cmd & kCmdIntxDisable));
}

void PciDevice::msi_write(uint64_t addr, uint32_t data) {
  if (!bus_master()) {
    log_.log(kLogGuestErrors, "pci: %s: MSI to 0x%llx with bus mastering disabled; dropped\n",
             name_.c_str(), (unsigned long long)addr);
    return;
  }
  uint64_t offset = 0;
  if (MsiDoorbell* d = bus_ ? bus_->msi_doorbell(addr, offset) : nullptr) {
    d->msi_write(bus_->bus_number() << 8 | devfn_, offset, data);
    return;
  }
  const RegionRef r = as_.find(addr);
  if (r && r->kind == RegionKind::Mmio && bus_ && bus_->owns_region(r->dev)) {
    // Peer-to-peer messages into PCI space would re-enter the functions' locks (a vector aimed
    // at its own table); no interrupt controller lives there.
    log_.log(kLogGuestErrors, "pci: %s: MSI to 0x%llx targets PCI space; dropped\n", name_.c_str(),
             (unsigned long long)addr);
    return;
  }
  MemoryMsiSink plain(as_);
  MsiSink& sink = bus_ && bus_->msi_sink() ? *bus_->msi_sink() : plain;
  if (!sink.deliver_msi({addr, data}))
    log_.log(kLogGuestErrors, "pci: %s: MSI write of 0x%x to 0x%llx hit nothing\n", name_.c_str(),
             data, (unsigned long long)addr);
}

}  // namespace orrery::hw::pci
