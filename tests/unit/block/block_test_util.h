// Helpers for the block-layer tests: a scratch directory, running qemu-img / qemu-io, and
// data patterns.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace orrery::hw::block::test {

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/orrery-block-XXXXXX";
    path_ = mkdtemp(tmpl.data()) ? tmpl : "";
  }
  ~TempDir() {
    if (!path_.empty()) std::system(("rm -rf '" + path_ + "'").c_str());
  }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

inline CommandResult run(const std::string& cmd) {
  CommandResult r;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

inline bool have_qemu_tools() {
  return run("command -v qemu-img && command -v qemu-io").exit_code == 0;
}

#define SKIP_WITHOUT_QEMU()                                                  \
  do {                                                                       \
    if (!::orrery::hw::block::test::have_qemu_tools())                       \
      GTEST_SKIP() << "qemu-img/qemu-io not installed (package qemu-utils)"; \
  } while (0)

inline void qemu_img(const std::string& args) {
  CommandResult r = run("qemu-img " + args);
  ASSERT_EQ(r.exit_code, 0) << "qemu-img " << args << ": " << r.output;
}

inline void qemu_io(const std::string& image, const std::string& cmd, const char* fmt = "qcow2") {
  CommandResult r = run(std::string("qemu-io -f ") + fmt + " -c '" + cmd + "' '" + image + "'");
  ASSERT_EQ(r.exit_code, 0) << cmd << ": " << r.output;
  ASSERT_EQ(r.output.find("failed"), std::string::npos) << cmd << ": " << r.output;
}

/// qemu-img check must find no corruption; leaks only when allowed.
inline void expect_check_clean(const std::string& image, bool leaks_allowed = false) {
  CommandResult r = run("qemu-img check -f qcow2 '" + image + "'");
  if (leaks_allowed) {
    EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 3) << r.output;
  } else {
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("No errors were found"), std::string::npos) << r.output;
  }
  EXPECT_EQ(r.output.find("ERROR"), std::string::npos) << r.output;
}

inline std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

/// The guest-visible contents of an image, as QEMU sees them.
inline std::vector<uint8_t> qemu_contents(const std::string& image, const std::string& scratch) {
  CommandResult r = run("qemu-img convert -O raw '" + image + "' '" + scratch + "'");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return read_file(scratch);
}

/// Bytes that differ by position and seed, so misplaced data is caught.
inline std::vector<uint8_t> pattern(size_t size, uint32_t seed) {
  std::vector<uint8_t> v(size);
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < size; ++i) {
    x = x * 1664525u + 1013904223u;
    v[i] = uint8_t(x >> 24);
  }
  return v;
}

}  // namespace orrery::hw::block::test
