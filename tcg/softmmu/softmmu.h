// softmmu: the per-vCPU TLB's owner and slow path. Generated code and the interpreter probe the
// TLB inline (tlb.h) and call slow_load/slow_store on a miss; those translate through the guest's
// PageTranslator, refill the entry, and perform MMIO, code-page invalidation and watchpoints.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

#include "tcg/exec/cpu_common.h"
#include "tcg/ir/ir.h"
#include "tcg/softmmu/tlb.h"

#include "hw/core/mmio.h"

namespace orrery::hw {
class AddressSpace;
}

namespace orrery::tcg::softmmu {

enum class Access : uint8_t { Read, Write, Fetch };

/// Result of a guest page-table walk, for one access.
struct Translation {
  uint64_t phys = 0;
  uint64_t page_size = kPageSize;  // bytes this translation covers (its TLB fill granule)
  bool readable = true, writable = true, executable = true;  // for the walked mmu_idx
  uint16_t asid = 0;
  bool global = true;
};

/// Implemented by each guest CPU: turns virtual into physical addresses and raises the guest's
/// own exceptions. The softmmu sets CpuCommon::pc to the faulting instruction's PC before any
/// raise_* call, and the raise sets CpuCommon::pending_exit.
class PageTranslator {
 public:
  virtual ~PageTranslator() = default;
  /// Walks the guest's tables. On a fault, raises it and returns false.
  virtual bool translate(uint64_t vaddr, Access access, unsigned mmu_idx, Translation& out) = 0;
  /// The physical address decoded to nothing or the device refused the access.
  virtual void raise_bus_error(uint64_t vaddr, uint64_t phys, Access access) = 0;
  /// An access that the guest architecture requires to be aligned was not.
  virtual void raise_alignment_fault(uint64_t vaddr, Access access) = 0;
  /// An access whose instruction demands alignment whatever the guest's alignment checking
  /// (ir::MemOp::required: x86 MOVAPS and legacy-SSE 16-byte operands, #GP(0)) was not
  /// aligned. Checked before translation.
  virtual void raise_required_alignment_fault(uint64_t vaddr, Access access) {
    raise_alignment_fault(vaddr, access);
  }
  /// One of the guest's own (architectural) watchpoints matched a data access at vaddr, which
  /// has not happened (see Softmmu::set_arch_watchpoints); hit is the watched address.
  virtual void raise_watchpoint(uint64_t vaddr, uint64_t hit, Access access) {
    (void)vaddr, (void)hit, (void)access;
  }
  /// For debuggers and loaders: translates without raising anything or touching guest state;
  /// false if vaddr is unmapped. The default is the flat (MMU off) mapping; a guest with a
  /// page-table walk overrides it.
  virtual bool debug_translate(uint64_t vaddr, unsigned mmu_idx, uint64_t& phys) {
    (void)mmu_idx;
    phys = vaddr;
    return true;
  }
};

/// A debugger watchpoint hit by a data access.
struct WatchHit {
  uint64_t addr = 0;  // the watched address the access touched
  uint8_t kind = 0;   // gdb's Z type: 2 write, 3 read, 4 access
};

/// The debugger's watchpoints, as the slow path sees them (tcg/exec/debug.h implements it).
class WatchpointChecker {
 public:
  virtual ~WatchpointChecker() = default;
  virtual bool any_watchpoints() const = 0;
  /// Some watchpoint covers part of the virtual page: its TLB entries get kTlbWatch.
  virtual bool page_watched(uint64_t vpage) const = 0;
  virtual bool watch_hit(uint64_t vaddr, unsigned size, bool write, WatchHit& hit) const = 0;
};

/// Tracks which physical pages hold translated code; shared by all vCPUs of a machine.
class CodePageTracker {
 public:
  virtual ~CodePageTracker() = default;
  virtual bool is_code_page(uint64_t phys_page) const = 0;
  /// A guest write hit [phys, phys+len): drop the blocks translated from it.
  virtual void invalidate_phys(uint64_t phys, uint64_t len) = 0;
  /// The same for a store by the instruction at virtual running_pc; true when a dropped block
  /// (or a region compiled with one) contains running_pc: the store may be rewriting the block
  /// that runs it (precise self-modifying code, see Softmmu::set_code_write_retry).
  virtual bool invalidate_phys_from(uint64_t phys, uint64_t len, uint64_t running_pc) {
    (void)running_pc;
    invalidate_phys(phys, len);
    return false;
  }
};

class Softmmu {
 public:
  Softmmu(CpuCommon& cpu, hw::AddressSpace& as, PageTranslator& translator);
  ~Softmmu();

