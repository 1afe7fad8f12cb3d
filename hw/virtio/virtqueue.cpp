#include "hw/virtio/virtqueue.h"

#include <atomic>
#include <cinttypes>
#include <cstring>

namespace orrery::hw::virtio {

namespace {

// virtq_desc.flags (virtio 1.2, 2.7.5)
constexpr uint16_t kDescNext = 1;
constexpr uint16_t kDescWrite = 2;
constexpr uint16_t kDescIndirect = 4;
// virtq_avail.flags and virtq_used.flags
constexpr uint16_t kAvailNoInterrupt = 1;
constexpr uint16_t kUsedNoNotify = 1;

uint16_t load16_acquire(const uint8_t* p) {
  return __atomic_load_n(reinterpret_cast<const uint16_t*>(p), __ATOMIC_ACQUIRE);
}
uint16_t load16(const uint8_t* p) {
  return __atomic_load_n(reinterpret_cast<const uint16_t*>(p), __ATOMIC_RELAXED);
}
void store16(uint8_t* p, uint16_t v, int order = __ATOMIC_RELAXED) {
  __atomic_store_n(reinterpret_cast<uint16_t*>(p), v, order);
}

// The driver's event index asks for a notification once new_idx passes it (virtio 1.2, 2.7.10).
bool need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx) {
  return uint16_t(new_idx - event - 1) < uint16_t(new_idx - old_idx);
}

}  // namespace

void VirtqElement::clear() {
  head = 0;
  out.clear();
  in.clear();
  in_ranges.clear();
  out_bytes = in_bytes = 0;
}

size_t VirtqElement::read_out(uint64_t offset, std::span<uint8_t> dst) const {
  size_t done = 0;
  for (const iovec& v : out) {
    if (done == dst.size()) break;
    if (offset >= v.iov_len) {
      offset -= v.iov_len;
      continue;
    }
    size_t n = std::min(v.iov_len - size_t(offset), dst.size() - done);
    std::memcpy(dst.data() + done, static_cast<const uint8_t*>(v.iov_base) + offset, n);
    done += n;
    offset = 0;
  }
  return done;
}

size_t VirtqElement::write_in(uint64_t offset, std::span<const uint8_t> src) const {
  size_t done = 0;
  for (const iovec& v : in) {
    if (done == src.size()) break;
    if (offset >= v.iov_len) {
      offset -= v.iov_len;
      continue;
    }
    size_t n = std::min(v.iov_len - size_t(offset), src.size() - done);
    std::memcpy(static_cast<uint8_t*>(v.iov_base) + offset, src.data() + done, n);
    done += n;
    offset = 0;
  }
  return done;
}

Virtqueue::Virtqueue(const GuestMemory& mem, Log& log, std::string name)
    : mem_(mem), log_(log), name_(std::move(name)) {}

bool Virtqueue::fail(const std::string& why) {
  if (!broken_) {
    broken_ = true;
    error_ = why;
    log_.log(kLogGuestErrors, "virtio: %s: %s; the device needs a reset\n", name_.c_str(),
             why.c_str());
  }
  return false;
}

bool Virtqueue::map_ring(uint64_t addr, uint64_t len, uint64_t align, const char* what,
                         uint8_t*& host) {
  char buf[160];
  if (addr & (align - 1)) {
    std::snprintf(buf, sizeof buf, "%s at 0x%" PRIx64 " is not %" PRIu64 "-byte aligned", what,
                  addr, align);
    return fail(buf);
  }
  host = mem_.address_space().host_ptr(addr, len);
  const RegionRef r = host ? mem_.address_space().find(addr) : RegionRef();
  if (!host || r->kind != RegionKind::Ram) {
    std::snprintf(buf, sizeof buf, "%s [0x%" PRIx64 ", +0x%" PRIx64 ") is not in guest RAM", what,
                  addr, len);
    host = nullptr;
    return fail(buf);
  }
  return true;
}

