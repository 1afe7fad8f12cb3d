#include "machine/pc/pc_pam.h"

#include <cstring>

namespace orrery::machine::pc {

namespace {

/// Segment i's place (the i440FX's numbering: PAM0's 0xf0000 first).
void segment_place(unsigned i, uint64_t& base, uint64_t& size) {
  base = i == 0 ? 0xf0000 : 0xc0000 + uint64_t(i - 1) * 0x4000;
  size = i == 0 ? 0x10000 : 0x4000;
}

}  // namespace

PcShadowRam::PcShadowRam(hw::AddressSpace& mem, std::unique_ptr<hw::MemoryRegion> ram)
    : mem_(mem), ram_(std::move(ram)), wo_(hw::MemoryRegion::mmio("pam-wo", kSize, wo_dev_)) {
  for (unsigned i = 0; i < segs_.size(); ++i) {
    uint64_t base, size;
    segment_place(i, base, size);
    const std::string n = "pam-" + std::to_string(i);
    segs_[i].ram = hw::MemoryRegion::alias(n + "-ram", *ram_, base - kBase, size);
    segs_[i].wo = hw::MemoryRegion::alias(n + "-wo", *wo_, base - kBase, size);
    segs_[i].ram->set_enabled(false);
    segs_[i].wo->set_enabled(false);
  }
}

std::string PcShadowRam::map() {
  for (unsigned i = 0; i < segs_.size(); ++i) {
    uint64_t base, size;
    segment_place(i, base, size);
    for (auto* r : {segs_[i].ram.get(), segs_[i].wo.get()}) {
      std::string err = mem_.root().add_subregion(*r, base, 1);
      if (!err.empty()) return err;
    }
  }
  return {};
}

void PcShadowRam::set_rom(uint64_t base, uint64_t size, const uint8_t* host) {
  for (Rom& r : roms_) {
    if (r.host && r.base != base) continue;
    r = {base, size, host};
    return;
  }
}

void PcShadowRam::set_segment(unsigned index, const hw::pci::PamSegment& s) {
  if (index >= segs_.size()) return;
  Segment& g = segs_[index];
  // Off first, so that the two aliases never overlap at one priority.
  if (!s.read_dram) g.ram->set_enabled(false);
  if (!(s.write_dram && !s.read_dram)) g.wo->set_enabled(false);
  if (s.read_dram) {
    g.ram->set_readonly(!s.write_dram);
    g.ram->set_enabled(true);
  } else if (s.write_dram) {
    g.wo->set_enabled(true);
  }
}

hw::MemResult PcShadowRam::WriteOnly::read(uint64_t offset, unsigned size, uint64_t& value) {
  const uint64_t addr = kBase + offset;
  for (const Rom& r : s_.roms_) {
    if (!r.host || addr < r.base || addr - r.base > r.size - size) continue;
    value = 0;
    std::memcpy(&value, r.host + (addr - r.base), size);
    return hw::MemResult::Ok;
  }
  value = size == 8 ? ~0ull : (1ull << (8 * size)) - 1;
  return hw::MemResult::Ok;
}

hw::MemResult PcShadowRam::WriteOnly::write(uint64_t offset, unsigned size, uint64_t value) {
  if (offset > kSize - size) return hw::MemResult::DecodeError;
  std::memcpy(s_.ram_->host() + offset, &value, size);
  s_.mem_.notify_written(kBase + offset, size);  // translated code there is stale
  return hw::MemResult::Ok;
}

}  // namespace orrery::machine::pc
