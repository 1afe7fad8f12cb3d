// The Intel 8042 keyboard controller of the PC/AT as QEMU's pc presents it, with a PS/2
// keyboard and a PS/2 mouse behind it: data port 0x60 and status/command port 0x64, the
// controller commands (configuration byte and controller RAM, self-test 0x55, interface tests,
// enable/disable of either port, input and output ports, writes into the output buffer, A20
// control, output-line pulses), and each device's command set (reset 0xFA 0xAA, identify, echo,
// LEDs, scan-code set, typematic; the mouse's reset, ID, status and settings). Pulsing output
// line 0 (command 0xFE, or any 0xFx with bit 0 clear, or writing the output port with bit 0
// clear) resets the system through the callback the board gives.
//
// Bytes wait in one 16-byte queue for the single output buffer; a byte from the mouse sets
// AUX_OBF, and a device's bytes wait while the configuration byte disables its port. IRQ 1
// (keyboard) and IRQ 12 (mouse) follow a full output buffer, as the configuration byte enables
// them. There is no host keyboard or mouse input: the devices only answer commands. Power-on values
// are QEMU's: configuration byte 0x03, status 0x18, output port 0xcf.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>

#include "hw/core/irq.h"
#include "hw/core/log.h"
#include "hw/core/mmio.h"
#include "hw/core/resettable.h"

namespace orrery::hw::input {

class I8042 final : public Resettable {
 public:
  // Status register (port 0x64, read).
  static constexpr uint8_t kStObf = 0x01, kStIbf = 0x02, kStSys = 0x04, kStCmd = 0x08,
                           kStUnlocked = 0x10, kStAuxObf = 0x20, kStTimeout = 0x40,
                           kStParity = 0x80;
  // Configuration byte (controller RAM byte 0).
  static constexpr uint8_t kCfgKbdInt = 0x01, kCfgAuxInt = 0x02, kCfgSys = 0x04,
                           kCfgKbdDisable = 0x10, kCfgAuxDisable = 0x20, kCfgXlate = 0x40;
  // Output port.
  static constexpr uint8_t kOutReset = 0x01, kOutA20 = 0x02, kOutObf = 0x10, kOutAuxObf = 0x20;
  // Controller commands.
  static constexpr uint8_t kCmdReadRam = 0x20, kCmdWriteRam = 0x60, kCmdDisableAux = 0xa7,
                           kCmdEnableAux = 0xa8, kCmdTestAux = 0xa9, kCmdSelfTest = 0xaa,
                           kCmdTestKbd = 0xab, kCmdDisableKbd = 0xad, kCmdEnableKbd = 0xae,
                           kCmdReadInput = 0xc0, kCmdReadOutput = 0xd0, kCmdWriteOutput = 0xd1,
                           kCmdWriteKbdObuf = 0xd2, kCmdWriteAuxObuf = 0xd3, kCmdWriteAux = 0xd4,
                           kCmdDisableA20 = 0xdd, kCmdEnableA20 = 0xdf, kCmdReadTest = 0xe0,
                           kCmdPulse = 0xf0, kCmdReset = 0xfe;
  static constexpr uint8_t kSelfTestOk = 0x55;
  // Device replies.
  static constexpr uint8_t kAck = 0xfa, kResend = 0xfe, kBatOk = 0xaa, kEcho = 0xee;
  static constexpr size_t kQueueSize = 16;

  /// reset_system runs when the guest pulses the reset line; set_a20 (optional) follows the
  /// output port's A20 gate. Both run on the writing vCPU's thread with no lock held.
  I8042(Log& log, std::function<void()> reset_system, std::function<void(bool)> set_a20 = {});
  I8042(const I8042&) = delete;
  I8042& operator=(const I8042&) = delete;

  MmioDevice& data_port() { return data_; }    // 0x60
  MmioDevice& command_port() { return cmd_; }  // 0x64
  IrqLine& kbd_irq() { return kbd_irq_; }      // ISA IRQ 1
  IrqLine& aux_irq() { return aux_irq_; }      // ISA IRQ 12

  void reset() override;

 private:
  class Port final : public MmioDevice {
   public:
    Port(I8042& kbc, bool command) : kbc_(kbc), command_(command) {}
    MemResult read(uint64_t offset, unsigned size, uint64_t& value) override;
    MemResult write(uint64_t offset, unsigned size, uint64_t value) override;
    AccessRules valid() const override { return {1, 4, true}; }
    AccessRules impl() const override { return {1, 1, false}; }

   private:
    I8042& kbc_;
    const bool command_;
  };
  struct Byte {
    uint8_t value;
    bool aux;     // sets AUX_OBF and raises IRQ 12
    bool device;  // from the keyboard or mouse: held while the configuration disables its port
  };
  /// What a write to a port did that must happen outside the lock.
  struct Effects {
    bool reset = false;
    bool a20_changed = false;
    bool a20 = false;
  };

  // mu_ held by all of these.
  void queue(uint8_t v, bool aux, bool device = false);  // a controller reply by default
  void kbd_reply(uint8_t v) { queue(v, false, true); }
  void aux_reply(uint8_t v) { queue(v, true, true); }
  /// Moves the first byte that may go (a controller reply, or a device's whose port is
  /// enabled) into an empty output buffer.
  void refill();
  void update_irqs();
  uint8_t read_data();
  void write_command(uint8_t v, Effects& fx);
  void write_data(uint8_t v, Effects& fx);
  void write_output_port(uint8_t v, Effects& fx);
  void keyboard_command(uint8_t v);
  void mouse_command(uint8_t v);

  Log& log_;
  std::function<void()> reset_system_;
  std::function<void(bool)> set_a20_;
  Port data_{*this, false}, cmd_{*this, true};
  IrqLine kbd_irq_, aux_irq_;
  std::mutex mu_;
  uint8_t status_ = 0, outport_ = 0, obuf_ = 0;
  uint8_t ram_[32] = {};  // controller RAM; byte 0 is the configuration byte
  uint8_t pending_ = 0;   // a controller command waiting for its data byte, or 0
  std::deque<Byte> queue_;
  // The keyboard.
  uint8_t kbd_pending_ = 0;  // a command waiting for its parameter byte
  uint8_t scancode_set_ = 2, leds_ = 0;
  bool kbd_scanning_ = true;
  // The mouse.
  uint8_t aux_pending_ = 0;
  uint8_t aux_rate_ = 100, aux_resolution_ = 2;
  bool aux_reporting_ = false, aux_scaling21_ = false;
};

}  // namespace orrery::hw::input