bool Virtqueue::start(const VirtqLayout& l, bool event_idx) {
  stop();
  layout_ = l;
  event_idx_ = event_idx;
  running_ = true;
  const uint32_t n = l.size;
  if (n == 0 || n > kMaxSize || (n & (n - 1)))
    return fail("queue size " + std::to_string(n) + " is not a power of two up to 32768");
  // Sizes with the event words (virtio 1.2, 2.7: desc 16n, avail 6+2n, used 6+8n).
  return map_ring(l.desc, 16ull * n, 16, "descriptor table", desc_) &&
         map_ring(l.avail, 6 + 2ull * n, 2, "available ring", avail_) &&
         map_ring(l.used, 6 + 8ull * n, 4, "used ring", used_);
}

void Virtqueue::stop() {
  running_ = broken_ = false;
  error_.clear();
  desc_ = avail_ = used_ = nullptr;
  last_avail_ = used_idx_ = staged_idx_ = signalled_used_ = 0;
  signalled_valid_ = false;
  pushed_ = false;
}

void Virtqueue::resume(uint16_t last_avail) {
  if (!running_ || broken_) return;
  last_avail_ = last_avail;
  used_idx_ = staged_idx_ = load16_acquire(used_ + 2);
  signalled_valid_ = false;
  if (event_idx_) {
    store16(used_ + 4 + 8u * layout_.size, last_avail_);
    mem_.written(layout_.used + 4 + 8ull * layout_.size, 2);
  }
}

uint16_t Virtqueue::avail_idx() const {
  return load16_acquire(avail_ + 2);
}

bool Virtqueue::add_buffer(VirtqElement& e, const Desc& d, bool& seen_writable) {
  char buf[160];
  if (d.len == 0) return fail("descriptor with zero length");
  const bool writable = d.flags & kDescWrite;
  if (!writable && seen_writable) return fail("device-readable descriptor after a writable one");
  seen_writable |= writable;
  if (!mem_.map(d.addr, d.len, writable, writable ? e.in : e.out)) {
    std::snprintf(buf, sizeof buf, "buffer [0x%" PRIx64 ", +0x%x) is not in guest RAM", d.addr,
                  d.len);
    return fail(buf);
  }
  if (writable) {
    e.in_ranges.push_back({d.addr, d.len});
    e.in_bytes += d.len;
  } else {
    e.out_bytes += d.len;
  }
  return true;
}

bool Virtqueue::walk_chain(uint16_t head, VirtqElement& e) {
  const uint32_t size = layout_.size;
  if (head >= size) return fail("available ring names descriptor " + std::to_string(head));
  e.head = head;
  bool seen_writable = false;
  Desc d;
  std::memcpy(&d, desc_ + 16u * head, sizeof d);
  if (d.flags & kDescIndirect) {
    // The whole chain lives in the indirect table (virtio 1.2, 2.7.5.3).
    if (d.flags & kDescNext) return fail("indirect descriptor with NEXT set");
    if (d.len == 0 || d.len % 16 || d.len / 16 > kMaxSize)
      return fail("indirect table of " + std::to_string(d.len) + " bytes");
    indirect_.resize(d.len / 16);
    if (!mem_.read(d.addr, {reinterpret_cast<uint8_t*>(indirect_.data()), d.len}))
      return fail("indirect table is not in guest memory");
    const uint32_t n = uint32_t(indirect_.size());
    uint32_t i = 0;
    for (uint32_t count = 0;; ++count) {
      if (count == n) return fail("indirect descriptor chain loops");
      const Desc& x = indirect_[i];
      if (x.flags & kDescIndirect) return fail("nested indirect descriptor");
      if (!add_buffer(e, x, seen_writable)) return false;
      if (!(x.flags & kDescNext)) return true;
      if (x.next >= n) return fail("indirect descriptor links to " + std::to_string(x.next));
      i = x.next;
    }
  }
  for (uint32_t count = 0;; ++count) {
    if (count == size) return fail("descriptor chain loops");
    if (d.flags & kDescIndirect) return fail("indirect descriptor inside a chain");
    if (!add_buffer(e, d, seen_writable)) return false;
    if (!(d.flags & kDescNext)) return true;
    if (d.next >= size) return fail("descriptor links to " + std::to_string(d.next));
    std::memcpy(&d, desc_ + 16u * d.next, sizeof d);
  }
}

