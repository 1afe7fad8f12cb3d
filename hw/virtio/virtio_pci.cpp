#include "hw/virtio/virtio_pci.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cinttypes>
#include <cstring>

#include "hw/core/address_space.h"
#include "hw/core/event_loop.h"
#include "hw/core/io_event.h"

namespace orrery::hw::virtio {

namespace {

// virtio_pci_cap cfg_type values (virtio 1.2, 4.1.4).
constexpr uint8_t kCapCommon = 1, kCapNotify = 2, kCapIsr = 3, kCapDevice = 4, kCapPciCfg = 5;

// Common configuration fields (virtio 1.2, 4.1.4.3).
enum : uint64_t {
  kDfSelect = 0x00,
  kDf = 0x04,
  kGfSelect = 0x08,
  kGf = 0x0c,
  kMsixConfig = 0x10,
  kNumQueues = 0x12,
  kDeviceStatus = 0x14,
  kConfigGeneration = 0x15,
  kQueueSelect = 0x16,
  kQueueSize = 0x18,
  kQueueMsixVector = 0x1a,
  kQueueEnable = 0x1c,
  kQueueNotifyOff = 0x1e,
  kQueueDesc = 0x20,
  kQueueDriver = 0x28,
  kQueueDevice = 0x30,
  kQueueNotifyData = 0x38,
  kQueueReset = 0x3a,
  kCommonSize = 0x3c,
};

constexpr uint8_t kIsrQueue = 1, kIsrConfig = 2;

}  // namespace

VirtioPci::VirtioPci(const AddressSpace& as, Log& log, std::string name, uint16_t virtio_id,
                     uint32_t class_code, unsigned vectors)
    : PciDevice(as, log, std::move(name),
                {.vendor = 0x1af4,
                 .device = uint16_t(0x1040 + virtio_id),
                 .class_code = class_code,
                 .revision = 1,
                 .subsys_vendor = 0x1af4,
                 .subsys_id = 0x1100,
                 .int_pin = 1}),
      msix_(*this, log, vectors, kMsixPbaOffset) {
  add_bar(kMsixBar, pci::BarType::Mem32, msix_.bar_size(), false, msix_);
  add_bar(kModernBar, pci::BarType::Mem64, kBar4Size, true, bar4_);
  msix_cap_ = add_msix_capability(vectors, kMsixBar, 0, kMsixPbaOffset);
  add_virtio_cap(kCapCommon, kModernBar, kCommonOffset, 0x1000, 0);
  add_virtio_cap(kCapIsr, kModernBar, kIsrOffset, 0x1000, 0);
  add_virtio_cap(kCapDevice, kModernBar, kDeviceOffset, 0x1000, 0);
  const unsigned notify = add_virtio_cap(kCapNotify, kModernBar, kNotifyOffset, 0x1000, 4);
  init_bytes(notify + 16, &kNotifyMultiplier, 4);
  // The access window: bar, offset and length are the driver's; the data is intercepted.
  pci_cfg_cap_ = add_virtio_cap(kCapPciCfg, 0, 0, 0, 4);
  set_writable(pci_cfg_cap_ + 4, 1);
  set_writable(pci_cfg_cap_ + 8, 8);
}

unsigned VirtioPci::add_virtio_cap(uint8_t type, uint8_t bar, uint32_t offset, uint32_t length,
                                   unsigned extra) {
  const unsigned len = 16 + extra;
  const unsigned off = add_capability(pci::kCapIdVendor, len);
  const uint8_t head[2] = {uint8_t(len), type};
  init_bytes(off + 2, head, 2);
  init_bytes(off + 4, &bar, 1);
  init_bytes(off + 8, &offset, 4);
  init_bytes(off + 12, &length, 4);
  return off;
}

void VirtioPci::plug(VirtioDevice& dev) {
  dev_ = &dev;
  queue_vector_.assign(dev.num_queues(), pci::Msix::kNoVector);
  dev.attach(*this);
}

VirtioPci::~VirtioPci() {
  // The board called stop_io_events() unless the device outlives this transport.
  if (io_host_ && dev_) stop_io_events();
}

void VirtioPci::stop_io_events() {
  if (!io_host_) return;
  {
    auto held = dev_->lock();
    for (unsigned q = 0; q < io_fds_.size(); ++q) {
      if (io_addr_[q]) io_host_->remove_io_event(io_fds_[q], {.addr = *io_addr_[q]});
      io_addr_[q].reset();
    }
    io_host_ = nullptr;
  }
  // Without the device lock: remove_fd waits for a running handler, which takes it.
  for (int fd : io_fds_) {
    io_loop_->remove_fd(fd);
    ::close(fd);
  }
  io_fds_.clear();
}

bool VirtioPci::use_io_events(IoEventHost& host, EventLoop& loop) {
  if (!dev_ || io_host_) return false;
  std::vector<int> fds;
  for (unsigned q = 0; q < dev_->num_queues(); ++q) {
    const int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0 || !loop.add_fd(fd, kFdRead, [this, q](uint32_t) { io_event_ready(q); })) {
      if (fd >= 0) ::close(fd);
      for (int f : fds) {
        loop.remove_fd(f);
        ::close(f);
      }
      log().log(kLogUnimp, "virtio-pci: %s: no eventfd for queue %u: %s\n", name().c_str(), q,
                std::strerror(errno));
      return false;
    }
    fds.push_back(fd);
  }
  auto held = dev_->lock();
  io_fds_ = std::move(fds);
  io_addr_.assign(io_fds_.size(), std::nullopt);
  io_loop_ = &loop;
  io_host_ = &host;
  update_io_events_locked();
  return true;
}