  void set_code_tracker(CodePageTracker* t) { code_ = t; }
  void set_watchpoints(const WatchpointChecker* w) { watch_ = w; }
  /// The attributes of this vCPU's device accesses (its index as requester).
  void set_attrs(const hw::MemAttrs& a) { attrs_ = a; }
  const hw::MemAttrs& attrs() const { return attrs_; }
  /// The guest architecture's own watchpoints (debug registers): a hit raises the guest's
  /// exception through PageTranslator::raise_watchpoint. The debugger's come first. Call
  /// flush_all() when the set of watched pages changes.
  void set_arch_watchpoints(const WatchpointChecker* w) { arch_watch_ = w; }
  /// The watchpoint that made the last access stop with PendingExit::Debug.
  const WatchHit& watch_hit() const { return watch_hit_; }

  uint64_t load(uint64_t vaddr, ir::MemOp m, uint64_t insn_pc);
  void store(uint64_t vaddr, uint64_t value, ir::MemOp m, uint64_t insn_pc);
  /// VecLoad/VecStore off the TLB fast path: m.size() bytes (16 or 32) at vaddr to or from data
  /// (quadwords, low first). Alignment faults come first (MemOp::required, then the guest's
  /// MemOp::align check at align_bytes()), then every page the access touches is translated
  /// before any byte
  /// moves: a fault on the second page leaves memory unchanged. False after a fault
  /// (pending_exit set).
  bool load_vec(uint64_t vaddr, ir::MemOp m, uint64_t insn_pc, uint64_t* data);
  bool store_vec(uint64_t vaddr, const uint64_t* data, ir::MemOp m, uint64_t insn_pc);

  /// The host address of a RAM location for an atomic read-modify-write (exclusives, atomics):
  /// translates for writing (raising faults: then null with pending_exit set) and invalidates
  /// translated code there. Null without pending_exit when the location is not plain RAM
  /// (MMIO, ROM, a watched page): the caller then uses load/store.
  uint8_t* atomic_host(uint64_t vaddr, unsigned size, unsigned mmu_idx, uint64_t insn_pc);

  /// The host address of [vaddr, vaddr + len), within one page, for a helper that moves many
  /// elements at once (x86 REP MOVS/STOS): translates for `access` as the first element's access
  /// would (raising its fault: then null with pending_exit set). Null without pending_exit when
  /// the range is not plain RAM the fast path could touch (MMIO, a write to ROM or to a page
  /// holding translated code, a watched page, a range crossing a page): the caller then goes
  /// element by element through load/store, which handle those.
  uint8_t* bulk_host(uint64_t vaddr, uint64_t len, Access access, unsigned mmu_idx,
                     uint64_t insn_pc);

  /// AtomicRmw/AtomicCmpxchg off the TLB fast path: kind is an ir::AtomicOp or
  /// kAtomicCmpxchg. On RAM it is a host atomic; on MMIO, ROM, a watched page or across a page
  /// it is a read then a write (each atomic only as the device or byte makes it). Returns the
  /// old value; after a fault, 0 with pending_exit set.
  uint64_t atomic(uint64_t vaddr, ir::MemOp m, unsigned kind, uint64_t operand, uint64_t expected,
                  uint64_t insn_pc);
  /// A 16-byte compare-exchange (CMPXCHG16B) for helpers: where the 16 bytes at vaddr equal
  /// expected (low quadword first), writes desired. Returns false after raising a fault
  /// (pending_exit set); otherwise expected holds the old memory value.
  bool atomic_cmpxchg16(uint64_t vaddr, unsigned mmu_idx, uint64_t expected[2],
                        const uint64_t desired[2], uint64_t insn_pc);

