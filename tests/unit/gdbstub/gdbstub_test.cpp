// The gdbstub's packet layer and dispatcher against a fake target: framing, every packet
// family, error replies, and a fuzz-style run of random and mutated input that must never
// crash or produce an oversized reply.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "ui/gdbstub/packet.h"
#include "ui/gdbstub/session.h"
#include "ui/gdbstub/server.h"

namespace orrery::ui::gdbstub {
namespace {

using cpu::GdbBreak;
using cpu::GdbResume;

/// Two threads; registers r0 (8 bytes), r1 (8), flags (4), vec (16), then a sysreg (8) outside
/// the 'g' set. Memory: 0x1000..0x3000 mapped virtually, 0x8000..0x9000 physically.
class FakeTarget final : public cpu::GdbTarget {
 public:
  FakeTarget() : vmem(0x2000, 0), pmem(0x1000, 0) {
    for (auto& t : regs) t.assign(44, 0);
  }
  unsigned register_count() const override { return 5; }
  unsigned g_register_count() const override { return 4; }
  unsigned pc_register() const override { return 1; }
  unsigned register_bytes(unsigned r) const override {
    static constexpr unsigned kSizes[] = {8, 8, 4, 16, 8};
    return r < 5 ? kSizes[r] : 0;
  }
  std::optional<std::string_view> feature_xml(std::string_view annex) const override {
    if (annex == "target.xml") return std::string_view(xml);
    return std::nullopt;
  }
  unsigned thread_count() const override { return 2; }
  bool thread_alive(unsigned t) const override { return t < 2; }
  static unsigned offset(unsigned r) {
    static constexpr unsigned kOff[] = {0, 8, 16, 20, 36};
    return kOff[r];
  }
  bool read_register(unsigned t, unsigned r, std::span<uint8_t> out) override {
    if (t >= 2 || r >= 5 || out.size() != register_bytes(r)) return false;
    std::memcpy(out.data(), regs[t].data() + offset(r), out.size());
    return true;
  }
  bool write_register(unsigned t, unsigned r, std::span<const uint8_t> in) override {
    if (t >= 2 || r >= 5 || in.size() != register_bytes(r)) return false;
    std::memcpy(regs[t].data() + offset(r), in.data(), in.size());
    return true;
  }
  std::vector<uint8_t>* region(uint64_t addr, size_t len, bool phys, uint64_t& off) {
    const uint64_t base = phys ? 0x8000 : 0x1000;
    std::vector<uint8_t>& m = phys ? pmem : vmem;
    if (addr < base || addr - base > m.size() || len > m.size() - (addr - base)) return nullptr;
    off = addr - base;
    return &m;
  }
  bool read_memory(unsigned, uint64_t addr, std::span<uint8_t> out, bool phys) override {
    uint64_t off;
    auto* m = region(addr, out.size(), phys, off);
    if (!m) return false;
    std::memcpy(out.data(), m->data() + off, out.size());
    return true;
  }
  bool write_memory(unsigned, uint64_t addr, std::span<const uint8_t> in, bool phys) override {
    uint64_t off;
    auto* m = region(addr, in.size(), phys, off);
    if (!m) return false;
    std::memcpy(m->data() + off, in.data(), in.size());
    return true;
  }
  bool insert_break(GdbBreak type, uint64_t addr, uint64_t len) override {
    if (type >= GdbBreak::Write && len == 0) return false;
    breaks[{int(type), addr}] = len;
    return true;
  }
  bool remove_break(GdbBreak type, uint64_t addr, uint64_t) override {
    breaks.erase({int(type), addr});
    return true;
  }
  void request_stop() override { ++stop_requests; }
  std::optional<cpu::GdbStopEvent> wait_stop(std::chrono::milliseconds) override {
    return cpu::GdbStopEvent{};
  }
  void resume(std::span<const GdbResume> modes) override {
    last_resume.assign(modes.begin(), modes.end());
  }
  void detach() override { detached = true; }

