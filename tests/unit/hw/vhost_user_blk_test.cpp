// The vhost-user-blk backend driven by a small frontend in the test over a socketpair: real
// messages with SCM_RIGHTS, guest RAM in a real memfd, kick and call eventfds, a raw image file.
#include <fcntl.h>
#include <chrono>

#include <thread>

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "hw/block/backend.h"
#include "hw/block/drive_options.h"
#include "hw/core/event_loop.h"
#include "hw/virtio/vhost_user/blk_server.h"
#include "hw/virtio/vhost_user/protocol.h"
#include "tests/unit/hw/virtio_test_driver.h"

namespace orrery::hw::virtio::vhost_user {
namespace {

constexpr uint64_t kRamBase = 0x40000000, kRamSize = 1 << 20;
constexpr uint64_t kDesc = kRamBase + 0x1000, kAvail = kRamBase + 0x2000, kUsed = kRamBase + 0x3000;
constexpr uint64_t kHdr = kRamBase + 0x10000, kData = kRamBase + 0x20000,
                   kStatus = kRamBase + 0x30000;
constexpr uint16_t kQueueSize = 16;
constexpr uint64_t kImageSize = 1 << 20;
// The frontend's "virtual addresses": any numbers, translated through the table.
constexpr uint64_t kUserBase = 0x7f0000000000;

uint64_t user(uint64_t gpa) {
  return gpa - kRamBase + kUserBase;
}

class VhostUserBlkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char path[] = "/tmp/orrery-vhost-XXXXXX";
    image_fd_ = mkstemp(path);
    ASSERT_GE(image_fd_, 0);
    image_path_ = path;
    std::vector<uint8_t> pattern(kImageSize);
    for (size_t i = 0; i < pattern.size(); ++i) pattern[i] = uint8_t(i * 7 + i / 512);
    ASSERT_EQ(pwrite(image_fd_, pattern.data(), pattern.size(), 0), ssize_t(pattern.size()));
    auto opts = block::parse_drive_options("file=" + image_path_ + ",format=raw");
    ASSERT_TRUE(opts.ok());
    std::vector<std::string> warnings;
    auto disk = block::open_drive(opts.value(), warnings);
    ASSERT_TRUE(disk.ok()) << disk.status().message;
    disk_ = std::move(disk.value());
    std::string err;
    ram_ = RamBacking::memfd("guest", kRamSize, true, err);
    ASSERT_TRUE(ram_) << err;
    ASSERT_EQ(space_.add_ram("ram", kRamBase, ram_), "");
    loop_.start();
    server_ = std::make_unique<BlkServer>(disk_, 2, loop_, log_);
    connect();
  }
  void TearDown() override {
    server_.reset();
    loop_.stop();
    if (image_fd_ >= 0) close(image_fd_);
    unlink(image_path_.c_str());
  }

  void connect() {
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    sock_ = UniqueFd(sv[0]);
    ASSERT_TRUE(server_->attach(UniqueFd(sv[1])));
  }

  void send(Request r, std::span<const uint8_t> payload, std::span<const int> fds = {},
            uint32_t flags = 0) {
    ASSERT_TRUE(send_message(sock_.get(), encode_request(uint32_t(r), flags, payload), fds));
  }
  /// Reads one reply's payload; empty if the backend closed the connection.
  std::vector<uint8_t> reply(Request r) {
    uint8_t h[kHeaderSize];
    if (recv(sock_.get(), h, sizeof h, MSG_WAITALL) != ssize_t(sizeof h)) return {};
    uint32_t req, flags, size;
    std::memcpy(&req, h, 4);
    std::memcpy(&flags, h + 4, 4);
    std::memcpy(&size, h + 8, 4);
    EXPECT_EQ(req, uint32_t(r));
    EXPECT_EQ(flags, kVersion | kFlagReply);
    std::vector<uint8_t> p(size);
    if (size) EXPECT_EQ(recv(sock_.get(), p.data(), size, MSG_WAITALL), ssize_t(size));
    return p;
  }
  uint64_t reply_u64(Request r) {
    auto p = reply(r);
    uint64_t v = ~0ull;
    if (p.size() == 8) std::memcpy(&v, p.data(), 8);
    return v;
  }
  /// True once the backend has closed its end.
  bool closed_by_backend() {
    pollfd p{sock_.get(), POLLIN, 0};
    if (poll(&p, 1, 5000) != 1) return false;
    char c;
    return recv(sock_.get(), &c, 1, 0) == 0;
  }

