// perf's JIT symbol map (-d perfmap): /tmp/perf-PID.map, one "ADDR SIZE NAME" line per block
// of baseline code, named by the guest PC, so `perf report` attributes generated code to guest
// code (map guest PCs to guest symbols with the guest's /proc/kallsyms or System.map).
#pragma once

#include <unistd.h>

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>

namespace orrery::tcg::exec {

class PerfMap {
 public:
  PerfMap() = default;
  ~PerfMap() {
    if (file_) std::fclose(file_);
  }
  PerfMap(const PerfMap&) = delete;
  PerfMap& operator=(const PerfMap&) = delete;

  /// Creates /tmp/perf-PID.map (truncated); false with error set when it cannot.
  bool open(std::string& error) {
    const std::string path = "/tmp/perf-" + std::to_string(::getpid()) + ".map";
    file_ = std::fopen(path.c_str(), "w");
    if (!file_) error = "cannot create " + path;
    return file_ != nullptr;
  }
  bool is_open() const { return file_ != nullptr; }

  /// Names [host, host + size) after the guest block at guest_pc.
  void add(const void* host, size_t size, uint64_t guest_pc) {
    if (!file_) return;
    std::lock_guard<std::mutex> g(mu_);
    // Flushed per line: perf reads the file while the process runs or after it was killed.
    std::fprintf(file_, "%" PRIxPTR " %zx guest_%" PRIx64 "\n", reinterpret_cast<uintptr_t>(host),
                 size, guest_pc);
    std::fflush(file_);
  }

 private:
  std::mutex mu_;
  FILE* file_ = nullptr;
};

}  // namespace orrery::tcg::exec
