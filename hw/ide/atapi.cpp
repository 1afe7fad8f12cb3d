#include "hw/ide/atapi.h"

#include <algorithm>
#include <cstring>

namespace orrery::hw::ide {

namespace {

// Operation codes (SPC-3, MMC-3).
enum : uint8_t {
  kTestUnitReady = 0x00,
  kRequestSense = 0x03,
  kInquiry = 0x12,
  kStartStopUnit = 0x1b,
  kPreventAllow = 0x1e,
  kReadCapacity = 0x25,
  kRead10 = 0x28,
  kReadToc = 0x43,
  kGetConfiguration = 0x46,
  kGetEventStatus = 0x4a,
  kModeSense10 = 0x5a,
  kRead12 = 0xa8,
};

uint32_t be16(std::span<const uint8_t, 12> c, unsigned i) {
  return uint32_t(c[i]) << 8 | c[i + 1];
}
uint32_t be32(std::span<const uint8_t, 12> c, unsigned i) {
  return uint32_t(c[i]) << 24 | uint32_t(c[i + 1]) << 16 | uint32_t(c[i + 2]) << 8 | c[i + 3];
}
void put16(std::vector<uint8_t>& d, size_t i, uint32_t v) {
  d[i] = uint8_t(v >> 8);
  d[i + 1] = uint8_t(v);
}
void put32(std::vector<uint8_t>& d, size_t i, uint32_t v) {
  for (int k = 0; k < 4; ++k) d[i + k] = uint8_t(v >> (24 - 8 * k));
}
void put_str(std::vector<uint8_t>& d, size_t i, const char* s, size_t len) {
  for (size_t k = 0; k < len; ++k) d[i + k] = *s ? uint8_t(*s++) : ' ';
}

AtapiResult fail(AtapiState& s, Sense sense) {
  s.sense = sense;
  AtapiResult r;
  r.sense = sense;
  return r;
}

AtapiResult data(std::vector<uint8_t> d, uint32_t alloc) {
  AtapiResult r;
  if (d.size() > alloc) d.resize(alloc);
  r.data = std::move(d);
  return r;
}

// LBA to MSF (75 frames a second, 2 seconds of lead-in), as READ TOC's MSF form gives it.
void put_msf(std::vector<uint8_t>& d, size_t i, uint64_t lba) {
  const uint64_t f = lba + 150;
  d[i] = 0;
  d[i + 1] = uint8_t(f / (75 * 60));
  d[i + 2] = uint8_t(f / 75 % 60);
  d[i + 3] = uint8_t(f % 75);
}

AtapiResult read_toc(AtapiState& s, std::span<const uint8_t, 12> c) {
  const bool msf = c[1] & 0x02;
  unsigned format = c[2] & 0x0f;
  if (format == 0) format = c[9] >> 6;  // the older SFF-8020 place
  const unsigned track = c[6];
  const uint32_t alloc = be16(c, 7);
  auto put_addr = [&](std::vector<uint8_t>& d, size_t i, uint64_t lba) {
    if (msf)
      put_msf(d, i, lba);
    else
      put32(d, i, uint32_t(lba));
  };
  std::vector<uint8_t> d(4);
  if (format == 0) {
    // One data track (ADR 1, control 4) and the lead-out (0xaa).
    if (track > 1 && track != 0xaa) return fail(s, kSenseInvalidField);
    d[2] = 1;
    d[3] = 1;
    if (track <= 1) {
      d.insert(d.end(), {0, 0x14, 1, 0, 0, 0, 0, 0});
      put_addr(d, d.size() - 4, 0);
    }
    d.insert(d.end(), {0, 0x14, 0xaa, 0, 0, 0, 0, 0});
    put_addr(d, d.size() - 4, s.blocks);
  } else if (format == 1) {
    // Session information: one session, its first track at 0.
    d[2] = 1;
    d[3] = 1;
    d.insert(d.end(), {0, 0x14, 1, 0, 0, 0, 0, 0});
    put_addr(d, d.size() - 4, 0);
  } else {
    return fail(s, kSenseInvalidField);
  }
  put16(d, 0, uint32_t(d.size() - 2));
  return data(std::move(d), alloc);
}

AtapiResult mode_sense(AtapiState& s, std::span<const uint8_t, 12> c) {
  const unsigned page = c[2] & 0x3f, pc = c[2] >> 6;
  const uint32_t alloc = be16(c, 7);
  if (pc == 3) return fail(s, kSenseInvalidField);  // saved values: not supported (SPC-3)
  std::vector<uint8_t> d(8);
  d[2] = 0x70;  // medium type: door closed, no disc type reported
  auto add_error_recovery = [&] {
    // Read/write error recovery page: 1 retry of reads.
    d.insert(d.end(), {0x01, 0x06, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00});
  };
  auto add_capabilities = [&] {
    // CD capabilities and mechanical status (MMC-3 6.3.11): reads CD-R/RW media, audio play,
    // lock, eject, tray loading; pc = 1 (changeable) reports nothing changeable.
    const bool ch = pc == 1;
    std::vector<uint8_t> p(28);
    p[0] = 0x2a;
    p[1] = 0x1a;
    if (!ch) {
      p[2] = 0x3b;  // reads CD-R, CD-RW, method 2, DVD-ROM/R/RAM
      p[4] = 0x71;  // audio play, composite, digital ports, multisession
      p[5] = 0xff;  // CD-DA commands, stream accurate, R-W, C2 pointers, ISRC, UPC, bar code
      p[6] = uint8_t(0x29 | (s.locked ? 0x02 : 0x00));  // lock, lock state, eject, tray
      p[7] = 0x03;                                      // separate volume and mute
      put16(p, 8, 706);                                 // max speed 4x (KB/s)
      put16(p, 10, 256);                                // volume levels
      put16(p, 12, 512);                                // buffer KB
      put16(p, 14, 706);                                // current speed
    }
    d.insert(d.end(), p.begin(), p.end());
  };
  if (page == 0x01) {
    add_error_recovery();
  } else if (page == 0x2a) {
    add_capabilities();
  } else if (page == 0x3f) {
    add_error_recovery();
    add_capabilities();
  } else {
    return fail(s, kSenseInvalidField);
  }
  put16(d, 0, uint32_t(d.size() - 2));
  return data(std::move(d), alloc);
}

AtapiResult get_configuration(AtapiState& s, std::span<const uint8_t, 12> c) {
  const unsigned rt = c[1] & 3, start = be16(c, 2);
  const uint32_t alloc = be16(c, 7);
  if (rt == 3) return fail(s, kSenseInvalidField);
  // Current profile: DVD-ROM (0x10) for media larger than an 80-minute CD, else CD-ROM (0x08).
  constexpr uint64_t kCdMaxBlocks = 80 * 60 * 75;
  const uint16_t current = !s.medium ? 0 : s.blocks > kCdMaxBlocks ? 0x10 : 0x08;
  struct Feature {
    uint16_t code;
    std::vector<uint8_t> body;  // after the 4-byte feature header
    uint8_t flags;              // version << 2 | persistent << 1 | current
  };
  std::vector<Feature> features = {
      // Profile list: DVD-ROM then CD-ROM, with the current one marked.
      {0x0000,
       {0x00, 0x10, uint8_t(current == 0x10), 0, 0x00, 0x08, uint8_t(current == 0x08), 0},
       0x03},
      // Core: ATAPI physical interface (2).
      {0x0001, {0, 0, 0, 2}, 0x07},
      // Removable medium: tray, eject, lock.
      {0x0003, {0x29, 0, 0, 0}, uint8_t(0x02 | (s.medium ? 1 : 0))},
  };
  std::vector<uint8_t> d(8);
  put16(d, 6, current);
  for (const Feature& f : features) {
    if ((rt == 0 && f.code < start) || (rt == 2 && f.code != start)) continue;
    if (rt == 1 && !(f.flags & 1) && f.code != start) continue;
    d.insert(d.end(), {uint8_t(f.code >> 8), uint8_t(f.code), f.flags, uint8_t(f.body.size())});
    d.insert(d.end(), f.body.begin(), f.body.end());
  }
  put32(d, 0, uint32_t(d.size() - 4));
  return data(std::move(d), alloc);
}

AtapiResult get_event_status(AtapiState& s, std::span<const uint8_t, 12> c) {
  // Polled operation only (MMC-3 6.5); the media class is the one supported.
  if (!(c[1] & 1)) return fail(s, kSenseInvalidField);
  const uint32_t alloc = be16(c, 7);
  constexpr uint8_t kMediaClass = 1 << 4;
  std::vector<uint8_t> d(4);
  d[3] = kMediaClass;  // supported event classes
  if (c[4] & kMediaClass) {
    d[2] = 4;  // notification class: media
    // No event; media status: present (bit 1), door closed.
    d.insert(d.end(), {0x00, uint8_t(s.medium ? 0x02 : 0x00), 0x00, 0x00});
  } else {
    d[2] = 0x80;  // no event available (NEA) for the classes asked
  }
  put16(d, 0, uint32_t(d.size() - 2));
  return data(std::move(d), alloc);
}

}  // namespace

AtapiResult atapi_command(AtapiState& s, std::span<const uint8_t, 12> c) {
  const uint8_t op = c[0];
  // Commands that need a medium fail without one; REQUEST SENSE and INQUIRY never do.
  const bool needs_medium = op == kTestUnitReady || op == kReadCapacity || op == kRead10 ||
                            op == kRead12 || op == kReadToc;
  if (needs_medium && !s.medium) return fail(s, kSenseNoMedium);
  switch (op) {
    case kTestUnitReady:
      s.sense = kSenseOk;
      return {};
    case kRequestSense: {
      std::vector<uint8_t> d(18);
      d[0] = 0xf0;  // valid, current error, fixed format (as QEMU)
      d[2] = s.sense.key;
      d[7] = 10;
      d[12] = s.sense.asc;
      d[13] = s.sense.ascq;
      s.sense = kSenseOk;
      return data(std::move(d), c[4]);
    }
    case kInquiry: {
      if (c[1] & 1) return fail(s, kSenseInvalidField);  // no vital product data pages
      std::vector<uint8_t> d(36);
      d[0] = 0x05;  // CD/DVD device
      d[1] = 0x80;  // removable
      d[2] = 0x00;  // no conformance claimed (ATAPI)
      d[3] = 0x21;  // ATAPI version 2, response format 1
      d[4] = 36 - 5;
      put_str(d, 8, "QEMU", 8);
      put_str(d, 16, "QEMU DVD-ROM", 16);
      put_str(d, 32, "2.5+", 4);
      return data(std::move(d), be16(c, 3));
    }
    case kStartStopUnit: {
      const bool start = c[4] & 1, loej = c[4] & 2;
      if (loej) {
        if (!start && s.locked) return fail(s, kSenseRemovalPrevented);
        s.medium = start;
      }
      s.sense = kSenseOk;
      return {};
    }
    case kPreventAllow:
      s.locked = c[4] & 1;
      s.sense = kSenseOk;
      return {};
    case kReadCapacity: {
      std::vector<uint8_t> d(8);
      put32(d, 0, uint32_t(std::min<uint64_t>(s.blocks ? s.blocks - 1 : 0, 0xffffffff)));
      put32(d, 4, kCdBlockSize);
      return data(std::move(d), 8);
    }
    case kRead10:
    case kRead12: {
      AtapiResult r;
      r.lba = be32(c, 2);
      r.count = op == kRead10 ? be16(c, 7) : be32(c, 6);
      if (r.lba + r.count > s.blocks) return fail(s, kSenseLbaOutOfRange);
      r.read = r.count != 0;
      s.sense = kSenseOk;
      return r;
    }
    case kReadToc:
      return read_toc(s, c);
    case kGetConfiguration:
      return get_configuration(s, c);
    case kGetEventStatus:
      return get_event_status(s, c);
    case kModeSense10:
      return mode_sense(s, c);
    default:
      return fail(s, kSenseInvalidOpcode);
  }
}

}  // namespace orrery::hw::ide
