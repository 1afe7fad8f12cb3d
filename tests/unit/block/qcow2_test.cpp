// qcow2 driver against QEMU: images made by qemu-img, data cross-checked with qemu-io and
// qemu-img convert, and qemu-img check clean after every test.
#include <gtest/gtest.h>

#include <cerrno>
#include <random>

#include "hw/block/backend.h"
#include "hw/block/image.h"
#include "hw/block/qcow2.h"
#include "tests/unit/block/block_test_util.h"

namespace orrery::hw::block {
namespace {

using test::expect_check_clean;
using test::pattern;
using test::qemu_contents;
using test::qemu_img;
using test::qemu_io;
using test::TempDir;

std::unique_ptr<BlockDriver> open_qcow2(const std::string& path, bool ro = false,
                                        CacheMode cache = CacheMode::kWriteback) {
  std::vector<std::string> warnings;
  auto d = open_image(path, ImageFormat::kQcow2, ro, cache, 0, warnings);
  EXPECT_TRUE(d.ok()) << (d.ok() ? "" : d.status().message);
  return d.ok() ? std::move(*d) : nullptr;
}

std::vector<uint8_t> read_all(BlockDriver& d) {
  std::vector<uint8_t> v(d.size());
  Status s = d.read(0, v);
  EXPECT_TRUE(s.ok()) << s.message;
  return v;
}

struct Geometry {
  const char* options;
  uint64_t size;
};

class Qcow2Geometry : public testing::TestWithParam<Geometry> {};

// Writes at scattered, unaligned places through Orrery; QEMU must read the same bytes.
TEST_P(Qcow2Geometry, OrreryWritesQemuReads) {
  SKIP_WITHOUT_QEMU();
  TempDir dir;
  const std::string img = dir.file("a.qcow2");
  qemu_img(std::string("create -q -f qcow2 -o ") + GetParam().options + " '" + img + "' " +
           std::to_string(GetParam().size));
  std::vector<uint8_t> expect(GetParam().size, 0);
  {
    auto d = open_qcow2(img);
    ASSERT_TRUE(d);
    ASSERT_EQ(d->size(), GetParam().size);
    std::mt19937_64 rng(7);
    for (int i = 0; i < 60; ++i) {
      const uint64_t len = 1 + rng() % 70000;
      const uint64_t off = rng() % (expect.size() - len);
      const auto data = pattern(len, i);
      ASSERT_TRUE(d->write(off, data).ok());
      std::copy(data.begin(), data.end(), expect.begin() + off);
    }
    const auto last = pattern(1000, 99);  // the very end of the disk
    ASSERT_TRUE(d->write(expect.size() - 1000, last).ok());
    std::copy(last.begin(), last.end(), expect.end() - 1000);
    EXPECT_EQ(read_all(*d), expect);
    ASSERT_TRUE(d->flush().ok());
  }
  EXPECT_EQ(qemu_contents(img, dir.file("out.raw")), expect);
  expect_check_clean(img);
}

TEST_P(Qcow2Geometry, QemuWritesOrreryReads) {
  SKIP_WITHOUT_QEMU();
  TempDir dir;
  const std::string img = dir.file("a.qcow2");
  qemu_img(std::string("create -q -f qcow2 -o ") + GetParam().options + " '" + img + "' " +
           std::to_string(GetParam().size));
  qemu_io(img, "write -P 0x5a 1000 70000");
  qemu_io(img, "write -P 0xc3 300000 4096");
  qemu_io(img, "write -z 301000 1000");
  auto d = open_qcow2(img, true);
  ASSERT_TRUE(d);
  std::vector<uint8_t> expect(GetParam().size, 0);
  std::fill(expect.begin() + 1000, expect.begin() + 71000, 0x5a);
  std::fill(expect.begin() + 300000, expect.begin() + 304096, 0xc3);
  std::fill(expect.begin() + 301000, expect.begin() + 302000, 0);
  EXPECT_EQ(read_all(*d), expect);
}

INSTANTIATE_TEST_SUITE_P(
    Layouts, Qcow2Geometry,
    testing::Values(Geometry{"compat=0.10", 4 << 20},                         // version 2
                    Geometry{"compat=1.1", 4 << 20},                          // version 3
                    Geometry{"cluster_size=512", 2 << 20},                    // smallest cluster
                    Geometry{"cluster_size=2M", 8 << 20},                     // largest cluster
                    Geometry{"cluster_size=4096,refcount_bits=1", 3 << 20},   // sub-byte refcounts
                    Geometry{"cluster_size=4096,refcount_bits=64", 3 << 20},  // wide refcounts
                    Geometry{"compat=0.10,cluster_size=1024", 3 << 20 | 512}),
    [](const testing::TestParamInfo<Geometry>& info) {
      return "layout" + std::to_string(info.index);
    });

// 512-byte clusters: an L2 table maps 32 KiB and a refcount block 128 KiB, and the first
// refcount table covers 8 MiB, so 12 MiB of data needs many new L2 tables, many refcount
// blocks and two refcount-table moves.
TEST(Qcow2, ManyClustersGrowTablesAndRefcounts) {
  SKIP_WITHOUT_QEMU();
  TempDir dir;
  const std::string img = dir.file("a.qcow2");
  qemu_img("create -q -f qcow2 -o cluster_size=512 '" + img + "' 16M");
  const auto data = pattern(12 << 20, 5);
  {
    auto d = open_qcow2(img);
    ASSERT_TRUE(d);
    for (uint64_t off = 0; off < data.size(); off += 256 << 10) {
      ASSERT_TRUE(d->write(off, std::span<const uint8_t>(data).subspan(off, 256 << 10)).ok());
    }
    std::vector<uint8_t> back(data.size());
    ASSERT_TRUE(d->read(0, back).ok());
    EXPECT_EQ(back, data);
  }
  const auto all = qemu_contents(img, dir.file("out.raw"));
  ASSERT_EQ(all.size(), 16u << 20);
  EXPECT_TRUE(std::equal(data.begin(), data.end(), all.begin()));
  EXPECT_TRUE(std::all_of(all.begin() + data.size(), all.end(), [](uint8_t b) { return b == 0; }));
  expect_check_clean(img);
  const auto info = test::run("qemu-img info --output=json '" + img + "'").output;
  EXPECT_NE(info.find("\"actual-size\""), std::string::npos);
}

TEST(Qcow2, CompressedClustersReadAndRewrite) {
  SKIP_WITHOUT_QEMU();
  TempDir dir;
  const std::string src = dir.file("src.qcow2");
  const std::string img = dir.file("c.qcow2");
  qemu_img("create -q -f qcow2 '" + src + "' 1M");
  qemu_io(src, "write -P 0x11 0 64k");
  qemu_io(src, "write -P 0x22 65536 65536");
  qemu_io(src, "write -P 0x33 300000 5000");
  qemu_img("convert -c -O qcow2 '" + src + "' '" + img + "'");
  const auto expect_src = qemu_contents(src, dir.file("s.raw"));
  auto expect = expect_src;
  {
    auto d = open_qcow2(img);
    ASSERT_TRUE(d);
    EXPECT_EQ(read_all(*d), expect);
    // A partial write into a compressed cluster reallocates it with the old data around it.
    const auto data = pattern(100, 8);
    ASSERT_TRUE(d->write(70000, data).ok());
    std::copy(data.begin(), data.end(), expect.begin() + 70000);
    EXPECT_EQ(read_all(*d), expect);
  }
  EXPECT_EQ(qemu_contents(img, dir.file("out.raw")), expect);
  expect_check_clean(img);
}

TEST(Qcow2, BackingFilesCopyOnWrite) {
  SKIP_WITHOUT_QEMU();
  TempDir dir;
  const std::string base = dir.file("base.raw");
  const std::string mid = dir.file("mid.qcow2");
  const std::string top = dir.file("top.qcow2");
  qemu_img("create -q -f raw '" + base + "' 2M");
  qemu_io(base, "write -P 0xb0 0 2M", "raw");
  // Relative backing names resolve against the overlay's directory.
  qemu_img("create -q -f qcow2 -b base.raw -F raw '" + mid + "'");
  qemu_io(mid, "write -P 0xb1 65536 65536");
  qemu_img("create -q -f qcow2 -b mid.qcow2 -F qcow2 '" + top + "' 3M");  // bigger than base
  std::vector<uint8_t> expect(3 << 20, 0);
  std::fill(expect.begin(), expect.begin() + (2 << 20), 0xb0);
  std::fill(expect.begin() + 65536, expect.begin() + 131072, 0xb1);
  const auto base_before = test::read_file(base);
  const auto mid_before = test::read_file(mid);
  {
    auto d = open_qcow2(top);
    ASSERT_TRUE(d);
    EXPECT_EQ(read_all(*d), expect);
    // Partial-cluster writes copy the rest of the cluster from the chain.
    const auto a = pattern(300, 1);
    ASSERT_TRUE(d->write(1000, a).ok());
    std::copy(a.begin(), a.end(), expect.begin() + 1000);
    const auto b = pattern(5000, 2);
    ASSERT_TRUE(d->write(65536 + 60000, b).ok());  // spans the mid/base boundary
    std::copy(b.begin(), b.end(), expect.begin() + 65536 + 60000);
    const auto c = pattern(777, 3);
    ASSERT_TRUE(d->write((2 << 20) - 100, c).ok());  // across the end of the base
    std::copy(c.begin(), c.end(), expect.begin() + (2 << 20) - 100);
    EXPECT_EQ(read_all(*d), expect);
  }
  EXPECT_EQ(qemu_contents(top, dir.file("out.raw")), expect);
  EXPECT_EQ(test::read_file(base), base_before);
  EXPECT_EQ(test::read_file(mid), mid_before);
  expect_check_clean(top);
  expect_check_clean(mid);
}

TEST(Qcow2, DiscardAndWriteZeroes) {
  SKIP_WITHOUT_QEMU();
  for (const char* compat : {"0.10", "1.1"}) {
    for (bool with_backing : {false, true}) {
      SCOPED_TRACE(std::string("compat=") + compat + (with_backing ? " backing" : ""));
      TempDir dir;
      const std::string base = dir.file("base.raw");
      const std::string img = dir.file("a.qcow2");
      qemu_img("create -q -f raw '" + base + "' 1M");
      qemu_io(base, "write -P 0xee 0 1M", "raw");
      qemu_img(std::string("create -q -f qcow2 -o compat=") + compat +
               (with_backing ? " -b base.raw -F raw '" : " '") + img + "' 1M");
      std::vector<uint8_t> expect(1 << 20, with_backing ? 0xee : 0);
      {
        auto d = open_qcow2(img);
        ASSERT_TRUE(d);
        const auto data = pattern(1 << 20, 4);
        ASSERT_TRUE(d->write(0, data).ok());
        expect = data;
        ASSERT_TRUE(d->write_zeroes(65536, 3 * 65536, true).ok());
        ASSERT_TRUE(d->write_zeroes(5 * 65536, 65536, false).ok());
        ASSERT_TRUE(d->write_zeroes(7 * 65536 + 100, 70000, true).ok());  // partial clusters
        std::fill(expect.begin() + 65536, expect.begin() + 4 * 65536, 0);
        std::fill(expect.begin() + 5 * 65536, expect.begin() + 6 * 65536, 0);
        std::fill(expect.begin() + 7 * 65536 + 100, expect.begin() + 7 * 65536 + 70100, 0);
        EXPECT_EQ(read_all(*d), expect);
        // Discard: whole clusters read back as zeros, or (v2 with backing) as backing data.
        ASSERT_TRUE(d->discard(10 * 65536 + 5, 3 * 65536).ok());
        const uint8_t fill = (with_backing && std::string(compat) == "0.10") ? 0xee : 0;
        std::fill(expect.begin() + 11 * 65536, expect.begin() + 13 * 65536, fill);
        EXPECT_EQ(read_all(*d), expect);
      }
      EXPECT_EQ(qemu_contents(img, dir.file("out.raw")), expect);
      expect_check_clean(img);
    }
  }
}

TEST(Qcow2, DiscardFreesClustersForReuse) {
  SKIP_WITHOUT_QEMU();
  TempDir dir;
  const std::string img = dir.file("a.qcow2");
  qemu_img("create -q -f qcow2 '" + img + "' 4M");
  {
    auto d = open_qcow2(img);
    ASSERT_TRUE(d);
    ASSERT_TRUE(d->write(0, pattern(2 << 20, 1)).ok());
    ASSERT_TRUE(d->discard(0, 2 << 20).ok());
    ASSERT_TRUE(d->write(2 << 20, pattern(2 << 20, 2)).ok());
  }
  // The second 2 MiB went into the clusters the discard freed.
  const auto size = test::read_file(img).size();
  EXPECT_LT(size, (2u << 20) + 6 * 65536);
  expect_check_clean(img);
}

TEST(Qcow2, SnapshotOnLeavesTheImageUntouched) {
  SKIP_WITHOUT_QEMU();
  TempDir dir;
  const std::string img = dir.file("a.qcow2");
  qemu_img("create -q -f qcow2 '" + img + "' 1M");
  qemu_io(img, "write -P 0x42 0 1M");
  const auto before = test::read_file(img);
  {
    auto opts = parse_drive_options("file=" + img + ",format=qcow2,snapshot=on");
    ASSERT_TRUE(opts.ok());
    std::vector<std::string> warnings;
    auto be = open_drive(*opts, warnings);
    ASSERT_TRUE(be.ok()) << be.status().message;
    EXPECT_FALSE((*be)->read_only());
    const auto data = pattern(200000, 6);
    ASSERT_TRUE((*be)->driver().write(12345, data).ok());
    ASSERT_TRUE((*be)->driver().write_zeroes(300000, 65536 * 2, true).ok());
    ASSERT_TRUE((*be)->driver().flush().ok());
    std::vector<uint8_t> back(data.size());
    ASSERT_TRUE((*be)->driver().read(12345, back).ok());
    EXPECT_EQ(back, data);
    std::vector<uint8_t> head(100);
    ASSERT_TRUE((*be)->driver().read(0, head).ok());
    EXPECT_EQ(head, std::vector<uint8_t>(100, 0x42));
    // While it runs, another writer may not take the original.
    EXPECT_NE(test::run("qemu-io -f qcow2 -c 'write 0 512' '" + img + "'").exit_code, 0);
  }
  EXPECT_EQ(test::read_file(img), before);
  expect_check_clean(img);
}

TEST(Qcow2, ReadOnlyImageRefusesWrites) {
  SKIP_WITHOUT_QEMU();
  TempDir dir;
  const std::string img = dir.file("a.qcow2");
  qemu_img("create -q -f qcow2 '" + img + "' 1M");
  const auto before = test::read_file(img);
  auto d = open_qcow2(img, true);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->write(0, pattern(512, 1)).code, EROFS);
  EXPECT_EQ(d->write_zeroes(0, 65536, true).code, EROFS);
  std::vector<uint8_t> buf(512);
  EXPECT_EQ(d->read(1 << 20, buf).code, EIO);
  d.reset();
  EXPECT_EQ(test::read_file(img), before);
}

// Splits buf into segments of the given sizes (cycled), as a guest's scatter list would.
std::vector<std::span<uint8_t>> split(std::vector<uint8_t>& buf, std::vector<size_t> sizes) {
  std::vector<std::span<uint8_t>> segs;
  for (size_t at = 0, i = 0; at < buf.size(); ++i) {
    const size_t n = std::min(sizes[i % sizes.size()], buf.size() - at);
    segs.push_back({buf.data() + at, n});
    at += n;
  }
  return segs;
}

// Scatter-gather requests run back-to-back clusters as one file range: the pieces must land
// where they belong across every kind of cluster (allocated in and out of file order,
// unallocated over a backing file, zero, compressed) and across segment boundaries.
TEST(Qcow2, ScatterGatherRequestsOverMixedClusters) {
  SKIP_WITHOUT_QEMU();
  TempDir dir;
  const std::string base = dir.file("base.raw");
  const std::string src = dir.file("src.qcow2");
  const std::string img = dir.file("a.qcow2");
  qemu_img("create -q -f raw '" + base + "' 256K");
  qemu_io(base, "write -P 0xb0 0 256K", "raw");
  // Clusters 2..3 compressed (written into src, converted with -c, then rebased on base).
  qemu_img("create -q -f qcow2 -o cluster_size=4096 '" + src + "' 256K");
  qemu_io(src, "write -P 0xc1 8192 8192");
  qemu_img("convert -q -c -O qcow2 -o cluster_size=4096 '" + src + "' '" + img + "'");
  qemu_img("rebase -q -u -b base.raw -F raw '" + img + "'");
  // Clusters 12, 11, 10 allocated in reverse file order; cluster 20 reads as zero.
  for (int c : {12, 11, 10})
    qemu_io(img, "write -P " + std::to_string(0x40 + c) + " " + std::to_string(c * 4096) + " 4096");
  qemu_io(img, "write -z 81920 4096");
  std::vector<uint8_t> expect(256 << 10, 0xb0);
  std::fill(expect.begin() + 8192, expect.begin() + 16384, 0xc1);
  for (int c : {10, 11, 12}) std::fill_n(expect.begin() + c * 4096, 4096, uint8_t(0x40 + c));
  std::fill_n(expect.begin() + 81920, 4096, 0);
  {
    auto d = open_qcow2(img);
    ASSERT_TRUE(d);
    auto read_back = [&] {
      for (std::vector<size_t> sizes : {std::vector<size_t>{4096}, {1, 511, 4096, 65536}, {333}}) {
        std::vector<uint8_t> back(expect.size());
        const auto rsegs = split(back, sizes);
        ASSERT_TRUE(d->readv(0, rsegs).ok());
        EXPECT_EQ(back, expect);
      }
    };
    read_back();  // every kind of cluster, before the writes replace some
    // Clusters 30..45 allocated in order by one request, then rewritten in place by another.
    auto fresh = pattern(16 * 4096 - 300, 1);
    auto segs = split(fresh, {4096, 100, 9000, 1});
    ASSERT_TRUE(d->writev(30 * 4096 + 150, segs).ok());
    std::copy(fresh.begin(), fresh.end(), expect.begin() + 30 * 4096 + 150);
    auto again = pattern(10 * 4096, 2);
    segs = split(again, {3000, 5000, 4096});
    ASSERT_TRUE(d->writev(33 * 4096 + 7, segs).ok());
    std::copy(again.begin(), again.end(), expect.begin() + 33 * 4096 + 7);
    // A request over allocated, compressed, backing and zero clusters and the reversed ones.
    auto mixed = pattern(24 * 4096, 3);
    segs = split(mixed, {700, 8192, 1, 4096});
    ASSERT_TRUE(d->writev(1000, segs).ok());
    std::copy(mixed.begin(), mixed.end(), expect.begin() + 1000);
    read_back();
    ASSERT_TRUE(d->flush().ok());
  }
  EXPECT_EQ(qemu_contents(img, dir.file("out.raw")), expect);
  expect_check_clean(img);
}

TEST(Qcow2, ConcurrentRequestsThroughTheBackend) {
  SKIP_WITHOUT_QEMU();
  TempDir dir;
  const std::string img = dir.file("a.qcow2");
  qemu_img("create -q -f qcow2 -o cluster_size=4096 '" + img + "' 8M");
  auto opts = parse_drive_options("file=" + img + ",format=qcow2,discard=unmap,serial=disk-7");
  ASSERT_TRUE(opts.ok());
  std::vector<std::string> warnings;
  auto be = open_drive(*opts, warnings);
  ASSERT_TRUE(be.ok()) << be.status().message;
  EXPECT_EQ((*be)->serial(), "disk-7");
  constexpr int kRequests = 256;
  std::vector<std::vector<uint8_t>> chunks;
  for (int i = 0; i < kRequests; ++i) chunks.push_back(pattern(6000, i));
  std::mutex m;
  int failures = 0;
  int completed = 0;
  for (int i = 0; i < kRequests; ++i) {
    Request r;
    r.type = RequestType::kWrite;
    r.offset = uint64_t(i) * 30000;  // neighbours share clusters and L2 tables
    r.data = chunks[i];
    (*be)->submit(r, [&](const Status& s) {
      std::lock_guard<std::mutex> g(m);
      failures += !s.ok();
      ++completed;
    });
  }
  Request flush;
  flush.type = RequestType::kFlush;
  (*be)->submit(flush, [&](const Status& s) {
    std::lock_guard<std::mutex> g(m);
    failures += !s.ok();
    ++completed;
  });
  (*be)->drain();
  EXPECT_EQ(completed, kRequests + 1);
  EXPECT_EQ(failures, 0);
  std::vector<uint8_t> back(6000);
  for (int i = 0; i < kRequests; ++i) {
    Request r;
    r.type = RequestType::kRead;
    r.offset = uint64_t(i) * 30000;
    r.data = back;
    ASSERT_TRUE((*be)->execute(r).ok());
    EXPECT_EQ(back, chunks[i]) << i;
  }
  Request bad;
  bad.type = RequestType::kRead;
  bad.offset = (8 << 20) - 10;
  bad.data = back;
  Status got;
  (*be)->submit(bad, [&](const Status& s) { got = s; });
  (*be)->drain();
  EXPECT_EQ(got.code, EIO);
  be->reset();
  expect_check_clean(img);
}

}  // namespace
}  // namespace orrery::hw::block
