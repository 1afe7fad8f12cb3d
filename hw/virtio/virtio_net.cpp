#include "hw/virtio/virtio_net.h"

#include <algorithm>
#include <cstring>

namespace orrery::hw::virtio {

namespace {

// Feature bits (virtio 1.2, 5.1.3).
constexpr uint64_t kFeatureMac = 1ull << 5;
constexpr uint64_t kFeatureMrgRxbuf = 1ull << 15;
constexpr uint64_t kFeatureStatus = 1ull << 16;

constexpr uint16_t kLinkUp = 1;  // virtio_net_config.status
constexpr uint8_t kGsoNone = 0;  // virtio_net_hdr.gso_type
constexpr size_t kNumBuffersOffset = 10;

}  // namespace

VirtioNet::VirtioNet(const GuestMemory& mem, Log& log, std::string name,
                     std::shared_ptr<net::NetBackend> backend, const Mac& mac)
    : VirtioDevice(mem, log, std::move(name), kDeviceId, 2, kQueueSize),
      backend_(std::move(backend)) {
  // Configuration layout (virtio 1.2, 5.1.4): mac, status, max_virtqueue_pairs.
  std::memcpy(config_.data(), mac.data(), mac.size());
  std::memcpy(config_.data() + 6, &kLinkUp, 2);
  const uint16_t pairs = 1;
  std::memcpy(config_.data() + 8, &pairs, 2);
  tx_buf_.reserve(kHeaderSize + 2048);
  // Last: the sink may run at once on the backend's thread.
  backend_->set_frame_sink([this](std::span<const uint8_t> frame) { return receive(frame); });
}

VirtioNet::~VirtioNet() {
  backend_->set_frame_sink(nullptr);
}

uint64_t VirtioNet::device_features() const {
  return kFeatureMac | kFeatureStatus | kFeatureMrgRxbuf;
}

void VirtioNet::queue_kicked(unsigned q) {
  if (q == kTxQueue) {
    transmit();
    return;
  }
  // The driver added receive buffers.
  if (rx_waiting_) {
    rx_waiting_ = false;
    backend_->rx_ready();
  }
}

void VirtioNet::transmit() {
  Virtqueue& vq = queue(kTxQueue);
  VirtqElement e;
  Virtqueue::Pop r;
  while ((r = vq.pop(e)) == Virtqueue::Pop::Element) {
    if (e.in_bytes || e.out_bytes < kHeaderSize) {
      log().log(kLogGuestErrors, "virtio-net: %s: transmit chain with %s\n", name().c_str(),
                e.in_bytes ? "device-writable buffers" : "no complete virtio_net_hdr");
      needs_reset();
      return;
    }
    if (e.out_bytes - kHeaderSize > kMaxFrame) {
      log().log(kLogGuestErrors, "virtio-net: %s: %llu-byte frame dropped (at most %zu)\n",
                name().c_str(), (unsigned long long)(e.out_bytes - kHeaderSize), kMaxFrame);
      vq.push(e, 0);
      continue;
    }
    tx_buf_.resize(e.out_bytes);
    e.read_out(0, tx_buf_);
    const uint8_t gso_type = tx_buf_[1];
    if (gso_type != kGsoNone) {
      // Not negotiated: no segmentation offload was offered.
      log().log(kLogGuestErrors, "virtio-net: %s: frame with gso_type %u dropped\n", name().c_str(),
                gso_type);
    } else {
      backend_->receive_from_guest(std::span(tx_buf_).subspan(kHeaderSize));
    }
    vq.push(e, 0);
  }
  finish_queue(kTxQueue);
}

bool VirtioNet::receive(std::span<const uint8_t> frame) {
  std::lock_guard g(mutex());
  if (!(status() & kStatusDriverOk) || (status() & kStatusNeedsReset) ||
      !queue(kRxQueue).running()) {
    rx_waiting_ = true;
    return false;
  }
  Virtqueue& vq = queue(kRxQueue);
  for (;;) {
    const uint16_t seen = vq.available();
    switch (try_receive(frame)) {
      case Rx::Delivered:
        finish_queue(kRxQueue);
        return true;
      case Rx::Dropped:
        finish_queue(kRxQueue);  // a broken queue becomes NEEDS_RESET
        return true;
      case Rx::NoRoom:
        break;
    }
    // Ask for a kick when buffers come, then look again: the driver may have added some
    // before it could see the request.
    vq.set_kicks_wanted(true);
    if (vq.available() == seen) {
      rx_waiting_ = true;
      return false;
    }
  }
}

VirtioNet::Rx VirtioNet::try_receive(std::span<const uint8_t> frame) {
  Virtqueue& vq = queue(kRxQueue);
  const bool mergeable = negotiated(kFeatureMrgRxbuf);
  // Chains are filled as they are popped but returned only once the whole frame has found
  // room; until then the driver does not look at them, and unpop() gives them back.
  uint64_t left = frame.size();
  uint16_t used = 0;
  do {
    if (used == rx_elems_.size()) rx_elems_.emplace_back();
    VirtqElement& e = rx_elems_[used];
    const Virtqueue::Pop r = vq.pop(e);
    if (r == Virtqueue::Pop::Broken) return Rx::Dropped;
    if (r == Virtqueue::Pop::Empty) {
      vq.unpop(used);
      if (used >= kQueueSize) {
        // Every buffer of the ring together is too small: it can never fit.
        log().log(kLogGuestErrors, "virtio-net: %s: %zu-byte frame fits no receive buffers\n",
                  name().c_str(), frame.size());
        return Rx::Dropped;
      }
      return Rx::NoRoom;
    }
    ++used;
    // Each buffer holds at least the header (virtio 1.2, 5.1.6.3.1).
    if (e.out_bytes || e.in_bytes < kHeaderSize) {
      log().log(kLogGuestErrors, "virtio-net: %s: receive chain %s\n", name().c_str(),
                e.out_bytes ? "with device-readable buffers" : "smaller than virtio_net_hdr");
      needs_reset();
      return Rx::Dropped;
    }
    if (!mergeable && e.in_bytes < kHeaderSize + frame.size()) {
      log().log(kLogGuestErrors,
                "virtio-net: %s: %llu-byte receive buffer too small for a %zu-byte frame; "
                "dropped\n",
                name().c_str(), (unsigned long long)e.in_bytes, frame.size());
      vq.unpop(used);
      return Rx::Dropped;
    }
    // The header goes in the first chain only; later chains hold frame bytes alone.
    const uint64_t start = used == 1 ? kHeaderSize : 0;
    left -= e.write_in(start, frame.subspan(frame.size() - left));
  } while (left);
  // The header: no flags, no GSO, and num_buffers (virtio 1.2, 5.1.6.4).
  uint8_t hdr[kHeaderSize] = {};
  std::memcpy(hdr + kNumBuffersOffset, &used, sizeof used);
  rx_elems_[0].write_in(0, hdr);
  uint64_t placed = 0;
  for (uint16_t i = 0; i < used; ++i) {
    const VirtqElement& e = rx_elems_[i];
    const uint64_t room = e.in_bytes - (i == 0 ? kHeaderSize : 0);
    const uint64_t n = std::min<uint64_t>(room, frame.size() - placed);
    placed += n;
    vq.stage(e, uint32_t(n + (i == 0 ? kHeaderSize : 0)));
  }
  vq.publish();
  return Rx::Delivered;
}

}  // namespace orrery::hw::virtio
