// Diagnostic logging selected with -d and redirected with -D. One Log object per machine is
// passed to whatever logs; there is no global logger.
#pragma once

#include <atomic>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>

namespace orrery::hw {

enum LogMask : uint32_t {
  kLogInAsm = 1u << 0,        // guest instructions as translated (Capstone)
  kLogOp = 1u << 1,           // IR of each new block
  kLogExec = 1u << 2,         // every block executed
  kLogInt = 1u << 3,          // exceptions and interrupts
  kLogUnimp = 1u << 4,        // unimplemented guest features
  kLogGuestErrors = 1u << 5,  // invalid guest device/memory accesses
  kLogTier = 1u << 6,         // tier-up compilations
  kLogOutAsm = 1u << 7,       // host code of the baseline tier (Capstone)
  kLogPerfMap = 1u << 8,      // /tmp/perf-PID.map naming baseline code by guest PC (perf)
};

struct LogItem {
  const char* name;
  LogMask mask;
  const char* help;
};
inline constexpr LogItem kLogItems[] = {
    {"in_asm", kLogInAsm, "show guest instructions as they are translated"},
    {"op", kLogOp, "show the IR of each translated block"},
    {"exec", kLogExec, "show every block as it runs"},
    {"int", kLogInt, "show exceptions and interrupts"},
    {"unimp", kLogUnimp, "log unimplemented guest functionality"},
    {"guest_errors", kLogGuestErrors, "log invalid guest accesses (devices, memory)"},
    {"tier", kLogTier, "log blocks compiled by the LLVM tier"},
    {"out_asm", kLogOutAsm, "show the host code the baseline tier generates for each block"},
    {"perfmap", kLogPerfMap, "write /tmp/perf-PID.map naming baseline code by guest PC"},
};

class Log {
 public:
  Log() = default;
  ~Log() {
    if (file_ && file_ != stderr) std::fclose(file_);
  }
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  /// Parses a -d list ("in_asm,int"); returns the first unknown item, or empty on success.
  std::string set_mask(std::string_view list);
  /// Redirects output to path (-D): a regular file (truncated) or a character device such as
  /// /dev/null; a FIFO is refused rather than waited for. On failure returns false and sets
  /// error to why.
  bool set_file(const std::string& path, std::string& error);
  bool set_file(const std::string& path) {
    std::string error;
    return set_file(path, error);
  }
  /// True once a write to the -D file failed (reported once on stderr; the log is lost).
  bool write_failed() const { return write_failed_; }

  bool enabled(LogMask m) const { return (mask_ & m) != 0; }
  uint32_t mask() const { return mask_; }
  void set_mask_bits(uint32_t m) { mask_ = m; }

  /// printf-style; a no-op unless m is enabled.
  void log(LogMask m, const char* fmt, ...) __attribute__((format(printf, 3, 4))) {
    if (!enabled(m)) return;
    va_list ap;
    va_start(ap, fmt);
    std::lock_guard<std::mutex> g(mu_);
    std::vfprintf(out(), fmt, ap);
    va_end(ap);
    flush();
  }
  void write(std::string_view s) {
    std::lock_guard<std::mutex> g(mu_);
    std::fwrite(s.data(), 1, s.size(), out());
    flush();
  }

 private:
  FILE* out() { return file_ ? file_ : stderr; }
  /// Flushes; the first failure on the -D file is reported on stderr (mu_ held).
  void flush();
  std::string path_;
  std::atomic<bool> write_failed_{false};
  uint32_t mask_ = 0;
  FILE* file_ = nullptr;
  std::mutex mu_;
};

}  // namespace orrery::hw
