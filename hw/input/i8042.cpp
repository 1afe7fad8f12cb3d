#include "hw/input/i8042.h"

#include <utility>

namespace orrery::hw::input {

namespace {
// Keyboard commands.
constexpr uint8_t kKbdSetLeds = 0xed, kKbdEcho = 0xee, kKbdScanSet = 0xf0, kKbdIdentify = 0xf2,
                  kKbdTypematic = 0xf3, kKbdEnable = 0xf4, kKbdDisable = 0xf5, kKbdDefaults = 0xf6,
                  kKbdResend = 0xfe, kKbdReset = 0xff;
// The MF2 keyboard's ID, second byte as translated by the controller or raw.
constexpr uint8_t kKbdId = 0xab, kKbdIdXlate = 0x41, kKbdIdRaw = 0x83;
// Mouse commands.
constexpr uint8_t kAuxScaling11 = 0xe6, kAuxScaling21 = 0xe7, kAuxResolution = 0xe8,
                  kAuxStatus = 0xe9, kAuxStream = 0xea, kAuxReadData = 0xeb, kAuxWrap = 0xee,
                  kAuxRemote = 0xf0, kAuxGetId = 0xf2, kAuxSampleRate = 0xf3, kAuxEnable = 0xf4,
                  kAuxDisable = 0xf5, kAuxDefaults = 0xf6, kAuxReset = 0xff;
}  // namespace

I8042::I8042(Log& log, std::function<void()> reset_system, std::function<void(bool)> set_a20)
    : log_(log), reset_system_(std::move(reset_system)), set_a20_(std::move(set_a20)) {
  reset();
}

void I8042::reset() {
  std::lock_guard<std::mutex> g(mu_);
  status_ = kStCmd | kStUnlocked;
  outport_ = 0xc0 | 0x0c | kOutA20 | kOutReset;  // unused lines high
  obuf_ = 0;
  for (uint8_t& b : ram_) b = 0;
  ram_[0] = kCfgKbdInt | kCfgAuxInt;
  pending_ = kbd_pending_ = aux_pending_ = 0;
  queue_.clear();
  scancode_set_ = 2;
  leds_ = 0;
  kbd_scanning_ = true;
  aux_rate_ = 100;
  aux_resolution_ = 2;
  aux_reporting_ = aux_scaling21_ = false;
  update_irqs();
}

void I8042::queue(uint8_t v, bool aux, bool device) {
  if (queue_.size() >= kQueueSize) {
    log_.log(kLogGuestErrors, "i8042: output queue full, byte 0x%02x dropped\n", v);
    return;
  }
  queue_.push_back({v, aux, device});
  refill();
}

void I8042::refill() {
  if (!(status_ & kStObf)) {
    for (auto it = queue_.begin(); it != queue_.end(); ++it) {
      if (it->device && (ram_[0] & (it->aux ? kCfgAuxDisable : kCfgKbdDisable))) continue;
      obuf_ = it->value;
      status_ |= kStObf;
      if (it->aux)
        status_ |= kStAuxObf;
      else
        status_ &= uint8_t(~kStAuxObf);
      queue_.erase(it);
      break;
    }
  }
  update_irqs();
}

void I8042::update_irqs() {
  const bool full = status_ & kStObf, aux = status_ & kStAuxObf;
  kbd_irq_.set(full && !aux && (ram_[0] & kCfgKbdInt));
  aux_irq_.set(full && aux && (ram_[0] & kCfgAuxInt));
  outport_ = uint8_t((outport_ & ~(kOutObf | kOutAuxObf)) | (full && !aux ? kOutObf : 0) |
                     (full && aux ? kOutAuxObf : 0));
}

uint8_t I8042::read_data() {
  // An empty buffer reads its last byte again.
  const uint8_t v = obuf_;
  status_ &= uint8_t(~(kStObf | kStAuxObf));
  update_irqs();  // drop the line so the next byte makes a new edge
  refill();
  return v;
}

void I8042::write_output_port(uint8_t v, Effects& fx) {
  const bool a20 = (v & kOutA20) != 0;
  fx.a20_changed = a20 != ((outport_ & kOutA20) != 0);
  fx.a20 = a20;
  outport_ = uint8_t((outport_ & (kOutObf | kOutAuxObf)) | (v & ~(kOutObf | kOutAuxObf)));
  if (!(v & kOutReset)) fx.reset = true;
}

void I8042::write_command(uint8_t v, Effects& fx) {
  status_ |= kStCmd;
  if (v >= kCmdReadRam && v < kCmdReadRam + 0x20) {
    queue(ram_[v & 0x1f], false);
    return;
  }
  if ((v >= kCmdWriteRam && v < kCmdWriteRam + 0x20) || v == kCmdWriteOutput ||
      v == kCmdWriteKbdObuf || v == kCmdWriteAuxObuf || v == kCmdWriteAux) {
    pending_ = v;
    return;
  }
  if (v >= kCmdPulse) {
    // Pulse the output lines whose bits are clear; line 0 is the system reset.
    if (!(v & 1)) fx.reset = true;
    return;
  }
  switch (v) {
    case kCmdDisableAux:
      ram_[0] |= kCfgAuxDisable;
      break;
    case kCmdEnableAux:
      ram_[0] &= uint8_t(~kCfgAuxDisable);
      refill();
      break;
    case kCmdTestAux:
    case kCmdTestKbd:
      queue(0x00, false);  // no clock or data line stuck
      break;
    case kCmdSelfTest:
      status_ |= kStSys;
      queue(kSelfTestOk, false);
      break;
    case kCmdDisableKbd:
      ram_[0] |= kCfgKbdDisable;
      break;
    case kCmdEnableKbd:
      ram_[0] &= uint8_t(~kCfgKbdDisable);
      refill();
      break;
    case kCmdReadInput:
      queue(0x80, false);  // keyboard not inhibited
      break;
    case kCmdReadOutput:
      queue(outport_, false);
      break;
    case kCmdDisableA20:
      write_output_port(uint8_t(outport_ & ~kOutA20), fx);
      break;
    case kCmdEnableA20:
      write_output_port(uint8_t(outport_ | kOutA20), fx);
      break;
    case kCmdReadTest:
      queue(0x00, false);
      break;
    default:
      log_.log(kLogGuestErrors, "i8042: unknown controller command 0x%02x\n", v);
      break;
  }
  update_irqs();
}

void I8042::write_data(uint8_t v, Effects& fx) {
  status_ &= uint8_t(~kStCmd);
  const uint8_t cmd = pending_;
  pending_ = 0;
  if (cmd >= kCmdWriteRam && cmd < kCmdWriteRam + 0x20) {
    ram_[cmd & 0x1f] = v;
    if (cmd == kCmdWriteRam) {
      // The configuration byte's system flag is the status register's.
      status_ = uint8_t((status_ & ~kStSys) | (v & kCfgSys ? kStSys : 0));
    }
    refill();
    return;
  }
  switch (cmd) {
    case kCmdWriteOutput:
      write_output_port(v, fx);
      return;
    case kCmdWriteKbdObuf:
      queue(v, false);
      return;
    case kCmdWriteAuxObuf:
      queue(v, true);
      return;
    case kCmdWriteAux:
      ram_[0] &= uint8_t(~kCfgAuxDisable);  // talking to the mouse enables its port
      mouse_command(v);
      return;
    default:
      break;
  }
  ram_[0] &= uint8_t(~kCfgKbdDisable);  // and talking to the keyboard enables its port
  keyboard_command(v);
}

void I8042::keyboard_command(uint8_t v) {
  if (const uint8_t p = std::exchange(kbd_pending_, 0)) {
    switch (p) {
      case kKbdSetLeds:
        leds_ = v & 7;
        kbd_reply(kAck);
        return;
      case kKbdTypematic:
        kbd_reply(kAck);
        return;
      case kKbdScanSet:
        if (v == 0) {  // report the current set
          kbd_reply(kAck);
          kbd_reply(scancode_set_);
        } else if (v <= 3) {
          scancode_set_ = v;
          kbd_reply(kAck);
        } else {
          kbd_reply(kResend);
        }
        return;
      default:
        break;
    }
  }
  switch (v) {
    case kKbdSetLeds:
    case kKbdTypematic:
    case kKbdScanSet:
      kbd_pending_ = v;
      kbd_reply(kAck);
      break;
    case kKbdEcho:
      kbd_reply(kEcho);
      break;
    case kKbdIdentify:
      kbd_reply(kAck);
      kbd_reply(kKbdId);
      kbd_reply(ram_[0] & kCfgXlate ? kKbdIdXlate : kKbdIdRaw);
      break;
    case kKbdEnable:
      kbd_scanning_ = true;
      kbd_reply(kAck);
      break;
    case kKbdDisable:
      kbd_scanning_ = false;
      [[fallthrough]];
    case kKbdDefaults:
      scancode_set_ = 2;
      kbd_reply(kAck);
      break;
    case kKbdResend:
      kbd_reply(kAck);
      break;
    case kKbdReset:
      scancode_set_ = 2;
      leds_ = 0;
      kbd_scanning_ = true;
      kbd_reply(kAck);
      kbd_reply(kBatOk);  // basic assurance test passed
      break;
    default:
      log_.log(kLogGuestErrors, "i8042: unknown keyboard command 0x%02x\n", v);
      kbd_reply(kResend);
      break;
  }
}

void I8042::mouse_command(uint8_t v) {
  if (const uint8_t p = std::exchange(aux_pending_, 0)) {
    if (p == kAuxResolution) aux_resolution_ = v & 3;
    if (p == kAuxSampleRate) aux_rate_ = v;
    aux_reply(kAck);
    return;
  }
  switch (v) {
    case kAuxResolution:
    case kAuxSampleRate:
      aux_pending_ = v;
      aux_reply(kAck);
      break;
    case kAuxScaling11:
    case kAuxScaling21:
      aux_scaling21_ = v == kAuxScaling21;
      aux_reply(kAck);
      break;
    case kAuxStatus:
      aux_reply(kAck);
      aux_reply(uint8_t((aux_reporting_ ? 0x20 : 0) | (aux_scaling21_ ? 0x10 : 0)));
      aux_reply(aux_resolution_);
      aux_reply(aux_rate_);
      break;
    case kAuxGetId:
      aux_reply(kAck);
      aux_reply(0x00);  // a standard PS/2 mouse
      break;
    case kAuxEnable:
    case kAuxDisable:
      aux_reporting_ = v == kAuxEnable;
      aux_reply(kAck);
      break;
    case kAuxStream:
    case kAuxRemote:
    case kAuxWrap:
      aux_reply(kAck);
      break;
    case kAuxReadData:
      aux_reply(kAck);
      aux_reply(0x08);  // a packet with no movement and no buttons
      aux_reply(0x00);
      aux_reply(0x00);
      break;
    case kAuxDefaults:
    case kAuxReset:
      aux_rate_ = 100;
      aux_resolution_ = 2;
      aux_reporting_ = aux_scaling21_ = false;
      aux_reply(kAck);
      if (v == kAuxReset) {
        aux_reply(kBatOk);
        aux_reply(0x00);  // its ID
      }
      break;
    default:
      log_.log(kLogGuestErrors, "i8042: unknown mouse command 0x%02x\n", v);
      aux_reply(kResend);
      break;
  }
}

MemResult I8042::Port::read(uint64_t offset, unsigned size, uint64_t& value) {
  (void)offset;
  (void)size;
  std::lock_guard<std::mutex> g(kbc_.mu_);
  value = command_ ? kbc_.status_ : kbc_.read_data();
  return MemResult::Ok;
}

MemResult I8042::Port::write(uint64_t offset, unsigned size, uint64_t value) {
  (void)offset;
  (void)size;
  Effects fx;
  {
    std::lock_guard<std::mutex> g(kbc_.mu_);
    if (command_)
      kbc_.write_command(uint8_t(value), fx);
    else
      kbc_.write_data(uint8_t(value), fx);
  }
  if (fx.a20_changed && kbc_.set_a20_) kbc_.set_a20_(fx.a20);
  if (fx.reset && kbc_.reset_system_) kbc_.reset_system_();
  return MemResult::Ok;
}

}  // namespace orrery::hw::input
