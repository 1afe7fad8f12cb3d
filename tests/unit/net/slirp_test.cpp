// SlirpBackend against real packets: a fake guest on the frame sink speaks ARP, DHCP and TCP
// to libslirp, which talks to real sockets on the host's loopback.
#include "hw/net/slirp_backend.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <string>

#include "packet.h"

namespace orrery::hw::net {
namespace {

using test::Bytes;
using test::FakeGuest;
using test::Packet;
using namespace test;

// A host socket on 127.0.0.1 (listening if listen_too), closed at the end of the test.
struct HostSocket {
  int fd = -1;
  uint16_t port = 0;
  explicit HostSocket(bool listen_too, uint16_t want_port = 0) {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(want_port);
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return;
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    if (listen_too) listen(fd, 4);
  }
  explicit HostSocket(int accepted) : fd(accepted) {}
  ~HostSocket() {
    if (fd >= 0) close(fd);
  }
};

// An ephemeral port that nobody uses now: bound to port 0, then released.
uint16_t free_port() {
  HostSocket s(false);
  return s.port;
}

// Waits for fd to become ready; the 10 s deadline only guards against a hang.
bool wait_fd(int fd, short events) {
  pollfd p{fd, events, 0};
  return poll(&p, 1, 10'000) == 1;
}

std::string recv_some(int fd) {
  if (!wait_fd(fd, POLLIN)) return "(timeout)";
  char buf[256];
  const ssize_t n = recv(fd, buf, sizeof buf, 0);
  return n > 0 ? std::string(buf, size_t(n)) : "(eof)";
}

class SlirpTest : public ::testing::Test {
 protected:
  void SetUp() override { loop_.start(); }
  void TearDown() override { loop_.stop(); }

  std::unique_ptr<SlirpBackend> make(const std::string& options, SlirpBackendConfig config = {}) {
    auto parsed = parse_netdev_user(options);
    EXPECT_TRUE(parsed.ok()) << parsed.message();
    std::string error;
    auto b = SlirpBackend::create(loop_, parsed.value(), error, config);
    EXPECT_TRUE(b) << error;
    return b;
  }

  // Returns once every function posted to the loop before it has run.
  void drain_loop() {
    std::promise<void> done;
    loop_.post([&] { done.set_value(); });
    done.get_future().wait();
  }

  Clock clock_;
  EventLoop loop_{clock_};
};

TEST_F(SlirpTest, DhcpDiscoverGetsAnOfferOf10_0_2_15) {
  auto backend = make("user,id=n0,hostname=orrery-guest");
  FakeGuest guest(*backend);
  guest.send(eth(kBroadcastMac, kGuestMac, kEtherIpv4,
                 udp(0, 0xffffffff, 68, 67, dhcp_discover(kGuestMac, 0x12345678))));
  auto offer =
      guest.wait_for([](const Packet& p) { return p.proto == kProtoUdp && p.dport == 68; });
  ASSERT_TRUE(offer);
  EXPECT_TRUE(offer->checksums_ok);
  EXPECT_EQ(offer->sport, 67);
  EXPECT_EQ(offer->ip_src, kHostIp);
  const Bytes& b = offer->payload;
  ASSERT_GE(b.size(), 240u);
  EXPECT_EQ(b[0], 2);  // BOOTREPLY
  EXPECT_EQ(get32(b, 4), 0x12345678u);
  EXPECT_EQ(get32(b, 16), kGuestIp);  // yiaddr
  EXPECT_EQ(get32(b, 236), 0x63825363u);
  auto opts = dhcp_options(b);
  EXPECT_EQ(opts[53], Bytes{2});                  // DHCPOFFER
  EXPECT_EQ(opts[54], (Bytes{10, 0, 2, 2}));      // server identifier
  EXPECT_EQ(opts[1], (Bytes{255, 255, 255, 0}));  // netmask
  EXPECT_EQ(opts[3], (Bytes{10, 0, 2, 2}));       // router
  EXPECT_EQ(opts[6], (Bytes{10, 0, 2, 3}));       // DNS
  EXPECT_EQ(opts[12], bytes("orrery-guest"));     // hostname=
  drain_loop();  // the delivery is counted once the sink has returned
  EXPECT_EQ(backend->stats().tx_frames, 1u);
  EXPECT_GE(backend->stats().rx_delivered, 1u);
}

TEST_F(SlirpTest, ArpForTheHostIsAnswered) {
  auto backend = make("user,id=n0");
  FakeGuest guest(*backend);
  guest.send(arp(1, kGuestMac, kGuestIp, {}, kHostIp));
  auto reply = guest.wait_for([](const Packet& p) { return p.type == kEtherArp; });
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->arp_op, 2);
  EXPECT_EQ(reply->arp_spa, kHostIp);
  EXPECT_EQ(reply->arp_tpa, kGuestIp);
  EXPECT_EQ(reply->arp_tha, kGuestMac);
  EXPECT_EQ(reply->dst, kGuestMac);
  EXPECT_EQ(reply->src, reply->arp_sha);
  EXPECT_NE(reply->arp_sha, Mac{});
}

TEST_F(SlirpTest, GuestReachesAHostListenerThrough10_0_2_2) {
  HostSocket listener(true);
  ASSERT_NE(listener.port, 0);
  auto backend = make("user,id=n0");
  FakeGuest guest(*backend);
  const uint16_t gport = 40000, hport = listener.port;
  auto from_host = [&](const Packet& p) {
    return p.proto == kProtoTcp && p.sport == hport && p.dport == gport;
  };

  guest.send(guest_ip_frame(tcp(kGuestIp, kHostIp, gport, hport, 1000, 0, kSyn)));
  ASSERT_TRUE(wait_fd(listener.fd, POLLIN)) << "slirp never connected to the host listener";
  HostSocket conn(accept(listener.fd, nullptr, nullptr));
  ASSERT_GE(conn.fd, 0);

  auto synack = guest.wait_for(from_host);
  ASSERT_TRUE(synack);
  EXPECT_TRUE(synack->checksums_ok);
  EXPECT_EQ(synack->flags & (kSyn | kAck | kRst), kSyn | kAck);
  EXPECT_EQ(synack->ack, 1001u);
  EXPECT_EQ(synack->ip_src, kHostIp);
  EXPECT_EQ(synack->ip_dst, kGuestIp);
  const uint32_t their = synack->seq + 1;
  guest.send(guest_ip_frame(tcp(kGuestIp, kHostIp, gport, hport, 1001, their, kAck)));

  const Bytes ping = bytes("ping from guest");
  guest.send(guest_ip_frame(tcp(kGuestIp, kHostIp, gport, hport, 1001, their, kAck | kPsh, ping)));
  EXPECT_EQ(recv_some(conn.fd), "ping from guest");

  const std::string pong = "pong from host";
  ASSERT_EQ(send(conn.fd, pong.data(), pong.size(), 0), ssize_t(pong.size()));
  auto data = guest.wait_for([&](const Packet& p) { return from_host(p) && !p.payload.empty(); });
  ASSERT_TRUE(data);
  EXPECT_TRUE(data->checksums_ok);
  EXPECT_EQ(std::string(data->payload.begin(), data->payload.end()), pong);
  EXPECT_EQ(data->seq, their);
  EXPECT_EQ(data->ack, 1001u + ping.size());  // slirp acknowledged the guest's bytes

  // The guest resets the connection; the host sees it end.
  guest.send(
      guest_ip_frame(tcp(kGuestIp, kHostIp, gport, hport, 1001 + uint32_t(ping.size()), 0, kRst)));
  EXPECT_EQ(recv_some(conn.fd), "(eof)");
}

TEST_F(SlirpTest, HostfwdTurnsAHostConnectionIntoASynToTheGuest) {
  const uint16_t hport = free_port();
  ASSERT_NE(hport, 0);
  auto backend = make("user,id=n0,hostfwd=tcp:127.0.0.1:" + std::to_string(hport) + "-:2222");
  FakeGuest guest(*backend);
  drain_loop();  // the first poll pass has registered the forward's listening socket

  HostSocket client(false);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(hport);
  ASSERT_EQ(connect(client.fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);

  auto to_guest = [](const Packet& p) { return p.proto == kProtoTcp && p.dport == 2222; };
  auto syn = guest.wait_for(to_guest);
  ASSERT_TRUE(syn);
  EXPECT_TRUE(syn->checksums_ok);
  EXPECT_EQ(syn->flags & (kSyn | kAck), kSyn);
  EXPECT_EQ(syn->ip_dst, kGuestIp);  // guest address left out: the DHCP start address
  EXPECT_EQ(syn->dst, kGuestMac);    // slirp learnt the MAC from the fake guest's ARP reply

  // Complete the handshake and carry bytes both ways.
  const uint32_t gseq = 5000;
  guest.send(guest_ip_frame(
      tcp(kGuestIp, syn->ip_src, 2222, syn->sport, gseq, syn->seq + 1, kSyn | kAck)));
  const std::string hello = "hello guest";
  ASSERT_EQ(send(client.fd, hello.data(), hello.size(), 0), ssize_t(hello.size()));
  auto data = guest.wait_for([&](const Packet& p) { return to_guest(p) && !p.payload.empty(); });
  ASSERT_TRUE(data);
  EXPECT_EQ(std::string(data->payload.begin(), data->payload.end()), hello);
  EXPECT_EQ(data->ack, gseq + 1);
  guest.send(
      guest_ip_frame(tcp(kGuestIp, syn->ip_src, 2222, syn->sport, gseq + 1,
                         data->seq + uint32_t(hello.size()), kAck | kPsh, bytes("hi host"))));
  EXPECT_EQ(recv_some(client.fd), "hi host");
}

TEST_F(SlirpTest, HostfwdOnAPortInUseIsOneClearError) {
  HostSocket busy(true);
  ASSERT_NE(busy.port, 0);
  auto parsed = parse_netdev_user("user,id=n0,hostfwd=tcp::" + std::to_string(busy.port) + "-:22");
  ASSERT_TRUE(parsed.ok());
  std::string error;
  auto b = SlirpBackend::create(loop_, parsed.value(), error);
  EXPECT_FALSE(b);
  EXPECT_EQ(error, "-netdev user: cannot forward host tcp port 127.0.0.1:" +
                       std::to_string(busy.port) + " (in use, or not an address of this machine)");
}

TEST_F(SlirpTest, FramesBeyondTheQueueBoundAreDroppedAndCounted) {
  SlirpBackendConfig config;
  config.rx_queue_limit = 4;
  auto backend = make("user,id=n0", config);
  FakeGuest guest(*backend);
  guest.set_accepting(false);  // the device has no receive buffers
  drain_loop();
  // Ten guests on the segment ask for the gateway; each ARP reply is one frame for the device.
  for (uint8_t i = 0; i < 10; ++i) {
    const Mac mac = {0x52, 0x54, 0x00, 0x00, 0x00, uint8_t(0x10 + i)};
    guest.send(arp(1, mac, 0x0a000264 + i, {}, kHostIp));
  }
  drain_loop();  // slirp answers ARP inside slirp_input, so all ten replies exist now
  NetStats s = backend->stats();
  EXPECT_EQ(s.tx_frames, 10u);
  EXPECT_EQ(s.rx_delivered, 0u);
  EXPECT_EQ(s.rx_dropped, 6u);
  EXPECT_EQ(guest.frames_taken(), 0u);

  guest.set_accepting(true);  // buffers came back: rx_ready() offers the four queued replies
  for (uint8_t i = 0; i < 4; ++i) {
    auto reply = guest.wait_for([](const Packet& p) { return p.type == kEtherArp; });
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->arp_tpa, 0x0a000264u + i);  // in the order they were queued
  }
  drain_loop();
  s = backend->stats();
  EXPECT_EQ(s.rx_delivered, 4u);
  EXPECT_EQ(s.rx_dropped, 6u);
}

TEST_F(SlirpTest, DestroyingTheBackendWithTrafficInFlightIsClean) {
  HostSocket listener(true);
  for (int round = 0; round < 20; ++round) {
    auto backend = make("user,id=n0");
    FakeGuest guest(*backend);
    for (uint16_t p = 0; p < 5; ++p) {
      guest.send(
          guest_ip_frame(tcp(kGuestIp, kHostIp, uint16_t(41000 + p), listener.port, 1, 0, kSyn)));
      guest.send(arp(1, kGuestMac, kGuestIp, {}, kHostIp));
    }
    // The backend goes away while its posts may still be queued on the loop.
  }
  drain_loop();  // the loop still runs, and the posts left behind were harmless
  // Every connection slirp made to the listener was closed when its backend went away.
  pollfd p{listener.fd, POLLIN, 0};
  while (poll(&p, 1, 0) == 1) {
    HostSocket conn(accept(listener.fd, nullptr, nullptr));
    ASSERT_GE(conn.fd, 0);
    EXPECT_EQ(recv_some(conn.fd), "(eof)");
  }
}

TEST(SlirpPaused, FramesFlowWhileTheVirtualClockIsPaused) {
  // slirp's timers follow the virtual clock, but a stopped machine's backend still answers
  // (a debugger pause must not wedge the host side); the loop runs on a manual clock.
  Clock clock(ClockSource::kManual);
  clock.pause();
  EventLoop loop(clock);
  loop.start();
  auto parsed = parse_netdev_user("user,id=n0");
  std::string error;
  auto backend = SlirpBackend::create(loop, parsed.value(), error);
  ASSERT_TRUE(backend) << error;
  FakeGuest guest(*backend);
  guest.send(arp(1, kGuestMac, kGuestIp, {}, kHostIp));
  auto reply = guest.wait_for([](const Packet& p) { return p.type == kEtherArp; });
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->arp_spa, kHostIp);
  EXPECT_EQ(clock.virtual_ns(), 0);
  loop.stop();
}

}  // namespace
}  // namespace orrery::hw::net