  /// Negotiation and one running ring (queue 0), as QEMU does it.
  void start_ring0(uint16_t base = 0, uint64_t extra_features = 0) {
    send(Request::kGetFeatures, {});
    const uint64_t offered = reply_u64(Request::kGetFeatures);
    ASSERT_TRUE(offered & kFeatureProtocolFeatures);
    ASSERT_TRUE(offered & kFeatureVersion1);
    send(Request::kGetProtocolFeatures, {});
    const uint64_t proto = reply_u64(Request::kGetProtocolFeatures);
    ASSERT_EQ(proto & (kProtocolMq | kProtocolReplyAck | kProtocolConfig),
              kProtocolMq | kProtocolReplyAck | kProtocolConfig);
    send(Request::kSetProtocolFeatures, encode_u64(proto));
    send(Request::kSetOwner, {});
    send(Request::kSetFeatures,
         encode_u64(kFeatureVersion1 | kFeatureProtocolFeatures | extra_features));
    MemRegion region{kRamBase, kRamSize, kUserBase, 0};
    const int fd = ram_->fd();
    send(Request::kSetMemTable, encode_mem_table({&region, 1}), {&fd, 1}, kFlagNeedReply);
    ASSERT_EQ(reply_u64(Request::kSetMemTable), 0u);
    send(Request::kSetVringNum, encode_state({0, kQueueSize}));
    send(Request::kSetVringBase, encode_state({0, base}));
    send(Request::kSetVringAddr, encode_addr({0, 0, user(kDesc), user(kUsed), user(kAvail), 0}));
    kick_ = UniqueFd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    call_ = UniqueFd(eventfd(0, EFD_CLOEXEC));
    int k = kick_.get(), c = call_.get();
    send(Request::kSetVringKick, encode_u64(0), {&k, 1});
    send(Request::kSetVringCall, encode_u64(0), {&c, 1});
    send(Request::kSetVringEnable, encode_state({0, 1}), {}, kFlagNeedReply);
    ASSERT_EQ(reply_u64(Request::kSetVringEnable), 0u);
  }

  /// One virtio-blk request of `type` on sector, with `len` data bytes; returns the status.
  uint8_t request(uint32_t type, uint64_t sector, uint32_t len) {
    GuestMemory mem(space_);
    EXPECT_TRUE(mem.store<uint32_t>(kHdr, type));
    EXPECT_TRUE(mem.store<uint32_t>(kHdr + 4, 0));
    EXPECT_TRUE(mem.store<uint64_t>(kHdr + 8, sector));
    EXPECT_TRUE(mem.store<uint8_t>(kStatus, 0xff));
    const uint16_t head = uint16_t((avail_idx_ * 3) % kQueueSize);
    const uint16_t d1 = uint16_t((head + 1) % kQueueSize), d2 = uint16_t((head + 2) % kQueueSize);
    const uint16_t data_flags = type == 0 ? 2 : 0;
    test::write_desc(mem, kDesc, head, kHdr, 16, 1, d1);
    test::write_desc(mem, kDesc, d1, kData, len, uint16_t(data_flags | 1), d2);
    test::write_desc(mem, kDesc, d2, kStatus, 1, 2);
    test::make_available(mem, kAvail, kQueueSize, avail_idx_, head);
    const uint64_t one = 1;
    EXPECT_EQ(write(kick_.get(), &one, 8), 8);
    // The call eventfd is the completion: wait for it (the test never sleeps). The backend
    // made it non-blocking, so poll first.
    pollfd pf{call_.get(), POLLIN, 0};
    EXPECT_EQ(poll(&pf, 1, 10000), 1);
    uint64_t n;
    EXPECT_EQ(read(call_.get(), &n, 8), 8);
    uint16_t used = 0;
    EXPECT_TRUE(mem.load<uint16_t>(kUsed + 2, used));
    EXPECT_EQ(used, avail_idx_);
    uint8_t status = 0xff;
    EXPECT_TRUE(mem.load(kStatus, status));
    return status;
  }