  std::string xml = "<target><architecture>fake</architecture></target>";
  std::vector<uint8_t> regs[2];
  std::vector<uint8_t> vmem, pmem;
  std::map<std::pair<int, uint64_t>, uint64_t> breaks;
  std::vector<GdbResume> last_resume;
  int stop_requests = 0;
  bool detached = false;
};

std::vector<PacketEvent> decode(std::string_view bytes) {
  PacketDecoder d;
  std::vector<PacketEvent> out;
  d.feed(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), out);
  return out;
}

struct SessionTest : ::testing::Test {
  FakeTarget target;
  Session session{target};
  std::string reply;
  std::string ask(std::string_view p) {
    EXPECT_EQ(session.handle(p, reply), Session::Action::Reply) << p;
    return reply;
  }
};

// ---- framing ----

TEST(GdbPacket, DecodesPacketsAcksAndInterrupts) {
  auto ev = decode("+$g#67-\x03$qC#b4");
  ASSERT_EQ(ev.size(), 5u);
  EXPECT_EQ(ev[0].kind, PacketEvent::Kind::Ack);
  EXPECT_EQ(ev[1].kind, PacketEvent::Kind::Packet);
  EXPECT_EQ(ev[1].payload, "g");
  EXPECT_EQ(ev[2].kind, PacketEvent::Kind::Nak);
  EXPECT_EQ(ev[3].kind, PacketEvent::Kind::Interrupt);
  EXPECT_EQ(ev[4].payload, "qC");
}

TEST(GdbPacket, BadChecksumIsReported) {
  auto ev = decode("$g#00$g#6z");
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].kind, PacketEvent::Kind::BadPacket);
  EXPECT_EQ(ev[1].kind, PacketEvent::Kind::BadPacket);
}

TEST(GdbPacket, EncodeEscapesAndRoundTrips) {
  std::string payload = "a$b#c}d*e";
  std::string framed = encode_packet(payload);
  EXPECT_EQ(framed.find('$', 1), std::string::npos);
  auto ev = decode(framed);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, PacketEvent::Kind::Packet);
  EXPECT_EQ(ev[0].payload, payload);
}

TEST(GdbPacket, OversizedPacketIsDroppedNotBuffered) {
  std::string body(kMaxPacket + 100, 'a');
  std::string framed = encode_packet(body);
  auto ev = decode(framed);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, PacketEvent::Kind::BadPacket);
  // The decoder recovers for the next packet.
  ev = decode(framed + encode_packet("?"));
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[1].payload, "?");
}

TEST(GdbPacket, TruncatedPacketThenNewOne) {
  auto ev = decode("$m1000,4$g#67");
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].kind, PacketEvent::Kind::BadPacket);
  EXPECT_EQ(ev[1].payload, "g");
}

TEST(GdbPacket, HexHelpers) {
  EXPECT_EQ(parse_hex("ff"), 0xffu);
  EXPECT_EQ(parse_hex("0000000000000000001"), 1u);  // padding is fine
  EXPECT_FALSE(parse_hex("1ffffffffffffffff"));     // 65 bits
  EXPECT_FALSE(parse_hex(""));
  EXPECT_FALSE(parse_hex("12g"));
  EXPECT_FALSE(from_hex("abc"));
  EXPECT_FALSE(from_hex("zz"));
  EXPECT_EQ(to_hex(std::string_view("OK")), "4f4b");
}

// ---- -gdb parsing ----

TEST(GdbSpecParse, Forms) {
  GdbSpec s;
  EXPECT_EQ(parse_gdb_spec("tcp::1234", s), "");
  EXPECT_EQ(s.kind, GdbSpec::Kind::Tcp);
  EXPECT_EQ(s.host, "");
  EXPECT_EQ(s.port, 1234);
  EXPECT_EQ(parse_gdb_spec("tcp:0.0.0.0:4321,server,nowait", s), "");
  EXPECT_EQ(s.host, "0.0.0.0");
  EXPECT_EQ(s.port, 4321);
  EXPECT_EQ(parse_gdb_spec("unix:/tmp/x.sock", s), "");
  EXPECT_EQ(s.kind, GdbSpec::Kind::Unix);
  EXPECT_EQ(s.path, "/tmp/x.sock");
  EXPECT_EQ(parse_gdb_spec("none", s), "");
  EXPECT_EQ(s.kind, GdbSpec::Kind::None);
  EXPECT_NE(parse_gdb_spec("tcp::0", s), "");
  EXPECT_NE(parse_gdb_spec("tcp::70000", s), "");
  EXPECT_NE(parse_gdb_spec("tcp::12ab", s), "");
  EXPECT_NE(parse_gdb_spec("unix:", s), "");
  EXPECT_NE(parse_gdb_spec("tcp::1234,telnet", s), "");
}

