#include "hw/char/pl011.h"

#include <cinttypes>

namespace orrery::hw {

namespace {

// Sizes 1, 2, 4 or 8 (QEMU's valid sizes), naturally aligned, inside the 4 KiB frame.
bool access_ok(uint64_t offset, unsigned size) {
  return offset < Pl011::kMmioSize && (size == 1 || size == 2 || size == 4 || size == 8) &&
         (offset & (size - 1)) == 0;
}

// UARTPeriphID0-3 then UARTPCellID0-3: part 0x011, designer ARM (0x41), revision 1.
constexpr uint8_t kIdRegs[8] = {0x11, 0x10, 0x14, 0x00, 0x0D, 0xF0, 0x05, 0xB1};

// Register widths: writes keep only the implemented bits.
constexpr uint32_t kIlprMask = 0xFF, kIbrdMask = 0xFFFF, kFbrdMask = 0x3F, kLcrHMask = 0xFF,
                   kCrMask = 0xFF87, kIflsMask = 0x3F, kDmacrMask = 0x7;
// Reset values (TRM table 3-1).
constexpr uint32_t kCrReset = Pl011::CR_TXE | Pl011::CR_RXE, kIflsReset = 0x12;

const char* reg_name(uint64_t reg) {
  switch (reg) {
    case Pl011::UARTDR:
      return "UARTDR";
    case Pl011::UARTRSR:
      return "UARTRSR/UARTECR";
    case Pl011::UARTFR:
      return "UARTFR";
    case Pl011::UARTILPR:
      return "UARTILPR";
    case Pl011::UARTIBRD:
      return "UARTIBRD";
    case Pl011::UARTFBRD:
      return "UARTFBRD";
    case Pl011::UARTLCR_H:
      return "UARTLCR_H";
    case Pl011::UARTCR:
      return "UARTCR";
    case Pl011::UARTIFLS:
      return "UARTIFLS";
    case Pl011::UARTIMSC:
      return "UARTIMSC";
    case Pl011::UARTRIS:
      return "UARTRIS";
    case Pl011::UARTMIS:
      return "UARTMIS";
    case Pl011::UARTICR:
      return "UARTICR";
    case Pl011::UARTDMACR:
      return "UARTDMACR";
    default:
      return reg >= Pl011::UARTPeriphID0 && reg < Pl011::kMmioSize ? "ID register" : "reserved";
  }
}

}  // namespace

Pl011::Pl011(Log& log) : log_(log) {
  reset();
}

void Pl011::set_sink(CharSink* sink) {
  std::lock_guard<std::mutex> g(mu_);
  sink_ = sink;
}

void Pl011::reset() {
  std::lock_guard<std::mutex> g(mu_);
  rx_head_ = rx_count_ = 0;
  overrun_pending_ = false;
  rsr_ = ilpr_ = ibrd_ = fbrd_ = lcr_h_ = imsc_ = ris_ = dmacr_ = 0;
  cr_ = kCrReset;
  ifls_ = kIflsReset;
  warned_tx_disabled_ = warned_rx_disabled_ = warned_dma_ = false;
  update_irq();
}

MemResult Pl011::read(uint64_t offset, unsigned size, uint64_t& value) {
  if (!access_ok(offset, size)) {
    log_.log(kLogGuestErrors, "pl011: bad read at offset 0x%" PRIx64 " size %u\n", offset, size);
    value = 0;
    return MemResult::DeviceError;
  }
  if (size == 8) {
    // No register is 64 bits wide: as QEMU does, read two registers, low word first.
    log_.log(kLogGuestErrors,
             "pl011: 64-bit read at offset 0x%" PRIx64 " (split into two 32-bit accesses)\n",
             offset);
    std::lock_guard<std::mutex> g(mu_);
    uint64_t lo = read_reg(offset);
    value = lo | uint64_t(read_reg(offset + 4)) << 32;
    return MemResult::Ok;
  }
  std::lock_guard<std::mutex> g(mu_);
  unsigned shift = unsigned(offset & 3) * 8;
  uint64_t v = uint64_t(read_reg(offset & ~uint64_t(3))) >> shift;
  value = size == 4 ? v : v & ((uint64_t(1) << (size * 8)) - 1);
  return MemResult::Ok;
}

MemResult Pl011::write(uint64_t offset, unsigned size, uint64_t value) {
  if (!access_ok(offset, size)) {
    log_.log(kLogGuestErrors, "pl011: bad write at offset 0x%" PRIx64 " size %u\n", offset, size);
    return MemResult::DeviceError;
  }
  std::lock_guard<std::mutex> g(mu_);
  if (size == 8) {
    log_.log(kLogGuestErrors,
             "pl011: 64-bit write at offset 0x%" PRIx64 " (split into two 32-bit accesses)\n",
             offset);
    write_reg(offset, uint32_t(value));
    write_reg(offset + 4, uint32_t(value >> 32));
    return MemResult::Ok;
  }
  if (size < 4) value &= (uint64_t(1) << (size * 8)) - 1;
  // APB has no byte strobes: the register takes the whole data bus with the value on its lanes.
  write_reg(offset & ~uint64_t(3), uint32_t(value << ((offset & 3) * 8)));
  return MemResult::Ok;
}

uint32_t Pl011::read_reg(uint64_t reg) {
  switch (reg) {
    case UARTDR:
      return read_dr();
    case UARTRSR:
      return rsr_;
    case UARTFR:
      return flags();
    case UARTILPR:
      return ilpr_;
    case UARTIBRD:
      return ibrd_;
    case UARTFBRD:
      return fbrd_;
    case UARTLCR_H:
      return lcr_h_;
    case UARTCR:
      return cr_;
    case UARTIFLS:
      return ifls_;
    case UARTIMSC:
      return imsc_;
    case UARTRIS:
      return ris_;
    case UARTMIS:
      return ris_ & imsc_;
    case UARTICR:
      log_.log(kLogGuestErrors, "pl011: read of write-only UARTICR\n");
      return 0;
    case UARTDMACR:
      return dmacr_;
    default:
      if (reg >= UARTPeriphID0) return kIdRegs[(reg - UARTPeriphID0) / 4];
      log_.log(kLogGuestErrors, "pl011: read of reserved offset 0x%03" PRIx64 "\n", reg);
      return 0;
  }
}

void Pl011::write_reg(uint64_t reg, uint32_t value) {
  switch (reg) {
    case UARTDR:
      transmit(uint8_t(value));
      break;
    case UARTRSR:
      rsr_ = 0;
      break;  // UARTECR: any write clears all four error bits
    case UARTILPR:
      ilpr_ = value & kIlprMask;
      break;
    case UARTIBRD:
      ibrd_ = value & kIbrdMask;
      break;
    case UARTFBRD:
      fbrd_ = value & kFbrdMask;
      break;
    case UARTLCR_H:
      // Changing FEN changes the receive capacity; re-evaluate the level-based interrupts.
      lcr_h_ = value & kLcrHMask;
      update_rx_level();
      break;
    case UARTCR:
      cr_ = value & kCrMask;
      break;
    case UARTIFLS:
      ifls_ = value & kIflsMask;
      update_rx_level();
      break;
    case UARTIMSC:
      imsc_ = value & INT_ALL;
      break;
    case UARTICR:
      ris_ &= ~(value & INT_ALL);
      break;
    case UARTDMACR:
      dmacr_ = value & kDmacrMask;
      if ((dmacr_ & 3) && !warned_dma_) {
        warned_dma_ = true;
        log_.log(kLogUnimp, "pl011: DMA requests (UARTDMACR=0x%x) are not implemented\n", dmacr_);
      }
      break;
    default:
      log_.log(kLogGuestErrors,
               "pl011: write 0x%x to read-only or reserved %s (offset 0x%03" PRIx64 ")\n", value,
               reg_name(reg), reg);
      return;
  }
  update_irq();
}

unsigned Pl011::rx_trigger() const {
  if (!(lcr_h_ & LCR_H_FEN)) return 1;
  // RXIFLSEL: 1/8, 1/4, 1/2, 3/4, 7/8 full; 0b101–0b111 are reserved (treated as 1/2 here).
  static constexpr unsigned kEighths[8] = {1, 2, 4, 6, 7, 4, 4, 4};
  return kFifoDepth * kEighths[(ifls_ >> 3) & 7] / 8;
}

void Pl011::update_rx_level() {
  if (rx_count_ >= rx_trigger())
    ris_ |= INT_RX;
  else
    ris_ &= ~INT_RX;
}

uint32_t Pl011::flags() const {
  uint32_t fr = FR_TXFE;  // transmission is instantaneous: never TXFF, never BUSY
  if (rx_count_ == 0) fr |= FR_RXFE;
  if (rx_count_ >= fifo_capacity()) fr |= FR_RXFF;
  return fr;
}

uint32_t Pl011::read_dr() {
  if (rx_count_ == 0) {
    log_.log(kLogGuestErrors, "pl011: UARTDR read with the receive FIFO empty\n");
    return 0;
  }
  uint32_t entry = rx_fifo_[rx_head_];
  rx_head_ = (rx_head_ + 1) % kFifoDepth;
  --rx_count_;
  // UARTRSR reports the error status of the character just read (OE is set at overrun time).
  rsr_ |= (entry >> 8) & (RSR_FE | RSR_PE | RSR_BE);
  if (rx_count_ < rx_trigger()) ris_ &= ~INT_RX;
  if (rx_count_ == 0) ris_ &= ~INT_RT;
  update_irq();
  return entry;
}

void Pl011::transmit(uint8_t byte) {
  if ((!(cr_ & CR_UARTEN) || !(cr_ & CR_TXE)) && !warned_tx_disabled_) {
    // Real hardware would hold the byte. Bare-metal programs commonly skip enabling the UART,
    // so (like QEMU) Orrery transmits anyway and only reports it.
    warned_tx_disabled_ = true;
    log_.log(kLogGuestErrors, "pl011: transmit with UARTCR=0x%x (UARTEN or TXE clear)\n", cr_);
  }
  if (cr_ & CR_LBE) {
    push_rx(byte);
  } else if (sink_) {
    sink_->write(std::span<const uint8_t>(&byte, 1));
  }
  // The byte left the FIFO at once, so the FIFO just fell to (or below) the trigger level.
  ris_ |= INT_TX;
}

void Pl011::push_rx(uint32_t entry) {
  if (rx_count_ >= fifo_capacity()) {
    // The FIFO keeps its contents; the shift register's character is lost.
    rsr_ |= RSR_OE;
    ris_ |= INT_OE;
    overrun_pending_ = true;
    return;
  }
  if (overrun_pending_) {
    entry |= DR_OE;
    overrun_pending_ = false;
  }
  rx_fifo_[(rx_head_ + rx_count_) % kFifoDepth] = uint16_t(entry);
  ++rx_count_;
  if (entry & DR_FE) ris_ |= INT_FE;
  if (entry & DR_PE) ris_ |= INT_PE;
  if (entry & DR_BE) ris_ |= INT_BE;
  if (rx_count_ >= rx_trigger()) ris_ |= INT_RX;
  ris_ |= INT_RT;
}

void Pl011::check_rx_enabled() {
  if ((!(cr_ & CR_UARTEN) || !(cr_ & CR_RXE)) && !warned_rx_disabled_) {
    // As for transmit: accepted anyway so polling bare-metal programs can read input.
    warned_rx_disabled_ = true;
    log_.log(kLogGuestErrors, "pl011: receive with UARTCR=0x%x (UARTEN or RXE clear)\n", cr_);
  }
}

size_t Pl011::receive(std::span<const uint8_t> data) {
  std::lock_guard<std::mutex> g(mu_);
  if (data.empty()) return 0;
  check_rx_enabled();
  size_t n = 0;
  while (n < data.size() && rx_count_ < fifo_capacity()) push_rx(data[n++]);
  if (n) update_irq();
  return n;
}

void Pl011::receive_break() {
  std::lock_guard<std::mutex> g(mu_);
  check_rx_enabled();
  // A break is received as a NUL character with BE set (TRM: "a 0 character is loaded").
  push_rx(DR_BE);
  update_irq();
}

size_t Pl011::rx_space() const {
  std::lock_guard<std::mutex> g(mu_);
  unsigned cap = fifo_capacity();
  return rx_count_ < cap ? cap - rx_count_ : 0;
}

void Pl011::update_irq() {
  intr_.set((ris_ & imsc_) != 0);
}

}  // namespace orrery::hw
