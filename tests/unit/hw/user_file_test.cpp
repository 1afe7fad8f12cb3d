// open_user_file: never blocks on a FIFO, refuses what cannot be an image or an output, and
// accepts character devices only as outputs.
#include "hw/core/user_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace orrery::hw {
namespace {

class UserFileTest : public ::testing::Test {
 protected:
  UserFileTest() {
    char tmpl[] = "/tmp/orrery_user_file_XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  ~UserFileTest() override {
    std::remove((dir_ + "/fifo").c_str());
    std::remove((dir_ + "/file").c_str());
    ::rmdir(dir_.c_str());
  }
  std::string dir_;
};

TEST_F(UserFileTest, FifoIsRefusedWithoutBlocking) {
  std::string fifo = dir_ + "/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::string err;
  // Nobody has the FIFO open: a blocking open would wait forever.
  EXPECT_FALSE(open_user_file(fifo, UserFileUse::Input, err).valid());
  EXPECT_EQ(err, "not a regular file (it is a FIFO)");
  EXPECT_FALSE(open_user_file(fifo, UserFileUse::Output, err).valid());
  EXPECT_EQ(err, "not a regular file (it is a FIFO)");
}

TEST_F(UserFileTest, CharacterDevicesAreOutputsOnly) {
  std::string err;
  UniqueFd out = open_user_file("/dev/null", UserFileUse::Output, err);
  EXPECT_TRUE(out.valid()) << err;
  EXPECT_EQ(::write(out.get(), "x", 1), 1);
  EXPECT_FALSE(open_user_file("/dev/null", UserFileUse::Input, err).valid());
  EXPECT_EQ(err, "not a regular file (it is a character device)");
}

TEST_F(UserFileTest, DirectoriesAndMissingFiles) {
  std::string err;
  EXPECT_FALSE(open_user_file(dir_, UserFileUse::Input, err).valid());
  EXPECT_EQ(err, "is a directory");
  EXPECT_FALSE(open_user_file(dir_ + "/none/x", UserFileUse::Output, err).valid());
  EXPECT_EQ(err, "No such file or directory");
}

TEST_F(UserFileTest, OutputTruncatesRegularFileAndIsBlocking) {
  std::string file = dir_ + "/file";
  FILE* f = std::fopen(file.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("old contents", f);
  std::fclose(f);
  std::string err;
  UniqueFd fd = open_user_file(file, UserFileUse::Output, err);
  ASSERT_TRUE(fd.valid()) << err;
  struct stat st;
  ASSERT_EQ(::fstat(fd.get(), &st), 0);
  EXPECT_EQ(st.st_size, 0);
  EXPECT_EQ(::fcntl(fd.get(), F_GETFL) & O_NONBLOCK, 0);
  EXPECT_TRUE(open_user_file(file, UserFileUse::Input, err).valid()) << err;
}

}  // namespace
}  // namespace orrery::hw
