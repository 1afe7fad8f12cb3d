#include "hw/block/drive_options.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>

#include "hw/block/backend.h"
#include "tests/unit/block/block_test_util.h"

namespace orrery::hw::block {
namespace {

TEST(DriveOptions, ParsesEveryKey) {
  auto o = parse_drive_options(
      "file=/a/b,,c.img,format=qcow2,if=virtio,id=d0,readonly=on,snapshot=off,cache=none,"
      "discard=unmap,serial=SN,,1");
  ASSERT_TRUE(o.ok()) << o.status().message;
  EXPECT_EQ(o->file, "/a/b,c.img");
  EXPECT_EQ(o->format, ImageFormat::kQcow2);
  EXPECT_EQ(o->interface, DriveInterface::kVirtio);
  EXPECT_EQ(o->id, "d0");
  EXPECT_TRUE(o->read_only);
  EXPECT_FALSE(o->snapshot);
  EXPECT_EQ(o->cache, CacheMode::kNone);
  EXPECT_EQ(o->discard, DiscardMode::kUnmap);
  EXPECT_EQ(o->serial, "SN,1");
}

TEST(DriveOptions, Defaults) {
  auto o = parse_drive_options("file=x.img");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->format, ImageFormat::kProbe);
  EXPECT_EQ(o->cache, CacheMode::kWriteback);
  EXPECT_EQ(o->discard, DiscardMode::kIgnore);
  EXPECT_FALSE(o->read_only);
  EXPECT_TRUE(o->serial.empty());
  for (auto [text, mode] : {std::pair{"writethrough", CacheMode::kWritethrough},
                            {"unsafe", CacheMode::kUnsafe},
                            {"directsync", CacheMode::kDirectSync},
                            {"writeback", CacheMode::kWriteback}}) {
    auto c = parse_drive_options(std::string("file=x,cache=") + text);
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->cache, mode);
  }
}

TEST(DriveOptions, IdeIndexAndMedia) {
  auto o = parse_drive_options("file=x,if=ide,index=3,media=disk");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->interface, DriveInterface::kIde);
  EXPECT_EQ(o->index, 3);
  EXPECT_FALSE(o->read_only);
  // A CD-ROM is read-only, as QEMU opens it.
  o = parse_drive_options("file=x,if=ide,media=cdrom");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->media, DriveMedia::kCdrom);
  EXPECT_EQ(o->index, -1);
  EXPECT_TRUE(o->read_only);
}

TEST(DriveOptions, ErrorsAreOneLine) {
  const std::pair<const char*, const char*> cases[] = {
      {"file=x,bogus=1", "unknown option 'bogus'"},
      {"file=x,format=vmdk", "invalid value 'vmdk' for 'format'"},
      {"file=x,cache=fast", "invalid value 'fast' for 'cache'"},
      {"file=x,readonly=yes", "invalid value 'yes' for 'readonly'"},
      {"file=x,if=scsi", "invalid value 'scsi' for 'if'"},
      {"file=x,index=4", "invalid value '4' for 'index'"},
      {"file=x,media=floppy", "invalid value 'floppy' for 'media'"},
      {"file=x,discard=maybe", "invalid value 'maybe' for 'discard'"},
      {"format=raw", "file= is required"},
      {"file=x,file=y", "given twice"},
      {"file=x,readonly", "needs a value"},
  };
  for (auto [text, message] : cases) {
    auto o = parse_drive_options(text);
    ASSERT_FALSE(o.ok()) << text;
    EXPECT_EQ(o.status().code, EINVAL);
    EXPECT_NE(o.status().message.find(message), std::string::npos) << o.status().message;
    EXPECT_EQ(o.status().message.rfind("-drive: ", 0), 0u);
    EXPECT_EQ(o.status().message.find('\n'), std::string::npos);
  }
}

TEST(OpenDrive, ProbesAndChecksTheFormat) {
  SKIP_WITHOUT_QEMU();
  test::TempDir dir;
  const std::string raw = dir.file("r.img");
  const std::string q = dir.file("q.img");
  test::qemu_img("create -q -f raw '" + raw + "' 1M");
  test::qemu_img("create -q -f qcow2 '" + q + "' 2M");
  std::vector<std::string> warnings;
  {
    auto be = open_drive(*parse_drive_options("file=" + raw), warnings);
    ASSERT_TRUE(be.ok());
    EXPECT_STREQ((*be)->driver().format_name(), "raw");
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("probing guessed raw"), std::string::npos);
  }
  warnings.clear();
  {
    auto be = open_drive(*parse_drive_options("file=" + q), warnings);
    ASSERT_TRUE(be.ok());
    EXPECT_STREQ((*be)->driver().format_name(), "qcow2");
    EXPECT_EQ((*be)->size(), 2u << 20);
    EXPECT_TRUE(warnings.empty());
  }
  {
    auto be = open_drive(*parse_drive_options("file=" + raw + ",format=qcow2"), warnings);
    ASSERT_FALSE(be.ok());
    EXPECT_NE(be.status().message.find("not in qcow2 format"), std::string::npos);
  }
  {
    // format=raw on a qcow2 file is allowed: the guest sees the qcow2 bytes.
    auto be = open_drive(*parse_drive_options("file=" + q + ",format=raw,readonly=on"), warnings);
    ASSERT_TRUE(be.ok());
    EXPECT_STREQ((*be)->driver().format_name(), "raw");
    std::vector<uint8_t> magic(4);
    ASSERT_TRUE((*be)->driver().read(0, magic).ok());
    EXPECT_EQ(magic, (std::vector<uint8_t>{'Q', 'F', 'I', 0xfb}));
    EXPECT_TRUE((*be)->read_only());
  }
}

TEST(OpenDrive, DiscardIgnoreKeepsDataButChecksTheRange) {
  SKIP_WITHOUT_QEMU();
  test::TempDir dir;
  const std::string q = dir.file("q.img");
  test::qemu_img("create -q -f qcow2 '" + q + "' 1M");
  std::vector<std::string> warnings;
  auto be = open_drive(*parse_drive_options("file=" + q + ",format=qcow2"), warnings);
  ASSERT_TRUE(be.ok());
  std::vector<uint8_t> data(65536, 0x77);
  ASSERT_TRUE((*be)->driver().write(0, data).ok());
  Request r;
  r.type = RequestType::kDiscard;
  r.offset = 0;
  r.length = 65536;
  EXPECT_TRUE((*be)->execute(r).ok());
  r.offset = 1 << 20;
  EXPECT_EQ((*be)->execute(r).code, EIO);
  std::vector<uint8_t> back(65536);
  ASSERT_TRUE((*be)->driver().read(0, back).ok());
  EXPECT_EQ(back, data);
}

}  // namespace
}  // namespace orrery::hw::block
