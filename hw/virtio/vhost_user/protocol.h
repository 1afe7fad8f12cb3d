// The vhost-user wire protocol (QEMU's docs/interop/vhost-user.rst, as QEMU 7.2 speaks it): the
// message header, the payloads this project uses, a parser that checks every message's size
// and file-descriptor count against its request type, and the socket I/O (SCM_RIGHTS).
//
// Everything a frontend sends is untrusted: parse() refuses a wrong size, a wrong number of
// fds, a ring index or memory table that cannot be right, and the caller drops the connection.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "hw/core/user_file.h"

namespace orrery::hw::virtio::vhost_user {

enum class Request : uint32_t {
  kNone = 0,
  kGetFeatures = 1,
  kSetFeatures = 2,
  kSetOwner = 3,
  kResetOwner = 4,
  kSetMemTable = 5,
  kSetLogBase = 6,
  kSetLogFd = 7,
  kSetVringNum = 8,
  kSetVringAddr = 9,
  kSetVringBase = 10,
  kGetVringBase = 11,
  kSetVringKick = 12,
  kSetVringCall = 13,
  kSetVringErr = 14,
  kGetProtocolFeatures = 15,
  kSetProtocolFeatures = 16,
  kGetQueueNum = 17,
  kSetVringEnable = 18,
  kGetConfig = 24,
  kSetConfig = 25,
  kResetDevice = 34,
};

// Header flags: the version in bits 0-1, then REPLY and NEED_REPLY.
inline constexpr uint32_t kVersion = 1;
inline constexpr uint32_t kVersionMask = 3;
inline constexpr uint32_t kFlagReply = 1u << 2;
inline constexpr uint32_t kFlagNeedReply = 1u << 3;

// Feature bit 30 announces the protocol features; the protocol features this project knows.
inline constexpr uint64_t kFeatureProtocolFeatures = 1ull << 30;
inline constexpr uint64_t kProtocolMq = 1ull << 0;
inline constexpr uint64_t kProtocolReplyAck = 1ull << 3;
inline constexpr uint64_t kProtocolConfig = 1ull << 9;

// A kick/call/err u64: the ring index in bits 0-7, bit 8 set when no fd comes with it.
inline constexpr uint64_t kVringIndexMask = 0xff;
inline constexpr uint64_t kVringNoFd = 1ull << 8;

inline constexpr size_t kHeaderSize = 12;
inline constexpr size_t kMaxRegions = 8;  // VHOST_MEMORY_BASELINE_NREGIONS
inline constexpr size_t kMaxFds = kMaxRegions;
inline constexpr size_t kMaxConfigSize = 256;
inline constexpr size_t kConfigHeaderSize = 12;
inline constexpr size_t kRegionSize = 32;
/// Larger than any payload this project accepts (a full memory table is 264 bytes).
inline constexpr uint32_t kMaxPayload = 4096;

struct Header {
  uint32_t request = 0;
  uint32_t flags = 0;
  uint32_t size = 0;
};

struct VringState {
  uint32_t index = 0;
  uint32_t num = 0;
};

/// Ring addresses in the frontend's virtual address space (struct vhost_vring_addr).
struct VringAddr {
  uint32_t index = 0;
  uint32_t flags = 0;
  uint64_t desc = 0;
  uint64_t used = 0;
  uint64_t avail = 0;
  uint64_t log = 0;
};

struct MemRegion {
  uint64_t guest_addr = 0;
  uint64_t size = 0;
  uint64_t user_addr = 0;
  uint64_t mmap_offset = 0;
};

struct ConfigPayload {
  uint32_t offset = 0;
  uint32_t size = 0;
  uint32_t flags = 0;
  std::vector<uint8_t> data;  // size bytes (empty in a GET_CONFIG request is allowed)
};

/// One parsed message. Which fields mean something depends on request.
struct Message {
  Request request = Request::kNone;
  uint32_t raw_request = 0;
  uint32_t flags = 0;
  uint64_t u64 = 0;
  VringState state;
  VringAddr addr;
  std::vector<MemRegion> regions;
  ConfigPayload config;
  std::vector<UniqueFd> fds;

  bool need_reply() const { return flags & kFlagNeedReply; }
  /// The ring index of a kick/call/err message.
  uint32_t vring_index() const { return uint32_t(u64 & kVringIndexMask); }
  bool vring_has_fd() const { return !(u64 & kVringNoFd); }
};

/// Checks header, payload and fds of one message and fills out; the fds move into out. Returns
/// an empty string, or why the message is malformed. Unknown request types parse (their payload
/// is skipped and any fds are closed) with request kNone, so the caller can refuse them.
std::string parse(const Header& h, std::span<const uint8_t> payload, std::vector<UniqueFd> fds,
                  Message& out);

/// The request's name for logs ("SET_MEM_TABLE"), or "request N".
std::string request_name(uint32_t request);

/// Encodes a reply (REPLY flag set) with the given payload.
std::vector<uint8_t> encode_reply(uint32_t request, std::span<const uint8_t> payload);
std::vector<uint8_t> encode_reply_u64(uint32_t request, uint64_t value);
std::vector<uint8_t> encode_reply_state(uint32_t request, VringState s);
std::vector<uint8_t> encode_reply_config(uint32_t request, const ConfigPayload& c);

/// Encodes a request (for frontends and tests).
std::vector<uint8_t> encode_request(uint32_t request, uint32_t flags,
                                    std::span<const uint8_t> payload);
std::vector<uint8_t> encode_u64(uint64_t v);
std::vector<uint8_t> encode_state(VringState s);
std::vector<uint8_t> encode_addr(const VringAddr& a);
std::vector<uint8_t> encode_mem_table(std::span<const MemRegion> regions);
std::vector<uint8_t> encode_config(const ConfigPayload& c);

/// Reads one message from a blocking socket: the header with any fds, then the payload. A
/// message that stops half-way is an error once the socket's receive timeout passes. Returns an
/// empty string, "" with eof set when the peer closed cleanly between messages, or the error.
std::string read_message(int sock, Message& out, bool& eof);
/// Sends bytes and fds (SCM_RIGHTS) in one sendmsg. False on error (errno set).
bool send_message(int sock, std::span<const uint8_t> bytes, std::span<const int> fds = {});

}  // namespace orrery::hw::virtio::vhost_user