  std::string image_path_;
  int image_fd_ = -1;
  std::shared_ptr<block::BlockBackend> disk_;
  std::shared_ptr<RamBacking> ram_;
  AddressSpace space_;
  Clock clock_;
  EventLoop loop_{clock_};
  Log log_;
  std::unique_ptr<BlkServer> server_;
  UniqueFd sock_, kick_, call_;
  uint16_t avail_idx_ = 0;
};

TEST_F(VhostUserBlkTest, AnswersQueueNumAndConfig) {
  send(Request::kGetQueueNum, {});
  EXPECT_EQ(reply_u64(Request::kGetQueueNum), 2u);
  ConfigPayload c{0, 60, 0, std::vector<uint8_t>(60)};
  send(Request::kGetConfig, encode_config(c));
  auto p = reply(Request::kGetConfig);
  ASSERT_EQ(p.size(), kConfigHeaderSize + 60);
  uint64_t capacity;
  uint32_t seg_max, blk_size;
  uint16_t num_queues;
  std::memcpy(&capacity, p.data() + 12, 8);
  std::memcpy(&seg_max, p.data() + 12 + 12, 4);
  std::memcpy(&blk_size, p.data() + 12 + 20, 4);
  std::memcpy(&num_queues, p.data() + 12 + 34, 2);
  EXPECT_EQ(capacity, kImageSize / 512);
  EXPECT_GT(seg_max, 0u);
  EXPECT_EQ(blk_size, 512u);
  EXPECT_EQ(num_queues, 2u);
}

TEST_F(VhostUserBlkTest, ReadsWritesAndFlushesThroughTheFrontendsMemory) {
  start_ring0();
  ASSERT_EQ(request(0, 3, 1024), 0);  // read sectors 3-4
  GuestMemory mem(space_);
  std::vector<uint8_t> got(1024), want(1024);
  ASSERT_TRUE(mem.read(kData, got));
  ASSERT_EQ(pread(image_fd_, want.data(), 1024, 3 * 512), 1024);
  EXPECT_EQ(got, want);

  std::vector<uint8_t> data(512, 0xa5);
  ASSERT_TRUE(mem.write(kData, data));
  ASSERT_EQ(request(1, 9, 512), 0);      // write sector 9
  ASSERT_EQ(request(4, 0, 0 + 512), 0);  // flush (its data descriptor is ignored)
  std::vector<uint8_t> disk(512);
  ASSERT_EQ(pread(image_fd_, disk.data(), 512, 9 * 512), 512);
  EXPECT_EQ(disk, data);

  // GET_VRING_BASE stops the ring and says where it stopped.
  send(Request::kGetVringBase, encode_state({0, 0}));
  auto p = reply(Request::kGetVringBase);
  ASSERT_EQ(p.size(), 8u);
  uint32_t index, num;
  std::memcpy(&index, p.data(), 4);
  std::memcpy(&num, p.data() + 4, 4);
  EXPECT_EQ(index, 0u);
  EXPECT_EQ(num, 3u);
}

TEST_F(VhostUserBlkTest, AFrontendReconnectsAndContinuesWhereTheRingStopped) {
  start_ring0();
  GuestMemory mem(space_);
  std::vector<uint8_t> data(512, 0x3c);
  ASSERT_TRUE(mem.write(kData, data));
  ASSERT_EQ(request(1, 20, 512), 0);
  sock_ = UniqueFd();  // the frontend goes away
  server_->wait_disconnected();
  connect();
  // As QEMU does after losing its backend: the ring continues at the used index.
  start_ring0(1);
  ASSERT_EQ(request(0, 20, 512), 0);
  std::vector<uint8_t> got(512);
  ASSERT_TRUE(mem.read(kData, got));
  EXPECT_EQ(got, data);
}

