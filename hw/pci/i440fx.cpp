#include "hw/pci/i440fx.h"

namespace orrery::hw::pci {

namespace {

// PAM register bits per segment: bit 0 of the nibble enables reads from DRAM, bit 1 writes.
PamSegment decode_segment(unsigned index,
                          const std::array<uint8_t, I440fxFunction::kPamCount>& pam) {
  PamSegment s;
  unsigned nibble;
  if (index == 0) {
    s.base = 0xf0000;
    s.size = 0x10000;
    nibble = pam[0] >> 4;
  } else {
    s.base = 0xc0000 + uint64_t(index - 1) * 0x4000;
    s.size = 0x4000;
    const unsigned reg = 1 + (index - 1) / 2;
    nibble = (index - 1) % 2 ? pam[reg] >> 4 : pam[reg] & 0xf;
  }
  s.read_dram = nibble & 1;
  s.write_dram = nibble & 2;
  return s;
}

}  // namespace

I440fxFunction::I440fxFunction(const AddressSpace& as, Log& log)
    : PciDevice(as, log, "i440FX",
                {.vendor = 0x8086,
                 .device = 0x1237,
                 .class_code = 0x060000,
                 .revision = 0x02,
                 .subsys_vendor = 0x1af4,
                 .subsys_id = 0x1100}) {
  // 82441FX power-on values: command 0x0006 (memory and bus master, fixed), status 0x0280
  // (fast back-to-back, medium DEVSEL).
  const uint8_t cmd_status[4] = {0x06, 0x00, 0x80, 0x02};
  init_bytes(kCfgCommand, cmd_status, 4);
  set_writable(kCfgCommand, 2, 0);
  // PAM0 has only its high nibble (0xf0000 segment); PAM1..6 both nibbles, each RE and WE.
  set_writable(kPam0, 1, 0x30);
  set_writable(kPam0 + 1, kPamCount - 1, 0x33);
  const uint8_t smram = kSmramCBaseSeg;  // C_BASE_SEG reads 010: SMRAM at 0xa0000
  init_bytes(kSmram, &smram, 1);
  set_writable(kSmram, 1, kSmramDOpen | kSmramDCls | kSmramDLck | kSmramGSmrame);
}

PamSegment I440fxFunction::pam_segment(unsigned index) {
  std::array<uint8_t, kPamCount> pam;
  for (unsigned i = 0; i < kPamCount; ++i) pam[i] = uint8_t(config_read(kPam0 + i, 1));
  return decode_segment(index < kPamSegmentCount ? index : 0, pam);
}

void I440fxFunction::reset() {
  PciDevice::reset();
  {
    std::lock_guard g(pam_mu_);
    smram_locked_ = false;
  }
  // Attributes back to "everything to PCI/ROM"; the board hears about each segment that moves.
  update_pam();
}

void I440fxFunction::config_written(unsigned offset, unsigned size) {
  if (offset < kPam0 + kPamCount && offset + size > kPam0) update_pam();
  if (offset <= kSmram && offset + size > kSmram) {
    const uint8_t cur = uint8_t(config_read(kSmram, 1));
    uint8_t v = cur;
    {
      std::lock_guard g(pam_mu_);
      if (smram_locked_) {
        // D_LCK: until reset only D_CLS is the guest's; D_OPEN reads 0.
        v = uint8_t((smram_locked_value_ & ~kSmramDCls) | (cur & kSmramDCls));
      } else if (cur & kSmramDLck) {
        smram_locked_ = true;
        v = uint8_t(cur & ~kSmramDOpen);
        smram_locked_value_ = v;
      }
    }
    if (v != cur) set_config_byte(kSmram, v);
    if (v & (kSmramDOpen | kSmramGSmrame))
      log().log(kLogUnimp, "i440FX: SMRAM 0x%02x: SMM and SMRAM are not modelled\n", v);
  }
}

void I440fxFunction::update_pam() {
  std::lock_guard g(pam_mu_);
  std::array<uint8_t, kPamCount> pam;
  for (unsigned i = 0; i < kPamCount; ++i) pam[i] = uint8_t(config_read(kPam0 + i, 1));
  for (unsigned s = 0; s < kPamSegmentCount; ++s) {
    const PamSegment now = decode_segment(s, pam), before = decode_segment(s, pam_seen_);
    if ((now.read_dram != before.read_dram || now.write_dram != before.write_dram) && pam_cb_)
      pam_cb_(s, now);
  }
  pam_seen_ = pam;
}

MemResult I440fxConfigPorts::read(uint64_t offset, unsigned size, uint64_t& value) {
  if (offset < 4) {
    if (offset == 1 && size == 1 && rcr_) return rcr_->read(0, 1, value);
    // CONFIG_ADDRESS is a dword register; narrower reads see its bytes, as QEMU gives them.
    value = (addr_.load(std::memory_order_relaxed) >> (8 * offset)) &
            (size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1);
    return MemResult::Ok;
  }
  const uint32_t a = addr_.load(std::memory_order_relaxed);
  const unsigned bus = (a >> 16) & 0xff, devfn = (a >> 8) & 0xff;
  const unsigned reg = (a & 0xfc) | unsigned(offset & 3);
  if (!(a & kEnable) || bus != 0 || (reg & (size - 1))) {
    // Disabled, another bus (no bridges) or a misaligned access: no device answers.
    value = size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
    return MemResult::Ok;
  }
  value = bus_.config_read(devfn, reg, size);
  return MemResult::Ok;
}

MemResult I440fxConfigPorts::write(uint64_t offset, unsigned size, uint64_t value) {
  if (offset < 4) {
    if (offset == 1 && size == 1 && rcr_) return rcr_->write(0, 1, value);
    // Only a dword write at 0xcf8 loads CONFIG_ADDRESS; bits 1:0 are reserved (read 0).
    if (offset == 0 && size == 4)
      addr_.store(uint32_t(value) & 0x80fffffcu, std::memory_order_relaxed);
    else
      log_.log(kLogGuestErrors, "i440FX: %u-byte write to port 0x%llx is not CONFIG_ADDRESS\n",
               size, (unsigned long long)(0xcf8 + offset));
    return MemResult::Ok;
  }
  const uint32_t a = addr_.load(std::memory_order_relaxed);
  const unsigned bus = (a >> 16) & 0xff, devfn = (a >> 8) & 0xff;
  const unsigned reg = (a & 0xfc) | unsigned(offset & 3);
  if (!(a & kEnable) || (reg & (size - 1))) return MemResult::Ok;
  if (bus != 0) {
    log_.log(kLogGuestErrors, "i440FX: configuration write to bus %u, which has no devices\n", bus);
    return MemResult::Ok;
  }
  bus_.config_write(devfn, reg, size, uint32_t(value));
  return MemResult::Ok;
}

}  // namespace orrery::hw::pci