Virtqueue::Pop Virtqueue::pop(VirtqElement& e) {
  e.clear();
  if (!running_ || broken_) return running_ ? Pop::Broken : Pop::Empty;
  const uint16_t idx = avail_idx();
  if (idx == last_avail_) return Pop::Empty;
  if (uint16_t(idx - last_avail_) > layout_.size) {
    fail("available index moved from " + std::to_string(last_avail_) + " to " +
         std::to_string(idx));
    return Pop::Broken;
  }
  const uint16_t head = load16(avail_ + 4 + 2u * (last_avail_ % layout_.size));
  if (!walk_chain(head, e)) {
    e.clear();
    return Pop::Broken;
  }
  ++last_avail_;
  if (event_idx_) {
    // avail_event: kick again once the driver passes what was taken.
    store16(used_ + 4 + 8u * layout_.size, last_avail_);
    mem_.written(layout_.used + 4 + 8ull * layout_.size, 2);
  }
  return Pop::Element;
}

void Virtqueue::push(const VirtqElement& e, uint32_t written) {
  stage(e, written);
  publish();
}

void Virtqueue::stage(const VirtqElement& e, uint32_t written) {
  if (!running_ || broken_) return;
  if (written > e.in_bytes) written = uint32_t(e.in_bytes);
  for (uint64_t left = written; const GuestRange& r : e.in_ranges) {
    if (!left) break;
    uint64_t n = std::min(left, r.len);
    mem_.written(r.addr, n);
    left -= n;
  }
  const uint32_t slot = staged_idx_ % layout_.size;
  uint8_t* elem = used_ + 4 + 8u * slot;
  const uint32_t id = e.head;
  std::memcpy(elem, &id, 4);
  std::memcpy(elem + 4, &written, 4);
  ++staged_idx_;
  mem_.written(layout_.used + 4 + 8ull * slot, 8);
}

void Virtqueue::publish() {
  if (!running_ || broken_ || staged_idx_ == used_idx_) return;
  used_idx_ = staged_idx_;
  pushed_ = true;
  // The elements must be visible before the index that publishes them.
  store16(used_ + 2, used_idx_, __ATOMIC_RELEASE);
  mem_.written(layout_.used + 2, 2);
}

void Virtqueue::unpop(uint16_t n) {
  if (!running_ || broken_) return;
  last_avail_ = uint16_t(last_avail_ - n);
  if (event_idx_) {
    store16(used_ + 4 + 8u * layout_.size, last_avail_);
    mem_.written(layout_.used + 4 + 8ull * layout_.size, 2);
  }
}

uint16_t Virtqueue::available() const {
  if (!running_ || broken_) return 0;
  return uint16_t(avail_idx() - last_avail_);
}

bool Virtqueue::should_notify() {
  // Nothing new in the used ring: no interrupt (a kick that only started requests must not
  // raise a spurious one; with MSI the driver would see an interrupt with nothing used).
  if (!running_ || !pushed_) return false;
  pushed_ = false;
  // The used index store must be ordered before reading the driver's suppression state.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (!event_idx_) return !(load16(avail_) & kAvailNoInterrupt);
  const bool valid = signalled_valid_;
  const uint16_t old_idx = signalled_used_;
  signalled_valid_ = true;
  signalled_used_ = used_idx_;
  const uint16_t used_event = load16(avail_ + 4 + 2u * layout_.size);
  return !valid || need_event(used_event, used_idx_, old_idx);
}

void Virtqueue::set_kicks_wanted(bool wanted) {
  if (!running_ || broken_) return;
  if (event_idx_) {
    if (wanted) {
      store16(used_ + 4 + 8u * layout_.size, avail_idx());
      mem_.written(layout_.used + 4 + 8ull * layout_.size, 2);
    }
  } else {
    store16(used_, wanted ? 0 : kUsedNoNotify);
    mem_.written(layout_.used, 2);
  }
  // The driver must see the new state before the device looks at the ring again.
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

}  // namespace orrery::hw::virtio
