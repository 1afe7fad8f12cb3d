// The SCSI/MMC commands an ATAPI CD-ROM answers inside PACKET (INF-8020i, MMC-3, SPC-3): TEST
// UNIT READY, REQUEST SENSE, INQUIRY, START STOP UNIT, PREVENT ALLOW MEDIUM REMOVAL, READ
// CAPACITY, READ(10/12), READ TOC (formats 0, 1), GET CONFIGURATION, GET EVENT STATUS
// NOTIFICATION (polled, media class) and MODE SENSE(10) (pages 01h, 2Ah, 3Fh): what
// each command returns or which sense it fails with. Pure functions over the drive's state; the
// IDE channel moves the bytes and reads the medium for READ(10)/READ(12).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace orrery::hw::ide {

/// Sense key, additional sense code and qualifier of the last error (SPC-3 4.5).
struct Sense {
  uint8_t key = 0, asc = 0, ascq = 0;
  bool operator==(const Sense&) const = default;
};
inline constexpr Sense kSenseOk{}, kSenseNoMedium{0x02, 0x3a, 0x00},
    kSenseInvalidOpcode{0x05, 0x20, 0x00}, kSenseLbaOutOfRange{0x05, 0x21, 0x00},
    kSenseInvalidField{0x05, 0x24, 0x00}, kSenseRemovalPrevented{0x05, 0x53, 0x02},
    kSenseMediumChanged{0x06, 0x28, 0x00};

inline constexpr unsigned kCdBlockSize = 2048;

/// The drive's state that commands read and change.
struct AtapiState {
  uint64_t blocks = 0;  // medium capacity in 2048-byte blocks
  bool medium = true;   // a medium is loaded
  bool locked = false;  // PREVENT ALLOW MEDIUM REMOVAL
  Sense sense;          // for REQUEST SENSE
};

/// What one packet does.
struct AtapiResult {
  Sense sense;                // kSenseOk: success
  std::vector<uint8_t> data;  // data-in, already cut to the allocation length
  bool read = false;          // READ(10/12): blocks from the medium instead of data
  uint64_t lba = 0;
  uint32_t count = 0;
};

/// Runs the 12-byte command block cdb.
AtapiResult atapi_command(AtapiState& s, std::span<const uint8_t, 12> cdb);

}  // namespace orrery::hw::ide