TEST_F(VhostUserBlkTest, ACallFdNobodyReadsNeverBlocksACompletion) {
  start_ring0();
  // The frontend swaps in a full pipe for the call eventfd.
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  UniqueFd rd(p[0]), wr(p[1]);
  std::vector<uint8_t> fill(1 << 16, 0);
  fcntl(wr.get(), F_SETFL, O_NONBLOCK);
  while (write(wr.get(), fill.data(), fill.size()) > 0) {
  }
  fcntl(wr.get(), F_SETFL, 0);
  int w = wr.get();
  send(Request::kSetVringCall, encode_u64(0), {&w, 1});
  GuestMemory mem(space_);
  ASSERT_TRUE(mem.store<uint32_t>(kHdr, 0));
  ASSERT_TRUE(mem.store<uint64_t>(kHdr + 8, 1));
  test::write_desc(mem, kDesc, 0, kHdr, 16, 1, 1);
  test::write_desc(mem, kDesc, 1, kData, 512, 3, 2);
  test::write_desc(mem, kDesc, 2, kStatus, 1, 2);
  test::make_available(mem, kAvail, kQueueSize, avail_idx_, 0);
  const uint64_t one = 1;
  ASSERT_EQ(write(kick_.get(), &one, 8), 8);
  // The completion arrives although its call fd is full. (Waiting for it before GET_VRING_BASE
  // matters: a GET_VRING_BASE read before the kick stops the ring with the request unseen.)
  uint16_t used = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (mem.load<uint16_t>(kUsed + 2, used) && used != 1 &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
  EXPECT_EQ(used, 1);
  // And the ring still stops: GET_VRING_BASE is answered.
  send(Request::kGetVringBase, encode_state({0, 0}));
  ASSERT_EQ(reply(Request::kGetVringBase).size(), 8u);
}

TEST_F(VhostUserBlkTest, AWrongPayloadSizeDropsTheConnection) {
  const std::vector<uint8_t> short_state(4);
  send(Request::kSetVringNum, short_state);
  EXPECT_TRUE(closed_by_backend());
  server_->wait_disconnected();
  EXPECT_NE(server_->last_error().find("SET_VRING_NUM"), std::string::npos);
  connect();  // and the next frontend is served
  send(Request::kGetQueueNum, {});
  EXPECT_EQ(reply_u64(Request::kGetQueueNum), 2u);
}

TEST_F(VhostUserBlkTest, ARingOutsideTheMemoryTableDropsTheConnection) {
  send(Request::kSetFeatures, encode_u64(kFeatureVersion1 | kFeatureProtocolFeatures));
  MemRegion region{kRamBase, kRamSize, kUserBase, 0};
  const int fd = ram_->fd();
  send(Request::kSetMemTable, encode_mem_table({&region, 1}), {&fd, 1});
  send(Request::kSetVringNum, encode_state({1, kQueueSize}));
  send(Request::kSetVringAddr,
       encode_addr({1, 0, kUserBase + kRamSize, user(kUsed), user(kAvail), 0}));
  int k = eventfd(0, EFD_CLOEXEC);
  send(Request::kSetVringKick, encode_u64(1), {&k, 1});
  close(k);
  send(Request::kSetVringEnable, encode_state({1, 1}));
  EXPECT_TRUE(closed_by_backend());
  server_->wait_disconnected();
  EXPECT_NE(server_->last_error().find("outside the memory table"), std::string::npos);
}

TEST_F(VhostUserBlkTest, ARegionLargerThanItsFileDropsTheConnection) {
  MemRegion region{kRamBase, kRamSize * 2, kUserBase, 0};
  const int fd = ram_->fd();
  send(Request::kSetMemTable, encode_mem_table({&region, 1}), {&fd, 1});
  EXPECT_TRUE(closed_by_backend());
  server_->wait_disconnected();
  EXPECT_NE(server_->last_error().find("large enough"), std::string::npos);
}

TEST_F(VhostUserBlkTest, ARingIndexBeyondTheQueuesDropsTheConnection) {
  send(Request::kSetVringBase, encode_state({2, 0}));
  EXPECT_TRUE(closed_by_backend());
  server_->wait_disconnected();
}

TEST_F(VhostUserBlkTest, AMemTableWithoutItsFdsDropsTheConnection) {
  MemRegion region{kRamBase, kRamSize, kUserBase, 0};
  send(Request::kSetMemTable, encode_mem_table({&region, 1}));
  EXPECT_TRUE(closed_by_backend());
  server_->wait_disconnected();
  EXPECT_NE(server_->last_error().find("fds"), std::string::npos);
}

}  // namespace
}  // namespace orrery::hw::virtio::vhost_user
