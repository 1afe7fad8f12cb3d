// GDB Remote Serial Protocol framing: "$payload#cs" packets, acks, Ctrl-C, binary escapes and
// hex helpers. Pure code (no sockets), so the parser can be fuzzed directly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace orrery::ui::gdbstub {

/// Largest packet payload accepted (and advertised as PacketSize). Longer packets are dropped
/// and NAKed rather than buffered without bound.
constexpr size_t kMaxPacket = 0x4000;

/// One thing read from the connection.
struct PacketEvent {
  enum class Kind : uint8_t {
    Packet,       // payload holds the unescaped packet (checksum verified)
    BadPacket,    // checksum mismatch or oversized: NAK it in ack mode
    Ack,          // '+'
    Nak,          // '-': retransmit the last packet
    Interrupt,    // 0x03 outside a packet
  };
  Kind kind = Kind::Packet;
  std::string payload;
};

/// Incremental decoder: feed bytes as they arrive, collect events.
class PacketDecoder {
 public:
  void feed(std::span<const uint8_t> bytes, std::vector<PacketEvent>& out);
  void reset() { *this = PacketDecoder{}; }

 private:
  enum class State : uint8_t { Idle, Body, Escape, Check1, Check2 };
  State state_ = State::Idle;
  std::string body_;
  uint8_t sum_ = 0;
  uint8_t check_ = 0;
  bool overflow_ = false;
};

/// Frames payload as "$...#cs", escaping '$', '#', '}' and '*'.
std::string encode_packet(std::string_view payload);

// Hex helpers.
int hex_digit(char c);  // -1 if not a hex digit
std::string to_hex(std::span<const uint8_t> bytes);
std::string to_hex(std::string_view text);
/// Decodes an even-length hex string; nullopt on bad input.
std::optional<std::vector<uint8_t>> from_hex(std::string_view hex);
/// Parses a non-empty hex number that fits 64 bits.
std::optional<uint64_t> parse_hex(std::string_view s);

}  // namespace orrery::ui::gdbstub
