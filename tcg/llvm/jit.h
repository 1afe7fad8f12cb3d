// The LLVM tier's code generator: lowers translation blocks to LLVM IR, optimises them with a
// small function pipeline and compiles them with ORC LLJIT for the host. LLVM headers stay in
// the .cpp files; users only see this interface.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "tcg/exec/tb.h"
#include "tcg/softmmu/softmmu.h"

namespace orrery::tcg::llvm {

struct JitOptions {
  // LLVM code generator level: 0 None (FastISel), 1 Less, 2 Default, 3 Aggressive.
  unsigned codegen_level = 1;
  bool run_passes = true;  // the IR function pipeline (InstCombine, EarlyCSE, GVN, ...)
  // FastISel instruction selection (falls back to SelectionDAG per instruction where it must);
  // the rest of the code generator still runs at codegen_level.
  bool fast_isel = true;
  // TLB-miss entry points; tests substitute their own to observe misses.
  uint64_t (*slow_load)(CpuCommon*, uint64_t, uint64_t, uint64_t) = &softmmu::slow_load;
  void (*slow_store)(CpuCommon*, uint64_t, uint64_t, uint64_t, uint64_t) = &softmmu::slow_store;
};

class LlvmJit {
 public:
  static std::unique_ptr<LlvmJit> create(std::string& error);
  static std::unique_ptr<LlvmJit> create(const JitOptions& opt, std::string& error);
  ~LlvmJit();
  LlvmJit(const LlvmJit&) = delete;
  LlvmJit& operator=(const LlvmJit&) = delete;

  /// Compiles tb (its IR must stay unchanged during the call; tb itself must outlive the code,
  /// which embeds &tb and &tb.link). Returns null and sets *error on failure. Thread-safe.
  exec::NativeFn compile(const exec::TranslationBlock& tb, std::string* error);

  /// Compiles several blocks as one module: one object and shared code pages, so cheaper per
  /// block in both time and memory. out[i] receives tbs[i]'s code, or null on failure (with
  /// (*errors)[i] set when errors is given). Thread-safe.
  void compile_batch(std::span<const exec::TranslationBlock* const> tbs,
                     std::span<exec::NativeFn> out, std::vector<std::string>* errors);

  /// The LLVM IR of tb's function, before or after the function pipeline (debugging, tests).
  std::string ir_text(const exec::TranslationBlock& tb, bool optimized, std::string* error);

  /// Frees the machine code of every block compiled so far (translation-cache flush). Only
  /// when nothing can run it any more: no thread is inside generated code, and no
  /// TranslationBlock::native/link or jump-cache entry still points into it. Returns an error
  /// message, or empty.
  std::string release_all_code();

  struct Stats {
    uint64_t blocks = 0;  // compiled successfully
    uint64_t failures = 0;
    uint64_t modules = 0;
    uint64_t lower_us = 0;    // IR -> LLVM IR, including the verifier
    uint64_t opt_us = 0;      // function pipeline
    uint64_t codegen_us = 0;  // machine code and linking
  };
  Stats stats() const;

 private:
  struct Impl;
  explicit LlvmJit(std::unique_ptr<Impl> impl);

  mutable std::mutex mu_;  // LLVM state below is used by one thread at a time
  std::unique_ptr<Impl> impl_;
};

}  // namespace orrery::tcg::llvm