  /// Instruction fetch for the translator: translates vaddr for mmu_idx and returns a host
  /// pointer to the rest of its page (null after raising an instruction abort: then phys is
  /// undefined). Code must be in RAM or ROM. insn_pc is the PC the fault reports (the start of
  /// the instruction that needs vaddr; by default vaddr itself).
  const uint8_t* fetch_page(uint64_t vaddr, unsigned mmu_idx, uint64_t& phys);
  const uint8_t* fetch_page(uint64_t vaddr, unsigned mmu_idx, uint64_t& phys, uint64_t insn_pc);
  /// fetch_page without side effects: only from the TLB (no walk, nothing raised); null when
  /// the page is not there with execute permission or is not RAM/ROM.
  const uint8_t* probe_fetch(uint64_t vaddr, unsigned mmu_idx, uint64_t& phys);

  /// Precise self-modifying code. A store (or atomic) whose slow path drops a block containing
  /// the storing instruction's PC does not happen: the softmmu sets cpu.pc to that PC and
  /// PendingExit::CodeModified, and the dispatcher re-runs the instruction as a block of its
  /// own with this flag set, so the store then goes through and the block ends after it.
  void set_code_write_retry(bool on) { code_write_retry_ = on; }
  /// A block reaching into the next page may sit in this vCPU's jump cache: flush_page then
  /// also drops the previous page's entries (the block's first page).
  void note_two_page_block() { two_page_blocks_ = true; }
  /// The dispatcher put the block at pc, just fetched through fetch_page(pc, mmu_idx), in the
  /// jump cache (two_pages: the block runs on into the next page). flush_asid keeps the
  /// jump-cache slots last filled with blocks on global pages, whose mappings it keeps.
  void note_jump_cache_fill(uint64_t pc, unsigned mmu_idx, bool two_pages);

  /// The jump caches (CpuCommon::jump_cache), one per TLB context, are this softmmu's: each
  /// dispatcher calls this as it starts (emptying them). Without it the jump cache, if any, is
  /// the caller's, and an ASID switch empties it (see switch_asid).
  void enable_jump_cache();
  /// Every context's jump cache: all slots, or the slot of the block at pc if it holds tb.
  /// Any thread may call these.
  void flush_jump_caches();
  void invalidate_jump_cache(uint64_t pc, const exec::TranslationBlock* tb);

  /// The guest's current ASID became asid. The TLB keeps kContexts address spaces, each with
  /// its own table and jump cache: switching back to a recent ASID finds its entries (an
  /// arm64 kernel with KPTI switches between its own and the user's ASID at every system
  /// call). Another ASID takes a context holding only global entries, else a new one, else
  /// the least recently used, dropping its non-global entries. Changes CpuCommon::tlb and
  /// jump_cache: call it only from a helper whose block then returns to the dispatcher
  /// (baseline code keeps the table pointer across a chain).
  void switch_asid(uint16_t asid);
  // bench/procs.sh (a shell starting pipelines) with KPTI, so two ASIDs a process, took 5.6 s
  // with one context and 3.9-4.0 s with 2 or 4; 8 took 4.1 s, and 3.5 s instead of 3.3 without
  // KPTI (each context's jump cache, 4 MiB then, 2 MiB now, is memory to fault in and to keep
  // in cache).
  static constexpr unsigned kContexts = 4;

  void flush_all();
  void flush_page(uint64_t vaddr);  // every mmu_idx
  /// Every page of [vaddr, vaddr + size) in every mmu_idx: size is a power of two of at least
  /// a page and vaddr is aligned to it (a guest's large page, whose 4K pieces the TLB holds).
  void flush_range(uint64_t vaddr, uint64_t size);
  void flush_asid(uint16_t asid);  // non-global entries of one ASID, in every context
  void flush_mmu_idx(unsigned mmu_idx);
  /// Marks the write entries of a page that just gained code so writes take the slow path.
  void protect_code_page(uint64_t phys_page);

  /// Debug access (gdb, loaders) through PageTranslator::debug_translate (or physical when
  /// phys); never raises; false if any byte is unmapped. Writes invalidate translated code.
  bool debug_access(uint64_t vaddr, unsigned mmu_idx, uint8_t* buf, uint64_t len, bool write,
                    bool phys = false);

