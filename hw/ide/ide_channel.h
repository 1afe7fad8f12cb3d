// One IDE channel (ATA/ATAPI-6): the command block (8 ports: data, error/features, sector
// count, LBA low/mid/high, device, status/command), the control block (alternate status /
// device control), up to two devices (ATA disks or ATAPI CD-ROMs), INTRQ, and the channel's
// bus-master DMA registers (BMIC, BMIS, BMIDTP, as the PIIX puts them in its BAR 4).
//
// Disks: IDENTIFY DEVICE, READ/WRITE SECTORS and MULTIPLE (LBA28/LBA48 and CHS), READ/WRITE
// DMA (EXT), READ VERIFY, FLUSH CACHE (EXT), SET FEATURES, SET MULTIPLE MODE, INITIALIZE DEVICE
// PARAMETERS, EXECUTE DEVICE DIAGNOSTIC and a few no-data commands. CD-ROMs: IDENTIFY PACKET
// DEVICE and PACKET (atapi.h), PIO or DMA. Soft reset through SRST.
//
// Medium accesses go to the block layer's workers (BSY meanwhile); completions take the
// channel's lock, which also guards every register. A request still running when the guest
// resets the channel completes into a buffer nobody reads.
#pragma once

#include <array>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "hw/block/backend.h"
#include "hw/core/guest_memory.h"
#include "hw/core/irq.h"
#include "hw/core/log.h"
#include "hw/core/mmio.h"
#include "hw/core/resettable.h"
#include "hw/ide/atapi.h"

namespace orrery::hw::ide {

// Status and error bits (ATA-6 7.15, 7.9), device control (7.8).
inline constexpr uint8_t kStBsy = 0x80, kStDrdy = 0x40, kStDf = 0x20, kStDsc = 0x10, kStDrq = 0x08,
                         kStErr = 0x01;
inline constexpr uint8_t kErrAbrt = 0x04, kErrIdnf = 0x10, kErrUnc = 0x40;
inline constexpr uint8_t kCtlNien = 0x02, kCtlSrst = 0x04, kCtlHob = 0x80;
// Bus-master registers (PIIX 2.6): command (start, read/write), status.
inline constexpr uint8_t kBmStart = 0x01, kBmToMemory = 0x08;
inline constexpr uint8_t kBmActive = 0x01, kBmError = 0x02, kBmInterrupt = 0x04;
inline constexpr unsigned kSectorSize = 512;

enum class IdeMedia : uint8_t { Disk, Cdrom };

class IdeChannel : public Resettable {
 public:
  /// Sectors per DRQ block in READ/WRITE MULTIPLE: the most, and the setting after a reset
  /// (QEMU's drives come up with multiple mode on at 16).
  static constexpr unsigned kMaxMultiple = 16;
  /// The transfer mode after a reset: Ultra DMA 5 selected, as QEMU's IDENTIFY reports.
  static constexpr uint8_t kDefaultXferMode = 0x45;

  /// dma: the controller's bus-master view (null: no DMA).
  IdeChannel(Log& log, std::string name, const GuestMemory* dma);
  /// Waits for the requests in flight (their completions use this channel).
  ~IdeChannel() override;
  IdeChannel(const IdeChannel&) = delete;
  IdeChannel& operator=(const IdeChannel&) = delete;

  /// Puts a device at unit 0 (master) or 1 (slave) before the guest runs; serial is its
  /// IDENTIFY serial number. Empty or why not.
  std::string attach(unsigned unit, std::shared_ptr<block::BlockBackend> drive, IdeMedia media,
                     std::string serial);
  bool present(unsigned unit) const { return unit < 2 && drives_[unit].blk != nullptr; }

  MmioDevice& command_block() { return cmd_; }
  MmioDevice& control_block() { return ctl_; }
  IrqLine& irq() { return irq_; }

  /// Bus-master registers at offsets 0..7 of the channel's half of BAR 4.
  uint64_t bm_read(unsigned offset, unsigned size);
  void bm_write(unsigned offset, unsigned size, uint64_t value);

  /// Hardware reset (power-on): drives to their signatures, registers cleared.
  void reset() override;
  /// Waits until no medium request is in flight (tests and reset paths).
  void wait_idle();

 private:
  enum class Phase : uint8_t { Idle, PioIn, PioOut, Packet, DmaIn, DmaOut, Busy };
  struct Drive {
    IdeMedia media = IdeMedia::Disk;
    std::shared_ptr<block::BlockBackend> blk;
    std::string serial;
    uint64_t sectors = 0;  // 512-byte sectors (disk)
    uint8_t status = 0, error = 0;
    unsigned multiple = 0;                  // READ/WRITE MULTIPLE block size; 0: disabled
    uint16_t cyls = 0, heads = 0, spt = 0;  // default geometry
    uint16_t cur_heads = 0, cur_spt = 0;    // INITIALIZE DEVICE PARAMETERS
    bool write_cache = true;
    uint8_t xfer_mode = 0;  // SET FEATURES 03h: 0x08+n PIO, 0x20+n MWDMA, 0x40+n UDMA
    AtapiState atapi;
  };
  class CommandBlock : public MmioDevice {
   public:
    explicit CommandBlock(IdeChannel& c) : c_(c) {}
    MemResult read(uint64_t offset, unsigned size, uint64_t& value) override;
    MemResult write(uint64_t offset, unsigned size, uint64_t value) override;
    AccessRules valid() const override { return {1, 4, false}; }
    AccessRules impl() const override { return {1, 4, false}; }