// ---- dispatcher ----

TEST_F(SessionTest, Supported) {
  std::string r = ask("qSupported:multiprocess+;swbreak+;hwbreak+;xmlRegisters=i386");
  for (const char* f : {"PacketSize=4000", "qXfer:features:read+", "QStartNoAckMode+",
                        "vContSupported+", "swbreak+", "hwbreak+"})
    EXPECT_NE(r.find(f), std::string::npos) << f;
  EXPECT_EQ(ask("vMustReplyEmpty"), "");
  EXPECT_EQ(ask("qAttached"), "1");
  EXPECT_FALSE(session.no_ack());
  EXPECT_EQ(ask("QStartNoAckMode"), "OK");
  EXPECT_TRUE(session.no_ack());
}

TEST_F(SessionTest, UnknownPacketsGetEmptyReplies) {
  EXPECT_EQ(ask("qTStatus"), "");
  EXPECT_EQ(ask("vFile:open:xyz"), "");
  EXPECT_EQ(ask("!"), "");
  EXPECT_EQ(ask("Z9,1000,4"), "");
}

TEST_F(SessionTest, Registers) {
  target.regs[0][0] = 0x11;
  target.regs[0][8] = 0x22;
  std::string g = ask("g");
  EXPECT_EQ(g.size(), 2u * 36);  // r0, r1, flags, vec
  EXPECT_EQ(g.substr(0, 2), "11");
  EXPECT_EQ(ask("p1"), "2200000000000000");
  EXPECT_EQ(ask("p4"), "0000000000000000");  // sysreg outside g
  EXPECT_EQ(ask("p5"), "E22");
  EXPECT_EQ(ask("pzz"), "E22");
  EXPECT_EQ(ask("P2=78563412"), "OK");
  EXPECT_EQ(target.regs[0][16], 0x78);
  EXPECT_EQ(ask("P2=7856"), "E22");  // wrong size
  EXPECT_EQ(ask("P2=zz563412"), "E22");
  EXPECT_EQ(ask("G" + std::string(72, '1')), "OK");
  EXPECT_EQ(target.regs[0][35], 0x11);
  EXPECT_EQ(ask("G123"), "E22");
  // Hg selects the thread for register access.
  EXPECT_EQ(ask("Hg2"), "OK");
  EXPECT_EQ(ask("P0=0102030405060708"), "OK");
  EXPECT_EQ(target.regs[1][0], 1);
  EXPECT_EQ(ask("Hg3"), "E22");
  EXPECT_EQ(ask("Hgp1.1"), "OK");
  EXPECT_EQ(ask("Hc-1"), "OK");
  EXPECT_EQ(ask("Hg0"), "OK");
  EXPECT_EQ(ask("Hx1"), "E22");
}

TEST_F(SessionTest, Memory) {
  EXPECT_EQ(ask("M1000,4:deadbeef"), "OK");
  EXPECT_EQ(ask("m1000,4"), "deadbeef");
  EXPECT_EQ(ask("m0,4"), "E14");           // unmapped
  EXPECT_EQ(ask("M0,1:00"), "E14");
  EXPECT_EQ(ask("M1000,2:00"), "E22");     // length mismatch
  EXPECT_EQ(ask("M1000,1:zz"), "E22");
  EXPECT_EQ(ask("m1000"), "E22");
  // A read running off the end returns what precedes the hole.
  EXPECT_EQ(ask("m2ffe,10").size(), 4u);
  // Huge lengths are capped to a packet, not allocated.
  EXPECT_LE(ask("m1000,ffffffffffffffff").size(), kMaxPacket);
  EXPECT_EQ(ask("mffffffffffffffff,ffffffffffffffff"), "E14");
  EXPECT_EQ(ask("X1000,0:"), "OK");
  EXPECT_EQ(ask(std::string("X1004,3:a#}")), "OK");
  EXPECT_EQ(target.vmem[4], 'a');
  EXPECT_EQ(target.vmem[6], '}');
  // Physical mode.
  EXPECT_EQ(ask("Qqemu.PhyMemMode:1"), "OK");
  EXPECT_EQ(ask("qqemu.PhyMemMode"), "1");
  EXPECT_EQ(ask("M8000,2:abcd"), "OK");
  EXPECT_EQ(target.pmem[0], 0xab);
  EXPECT_EQ(ask("m1000,4"), "E14");
  EXPECT_EQ(ask("Qqemu.PhyMemMode:2"), "E22");
  EXPECT_EQ(ask("Qqemu.PhyMemMode:0"), "OK");
  EXPECT_FALSE(session.phys_mode());
}

