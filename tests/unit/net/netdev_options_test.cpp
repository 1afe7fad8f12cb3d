#include "hw/net/netdev_options.h"

#include <gtest/gtest.h>

namespace orrery::hw::net {
namespace {

constexpr uint32_t ip(int a, int b, int c, int d) {
  return uint32_t(a) << 24 | uint32_t(b) << 16 | uint32_t(c) << 8 | uint32_t(d);
}

std::string error_of(std::string_view text) {
  auto r = parse_netdev_user(text);
  return r.ok() ? std::string("(accepted)") : r.message();
}

TEST(NetdevOptions, DefaultsFollowQemu) {
  auto r = parse_netdev_user("user,id=n0");
  ASSERT_TRUE(r.ok()) << r.message();
  const NetdevUserOptions& o = r.value();
  EXPECT_EQ(o.id, "n0");
  EXPECT_EQ(o.net, ip(10, 0, 2, 0));
  EXPECT_EQ(o.netmask, ip(255, 255, 255, 0));
  EXPECT_EQ(o.host, ip(10, 0, 2, 2));
  EXPECT_EQ(o.dns, ip(10, 0, 2, 3));
  EXPECT_EQ(o.dhcp_start, ip(10, 0, 2, 15));
  EXPECT_FALSE(o.restrict);
  EXPECT_TRUE(o.ipv4);
  EXPECT_FALSE(o.ipv6);
  EXPECT_TRUE(o.hostfwd.empty());
}

TEST(NetdevOptions, EveryKey) {
  auto r = parse_netdev_user(
      "user,id=net0,net=192.168.76.0/24,host=192.168.76.9,dns=192.168.76.20,"
      "dhcpstart=192.168.76.100,restrict=on,hostname=guest1,ipv6=on,"
      "hostfwd=tcp:127.0.0.1:2222-:22,hostfwd=udp::5555-192.168.76.101:53");
  ASSERT_TRUE(r.ok()) << r.message();
  const NetdevUserOptions& o = r.value();
  EXPECT_EQ(o.net, ip(192, 168, 76, 0));
  EXPECT_EQ(o.host, ip(192, 168, 76, 9));
  EXPECT_EQ(o.dns, ip(192, 168, 76, 20));
  EXPECT_EQ(o.dhcp_start, ip(192, 168, 76, 100));
  EXPECT_TRUE(o.restrict);
  EXPECT_TRUE(o.ipv6);
  EXPECT_EQ(o.hostname, "guest1");
  ASSERT_EQ(o.hostfwd.size(), 2u);
  EXPECT_FALSE(o.hostfwd[0].udp);
  EXPECT_EQ(o.hostfwd[0].host_addr, ip(127, 0, 0, 1));
  EXPECT_EQ(o.hostfwd[0].host_port, 2222);
  EXPECT_EQ(o.hostfwd[0].guest_addr, 0u);  // the DHCP start address
  EXPECT_EQ(o.hostfwd[0].guest_port, 22);
  EXPECT_TRUE(o.hostfwd[1].udp);
  EXPECT_EQ(o.hostfwd[1].host_addr, ip(127, 0, 0, 1));  // localhost unless an address is given
  EXPECT_EQ(o.hostfwd[1].host_port, 5555);
  EXPECT_EQ(o.hostfwd[1].guest_addr, ip(192, 168, 76, 101));
  EXPECT_EQ(o.hostfwd[1].guest_port, 53);
}

TEST(NetdevOptions, NetMovesTheDefaultAddressesAlong) {
  auto r = parse_netdev_user("user,id=a,net=172.20.0.0/16");
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r.value().netmask, ip(255, 255, 0, 0));
  EXPECT_EQ(r.value().host, ip(172, 20, 2, 2));
  EXPECT_EQ(r.value().dns, ip(172, 20, 2, 3));
  EXPECT_EQ(r.value().dhcp_start, ip(172, 20, 2, 15));

  r = parse_netdev_user("user,id=a,net=10.9.8.77/255.255.255.0");  // host bits are cleared
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r.value().net, ip(10, 9, 8, 0));
  EXPECT_EQ(r.value().host, ip(10, 9, 8, 2));

  r = parse_netdev_user("user,id=a,net=192.168.5.0");  // no prefix: QEMU's class rule
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r.value().netmask, ip(255, 255, 0, 0));
  EXPECT_EQ(r.value().host, ip(192, 168, 2, 2));
}