void VirtioPci::update_io_events_locked() {
  if (!io_host_) return;
  const pci::BarMapping bar = bar_mapping(kModernBar);
  for (unsigned q = 0; q < io_fds_.size(); ++q) {
    std::optional<uint64_t> want;
    if (bar.enabled && dev_->queue_config(q).ready)
      want = bar.addr + kNotifyOffset + uint64_t(q) * kNotifyMultiplier;
    if (want == io_addr_[q]) continue;
    // Any write size at that address, as the BAR takes any (a driver writes 16 bits).
    if (io_addr_[q]) io_host_->remove_io_event(io_fds_[q], {.addr = *io_addr_[q]});
    io_addr_[q].reset();
    if (want && io_host_->add_io_event(io_fds_[q], {.addr = *want})) io_addr_[q] = want;
  }
}

void VirtioPci::io_event_ready(unsigned q) {
  uint64_t n = 0;
  if (::read(io_fds_[q], &n, sizeof n) != sizeof n) return;
  auto held = dev_->lock();
  // A signal from before the queue was disabled or the device reset is dropped.
  if (!dev_->queue_config(q).ready || !bus_master()) return;
  io_event_kicks_.fetch_add(1);
  dev_->kick(q);
}

void VirtioPci::reset() {
  if (dev_) {
    auto held = dev_->lock();
    dev_->set_status(0, held);
    reset_transport_locked();
  }
  msix_.reset();
  PciDevice::reset();
  if (dev_) {
    auto held = dev_->lock();
    update_io_events_locked();  // the BAR is unprogrammed again
  }
}

void VirtioPci::reset_transport_locked() {
  dfselect_ = gfselect_ = 0;
  queue_sel_ = 0;
  config_vector_ = pci::Msix::kNoVector;
  std::fill(queue_vector_.begin(), queue_vector_.end(), pci::Msix::kNoVector);
  isr_ = 0;
  set_intx(false);
  update_io_events_locked();
}

void VirtioPci::config_written(unsigned offset, unsigned size) {
  if (offset < msix_cap_ + 4 && offset + size > msix_cap_ + 2)
    msix_.control_written(config_word(msix_cap_ + 2));
  // The command register (memory decode) or BAR 4's address: the doorbells move.
  const unsigned bar4 = pci::kCfgBar0 + 4 * kModernBar;
  const bool command = offset < pci::kCfgCommand + 2 && offset + size > pci::kCfgCommand;
  if (io_host_ && dev_ && (command || (offset < bar4 + 8 && offset + size > bar4))) {
    auto held = dev_->lock();
    update_io_events_locked();
  }
}

bool VirtioPci::intercept_config(unsigned offset, unsigned size, bool write, uint32_t& value) {
  const unsigned data = pci_cfg_cap_ + 16;
  if (offset + size <= data || offset >= data + 4) return false;
  // VIRTIO_PCI_CAP_PCI_CFG (virtio 1.2, 4.1.4.9): an access to pci_cfg_data reaches the BAR
  // the capability selects, at its offset and length.
  const unsigned bar = config_read(pci_cfg_cap_ + 4, 1);
  const uint32_t off = config_read(pci_cfg_cap_ + 8, 4), len = config_read(pci_cfg_cap_ + 12, 4);
  MmioDevice* dev = bar_device(bar);
  const uint64_t bar_size = bar_mapping(bar).size;
  if (!dev || (len != 1 && len != 2 && len != 4) || (off & (len - 1)) || off + len > bar_size) {
    log().log(kLogGuestErrors,
              "virtio-pci: %s: PCI_CFG access to BAR %u offset 0x%x length %u refused\n",
              name().c_str(), bar, off, len);
    if (!write) value = 0;
    return true;
  }
  const unsigned shift = 8 * (offset - data);
  uint64_t v = 0;
  if (write) {
    v = uint64_t(value) << shift;
    mmio_access(*dev, off, len, v, true);
  } else {
    mmio_access(*dev, off, len, v, false);
    value = uint32_t(v >> shift);
    if (size < 4) value &= (1u << (8 * size)) - 1;
  }
  return true;
}