TEST_F(SessionTest, Breakpoints) {
  EXPECT_EQ(ask("Z0,1000,4"), "OK");
  EXPECT_EQ(ask("Z1,2000,4"), "OK");
  EXPECT_EQ(ask("Z2,3000,8"), "OK");
  EXPECT_EQ(ask("Z3,3000,0"), "E22");
  EXPECT_EQ(ask("Z4,3008,4;X1,00"), "OK");
  EXPECT_EQ(target.breaks.size(), 4u);
  EXPECT_EQ(ask("z0,1000,4"), "OK");
  EXPECT_EQ(target.breaks.size(), 3u);
  EXPECT_EQ(ask("Z0,xyz,4"), "E22");
  EXPECT_EQ(ask("Z0"), "E22");
}

TEST_F(SessionTest, ThreadsAndStops) {
  EXPECT_EQ(ask("qfThreadInfo"), "m1,2");
  EXPECT_EQ(ask("qsThreadInfo"), "l");
  EXPECT_EQ(ask("T2"), "OK");
  EXPECT_EQ(ask("T3"), "E22");
  EXPECT_EQ(ask("?"), "S05");
  cpu::GdbStopEvent e{cpu::GdbStopKind::Watch, 1, 0x1234};
  EXPECT_EQ(session.stop_reply(e), "T05watch:1234;thread:2;");
  EXPECT_EQ(ask("?"), "T05watch:1234;thread:2;");
  EXPECT_EQ(ask("qC"), "QC2");
  EXPECT_EQ(session.stop_reply({cpu::GdbStopKind::SwBreak, 0, 0}), "T05swbreak:;thread:1;");
  EXPECT_EQ(session.stop_reply({cpu::GdbStopKind::HwBreak, 0, 0}), "T05hwbreak:;thread:1;");
  EXPECT_EQ(session.stop_reply({cpu::GdbStopKind::ReadWatch, 0, 0x10}),
            "T05rwatch:10;thread:1;");
  EXPECT_EQ(session.stop_reply({cpu::GdbStopKind::AccessWatch, 0, 0x10}),
            "T05awatch:10;thread:1;");
  EXPECT_EQ(session.stop_reply({cpu::GdbStopKind::Interrupt, 0, 0}), "T02thread:1;");
  EXPECT_EQ(session.stop_reply({cpu::GdbStopKind::Interrupt, 0, 0}, true), "T05thread:1;");
}

TEST_F(SessionTest, Resume) {
  EXPECT_EQ(ask("vCont?"), "vCont;c;C;s;S;t");
  EXPECT_EQ(session.handle("vCont;s:1;c", reply), Session::Action::Resume);
  EXPECT_EQ(target.last_resume, (std::vector<GdbResume>{GdbResume::Step, GdbResume::Continue}));
  EXPECT_EQ(session.handle("vCont;s:p1.2", reply), Session::Action::Resume);
  EXPECT_EQ(target.last_resume, (std::vector<GdbResume>{GdbResume::Stay, GdbResume::Step}));
  EXPECT_EQ(session.handle("vCont;c", reply), Session::Action::Resume);
  EXPECT_EQ(target.last_resume, (std::vector<GdbResume>{GdbResume::Continue, GdbResume::Continue}));
  EXPECT_EQ(session.handle("vCont;C05:1;c", reply), Session::Action::Resume);
  EXPECT_EQ(ask("vCont;x"), "E22");
  EXPECT_EQ(ask("vCont;c:9"), "E22");
  EXPECT_EQ(ask("vContzz"), "E22");
  EXPECT_EQ(session.handle("vCont;t", reply), Session::Action::Resume);
  EXPECT_EQ(target.stop_requests, 1);
  EXPECT_EQ(session.handle("c", reply), Session::Action::Resume);
  EXPECT_EQ(session.handle("s", reply), Session::Action::Resume);
  EXPECT_EQ(target.last_resume, (std::vector<GdbResume>{GdbResume::Step, GdbResume::Stay}));
  EXPECT_EQ(session.handle("c2000", reply), Session::Action::Resume);
  EXPECT_EQ(target.regs[0][8], 0x00);
  EXPECT_EQ(target.regs[0][9], 0x20);  // PC written little-endian
  EXPECT_EQ(ask("cxyz"), "E22");
}