  CpuCommon& cpu() { return cpu_; }
  hw::AddressSpace& address_space() { return as_; }
  PageTranslator& translator() { return translator_; }

 private:
  struct Aux {
    uint64_t phys_page = 0;
    uint16_t asid = 0;
    bool global = true;
  };
  // A small fully associative victim TLB per MMU index (as QEMU's): entries evicted from the
  // direct-mapped table land here, so two pages that share an index (a memcpy between buffers a
  // multiple of the TLB's reach apart) do not refill on every access.
  static constexpr unsigned kVictims = 8;
  struct Victim {
    TlbEntry e;
    Aux aux;
  };
  // Jump-cache slots that may hold a block on a non-global page (one bit per slot), the groups
  // holding any such slot (one bit per group): what dropping an ASID must clear. Per slot, so
  // that it keeps the kernel's global blocks that share a group with user code (it cleared
  // whole groups, and with them ~80% of the kernel's entries: 2.6M extra dispatcher lookups
  // in bench/procs.sh).
  static_assert(kJumpCacheEntries >> kJumpCacheGroupBits == 64);
  static constexpr unsigned kJcWordsPerGroup = kJumpCacheGroupSize / 64;
  static constexpr unsigned kJcPageFilterWords = 4;
  struct JcMarks {
    uint64_t groups = 0;
    uint64_t slots[kJumpCacheEntries / 64] = {};
  };
  // A filter of the physical pages a context's entries (victims included) map, a bit per page
  // hash: set by fill(), cleared by a flush of everything. protect_code_page() (from the
  // thread that registers a page's first block, ~1.7k pages an arm64 boot) scans a context's
  // entries only when the page's bit is set. Entries dropped elsewhere leave their bit set.
  static constexpr unsigned kPhysFilterBits = 1u << 16;
  static unsigned phys_bit(uint64_t phys_page) {
    return unsigned(phys_page >> kPageBits) & (kPhysFilterBits - 1);
  }
  static constexpr uint32_t kNoAsid = ~0u;
  /// One address space: a TLB table and its jump cache. A context holds global entries and
  /// the non-global entries of one ASID (asid; kNoAsid until its first non-global fill), or,
  /// once mixed, of several (a guest that does not report its switches: x86's PCIDs, or an
  /// ASID changed behind the softmmu's back by a reset or the debugger).
  struct Context {
    TlbTable table;
    Aux aux[kNumMmuIdx * kTlbEntries];
    Victim victims[kNumMmuIdx * kVictims];
    unsigned victim_next[kNumMmuIdx] = {};
    uint32_t filled_mmu_idx = (1u << kNumMmuIdx) - 1;  // uninitialised: all to clear
    uint32_t asid = kNoAsid;
    bool mixed = false;
    uint64_t last_use = 0;
    std::unique_ptr<JumpCacheEntry[]> jc_storage;
    std::atomic<JumpCacheEntry*> jc{nullptr};  // published once filled with invalid slots
    JcMarks nonglobal_jc;
    JcMarks filled_jc;  // filled since the last full flush: cleared instead of all 64K slots
    // Per jump-cache group, a 256-bit filter of the pages its blocks start on: set at every
    // fill, rebuilt when flush_page scans the group. flush_page (a guest TLBI by VA: 106k in
    // an arm64 Linux boot, most naming data pages) scans a group's 1024 slots only when the
    // page's bit is set.
    uint64_t jc_pages[kJumpCacheEntries >> kJumpCacheGroupBits][kJcPageFilterWords] = {};
    std::atomic<uint64_t> phys_filter[kPhysFilterBits / 64] = {};
  };
  static unsigned jc_page_bit(uint64_t page) {
    return unsigned(((page >> 12) * 0x9E3779B97F4A7C15ull) >> 56);  // 0..255
  }
  bool fill(uint64_t vaddr, Access access, unsigned mmu_idx, uint64_t insn_pc);
  /// Brings vaddr's entry into the table: from the victim TLB if there, else by fill().
  bool refill(uint64_t vaddr, Access access, unsigned mmu_idx, uint64_t insn_pc);
  bool victim_swap(uint64_t vaddr, Access access, unsigned mmu_idx);
  uint64_t access_slow(uint64_t vaddr, uint64_t value, ir::MemOp m, Access a, uint64_t insn_pc);
  /// Translates both pages of an access that crosses from vaddr's page into the next (refilling
  /// their TLB entries) and checks both decode; false after raising the fault.
  bool probe_two_pages(uint64_t vaddr, ir::MemOp m, Access a, uint64_t insn_pc);
  bool access_vec(uint64_t vaddr, uint64_t* data, ir::MemOp m, Access a, uint64_t insn_pc);

