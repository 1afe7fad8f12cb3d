// One debugger connection's protocol state and packet dispatcher. Guest-neutral: it talks only
// to cpu::GdbTarget. No sockets here (GdbServer does I/O), so every packet can be unit-tested
// and fuzzed against a fake target.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "cpu/common/gdb_target.h"

namespace orrery::ui::gdbstub {

class Session {
 public:
  /// What the server does after handle().
  enum class Action : uint8_t {
    Reply,   // send the reply
    Resume,  // the target is running: send stop_reply() when it stops (reply is unused)
    Detach,  // send the reply, close the connection; the target runs freely
    Kill,    // send the reply if any, close the connection and quit Orrery
  };

  explicit Session(cpu::GdbTarget& target) : target_(target) {}

  /// Handles one packet payload (unescaped, checksum already verified).
  Action handle(std::string_view payload, std::string& reply);

  /// The stop reply for e; remembered for '?', and e's thread becomes current. attach: the
  /// stop the debugger caused by connecting (reported as SIGTRAP, as QEMU does).
  std::string stop_reply(const cpu::GdbStopEvent& e, bool attach = false);

  bool no_ack() const { return no_ack_; }
  bool phys_mode() const { return phys_; }

 private:
  /// A thread-id argument: nullopt if malformed; kAll for -1, kAny for 0; else 0-based.
  static constexpr int64_t kAll = -1, kAny = -2;
  std::optional<int64_t> parse_thread(std::string_view s) const;
  unsigned pick_thread(int64_t t) const;  // kAll/kAny -> the current thread

  std::string read_registers();
  std::string write_registers(std::string_view hex);
  std::string read_register(std::string_view args);
  std::string write_register(std::string_view args);
  std::string read_memory(std::string_view args);
  std::string write_memory(std::string_view args, bool binary);
  std::string breakpoint(std::string_view args, bool insert);
  Action resume_legacy(char cmd, std::string_view args, std::string& reply);
  Action vcont(std::string_view args, std::string& reply);
  std::string query(std::string_view p);
  std::string xfer_features(std::string_view args);
  std::string monitor(std::string_view hex);

  cpu::GdbTarget& target_;
  bool no_ack_ = false;
  bool phys_ = false;     // memory packets address guest-physical memory
  unsigned g_thread_ = 0;  // Hg: registers and memory
  unsigned c_thread_ = 0;  // Hc: legacy c/s
  std::string last_stop_ = "S05";
};

}  // namespace orrery::ui::gdbstub