TEST_F(SessionTest, FeaturesAndMonitor) {
  EXPECT_EQ(ask("qXfer:features:read:target.xml:0,1000"), "l" + target.xml);
  EXPECT_EQ(ask("qXfer:features:read:target.xml:0,5"), "m<targ");
  EXPECT_EQ(ask("qXfer:features:read:target.xml:5,5"), "met><a");
  EXPECT_EQ(ask("qXfer:features:read:target.xml:ffff,5"), "l");
  EXPECT_EQ(ask("qXfer:features:read:other.xml:0,5"), "E00");
  EXPECT_EQ(ask("qXfer:features:read:target.xml"), "E22");
  auto text = [](const std::string& hex) {
    auto b = from_hex(hex);
    return b ? std::string(b->begin(), b->end()) : std::string("<bad hex>");
  };
  EXPECT_NE(text(ask("qRcmd," + to_hex(std::string_view("help")))).find("phys"),
            std::string::npos);
  EXPECT_NE(text(ask("qRcmd," + to_hex(std::string_view("phys on")))).find("on"),
            std::string::npos);
  EXPECT_TRUE(session.phys_mode());
  EXPECT_NE(text(ask("qRcmd," + to_hex(std::string_view("bogus")))).find("unknown"),
            std::string::npos);
  EXPECT_EQ(ask("qRcmd,zz"), "E22");
}

TEST_F(SessionTest, DetachAndKill) {
  EXPECT_EQ(session.handle("D", reply), Session::Action::Detach);
  EXPECT_EQ(reply, "OK");
  EXPECT_TRUE(target.detached);
  EXPECT_EQ(session.handle("k", reply), Session::Action::Kill);
  EXPECT_EQ(session.handle("vKill;1", reply), Session::Action::Kill);
}

// ---- fuzz ----

/// Feeds bytes through decoder and dispatcher exactly as the server does; every reply must fit
/// a packet.
void pump(PacketDecoder& d, Session& s, std::span<const uint8_t> bytes) {
  std::vector<PacketEvent> evs;
  d.feed(bytes, evs);
  std::string reply;
  for (const PacketEvent& e : evs) {
    if (e.kind != PacketEvent::Kind::Packet) continue;
    s.handle(e.payload, reply);
    ASSERT_LE(reply.size(), kMaxPacket) << e.payload.substr(0, 80);
    ASSERT_LE(encode_packet(reply).size(), 2 * kMaxPacket + 4);
  }
}

TEST(GdbFuzz, RandomBytes) {
  FakeTarget t;
  Session s(t);
  PacketDecoder d;
  std::mt19937_64 rng(12345);
  std::vector<uint8_t> buf;
  for (int iter = 0; iter < 2000; ++iter) {
    buf.resize(rng() % 512);
    for (uint8_t& b : buf) {
      // Bias toward protocol characters so framing paths are exercised.
      static constexpr char kSpecial[] = "$#}*+-\x03:;,0123456789abcdefgmMpPXZzqQvH";
      b = rng() % 3 == 0 ? uint8_t(kSpecial[rng() % (sizeof kSpecial - 1)]) : uint8_t(rng());
    }
    pump(d, s, buf);
  }
}