  /// The contexts created so far (the rest are null); the owner creates them, other threads
  /// (protect_code_page, the jump-cache calls) only read them.
  template <typename F>
  void for_each_context(F&& f) {
    for (auto& c : contexts_)
      if (Context* p = c.load(std::memory_order_acquire)) f(*p);
  }
  Context& new_context();
  /// Allocates c's jump cache (jc_owned_), all slots invalid and no marks.
  void give_jump_cache(Context& c);
  void activate(Context& c);
  JumpCacheEntry* jc_of(Context& c) { return &c == cur_ ? cpu_.jump_cache : c.jc.load(); }
  void flush_context(Context& c);
  /// Drops c's non-global entries of asid (of any ASID when asid is kNoAsid), and the
  /// jump-cache slots that may hold their blocks.
  void flush_context_asid(Context& c, uint32_t asid);
  /// Invalidates the slots of jc marked in `marks` (none when jc is null) and clears the marks.
  void clear_marked_jc_slots(JumpCacheEntry* jc, JcMarks& marks);

  CpuCommon& cpu_;
  hw::AddressSpace& as_;
  PageTranslator& translator_;
  CodePageTracker* code_ = nullptr;
  const WatchpointChecker* watch_ = nullptr;
  hw::MemAttrs attrs_;
  const WatchpointChecker* arch_watch_ = nullptr;
  /// A debugger or guest watchpoint stops the access (pending_exit set, PC at insn_pc).
  bool watch_stops(uint64_t vaddr, unsigned size, Access a, uint64_t insn_pc);
  WatchHit watch_hit_;
  bool code_write_retry_ = false;
  bool two_page_blocks_ = false;
  bool jc_owned_ = false;
  std::atomic<Context*> contexts_[kContexts] = {};
  std::unique_ptr<Context> owned_[kContexts];
  Context* cur_ = nullptr;
  uint64_t use_clock_ = 0;
  TlbEntry& tlb_entry(unsigned mmu_idx, unsigned idx) { return cur_->table[mmu_idx][idx]; }
  Aux& tlb_aux(unsigned mmu_idx, unsigned idx) { return cur_->aux[mmu_idx * kTlbEntries + idx]; }
  /// A store to [phys, phys+len) of a code page: invalidates and returns false when the store
  /// must not happen (PendingExit::CodeModified is set).
  bool code_write(uint64_t phys, uint64_t len, uint64_t insn_pc);
};

/// Entry points called by generated code and the interpreter on a TLB miss. After either returns,
/// the caller checks cpu->pending_exit. slow_load returns the loaded bytes zero-extended; the
/// caller applies MemOp::sign itself, exactly as on the fast path.
uint64_t slow_load(CpuCommon* cpu, uint64_t vaddr, uint64_t memop, uint64_t insn_pc);
void slow_store(CpuCommon* cpu, uint64_t vaddr, uint64_t value, uint64_t memop, uint64_t insn_pc);

/// The widest VecLoad/VecStore (I256).
inline constexpr unsigned kMaxVecBytes = 32;

/// VecLoad/VecStore slow paths: the MemOp's 16 or 32 bytes into or from data[0..1] or
/// data[0..3] (low quadword first); a faulting load leaves zeroes.
void slow_load_vec(CpuCommon* cpu, uint64_t vaddr, uint64_t memop, uint64_t insn_pc,
                   uint64_t* data);
void slow_store_vec(CpuCommon* cpu, uint64_t vaddr, const uint64_t* data, uint64_t memop,
                    uint64_t insn_pc);

/// Atomic slow path for generated code: desc is atomic_desc(memop, kind); returns the old value.
uint64_t slow_atomic(CpuCommon* cpu, uint64_t vaddr, uint64_t operand, uint64_t expected,
                     uint64_t desc, uint64_t insn_pc);
/// The `kind` of an AtomicCmpxchg (AtomicRmw's is its ir::AtomicOp).
constexpr unsigned kAtomicCmpxchg = ir::kNumAtomicOps;
constexpr uint64_t atomic_desc(uint64_t memop, unsigned kind) {
  return memop | (uint64_t(kind) << 32);
}

/// A host atomic on guest RAM at host (size 1, 2, 4 or 8 bytes); returns the old value.
inline uint64_t host_atomic(uint8_t* host, unsigned size, unsigned kind, uint64_t operand,
                            uint64_t expected) {
  auto run = [&]<typename T>(T*) -> uint64_t {
    T* p = reinterpret_cast<T*>(host);
    const T v = T(operand);
    constexpr int kSeq = __ATOMIC_SEQ_CST;
    switch (kind) {
      case unsigned(ir::AtomicOp::Add):
        return __atomic_fetch_add(p, v, kSeq);
      case unsigned(ir::AtomicOp::And):
        return __atomic_fetch_and(p, v, kSeq);
      case unsigned(ir::AtomicOp::Or):
        return __atomic_fetch_or(p, v, kSeq);
      case unsigned(ir::AtomicOp::Xor):
        return __atomic_fetch_xor(p, v, kSeq);
      case unsigned(ir::AtomicOp::Xchg):
        return __atomic_exchange_n(p, v, kSeq);
      default: {
        T old = T(expected);
        __atomic_compare_exchange_n(p, &old, v, false, kSeq, kSeq);
        return old;
      }
    }
  };
  switch (size) {
    case 1:
      return run(static_cast<uint8_t*>(nullptr));
    case 2:
      return run(static_cast<uint16_t*>(nullptr));
    case 4:
      return run(static_cast<uint32_t*>(nullptr));
    default:
      return run(static_cast<uint64_t*>(nullptr));
  }
}

/// The TLB compare value of an access at vaddr, with A = MemOp::fast_align(): the page of the
/// access's last A-aligned block with the low log2(A) address bits. A misaligned access (when
/// alignment is asked for) misses and the slow path faults it; an access that runs into the
/// next page misses (the slot of vaddr's page never holds the next page); a misaligned access
/// within one page without alignment asked for hits (x86 code makes millions). For A = 1 it is
/// the page of the last byte, for A = size vaddr with its low bits; a 32-byte access with only
/// the guest's 16-byte check compares vaddr + 16. The baseline and LLVM tiers emit the same
/// for VecLoad/VecStore and plain loads and stores.
inline uint64_t tlb_compare_value(uint64_t vaddr, ir::MemOp m) {
  const uint64_t a = m.fast_align();
  return (vaddr + m.size() - a) & (kPageMask | (a - 1));
}
inline uint8_t* tlb_hit_vec(const CpuCommon* cpu, uint64_t vaddr, ir::MemOp m, bool write) {
  const TlbEntry& e = (*cpu->tlb)[m.mmu_idx][tlb_index(vaddr)];
  if (tlb_compare_value(vaddr, m) != (write ? e.addr_write : e.addr_read)) return nullptr;
  return reinterpret_cast<uint8_t*>(vaddr + e.addend);
}

/// The inline fast path shared by the interpreter (the LLVM tier emits the same sequence).
inline uint8_t* tlb_hit(const CpuCommon* cpu, uint64_t vaddr, ir::MemOp m, bool write) {
  const TlbEntry& e = (*cpu->tlb)[m.mmu_idx][tlb_index(vaddr)];
  uint64_t cmp = vaddr & (kPageMask | (m.size() - 1));
  if (cmp != (write ? e.addr_write : e.addr_read)) return nullptr;
  return reinterpret_cast<uint8_t*>(vaddr + e.addend);
}

}  // namespace orrery::tcg::softmmu