uint64_t VirtioPci::common_read(uint64_t offset, unsigned size) {
  uint8_t c[kCommonSize + 8] = {};
  auto put = [&](uint64_t off, uint64_t v, unsigned n) { std::memcpy(c + off, &v, n); };
  const unsigned q = queue_sel_;
  const bool have_q = q < dev_->num_queues();
  put(kDfSelect, dfselect_, 4);
  put(kDf, dfselect_ < 2 ? uint32_t(dev_->offered_features() >> (32 * dfselect_)) : 0, 4);
  put(kGfSelect, gfselect_, 4);
  put(kGf, gfselect_ < 2 ? uint32_t(dev_->driver_features() >> (32 * gfselect_)) : 0, 4);
  put(kMsixConfig, config_vector_, 2);
  put(kNumQueues, dev_->num_queues(), 2);
  put(kDeviceStatus, dev_->status(), 1);
  put(kConfigGeneration, uint8_t(dev_->config_generation()), 1);
  put(kQueueSelect, queue_sel_, 2);
  if (have_q) {
    const QueueConfig& qc = dev_->queue_config(q);
    // Until the driver picks a size, the queue offers its maximum (0 means "no such queue").
    put(kQueueSize, qc.size ? qc.size : dev_->queue_max(), 2);
    put(kQueueMsixVector, queue_vector_[q], 2);
    put(kQueueEnable, qc.ready, 2);
    put(kQueueNotifyOff, q, 2);
    put(kQueueDesc, qc.layout.desc, 8);
    put(kQueueDriver, qc.layout.avail, 8);
    put(kQueueDevice, qc.layout.used, 8);
    put(kQueueNotifyData, q, 2);
  } else {
    put(kQueueMsixVector, pci::Msix::kNoVector, 2);
  }
  uint64_t v = 0;
  if (offset < kCommonSize) std::memcpy(&v, c + offset, size);
  return v;
}

void VirtioPci::common_write(uint64_t offset, unsigned size, uint64_t value,
                             std::unique_lock<std::mutex>& held) {
  const unsigned q = queue_sel_;
  const bool have_q = q < dev_->num_queues();
  auto bad = [&](const char* why) {
    log().log(kLogGuestErrors,
              "virtio-pci: %s: %u-byte write of 0x%" PRIx64 " to common config 0x%02" PRIx64
              ": %s\n",
              name().c_str(), size, value, offset, why);
  };
  // Queue fields may change only while the queue is disabled (virtio 1.2, 4.1.4.3.2).
  auto queue_config = [&]() -> QueueConfig* {
    if (!have_q) return bad("no such queue"), nullptr;
    QueueConfig& c = dev_->queue_config(q);
    if (c.ready) return bad("the queue is enabled"), nullptr;
    return &c;
  };
  auto vector_ok = [&](uint64_t v) {
    return v < msix_.vectors() ? uint16_t(v) : pci::Msix::kNoVector;
  };
  struct Field {
    uint64_t off;
    unsigned size;
  };
  static constexpr Field kSizes[] = {{kDfSelect, 4},   {kGfSelect, 4},        {kGf, 4},
                                     {kMsixConfig, 2}, {kDeviceStatus, 1},    {kQueueSelect, 2},
                                     {kQueueSize, 2},  {kQueueMsixVector, 2}, {kQueueEnable, 2},
                                     {kQueueDesc, 8},  {kQueueDriver, 8},     {kQueueDevice, 8},
                                     {kQueueReset, 2}};
  bool known = false;
  for (const Field& f : kSizes) {
    if (f.size == 8 && (offset == f.off || offset == f.off + 4) && size == 4) known = true;
    if (offset == f.off && size == f.size) known = true;
  }
  if (!known) return bad("not a writable field of that size");
  switch (offset & ~7ull) {
    case kQueueDesc:
    case kQueueDriver:
    case kQueueDevice:
      if (QueueConfig* c = queue_config()) {
        uint64_t& a = (offset & ~7ull) == kQueueDesc     ? c->layout.desc
                      : (offset & ~7ull) == kQueueDriver ? c->layout.avail
                                                         : c->layout.used;
        if (size == 8)
          a = value;
        else if (offset & 4)
          a = (a & 0xffffffffull) | value << 32;
        else
          a = (a & ~0xffffffffull) | uint32_t(value);
      }
      return;
    default:
      break;
  }
  switch (offset) {
    case kDfSelect:
      dfselect_ = uint32_t(value);
      return;
    case kGfSelect:
      gfselect_ = uint32_t(value);
      return;
    case kGf:
      dev_->set_driver_features_word(gfselect_, uint32_t(value));
      return;
    case kMsixConfig:
      config_vector_ = vector_ok(value);  // the driver reads it back to see it was accepted
      return;
    case kDeviceStatus:
      dev_->set_status(uint8_t(value), held);
      if (value == 0) reset_transport_locked();
      update_io_events_locked();  // a device that failed may have disabled its queues
      return;
    case kQueueSelect:
      queue_sel_ = uint16_t(value);
      return;
    case kQueueSize:
      if (QueueConfig* c = queue_config()) {
        if (value == 0 || value > dev_->queue_max() || (value & (value - 1)))
          bad("size not a power of two up to the maximum");
        c->size = uint16_t(value);  // a bad size breaks the queue when it is enabled
      }
      return;
    case kQueueMsixVector:
      if (have_q) queue_vector_[q] = vector_ok(value);
      return;
    case kQueueEnable:
      if (!have_q) return bad("no such queue");
      if (value != 1) return bad("only 1 may be written");
      if (!bus_master()) {
        log().log(kLogGuestErrors, "virtio-pci: %s: queue %u enabled without bus mastering\n",
                  name().c_str(), q);
      }
      if (dev_->queue_config(q).size == 0) dev_->queue_config(q).size = dev_->queue_max();
      dev_->enable_queue(q);
      update_io_events_locked();
      return;
    case kQueueReset:
      log().log(kLogUnimp, "virtio-pci: %s: queue_reset (VIRTIO_F_RING_RESET not offered)\n",
                name().c_str());
      return;
    default:
      return;
  }
}

