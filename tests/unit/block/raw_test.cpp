#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <span>
#include <sstream>
#include <vector>

#include "hw/block/raw.h"
#include "tests/unit/block/block_test_util.h"

namespace orrery::hw::block {
namespace {

using test::pattern;
using test::read_file;
using test::TempDir;

void make_file(const std::string& path, uint64_t size) {
  int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, off_t(size)), 0);
  ::close(fd);
}

int fdinfo_flags(int fd) {
  std::ifstream f("/proc/self/fdinfo/" + std::to_string(fd));
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("flags:", 0) == 0) return int(std::stol(line.substr(6), nullptr, 8));
  }
  return -1;
}

std::unique_ptr<RawDriver> open_raw(const std::string& path, bool ro, CacheMode cache) {
  auto d = RawDriver::open(path, ro, cache);
  EXPECT_TRUE(d.ok()) << (d.ok() ? "" : d.status().message);
  return d.ok() ? std::move(*d) : nullptr;
}

TEST(RawDriver, WriteReadFlushRoundTrip) {
  TempDir dir;
  const std::string img = dir.file("a.raw");
  make_file(img, 1 << 20);
  auto d = open_raw(img, false, CacheMode::kWriteback);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->size(), 1u << 20);
  const auto data = pattern(10000, 1);
  ASSERT_TRUE(d->write(12345, data).ok());
  ASSERT_TRUE(d->flush().ok());
  std::vector<uint8_t> back(10000);
  ASSERT_TRUE(d->read(12345, back).ok());
  EXPECT_EQ(back, data);
  const auto file = read_file(img);
  EXPECT_TRUE(std::equal(data.begin(), data.end(), file.begin() + 12345));
}

