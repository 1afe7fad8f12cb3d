// National Semiconductor PC16550D UART as QEMU's isa-serial presents it: eight byte-wide
// registers at an I/O base (COM1 at 0x3f8), DLAB-banked divisor latches, 16-byte FIFOs with
// receive trigger levels, the four prioritised interrupt sources behind IIR, modem control and
// status with loopback, and the scratch register.
//
// Transmission is instantaneous, as in pl011: a THR write goes straight to the CharSink (or, in
// loopback, into the receive FIFO), so THRE and TEMT read as set and the THRE interrupt becomes
// pending again at once. Without a modelled bit clock the character-timeout interrupt is
// pending whenever the FIFO holds fewer characters than the trigger level (what a driver sees
// four character times after the last one). As in QEMU (checked register by register with
// tests/guest/pc/uart.asm): the interrupt output is not gated by MCR.OUT2; outside loopback the
// modem inputs read DCD, DSR and CTS asserted and never change (no host modem lines), so MSR
// has no deltas; in loopback MSR reads the MCR outputs back without deltas, so no modem-status
// interrupt arises there either (a real 16550 would raise one).
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <span>

#include "hw/char/char_backend.h"
#include "hw/core/irq.h"
#include "hw/core/log.h"
#include "hw/core/mmio.h"
#include "hw/core/resettable.h"

namespace orrery::hw {

class Serial16550 final : public MmioDevice, public CharReceiver, public Resettable {
 public:
  static constexpr uint64_t kIoSize = 8;
  static constexpr unsigned kFifoDepth = 16;

  // Register offsets (DLAB = LCR bit 7 selects DLL/DLM at 0 and 1).
  static constexpr uint64_t RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3,
                            MCR = 4, LSR = 5, MSR = 6, SCR = 7;
  // IER.
  static constexpr uint8_t IER_RDI = 1u << 0, IER_THRI = 1u << 1, IER_RLSI = 1u << 2,
                           IER_MSI = 1u << 3;
  // IIR: bit 0 set when nothing is pending; bits 3:1 the source; 7:6 set with FIFOs enabled.
  static constexpr uint8_t IIR_NO_INT = 0x01, IIR_MSI = 0x00, IIR_THRI = 0x02, IIR_RDI = 0x04,
                           IIR_RLSI = 0x06, IIR_TIMEOUT = 0x0c, IIR_FIFOS = 0xc0;
  // FCR.
  static constexpr uint8_t FCR_ENABLE = 1u << 0, FCR_CLEAR_RX = 1u << 1, FCR_CLEAR_TX = 1u << 2,
                           FCR_DMA = 1u << 3;
  // LCR.
  static constexpr uint8_t LCR_BREAK = 1u << 6, LCR_DLAB = 1u << 7;
  // MCR.
  static constexpr uint8_t MCR_DTR = 1u << 0, MCR_RTS = 1u << 1, MCR_OUT1 = 1u << 2,
                           MCR_OUT2 = 1u << 3, MCR_LOOP = 1u << 4;
  // LSR.
  static constexpr uint8_t LSR_DR = 1u << 0, LSR_OE = 1u << 1, LSR_PE = 1u << 2, LSR_FE = 1u << 3,
                           LSR_BI = 1u << 4, LSR_THRE = 1u << 5, LSR_TEMT = 1u << 6,
                           LSR_FIFO_ERR = 1u << 7;
  // MSR: deltas in 3:0, line states in 7:4.
  static constexpr uint8_t MSR_DCTS = 1u << 0, MSR_DDSR = 1u << 1, MSR_TERI = 1u << 2,
                           MSR_DDCD = 1u << 3, MSR_CTS = 1u << 4, MSR_DSR = 1u << 5,
                           MSR_RI = 1u << 6, MSR_DCD = 1u << 7;

  /// name prefixes log lines (e.g. "serial0"); log receives guest errors.
  Serial16550(Log& log, const char* name = "serial16550");

  /// Output destination; null discards transmitted bytes.
  void set_sink(CharSink* sink);
  /// The INTR output (the board wires COM1's to IRQ 4 once there is a PIC).
  IrqLine& irq() { return intr_; }
  void reset() override;

  // MmioDevice (a port device): byte registers; wider IN/OUT are split by the address space.
  MemResult read(uint64_t offset, unsigned size, uint64_t& value) override;
  MemResult write(uint64_t offset, unsigned size, uint64_t value) override;
  AccessRules valid() const override { return {1, 4, true}; }
  AccessRules impl() const override { return {1, 1, false}; }

  // CharReceiver: takes at most the free receive-FIFO entries (none in loopback, where the
  // serial input is disconnected).
  size_t receive(std::span<const uint8_t> data) override;
  void receive_break() override;
  size_t rx_space() const;

  /// The divisor latch (DLM:DLL).
  uint16_t divisor() const;

 private:
  uint8_t read_reg(uint64_t reg);
  void write_reg(uint64_t reg, uint8_t value);
  unsigned rx_capacity() const { return (fcr_ & FCR_ENABLE) ? kFifoDepth : 1; }
  unsigned rx_trigger() const;
  void clear_rx();
  /// Queues one received character; break marks a break condition (a NUL with LSR.BI).
  void push_rx(uint8_t byte, bool brk);
  uint8_t pop_rx();
  void transmit(uint8_t byte);
  /// The modem-status inputs: looped back from MCR, or the backend's (DCD, DSR, CTS).
  /// msr_ keeps the backend's lines and deltas (the deltas stay clear: nothing changes them).
  uint8_t modem_lines() const;
  /// The highest-priority pending source as an IIR value (bits 3:0).
  uint8_t pending_source() const;
  void update_irq();

  Log& log_;
  const char* name_;
  CharSink* sink_ = nullptr;
  IrqLine intr_;
  mutable std::mutex mu_;  // the vCPU thread and the backend's reader thread both enter

  std::array<uint8_t, kFifoDepth> rx_fifo_{};
  std::array<bool, kFifoDepth> rx_break_{};  // the entry was received as a break
  unsigned rx_head_ = 0, rx_count_ = 0;
  uint8_t last_rbr_ = 0;  // RBR without FIFOs keeps the last character

  uint8_t ier_ = 0, fcr_ = 0, lcr_ = 0, mcr_ = 0, lsr_ = 0, msr_ = 0, scr_ = 0;
  uint8_t dll_ = 0, dlm_ = 0;
  bool thr_pending_ = false;  // the THRE interrupt, until IIR reports it or THR is written
  bool timeout_pending_ = false;
};

}  // namespace orrery::hw
