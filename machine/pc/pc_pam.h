// The i440FX's shadow RAM below 1 MiB, switched by its PAM registers (hw/pci/i440fx.h): each
// segment (0xf0000-0xfffff, then 16 KiB pieces of 0xc0000-0xeffff) reads and writes either the
// RAM behind it or what the PCI side shows there (the option-ROM area and the isa-bios alias of
// the BIOS ROM, or nothing). As the 82441FX datasheet has it: RE sends reads to DRAM, WE writes.
// Two priority-1 aliases per segment cover the ROM below: one into the RAM (read-only without
// WE) and one into a device that reads the ROM and writes the RAM (WE without RE).
#pragma once

#include <array>
#include <memory>
#include <string>

#include "hw/core/address_space.h"
#include "hw/pci/i440fx.h"

namespace orrery::machine::pc {

class PcShadowRam {
 public:
  static constexpr uint64_t kBase = 0xc0000, kSize = 0x40000;

  /// ram: the RAM at kBase..kBase+kSize, not mapped itself (the segments show it).
  PcShadowRam(hw::AddressSpace& mem, std::unique_ptr<hw::MemoryRegion> ram);
  PcShadowRam(const PcShadowRam&) = delete;
  PcShadowRam& operator=(const PcShadowRam&) = delete;
  /// Maps the segments, every one off (empty string or why not).
  std::string map();

  /// What write-only segments read: the ROM the PCI side shows at [base, base + size) (host,
  /// which must outlive this); elsewhere they read all-ones, as an unclaimed PCI access.
  void set_rom(uint64_t base, uint64_t size, const uint8_t* host);
  /// One segment's new attributes (the i440FX's PAM callback).
  void set_segment(unsigned index, const hw::pci::PamSegment& s);

 private:
  /// Reads the ROM below, writes the RAM: a segment with WE but not RE.
  class WriteOnly final : public hw::MmioDevice {
   public:
    explicit WriteOnly(PcShadowRam& s) : s_(s) {}
    hw::MemResult read(uint64_t offset, unsigned size, uint64_t& value) override;
    hw::MemResult write(uint64_t offset, unsigned size, uint64_t value) override;
    hw::AccessRules valid() const override { return {1, 8, true}; }
    hw::AccessRules impl() const override { return {1, 8, true}; }

   private:
    PcShadowRam& s_;
  };
  struct Rom {
    uint64_t base = 0, size = 0;
    const uint8_t* host = nullptr;
  };
  struct Segment {
    std::unique_ptr<hw::MemoryRegion> ram, wo;  // aliases, at most one enabled
  };

  hw::AddressSpace& mem_;
  std::unique_ptr<hw::MemoryRegion> ram_;
  WriteOnly wo_dev_{*this};
  std::unique_ptr<hw::MemoryRegion> wo_;
  std::array<Rom, 2> roms_{};  // set before the guest runs
  std::array<Segment, hw::pci::kPamSegmentCount> segs_;
};

}  // namespace orrery::machine::pc
