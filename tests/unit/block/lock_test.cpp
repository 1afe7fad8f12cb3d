// Image locking interoperates with QEMU's file-posix locks in both directions.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "hw/block/image.h"
#include "tests/unit/block/block_test_util.h"

namespace orrery::hw::block {
namespace {

using test::TempDir;

Expected<std::unique_ptr<BlockDriver>> open_rw(const std::string& path, bool ro = false) {
  std::vector<std::string> warnings;
  return open_image(path, ImageFormat::kProbe, ro, CacheMode::kWriteback, 0, warnings);
}

// Runs qemu-io in interactive mode on its stdin pipe so it holds the image until we close
// the pipe; its first prompt output tells us the image is open (no sleeps).
class QemuIoHolder {
 public:
  QemuIoHolder(const std::string& image, bool read_only) {
    int in[2], out[2];
    if (pipe(in) || pipe(out)) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(in[0], 0);
      dup2(out[1], 1);
      dup2(out[1], 2);
      ::close(in[1]);
      ::close(out[0]);
      if (read_only) {
        execlp("qemu-io", "qemu-io", "-r", "-f", "qcow2", image.c_str(), nullptr);
      } else {
        execlp("qemu-io", "qemu-io", "-f", "qcow2", image.c_str(), nullptr);
      }
      _exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    stdin_ = in[1];
    stdout_ = out[0];
    // Ask for a harmless command and wait for its answer: the image is open by then.
    const char cmd[] = "read 0 512\n";
    if (::write(stdin_, cmd, sizeof cmd - 1) < 0) return;
    std::string seen;
    char buf[256];
    ssize_t n;
    while (seen.find("ops/sec") == std::string::npos &&
           (n = ::read(stdout_, buf, sizeof buf)) > 0) {
      seen.append(buf, size_t(n));
    }
    ready_ = seen.find("ops/sec") != std::string::npos;
  }
  ~QemuIoHolder() {
    if (stdin_ >= 0) ::close(stdin_);  // EOF makes qemu-io quit
    if (pid_ > 0) waitpid(pid_, nullptr, 0);
    if (stdout_ >= 0) ::close(stdout_);
  }
  bool ready() const { return ready_; }

 private:
  pid_t pid_ = -1;
  int stdin_ = -1;
  int stdout_ = -1;
  bool ready_ = false;
};

TEST(ImageLock, QemuWriterExcludesOrrery) {
  SKIP_WITHOUT_QEMU();
  TempDir dir;
  const std::string img = dir.file("a.qcow2");
  test::qemu_img("create -q -f qcow2 '" + img + "' 1M");
  {
    QemuIoHolder holder(img, false);
    ASSERT_TRUE(holder.ready());
    auto d = open_rw(img);
    ASSERT_FALSE(d.ok());
    EXPECT_NE(d.status().message.find("Failed to get \"write\" lock"), std::string::npos)
        << d.status().message;
    EXPECT_NE(d.status().message.find(img), std::string::npos);
    // A reader that does not share "write" is refused too, as qemu-img info would be.
    auto r = open_rw(img, true);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message.find("Failed to get shared \"write\" lock"), std::string::npos)
        << r.status().message;
  }
  EXPECT_TRUE(open_rw(img).ok());  // released when qemu-io exits
}

TEST(ImageLock, QemuReaderExcludesOrreryWriter) {
  SKIP_WITHOUT_QEMU();
  TempDir dir;
  const std::string img = dir.file("a.qcow2");
  test::qemu_img("create -q -f qcow2 '" + img + "' 1M");
  QemuIoHolder holder(img, true);
  ASSERT_TRUE(holder.ready());
  auto d = open_rw(img);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message.find("Failed to get \"write\" lock"), std::string::npos)
      << d.status().message;
  EXPECT_TRUE(open_rw(img, true).ok());  // two readers are fine
}

