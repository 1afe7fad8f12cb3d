#include "hw/misc/fw_cfg.h"

#include <algorithm>
#include <array>
#include <bit>

namespace orrery::hw {

namespace {

void put_be(std::vector<uint8_t>& v, uint64_t x, unsigned n) {
  for (unsigned i = 0; i < n; ++i) v.push_back(uint8_t(x >> (8 * (n - 1 - i))));
}

uint64_t get_be(const uint8_t* p, unsigned n) {
  uint64_t v = 0;
  for (unsigned i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

std::vector<uint8_t> le(uint64_t v, unsigned n) {
  std::vector<uint8_t> out(n);
  for (unsigned i = 0; i < n; ++i) out[i] = uint8_t(v >> (8 * i));
  return out;
}

/// Zero-filling is done through a bounded buffer however long the guest's request.
constexpr size_t kZeroChunk = 4096;

}  // namespace

FwCfg::FwCfg(const AddressSpace& dma_space, Log& log) : mem_(dma_space), log_(log) {
  items_[kSignature] = {'Q', 'E', 'M', 'U'};
  items_[kId] = le(kIdTraditional | kIdDma, 4);
  items_[kUuid] = std::vector<uint8_t>(16, 0);
  rebuild_directory();
}

void FwCfg::add_bytes(uint16_t key, std::vector<uint8_t> data) {
  std::lock_guard<std::mutex> g(mu_);
  items_[uint16_t(key & (kKeyMask | kArchLocal))] = std::move(data);
}
void FwCfg::add_u16(uint16_t key, uint16_t v) {
  add_bytes(key, le(v, 2));
}
void FwCfg::add_u32(uint16_t key, uint32_t v) {
  add_bytes(key, le(v, 4));
}
void FwCfg::add_u64(uint16_t key, uint64_t v) {
  add_bytes(key, le(v, 8));
}

std::string FwCfg::add_file(const std::string& name, std::vector<uint8_t> data) {
  std::lock_guard<std::mutex> g(mu_);
  if (name.empty() || name.size() >= kMaxFileName) return "fw_cfg: bad file name '" + name + "'";
  if (files_.count(name)) return "fw_cfg: file '" + name + "' added twice";
  if (files_.size() >= kMaxFiles) return "fw_cfg: no slot left for '" + name + "'";
  files_[name] = std::move(data);
  rebuild_directory();
  return {};
}

uint16_t FwCfg::file_key(const std::string& name) const {
  auto it = files_.find(name);
  if (it == files_.end()) return 0;
  return uint16_t(kFileFirst + std::distance(files_.begin(), it));
}

void FwCfg::rebuild_directory() {
  // Files take keys kFileFirst.. in name order (what the directory lists).
  for (auto it = items_.lower_bound(kFileFirst); it != items_.end() && it->first <= kKeyMask;)
    it = items_.erase(it);
  std::vector<uint8_t> dir;
  put_be(dir, files_.size(), 4);
  uint16_t key = kFileFirst;
  for (const auto& [name, data] : files_) {
    put_be(dir, data.size(), 4);
    put_be(dir, key, 2);
    put_be(dir, 0, 2);
    for (size_t i = 0; i < kMaxFileName; ++i) dir.push_back(i < name.size() ? uint8_t(name[i]) : 0);
    items_[key++] = data;
  }
  items_[kFileDir] = std::move(dir);
}

void FwCfg::reset() {
  std::lock_guard<std::mutex> g(mu_);
  selected_ = false;
  key_ = 0;
  offset_ = 0;
  dma_addr_ = 0;
}

void FwCfg::select(uint16_t key) {
  offset_ = 0;
  key_ = uint16_t(key & (kKeyMask | kArchLocal));  // the write bit is ignored
  selected_ = items_.count(key_) != 0;
}

const std::vector<uint8_t>* FwCfg::current() const {
  if (!selected_) return nullptr;
  return &items_.at(key_);
}

uint8_t FwCfg::read_data() {
  const std::vector<uint8_t>* e = current();
  if (!e || offset_ >= e->size()) return 0;
  return (*e)[offset_++];
}

void FwCfg::dma_transfer(uint64_t addr) {
  // The next transfer starts from a clean register: firmware that lives below 4 GiB writes
  // only the low half (SeaBIOS does).
  dma_addr_ = 0;
  std::array<uint8_t, 16> access;
  if (addr > UINT64_MAX - access.size() || !mem_.read(addr, access)) {
    log_.log(kLogGuestErrors, "fw_cfg: DMA access structure at 0x%llx is not in RAM\n",
             (unsigned long long)addr);
    std::array<uint8_t, 4> err = {0, 0, 0, uint8_t(kDmaError)};
    if (addr <= UINT64_MAX - 4) mem_.write(addr, err);
    return;
  }
  uint32_t control = uint32_t(get_be(&access[0], 4));
  uint32_t length = uint32_t(get_be(&access[4], 4));
  uint64_t target = get_be(&access[8], 8);
  if (control & kDmaSelect) select(uint16_t(control >> 16));
  const bool read = control & kDmaRead;
  const bool write = !read && (control & kDmaWrite);
  if (!read && !write && !(control & kDmaSkip)) length = 0;
  bool error = false;
  while (length && !error) {
    const std::vector<uint8_t>* e = current();
    uint32_t n;
    if (!e || offset_ >= e->size()) {
      // Past the item: reads give zeros, skips nothing, writes fail.
      n = length;
      if (read) {
        static constexpr std::array<uint8_t, kZeroChunk> kZeros{};
        for (uint64_t done = 0; done < n && !error; done += kZeroChunk) {
          const size_t c = size_t(std::min<uint64_t>(kZeroChunk, n - done));
          error = target > UINT64_MAX - n || !mem_.write(target + done, std::span(kZeros).first(c));
        }
      }
      if (write) error = true;
    } else {
      n = uint32_t(std::min<uint64_t>(length, e->size() - offset_));
      if (read)
        error = target > UINT64_MAX - n || !mem_.write(target, std::span(e->data() + offset_, n));
      if (write) error = true;  // every item is read-only
      offset_ += n;
    }
    target += n;
    length -= n;
  }
  if (error)
    log_.log(kLogGuestErrors, "fw_cfg: DMA %s of key 0x%x failed (0x%llx not RAM, or read-only)\n",
             read    ? "read"
             : write ? "write"
                     : "skip",
             key_, (unsigned long long)target);
  std::array<uint8_t, 4> done = {0, 0, 0, uint8_t(error ? kDmaError : 0)};
  mem_.write(addr, done);
}

MemResult FwCfg::IoPorts::read(uint64_t offset, unsigned size, uint64_t& value) {
  std::lock_guard<std::mutex> g(f_.mu_);
  value = 0;
  if (offset == 1 && size == 1) {
    value = f_.read_data();
  } else {
    f_.log_.log(kLogGuestErrors, "fw_cfg: %u-byte read of port +%llu\n", size,
                (unsigned long long)offset);
  }
  return MemResult::Ok;
}

MemResult FwCfg::IoPorts::write(uint64_t offset, unsigned size, uint64_t value) {
  std::lock_guard<std::mutex> g(f_.mu_);
  if (offset == 0 && size == 2) {
    f_.select(uint16_t(value));
  } else if (offset == 1 && size == 1) {
    f_.log_.log(kLogGuestErrors, "fw_cfg: data port writes are ignored\n");
  } else {
    f_.log_.log(kLogGuestErrors, "fw_cfg: %u-byte write of port +%llu\n", size,
                (unsigned long long)offset);
  }
  return MemResult::Ok;
}

MemResult FwCfg::DmaPorts::read(uint64_t offset, unsigned size, uint64_t& value) {
  // The signature's bytes in port order ("QEMU CFG"), assembled as the little-endian IN sees them.
  value = 0;
  for (unsigned i = 0; i < size && offset + i < kDmaSize; ++i)
    value |= ((kDmaSignature >> (8 * (7 - (offset + i)))) & 0xff) << (8 * i);
  return MemResult::Ok;
}

MemResult FwCfg::DmaPorts::write(uint64_t offset, unsigned size, uint64_t value) {
  std::lock_guard<std::mutex> g(f_.mu_);
  // The register is big-endian: the guest writes the address's bytes most significant first.
  if (size == 4 && offset == 0) {
    f_.dma_addr_ = uint64_t(__builtin_bswap32(uint32_t(value))) << 32;
  } else if (size == 4 && offset == 4) {
    f_.dma_addr_ |= __builtin_bswap32(uint32_t(value));
    f_.dma_transfer(f_.dma_addr_);
  } else if (size == 8 && offset == 0) {
    f_.dma_addr_ = __builtin_bswap64(value);
    f_.dma_transfer(f_.dma_addr_);
  } else {
    f_.log_.log(kLogGuestErrors, "fw_cfg: %u-byte write of DMA port +%llu ignored\n", size,
                (unsigned long long)offset);
  }
  return MemResult::Ok;
}

}  // namespace orrery::hw
