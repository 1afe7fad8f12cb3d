// Register-level tests of the PL011 model: each pokes UART registers the way a driver would.
#include "hw/char/pl011.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "hw/core/address_space.h"
#include "log_capture.h"

namespace orrery::hw {
namespace {

class StringSink : public CharSink {
 public:
  void write(std::span<const uint8_t> data) override { out.append(data.begin(), data.end()); }
  std::string out;
};

class RecordingSink : public IrqSink {
 public:
  void set_irq(unsigned line, bool level) override { events.push_back({line, level}); }
  struct Event {
    unsigned line;
    bool level;
  };
  std::vector<Event> events;
};

class Pl011Test : public ::testing::Test {
 protected:
  Pl011Test() : uart(log) { uart.set_sink(&sink); }

  uint32_t rd(uint64_t off, unsigned size = 4) {
    uint64_t v = ~0ull;
    EXPECT_EQ(uart.read(off, size, v), MemResult::Ok) << "offset " << off;
    return uint32_t(v);
  }
  void wr(uint64_t off, uint32_t v, unsigned size = 4) {
    EXPECT_EQ(uart.write(off, size, v), MemResult::Ok) << "offset " << off;
  }
  size_t feed(const std::string& s) {
    return uart.receive(
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
  }
  void enable_fifo() { wr(Pl011::UARTLCR_H, Pl011::LCR_H_FEN | (3u << 5)); }  // 8N1, FIFOs on

  Log log;
  StringSink sink;
  Pl011 uart;
};

TEST_F(Pl011Test, ResetValues) {
  EXPECT_EQ(rd(Pl011::UARTFR), Pl011::FR_TXFE | Pl011::FR_RXFE);
  EXPECT_EQ(rd(Pl011::UARTCR), 0x300u);
  EXPECT_EQ(rd(Pl011::UARTIFLS), 0x12u);
  EXPECT_EQ(rd(Pl011::UARTIMSC), 0u);
  EXPECT_EQ(rd(Pl011::UARTRIS), 0u);
  EXPECT_EQ(rd(Pl011::UARTMIS), 0u);
  EXPECT_EQ(rd(Pl011::UARTLCR_H), 0u);
  EXPECT_EQ(rd(Pl011::UARTRSR), 0u);
  EXPECT_EQ(rd(Pl011::UARTDMACR), 0u);
  EXPECT_FALSE(uart.irq().level());
}

TEST_F(Pl011Test, IdRegisters) {
  const uint8_t expect[8] = {0x11, 0x10, 0x14, 0x00, 0x0D, 0xF0, 0x05, 0xB1};
  for (unsigned i = 0; i < 8; ++i) EXPECT_EQ(rd(0xFE0 + 4 * i), expect[i]) << i;
}

TEST_F(Pl011Test, TransmitGoesToSinkAndFlagsStayEmpty) {
  wr(Pl011::UARTCR, Pl011::CR_UARTEN | Pl011::CR_TXE | Pl011::CR_RXE);
  for (char c : std::string("hello\n")) {
    EXPECT_FALSE(rd(Pl011::UARTFR) & Pl011::FR_TXFF);
    wr(Pl011::UARTDR, uint8_t(c));
  }
  EXPECT_EQ(sink.out, "hello\n");
  uint32_t fr = rd(Pl011::UARTFR);
  EXPECT_TRUE(fr & Pl011::FR_TXFE);
  EXPECT_FALSE(fr & Pl011::FR_BUSY);
}

TEST_F(Pl011Test, TransmitOnlyLowByte) {
  wr(Pl011::UARTDR, 0x1241);
  EXPECT_EQ(sink.out, "A");
}

TEST_F(Pl011Test, TransmitWhileDisabledStillWorks) {
  // Bare-metal programs often never set UARTEN; the byte still reaches the host.
  wr(Pl011::UARTCR, 0);
  wr(Pl011::UARTDR, 'x');
  EXPECT_EQ(sink.out, "x");
}

TEST_F(Pl011Test, NarrowAccesses) {
  wr(Pl011::UARTDR, 'a', 1);
  wr(Pl011::UARTDR, 'b', 2);
  EXPECT_EQ(sink.out, "ab");
  EXPECT_EQ(rd(Pl011::UARTFR, 2), Pl011::FR_TXFE | Pl011::FR_RXFE);
  EXPECT_EQ(rd(Pl011::UARTFR, 1), Pl011::FR_TXFE | Pl011::FR_RXFE);
  // Byte lane 1 of UARTCR holds TXE/RXE.
  EXPECT_EQ(rd(Pl011::UARTCR + 1, 1), 0x3u);
  EXPECT_EQ(rd(0xFE0 + 4, 2), 0x10u);
}

TEST_F(Pl011Test, BadAccessesAreRejectedNotFatal) {
  uint64_t v = 0;
  EXPECT_EQ(uart.read(0x1000, 4, v), MemResult::DeviceError);
  EXPECT_EQ(uart.read(Pl011::UARTFR + 1, 4, v), MemResult::DeviceError);  // misaligned
  EXPECT_EQ(uart.read(Pl011::UARTFR + 4, 8, v), MemResult::DeviceError);  // misaligned
  EXPECT_EQ(uart.write(Pl011::UARTFR, 3, 0), MemResult::DeviceError);
  // Reserved offsets read as zero and ignore writes.
  EXPECT_EQ(rd(0x008), 0u);
  EXPECT_EQ(rd(0x800), 0u);
  wr(0x800, 0xFFFFFFFF);
  EXPECT_EQ(rd(0x800), 0u);
}

// QEMU accepts 64-bit accesses (valid sizes 1..8) and splits them into two 32-bit register
// accesses; the TRM's registers are at most 32 bits wide, so the guest is told via guest_errors.
TEST_F(Pl011Test, SixtyFourBitAccessesAreSplitAndLogged) {
  test::LogCapture cap(log, "guest_errors");
  ASSERT_TRUE(cap.ok());
  AddressSpace as;
  ASSERT_EQ(as.add_mmio("pl011", 0x09000000, Pl011::kMmioSize, uart), "");
  wr(Pl011::UARTCR, Pl011::CR_UARTEN | Pl011::CR_TXE | Pl011::CR_RXE);
  // UARTILPR (low word) and UARTIBRD (high word) in one store, then one load.
  EXPECT_EQ(as.write(0x09000000 + Pl011::UARTILPR, 8, 0x0000123400000056ull), MemResult::Ok);
  EXPECT_EQ(rd(Pl011::UARTILPR), 0x56u);
  EXPECT_EQ(rd(Pl011::UARTIBRD), 0x1234u);
  uint64_t v = 0;
  EXPECT_EQ(as.read(0x09000000 + Pl011::UARTILPR, 8, v), MemResult::Ok);
  EXPECT_EQ(v, 0x0000123400000056ull);
  // A 64-bit store to UARTDR transmits its low byte (the high word goes to UARTECR).
  EXPECT_EQ(as.write(0x09000000 + Pl011::UARTDR, 8, 0xFFFFFFFF00000078ull), MemResult::Ok);
  EXPECT_EQ(sink.out, "x");
  EXPECT_EQ(cap.take(),
            "pl011: 64-bit write at offset 0x20 (split into two 32-bit accesses)\n"
            "pl011: 64-bit read at offset 0x20 (split into two 32-bit accesses)\n"
            "pl011: 64-bit write at offset 0x0 (split into two 32-bit accesses)\n");
  // Still naturally aligned only.
  EXPECT_EQ(as.read(0x09000000 + Pl011::UARTIBRD, 8, v), MemResult::DeviceError);
}

TEST_F(Pl011Test, ReadOnlyRegistersIgnoreWrites) {
  wr(Pl011::UARTFR, 0);
  EXPECT_EQ(rd(Pl011::UARTFR), Pl011::FR_TXFE | Pl011::FR_RXFE);
  wr(Pl011::UARTRIS, Pl011::INT_ALL);
  EXPECT_EQ(rd(Pl011::UARTRIS), 0u);
  wr(Pl011::UARTMIS, Pl011::INT_ALL);
  EXPECT_EQ(rd(Pl011::UARTMIS), 0u);
  wr(0xFE0, 0);
  EXPECT_EQ(rd(0xFE0), 0x11u);
  EXPECT_EQ(rd(Pl011::UARTICR), 0u);  // write-only
}

TEST_F(Pl011Test, GuestErrorsAreLoggedToTheLogFile) {
  char path[] = "/tmp/orrery_pl011_logXXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  ASSERT_TRUE(log.set_file(path));
  ASSERT_EQ(log.set_mask("guest_errors"), "");
  wr(Pl011::UARTFR, 0);
  uint64_t v;
  EXPECT_EQ(uart.read(0x2000, 4, v), MemResult::DeviceError);
  FILE* f = std::fopen(path, "r");
  ASSERT_TRUE(f);
  char buf[512] = {};
  size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  std::remove(path);
  std::string text(buf, n);
  EXPECT_NE(text.find("UARTFR"), std::string::npos) << text;
  EXPECT_NE(text.find("bad read"), std::string::npos) << text;
}

TEST_F(Pl011Test, DrReadWhenEmptyReturnsZero) {
  EXPECT_EQ(rd(Pl011::UARTDR), 0u);
  EXPECT_EQ(rd(Pl011::UARTFR) & Pl011::FR_RXFE, Pl011::FR_RXFE);
}

TEST_F(Pl011Test, HoldingRegisterWithoutFifo) {
  // FEN clear: a one-character holding register.
  EXPECT_EQ(uart.rx_space(), 1u);
  EXPECT_EQ(feed("ab"), 1u);
  uint32_t fr = rd(Pl011::UARTFR);
  EXPECT_FALSE(fr & Pl011::FR_RXFE);
  EXPECT_TRUE(fr & Pl011::FR_RXFF);
  EXPECT_EQ(rd(Pl011::UARTDR), uint32_t('a'));
  EXPECT_TRUE(rd(Pl011::UARTFR) & Pl011::FR_RXFE);
}

TEST_F(Pl011Test, FifoEnableGives16Entries) {
  enable_fifo();
  EXPECT_EQ(uart.rx_space(), 16u);
  std::string in = "0123456789abcdefXYZ";
  EXPECT_EQ(feed(in), 16u);
  EXPECT_TRUE(rd(Pl011::UARTFR) & Pl011::FR_RXFF);
  EXPECT_EQ(uart.rx_space(), 0u);
  for (int i = 0; i < 16; ++i) {
    EXPECT_FALSE(rd(Pl011::UARTFR) & Pl011::FR_RXFE);
    EXPECT_EQ(rd(Pl011::UARTDR), uint32_t(uint8_t(in[i])));
    EXPECT_FALSE(rd(Pl011::UARTFR) & Pl011::FR_RXFF);
  }
  EXPECT_TRUE(rd(Pl011::UARTFR) & Pl011::FR_RXFE);
  // FIFO wraps around correctly.
  EXPECT_EQ(feed("pq"), 2u);
  EXPECT_EQ(rd(Pl011::UARTDR), uint32_t('p'));
  EXPECT_EQ(rd(Pl011::UARTDR), uint32_t('q'));
}

TEST_F(Pl011Test, RxInterruptFollowsTriggerLevel) {
  enable_fifo();
  wr(Pl011::UARTIFLS, 2u << 3);  // RX at 1/2 full = 8 characters
  wr(Pl011::UARTIMSC, Pl011::INT_RX);
  feed("1234567");
  EXPECT_FALSE(rd(Pl011::UARTRIS) & Pl011::INT_RX);
  EXPECT_FALSE(uart.irq().level());
  feed("8");
  EXPECT_TRUE(rd(Pl011::UARTRIS) & Pl011::INT_RX);
  EXPECT_EQ(rd(Pl011::UARTMIS), Pl011::INT_RX);
  EXPECT_TRUE(uart.irq().level());
  rd(Pl011::UARTDR);  // 7 left: below the trigger level clears the interrupt
  EXPECT_FALSE(rd(Pl011::UARTRIS) & Pl011::INT_RX);
  EXPECT_FALSE(uart.irq().level());
}

TEST_F(Pl011Test, RxTriggerLevels) {
  enable_fifo();
  const unsigned levels[5] = {2, 4, 8, 12, 14};
  for (unsigned sel = 0; sel < 5; ++sel) {
    uart.reset();
    enable_fifo();
    wr(Pl011::UARTIFLS, sel << 3);
    for (unsigned n = 1; n <= 16; ++n) {
      feed("z");
      EXPECT_EQ(bool(rd(Pl011::UARTRIS) & Pl011::INT_RX), n >= levels[sel])
          << "sel " << sel << " count " << n;
    }
  }
}

TEST_F(Pl011Test, ReceiveTimeoutUntilEmptyOrCleared) {
  enable_fifo();
  wr(Pl011::UARTIMSC, Pl011::INT_RT);
  feed("ab");  // below the trigger: only the timeout tells the driver
  EXPECT_EQ(rd(Pl011::UARTRIS) & (Pl011::INT_RT | Pl011::INT_RX), Pl011::INT_RT);
  EXPECT_TRUE(uart.irq().level());
  rd(Pl011::UARTDR);
  EXPECT_TRUE(rd(Pl011::UARTRIS) & Pl011::INT_RT);
  rd(Pl011::UARTDR);
  EXPECT_FALSE(rd(Pl011::UARTRIS) & Pl011::INT_RT);
  EXPECT_FALSE(uart.irq().level());
  feed("c");
  EXPECT_TRUE(uart.irq().level());
  wr(Pl011::UARTICR, Pl011::INT_RT);
  EXPECT_FALSE(rd(Pl011::UARTRIS) & Pl011::INT_RT);
  EXPECT_FALSE(uart.irq().level());
}

TEST_F(Pl011Test, TxInterruptSetByTransmitClearedByIcr) {
  EXPECT_FALSE(rd(Pl011::UARTRIS) & Pl011::INT_TX);
  wr(Pl011::UARTDR, 'a');
  EXPECT_TRUE(rd(Pl011::UARTRIS) & Pl011::INT_TX);
  EXPECT_FALSE(uart.irq().level());  // masked
  wr(Pl011::UARTIMSC, Pl011::INT_TX);
  EXPECT_TRUE(uart.irq().level());
  EXPECT_EQ(rd(Pl011::UARTMIS), Pl011::INT_TX);
  wr(Pl011::UARTICR, Pl011::INT_TX);
  EXPECT_EQ(rd(Pl011::UARTRIS), 0u);
  EXPECT_FALSE(uart.irq().level());
  wr(Pl011::UARTIMSC, 0);
  wr(Pl011::UARTDR, 'b');
  EXPECT_FALSE(uart.irq().level());
}

TEST_F(Pl011Test, MaskGatesOnlyTheOutput) {
  feed("a");  // non-FIFO mode: RX and RT set
  EXPECT_EQ(rd(Pl011::UARTRIS), Pl011::INT_RX | Pl011::INT_RT);
  EXPECT_EQ(rd(Pl011::UARTMIS), 0u);
  wr(Pl011::UARTIMSC, 0xFFFFFFFF);
  EXPECT_EQ(rd(Pl011::UARTIMSC), Pl011::INT_ALL);
  EXPECT_EQ(rd(Pl011::UARTMIS), Pl011::INT_RX | Pl011::INT_RT);
  wr(Pl011::UARTICR, Pl011::INT_ALL);
  EXPECT_EQ(rd(Pl011::UARTRIS), 0u);
  EXPECT_EQ(rd(Pl011::UARTDR), uint32_t('a'));  // clearing interrupts keeps the data
}

TEST_F(Pl011Test, IrqSinkSeesLevelChanges) {
  RecordingSink gic;
  uart.irq().connect(gic, 33);
  ASSERT_FALSE(gic.events.empty());
  EXPECT_FALSE(gic.events.back().level);
  wr(Pl011::UARTIMSC, Pl011::INT_RX);
  feed("x");
  EXPECT_EQ(gic.events.back().line, 33u);
  EXPECT_TRUE(gic.events.back().level);
  rd(Pl011::UARTDR);
  EXPECT_FALSE(gic.events.back().level);
}

TEST_F(Pl011Test, LoopbackAndOverrun) {
  wr(Pl011::UARTCR, Pl011::CR_UARTEN | Pl011::CR_TXE | Pl011::CR_RXE | Pl011::CR_LBE);
  wr(Pl011::UARTIMSC, Pl011::INT_OE);
  wr(Pl011::UARTDR, 'a');  // fills the holding register
  EXPECT_EQ(sink.out, "");
  EXPECT_FALSE(uart.irq().level());
  wr(Pl011::UARTDR, 'b');  // lost: overrun
  EXPECT_TRUE(rd(Pl011::UARTRIS) & Pl011::INT_OE);
  EXPECT_TRUE(uart.irq().level());
  EXPECT_EQ(rd(Pl011::UARTRSR), Pl011::RSR_OE);
  EXPECT_EQ(rd(Pl011::UARTDR), uint32_t('a'));
  wr(Pl011::UARTDR, 'c');  // the next character carries OE in UARTDR
  EXPECT_EQ(rd(Pl011::UARTDR), uint32_t('c') | Pl011::DR_OE);
  wr(Pl011::UARTRSR, 0);  // UARTECR write clears the error status
  EXPECT_EQ(rd(Pl011::UARTRSR), 0u);
  wr(Pl011::UARTICR, Pl011::INT_OE);
  EXPECT_FALSE(uart.irq().level());
  wr(Pl011::UARTCR, Pl011::CR_UARTEN | Pl011::CR_TXE | Pl011::CR_RXE);
  wr(Pl011::UARTDR, 'd');
  EXPECT_EQ(sink.out, "d");
}

TEST_F(Pl011Test, BreakSetsBeInDrRsrAndRis) {
  wr(Pl011::UARTIMSC, Pl011::INT_BE);
  uart.receive_break();
  EXPECT_TRUE(uart.irq().level());
  EXPECT_TRUE(rd(Pl011::UARTRIS) & Pl011::INT_BE);
  EXPECT_EQ(rd(Pl011::UARTDR), Pl011::DR_BE);
  EXPECT_EQ(rd(Pl011::UARTRSR), Pl011::RSR_BE);
}

TEST_F(Pl011Test, ControlAndBaudRegistersKeepImplementedBits) {
  wr(Pl011::UARTIBRD, 0xFFFFFFFF);
  EXPECT_EQ(rd(Pl011::UARTIBRD), 0xFFFFu);
  wr(Pl011::UARTFBRD, 0xFFFFFFFF);
  EXPECT_EQ(rd(Pl011::UARTFBRD), 0x3Fu);
  wr(Pl011::UARTILPR, 0x1FF);
  EXPECT_EQ(rd(Pl011::UARTILPR), 0xFFu);
  wr(Pl011::UARTLCR_H, 0x1FF);
  EXPECT_EQ(rd(Pl011::UARTLCR_H), 0xFFu);
  wr(Pl011::UARTIFLS, 0xFF);
  EXPECT_EQ(rd(Pl011::UARTIFLS), 0x3Fu);
  wr(Pl011::UARTDMACR, 0xFF);
  EXPECT_EQ(rd(Pl011::UARTDMACR), 0x7u);
  wr(Pl011::UARTCR, 0xFFFFFFFF);
  EXPECT_EQ(rd(Pl011::UARTCR), 0xFF87u);
}

TEST_F(Pl011Test, DisablingFifoShrinksCapacity) {
  enable_fifo();
  EXPECT_EQ(feed("abc"), 3u);
  wr(Pl011::UARTLCR_H, 0);
  EXPECT_TRUE(rd(Pl011::UARTFR) & Pl011::FR_RXFF);
  EXPECT_EQ(uart.rx_space(), 0u);
  EXPECT_EQ(rd(Pl011::UARTDR), uint32_t('a'));
}

TEST_F(Pl011Test, ResetClearsState) {
  enable_fifo();
  feed("abc");
  wr(Pl011::UARTIMSC, Pl011::INT_ALL);
  EXPECT_TRUE(uart.irq().level());
  uart.reset();
  EXPECT_FALSE(uart.irq().level());
  EXPECT_EQ(rd(Pl011::UARTFR), Pl011::FR_TXFE | Pl011::FR_RXFE);
  EXPECT_EQ(rd(Pl011::UARTLCR_H), 0u);
}

}  // namespace
}  // namespace orrery::hw
