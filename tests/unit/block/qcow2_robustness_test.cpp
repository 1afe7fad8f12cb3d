// Hostile or damaged qcow2 images must give one clear error, and a writer killed at any
// point must leave an image qemu-img check finds free of corruption.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <random>

#include "hw/block/image.h"
#include "hw/block/qcow2_header.h"
#include "tests/unit/block/block_test_util.h"

namespace orrery::hw::block {
namespace {

using test::TempDir;

Status open_error(const std::string& path, bool read_only = false) {
  std::vector<std::string> warnings;
  auto d = open_image(path, ImageFormat::kQcow2, read_only, CacheMode::kWriteback, 0, warnings);
  return d.ok() ? ok_status() : d.status();
}

void patch(const std::string& path, uint64_t offset, std::vector<uint8_t> bytes) {
  int fd = ::open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(pwrite(fd, bytes.data(), bytes.size(), off_t(offset)), ssize_t(bytes.size()));
  ::close(fd);
}
std::vector<uint8_t> be32(uint32_t v) {
  std::vector<uint8_t> b(4);
  qcow2::store_be32(b.data(), v);
  return b;
}
std::vector<uint8_t> be64(uint64_t v) {
  std::vector<uint8_t> b(8);
  qcow2::store_be64(b.data(), v);
  return b;
}

struct Damage {
  const char* name;
  uint64_t offset;
  std::vector<uint8_t> bytes;
  const char* message;
};

class Qcow2Malformed : public testing::TestWithParam<Damage> {};

TEST_P(Qcow2Malformed, IsRefusedWithAClearError) {
  SKIP_WITHOUT_QEMU();
  TempDir dir;
  const std::string img = dir.file("bad.qcow2");
  test::qemu_img("create -q -f qcow2 '" + img + "' 64M");
  patch(img, GetParam().offset, GetParam().bytes);
  Status s = open_error(img);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message.find(GetParam().message), std::string::npos) << s.message;
  EXPECT_NE(s.message.find(img), std::string::npos) << s.message;
  EXPECT_EQ(s.message.find('\n'), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    Headers, Qcow2Malformed,
    testing::Values(
        Damage{"magic", 0, be32(0x514649fa), "not in qcow2 format"},
        Damage{"version", 4, be32(4), "unsupported version 4"},
        Damage{"cluster_bits_small", 20, be32(8), "cluster_bits 8"},
        Damage{"cluster_bits_big", 20, be32(22), "cluster_bits 22"},
        Damage{"huge_l1", 36, be32(0x40000000), "L1 table size"},
        Damage{"small_l1", 36, be32(0), "L1 table is too small"},
        Damage{"l1_outside", 40, be64(1ull << 40), "L1 table lies outside"},
        Damage{"l1_unaligned", 40, be64(0x30200), "not cluster-aligned"},
        Damage{"reftable_outside", 48, be64(1ull << 40), "refcount table lies outside"},
        Damage{"reftable_zero_clusters", 56, be32(0), "refcount table size"},
        Damage{"encrypted", 32, be32(1), "encrypted"},
        Damage{"unknown_incompat", 72, be64(1ull << 40), "incompatible feature bits 0x10000000000"},
        Damage{"data_file", 72, be64(1ull << 2), "external data files"},
        Damage{"extended_l2", 72, be64(1ull << 4), "extended L2"},
        Damage{"zstd", 72, be64(1ull << 3), "compression type"},
        Damage{"refcount_order", 96, be32(7), "refcount_order 7"},
        Damage{"header_length", 100, be32(8), "header_length"},
        Damage{"dirty", 72, be64(1), "is dirty"}, Damage{"corrupt", 72, be64(2), "marked corrupt"},
        // qemu-img writes a 112-byte v3 header; the first extension starts there.
        Damage{"extension_overrun", 112, {0, 0, 0, 9, 0x7f, 0xff, 0xff, 0xff}, "overruns"},
        Damage{"backing_name", 8, be64(65530), "backing file name"}),
    [](const testing::TestParamInfo<Damage>& info) { return std::string(info.param.name); });

TEST(Qcow2Robustness, TruncatedFile) {
  SKIP_WITHOUT_QEMU();
  TempDir dir;
  const std::string img = dir.file("t.qcow2");
  test::qemu_img("create -q -f qcow2 '" + img + "' 1M");
  ASSERT_EQ(truncate(img.c_str(), 50), 0);
  Status s = open_error(img);
  EXPECT_NE(s.message.find("truncated"), std::string::npos) << s.message;
  test::qemu_img("create -q -f qcow2 '" + img + "' 1M");
  ASSERT_EQ(truncate(img.c_str(), 4096), 0);  // header intact, tables gone
  s = open_error(img);
  EXPECT_NE(s.message.find("outside"), std::string::npos) << s.message;
}

TEST(Qcow2Robustness, DirtyImageOpensReadOnly) {
  SKIP_WITHOUT_QEMU();
  TempDir dir;
  const std::string img = dir.file("d.qcow2");
  test::qemu_img("create -q -f qcow2 '" + img + "' 1M");
  patch(img, 72, be64(1));
  EXPECT_TRUE(open_error(img, true).ok());
}

TEST(Qcow2Robustness, BackingFileLoopIsAnError) {
  SKIP_WITHOUT_QEMU();
  TempDir dir;
  const std::string a = dir.file("a.qcow2");
  const std::string b = dir.file("b.qcow2");
  test::qemu_img("create -q -f qcow2 '" + b + "' 1M");
  test::qemu_img("create -q -f qcow2 -b b.qcow2 -F qcow2 '" + a + "'");
  test::qemu_img("rebase -u -f qcow2 -b a.qcow2 -F qcow2 '" + b + "'");  // b -> a -> b ...
  // Read-only, every image in the loop can be opened again, so the depth limit ends it.
  Status s = open_error(a, true);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message.find("deeper than 16"), std::string::npos) << s.message;
  // Read-write, the loop comes back to the image we hold for writing.
  s = open_error(a);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message.find(a), std::string::npos) << s.message;
  test::qemu_img("rebase -u -f qcow2 -b missing.qcow2 -F qcow2 '" + b + "'");
  s = open_error(a);
  EXPECT_EQ(s.code, ENOENT) << s.message;
  EXPECT_NE(s.message.find("missing.qcow2"), std::string::npos) << s.message;
}

