#include "machine/pci_devices.h"

#include <cctype>
#include <cstdlib>
#include <string_view>

#include "hw/net/netdev_options.h"
#include "hw/pci/pci_testdev.h"
#include "hw/virtio/vhost_user/blk_frontend.h"
#include "hw/virtio/virtio_blk.h"
#include "hw/virtio/virtio_pci.h"
#include "hw/virtio/virtio_rng.h"

namespace orrery::machine {

namespace {

/// QEMU's size syntax: a number of bytes with an optional K, M, G or T (binary) suffix.
bool parse_size(const std::string& s, uint64_t& bytes) {
  char* end = nullptr;
  const unsigned long long n = std::strtoull(s.c_str(), &end, 10);
  if (s.empty() || end == s.c_str() || s[0] == '-') return false;
  unsigned shift = 0;
  if (*end) {
    static constexpr std::string_view kSuffixes = "KMGT";
    const size_t i = kSuffixes.find(char(std::toupper(static_cast<unsigned char>(*end))));
    if (i == std::string_view::npos || end[1]) return false;
    shift = 10 * unsigned(i + 1);
  }
  if (n > (~0ull >> shift)) return false;
  bytes = uint64_t(n) << shift;
  return true;
}

/// The largest membar: QEMU takes any power of two; beyond this no window of either board
/// could hold it.
constexpr uint64_t kMaxMembar = uint64_t(1) << 40;

}  // namespace

std::string DeviceParser::parse(const DeviceSpec& spec, std::span<const std::string_view> drivers,
                                DeviceRequest& out) {
  const std::string what = "-device " + spec.driver + ": ";
  bool known = false;
  for (std::string_view d : drivers) known |= d == spec.driver;
  if (!known) {
    std::string list;
    for (std::string_view d : drivers) list += (list.empty() ? "" : ", ") + std::string(d);
    return what + "not a device of this machine (" + list + ")";
  }
  out = {};
  out.driver = spec.driver;
  out.pci = spec.driver.ends_with("-pci") || spec.driver == "pci-testdev";
  const bool blk = spec.driver.starts_with("virtio-blk-");
  const bool vhost = spec.driver.starts_with("vhost-user-blk-");
  const bool net = spec.driver.starts_with("virtio-net-");
  out.kind = blk                                     ? DeviceRequest::Kind::Blk
             : net                                   ? DeviceRequest::Kind::Net
             : vhost                                 ? DeviceRequest::Kind::VhostUserBlk
             : spec.driver.starts_with("virtio-rng") ? DeviceRequest::Kind::Rng
                                                     : DeviceRequest::Kind::PciTestdev;
  const bool virtio_pci = out.pci && out.kind != DeviceRequest::Kind::PciTestdev;
  std::string id, drive_id, netdev_id, chardev_id;
  for (const auto& [name, value] : spec.props) {
    if (name == "id") {
      id = value;
    } else if (out.pci && name == "addr") {
      out.addr = value;
    } else if (virtio_pci && name == "disable-legacy") {
      // Orrery's virtio-pci is modern only, which QEMU gives with disable-legacy=on.
      if (value != "on") return what + "disable-legacy=" + value + ": only on is supported";
    } else if (blk && name == "drive") {
      drive_id = value;
    } else if (blk && name == "bootindex") {
      char* end = nullptr;
      long n = std::strtol(value.c_str(), &end, 10);
      if (value.empty() || *end || n < -1 || n > 0xffff)
        return what + "bootindex=" + value + ": expected -1..65535";
      out.bootindex = int(n);
    } else if (vhost && name == "chardev") {
      chardev_id = value;
    } else if ((blk || vhost) && name == "num-queues") {
      char* end = nullptr;
      unsigned long n = std::strtoul(value.c_str(), &end, 10);
      if (value.empty() || *end || n < 1 || n > 64)
        return what + "num-queues=" + value + ": expected 1..64";
      out.num_queues = unsigned(n);
    } else if (out.kind == DeviceRequest::Kind::PciTestdev && name == "membar") {
      uint64_t n = 0;
      if (!parse_size(value, n) || (n && (n < 16 || n > kMaxMembar || (n & (n - 1)))))
        return what + "membar=" + value + ": expected 0 or a power of two from 16 to 1T";
      out.membar = n;
    } else if (net && name == "netdev") {
      netdev_id = value;
    } else if (net && name == "mac") {
      if (!hw::net::parse_mac(value, out.mac))
        return what + "mac=" + value + ": expected a unicast address like 52:54:00:12:34:56";
    } else {
      return what + "no property '" + name + "'";
    }
  }
  out.name = id.empty() ? spec.driver : id;
  if (net) {
    if (netdev_id.empty()) return what + "netdev=ID is required";
    for (const auto& [nid, b] : config_.netdevs)
      if (nid == netdev_id) out.net = b;
    if (!out.net) return what + "netdev=" + netdev_id + ": no -netdev with that id";
    for (const auto* u : used_nets_)
      if (u == out.net.get()) return what + "netdev=" + netdev_id + " is already in use";
    used_nets_.push_back(out.net.get());
  }
  if (vhost) {
    if (chardev_id.empty()) return what + "chardev=ID is required";
    for (const auto& [cid, path] : config_.chardev_sockets)
      if (cid == chardev_id) out.socket_path = path;
    if (out.socket_path.empty())
      return what + "chardev=" + chardev_id + ": no -chardev socket with that id";
  }
  if (blk) {
    if (drive_id.empty()) return what + "drive=ID is required";
    for (const auto& d : config_.drives)
      if (d->id() == drive_id) out.drive = d;
    if (!out.drive) return what + "drive=" + drive_id + ": no -drive with that id";
    for (const auto* u : used_drives_)
      if (u == out.drive.get()) return what + "drive=" + drive_id + " is already in use";
    used_drives_.push_back(out.drive.get());
  }
  return {};
}

std::unique_ptr<hw::virtio::VirtioDevice> make_virtio_device(const DeviceRequest& req,
                                                             const hw::GuestMemory& mem,
                                                             hw::Log& log, std::string& err) {
  switch (req.kind) {
    case DeviceRequest::Kind::Rng:
      return std::make_unique<hw::virtio::VirtioRng>(mem, log, req.name);
    case DeviceRequest::Kind::Net:
      return std::make_unique<hw::virtio::VirtioNet>(mem, log, req.name, req.net, req.mac);
    case DeviceRequest::Kind::VhostUserBlk:
      return hw::virtio::vhost_user::BlkFrontend::connect(mem, log, req.name, req.socket_path,
                                                          req.num_queues, err);
    case DeviceRequest::Kind::Blk:
      return std::make_unique<hw::virtio::VirtioBlk>(mem, log, req.name, req.drive, req.num_queues);
    case DeviceRequest::Kind::PciTestdev:
      break;
  }
  err = "not a virtio device";
  return nullptr;
}

std::string add_pci_device(const DeviceRequest& req, hw::pci::PciBus& bus,
                           const hw::AddressSpace& as, hw::Log& log, unsigned first_slot,
                           std::vector<std::unique_ptr<hw::pci::PciDevice>>& functions,
                           std::vector<std::unique_ptr<hw::virtio::VirtioDevice>>& devices) {
  // addr=SLOT[.FN], hexadecimal as QEMU spells it; by default the lowest free slot.
  unsigned devfn = 0;
  if (!req.addr.empty()) {
    const std::string& addr = req.addr;
    char* end = nullptr;
    unsigned long slot = std::strtoul(addr.c_str(), &end, 16), fn = 0;
    if (end != addr.c_str() && *end == '.') {
      const char* f = end + 1;
      fn = std::strtoul(f, &end, 16);
      if (end == f) end = nullptr;
    }
    if (!end || end == addr.c_str() || *end || slot > 31 || fn > 7)
      return "addr=" + addr + ": expected SLOT[.FN] with SLOT 0..1f and FN 0..7";
    devfn = hw::pci::pci_devfn(unsigned(slot), unsigned(fn));
  } else {
    const int slot = bus.free_slot(first_slot);
    if (slot < 0) return "no free PCI slot";
    devfn = hw::pci::pci_devfn(unsigned(slot), 0);
  }
  std::unique_ptr<hw::pci::PciDevice> fn;
  std::unique_ptr<hw::virtio::VirtioDevice> dev;
  using Kind = DeviceRequest::Kind;
  if (req.kind == Kind::PciTestdev) {
    fn = std::make_unique<hw::pci::PciTestdev>(as, log, req.name, req.membar);
  } else {
    // Classes and MSI-X vector counts as QEMU's: virtio-rng 0x00ff00 with 2 vectors,
    // virtio-net 0x020000 (Ethernet) with rx, tx and configuration, virtio-blk 0x010000 (SCSI
    // storage) with num-queues + 1.
    uint16_t id = 0;
    uint32_t cls = 0;
    unsigned vectors = 0;
    switch (req.kind) {
      case Kind::Rng:
        id = hw::virtio::VirtioRng::kDeviceId, cls = 0x00ff00, vectors = 2;
        break;
      case Kind::Net:
        id = hw::virtio::VirtioNet::kDeviceId, cls = 0x020000, vectors = 3;
        break;
      default:
        id = hw::virtio::VirtioBlk::kDeviceId, cls = 0x010000, vectors = req.num_queues + 1;
        break;
    }
    auto t = std::make_unique<hw::virtio::VirtioPci>(as, log, req.name, id, cls, vectors);
    std::string err;
    dev = make_virtio_device(req, t->dma(), log, err);
    if (!dev) return err;
    t->plug(*dev);
    fn = std::move(t);
  }
  std::string err = bus.plug(*fn, devfn);
  if (!err.empty()) return err;
  functions.push_back(std::move(fn));
  if (dev) devices.push_back(std::move(dev));
  return {};
}

}  // namespace orrery::machine
