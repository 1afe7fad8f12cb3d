// QEMU's pc-testdev (hw/misc/pc-testdev.c), the ISA device kvm-unit-tests drive on
// "-device pc-testdev": a 32-bit scratch register at I/O port 0xe0 (any access size; a
// narrower access reaches the bytes at its port's offset), the same register byte by byte at
// 0xe8, a flush-page port at 0xe4 (4-byte writes only), 24 interrupt-line ports at 0x2000
// (a byte write of v to 0x2000 + n sets ISA IRQ n to v != 0) and 64 KiB of scratch memory at
// physical 0xff000000.
//
// The flush port asks the host to drop and re-fault the guest page (QEMU mprotects it); RAM
// here needs nothing done, so it is accepted and ignored. QEMU aborts on an IRQ port past the
// 16 ISA lines; here those writes are guest errors.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <vector>

#include "hw/core/irq.h"
#include "hw/core/log.h"
#include "hw/core/mmio.h"
#include "hw/core/resettable.h"

namespace orrery::hw::misc {

class PcTestdev final : public Resettable {
 public:
  static constexpr uint16_t kIoportPort = 0xe0, kFlushPort = 0xe4, kIoportBytePort = 0xe8,
                            kIrqPort = 0x2000;
  static constexpr uint64_t kIoportSize = 4, kFlushSize = 4, kIrqPortSize = 24;
  static constexpr uint64_t kIomemBase = 0xff000000, kIomemSize = 0x10000;
  static constexpr unsigned kIsaIrqs = 16;

  explicit PcTestdev(Log& log);
  PcTestdev(const PcTestdev&) = delete;
  PcTestdev& operator=(const PcTestdev&) = delete;

  MmioDevice& ioport() { return ioport_; }            // 0xe0
  MmioDevice& ioport_byte() { return ioport_byte_; }  // 0xe8
  MmioDevice& flush() { return flush_; }              // 0xe4
  MmioDevice& irq_ports() { return irq_ports_; }      // 0x2000
  MmioDevice& iomem() { return iomem_; }              // 0xff000000 in memory
  /// The ISA IRQ lines the IRQ ports drive.
  IrqLine& irq(unsigned n) { return irqs_[n < kIsaIrqs ? n : 0]; }

  /// The scratch register and memory are QEMU's realize-time zeros; a reset keeps them, as
  /// QEMU's device has no reset handler.
  void reset() override {}

 private:
  enum class Kind : uint8_t { Ioport, IoportByte, Flush, Irq, Iomem };
  class Region final : public MmioDevice {
   public:
    Region(PcTestdev& dev, Kind kind) : dev_(dev), kind_(kind) {}
    MemResult read(uint64_t offset, unsigned size, uint64_t& value) override;
    MemResult write(uint64_t offset, unsigned size, uint64_t value) override;
    AccessRules valid() const override;
    AccessRules impl() const override;

   private:
    PcTestdev& dev_;
    const Kind kind_;
  };

  Log& log_;
  Region ioport_{*this, Kind::Ioport}, ioport_byte_{*this, Kind::IoportByte},
      flush_{*this, Kind::Flush}, irq_ports_{*this, Kind::Irq}, iomem_{*this, Kind::Iomem};
  std::array<IrqLine, kIsaIrqs> irqs_;
  std::mutex mu_;
  uint32_t ioport_data_ = 0;
  std::vector<uint8_t> mem_;
};

}  // namespace orrery::hw::misc
