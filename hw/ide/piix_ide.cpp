#include "hw/ide/piix_ide.h"

namespace orrery::hw::ide {

PiixIde::PiixIde(const AddressSpace& as, Log& log)
    : pci::PciDevice(as, log, "piix3-ide",
                     {.vendor = 0x8086,
                      .device = 0x7010,
                      .class_code = 0x010180,  // IDE, bus-master capable, both channels legacy
                      .subsys_vendor = 0x1af4,
                      .subsys_id = 0x1100}) {
  // 82371SB function 1: status 0x0280 (fast back-to-back, medium DEVSEL); BMIBA (BAR 4) is
  // 16 ports; IDETIM/SIDETIM timing registers are storage only (timings mean nothing here).
  const uint8_t status[2] = {0x80, 0x02};
  init_bytes(pci::kCfgStatus, status, 2);
  set_writable(pci::kCfgCommand, 1, pci::kCmdIo | pci::kCmdBusMaster);
  set_writable(pci::kCfgCommand + 1, 1, 0);
  add_bar(4, pci::BarType::Io, kBmSize, false, bm_);
  set_writable(kIdetim, 4, 0xff);
  set_writable(kIdetim + 1, 1, 0xf3);
  set_writable(kIdetim + 3, 1, 0xf3);
  set_writable(kSidetim, 1, 0xff);
  channels_[0] = std::make_unique<IdeChannel>(log, "ide0", &dma());
  channels_[1] = std::make_unique<IdeChannel>(log, "ide1", &dma());
}

void PiixIde::reset() {
  pci::PciDevice::reset();
  for (auto& c : channels_) c->reset();
}

MemResult PiixIde::BusMaster::read(uint64_t offset, unsigned size, uint64_t& value) {
  value = ide_.channel(unsigned(offset >> 3)).bm_read(unsigned(offset & 7), size);
  return MemResult::Ok;
}

MemResult PiixIde::BusMaster::write(uint64_t offset, unsigned size, uint64_t value) {
  ide_.channel(unsigned(offset >> 3)).bm_write(unsigned(offset & 7), size, value);
  return MemResult::Ok;
}

}  // namespace orrery::hw::ide