TEST(GdbFuzz, MutatedValidPackets) {
  const std::vector<std::string> seeds = {
      "g", "G0011", "p1", "P1=0011223344556677", "m1000,10", "M1000,2:abcd", "X1000,2:ab",
      "Z0,1000,4", "z2,1000,8", "Z4,ffffffffffffffff,ffffffffffffffff", "vCont;s:1;c",
      "vCont;c:p1.-1", "Hg1", "Hcp1.2", "T1", "qXfer:features:read:target.xml:0,fff",
      "qRcmd,68656c70", "Qqemu.PhyMemMode:1", "qSupported:xmlRegisters=i386", "c1000",
      "S05;1000", "qThreadExtraInfo,1", "?", "qC", "qfThreadInfo", "D;1", "vCont?"};
  FakeTarget t;
  Session s(t);
  PacketDecoder d;
  std::mt19937_64 rng(777);
  for (int iter = 0; iter < 20000; ++iter) {
    std::string p = seeds[rng() % seeds.size()];
    switch (rng() % 6) {
      case 0:  // truncate
        p.resize(rng() % (p.size() + 1));
        break;
      case 1:  // flip a byte
        if (!p.empty()) p[rng() % p.size()] = char(rng());
        break;
      case 2:  // huge hex numbers
        p += std::string(rng() % 40, "f0,:;"[rng() % 5]);
        break;
      case 3:  // bad hex digits
        if (!p.empty()) p[rng() % p.size()] = "xyz-!"[rng() % 5];
        break;
      default:
        break;
    }
    std::string framed = rng() % 10 == 0 ? "$" + p + "#00" : encode_packet(p);  // bad sums too
    pump(d, s, std::span(reinterpret_cast<const uint8_t*>(framed.data()), framed.size()));
  }
}

// ---- server ----

/// A debugger that sends memory reads as fast as it can and never reads a reply: the server
/// ends up unable to send. Stopping the server (machine exit, then the destructor, as
/// ui/main.cpp does) must still complete.
TEST(GdbServer, StopsWhileAClientNeverReadsItsReplies) {
  FakeTarget target;
  GdbSpec spec;
  spec.kind = GdbSpec::Kind::Tcp;
  spec.host = "127.0.0.1";
  spec.port = 0;  // any free port
  std::string err;
  std::unique_ptr<GdbServer> server = GdbServer::start(spec, target, nullptr, err);
  ASSERT_TRUE(server) << err;
  ASSERT_NE(server->port(), 0);

  int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(c, 0);
  int small = 2048;  // the kernel's minimum: the server's replies back up at once
  ::setsockopt(c, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(server->port());
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(c, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0) << strerror(errno);
  ::fcntl(c, F_SETFL, ::fcntl(c, F_GETFL) | O_NONBLOCK);

  // Flood until the server has stopped taking requests: it reads whenever it is not stuck
  // sending, so requests that cannot be sent for a while mean it is blocked on our replies.
  const std::string req = encode_packet("m1000,7d0");  // 2000 bytes: 4000 hex digits back
  std::string out;
  for (int i = 0; i < 64; ++i) out += req;
  size_t sent = 0;
  auto flood_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (;;) {
    ssize_t n = ::send(c, out.data(), out.size(), MSG_NOSIGNAL);
    if (n > 0) {
      sent += size_t(n);
      continue;
    }
    ASSERT_TRUE(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) << strerror(errno);
    pollfd p{c, POLLOUT, 0};
    if (::poll(&p, 1, 1000) == 0) break;  // no room for a whole second: the server is stuck
    ASSERT_LT(std::chrono::steady_clock::now(), flood_deadline) << "server never backed up";
  }
  EXPECT_GT(sent, 1000 * req.size());

  // Stop the server on another thread so a hang fails the test instead of blocking it.
  std::mutex m;
  std::condition_variable cv;
  bool stopped = false;
  std::thread stopper([&] {
    server->machine_exited(0);
    server.reset();
    std::lock_guard lock(m);
    stopped = true;
    cv.notify_all();
  });
  {
    std::unique_lock lock(m);
    EXPECT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return stopped; }))
        << "the server did not stop while its client was not reading";
  }
  ::close(c);  // unblocks a stuck server, so the failing case still ends
  stopper.join();
}

}  // namespace
}  // namespace orrery::ui::gdbstub