TEST(NetdevOptions, HostfwdForms) {
  auto f = parse_hostfwd(":10.1.2.3:8080-10.0.2.16:80");
  ASSERT_TRUE(f.ok()) << f.message();
  EXPECT_FALSE(f.value().udp);
  EXPECT_EQ(f.value().host_addr, ip(10, 1, 2, 3));
  EXPECT_EQ(f.value().guest_addr, ip(10, 0, 2, 16));
  f = parse_hostfwd("tcp::0-:22");  // port 0: any free port
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f.value().host_port, 0);
  for (const char* bad : {"tcp:2222-:22", "sctp::1-:2", "tcp::70000-:22", "tcp::22-:0",
                          "tcp::22:22", "tcp:1.2.3:22-:22", "tcp::x-:22", "", "tcp::22-:"}) {
    EXPECT_FALSE(parse_hostfwd(bad).ok()) << bad;
  }
}

TEST(NetdevOptions, BadInputGivesOneClearLine) {
  EXPECT_EQ(error_of("user,id=a,bogus=1"), "-netdev: unknown option 'bogus' for the user backend");
  EXPECT_EQ(error_of("user"), "-netdev: user needs id=NAME");
  EXPECT_EQ(error_of("tap,id=a"), "-netdev: only the 'user' backend is supported (got 'tap')");
  EXPECT_EQ(error_of("user,id=a,restrict=maybe"),
            "-netdev: invalid value 'maybe' for 'restrict' (expected on or off)");
  EXPECT_EQ(error_of("user,id=a,net=10.0.2.0/40"),
            "-netdev: invalid value '10.0.2.0/40' for 'net' (expected a prefix length of 4 to 32)");
  EXPECT_EQ(error_of("user,id=a,host=10.0.3.2"), "-netdev: host=10.0.3.2 is outside net=10.0.2.0");
  EXPECT_EQ(error_of("user,id=a,dhcpstart=10.0.2.2"),
            "-netdev: dhcpstart= must differ from host= and dns=");
  EXPECT_EQ(error_of("user,id=a,dns=10.0.2.2"), "-netdev: dns= and host= must differ");
  EXPECT_EQ(error_of("user,id=a,restrict=on,dns=8.8.8.8"),
            "-netdev: dns=8.8.8.8 is outside net=10.0.2.0");
  EXPECT_EQ(error_of("user,id=a,dns=8.8.8.8"), "(accepted)");  // allowed unless restricted
  EXPECT_EQ(error_of("user,id=a,id=b"), "-netdev: option 'id' is given twice");
  EXPECT_EQ(error_of("user,id=a,hostfwd"), "-netdev: option 'hostfwd' needs a value (key=value)");
  EXPECT_EQ(error_of("user,id=a,hostfwd=tcp::22"),
            "-netdev: invalid hostfwd 'tcp::22' (expected "
            "[tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport)");
  EXPECT_EQ(error_of("user,id=a,ipv4=off"),
            "-netdev: ipv4=off needs ipv6=on (nothing would be left)");
  EXPECT_EQ(error_of("user,id=a,model=e1000"),
            "-netdev: unknown option 'model' for the user backend");
  for (const char* t : {"user,id=a,bogus=1", "user,id=a,net=1.2.3.4/99", "user,id=a,host=x"}) {
    EXPECT_EQ(error_of(t).find('\n'), std::string::npos) << t;
  }
}

TEST(NetdevOptions, NicUserTakesAModelAndMac) {
  auto r = parse_nic_user("user,model=virtio-net-pci,mac=52:54:00:12:34:57,hostfwd=tcp::2222-:22");
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r.value().model, "virtio-net-pci");
  EXPECT_EQ(r.value().mac, "52:54:00:12:34:57");
  ASSERT_EQ(r.value().user.hostfwd.size(), 1u);
  EXPECT_EQ(r.value().user.hostfwd[0].host_port, 2222);

  r = parse_nic_user("user");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.value().model.empty());
  EXPECT_EQ(r.value().user.dhcp_start, ip(10, 0, 2, 15));

  EXPECT_EQ(parse_nic_user("user,id=x").message(),
            "-nic: 'id' is not allowed (use -netdev user,id=...)");
  EXPECT_EQ(parse_nic_user("user,mac=01:00:00:00:00:01").message(),
            "-nic: invalid value '01:00:00:00:00:01' for 'mac' (expected a unicast MAC address "
            "(the first byte's low bit clear))");
  EXPECT_FALSE(parse_nic_user("user,mac=52:54:00:12:34").ok());
  EXPECT_FALSE(parse_nic_user("user,model=").ok());
}

TEST(NetdevOptions, DoubledCommaIsALiteralComma) {
  auto r = parse_netdev_user("user,id=a,hostname=a,,b");
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r.value().hostname, "a,b");
}

}  // namespace
}  // namespace orrery::hw::net