MemResult VirtioPci::ModernBar::read(uint64_t offset, unsigned size, uint64_t& value) {
  value = 0;
  if (!p_.dev_) return MemResult::Ok;
  auto held = p_.dev_->lock();
  if (offset < kIsrOffset) {
    value = p_.common_read(offset - kCommonOffset, size);
  } else if (offset < kDeviceOffset) {
    if (offset == kIsrOffset) {
      // Reading the ISR acknowledges it and deasserts INTx (virtio 1.2, 4.1.4.5).
      value = p_.isr_;
      p_.isr_ = 0;
      p_.set_intx(false);
    }
  } else if (offset < kNotifyOffset) {
    uint8_t buf[8];
    p_.dev_->read_config(offset - kDeviceOffset, {buf, size});
    std::memcpy(&value, buf, size);
  }
  return MemResult::Ok;
}

MemResult VirtioPci::ModernBar::write(uint64_t offset, unsigned size, uint64_t value) {
  if (!p_.dev_) return MemResult::Ok;
  auto held = p_.dev_->lock();
  if (offset < kIsrOffset) {
    p_.common_write(offset - kCommonOffset, size, value, held);
  } else if (offset < kDeviceOffset) {
    p_.log().log(kLogGuestErrors, "virtio-pci: %s: write to the read-only ISR\n",
                 p_.name().c_str());
  } else if (offset < kNotifyOffset) {
    uint8_t buf[8];
    std::memcpy(buf, &value, size);
    p_.dev_->write_config(offset - kDeviceOffset, {buf, size});
  } else {
    const uint64_t q = (offset - kNotifyOffset) / kNotifyMultiplier;
    if (!p_.bus_master()) {
      p_.log().log(kLogGuestErrors,
                   "virtio-pci: %s: notify for queue %" PRIu64
                   " with bus mastering disabled; ignored\n",
                   p_.name().c_str(), q);
      return MemResult::Ok;
    }
    p_.dev_->kick(unsigned(q));
  }
  return MemResult::Ok;
}

void VirtioPci::signal(uint16_t vector, uint8_t isr_bit) {
  if (msix_.enabled()) {
    if (vector != pci::Msix::kNoVector) msix_.notify(vector);
    return;
  }
  isr_ |= isr_bit;
  set_intx(true);
}

void VirtioPci::notify_used(unsigned q) {
  signal(q < queue_vector_.size() ? queue_vector_[q] : pci::Msix::kNoVector, kIsrQueue);
}

void VirtioPci::notify_config() {
  signal(config_vector_, kIsrConfig);
}

}  // namespace orrery::hw::virtio
