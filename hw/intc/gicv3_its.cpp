#include "hw/intc/gicv3_its.h"

#include <cinttypes>

namespace orrery::hw::intc {

namespace {

constexpr uint32_t kItsIidr = 0x0000'043B;  // ARM; product 0, revision 0
constexpr uint32_t kPidr2Gicv3 = 0x3B;      // ArchRev 3
constexpr uint64_t kQueuePageSize = 4096;
constexpr uint64_t kOffsetMask = 0xF'FFE0;  // GITS_CWRITER/CREADR.Offset, bits 19:5
constexpr uint64_t kIdLimit = 1ull << Gicv3Its::kIdBits;

// GITS_BASER<n>.Type (IHI 0069 12.19.1): what each table holds.
constexpr uint64_t kTypeDevices = 1, kTypeCollections = 4;
constexpr unsigned kDeviceTable = 0, kCollectionTable = 1;
constexpr uint64_t kBaserTypes[8] = {kTypeDevices, kTypeCollections};
// Valid, InnerCache, OuterCache, Physical_Address[47:12], Shareability, Page_Size, Size;
// Indirect is RAZ/WI (flat tables only), Type and Entry_Size are read-only.
constexpr uint64_t kBaserWritable =
    1ull << 63 | 7ull << 59 | 7ull << 53 | 0xFFFF'FFFF'F000ull | 3u << 10 | 3u << 8 | 0xFF;
// Valid, InnerCache, OuterCache, Physical_Address[51:12], Shareability, Size.
constexpr uint64_t kCbaserWritable =
    1ull << 63 | 7ull << 59 | 7ull << 53 | (((1ull << 52) - 1) & ~0xFFFull) | 3u << 10 | 0xFF;

uint64_t bits(uint64_t v, unsigned hi, unsigned lo) {
  return (v >> lo) & ((2ull << (hi - lo)) - 1);
}

// Entry formats (this implementation's): bit 0 valid in each.
//   DTE: bits 5:1 the ITT's EventID bits - 1, bits 51:8 the ITT address.
//   CTE: bits 63:16 the target processor number.
//   ITE: bits 31:16 the ICID, bits 63:32 the LPI.
constexpr uint64_t kValid = 1;
constexpr uint64_t kIttAddrMask = ((1ull << 52) - 1) & ~0xFFull;

}  // namespace

Gicv3Its::Gicv3Its(Gicv3& gic, const GuestMemory& mem, Log& log)
    : gic_(gic), mem_(mem), log_(log), num_cpus_(gic.core().num_cpus()) {
  reset();
}

void Gicv3Its::reset() {
  std::lock_guard<std::mutex> g(mu_);
  enabled_ = false;
  cbaser_ = cwriter_ = creadr_ = 0;
  stalled_ = false;
  for (uint64_t& b : baser_) b = 0;
}

Gicv3Its::Table Gicv3Its::table_locked(unsigned n) const {
  const uint64_t b = baser_[n];
  if (!(b >> 63)) return {};
  static constexpr uint64_t kPageSizes[4] = {4096, 16384, 65536, 65536};
  const uint64_t page = kPageSizes[bits(b, 9, 8)];
  uint64_t base = b & 0xFFFF'FFFF'F000ull & ~(page - 1);
  // With 64 KiB pages, bits 15:12 hold PA[51:48].
  if (page == 65536) base |= bits(b, 15, 12) << 48;
  return {base, (bits(b, 7, 0) + 1) * page};
}

bool Gicv3Its::read_entry_locked(unsigned table, uint32_t id, uint64_t& entry,
                                 const char*& why) const {
  const Table t = table_locked(table);
  if (!t.bytes) {
    why = table == kDeviceTable ? "device table not valid" : "collection table not valid";
    return false;
  }
  if (uint64_t(id) * kEntrySize + kEntrySize > t.bytes) {
    why = table == kDeviceTable ? "DeviceID beyond the device table"
                                : "ICID beyond the collection table";
    return false;
  }
  if (!mem_.load(t.base + uint64_t(id) * kEntrySize, entry)) {
    why = "table entry not in RAM";
    return false;
  }
  return true;
}

bool Gicv3Its::write_entry_locked(unsigned table, uint32_t id, uint64_t entry, const char*& why) {
  uint64_t old;
  if (!read_entry_locked(table, id, old, why)) return false;
  if (!mem_.store(table_locked(table).base + uint64_t(id) * kEntrySize, entry)) {
    why = "table entry not in RAM";
    return false;
  }
  return true;
}

bool Gicv3Its::find_ite_locked(uint32_t device, uint32_t event, uint64_t& ite_addr, Ite& ite,
                               const char*& why) const {
  if (device >= kIdLimit) {
    why = "DeviceID out of range";
    return false;
  }
  uint64_t dte;
  if (!read_entry_locked(kDeviceTable, device, dte, why)) return false;
  if (!(dte & kValid)) {
    why = "device not mapped";
    return false;
  }
  if (event >= (2ull << bits(dte, 5, 1))) {
    why = "EventID beyond the device's ITT";
    return false;
  }
  ite_addr = (dte & kIttAddrMask) + uint64_t(event) * kEntrySize;
  uint64_t e;
  if (!mem_.load(ite_addr, e)) {
    why = "ITT entry not in RAM";
    return false;
  }
  if (!(e & kValid)) {
    why = "event not mapped";
    return false;
  }
  ite.icid = uint16_t(bits(e, 31, 16));
  ite.intid = uint32_t(e >> 32);
  return true;
}

bool Gicv3Its::collection_target_locked(uint16_t icid, unsigned& cpu, const char*& why) const {
  uint64_t cte;
  if (!read_entry_locked(kCollectionTable, icid, cte, why)) return false;
  if (!(cte & kValid)) {
    why = "collection not mapped";
    return false;
  }
  const uint64_t target = cte >> 16;
  if (target >= num_cpus_) {  // only MAPC writes entries, and it checks; the guest may not
    why = "collection entry names no redistributor";
    return false;
  }
  cpu = unsigned(target);
  return true;
}

bool Gicv3Its::translate(uint32_t device_id, uint32_t event_id) {
  std::lock_guard<std::mutex> g(mu_);
  const char* why = nullptr;
  uint64_t addr;
  Ite ite;
  unsigned cpu;
  if (!enabled_) {
    why = "ITS disabled";
  } else if (find_ite_locked(device_id, event_id, addr, ite, why) &&
             collection_target_locked(ite.icid, cpu, why)) {
    if (gic_.set_lpi_pending(cpu, ite.intid, true)) return true;
    why = "LPIs disabled on the target redistributor, or LPI outside its table";
  }
  log_.log(kLogGuestErrors, "gicv3-its: MSI from DeviceID 0x%x EventID %u dropped (%s)\n",
           device_id, event_id, why);
  return false;
}

void Gicv3Its::msi_write(uint32_t requester_id, uint64_t offset, uint32_t data) {
  if (offset != GITS_TRANSLATER) {
    log_.log(kLogGuestErrors,
             "gicv3-its: MSI from requester 0x%x to offset 0x%" PRIx64
             ", not GITS_TRANSLATER; dropped\n",
             requester_id, offset);
    return;
  }
  translate(requester_id, data);
}

const char* Gicv3Its::run_command_locked(const uint64_t (&cmd)[4]) {
  const uint8_t op = uint8_t(cmd[0]);
  const uint32_t device = uint32_t(cmd[0] >> 32);
  const uint32_t event = uint32_t(cmd[1]);
  const uint16_t icid = uint16_t(cmd[2]);
  const char* why = nullptr;
  auto rdbase_ok = [&](uint64_t dw, unsigned& cpu) {
    const uint64_t rd = bits(dw, 50, 16);  // a processor number (GITS_TYPER.PTA = 0)
    if (rd >= num_cpus_) return false;
    cpu = unsigned(rd);
    return true;
  };
  uint64_t ite_addr;
  Ite ite;
  unsigned cpu, cpu2;
  switch (op) {
    case kMapd: {
      if (device >= kIdLimit) return "MAPD: DeviceID out of range";
      const unsigned size = unsigned(bits(cmd[1], 4, 0));
      if (size + 1 > kIdBits) return "MAPD: ITT size exceeds the EventID bits";
      const bool valid = cmd[2] >> 63;
      const uint64_t dte = valid ? kValid | uint64_t(size) << 1 | (cmd[2] & kIttAddrMask) : 0;
      if (!write_entry_locked(kDeviceTable, device, dte, why)) return why;
      return nullptr;
    }
    case kMapc: {
      const bool valid = cmd[2] >> 63;
      if (valid && !rdbase_ok(cmd[2], cpu)) return "MAPC: RDbase names no redistributor";
      const uint64_t cte = valid ? kValid | uint64_t(cpu) << 16 : 0;
      if (!write_entry_locked(kCollectionTable, icid, cte, why)) return why;
      return nullptr;
    }
    case kMapti:
    case kMapi: {
      if (device >= kIdLimit) return "MAPTI: DeviceID out of range";
      uint64_t dte;
      if (!read_entry_locked(kDeviceTable, device, dte, why)) return why;
      if (!(dte & kValid)) return "MAPTI: device not mapped";
      if (event >= (2ull << bits(dte, 5, 1))) return "MAPTI: EventID beyond the device's ITT";
      const uint32_t intid = op == kMapi ? event : uint32_t(cmd[1] >> 32);
      if (intid < kGicFirstLpi || intid >= (1u << Gicv3::kLpiIdBits))
        return "MAPTI: pINTID is not a valid LPI";
      uint64_t cte;
      if (!read_entry_locked(kCollectionTable, icid, cte, why)) return why;
      const uint64_t ite_entry = kValid | uint64_t(icid) << 16 | uint64_t(intid) << 32;
      if (!mem_.store((dte & kIttAddrMask) + uint64_t(event) * kEntrySize, ite_entry))
        return "MAPTI: ITT entry not in RAM";
      return nullptr;
    }
    case kMovi: {
      if (!find_ite_locked(device, event, ite_addr, ite, why)) return why;
      if (!collection_target_locked(ite.icid, cpu, why)) return why;
      if (!collection_target_locked(icid, cpu2, why)) return why;
      if (cpu != cpu2 && gic_.lpi_pending(cpu, ite.intid)) {
        gic_.set_lpi_pending(cpu, ite.intid, false);
        gic_.set_lpi_pending(cpu2, ite.intid, true);
      }
      if (!mem_.store(ite_addr, kValid | uint64_t(icid) << 16 | uint64_t(ite.intid) << 32))
        return "MOVI: ITT entry not in RAM";
      return nullptr;
    }
    case kDiscard:
      if (!find_ite_locked(device, event, ite_addr, ite, why)) return why;
      if (collection_target_locked(ite.icid, cpu, why)) gic_.set_lpi_pending(cpu, ite.intid, false);
      if (!mem_.store(ite_addr, uint64_t(0))) return "DISCARD: ITT entry not in RAM";
      return nullptr;
    case kInt:
    case kClear:
    case kInv:
      if (!find_ite_locked(device, event, ite_addr, ite, why)) return why;
      if (!collection_target_locked(ite.icid, cpu, why)) return why;
      if (op == kInv)
        gic_.invalidate_lpi(cpu, ite.intid);
      else if (!gic_.set_lpi_pending(cpu, ite.intid, op == kInt) && op == kInt)
        return "INT: LPIs disabled on the target redistributor, or LPI outside its table";
      return nullptr;
    case kInvall:
      if (!collection_target_locked(icid, cpu, why)) return why;
      gic_.invalidate_all_lpis(cpu);
      return nullptr;
    case kSync:
      // Every command takes effect before the next is read: nothing to wait for.
      return rdbase_ok(cmd[2], cpu) ? nullptr : "SYNC: RDbase names no redistributor";
    case kMovall:
      if (!rdbase_ok(cmd[2], cpu) || !rdbase_ok(cmd[3], cpu2))
        return "MOVALL: RDbase names no redistributor";
      gic_.move_all_lpis(cpu, cpu2);
      return nullptr;
    default:
      return "unknown or unsupported command";
  }
}

void Gicv3Its::process_locked() {
  if (!enabled_ || stalled_ || !(cbaser_ >> 63)) return;
  const uint64_t size = (bits(cbaser_, 7, 0) + 1) * kQueuePageSize;
  const uint64_t base = cbaser_ & (((1ull << 52) - 1) & ~0xFFFull);
  if (cwriter_ >= size) {
    log_.log(kLogGuestErrors,
             "gicv3-its: GITS_CWRITER 0x%" PRIx64 " beyond the %" PRIu64
             "-byte command queue; stalled\n",
             cwriter_, size);
    stalled_ = true;
    return;
  }
  while (creadr_ != cwriter_) {
    uint64_t cmd[4] = {};
    const char* why = nullptr;
    if (!mem_.read(base + creadr_, std::span(reinterpret_cast<uint8_t*>(cmd), sizeof cmd)))
      why = "command not in RAM";
    else
      why = run_command_locked(cmd);
    if (why) {
      log_.log(kLogGuestErrors,
               "gicv3-its: command 0x%02x at GITS_CREADR 0x%" PRIx64 " failed (%s); stalled\n",
               unsigned(uint8_t(cmd[0])), creadr_, why);
      stalled_ = true;
      return;
    }
    creadr_ = (creadr_ + kCommandSize) % size;
  }
}

MemResult Gicv3Its::read(uint64_t off, unsigned size, uint64_t& value) {
  std::lock_guard<std::mutex> g(mu_);
  value = 0;
  uint64_t reg = 0;
  bool wide = true;                          // a 64-bit register, readable in 32-bit halves
  if (off >= 0x10000) return MemResult::Ok;  // the translation frame reads as zero
  const uint64_t word = off & ~uint64_t(7);
  if (word == GITS_TYPER) {
    // Physical LPIs, 8-byte ITT entries, 16 EventID bits, 16 DeviceID bits, PTA = 0, HCC = 0.
    reg = 1 | (kEntrySize - 1) << 4 | (kIdBits - 1) << 8 | (kIdBits - 1) << 13;
  } else if (word == GITS_CBASER) {
    reg = cbaser_;
  } else if (word == GITS_CWRITER) {
    reg = cwriter_;
  } else if (word == GITS_CREADR) {
    reg = creadr_ | (stalled_ ? 1 : 0);
  } else if (word >= GITS_BASER && word < GITS_BASER + 64) {
    const unsigned n = unsigned((word - GITS_BASER) / 8);
    if (kBaserTypes[n]) reg = baser_[n] | kBaserTypes[n] << 56 | uint64_t(kEntrySize - 1) << 48;
  } else {
    wide = false;
  }
  if (wide) {
    if (size < 4 || (off & (size - 1))) {
      log_.log(kLogGuestErrors, "gicv3-its: bad read size %u at 0x%" PRIx64 "\n", size, off);
      return MemResult::Ok;
    }
    value = size == 8 ? reg : uint32_t(reg >> (8 * (off & 4)));
    return MemResult::Ok;
  }
  if (size != 4 || (off & 3)) {
    log_.log(kLogGuestErrors, "gicv3-its: bad read size %u at 0x%" PRIx64 "\n", size, off);
    return MemResult::Ok;
  }
  switch (off) {
    case GITS_CTLR:
      // Commands run to completion inside the CWRITER write: always quiescent.
      value = (enabled_ ? GITS_CTLR_Enabled : 0) | GITS_CTLR_Quiescent;
      break;
    case GITS_IIDR:
      value = kItsIidr;
      break;
    case GITS_PIDR2:
      value = kPidr2Gicv3;
      break;
    default:
      if (off >= 0xC000)
        log_.log(kLogUnimp, "gicv3-its: read of unimplemented register 0x%" PRIx64 "\n", off);
      else
        log_.log(kLogGuestErrors, "gicv3-its: read of reserved offset 0x%" PRIx64 "\n", off);
  }
  return MemResult::Ok;
}

MemResult Gicv3Its::write(uint64_t off, unsigned size, uint64_t value) {
  if (off == GITS_TRANSLATER || off == GITS_TRANSLATER + 2) {
    if (size == 4 || size == 2) {
      translate(0, uint32_t(value));
    } else {
      log_.log(kLogGuestErrors, "gicv3-its: %u-byte write to GITS_TRANSLATER\n", size);
    }
    return MemResult::Ok;
  }
  std::lock_guard<std::mutex> g(mu_);
  const uint64_t word = off & ~uint64_t(7);
  auto merge = [&](uint64_t old) {
    if (size == 8) return value;
    const unsigned shift = unsigned(8 * (off & 4));
    const uint64_t lanes = 0xFFFF'FFFFull << shift;
    return (old & ~lanes) | ((value << shift) & lanes);
  };
  const bool wide = word == GITS_TYPER || word == GITS_CBASER || word == GITS_CWRITER ||
                    word == GITS_CREADR || (word >= GITS_BASER && word < GITS_BASER + 64);
  if ((wide && size < 4) || (!wide && size != 4) || (off & (size - 1))) {
    log_.log(kLogGuestErrors, "gicv3-its: bad write size %u at 0x%" PRIx64 "\n", size, off);
    return MemResult::Ok;
  }
  if (word == GITS_CBASER) {
    // IHI 0069 12.19.2: writing GITS_CBASER while the ITS is enabled is UNPREDICTABLE.
    if (enabled_) {
      log_.log(kLogGuestErrors, "gicv3-its: GITS_CBASER written while enabled; ignored\n");
      return MemResult::Ok;
    }
    cbaser_ = merge(cbaser_) & kCbaserWritable;
    creadr_ = 0;  // a successful write resets the read pointer
    stalled_ = false;
  } else if (word == GITS_CWRITER) {
    const uint64_t v = merge(cwriter_);
    cwriter_ = v & kOffsetMask;
    if ((v & 1) && stalled_) stalled_ = false;  // Retry: run the failed command again
    process_locked();
  } else if (word >= GITS_BASER && word < GITS_BASER + 64) {
    const unsigned n = unsigned((word - GITS_BASER) / 8);
    if (!kBaserTypes[n]) return MemResult::Ok;  // unimplemented tables are RAZ/WI
    if (enabled_) {
      log_.log(kLogGuestErrors, "gicv3-its: GITS_BASER%u written while enabled; ignored\n", n);
      return MemResult::Ok;
    }
    baser_[n] = merge(baser_[n]) & kBaserWritable;
  } else if (word == GITS_TYPER || word == GITS_CREADR) {
    log_.log(kLogGuestErrors, "gicv3-its: write to read-only 0x%" PRIx64 "\n", off);
  } else if (off == GITS_CTLR) {
    enabled_ = value & GITS_CTLR_Enabled;
    process_locked();
  } else if (off == GITS_IIDR || off == GITS_PIDR2) {
    log_.log(kLogGuestErrors, "gicv3-its: write to read-only 0x%" PRIx64 "\n", off);
  } else if (off >= 0xC000 && off < 0x10000) {
    log_.log(kLogUnimp, "gicv3-its: write to unimplemented register 0x%" PRIx64 "\n", off);
  } else {
    log_.log(kLogGuestErrors, "gicv3-its: write to reserved offset 0x%" PRIx64 "\n", off);
  }
  return MemResult::Ok;
}

}  // namespace orrery::hw::intc
