// Register-level tests of the 16550A model, driven through the I/O-port space as a PC guest
// drives COM1.
#include "hw/char/serial16550.h"

#include <gtest/gtest.h>

#include <string>

#include "hw/core/address_space.h"
#include "log_capture.h"

namespace orrery::hw {
namespace {

using S = Serial16550;
constexpr uint64_t kCom1 = 0x3f8;

class StringSink : public CharSink {
 public:
  void write(std::span<const uint8_t> data) override { out.append(data.begin(), data.end()); }
  std::string out;
};

class Serial16550Test : public ::testing::Test {
 protected:
  Serial16550Test() : uart(log, "serial0") {
    uart.set_sink(&sink);
    EXPECT_EQ(io.add_mmio("serial0", kCom1, S::kIoSize, uart), "");
  }
  uint8_t in(uint64_t reg) {
    uint64_t v = 0;
    EXPECT_EQ(io.read(kCom1 + reg, 1, v), MemResult::Ok);
    return uint8_t(v);
  }
  void out(uint64_t reg, uint8_t v) { EXPECT_EQ(io.write(kCom1 + reg, 1, v), MemResult::Ok); }
  size_t feed(const std::string& s) {
    return uart.receive(
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
  }
  uint8_t iir_source() { return in(S::IIR)&0x0f; }

  Log log;
  StringSink sink;
  S uart;
  AddressSpace io{"io", kIoPortSpaceSize};
};

TEST_F(Serial16550Test, ResetValuesAsQemu) {
  EXPECT_EQ(in(S::IER), 0u);
  EXPECT_EQ(in(S::IIR), S::IIR_NO_INT);
  EXPECT_EQ(in(S::LCR), 0u);
  EXPECT_EQ(in(S::MCR), S::MCR_OUT2);
  EXPECT_EQ(in(S::LSR), S::LSR_THRE | S::LSR_TEMT);
  EXPECT_EQ(in(S::MSR), S::MSR_DCD | S::MSR_DSR | S::MSR_CTS);
  EXPECT_EQ(in(S::SCR), 0u);
  EXPECT_EQ(uart.divisor(), 12u);
  EXPECT_FALSE(uart.irq().level());
}

TEST_F(Serial16550Test, TransmitGoesToTheSinkAndThreStaysSet) {
  for (char c : std::string("hi\n")) out(S::THR, uint8_t(c));
  EXPECT_EQ(sink.out, "hi\n");
  EXPECT_EQ(in(S::LSR) & (S::LSR_THRE | S::LSR_TEMT), S::LSR_THRE | S::LSR_TEMT);
}

TEST_F(Serial16550Test, DlabBanksTheDivisorLatches) {
  out(S::LCR, S::LCR_DLAB | 0x03);
  out(S::DLL, 0x01);
  out(S::DLM, 0x02);
  EXPECT_EQ(in(S::DLL), 0x01u);
  EXPECT_EQ(in(S::DLM), 0x02u);
  EXPECT_EQ(uart.divisor(), 0x0201u);
  EXPECT_EQ(sink.out, "");  // a DLL write is not a transmission
  out(S::LCR, 0x03);
  EXPECT_EQ(in(S::IER), 0u);
  EXPECT_EQ(in(S::LCR), 0x03u);
}

TEST_F(Serial16550Test, ScratchAndIerWidth) {
  out(S::SCR, 0x5a);
  EXPECT_EQ(in(S::SCR), 0x5au);
  out(S::IER, 0xff);
  EXPECT_EQ(in(S::IER), 0x0fu);
}

TEST_F(Serial16550Test, WordAccessesSplitIntoRegisters) {
  // OUT DX, AX at LCR writes LCR then MCR; IN AX at LSR reads LSR and MSR.
  EXPECT_EQ(io.write(kCom1 + S::LCR, 2, 0x0b03), MemResult::Ok);
  EXPECT_EQ(in(S::LCR), 0x03u);
  EXPECT_EQ(in(S::MCR), 0x0bu);
  uint64_t v = 0;
  EXPECT_EQ(io.read(kCom1 + S::LSR, 2, v), MemResult::Ok);
  EXPECT_EQ(v & 0xff, uint64_t(S::LSR_THRE | S::LSR_TEMT));
}

TEST_F(Serial16550Test, ReceiveWithoutFifoHoldsOneCharacter) {
  EXPECT_EQ(uart.rx_space(), 1u);
  EXPECT_EQ(feed("ab"), 1u);  // flow control: the backend keeps "b"
  EXPECT_EQ(in(S::LSR)&S::LSR_DR, S::LSR_DR);
  EXPECT_EQ(in(S::RBR), 'a');
  EXPECT_EQ(in(S::LSR)&S::LSR_DR, 0u);
  EXPECT_EQ(in(S::RBR), 'a');  // RBR keeps the last character
  EXPECT_EQ(feed("b"), 1u);
  EXPECT_EQ(in(S::RBR), 'b');
}

TEST_F(Serial16550Test, FifoTakesSixteenAndReportsFifoMode) {
  out(S::FCR, S::FCR_ENABLE);
  EXPECT_EQ(in(S::IIR)&S::IIR_FIFOS, S::IIR_FIFOS);
  EXPECT_EQ(feed(std::string(20, 'x').replace(0, 3, "abc")), 16u);
  EXPECT_EQ(uart.rx_space(), 0u);
  EXPECT_EQ(in(S::RBR), 'a');
  EXPECT_EQ(in(S::RBR), 'b');
  EXPECT_EQ(uart.rx_space(), 2u);
  out(S::FCR, S::FCR_ENABLE | S::FCR_CLEAR_RX);
  EXPECT_EQ(in(S::LSR)&S::LSR_DR, 0u);
  EXPECT_EQ(uart.rx_space(), 16u);
  EXPECT_EQ(feed("q"), 1u);
  out(S::FCR, 0);  // disabling the FIFOs empties them
  EXPECT_EQ(in(S::LSR)&S::LSR_DR, 0u);
  EXPECT_EQ(in(S::IIR)&S::IIR_FIFOS, 0u);
}

TEST_F(Serial16550Test, TriggerLevelSeparatesDataAvailableFromTimeout) {
  out(S::FCR, S::FCR_ENABLE | 0x80);  // trigger at 8
  out(S::IER, S::IER_RDI);
  feed("1234");
  EXPECT_TRUE(uart.irq().level());
  EXPECT_EQ(iir_source(), S::IIR_TIMEOUT);
  feed("5678");
  EXPECT_EQ(iir_source(), S::IIR_RDI);
  for (int i = 0; i < 7; ++i) in(S::RBR);
  EXPECT_EQ(iir_source(), S::IIR_TIMEOUT);
  EXPECT_EQ(in(S::RBR), '8');
  EXPECT_EQ(iir_source(), S::IIR_NO_INT);
  EXPECT_FALSE(uart.irq().level());
}

TEST_F(Serial16550Test, ThreInterruptOnEnableAckedByIirRead) {
  out(S::IER, S::IER_THRI);
  EXPECT_TRUE(uart.irq().level());
  EXPECT_EQ(iir_source(), S::IIR_THRI);  // this read acknowledges it
  EXPECT_FALSE(uart.irq().level());
  EXPECT_EQ(iir_source(), S::IIR_NO_INT);
  out(S::THR, 'x');  // empty again at once: pending anew
  EXPECT_TRUE(uart.irq().level());
  out(S::IER, 0);
  EXPECT_FALSE(uart.irq().level());
}

TEST_F(Serial16550Test, IirPrioritiesLineStatusDataThre) {
  out(S::MCR, S::MCR_LOOP);  // loopback: THR into the receiver
  out(S::IER, S::IER_RDI | S::IER_THRI | S::IER_RLSI | S::IER_MSI);
  out(S::THR, 'a');
  out(S::THR, 'b');  // overrun without FIFOs: a line-status source
  EXPECT_EQ(iir_source(), S::IIR_RLSI);
  EXPECT_EQ(in(S::LSR) & (S::LSR_OE | S::LSR_DR), S::LSR_OE | S::LSR_DR);
  EXPECT_EQ(iir_source(), S::IIR_RDI);
  EXPECT_EQ(in(S::RBR), 'b');  // the overrun replaced the unread character
  EXPECT_EQ(iir_source(), S::IIR_THRI);
  // No modem-status source: QEMU reports no MSR deltas, in loopback or out of it.
  EXPECT_EQ(iir_source(), S::IIR_NO_INT);
  EXPECT_FALSE(uart.irq().level());
}

TEST_F(Serial16550Test, LoopbackRoutesTransmitAndModemLines) {
  // QEMU: the outputs read back in MSR, without deltas.
  out(S::MCR, S::MCR_LOOP | S::MCR_DTR | S::MCR_RTS | S::MCR_OUT1 | S::MCR_OUT2);
  EXPECT_EQ(in(S::MSR), S::MSR_CTS | S::MSR_DSR | S::MSR_RI | S::MSR_DCD);
  out(S::MCR, S::MCR_LOOP | S::MCR_RTS);
  EXPECT_EQ(in(S::MSR), S::MSR_CTS);
  out(S::MCR, S::MCR_LOOP);
  EXPECT_EQ(in(S::MSR), 0u);
  out(S::FCR, S::FCR_ENABLE);
  out(S::THR, 'Z');
  EXPECT_EQ(sink.out, "");
  EXPECT_EQ(feed("x"), 0u);  // the serial input is disconnected in loopback
  EXPECT_EQ(uart.rx_space(), 0u);
  EXPECT_EQ(in(S::RBR), 'Z');
  out(S::MCR, 0);
  EXPECT_EQ(in(S::MSR), S::MSR_DCD | S::MSR_DSR | S::MSR_CTS);  // no deltas on leaving loopback
  out(S::THR, 'Y');
  EXPECT_EQ(sink.out, "Y");
}

TEST_F(Serial16550Test, FifoOverrunLosesTheNewCharacter) {
  out(S::FCR, S::FCR_ENABLE);
  out(S::MCR, S::MCR_LOOP);
  for (int i = 0; i < 17; ++i) out(S::THR, uint8_t('a' + i));
  EXPECT_EQ(in(S::LSR)&S::LSR_OE, S::LSR_OE);
  EXPECT_EQ(in(S::LSR)&S::LSR_OE, 0u);  // cleared by the read
  std::string got;
  while (in(S::LSR)&S::LSR_DR) got += char(in(S::RBR));
  EXPECT_EQ(got, "abcdefghijklmnop");
}

TEST_F(Serial16550Test, BreakSetsBiAndFifoError) {
  out(S::FCR, S::FCR_ENABLE);
  uart.receive_break();
  const uint8_t lsr = in(S::LSR);
  EXPECT_EQ(lsr & (S::LSR_BI | S::LSR_DR | S::LSR_FIFO_ERR),
            S::LSR_BI | S::LSR_DR | S::LSR_FIFO_ERR);
  EXPECT_EQ(in(S::RBR), 0u);
  EXPECT_EQ(in(S::LSR) & (S::LSR_BI | S::LSR_FIFO_ERR), 0u);
}

TEST_F(Serial16550Test, ResetClearsEverything) {
  out(S::FCR, S::FCR_ENABLE);
  out(S::IER, S::IER_THRI);
  out(S::SCR, 1);
  feed("abc");
  uart.reset();
  EXPECT_EQ(in(S::LSR), S::LSR_THRE | S::LSR_TEMT);
  EXPECT_EQ(in(S::IER), 0u);
  EXPECT_EQ(in(S::SCR), 0u);
  EXPECT_FALSE(uart.irq().level());
}

TEST_F(Serial16550Test, ReadOnlyRegisterWritesAreGuestErrors) {
  test::LogCapture cap(log, "guest_errors");
  ASSERT_TRUE(cap.ok());
  out(S::LSR, 0);
  out(S::MSR, 0);
  const std::string got = cap.take();
  EXPECT_EQ(test::line_count(got), 2u) << got;
  EXPECT_NE(got.find("serial0: write 0x00 to read-only LSR"), std::string::npos) << got;
  EXPECT_EQ(in(S::LSR), S::LSR_THRE | S::LSR_TEMT);
}

}  // namespace
}  // namespace orrery::hw
