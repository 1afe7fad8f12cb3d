// ARM PrimeCell UART (PL011), register-level model after the PL011 TRM (ARM DDI 0183).
//
// Transmission is instantaneous: a byte written to UARTDR goes straight to the CharSink, so the
// transmit FIFO always reads as empty and BUSY is never set. Reception models the 16-entry
// receive FIFO (one holding register with UARTLCR_H.FEN clear), its trigger levels, the error
// bits carried with each character, overrun, and the receive-timeout interrupt (which, without
// a modelled bit clock, fires as soon as a burst of input has been queued). Loopback (UARTCR.LBE)
// routes transmitted bytes into the receive FIFO, as Linux's driver probe expects.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <span>

#include "hw/core/resettable.h"
#include "hw/char/char_backend.h"
#include "hw/core/irq.h"
#include "hw/core/log.h"
#include "hw/core/mmio.h"

namespace orrery::hw {

class Pl011 final : public MmioDevice, public CharReceiver, public Resettable {
 public:
  static constexpr uint64_t kMmioSize = 0x1000;
  /// Depth of each FIFO with UARTLCR_H.FEN set: r1p0–r1p4 parts (UARTPeriphID2 revision 1) have
  /// 16 entries; Linux's driver derives the same number from the ID registers.
  static constexpr unsigned kFifoDepth = 16;

  // Register offsets (TRM table 3-1).
  static constexpr uint64_t UARTDR = 0x000;
  static constexpr uint64_t UARTRSR = 0x004;  // read: UARTRSR, write: UARTECR
  static constexpr uint64_t UARTFR = 0x018;
  static constexpr uint64_t UARTILPR = 0x020;
  static constexpr uint64_t UARTIBRD = 0x024;
  static constexpr uint64_t UARTFBRD = 0x028;
  static constexpr uint64_t UARTLCR_H = 0x02C;
  static constexpr uint64_t UARTCR = 0x030;
  static constexpr uint64_t UARTIFLS = 0x034;
  static constexpr uint64_t UARTIMSC = 0x038;
  static constexpr uint64_t UARTRIS = 0x03C;
  static constexpr uint64_t UARTMIS = 0x040;
  static constexpr uint64_t UARTICR = 0x044;
  static constexpr uint64_t UARTDMACR = 0x048;
  static constexpr uint64_t UARTPeriphID0 = 0xFE0;  // ID registers run to UARTPCellID3 at 0xFFC

  // UARTDR error bits (above the 8 data bits) and the matching UARTRSR bits.
  static constexpr uint32_t DR_FE = 1u << 8, DR_PE = 1u << 9, DR_BE = 1u << 10, DR_OE = 1u << 11;
  static constexpr uint32_t RSR_FE = 1u << 0, RSR_PE = 1u << 1, RSR_BE = 1u << 2, RSR_OE = 1u << 3;
  // UARTFR.
  static constexpr uint32_t FR_CTS = 1u << 0, FR_DSR = 1u << 1, FR_DCD = 1u << 2, FR_BUSY = 1u << 3,
                            FR_RXFE = 1u << 4, FR_TXFF = 1u << 5, FR_RXFF = 1u << 6,
                            FR_TXFE = 1u << 7, FR_RI = 1u << 8;
  // UARTLCR_H.
  static constexpr uint32_t LCR_H_BRK = 1u << 0, LCR_H_FEN = 1u << 4;
  // UARTCR.
  static constexpr uint32_t CR_UARTEN = 1u << 0, CR_LBE = 1u << 7, CR_TXE = 1u << 8,
                            CR_RXE = 1u << 9;
  // Interrupt bits shared by UARTIMSC, UARTRIS, UARTMIS and UARTICR.
  static constexpr uint32_t INT_RI = 1u << 0, INT_CTS = 1u << 1, INT_DCD = 1u << 2,
                            INT_DSR = 1u << 3, INT_RX = 1u << 4, INT_TX = 1u << 5, INT_RT = 1u << 6,
                            INT_FE = 1u << 7, INT_PE = 1u << 8, INT_BE = 1u << 9, INT_OE = 1u << 10,
                            INT_ALL = 0x7FF;

  /// log receives guest errors and unimplemented-feature reports.
  explicit Pl011(Log& log);

  /// Output destination; null discards transmitted bytes.
  void set_sink(CharSink* sink);
  /// UARTINTR, the combined interrupt output: (UARTRIS & UARTIMSC) != 0.
  IrqLine& irq() { return intr_; }
  /// Back to the power-on state (FIFO emptied, registers at their reset values).
  void reset() override;

  // MmioDevice. Registers are 32-bit on an APB bus that ignores address bits [1:0], so narrower
  // accesses read or write the register on the corresponding byte lanes.
  MemResult read(uint64_t offset, unsigned size, uint64_t& value) override;
  MemResult write(uint64_t offset, unsigned size, uint64_t value) override;
  // 64-bit accesses are split here (not by the bus) so they can be logged as guest errors.
  AccessRules valid() const override { return {1, 8, false}; }
  AccessRules impl() const override { return {1, 8, false}; }

  // CharReceiver.
  size_t receive(std::span<const uint8_t> data) override;
  void receive_break() override;

  /// Free receive-FIFO entries (what receive() would accept now).
  size_t rx_space() const;

 private:
  uint32_t read_reg(uint64_t reg);
  void write_reg(uint64_t reg, uint32_t value);
  unsigned fifo_capacity() const { return (lcr_h_ & LCR_H_FEN) ? kFifoDepth : 1; }
  unsigned rx_trigger() const;
  /// Re-evaluates the receive interrupt after the FIFO mode or trigger level changed.
  void update_rx_level();
  uint32_t flags() const;
  uint32_t read_dr();
  void transmit(uint8_t byte);
  /// Queues one received character (data plus DR_* error bits); flags an overrun when full.
  void push_rx(uint32_t entry);
  void check_rx_enabled();
  void update_irq();

  Log& log_;
  CharSink* sink_ = nullptr;
  IrqLine intr_;
  mutable std::mutex mu_;  // the vCPU thread and the backend's reader thread both enter

  std::array<uint16_t, kFifoDepth> rx_fifo_{};
  unsigned rx_head_ = 0, rx_count_ = 0;
  bool overrun_pending_ = false;  // the next queued character carries DR_OE

  uint32_t rsr_ = 0, ilpr_ = 0, ibrd_ = 0, fbrd_ = 0, lcr_h_ = 0, cr_ = 0, ifls_ = 0;
  uint32_t imsc_ = 0, ris_ = 0, dmacr_ = 0;
  // Guest-error reports that would otherwise repeat per character are made once per reset.
  bool warned_tx_disabled_ = false, warned_rx_disabled_ = false, warned_dma_ = false;
};

}  // namespace orrery::hw
