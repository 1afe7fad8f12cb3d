// The gdb remote packet decoder, fed the input in two pieces split at a point the input picks:
// the events must not depend on the split, and every packet must survive encode_packet and a
// second decode unchanged. The hex helpers get each payload too.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "ui/gdbstub/packet.h"

using namespace orrery::ui::gdbstub;

namespace {
std::vector<PacketEvent> decode(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  PacketDecoder d;
  std::vector<PacketEvent> ev;
  d.feed(a, ev);
  d.feed(b, ev);
  return ev;
}
bool same(const std::vector<PacketEvent>& x, const std::vector<PacketEvent>& y) {
  if (x.size() != y.size()) return false;
  for (size_t i = 0; i < x.size(); ++i)
    if (x[i].kind != y[i].kind || x[i].payload != y[i].payload) return false;
  return true;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  size_t split = data[0] % size;
  std::span<const uint8_t> in(data + 1, size - 1);
  split = std::min(split, in.size());
  std::vector<PacketEvent> whole = decode(in, {});
  if (!same(whole, decode(in.first(split), in.subspan(split)))) __builtin_trap();
  for (const PacketEvent& e : whole) {
    if (e.kind != PacketEvent::Kind::Packet) continue;
    if (e.payload.size() > kMaxPacket) __builtin_trap();
    std::string framed = encode_packet(e.payload);
    std::vector<PacketEvent> again = decode(
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(framed.data()), framed.size()),
        {});
    if (again.size() != 1 || again[0].kind != PacketEvent::Kind::Packet ||
        again[0].payload != e.payload)
      __builtin_trap();
    (void)from_hex(e.payload);
    (void)parse_hex(e.payload);
  }
  return 0;
}
