#include "ui/gdbstub/packet.h"

namespace orrery::ui::gdbstub {

void PacketDecoder::feed(std::span<const uint8_t> bytes, std::vector<PacketEvent>& out) {
  for (uint8_t b : bytes) {
    switch (state_) {
      case State::Idle:
        if (b == '$') {
          state_ = State::Body;
          body_.clear();
          sum_ = 0;
          overflow_ = false;
        } else if (b == '+') {
          out.push_back({PacketEvent::Kind::Ack, {}});
        } else if (b == '-') {
          out.push_back({PacketEvent::Kind::Nak, {}});
        } else if (b == 0x03) {
          out.push_back({PacketEvent::Kind::Interrupt, {}});
        }
        // Anything else between packets is noise; skip it.
        break;
      case State::Body:
      case State::Escape:
        if (b == '#') {
          // '#' always ends the body, even after '}' (the sender escapes it otherwise).
          state_ = State::Check1;
          break;
        }
        if (b == '$') {  // a new packet started: the previous one was truncated
          out.push_back({PacketEvent::Kind::BadPacket, {}});
          body_.clear();
          sum_ = 0;
          overflow_ = false;
          state_ = State::Body;
          break;
        }
        sum_ = uint8_t(sum_ + b);
        if (state_ == State::Body && b == '}') {
          state_ = State::Escape;
          break;
        }
        if (body_.size() >= kMaxPacket) {
          overflow_ = true;
        } else {
          body_.push_back(char(state_ == State::Escape ? b ^ 0x20 : b));
        }
        state_ = State::Body;
        break;
      case State::Check1: {
        int d = hex_digit(char(b));
        if (d < 0) {
          out.push_back({PacketEvent::Kind::BadPacket, {}});
          state_ = b == '$' ? State::Body : State::Idle;
          body_.clear();
          sum_ = 0;
          overflow_ = false;
          break;
        }
        check_ = uint8_t(d);
        state_ = State::Check2;
        break;
      }
      case State::Check2: {
        int d = hex_digit(char(b));
        state_ = State::Idle;
        if (d < 0 || uint8_t(check_ << 4 | d) != sum_ || overflow_) {
          out.push_back({PacketEvent::Kind::BadPacket, {}});
        } else {
          out.push_back({PacketEvent::Kind::Packet, std::move(body_)});
        }
        body_.clear();
        break;
      }
    }
  }
}

std::string encode_packet(std::string_view payload) {
  std::string out = "$";
  uint8_t sum = 0;
  for (char c : payload) {
    if (c == '$' || c == '#' || c == '}' || c == '*') {
      out.push_back('}');
      sum = uint8_t(sum + '}');
      c = char(c ^ 0x20);
    }
    out.push_back(c);
    sum = uint8_t(sum + uint8_t(c));
  }
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('#');
  out.push_back(kHex[sum >> 4]);
  out.push_back(kHex[sum & 15]);
  return out;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string to_hex(std::span<const uint8_t> bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    s.push_back(kHex[b >> 4]);
    s.push_back(kHex[b & 15]);
  }
  return s;
}

std::string to_hex(std::string_view text) {
  return to_hex(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()),
                                         text.size()));
}

std::optional<std::vector<uint8_t>> from_hex(std::string_view hex) {
  if (hex.size() % 2) return std::nullopt;
  std::vector<uint8_t> out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = uint8_t(hi << 4 | lo);
  }
  return out;
}

std::optional<uint64_t> parse_hex(std::string_view s) {
  if (s.empty()) return std::nullopt;
  while (s.size() > 1 && s[0] == '0') s.remove_prefix(1);  // zero padding is allowed
  if (s.size() > 16) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    int d = hex_digit(c);
    if (d < 0) return std::nullopt;
    v = v << 4 | uint64_t(d);
  }
  return v;
}

}  // namespace orrery::ui::gdbstub
