#include "hw/virtio/virtio_blk.h"

#include <algorithm>
#include <cinttypes>
#include <cstring>

namespace orrery::hw::virtio {

namespace {

// Feature bits (virtio 1.2, 5.2.3).
constexpr uint64_t kFeatureSegMax = 1ull << 2;
constexpr uint64_t kFeatureGeometry = 1ull << 4;
constexpr uint64_t kFeatureRo = 1ull << 5;
constexpr uint64_t kFeatureBlkSize = 1ull << 6;
constexpr uint64_t kFeatureFlush = 1ull << 9;
constexpr uint64_t kFeatureMq = 1ull << 12;
constexpr uint64_t kFeatureDiscard = 1ull << 13;
constexpr uint64_t kFeatureWriteZeroes = 1ull << 14;

// Request types and status values (virtio 1.2, 5.2.6).
constexpr uint32_t kTypeIn = 0, kTypeOut = 1, kTypeFlush = 4, kTypeGetId = 8, kTypeDiscard = 11,
                   kTypeWriteZeroes = 13;
constexpr uint8_t kStatusOk = 0, kStatusIoErr = 1, kStatusUnsupp = 2;

constexpr uint64_t kSector = 512;
constexpr uint32_t kMaxDiscardSectors = (1u << 22) - 1;  // 2 GiB per request
constexpr size_t kIdBytes = 20;

template <class T>
void put(std::array<uint8_t, 60>& cfg, size_t off, T v) {
  std::memcpy(cfg.data() + off, &v, sizeof v);
}

/// The bytes [off, off+len) of an iovec list as spans.
std::vector<std::span<uint8_t>> slice(const std::vector<iovec>& v, uint64_t off, uint64_t len) {
  std::vector<std::span<uint8_t>> out;
  for (const iovec& x : v) {
    if (!len) break;
    if (off >= x.iov_len) {
      off -= x.iov_len;
      continue;
    }
    const uint64_t n = std::min<uint64_t>(x.iov_len - off, len);
    out.emplace_back(static_cast<uint8_t*>(x.iov_base) + off, n);
    len -= n;
    off = 0;
  }
  return out;
}

}  // namespace

struct VirtioBlk::Pending {
  unsigned queue = 0;
  VirtqElement elem;
};

VirtioBlk::VirtioBlk(const GuestMemory& mem, Log& log, std::string name,
                     std::shared_ptr<block::BlockBackend> backend, unsigned num_queues)
    : VirtioDevice(mem, log, std::move(name), kDeviceId, num_queues, kQueueSize),
      backend_(std::move(backend)) {
  // Configuration layout (virtio 1.2, 5.2.4).
  put<uint64_t>(config_, 0, backend_->size() / kSector);  // capacity
  put<uint32_t>(config_, 12, kQueueSize - 2);             // seg_max
  // geometry: QEMU's guess from the size (16 heads, 63 sectors, 2..16383 cylinders). Firmware
  // uses it: SeaBIOS reports it through INT 13h AH=48h and derives its CHS translation from it.
  const uint64_t cylinders = std::clamp<uint64_t>(backend_->size() / kSector / (16 * 63), 2, 16383);
  put<uint16_t>(config_, 16, uint16_t(cylinders));
  put<uint8_t>(config_, 18, 16);
  put<uint8_t>(config_, 19, 63);
  put<uint32_t>(config_, 20, uint32_t(kSector));     // blk_size
  put<uint8_t>(config_, 32, 1);                      // writeback
  put<uint16_t>(config_, 34, uint16_t(num_queues));  // num_queues
  put<uint32_t>(config_, 36, kMaxDiscardSectors);    // max_discard_sectors
  put<uint32_t>(config_, 40, 1);                     // max_discard_seg
  put<uint32_t>(config_, 44, 1);                     // discard_sector_alignment
  put<uint32_t>(config_, 48, kMaxDiscardSectors);    // max_write_zeroes_sectors
  put<uint32_t>(config_, 52, 1);                     // max_write_zeroes_seg
  put<uint8_t>(config_, 56, 1);                      // write_zeroes_may_unmap
}

VirtioBlk::~VirtioBlk() {
  backend_->drain();
}

uint64_t VirtioBlk::device_features() const {
  uint64_t f = kFeatureSegMax | kFeatureGeometry | kFeatureBlkSize | kFeatureFlush |
               kFeatureDiscard | kFeatureWriteZeroes;
  if (backend_->read_only()) f |= kFeatureRo;
  if (num_queues() > 1) f |= kFeatureMq;
  return f;
}

void VirtioBlk::device_reset(std::unique_lock<std::mutex>& held) {
  // Requests in flight still write guest memory and the used ring; let them finish first.
  wait_idle(held);
}

void VirtioBlk::wait_idle(std::unique_lock<std::mutex>& held) {
  idle_.wait(held, [this] { return in_flight_ == 0; });
}

void VirtioBlk::queue_kicked(unsigned q) {
  Virtqueue& vq = queue(q);
  VirtqElement e;
  while (vq.pop(e) == Virtqueue::Pop::Element) start(q, e);
  finish_queue(q);
}

void VirtioBlk::start(unsigned q, VirtqElement& e) {
  struct {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
  } hdr;
  if (e.out_bytes < sizeof hdr || e.in_bytes < 1) {
    log().log(kLogGuestErrors, "virtio-blk: %s: request without header or status byte\n",
              name().c_str());
    needs_reset();
    return;
  }
  e.read_out(0, {reinterpret_cast<uint8_t*>(&hdr), sizeof hdr});
  auto p = std::make_shared<Pending>();
  p->queue = q;
  p->elem = std::move(e);
  const VirtqElement& el = p->elem;
  const uint64_t data_in = el.in_bytes - 1;  // the last writable byte is the status
  const uint64_t data_out = el.out_bytes - sizeof hdr;

  block::Request r;
  auto fail = [&](uint8_t status, const char* why) {
    log().log(kLogGuestErrors, "virtio-blk: %s: %s (type %u, sector %" PRIu64 ")\n", name().c_str(),
              why, hdr.type, hdr.sector);
    ++in_flight_;
    complete(*p, status);
  };
  // The byte offset, checked against overflow; the backend checks it against the image size.
  const bool sector_ok = hdr.sector <= (UINT64_MAX / kSector);
  r.offset = hdr.sector * kSector;
  switch (hdr.type) {
    case kTypeIn:
      if (!sector_ok || data_in % kSector) return fail(kStatusIoErr, "read of a partial sector");
      r.type = block::RequestType::kRead;
      r.segments = slice(el.in, 0, data_in);
      break;
    case kTypeOut:
      if (!sector_ok || data_out % kSector) return fail(kStatusIoErr, "write of a partial sector");
      if (backend_->read_only()) return fail(kStatusIoErr, "write to a read-only drive");
      r.type = block::RequestType::kWrite;
      r.segments = slice(el.out, sizeof hdr, data_out);
      break;
    case kTypeFlush:
      r.type = block::RequestType::kFlush;
      break;
    case kTypeGetId: {
      std::array<uint8_t, kIdBytes> id{};
      const std::string& serial = backend_->serial();
      std::memcpy(id.data(), serial.data(), std::min(serial.size(), id.size()));
      const size_t n = std::min<uint64_t>(data_in, id.size());
      el.write_in(0, {id.data(), n});
      ++in_flight_;
      complete(*p, kStatusOk);
      return;
    }
    case kTypeDiscard:
    case kTypeWriteZeroes: {
      struct {
        uint64_t sector;
        uint32_t num_sectors;
        uint32_t flags;
      } seg;
      const bool zeroes = hdr.type == kTypeWriteZeroes;
      if (data_out != sizeof seg) return fail(kStatusUnsupp, "discard/write-zeroes segment count");
      el.read_out(sizeof hdr, {reinterpret_cast<uint8_t*>(&seg), sizeof seg});
      if ((seg.flags & ~uint32_t(zeroes ? 1 : 0)) != 0)
        return fail(kStatusUnsupp, "discard/write-zeroes flags");
      if (seg.num_sectors > kMaxDiscardSectors || seg.sector > UINT64_MAX / kSector)
        return fail(kStatusIoErr, "discard/write-zeroes range");
      r.type = zeroes ? block::RequestType::kWriteZeroes : block::RequestType::kDiscard;
      r.offset = seg.sector * kSector;
      r.length = uint64_t(seg.num_sectors) * kSector;
      r.may_unmap = zeroes && (seg.flags & 1);
      break;
    }
    default:
      log().log(kLogUnimp, "virtio-blk: %s: request type %u\n", name().c_str(), hdr.type);
      ++in_flight_;
      complete(*p, kStatusUnsupp);
      return;
  }
  ++in_flight_;
  backend_->submit(std::move(r), [this, p](const block::Status& s) {
    std::lock_guard g(mutex());
    if (!s.ok())
      log().log(kLogGuestErrors, "virtio-blk: %s: %s\n", name().c_str(), s.message.c_str());
    complete(*p, s.ok() ? kStatusOk : kStatusIoErr);
  });
}

void VirtioBlk::complete(Pending& p, uint8_t status) {
  const VirtqElement& e = p.elem;
  e.write_in(e.in_bytes - 1, {&status, 1});
  // Like QEMU, report the whole writable area as written: the status byte ends it.
  queue(p.queue).push(e, uint32_t(std::min<uint64_t>(e.in_bytes, UINT32_MAX)));
  finish_queue(p.queue);
  if (--in_flight_ == 0) idle_.notify_all();
}

}  // namespace orrery::hw::virtio
