// QEMU's firmware configuration device (fw_cfg) in its x86 port form (docs/specs/fw_cfg.txt):
// a 16-bit selector at 0x510, a byte-wide data port at 0x511, and the DMA interface at 0x514
// (a big-endian 64-bit address of an FWCfgDmaAccess structure; writing its low half starts the
// transfer). Items are little-endian blobs under 16-bit keys; named files are listed in the
// big-endian directory (key 0x19). The board adds every item before the guest runs; all items
// are read-only (DMA writes set the error bit, data-port writes are ignored, as in QEMU).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "hw/core/guest_memory.h"
#include "hw/core/log.h"
#include "hw/core/mmio.h"
#include "hw/core/resettable.h"

namespace orrery::hw {

class FwCfg final : public Resettable {
 public:
  // Keys (fw_cfg.txt "Selector Register"); files start at kFileFirst.
  static constexpr uint16_t kSignature = 0x00, kId = 0x01, kUuid = 0x02, kRamSize = 0x03,
                            kNographic = 0x04, kNbCpus = 0x05, kBootMenu = 0x0e, kMaxCpus = 0x0f,
                            kFileDir = 0x19, kFileFirst = 0x20;
  static constexpr uint16_t kWriteBit = 0x4000;   // ignored since fw_cfg DMA writes exist
  static constexpr uint16_t kArchLocal = 0x8000;  // architecture-specific keys
  static constexpr uint16_t kKeyMask = 0x3fff;
  /// Files the directory can hold (QEMU's default file slots).
  static constexpr unsigned kMaxFiles = 0x20;
  static constexpr size_t kMaxFileName = 56;  // with its NUL
  // FWCfgDmaAccess.control bits.
  static constexpr uint32_t kDmaError = 1u << 0, kDmaRead = 1u << 1, kDmaSkip = 1u << 2,
                            kDmaSelect = 1u << 3, kDmaWrite = 1u << 4;
  static constexpr uint32_t kIdTraditional = 1u << 0, kIdDma = 1u << 1;
  /// What a read of the DMA address register returns, byte by byte: "QEMU CFG".
  static constexpr uint64_t kDmaSignature = 0x51454d5520434647;
  static constexpr uint64_t kIoSize = 2, kDmaSize = 8;  // at kFwCfgPort and kFwCfgDmaPort

  /// dma_space is what DMA reads and writes (guest-physical memory).
  FwCfg(const AddressSpace& dma_space, Log& log);

  void add_bytes(uint16_t key, std::vector<uint8_t> data);
  void add_u16(uint16_t key, uint16_t v);
  void add_u32(uint16_t key, uint32_t v);
  void add_u64(uint16_t key, uint64_t v);
  /// A named file; empty on success, else why (name too long, a duplicate, no slot left).
  std::string add_file(const std::string& name, std::vector<uint8_t> data);
  /// The key of a file, or 0 if there is none of that name.
  uint16_t file_key(const std::string& name) const;

  MmioDevice& io() { return io_; }    // selector and data, 2 ports
  MmioDevice& dma() { return dma_; }  // DMA address, 8 ports
  void reset() override;

 private:
  class IoPorts final : public MmioDevice {
   public:
    explicit IoPorts(FwCfg& f) : f_(f) {}
    MemResult read(uint64_t offset, unsigned size, uint64_t& value) override;
    MemResult write(uint64_t offset, unsigned size, uint64_t value) override;
    AccessRules valid() const override { return {1, 2, true}; }
    AccessRules impl() const override { return {1, 2, true}; }

   private:
    FwCfg& f_;
  };
  class DmaPorts final : public MmioDevice {
   public:
    explicit DmaPorts(FwCfg& f) : f_(f) {}
    MemResult read(uint64_t offset, unsigned size, uint64_t& value) override;
    MemResult write(uint64_t offset, unsigned size, uint64_t value) override;
    AccessRules valid() const override { return {1, 8, true}; }
    AccessRules impl() const override { return {1, 8, true}; }

   private:
    FwCfg& f_;
  };

  void select(uint16_t key);                    // mu_ held
  const std::vector<uint8_t>* current() const;  // mu_ held; null: no item selected
  uint8_t read_data();                          // mu_ held
  void dma_transfer(uint64_t addr);             // mu_ held
  void rebuild_directory();

  GuestMemory mem_;
  Log& log_;
  IoPorts io_{*this};
  DmaPorts dma_{*this};
  std::map<uint16_t, std::vector<uint8_t>> items_;
  std::map<std::string, std::vector<uint8_t>> files_;  // sorted by name, as the directory

  std::mutex mu_;
  bool selected_ = false;
  uint16_t key_ = 0;
  uint32_t offset_ = 0;
  uint64_t dma_addr_ = 0;
};

}  // namespace orrery::hw
