// What a guest CPU supplies to the translation engine: a translator from guest code to IR.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>

#include "tcg/exec/cpu_common.h"
#include "tcg/ir/ir.h"

namespace orrery::tcg::exec {

/// Guest code bytes available to one translation: the rest of the page holding the block's
/// first instruction and, when the frontend asks with extend(), the next page, so that a block
/// may span two pages (an x86 instruction can cross a page boundary). Never more than two.
///
/// The protocol for an instruction that reaches past the first page (see docs/design.md):
///   - call extend(); when it returns true, read() and copy() reach into the second page and
///     the engine registers both pages for self-modifying code;
///   - when it returns false the second page cannot be fetched now (unmapped, no execute
///     permission, or not in the TLB): end the block before the crossing instruction (a Jump to
///     its PC) or, when it is the block's first instruction, end the block with
///     Terminal::Exit{reason = ExitReason::FetchFault, target = its PC}. The engine then performs
///     the fetch of the second page through the guest's PageTranslator with the instruction's
///     PC as the faulting PC (so the exception returns to the instruction's start), and
///     translates again if that fetch succeeds. Such a block never runs and is not cached.
class CodeReader {
 public:
  /// Fetches the page at page_vaddr for execution without raising anything; returns its host
  /// bytes (kPageSize of them) and physical address, or null.
  using PageFetcher = std::function<const uint8_t*(uint64_t page_vaddr, uint64_t& phys)>;

  /// One page only (extend() fails), e.g. for tests that translate from a buffer.
  CodeReader(uint64_t vaddr, const uint8_t* host, uint64_t len)
      : base_(vaddr), host_(host), len_(len) {}
  /// The first page's bytes from vaddr to the page end (len), and a fetcher for the next page.
  CodeReader(uint64_t vaddr, const uint8_t* host, uint64_t len, PageFetcher next_page)
      : base_(vaddr), host_(host), len_(len), fetch_next_(std::move(next_page)) {}

  /// Little-endian read; nullopt when [vaddr, vaddr+n) leaves the bytes available.
  template <typename T>
  std::optional<T> read(uint64_t vaddr) const {
    T v;
    if (vaddr >= base_ && vaddr - base_ < len_ && sizeof(T) <= len_ - (vaddr - base_)) {
      std::memcpy(&v, host_ + (vaddr - base_), sizeof(T));  // the common case: first page
      return v;
    }
    if (copy(vaddr, reinterpret_cast<uint8_t*>(&v), sizeof(T)) != sizeof(T)) return std::nullopt;
    return v;
  }
  bool contains(uint64_t vaddr, uint64_t n) const {
    return vaddr >= base_ && vaddr - base_ <= avail() && n <= avail() - (vaddr - base_);
  }
  /// Copies up to n bytes from vaddr (stopping where the available bytes end: the first page's
  /// end unless extend() succeeded); returns how many. A decoder that wants a window (x86: 15
  /// bytes) copies it and calls extend() only when the instruction really goes on.
  size_t copy(uint64_t vaddr, uint8_t* out, size_t n) const {
    if (vaddr < base_ || vaddr - base_ >= avail()) return 0;
    uint64_t off = vaddr - base_;
    const size_t got = size_t(std::min<uint64_t>(n, avail() - off));
    for (size_t i = 0; i < got; ++i, ++off) out[i] = off < len_ ? host_[off] : host2_[off - len_];
    return got;
  }

  /// The virtual address where the first page ends (the second page starts).
  uint64_t page_end() const { return base_ + len_; }
  /// Asks for the next page; true when its bytes are available (now or already).
  bool extend() const {
    if (host2_) return true;
    if (!fetch_next_ || tried_) return false;
    tried_ = true;
    host2_ = fetch_next_(page_end(), phys2_);
    return host2_ != nullptr;
  }
  /// Gives the next page back (a block that looked ahead and ends at the first page's end);
  /// extend() then fails.
  void unextend() const { host2_ = nullptr; }
  /// Whether extend() succeeded, and the second page's physical address if so.
  bool extended() const { return host2_ != nullptr; }
  uint64_t second_page_phys() const { return phys2_; }
  /// Whether extend() was asked and failed (the engine then expects a FetchFault exit or a
  /// block ending before the crossing instruction).
  bool extend_failed() const { return tried_ && !host2_; }

 private:
  uint64_t avail() const { return len_ + (host2_ ? softmmu::kPageSize : 0); }

  uint64_t base_;
  const uint8_t* host_;
  uint64_t len_;
  PageFetcher fetch_next_;
  mutable const uint8_t* host2_ = nullptr;
  mutable uint64_t phys2_ = 0;
  mutable bool tried_ = false;
};

/// Terminal::arg of the ExitReason::Breakpoint exit a frontend emits for a debugger
/// breakpoint (guest BRK immediates are narrower, so they never collide).
constexpr uint64_t kDebugBreakpointArg = 0xffffffff;

struct TranslateOptions {
  unsigned max_insns = 512;  // 1 for single-step
  /// Debugger breakpoints (empty when none): the block must end before an instruction at a
  /// PC for which this is true, or, if it is the block's first, be only
  /// exit(ExitReason::Breakpoint, pc, kDebugBreakpointArg).
  std::function<bool(uint64_t)> stop_before;
};

class Frontend {
 public:
  virtual ~Frontend() = default;
  /// Translates the block at cpu.pc in mode cpu.tb_flags into b (guest_pc is preset). Must end
  /// b with a terminal. Undecodable or unimplemented instructions end the block with
  /// ExitReason::Undefined at their PC (or raise the guest's exception once it has one).
  virtual void translate(CpuCommon& cpu, const CodeReader& code, const TranslateOptions& opt,
                         ir::Block& b) = 0;
  /// The MMU index used for instruction fetch in the current mode.
  virtual unsigned fetch_mmu_idx(const CpuCommon& cpu) const = 0;
  /// Recomputes cpu.tb_flags from the guest's mode registers.
  virtual uint64_t compute_tb_flags(const CpuCommon& cpu) const = 0;
  /// The code-segment base the current mode's translations depend on (QEMU's cs_base; part of
  /// the block key). Read whenever tb_flags is recomputed, so a change to it follows the same
  /// rule: it happens outside generated code, or the block ends with ExitReason::Lookup.
  virtual uint64_t cs_base(const CpuCommon& cpu) const {
    (void)cpu;
    return 0;
  }
  /// Disassembles one instruction for -d in_asm (may be empty).
  virtual std::string disassemble(uint64_t pc, const uint8_t* bytes, size_t len) const {
    (void)pc, (void)bytes, (void)len;
    return {};
  }
};

}  // namespace orrery::tcg::exec
