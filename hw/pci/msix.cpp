#include "hw/pci/msix.h"

#include <cstring>

namespace orrery::hw::pci {

Msix::Msix(PciDevice& dev, Log& log, unsigned vectors, uint32_t pba_offset)
    : dev_(dev), log_(log), pba_offset_(pba_offset) {
  table_.resize(size_t(vectors) * kEntrySize);
  pba_.resize((vectors + 63) / 64);
  reset();
}

uint64_t Msix::bar_size() const {
  uint64_t need = pba_offset_ + pba_.size() * 8;
  uint64_t s = 4096;
  while (s < need) s <<= 1;
  return s;
}

void Msix::reset() {
  std::lock_guard g(mu_);
  std::fill(table_.begin(), table_.end(), 0);
  for (unsigned v = 0; v < vectors(); ++v) table_[v * kEntrySize + 12] = 1;  // masked
  std::fill(pba_.begin(), pba_.end(), 0);
  enabled_.store(false, std::memory_order_release);
  function_masked_ = false;
}

bool Msix::masked_locked(unsigned v) const {
  return function_masked_ || (table_[v * kEntrySize + 12] & 1);
}

void Msix::deliver_pending_locked() {
  if (!enabled()) return;
  for (unsigned v = 0; v < vectors(); ++v) {
    if (!(pba_[v / 64] >> (v % 64) & 1) || masked_locked(v)) continue;
    pba_[v / 64] &= ~(1ull << (v % 64));
    uint64_t addr;
    uint32_t data;
    std::memcpy(&addr, &table_[v * kEntrySize], 8);
    std::memcpy(&data, &table_[v * kEntrySize + 8], 4);
    dev_.msi_write(addr, data);
  }
}

void Msix::control_written(uint16_t control) {
  std::lock_guard g(mu_);
  enabled_.store((control & 0x8000) != 0, std::memory_order_release);
  function_masked_ = (control & 0x4000) != 0;
  deliver_pending_locked();
}

void Msix::notify(unsigned v) {
  std::lock_guard g(mu_);
  if (v >= vectors() || !enabled()) return;
  pba_[v / 64] |= 1ull << (v % 64);
  deliver_pending_locked();
}

MemResult Msix::read(uint64_t offset, unsigned size, uint64_t& value) {
  std::lock_guard g(mu_);
  value = 0;
  if (offset + size <= table_.size()) {
    std::memcpy(&value, &table_[offset], size);
  } else if (offset >= pba_offset_ && offset - pba_offset_ + size <= pba_.size() * 8) {
    std::memcpy(&value, reinterpret_cast<const uint8_t*>(pba_.data()) + (offset - pba_offset_),
                size);
  } else {
    log_.log(kLogGuestErrors, "msix: %s: read at 0x%llx outside the table and PBA\n",
             dev_.name().c_str(), (unsigned long long)offset);
  }
  return MemResult::Ok;
}

MemResult Msix::write(uint64_t offset, unsigned size, uint64_t value) {
  std::lock_guard g(mu_);
  if (offset + size > table_.size()) {
    log_.log(kLogGuestErrors, "msix: %s: write at 0x%llx outside the table (PBA is read-only)\n",
             dev_.name().c_str(), (unsigned long long)offset);
    return MemResult::Ok;
  }
  std::memcpy(&table_[offset], &value, size);
  // Only bit 0 of vector control is defined; the rest reads as zero.
  const unsigned v = unsigned(offset / kEntrySize);
  table_[v * kEntrySize + 12] &= 1;
  std::memset(&table_[v * kEntrySize + 13], 0, 3);
  deliver_pending_locked();
  return MemResult::Ok;
}

}  // namespace orrery::hw::pci