   private:
    IdeChannel& c_;
  };
  class ControlBlock : public MmioDevice {
   public:
    explicit ControlBlock(IdeChannel& c) : c_(c) {}
    MemResult read(uint64_t offset, unsigned size, uint64_t& value) override;
    MemResult write(uint64_t offset, unsigned size, uint64_t value) override;
    AccessRules valid() const override { return {1, 1, false}; }

   private:
    IdeChannel& c_;
  };

  Drive& cur() { return drives_[unit_]; }
  bool any_drive() const { return drives_[0].blk || drives_[1].blk; }
  uint8_t read_reg_locked(unsigned reg);
  void write_reg_locked(unsigned reg, uint8_t v);
  uint32_t data_read_locked(unsigned size);
  void data_write_locked(unsigned size, uint32_t v);
  void control_write_locked(uint8_t v);

  void set_irq_locked(bool level);
  void update_irq_locked();
  void set_signature_locked(unsigned unit);
  void command_locked(uint8_t cmd);
  void abort_locked();
  void done_locked(bool irq = true);

  // ATA.
  bool lba48_cmd(uint8_t cmd) const;
  /// The command's start sector and count (LBA28/48 or CHS); false if CHS is out of range.
  bool address_locked(bool lba48, uint64_t& lba, uint32_t& count);
  void identify_locked();
  void identify_packet_locked();
  void start_read_locked(bool lba48, unsigned per_drq, bool dma);
  void start_write_locked(bool lba48, unsigned per_drq, bool dma);
  void pio_in_block_locked();
  /// Sector count and address registers after progress (remaining_, lba_).
  void progress_locked();
  void pio_out_block_done_locked();
  void set_features_locked();
  // Medium requests.
  void submit_locked(block::RequestType type, uint64_t offset, size_t len, size_t buf_offset,
                     void (IdeChannel::*then)(bool ok));
  void read_done(bool ok);
  void write_done(bool ok);
  void flush_done(bool ok);
  void verify_done(bool ok);
  void packet_read_done(bool ok);
  // ATAPI.
  void packet_start_locked();
  void packet_locked();
  void packet_data_locked();
  void packet_error_locked(const Sense& s);
  void packet_done_locked();
  // DMA.
  void try_dma_locked();
  /// Moves buf_[0..len) between the PRD table's buffers and guest memory. False if the table
  /// is shorter than len or memory fails.
  bool prd_transfer_locked(bool to_memory, size_t len, bool& prd_longer);
  void dma_finish_locked(bool ok, bool prd_longer);

  Log& log_;
  std::string name_;
  const GuestMemory* dma_;
  CommandBlock cmd_{*this};
  ControlBlock ctl_{*this};
  IrqLine irq_;

  std::mutex mu_;
  std::condition_variable idle_cv_;
  std::array<Drive, 2> drives_;
  unsigned unit_ = 0;  // device register bit 4
  // Task file (shared by both devices, as both latch writes), with the previous ("HOB") bytes.
  uint8_t feature_ = 0, count_ = 0, lbal_ = 0, lbam_ = 0, lbah_ = 0, device_ = 0;
  uint8_t hob_feature_ = 0, hob_count_ = 0, hob_lbal_ = 0, hob_lbam_ = 0, hob_lbah_ = 0;
  uint8_t control_ = 0;
  bool intrq_ = false;
  // The command in progress.
  Phase phase_ = Phase::Idle;
  uint8_t command_ = 0;
  std::shared_ptr<std::vector<uint8_t>> buf_ = std::make_shared<std::vector<uint8_t>>();
  size_t pos_ = 0, end_ = 0;  // the PIO window of buf_
  uint64_t lba_ = 0;          // next sector (PIO writes) or the first (reads)
  uint32_t remaining_ = 0;    // sectors (ATA) or bytes (ATAPI) still to move after this window
  unsigned per_drq_ = 1;      // sectors per DRQ block
  bool dma_ready_ = false;    // DMA: data-in is in buf_, or data-out may be gathered
  bool atapi_dma_ = false;
  bool lba48_ = false;     // the command's addressing
  bool flushing_ = false;  // the flush after a write with the write cache off
  unsigned in_flight_ = 0;
  uint64_t generation_ = 0;  // bumped by resets: stale completions are dropped
  // Bus master.
  uint8_t bmic_ = 0, bmis_ = 0;
  uint32_t bmidtp_ = 0;
};

}  // namespace orrery::hw::ide
