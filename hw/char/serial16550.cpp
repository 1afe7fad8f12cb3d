#include "hw/char/serial16550.h"

#include <cinttypes>

namespace orrery::hw {

namespace {

constexpr uint8_t kLsrErrors =
    Serial16550::LSR_OE | Serial16550::LSR_PE | Serial16550::LSR_FE | Serial16550::LSR_BI;
// Reset divisor 12: 9600 baud from the 1.8432 MHz clock, as QEMU's reset leaves it.
constexpr uint16_t kResetDivisor = 12;

}  // namespace

Serial16550::Serial16550(Log& log, const char* name) : log_(log), name_(name) {
  reset();
}

void Serial16550::set_sink(CharSink* sink) {
  std::lock_guard<std::mutex> g(mu_);
  sink_ = sink;
}

void Serial16550::reset() {
  std::lock_guard<std::mutex> g(mu_);
  clear_rx();
  last_rbr_ = 0;
  ier_ = fcr_ = lcr_ = scr_ = 0;
  mcr_ = MCR_OUT2;  // QEMU's reset value (the PC's interrupt enable)
  lsr_ = LSR_THRE | LSR_TEMT;
  dll_ = uint8_t(kResetDivisor);
  dlm_ = uint8_t(kResetDivisor >> 8);
  msr_ = modem_lines();  // no deltas at power-on
  thr_pending_ = timeout_pending_ = false;
  update_irq();
}

uint16_t Serial16550::divisor() const {
  std::lock_guard<std::mutex> g(mu_);
  return uint16_t(dll_ | dlm_ << 8);
}

MemResult Serial16550::read(uint64_t offset, unsigned size, uint64_t& value) {
  if (offset >= kIoSize || size != 1) {
    value = 0xff;
    return MemResult::DeviceError;
  }
  std::lock_guard<std::mutex> g(mu_);
  value = read_reg(offset);
  return MemResult::Ok;
}

MemResult Serial16550::write(uint64_t offset, unsigned size, uint64_t value) {
  if (offset >= kIoSize || size != 1) return MemResult::DeviceError;
  std::lock_guard<std::mutex> g(mu_);
  write_reg(offset, uint8_t(value));
  return MemResult::Ok;
}

uint8_t Serial16550::read_reg(uint64_t reg) {
  const bool dlab = lcr_ & LCR_DLAB;
  switch (reg) {
    case RBR:
      if (dlab) return dll_;
      if (rx_count_ == 0) return (fcr_ & FCR_ENABLE) ? 0 : last_rbr_;
      return pop_rx();
    case IER:
      return dlab ? dlm_ : ier_;
    case IIR: {
      const uint8_t src = pending_source();
      // Reading IIR while it reports THRE acknowledges that interrupt.
      if (src == IIR_THRI) {
        thr_pending_ = false;
        update_irq();
      }
      return uint8_t(src | ((fcr_ & FCR_ENABLE) ? IIR_FIFOS : 0));
    }
    case LCR:
      return lcr_;
    case MCR:
      return mcr_;
    case LSR: {
      uint8_t v = lsr_;
      if (rx_count_) v |= LSR_DR;
      if (fcr_ & FCR_ENABLE)
        for (unsigned i = 0; i < rx_count_; ++i)
          if (rx_break_[(rx_head_ + i) % kFifoDepth]) v |= LSR_FIFO_ERR;
      lsr_ &= uint8_t(~kLsrErrors);  // reading LSR clears the error bits and their interrupt
      update_irq();
      return v;
    }
    case MSR: {
      // In loopback the modem outputs read back directly, without deltas (as QEMU).
      if (mcr_ & MCR_LOOP) return modem_lines();
      uint8_t v = msr_;
      msr_ &= 0xf0;  // reading MSR clears the deltas and the modem-status interrupt
      update_irq();
      return v;
    }
    case SCR:
      return scr_;
  }
  return 0xff;
}

void Serial16550::write_reg(uint64_t reg, uint8_t value) {
  const bool dlab = lcr_ & LCR_DLAB;
  switch (reg) {
    case THR:
      if (dlab) {
        dll_ = value;
        return;
      }
      transmit(value);
      break;
    case IER: {
      if (dlab) {
        dlm_ = value;
        return;
      }
      const uint8_t old = ier_;
      ier_ = value & 0x0f;
      // Enabling the THRE interrupt with the holding register empty raises it at once;
      // disabling it drops a pending one.
      if (!(ier_ & IER_THRI))
        thr_pending_ = false;
      else if (!(old & IER_THRI) && (lsr_ & LSR_THRE))
        thr_pending_ = true;
      break;
    }
    case FCR: {
      // FCR bits other than ENABLE are written only together with ENABLE; changing ENABLE
      // empties both FIFOs.
      if ((value ^ fcr_) & FCR_ENABLE) clear_rx();
      if (!(value & FCR_ENABLE)) {
        fcr_ = 0;
        break;
      }
      if (value & FCR_CLEAR_RX) clear_rx();
      // CLEAR_TX: the transmit FIFO is always empty here.
      fcr_ = value & uint8_t(0xc0 | FCR_ENABLE | FCR_DMA);
      break;
    }
    case LCR:
      lcr_ = value;
      return;
    case MCR:
      mcr_ = value & 0x1f;
      break;
    case LSR:
    case MSR:
      log_.log(kLogGuestErrors, "%s: write 0x%02x to read-only %s\n", name_, value,
               reg == LSR ? "LSR" : "MSR");
      return;
    case SCR:
      scr_ = value;
      return;
  }
  update_irq();
}

unsigned Serial16550::rx_trigger() const {
  if (!(fcr_ & FCR_ENABLE)) return 1;
  static constexpr unsigned kLevels[4] = {1, 4, 8, 14};
  return kLevels[fcr_ >> 6];
}

void Serial16550::clear_rx() {
  rx_head_ = rx_count_ = 0;
  rx_break_ = {};
  timeout_pending_ = false;
}

void Serial16550::push_rx(uint8_t byte, bool brk) {
  if (brk) lsr_ |= LSR_BI;
  if (rx_count_ >= rx_capacity()) {
    lsr_ |= LSR_OE;
    if (!(fcr_ & FCR_ENABLE)) {
      // Without FIFOs the new character overwrites the unread one in RBR.
      rx_fifo_[rx_head_] = byte;
      rx_break_[rx_head_] = brk;
    }
    // With FIFOs the character in the shift register is lost.
    return;
  }
  const unsigned at = (rx_head_ + rx_count_) % kFifoDepth;
  rx_fifo_[at] = byte;
  rx_break_[at] = brk;
  ++rx_count_;
  if (fcr_ & FCR_ENABLE) timeout_pending_ = true;
}

uint8_t Serial16550::pop_rx() {
  const uint8_t byte = rx_fifo_[rx_head_];
  rx_break_[rx_head_] = false;
  rx_head_ = (rx_head_ + 1) % kFifoDepth;
  --rx_count_;
  last_rbr_ = byte;
  if (rx_count_ == 0) timeout_pending_ = false;
  update_irq();
  return byte;
}

void Serial16550::transmit(uint8_t byte) {
  if (mcr_ & MCR_LOOP) {
    push_rx(byte, false);
  } else if (sink_) {
    sink_->write(std::span<const uint8_t>(&byte, 1));
  }
  // The byte left at once: the holding register is empty again and THRE is pending anew
  // (a THR write acknowledges the previous THRE interrupt).
  lsr_ |= LSR_THRE | LSR_TEMT;
  thr_pending_ = (ier_ & IER_THRI) != 0;
}

uint8_t Serial16550::modem_lines() const {
  if (!(mcr_ & MCR_LOOP)) return MSR_DCD | MSR_DSR | MSR_CTS;
  uint8_t v = 0;
  if (mcr_ & MCR_RTS) v |= MSR_CTS;
  if (mcr_ & MCR_DTR) v |= MSR_DSR;
  if (mcr_ & MCR_OUT1) v |= MSR_RI;
  if (mcr_ & MCR_OUT2) v |= MSR_DCD;
  return v;
}

uint8_t Serial16550::pending_source() const {
  if ((ier_ & IER_RLSI) && (lsr_ & kLsrErrors)) return IIR_RLSI;
  if (ier_ & IER_RDI) {
    if (rx_count_ >= rx_trigger()) return IIR_RDI;
    if (timeout_pending_ && rx_count_) return IIR_TIMEOUT;
  }
  if ((ier_ & IER_THRI) && thr_pending_) return IIR_THRI;
  if ((ier_ & IER_MSI) && (msr_ & 0x0f)) return IIR_MSI;
  return IIR_NO_INT;
}

void Serial16550::update_irq() {
  intr_.set(pending_source() != IIR_NO_INT);
}

size_t Serial16550::receive(std::span<const uint8_t> data) {
  std::lock_guard<std::mutex> g(mu_);
  if (mcr_ & MCR_LOOP) return 0;
  size_t n = 0;
  while (n < data.size() && rx_count_ < rx_capacity()) push_rx(data[n++], false);
  if (n) update_irq();
  return n;
}

void Serial16550::receive_break() {
  std::lock_guard<std::mutex> g(mu_);
  if (mcr_ & MCR_LOOP) return;
  push_rx(0, true);
  update_irq();
}

size_t Serial16550::rx_space() const {
  std::lock_guard<std::mutex> g(mu_);
  if (mcr_ & MCR_LOOP) return 0;
  const unsigned cap = rx_capacity();
  return rx_count_ < cap ? cap - rx_count_ : 0;
}

}  // namespace orrery::hw