TEST(Qcow2Robustness, CorruptL2PointerGivesIoErrorNotCrash) {
  SKIP_WITHOUT_QEMU();
  TempDir dir;
  const std::string img = dir.file("l2.qcow2");
  test::qemu_img("create -q -f qcow2 '" + img + "' 1M");
  test::qemu_io(img, "write -P 1 0 4k");
  // The L1 table of a fresh 1M image sits at cluster 3; point entry 0 far outside the file.
  patch(img, 3 * 65536, be64((1ull << 63) | (1ull << 40)));
  std::vector<std::string> warnings;
  auto d = open_image(img, ImageFormat::kQcow2, true, CacheMode::kWriteback, 0, warnings);
  ASSERT_TRUE(d.ok()) << d.status().message;
  std::vector<uint8_t> buf(512);
  Status s = (*d)->read(0, buf);
  EXPECT_EQ(s.code, EIO);
  EXPECT_NE(s.message.find("corrupt"), std::string::npos) << s.message;
}

// A child writes (new clusters, partial COW, rewrites, discards) and reports each completed
// request over a pipe; the parent kills it with SIGKILL after N reports. Every prefix of the
// write order must leave no corruption (leaks are allowed).
TEST(Qcow2Robustness, KilledWriterLeavesNoCorruption) {
  SKIP_WITHOUT_QEMU();
  TempDir dir;
  std::mt19937 rng(12345);
  for (int round = 0; round < 12; ++round) {
    const std::string img = dir.file("k" + std::to_string(round) + ".qcow2");
    const std::string base = dir.file("base.raw");
    if (round == 0) test::qemu_img("create -q -f raw '" + base + "' 4M");
    const bool small = round % 2;
    test::qemu_img(std::string("create -q -f qcow2 -o cluster_size=") + (small ? "512" : "4096") +
                   (round % 3 == 0 ? " -b base.raw -F raw '" : " '") + img + "' 4M");
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      std::vector<std::string> warnings;
      auto d = open_image(img, ImageFormat::kQcow2, false, CacheMode::kWriteback, 0, warnings);
      if (!d.ok()) _exit(2);
      std::mt19937 crng(round);
      std::vector<uint8_t> data(20000, uint8_t(round));
      for (;;) {
        const uint64_t len = 1 + crng() % data.size();
        const uint64_t off = crng() % ((4 << 20) - len);
        Status s = crng() % 5 == 0 ? (*d)->discard(off, len) : (*d)->write(off, {data.data(), len});
        if (!s.ok()) _exit(3);
        const char c = 1;
        if (::write(fds[1], &c, 1) != 1) _exit(4);
      }
    }
    ::close(fds[1]);
    const int n = 1 + int(rng() % 400);
    int got = 0;
    char c;
    while (got < n && ::read(fds[0], &c, 1) == 1) ++got;
    ASSERT_EQ(got, n) << "child stopped early";
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ::close(fds[0]);
    EXPECT_TRUE(WIFSIGNALED(status));
    SCOPED_TRACE("round " + std::to_string(round) + " after " + std::to_string(n) + " requests");
    test::expect_check_clean(img, /*leaks_allowed=*/true);
  }
}

}  // namespace
}  // namespace orrery::hw::block