TEST(ImageLock, OrreryWriterExcludesQemu) {
  SKIP_WITHOUT_QEMU();
  TempDir dir;
  const std::string img = dir.file("a.qcow2");
  const std::string raw = dir.file("b.raw");
  test::qemu_img("create -q -f qcow2 '" + img + "' 1M");
  test::qemu_img("create -q -f raw '" + raw + "' 1M");
  {
    auto d = open_rw(img);
    ASSERT_TRUE(d.ok()) << d.status().message;
    auto w = test::run("qemu-io -f qcow2 -c 'write 0 512' '" + img + "'");
    EXPECT_NE(w.exit_code, 0);
    EXPECT_NE(w.output.find("Failed to get \"write\" lock"), std::string::npos) << w.output;
    auto info = test::run("qemu-img info '" + img + "'");
    EXPECT_NE(info.exit_code, 0);
    EXPECT_NE(info.output.find("Failed to get shared \"write\" lock"), std::string::npos)
        << info.output;
    EXPECT_EQ(test::run("qemu-img info -U '" + img + "'").exit_code, 0);  // force-share works
    // A second Orrery writer is refused as well.
    auto second = open_rw(img);
    ASSERT_FALSE(second.ok());
    EXPECT_NE(second.status().message.find("\"write\" lock"), std::string::npos);

    auto r = open_rw(raw);
    ASSERT_TRUE(r.ok());
    EXPECT_NE(test::run("qemu-io -f raw -c 'write 0 512' '" + raw + "'").exit_code, 0);
  }
  EXPECT_EQ(test::run("qemu-io -f qcow2 -c 'write 0 512' '" + img + "'").exit_code, 0);
}

TEST(ImageLock, OrreryReaderAllowsQemuReadersButNotWriters) {
  SKIP_WITHOUT_QEMU();
  TempDir dir;
  const std::string img = dir.file("a.qcow2");
  test::qemu_img("create -q -f qcow2 '" + img + "' 1M");
  auto d = open_rw(img, true);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(test::run("qemu-img info '" + img + "'").exit_code, 0);
  auto w = test::run("qemu-io -f qcow2 -c 'write 0 512' '" + img + "'");
  EXPECT_NE(w.exit_code, 0);
  EXPECT_NE(w.output.find("Failed to get \"write\" lock"), std::string::npos) << w.output;
}

TEST(ImageLock, QemuStorageDaemonHoldsTheImage) {
  SKIP_WITHOUT_QEMU();
  if (test::run("command -v qemu-storage-daemon").exit_code != 0)
    GTEST_SKIP() << "no qemu-storage-daemon";
  TempDir dir;
  const std::string img = dir.file("a.qcow2");
  const std::string sock = dir.file("qsd.sock");
  const std::string pidfile = dir.file("qsd.pid");
  test::qemu_img("create -q -f qcow2 '" + img + "' 1M");
  // --daemonize returns only once the image is open and the export is ready.
  auto start = test::run("qemu-storage-daemon --daemonize --pidfile '" + pidfile +
                         "' --blockdev driver=file,filename=" + img +
                         ",node-name=f --blockdev driver=qcow2,file=f,node-name=q"
                         " --nbd-server addr.type=unix,addr.path=" +
                         sock + " --export type=nbd,id=e,node-name=q,writable=on");
  ASSERT_EQ(start.exit_code, 0) << start.output;
  const pid_t pid = pid_t(std::stol(test::run("cat '" + pidfile + "'").output));
  auto d = open_rw(img);
  EXPECT_FALSE(d.ok());
  if (!d.ok()) EXPECT_NE(d.status().message.find("lock"), std::string::npos);
  ::kill(pid, SIGTERM);
  // Wait for the daemon to exit: its pid file disappears on a clean shutdown.
  test::run("while kill -0 " + std::to_string(pid) + " 2>/dev/null; do :; done");
  EXPECT_TRUE(open_rw(img).ok());
}

}  // namespace
}  // namespace orrery::hw::block