TEST(RawDriver, RangesBeyondTheEndAreIoErrors) {
  TempDir dir;
  const std::string img = dir.file("a.raw");
  make_file(img, 4096);
  auto d = open_raw(img, false, CacheMode::kWriteback);
  ASSERT_TRUE(d);
  std::vector<uint8_t> buf(512);
  EXPECT_EQ(d->read(4096 - 511, buf).code, EIO);
  EXPECT_EQ(d->write(~uint64_t(0) - 100, buf).code, EIO);  // offset + length overflows
  EXPECT_EQ(d->discard(4000, 200).code, EIO);
  EXPECT_EQ(d->write_zeroes(0, 4097, true).code, EIO);
  EXPECT_TRUE(d->read(4096 - 512, buf).ok());
  EXPECT_TRUE(d->read(4096, std::span<uint8_t>()).ok());
  struct stat st;
  ASSERT_EQ(stat(img.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 4096);
}

TEST(RawDriver, ReadOnlyOpensORdonlyAndRefusesWrites) {
  TempDir dir;
  const std::string img = dir.file("a.raw");
  make_file(img, 8192);
  auto d = open_raw(img, true, CacheMode::kWriteback);
  ASSERT_TRUE(d);
  EXPECT_EQ(fdinfo_flags(d->fd()) & O_ACCMODE, O_RDONLY);
  std::vector<uint8_t> buf(512, 1);
  Status s = d->write(0, buf);
  EXPECT_EQ(s.code, EROFS);
  EXPECT_NE(s.message.find(img), std::string::npos);
  EXPECT_EQ(d->discard(0, 512).code, EROFS);
  EXPECT_EQ(d->write_zeroes(0, 512, false).code, EROFS);
  EXPECT_TRUE(d->flush().ok());
  EXPECT_EQ(read_file(img), std::vector<uint8_t>(8192, 0));
}

TEST(RawDriver, DiscardAndWriteZeroesReadBackZeros) {
  TempDir dir;
  const std::string img = dir.file("a.raw");
  make_file(img, 1 << 20);
  auto d = open_raw(img, false, CacheMode::kWritethrough);
  ASSERT_TRUE(d);
  const auto data = pattern(1 << 20, 2);
  ASSERT_TRUE(d->write(0, data).ok());
  ASSERT_TRUE(d->write_zeroes(4096, 8192, true).ok());
  ASSERT_TRUE(d->write_zeroes(100000, 333, false).ok());
  ASSERT_TRUE(d->discard(65536, 65536).ok());
  std::vector<uint8_t> back(1 << 20);
  ASSERT_TRUE(d->read(0, back).ok());
  auto expect = data;
  std::fill(expect.begin() + 4096, expect.begin() + 4096 + 8192, 0);
  std::fill(expect.begin() + 100000, expect.begin() + 100333, 0);
  // Discard may keep or drop data; on ext4 it punches a hole.
  EXPECT_TRUE(std::equal(expect.begin(), expect.begin() + 65536, back.begin()));
  EXPECT_TRUE(std::equal(expect.begin() + 131072, expect.end(), back.begin() + 131072));
  const bool dropped =
      std::all_of(back.begin() + 65536, back.begin() + 131072, [](uint8_t b) { return b == 0; });
  const bool kept = std::equal(back.begin() + 65536, back.begin() + 131072, data.begin() + 65536);
  EXPECT_TRUE(dropped || kept);
}

TEST(RawDriver, CacheNoneUsesODirectWithUnalignedBuffers) {
  TempDir dir;
  const std::string img = dir.file("a.raw");
  make_file(img, 3 * 4096 + 1000);  // a size that is not a multiple of the block
  auto d = open_raw(img, false, CacheMode::kNone);
  ASSERT_TRUE(d);
  EXPECT_TRUE(fdinfo_flags(d->fd()) & O_DIRECT);
  const auto data = pattern(5001, 3);
  std::vector<uint8_t> storage(data.size() + 1);
  std::copy(data.begin(), data.end(), storage.begin() + 1);  // misaligned source
  ASSERT_TRUE(d->write(777, std::span<const uint8_t>(storage).subspan(1)).ok());
  const auto tail = pattern(900, 4);
  ASSERT_TRUE(d->write(3 * 4096 + 100, tail).ok());
  ASSERT_TRUE(d->flush().ok());
  std::vector<uint8_t> back(5001 + 3);
  ASSERT_TRUE(d->read(777, std::span<uint8_t>(back).subspan(3, 5001)).ok());
  EXPECT_TRUE(std::equal(data.begin(), data.end(), back.begin() + 3));
  const auto file = read_file(img);
  ASSERT_EQ(file.size(), 3u * 4096 + 1000);  // the aligned bounce write did not grow it
  EXPECT_TRUE(std::equal(data.begin(), data.end(), file.begin() + 777));
  EXPECT_TRUE(std::equal(tail.begin(), tail.end(), file.begin() + 3 * 4096 + 100));
  EXPECT_EQ(file[776], 0);
  EXPECT_EQ(file[777 + 5001], 0);
}

// Splits buf into consecutive segments of the given sizes (0: an empty segment).
std::vector<std::span<uint8_t>> split(std::vector<uint8_t>& buf, const std::vector<size_t>& sizes) {
  std::vector<std::span<uint8_t>> segs;
  size_t at = 0;
  for (size_t n : sizes) {
    EXPECT_LE(at + n, buf.size());
    segs.push_back(std::span<uint8_t>(buf).subspan(at, n));
    at += n;
  }
  return segs;
}

TEST(RawDriver, ScatterGatherIsOneRangeOfConsecutiveBytes) {
  TempDir dir;
  const std::string img = dir.file("a.raw");
  make_file(img, 1 << 20);
  auto d = open_raw(img, false, CacheMode::kWritethrough);
  ASSERT_TRUE(d);
  auto data = pattern(4096 + 17 + 512, 5);
  ASSERT_TRUE(d->writev(999, split(data, {4096, 0, 17, 512})).ok());
  const auto file = read_file(img);
  EXPECT_TRUE(std::equal(data.begin(), data.end(), file.begin() + 999));
  EXPECT_EQ(file[998], 0);
  EXPECT_EQ(file[999 + data.size()], 0);
  std::vector<uint8_t> back(data.size());
  ASSERT_TRUE(d->readv(999, split(back, {3, 4000, 0, 622})).ok());
  EXPECT_EQ(back, data);
  // The whole list is checked before anything is written: the last segment crosses the end.
  std::vector<uint8_t> big(8192, 0xaa);
  Status s = d->writev((1 << 20) - 4096, split(big, {4096, 4096}));
  EXPECT_EQ(s.code, EIO);
  EXPECT_EQ(read_file(img)[(1 << 20) - 4096], 0);
}

TEST(RawDriver, ScatterGatherBeyondIovMaxSegments) {
  TempDir dir;
  const std::string img = dir.file("a.raw");
  make_file(img, 1 << 20);
  auto d = open_raw(img, false, CacheMode::kWriteback);
  ASSERT_TRUE(d);
  const size_t kSegs = 2500;  // more than IOV_MAX (1024): several preadv/pwritev calls
  auto data = pattern(kSegs * 7, 6);
  ASSERT_TRUE(d->writev(5, split(data, std::vector<size_t>(kSegs, 7))).ok());
  std::vector<uint8_t> back(data.size());
  ASSERT_TRUE(d->readv(5, split(back, std::vector<size_t>(kSegs, 7))).ok());
  EXPECT_EQ(back, data);
}

TEST(RawDriver, ScatterGatherUnderODirectWithUnalignedSegments) {
  TempDir dir;
  const std::string img = dir.file("a.raw");
  make_file(img, 64 * 1024);
  auto d = open_raw(img, false, CacheMode::kNone);
  ASSERT_TRUE(d);
  auto data = pattern(3 * 4096 + 300, 7);
  ASSERT_TRUE(d->writev(4096 - 100, split(data, {100, 8192, 4296})).ok());
  std::vector<uint8_t> back(data.size());
  ASSERT_TRUE(d->readv(4096 - 100, split(back, {4196, 8192, 200})).ok());
  EXPECT_EQ(back, data);
  const auto file = read_file(img);
  EXPECT_TRUE(std::equal(data.begin(), data.end(), file.begin() + 4096 - 100));
}

TEST(RawDriver, ScatterGatherOnAReadOnlyImageIsRefused) {
  TempDir dir;
  const std::string img = dir.file("a.raw");
  make_file(img, 4096);
  auto d = open_raw(img, true, CacheMode::kWriteback);
  ASSERT_TRUE(d);
  std::vector<uint8_t> buf(512, 1);
  EXPECT_EQ(d->writev(0, split(buf, {256, 256})).code, EROFS);
}

TEST(RawDriver, CacheModesOpenWithTheRightFlags) {
  TempDir dir;
  const std::string img = dir.file("a.raw");
  make_file(img, 4096);
  for (CacheMode m : {CacheMode::kWriteback, CacheMode::kWritethrough, CacheMode::kUnsafe,
                      CacheMode::kNone, CacheMode::kDirectSync}) {
    auto d = open_raw(img, false, m);
    ASSERT_TRUE(d);
    EXPECT_EQ(bool(fdinfo_flags(d->fd()) & O_DIRECT), cache_is_direct(m));
    EXPECT_EQ(fdinfo_flags(d->fd()) & O_ACCMODE, O_RDWR);
    std::vector<uint8_t> one(512, uint8_t(int(m) + 1));
    ASSERT_TRUE(d->write(512, one).ok());
    EXPECT_TRUE(d->flush().ok());
    EXPECT_EQ(read_file(img)[512], uint8_t(int(m) + 1));
  }
}

// Linux 6.5's cachestat(2): how many of a file's cached pages are dirty. -1 when the kernel or
// the file system cannot tell (tmpfs pages never leave the dirty state by write-out).
int64_t dirty_pages(int fd) {
  constexpr long kSysCachestat = 451;  // the same on every architecture; older headers lack it
  struct statfs fs;
  if (fstatfs(fd, &fs) != 0 || fs.f_type == TMPFS_MAGIC) return -1;
  struct {
    uint64_t off, len;
  } range{0, 0};  // len 0: to the end of the file
  struct {
    uint64_t cache, dirty, writeback, evicted, recently_evicted;
  } cs{};
  if (syscall(kSysCachestat, fd, &range, &cs, 0) != 0) return -1;
  return int64_t(cs.dirty);
}

TEST(PosixFile, StartsWriteOutAfterEveryChunkWritten) {
  TempDir dir;
  const std::string img = dir.file("a.raw");
  make_file(img, 1 << 20);
  auto f = PosixFile::open(img, false, false);
  ASSERT_TRUE(f.ok());
  PosixFile& file = **f;
  const auto data = pattern(48 << 10, 3);
  ASSERT_TRUE(file.pwrite(0, data).ok());
  EXPECT_EQ(file.writebacks_started(), 0u);  // off by default

  file.set_writeback_chunk(64 << 10);
  ASSERT_TRUE(file.pwrite(0, data).ok());
  EXPECT_EQ(file.writebacks_started(), 0u);
  if (const int64_t dirty = dirty_pages(file.fd()); dirty >= 0) EXPECT_GT(dirty, 0);
  ASSERT_TRUE(file.pwrite(48 << 10, data).ok());  // 96 KiB since the last one
  EXPECT_EQ(file.writebacks_started(), 1u);
  // The write-out covered everything written so far: nothing of it is dirty any more.
  if (const int64_t dirty = dirty_pages(file.fd()); dirty >= 0) EXPECT_EQ(dirty, 0);
  ASSERT_TRUE(file.pwrite(96 << 10, data).ok());  // the count starts again from 0
  EXPECT_EQ(file.writebacks_started(), 1u);
  std::vector<uint8_t> a(20 << 10, 1), b(20 << 10, 2);
  const std::span<uint8_t> segs[] = {a, b};
  ASSERT_TRUE(file.pwritev(144 << 10, segs).ok());  // 48 + 40 KiB
  EXPECT_EQ(file.writebacks_started(), 2u);

  file.set_writeback_chunk(0);
  ASSERT_TRUE(file.pwrite(512 << 10, pattern(256 << 10, 4)).ok());
  EXPECT_EQ(file.writebacks_started(), 2u);
  const auto back = read_file(img);
  EXPECT_TRUE(std::equal(a.begin(), a.end(), back.begin() + (144 << 10)));
}

TEST(RawDriver, StartsWriteOutOnlyUnderCacheWriteback) {
  TempDir dir;
  const std::string img = dir.file("a.raw");
  make_file(img, 2 * kWritebackChunk);
  const std::vector<uint8_t> data(kWritebackChunk, 7);
  for (CacheMode m : {CacheMode::kWriteback, CacheMode::kWritethrough, CacheMode::kUnsafe}) {
    auto d = open_raw(img, false, m);
    ASSERT_TRUE(d);
    ASSERT_TRUE(d->write(0, data).ok());
    std::vector<uint8_t> copy = data;
    ASSERT_TRUE(d->writev(kWritebackChunk, split(copy, {4096, kWritebackChunk - 4096})).ok());
    // writeback: one write-out per chunk; writethrough syncs every write itself and unsafe
    // never needs the data on disk.
    EXPECT_EQ(d->file().writebacks_started(), m == CacheMode::kWriteback ? 2u : 0u)
        << "cache mode " << int(m);
    EXPECT_EQ(read_file(img)[kWritebackChunk + 5], 7);
  }
}

TEST(RawDriver, MissingFileIsAClearError) {
  auto d = RawDriver::open("/nonexistent/x.img", false, CacheMode::kWriteback);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code, ENOENT);
  EXPECT_NE(d.status().message.find("/nonexistent/x.img"), std::string::npos);
}

}  // namespace
}  // namespace orrery::hw::block
