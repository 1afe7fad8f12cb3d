#include "hw/ide/ide_channel.h"

#include <algorithm>
#include <cstring>

namespace orrery::hw::ide {

namespace {

// ATA command opcodes (ATA/ATAPI-6 section 8).
enum : uint8_t {
  kCmdDeviceReset = 0x08,
  kCmdRecalibrate = 0x10,  // 0x10-0x1f
  kCmdReadSectors = 0x20,
  kCmdReadSectorsNoRetry = 0x21,
  kCmdReadSectorsExt = 0x24,
  kCmdReadDmaExt = 0x25,
  kCmdReadMultipleExt = 0x29,
  kCmdWriteSectors = 0x30,
  kCmdWriteSectorsNoRetry = 0x31,
  kCmdWriteSectorsExt = 0x34,
  kCmdWriteDmaExt = 0x35,
  kCmdWriteMultipleExt = 0x39,
  kCmdReadVerify = 0x40,
  kCmdReadVerifyNoRetry = 0x41,
  kCmdReadVerifyExt = 0x42,
  kCmdSeek = 0x70,
  kCmdDiagnostic = 0x90,
  kCmdInitParams = 0x91,
  kCmdPacket = 0xa0,
  kCmdIdentifyPacket = 0xa1,
  kCmdReadMultiple = 0xc4,
  kCmdWriteMultiple = 0xc5,
  kCmdSetMultiple = 0xc6,
  kCmdReadDma = 0xc8,
  kCmdReadDmaNoRetry = 0xc9,
  kCmdWriteDma = 0xca,
  kCmdWriteDmaNoRetry = 0xcb,
  kCmdStandbyImmediate = 0xe0,
  kCmdIdleImmediate = 0xe1,
  kCmdStandby = 0xe2,
  kCmdIdle = 0xe3,
  kCmdCheckPower = 0xe5,
  kCmdSleep = 0xe6,
  kCmdFlushCache = 0xe7,
  kCmdFlushCacheExt = 0xea,
  kCmdIdentify = 0xec,
  kCmdSetFeatures = 0xef,
};

// Interrupt reason (sector count) bits during PACKET.
constexpr uint8_t kIrCod = 0x01, kIrIo = 0x02;

// Largest transfer kept in one buffer: an LBA48 command's 65536 sectors.
constexpr size_t kMaxTransfer = 65536 * kSectorSize;
// A PRD table lies within one 64 KiB region: at most 8192 entries.
constexpr unsigned kMaxPrds = 65536 / 8;

// ATA strings: ASCII, space-padded, the two bytes of each word swapped.
void put_string(std::array<uint16_t, 256>& id, unsigned word, unsigned words,
                const std::string& s) {
  for (unsigned i = 0; i < words * 2; ++i) {
    const uint8_t c = i < s.size() ? uint8_t(s[i]) : ' ';
    uint16_t& w = id[word + i / 2];
    w = i % 2 ? uint16_t((w & 0xff00) | c) : uint16_t((w & 0x00ff) | c << 8);
  }
}

}  // namespace

IdeChannel::IdeChannel(Log& log, std::string name, const GuestMemory* dma)
    : log_(log), name_(std::move(name)), dma_(dma) {}

IdeChannel::~IdeChannel() {
  wait_idle();
}

std::string IdeChannel::attach(unsigned unit, std::shared_ptr<block::BlockBackend> drive,
                               IdeMedia media, std::string serial) {
  if (unit > 1) return "no unit " + std::to_string(unit);
  if (drives_[unit].blk) return "unit " + std::to_string(unit) + " is in use";
  Drive& d = drives_[unit];
  d.media = media;
  d.blk = std::move(drive);
  d.serial = std::move(serial);
  d.sectors = d.blk->size() / kSectorSize;
  d.multiple = kMaxMultiple;
  d.xfer_mode = kDefaultXferMode;
  if (media == IdeMedia::Cdrom) {
    d.atapi.blocks = d.blk->size() / kCdBlockSize;
  } else {
    // The usual translated geometry: 16 heads, 63 sectors, at most 16383 cylinders.
    d.heads = 16;
    d.spt = 63;
    d.cyls = uint16_t(std::clamp<uint64_t>(d.sectors / (16 * 63), 1, 16383));
    d.cur_heads = d.heads;
    d.cur_spt = d.spt;
  }
  std::lock_guard g(mu_);
  set_signature_locked(unit);
  return {};
}

void IdeChannel::wait_idle() {
  std::unique_lock lk(mu_);
  idle_cv_.wait(lk, [&] { return in_flight_ == 0; });
}

void IdeChannel::reset() {
  std::lock_guard g(mu_);
  ++generation_;
  flushing_ = false;
  feature_ = count_ = lbal_ = lbam_ = lbah_ = device_ = 0;
  hob_feature_ = hob_count_ = hob_lbal_ = hob_lbam_ = hob_lbah_ = 0;
  control_ = 0;
  unit_ = 0;
  phase_ = Phase::Idle;
  pos_ = end_ = 0;
  bmic_ = bmis_ = 0;
  bmidtp_ = 0;
  for (unsigned u = 0; u < 2; ++u) {
    Drive& d = drives_[u];
    if (!d.blk) continue;
    d.multiple = kMaxMultiple;
    d.cur_heads = d.heads;
    d.cur_spt = d.spt;
    d.write_cache = true;
    d.xfer_mode = kDefaultXferMode;
    d.atapi.medium = true;
    d.atapi.locked = false;
    d.atapi.sense = {};
    set_signature_locked(u);
  }
  intrq_ = false;
  update_irq_locked();
}

// ---- registers ----

MemResult IdeChannel::CommandBlock::read(uint64_t offset, unsigned size, uint64_t& value) {
  std::lock_guard g(c_.mu_);
  if (offset == 0)
    value = c_.data_read_locked(size);
  else if (size == 1)
    value = c_.read_reg_locked(unsigned(offset));
  else
    value = size == 2 ? 0xffff : 0xffffffff;  // wide accesses only reach the data port
  return MemResult::Ok;
}

MemResult IdeChannel::CommandBlock::write(uint64_t offset, unsigned size, uint64_t value) {
  std::lock_guard g(c_.mu_);
  if (offset == 0)
    c_.data_write_locked(size, uint32_t(value));
  else if (size == 1)
    c_.write_reg_locked(unsigned(offset), uint8_t(value));
  else
    c_.log_.log(kLogGuestErrors, "%s: %u-byte write to task file register %u\n", c_.name_.c_str(),
                size, unsigned(offset));
  return MemResult::Ok;
}

MemResult IdeChannel::ControlBlock::read(uint64_t, unsigned, uint64_t& value) {
  std::lock_guard g(c_.mu_);
  // Alternate status: the status without acknowledging the interrupt.
  value = !c_.any_drive() || (c_.unit_ == 1 && !c_.drives_[1].blk) ? 0 : c_.cur().status;
  return MemResult::Ok;
}

MemResult IdeChannel::ControlBlock::write(uint64_t, unsigned, uint64_t value) {
  std::lock_guard g(c_.mu_);
  c_.control_write_locked(uint8_t(value));
  return MemResult::Ok;
}

uint8_t IdeChannel::read_reg_locked(unsigned reg) {
  const bool hob = control_ & kCtlHob;
  // Nothing on the channel reads 0 (QEMU's floating bus); an absent slave reads 0 for status
  // and error while the task file (shared) still reads back.
  if (!any_drive()) return 0;
  const bool absent = !cur().blk;
  switch (reg) {
    case 1:
      return absent ? 0 : hob ? hob_feature_ : cur().error;
    case 2:
      return hob ? hob_count_ : count_;
    case 3:
      return hob ? hob_lbal_ : lbal_;
    case 4:
      return hob ? hob_lbam_ : lbam_;
    case 5:
      return hob ? hob_lbah_ : lbah_;
    case 6:
      return device_;
    default:  // 7: status, which acknowledges the interrupt
      if (absent) return 0;
      set_irq_locked(false);
      return cur().status;
  }
}

void IdeChannel::write_reg_locked(unsigned reg, uint8_t v) {
  // Writing any task file register clears HOB in the device control register.
  control_ &= uint8_t(~kCtlHob);
  switch (reg) {
    case 1:
      hob_feature_ = feature_;
      feature_ = v;
      break;
    case 2:
      hob_count_ = count_;
      count_ = v;
      break;
    case 3:
      hob_lbal_ = lbal_;
      lbal_ = v;
      break;
    case 4:
      hob_lbam_ = lbam_;
      lbam_ = v;
      break;
    case 5:
      hob_lbah_ = lbah_;
      lbah_ = v;
      break;
    case 6:
      device_ = v;
      unit_ = (v >> 4) & 1;
      break;
    default:
      // A command to an absent device, or while the device is busy, is ignored (ATA-6 9.x:
      // the host may not write the command register with BSY or DRQ set).
      if (!cur().blk) return;
      if ((cur().status & (kStBsy | kStDrq)) && v != kCmdDeviceReset) {
        log_.log(kLogGuestErrors, "%s: command 0x%02x while the device is busy; ignored\n",
                 name_.c_str(), v);
        return;
      }
      set_irq_locked(false);
      command_locked(v);
      break;
  }
}

void IdeChannel::control_write_locked(uint8_t v) {
  const bool was_srst = control_ & kCtlSrst;
  control_ = v;
  if (!was_srst && (v & kCtlSrst)) {
    // Soft reset asserted: any command stops; both devices are busy until it is released.
    ++generation_;
    flushing_ = false;
    phase_ = Phase::Idle;
    pos_ = end_ = 0;
    for (Drive& d : drives_)
      if (d.blk) d.status = kStBsy;
  } else if (was_srst && !(v & kCtlSrst)) {
    for (unsigned u = 0; u < 2; ++u)
      if (drives_[u].blk) {
        drives_[u].multiple = kMaxMultiple;
        set_signature_locked(u);
      }
    unit_ = 0;
    device_ = 0;
  }
  update_irq_locked();
}

void IdeChannel::set_signature_locked(unsigned unit) {
  Drive& d = drives_[unit];
  // Diagnostic code 01h (no error) and the device's signature (ATA-6 9.12).
  d.error = 0x01;
  count_ = 1;
  lbal_ = 1;
  if (d.media == IdeMedia::Cdrom) {
    lbam_ = 0x14;
    lbah_ = 0xeb;
    d.status = 0;
  } else {
    lbam_ = lbah_ = 0;
    d.status = kStDrdy | kStDsc;
  }
}

void IdeChannel::set_irq_locked(bool level) {
  if (level && !intrq_) bmis_ |= kBmInterrupt;
  intrq_ = level;
  update_irq_locked();
}

void IdeChannel::update_irq_locked() {
  const bool out = intrq_ && !(control_ & kCtlNien);
  if (irq_.level() != out) irq_.set(out);
}

// ---- data port ----

uint32_t IdeChannel::data_read_locked(unsigned size) {
  if (phase_ != Phase::PioIn || pos_ >= end_) {
    log_.log(kLogGuestErrors, "%s: data port read without data to transfer\n", name_.c_str());
    return 0;
  }
  // An odd ATAPI byte count ends in a padded word: the access takes what is left.
  uint32_t v = 0;
  const size_t n = std::min<size_t>(size, end_ - pos_);
  std::memcpy(&v, buf_->data() + pos_, n);
  pos_ += n;
  if (pos_ >= end_) {
    if (command_ == kCmdPacket)
      packet_data_locked();
    else
      pio_in_block_locked();
  }
  return v;
}

void IdeChannel::data_write_locked(unsigned size, uint32_t v) {
  if ((phase_ != Phase::PioOut && phase_ != Phase::Packet) || pos_ + size > end_) {
    log_.log(kLogGuestErrors, "%s: data port write without a transfer\n", name_.c_str());
    return;
  }
  std::memcpy(buf_->data() + pos_, &v, size);
  pos_ += size;
  if (pos_ < end_) return;
  if (phase_ == Phase::Packet)
    packet_locked();
  else
    pio_out_block_done_locked();
}

// ---- commands ----

void IdeChannel::abort_locked() {
  Drive& d = cur();
  phase_ = Phase::Idle;
  d.error = kErrAbrt;
  d.status = kStDrdy | kStErr | (d.media == IdeMedia::Disk ? kStDsc : 0);
  set_irq_locked(true);
}

void IdeChannel::done_locked(bool irq) {
  Drive& d = cur();
  phase_ = Phase::Idle;
  d.error = 0;
  d.status = kStDrdy | kStDsc;
  if (irq) set_irq_locked(true);
}

bool IdeChannel::lba48_cmd(uint8_t c) const {
  return c == kCmdReadSectorsExt || c == kCmdReadDmaExt || c == kCmdReadMultipleExt ||
         c == kCmdWriteSectorsExt || c == kCmdWriteDmaExt || c == kCmdWriteMultipleExt ||
         c == kCmdReadVerifyExt;
}

void IdeChannel::command_locked(uint8_t c) {
  Drive& d = cur();
  command_ = c;
  const bool cd = d.media == IdeMedia::Cdrom;
  const bool lba48 = lba48_cmd(c);
  // ATAPI devices take only the packet command set (and abort the rest with their signature).
  if (cd && c != kCmdPacket && c != kCmdIdentifyPacket && c != kCmdDeviceReset &&
      c != kCmdDiagnostic && c != kCmdSetFeatures && c != kCmdCheckPower &&
      c != kCmdIdleImmediate && c != kCmdSleep && c != kCmdStandbyImmediate) {
    set_signature_locked(unit_);
    abort_locked();
    return;
  }
  switch (c) {
    case kCmdIdentify:
      identify_locked();
      return;
    case kCmdIdentifyPacket:
      if (!cd) return abort_locked();
      identify_packet_locked();
      return;
    case kCmdReadSectors:
    case kCmdReadSectorsNoRetry:
    case kCmdReadSectorsExt:
      start_read_locked(lba48, 1, false);
      return;
    case kCmdReadMultiple:
    case kCmdReadMultipleExt:
      if (!d.multiple) return abort_locked();
      start_read_locked(lba48, d.multiple, false);
      return;
    case kCmdReadDma:
    case kCmdReadDmaNoRetry:
    case kCmdReadDmaExt:
      if (!dma_) return abort_locked();
      start_read_locked(lba48, 0, true);
      return;
    case kCmdWriteSectors:
    case kCmdWriteSectorsNoRetry:
    case kCmdWriteSectorsExt:
      start_write_locked(lba48, 1, false);
      return;
    case kCmdWriteMultiple:
    case kCmdWriteMultipleExt:
      if (!d.multiple) return abort_locked();
      start_write_locked(lba48, d.multiple, false);
      return;
    case kCmdWriteDma:
    case kCmdWriteDmaNoRetry:
    case kCmdWriteDmaExt:
      if (!dma_) return abort_locked();
      start_write_locked(lba48, 0, true);
      return;
    case kCmdReadVerify:
    case kCmdReadVerifyNoRetry:
    case kCmdReadVerifyExt: {
      // The sectors are read (so unreadable ones would fail) but not transferred.
      uint64_t lba;
      uint32_t count;
      if (!address_locked(lba48, lba, count) || lba + count > d.sectors) {
        d.error = kErrIdnf;
        d.status = kStDrdy | kStDsc | kStErr;
        return set_irq_locked(true);
      }
      buf_ = std::make_shared<std::vector<uint8_t>>(size_t(count) * kSectorSize);
      d.status = kStBsy | kStDrdy;
      phase_ = Phase::Busy;
      submit_locked(block::RequestType::kRead, lba * kSectorSize, buf_->size(), 0,
                    &IdeChannel::verify_done);
      return;
    }
    case kCmdFlushCache:
    case kCmdFlushCacheExt:
      // Completes only once the block layer has made the writes durable (fdatasync).
      d.status = kStBsy | kStDrdy;
      phase_ = Phase::Busy;
      submit_locked(block::RequestType::kFlush, 0, 0, 0, &IdeChannel::flush_done);
      return;
    case kCmdSetFeatures:
      set_features_locked();
      return;
    case kCmdSetMultiple: {
      const unsigned n = count_;
      // 0 disables; otherwise a power of two up to the maximum IDENTIFY reports.
      if (n > kMaxMultiple || (n & (n - 1))) return abort_locked();
      d.multiple = n;
      done_locked();
      return;
    }
    case kCmdInitParams:
      // Logical geometry for CHS addressing: heads from the device register, sectors per track
      // from the count (ATA-6: 0 sectors aborts).
      if (count_ == 0) return abort_locked();
      d.cur_heads = uint16_t((device_ & 0x0f) + 1);
      d.cur_spt = count_;
      done_locked();
      return;
    case kCmdDiagnostic:
      // Both devices run their diagnostics; device 0 reports 01h (passed) with its signature.
      for (unsigned u = 0; u < 2; ++u)
        if (drives_[u].blk) set_signature_locked(u);
      if (drives_[0].blk) set_signature_locked(0);
      unit_ = 0;
      device_ = 0;
      set_irq_locked(true);
      return;
    case kCmdDeviceReset:
      if (!cd) return abort_locked();
      set_signature_locked(unit_);
      phase_ = Phase::Idle;
      return;
    case kCmdPacket:
      if (!cd) return abort_locked();
      packet_start_locked();
      return;
    case kCmdCheckPower:
      count_ = 0xff;  // active or idle
      done_locked();
      return;
    case kCmdSeek:
    case kCmdStandbyImmediate:
    case kCmdIdleImmediate:
    case kCmdStandby:
    case kCmdIdle:
    case kCmdSleep:
      done_locked();
      return;
    default:
      if ((c & 0xf0) == kCmdRecalibrate) {
        done_locked();
        return;
      }
      log_.log(kLogUnimp, "%s: ATA command 0x%02x not implemented\n", name_.c_str(), c);
      abort_locked();
      return;
  }
}

bool IdeChannel::address_locked(bool lba48, uint64_t& lba, uint32_t& count) {
  if (lba48) {
    lba = uint64_t(hob_lbah_) << 40 | uint64_t(hob_lbam_) << 32 | uint64_t(hob_lbal_) << 24 |
          uint64_t(lbah_) << 16 | uint64_t(lbam_) << 8 | lbal_;
    count = uint32_t(hob_count_) << 8 | count_;
    if (count == 0) count = 65536;
    return true;
  }
  count = count_ ? count_ : 256;
  if (device_ & 0x40) {
    lba = uint64_t(device_ & 0x0f) << 24 | uint64_t(lbah_) << 16 | uint64_t(lbam_) << 8 | lbal_;
    return true;
  }
  // CHS: sector numbers start at 1.
  const Drive& d = cur();
  const uint32_t cyl = uint32_t(lbah_) << 8 | lbam_, head = device_ & 0x0f, sector = lbal_;
  if (sector == 0 || sector > d.cur_spt || head >= d.cur_heads) return false;
  lba = (uint64_t(cyl) * d.cur_heads + head) * d.cur_spt + sector - 1;
  return true;
}

void IdeChannel::start_read_locked(bool lba48, unsigned per_drq, bool dma) {
  Drive& d = cur();
  uint64_t lba;
  uint32_t count;
  if (!address_locked(lba48, lba, count) || lba + count > d.sectors) {
    log_.log(kLogGuestErrors, "%s: read of sectors beyond the disk's %llu\n", name_.c_str(),
             (unsigned long long)d.sectors);
    d.error = kErrIdnf | kErrAbrt;
    d.status = kStDrdy | kStDsc | kStErr;
    return set_irq_locked(true);
  }
  lba_ = lba;
  lba48_ = lba48;
  remaining_ = count;
  per_drq_ = per_drq;
  buf_ = std::make_shared<std::vector<uint8_t>>(size_t(count) * kSectorSize);
  pos_ = end_ = 0;
  dma_ready_ = false;
  phase_ = dma ? Phase::DmaIn : Phase::Busy;
  d.status = kStBsy | kStDrdy;
  submit_locked(block::RequestType::kRead, lba * kSectorSize, buf_->size(), 0,
                &IdeChannel::read_done);
}

void IdeChannel::read_done(bool ok) {
  Drive& d = cur();
  if (!ok) {
    log_.log(kLogGuestErrors, "%s: medium read failed\n", name_.c_str());
    d.error = kErrUnc | kErrAbrt;
    d.status = kStDrdy | kStErr;
    phase_ = Phase::Idle;
    return set_irq_locked(true);
  }
  if (phase_ == Phase::DmaIn) {
    dma_ready_ = true;
    d.status = kStDrdy | kStDsc | kStDrq;
    try_dma_locked();
    return;
  }
  phase_ = Phase::PioIn;
  pos_ = end_ = 0;
  pio_in_block_locked();
}

void IdeChannel::pio_in_block_locked() {
  // The next DRQ block of a PIO read, with an interrupt for each; none after the last.
  Drive& d = cur();
  if (remaining_ == 0) {
    done_locked(false);
    return;
  }
  const uint32_t n = std::min<uint32_t>(remaining_, per_drq_);
  pos_ = end_;
  end_ = pos_ + size_t(n) * kSectorSize;
  remaining_ -= n;
  lba_ += n;
  progress_locked();
  d.status = kStDrdy | kStDsc | kStDrq;
  set_irq_locked(true);
}

void IdeChannel::progress_locked() {
  // The task file follows the transfer as QEMU's does: the sectors still to go and the next
  // sector's address, in the command's addressing mode.
  const uint64_t lba = lba_;
  count_ = uint8_t(remaining_);
  if (lba48_) {
    hob_count_ = uint8_t(remaining_ >> 8);
    lbal_ = uint8_t(lba);
    lbam_ = uint8_t(lba >> 8);
    lbah_ = uint8_t(lba >> 16);
    hob_lbal_ = uint8_t(lba >> 24);
    hob_lbam_ = uint8_t(lba >> 32);
    hob_lbah_ = uint8_t(lba >> 40);
  } else if (device_ & 0x40) {
    lbal_ = uint8_t(lba);
    lbam_ = uint8_t(lba >> 8);
    lbah_ = uint8_t(lba >> 16);
    device_ = uint8_t((device_ & 0xf0) | ((lba >> 24) & 0x0f));
  } else {
    const Drive& d = cur();
    const uint64_t track = lba / d.cur_spt, cyl = track / d.cur_heads;
    lbal_ = uint8_t(lba % d.cur_spt + 1);
    lbam_ = uint8_t(cyl);
    lbah_ = uint8_t(cyl >> 8);
    device_ = uint8_t((device_ & 0xf0) | (track % d.cur_heads));
  }
}

void IdeChannel::start_write_locked(bool lba48, unsigned per_drq, bool dma) {
  Drive& d = cur();
  uint64_t lba;
  uint32_t count;
  if (d.blk->read_only()) {
    log_.log(kLogGuestErrors, "%s: write to a read-only drive\n", name_.c_str());
    return abort_locked();
  }
  if (!address_locked(lba48, lba, count) || lba + count > d.sectors) {
    log_.log(kLogGuestErrors, "%s: write of sectors beyond the disk's %llu\n", name_.c_str(),
             (unsigned long long)d.sectors);
    d.error = kErrIdnf | kErrAbrt;
    d.status = kStDrdy | kStDsc | kStErr;
    return set_irq_locked(true);
  }
  lba_ = lba;
  lba48_ = lba48;
  remaining_ = count;
  per_drq_ = per_drq;
  if (dma) {
    buf_ = std::make_shared<std::vector<uint8_t>>(size_t(count) * kSectorSize);
    phase_ = Phase::DmaOut;
    dma_ready_ = true;
    d.status = kStDrdy | kStDsc | kStDrq;
    try_dma_locked();
    return;
  }
  // PIO: the first DRQ block is asked for without an interrupt.
  const uint32_t n = std::min<uint32_t>(remaining_, per_drq_);
  buf_ = std::make_shared<std::vector<uint8_t>>(size_t(n) * kSectorSize);
  pos_ = 0;
  end_ = buf_->size();
  phase_ = Phase::PioOut;
  d.status = kStDrdy | kStDsc | kStDrq;
}

void IdeChannel::pio_out_block_done_locked() {
  Drive& d = cur();
  const uint32_t n = uint32_t(end_ / kSectorSize);
  remaining_ -= n;
  phase_ = Phase::Busy;
  d.status = kStBsy | kStDrdy;
  submit_locked(block::RequestType::kWrite, lba_ * kSectorSize, end_, 0, &IdeChannel::write_done);
  lba_ += n;
}

void IdeChannel::write_done(bool ok) {
  Drive& d = cur();
  if (!ok) {
    log_.log(kLogGuestErrors, "%s: medium write failed\n", name_.c_str());
    d.error = kErrAbrt;
    d.status = kStDrdy | kStErr;
    phase_ = Phase::Idle;
    return set_irq_locked(true);
  }
  if (!d.write_cache && !flushing_) {
    // Write cache disabled: the data is on the medium before the command completes.
    flushing_ = true;
    submit_locked(block::RequestType::kFlush, 0, 0, 0, &IdeChannel::write_done);
    return;
  }
  flushing_ = false;
  if (phase_ != Phase::DmaOut) progress_locked();
  if (phase_ == Phase::DmaOut || remaining_ == 0) {
    const bool dma = phase_ == Phase::DmaOut;
    if (dma) return dma_finish_locked(true, dma_ready_);  // dma_ready_ holds "PRD longer"
    done_locked();
    return;
  }
  // Next DRQ block of a PIO write, asked for with an interrupt.
  const uint32_t n = std::min<uint32_t>(remaining_, per_drq_);
  buf_ = std::make_shared<std::vector<uint8_t>>(size_t(n) * kSectorSize);
  pos_ = 0;
  end_ = buf_->size();
  phase_ = Phase::PioOut;
  d.status = kStDrdy | kStDsc | kStDrq;
  set_irq_locked(true);
}

void IdeChannel::flush_done(bool ok) {
  if (!ok) {
    log_.log(kLogGuestErrors, "%s: cache flush failed\n", name_.c_str());
    return abort_locked();
  }
  done_locked();
}

void IdeChannel::verify_done(bool ok) {
  if (!ok) {
    Drive& d = cur();
    d.error = kErrUnc;
    d.status = kStDrdy | kStErr;
    phase_ = Phase::Idle;
    return set_irq_locked(true);
  }
  done_locked();
}

void IdeChannel::submit_locked(block::RequestType type, uint64_t offset, size_t len,
                               size_t buf_offset, void (IdeChannel::*then)(bool ok)) {
  block::Request r;
  r.type = type;
  r.offset = offset;
  if (len) r.data = std::span<uint8_t>(buf_->data() + buf_offset, len);
  ++in_flight_;
  const uint64_t gen = generation_;
  std::shared_ptr<block::BlockBackend> blk = cur().blk;
  // The buffer stays alive with the request even if a reset replaces buf_.
  std::shared_ptr<std::vector<uint8_t>> keep = buf_;
  blk->submit(std::move(r), [this, gen, then, keep](const block::Status& st) {
    std::lock_guard g(mu_);
    if (gen == generation_) (this->*then)(st.ok());
    --in_flight_;
    idle_cv_.notify_all();
  });
}

void IdeChannel::set_features_locked() {
  Drive& d = cur();
  switch (feature_) {
    case 0x03: {
      // Transfer mode: PIO default (00h/01h), PIO flow control 0-4, multiword DMA 0-2,
      // Ultra DMA 0-5.
      const uint8_t m = count_;
      if (m <= 0x01 || (m >= 0x08 && m <= 0x0c) || (m >= 0x20 && m <= 0x22) ||
          (m >= 0x40 && m <= 0x45)) {
        d.xfer_mode = m;
        return done_locked();
      }
      return abort_locked();
    }
    case 0x02:
      d.write_cache = true;
      return done_locked();
    case 0x82:
      d.write_cache = false;
      return done_locked();
    case 0x55:  // read look-ahead off/on, reverting to defaults off/on: accepted, no effect
    case 0xaa:
    case 0x66:
    case 0xcc:
      return done_locked();
    default:
      log_.log(kLogUnimp, "%s: SET FEATURES 0x%02x not implemented\n", name_.c_str(), feature_);
      return abort_locked();
  }
}

void IdeChannel::identify_locked() {
  Drive& d = cur();
  std::array<uint16_t, 256> id{};
  const uint64_t lba28 = std::min<uint64_t>(d.sectors, 0x0fffffff);
  id[0] = 0x0040;  // fixed device
  id[1] = d.cyls;
  id[3] = d.heads;
  id[4] = uint16_t(kSectorSize * d.spt);  // obsolete: bytes per track, as QEMU gives
  id[5] = kSectorSize;
  id[6] = d.spt;
  put_string(id, 10, 10, d.serial);
  put_string(id, 23, 4, "2.5+");
  put_string(id, 27, 20, "QEMU HARDDISK");
  id[47] = 0x8000 | kMaxMultiple;
  id[48] = 1;                                // 32-bit PIO
  id[49] = (1 << 11) | (1 << 9) | (1 << 8);  // IORDY, LBA, DMA
  id[51] = 0x200;                            // PIO timing
  id[52] = 0x200;                            // DMA timing
  id[53] = 1 | (1 << 1) | (1 << 2);          // words 54-58, 64-70 and 88 are valid
  const uint64_t cur_cap = uint64_t(d.cyls) * d.cur_heads * d.cur_spt;
  id[54] = d.cyls;
  id[55] = d.cur_heads;
  id[56] = d.cur_spt;
  id[57] = uint16_t(cur_cap);
  id[58] = uint16_t(cur_cap >> 16);
  if (d.multiple) id[59] = uint16_t(0x100 | d.multiple);
  id[60] = uint16_t(lba28);
  id[61] = uint16_t(lba28 >> 16);
  const uint8_t mode = d.xfer_mode;
  id[62] = 0x07;  // single-word DMA 0-2 (obsolete)
  id[63] = uint16_t(0x07 | ((mode >> 3) == 4 ? (1 << (mode & 7)) << 8 : 0));  // MWDMA 0-2
  id[64] = 0x03;                                                              // PIO 3 and 4
  id[65] = id[66] = id[67] = id[68] = 120;
  id[80] = 0xf0;  // ATA/ATAPI-4 to -7
  id[81] = 0x16;
  // Supported: write cache, look-ahead, NOP; LBA48, FLUSH CACHE and FLUSH CACHE EXT.
  id[82] = (1 << 14) | (1 << 5) | (1 << 6);
  id[83] = (1 << 14) | (1 << 13) | (1 << 12) | (1 << 10);
  id[84] = 1 << 14;
  id[85] = uint16_t((1 << 14) | (d.write_cache ? 1 << 5 : 0) | (1 << 6));
  id[86] = (1 << 13) | (1 << 12) | (1 << 10);
  id[87] = 1 << 14;
  id[88] = uint16_t(0x3f | ((mode >> 3) == 8 ? (1 << (mode & 7)) << 8 : 0));  // UDMA 0-5
  id[93] = 1 | (1 << 14) | 0x2000;  // hardware reset result: device 0, CBLID
  for (int i = 0; i < 4; ++i) id[100 + i] = uint16_t(d.sectors >> (16 * i));
  buf_ = std::make_shared<std::vector<uint8_t>>(512);
  std::memcpy(buf_->data(), id.data(), 512);
  pos_ = 0;
  end_ = 512;
  remaining_ = 0;
  phase_ = Phase::PioIn;
  d.status = kStDrdy | kStDsc | kStDrq;
  set_irq_locked(true);
}

void IdeChannel::identify_packet_locked() {
  Drive& d = cur();
  std::array<uint16_t, 256> id{};
  // ATAPI, CD-ROM (type 5), removable, DRQ within 50 us, 12-byte packets.
  id[0] = (2 << 14) | (5 << 8) | (1 << 7) | (2 << 5);
  put_string(id, 10, 10, d.serial);
  put_string(id, 23, 4, "2.5+");
  put_string(id, 27, 20, "QEMU DVD-ROM");
  id[48] = 1;
  id[49] = (1 << 9) | (1 << 8);  // LBA, DMA
  id[53] = 7;
  const uint8_t mode = d.xfer_mode;
  id[62] = 7;
  id[63] = uint16_t(0x07 | ((mode >> 3) == 4 ? (1 << (mode & 7)) << 8 : 0));
  id[64] = 3;
  id[65] = id[66] = id[67] = id[68] = 0xb4;
  id[71] = id[72] = 30;  // bus release and service times (ns)
  id[80] = 0x1e;         // ATA/ATAPI-1 to -4
  id[82] = 1 << 4;       // PACKET feature set
  id[88] = uint16_t(0x3f | ((mode >> 3) == 8 ? (1 << (mode & 7)) << 8 : 0));
  buf_ = std::make_shared<std::vector<uint8_t>>(512);
  std::memcpy(buf_->data(), id.data(), 512);
  pos_ = 0;
  end_ = 512;
  remaining_ = 0;
  phase_ = Phase::PioIn;
  d.status = kStDrdy | kStDsc | kStDrq;
  set_irq_locked(true);
}

// ---- ATAPI ----

void IdeChannel::packet_start_locked() {
  // The device asks for the 12-byte command packet (CoD=1, IO=0), without an interrupt.
  Drive& d = cur();
  atapi_dma_ = feature_ & 1;
  if (atapi_dma_ && !dma_) return abort_locked();
  buf_ = std::make_shared<std::vector<uint8_t>>(12);
  pos_ = 0;
  end_ = 12;
  phase_ = Phase::Packet;
  count_ = kIrCod;
  d.status = kStDrdy | kStDrq;
}

void IdeChannel::packet_locked() {
  Drive& d = cur();
  std::array<uint8_t, 12> cdb;
  std::memcpy(cdb.data(), buf_->data(), 12);
  AtapiResult r = atapi_command(d.atapi, cdb);
  if (r.sense != kSenseOk) return packet_error_locked(r.sense);
  if (r.read) {
    const uint64_t bytes = uint64_t(r.count) * kCdBlockSize;
    if (bytes > kMaxTransfer) {
      log_.log(kLogUnimp, "%s: ATAPI read of %u blocks exceeds the %zu-byte transfer limit\n",
               name_.c_str(), r.count, kMaxTransfer);
      return packet_error_locked(kSenseInvalidField);
    }
    buf_ = std::make_shared<std::vector<uint8_t>>(size_t(bytes));
    d.status = kStBsy | kStDrdy;
    phase_ = Phase::Busy;
    submit_locked(block::RequestType::kRead, r.lba * kCdBlockSize, size_t(bytes), 0,
                  &IdeChannel::packet_read_done);
    return;
  }
  if (r.data.empty()) return packet_done_locked();
  buf_ = std::make_shared<std::vector<uint8_t>>(std::move(r.data));
  packet_read_done(true);
}

void IdeChannel::packet_read_done(bool ok) {
  if (!ok) {
    log_.log(kLogGuestErrors, "%s: CD-ROM medium read failed\n", name_.c_str());
    return packet_error_locked({0x03, 0x11, 0x00});  // medium error, unrecovered read error
  }
  pos_ = end_ = 0;
  remaining_ = uint32_t(buf_->size());
  if (atapi_dma_) {
    phase_ = Phase::DmaIn;
    dma_ready_ = true;
    cur().status = kStDrdy | kStDrq;
    try_dma_locked();
    return;
  }
  phase_ = Phase::PioIn;
  packet_data_locked();
}

void IdeChannel::packet_data_locked() {
  // The next data-in chunk: at most the byte count limit the host set (even), announced in
  // LBA mid/high with IO=1, CoD=0 and an interrupt; after the last, completion.
  Drive& d = cur();
  if (remaining_ == 0) return packet_done_locked();
  uint32_t limit = uint32_t(lbah_) << 8 | lbam_;
  if (limit == 0xffff) limit = 0xfffe;
  if (limit == 0) limit = 0xfffe;  // not allowed by ATAPI; take the largest
  limit &= ~1u;
  const uint32_t n = std::min(remaining_, limit);
  pos_ = end_;
  end_ = pos_ + n;
  remaining_ -= n;
  lbam_ = uint8_t(n);
  lbah_ = uint8_t(n >> 8);
  count_ = kIrIo;
  d.status = kStDrdy | kStDrq;
  set_irq_locked(true);
}

void IdeChannel::packet_error_locked(const Sense& s) {
  Drive& d = cur();
  d.atapi.sense = s;
  phase_ = Phase::Idle;
  d.error = uint8_t(s.key << 4);  // the sense key; QEMU sets no ABRT with it
  d.status = kStDrdy | kStErr;
  count_ = kIrIo | kIrCod;
  set_irq_locked(true);
}

void IdeChannel::packet_done_locked() {
  Drive& d = cur();
  phase_ = Phase::Idle;
  d.error = 0;
  d.status = kStDrdy | kStDsc;
  count_ = kIrIo | kIrCod;
  set_irq_locked(true);
}

// ---- bus master DMA ----

uint64_t IdeChannel::bm_read(unsigned offset, unsigned size) {
  std::lock_guard g(mu_);
  uint8_t regs[8] = {bmic_, 0, bmis_, 0};
  std::memcpy(regs + 4, &bmidtp_, 4);
  uint64_t v = 0;
  if (offset < 8) std::memcpy(&v, regs + offset, std::min<unsigned>(size, 8 - offset));
  return v;
}

void IdeChannel::bm_write(unsigned offset, unsigned size, uint64_t value) {
  std::lock_guard g(mu_);
  for (unsigned i = 0; i < size && offset + i < 8; ++i) {
    const unsigned o = offset + i;
    const uint8_t b = uint8_t(value >> (8 * i));
    if (o == 0) {
      const bool start = (b & kBmStart) && !(bmic_ & kBmStart);
      const bool stop = !(b & kBmStart) && (bmic_ & kBmStart);
      bmic_ = b & (kBmStart | kBmToMemory);
      if (start) {
        bmis_ |= kBmActive;
        try_dma_locked();
      } else if (stop) {
        bmis_ &= uint8_t(~kBmActive);  // the host aborts; a transfer in progress stays put
      }
    } else if (o == 2) {
      // Bits 6:5 (drive DMA capable) are the host's; error and interrupt are write-1-to-clear.
      bmis_ = uint8_t((bmis_ & ~0x60 & ~(b & (kBmError | kBmInterrupt))) | (b & 0x60));
    } else if (o >= 4) {
      uint8_t t[4];
      std::memcpy(t, &bmidtp_, 4);
      t[o - 4] = b;
      std::memcpy(&bmidtp_, t, 4);
      bmidtp_ &= ~3u;  // dword aligned
    }
  }
}

void IdeChannel::try_dma_locked() {
  if (!dma_ready_ || !(bmic_ & kBmStart) || !(bmis_ & kBmActive)) return;
  if (phase_ == Phase::DmaIn) {
    if (!(bmic_ & kBmToMemory))
      log_.log(kLogGuestErrors, "%s: bus master direction is not to memory for a read\n",
               name_.c_str());
    dma_ready_ = false;
    bool longer = false;
    const bool ok = prd_transfer_locked(true, buf_->size(), longer);
    if (command_ == kCmdPacket) {
      bmis_ = ok ? uint8_t(longer ? bmis_ : bmis_ & ~kBmActive) : uint8_t(bmis_ | kBmError);
      if (!ok) return packet_error_locked({0x04, 0x00, 0x00});  // hardware error
      return packet_done_locked();
    }
    dma_finish_locked(ok, longer);
  } else if (phase_ == Phase::DmaOut) {
    if (bmic_ & kBmToMemory)
      log_.log(kLogGuestErrors, "%s: bus master direction is to memory for a write\n",
               name_.c_str());
    dma_ready_ = false;
    bool longer = false;
    if (!prd_transfer_locked(false, buf_->size(), longer)) return dma_finish_locked(false, false);
    dma_ready_ = longer;  // remembered for the completion
    cur().status = kStBsy | kStDrdy;
    submit_locked(block::RequestType::kWrite, lba_ * kSectorSize, buf_->size(), 0,
                  &IdeChannel::write_done);
  }
}

bool IdeChannel::prd_transfer_locked(bool to_memory, size_t len, bool& prd_longer) {
  uint32_t table = bmidtp_;
  size_t done = 0;
  prd_longer = false;
  for (unsigned i = 0; i < kMaxPrds; ++i, table += 8) {
    uint32_t addr = 0, ctl = 0;
    if (!dma_->load(table, addr) || !dma_->load(table + 4, ctl)) {
      log_.log(kLogGuestErrors, "%s: PRD table at 0x%x is not in memory\n", name_.c_str(), table);
      return false;
    }
    addr &= ~1u;
    uint32_t count = ctl & 0xfffe;
    if (count == 0) count = 0x10000;
    const bool eot = ctl & 0x80000000u;
    const size_t n = std::min<size_t>(count, len - done);
    if (n) {
      std::span<uint8_t> part(buf_->data() + done, n);
      const bool ok = to_memory ? dma_->write(addr, part) : dma_->read(addr, part);
      if (!ok) {
        log_.log(kLogGuestErrors, "%s: DMA of %zu bytes at 0x%x hit no RAM\n", name_.c_str(), n,
                 addr);
        return false;
      }
      done += n;
    }
    if (done == len) {
      prd_longer = n < count || !eot;
      return true;
    }
    if (eot) break;
  }
  log_.log(kLogGuestErrors, "%s: PRD table ends %zu bytes short of the transfer\n", name_.c_str(),
           len - done);
  return false;
}

void IdeChannel::dma_finish_locked(bool ok, bool prd_longer) {
  if (!ok) {
    bmis_ = uint8_t((bmis_ | kBmError) & ~kBmActive);
    return abort_locked();
  }
  // Exactly the transfer's size: the controller goes inactive; a longer table leaves it active
  // (PIIX 2.6.3: interrupt with active still set).
  if (!prd_longer) bmis_ &= uint8_t(~kBmActive);
  lba_ += remaining_;
  remaining_ = 0;
  progress_locked();
  done_locked();
}

}  // namespace orrery::hw::ide
