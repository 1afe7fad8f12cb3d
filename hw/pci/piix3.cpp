#include "hw/pci/piix3.h"

namespace orrery::hw::pci {

namespace {

// ISA IRQs a PIRQRC may name (82371SB 2.2.10): 3-7, 9-12, 14, 15; the rest are reserved.
constexpr bool routable_irq(unsigned irq) {
  return irq >= 3 && irq <= 15 && irq != 8 && irq != 13;
}

}  // namespace

Piix3IsaFunction::Piix3IsaFunction(const AddressSpace& as, Log& log)
    : PciDevice(as, log, "PIIX3",
                {.vendor = 0x8086,
                 .device = 0x7000,
                 .class_code = 0x060100,
                 .subsys_vendor = 0x1af4,
                 .subsys_id = 0x1100}) {
  // 82371SB function 0 power-on values. Command 0x0007: I/O, memory and bus master are fixed
  // on (the bridge always decodes ISA); status 0x0200 (medium DEVSEL).
  const uint8_t cmd_status[4] = {0x07, 0x00, 0x00, 0x02};
  init_bytes(kCfgCommand, cmd_status, 4);
  set_writable(kCfgCommand, 2, 0);
  struct Reg {
    uint8_t offset, value, wmask;
  };
  static constexpr Reg kRegs[] = {
      {0x4c, 0x4d, 0xff},  // IORT: ISA I/O recovery timer
      {0x4e, 0x03, 0xff},  // XBCS: X-bus chip select (RTC, keyboard, BIOS decode)
      {0x4f, 0x00, 0x03}, {0x60, 0x80, 0x8f},  // PIRQRC[A-D]: routing disabled
      {0x61, 0x80, 0x8f}, {0x62, 0x80, 0x8f},
      {0x63, 0x80, 0x8f}, {0x69, 0x02, 0xfe},  // TOM: top of memory for ISA/DMA forwarding
      {0x6a, 0x00, 0xff},                      // MSTAT
      {0x6b, 0x00, 0x00}, {0x70, 0x80, 0xcf},  // MBIRQ0: motherboard IRQ routing disabled
      {0x76, 0x0c, 0x8f},                      // MBDMA0/1: channel 4 (none)
      {0x77, 0x0c, 0x8f}, {0x78, 0x02, 0xff},  // PCSC: programmable chip select
      {0x79, 0x00, 0xff}, {0x80, 0x00, 0x7f},  // APICBASE
      {0x82, 0x00, 0x0f},                      // DLC: deterministic latency
      {0xa0, 0x08, 0x1f},                      // SMICNTL
      {0xa2, 0x00, 0xff},                      // SMIEN
      {0xa3, 0x00, 0x01}, {0xa4, 0x00, 0xff},  // SEEC: system event enable
      {0xa5, 0x00, 0xff}, {0xa6, 0x00, 0xff},
      {0xa7, 0x00, 0xff}, {0xa8, 0x0f, 0xff},  // FTMR: fast-off timer
      {0xaa, 0x00, 0xff},                      // SMIREQ
      {0xab, 0x00, 0xff}, {0xac, 0x00, 0xff},  // CTLTMR
      {0xae, 0x00, 0xff},                      // CTHTMR
  };
  for (const Reg& r : kRegs) {
    init_bytes(r.offset, &r.value, 1);
    set_writable(r.offset, 1, r.wmask);
  }
  route_.fill(kIrqRoutDisable);
}

int Piix3IsaFunction::pirq_route(unsigned n) {
  std::lock_guard g(mu_);
  if (n >= kPirqCount || (route_[n] & kIrqRoutDisable) || !routable_irq(route_[n] & 0xf)) return -1;
  return route_[n] & 0xf;
}

bool Piix3IsaFunction::pirq_level(unsigned n) {
  std::lock_guard g(mu_);
  return n < kPirqCount && pirq_[n];
}

void Piix3IsaFunction::set_irq(unsigned line, bool level) {
  if (line >= kPirqCount) return;
  std::lock_guard g(mu_);
  pirq_[line] = level;
  update_locked();
}

void Piix3IsaFunction::config_written(unsigned offset, unsigned size) {
  if (offset >= kPirqrc + kPirqCount || offset + size <= kPirqrc) return;
  std::array<uint8_t, kPirqCount> r;
  for (unsigned i = 0; i < kPirqCount; ++i) {
    r[i] = uint8_t(config_read(kPirqrc + i, 1));
    const unsigned irq = r[i] & 0xf;
    if (!(r[i] & kIrqRoutDisable) && !routable_irq(irq))
      log().log(kLogGuestErrors, "PIIX3: PIRQ%c routed to reserved IRQ %u; not delivered\n",
                'A' + i, irq);
  }
  std::lock_guard g(mu_);
  route_ = r;
  update_locked();
}

void Piix3IsaFunction::reset() {
  PciDevice::reset();
  std::lock_guard g(mu_);
  route_.fill(kIrqRoutDisable);
  update_locked();
}

void Piix3IsaFunction::update_locked() {
  std::array<bool, kIsaIrqs> want{};
  for (unsigned i = 0; i < kPirqCount; ++i) {
    const unsigned irq = route_[i] & 0xf;
    if (!(route_[i] & kIrqRoutDisable) && routable_irq(irq)) want[irq] = want[irq] || pirq_[i];
  }
  // Only lines whose level changes are driven: an ISA IRQ no PIRQ touches is left alone.
  for (unsigned irq = 0; irq < kIsaIrqs; ++irq) {
    if (want[irq] == out_[irq]) continue;
    out_[irq] = want[irq];
    isa_irq_[irq].set(want[irq]);
  }
}

MemResult Piix3ResetControl::read(uint64_t offset, unsigned size, uint64_t& value) {
  std::lock_guard g(mu_);
  value = value_;
  return MemResult::Ok;
}

MemResult Piix3ResetControl::write(uint64_t offset, unsigned size, uint64_t value) {
  bool start = false, hard = false;
  {
    std::lock_guard g(mu_);
    // RCPU reads back 0: the reset it starts is immediate.
    start = (value & kRcpu) != 0;
    hard = (value & kSrst) != 0;
    value_ = uint8_t(value & kSrst);
  }
  if (start) {
    log_.log(kLogInt, "PIIX3: %s reset through port 0xcf9\n", hard ? "hard" : "soft");
    if (cb_) cb_(hard);
  }
  return MemResult::Ok;
}

void Piix3ResetControl::reset() {
  std::lock_guard g(mu_);
  value_ = 0;
}

}  // namespace orrery::hw::pci
