#include "tcg/softmmu/softmmu.h"

#include <atomic>

#include <cstring>
#include <utility>

#include "hw/core/address_space.h"
#include "hw/core/host_access.h"

namespace orrery::tcg::softmmu {

namespace {

constexpr TlbEntry kEmpty{kTlbInvalid, kTlbInvalid, kTlbInvalid, 0};

uint64_t page_of(uint64_t a) {
  return a & kPageMask;
}

bool is_empty(const TlbEntry& e) {
  return (e.addr_read & e.addr_write & e.addr_code & kTlbInvalid) != 0;
}

uint64_t compare_of(const TlbEntry& e, Access a) {
  return a == Access::Write ? e.addr_write : a == Access::Fetch ? e.addr_code : e.addr_read;
}

}  // namespace

Softmmu::Softmmu(CpuCommon& cpu, hw::AddressSpace& as, PageTranslator& translator)
    : cpu_(cpu), as_(as), translator_(translator) {
  cpu_.mmu = this;
  activate(new_context());
}

Softmmu::~Softmmu() {
  if (cpu_.tlb == &cur_->table) cpu_.tlb = nullptr;
  if (cpu_.mmu == this) cpu_.mmu = nullptr;
  if (jc_owned_) cpu_.jump_cache = nullptr;
}

Softmmu::Context& Softmmu::new_context() {
  unsigned i = 0;
  while (owned_[i]) ++i;  // the caller checked that one is free
  owned_[i] = std::make_unique<Context>();
  Context& c = *owned_[i];
  flush_context(c);  // the table starts uninitialised
  if (jc_owned_) give_jump_cache(c);
  contexts_[i].store(&c, std::memory_order_release);
  return c;
}

void Softmmu::give_jump_cache(Context& c) {
  c.jc_storage.reset(new JumpCacheEntry[kJumpCacheEntries]);
  c.jc.store(c.jc_storage.get(), std::memory_order_release);
  clear_marked_jc_slots(nullptr, c.nonglobal_jc);  // marks made before it: nothing to clear
  clear_marked_jc_slots(nullptr, c.filled_jc);
  std::memset(c.jc_pages, 0, sizeof c.jc_pages);
}

void Softmmu::activate(Context& c) {
  cur_ = &c;
  c.last_use = ++use_clock_;
  cpu_.tlb = &c.table;
  if (jc_owned_) cpu_.jump_cache = c.jc.load(std::memory_order_relaxed);
}

void Softmmu::enable_jump_cache() {
  if (jc_owned_) {  // a new dispatcher, whose blocks are not the old one's
    flush_jump_caches();
    return;
  }
  jc_owned_ = true;
  for_each_context([&](Context& c) { give_jump_cache(c); });
  cpu_.jump_cache = cur_->jc.load(std::memory_order_relaxed);
}

void Softmmu::flush_jump_caches() {
  for_each_context([&](Context& c) {
    if (JumpCacheEntry* jc = c.jc.load(std::memory_order_acquire))
      for (unsigned i = 0; i < kJumpCacheEntries; ++i)
        jc[i].pc.store(JumpCacheEntry::kInvalidPc, std::memory_order_relaxed);
  });
}

void Softmmu::invalidate_jump_cache(uint64_t pc, const exec::TranslationBlock* tb) {
  const unsigned slot = jump_cache_index(pc);
  for_each_context([&](Context& c) {
    JumpCacheEntry* jc = c.jc.load(std::memory_order_acquire);
    if (jc && jc[slot].tb == tb)
      jc[slot].pc.store(JumpCacheEntry::kInvalidPc, std::memory_order_release);
  });
}

void Softmmu::switch_asid(uint16_t asid) {
  Context& cur = *cur_;
  if (cur.asid == asid && !cur.mixed) return;
  const bool external_jc = !jc_owned_ && cpu_.jump_cache;
  if (cur.mixed || external_jc) {
    // Its entries' ASIDs are unknown, or the jump cache is the caller's and so shared by every
    // context: it keeps its global entries only, and then serves asid in place.
    flush_context_asid(cur, kNoAsid);
    cur.mixed = false;
    cur.asid = kNoAsid;
    if (external_jc) {
      cur.asid = asid;
      return;
    }
  }
  Context* best = nullptr;
  for_each_context([&](Context& c) {
    if (c.asid == asid && !c.mixed) best = &c;
  });
  // Else one holding only global entries (they serve any ASID), this one first, then a new
  // one, then the least recently used.
  if (!best && cur.asid == kNoAsid) best = &cur;
  if (!best)
    for_each_context([&](Context& c) {
      if (c.asid == kNoAsid) best = &c;
    });
  if (!best && !owned_[kContexts - 1]) best = &new_context();
  if (!best) {
    for_each_context([&](Context& c) {
      if (&c != cur_ && (!best || c.last_use < best->last_use)) best = &c;
    });
    flush_context_asid(*best, kNoAsid);
    best->mixed = false;
  }
  best->asid = asid;
  activate(*best);
}

void Softmmu::flush_context(Context& c) {
  for (uint32_t m = c.filled_mmu_idx; m; m &= m - 1)
    for (TlbEntry& e : c.table[unsigned(__builtin_ctz(m))]) e = kEmpty;
  c.filled_mmu_idx = 0;
  c.asid = kNoAsid;
  c.mixed = false;
  clear_marked_jc_slots(nullptr, c.nonglobal_jc);  // the filled slots are cleared below
  for (Victim& v : c.victims) v.e = kEmpty;
  for (auto& w : c.phys_filter) w.store(0, std::memory_order_relaxed);
  if (JumpCacheEntry* jc = jc_of(c)) {
    clear_marked_jc_slots(jc, c.filled_jc);
    std::memset(c.jc_pages, 0, sizeof c.jc_pages);
  }
}

void Softmmu::flush_all() {
  for_each_context([&](Context& c) { flush_context(c); });
}

void Softmmu::clear_marked_jc_slots(JumpCacheEntry* jc, JcMarks& marks) {
  for (uint64_t g = marks.groups; g; g &= g - 1) {
    const unsigned first = unsigned(__builtin_ctzll(g)) * kJcWordsPerGroup;
    for (unsigned w = first; w < first + kJcWordsPerGroup; ++w) {
      for (uint64_t bits = jc ? marks.slots[w] : 0; bits; bits &= bits - 1)
        jc[w * 64 + unsigned(__builtin_ctzll(bits))].pc.store(JumpCacheEntry::kInvalidPc,
                                                              std::memory_order_relaxed);
      marks.slots[w] = 0;
    }
  }
  marks.groups = 0;
}

void Softmmu::flush_page(uint64_t vaddr) {
  const uint64_t page = page_of(vaddr);
  const unsigned idx = tlb_index(vaddr);
  auto hit = [&](const TlbEntry& e) {
    return page_of(e.addr_read) == page || page_of(e.addr_write) == page ||
           page_of(e.addr_code) == page;
  };
  for_each_context([&](Context& c) {
    for (unsigned m = 0; m < kNumMmuIdx; ++m)
      if (hit(c.table[m][idx])) c.table[m][idx] = kEmpty;
    for (Victim& v : c.victims)
      if (hit(v.e)) v.e = kEmpty;
    JumpCacheEntry* jc = jc_of(c);
    if (!jc) return;
    // Blocks starting on the previous page may run on into this one (x86).
    for (uint64_t p : {page, page - kPageSize}) {
      if (p != page && !two_page_blocks_) break;
      const unsigned g = jump_cache_group(p);
      const unsigned bit = jc_page_bit(p);
      uint64_t* filter = c.jc_pages[g];
      if (!(filter[bit / 64] >> (bit % 64) & 1)) continue;  // no block of p in this group
      uint64_t rebuilt[kJcPageFilterWords] = {};
      JumpCacheEntry* group = jc + (g << kJumpCacheGroupBits);
      for (unsigned i = 0; i < kJumpCacheGroupSize; ++i) {
        uint64_t pc = group[i].pc.load(std::memory_order_relaxed);
        if (page_of(pc) == p) {
          group[i].pc.store(JumpCacheEntry::kInvalidPc, std::memory_order_relaxed);
        } else if (pc != JumpCacheEntry::kInvalidPc) {
          const unsigned b = jc_page_bit(page_of(pc));
          rebuilt[b / 64] |= 1ull << (b % 64);
        }
      }
      for (unsigned w = 0; w < kJcPageFilterWords; ++w) filter[w] = rebuilt[w];
    }
  });
}

void Softmmu::flush_range(uint64_t vaddr, uint64_t size) {
  const uint64_t first = page_of(vaddr);
  auto in_range = [&](uint64_t a) { return page_of(a) - first < size; };
  auto hit = [&](const TlbEntry& e) {
    return in_range(e.addr_read) || in_range(e.addr_write) || in_range(e.addr_code);
  };
  const uint64_t pages = size / kPageSize;
  for_each_context([&](Context& c) {
    for (unsigned m = 0; m < kNumMmuIdx; ++m) {
      if (pages >= kTlbEntries) {
        for (TlbEntry& e : c.table[m])
          if (hit(e)) e = kEmpty;
      } else {
        for (uint64_t p = 0; p < pages; ++p) {
          TlbEntry& e = c.table[m][tlb_index(first + p * kPageSize)];
          if (hit(e)) e = kEmpty;
        }
      }
    }
    for (Victim& v : c.victims)
      if (hit(v.e)) v.e = kEmpty;
    JumpCacheEntry* jc = jc_of(c);
    if (!jc) return;
    // Blocks starting on the page before may run on into the range (x86).
    const uint64_t lo = two_page_blocks_ ? first - kPageSize : first;
    const uint64_t span = two_page_blocks_ ? size + kPageSize : size;
    for (unsigned i = 0; i < kJumpCacheEntries; ++i) {
      const uint64_t pc = jc[i].pc.load(std::memory_order_relaxed);
      if (page_of(pc) - lo < span)
        jc[i].pc.store(JumpCacheEntry::kInvalidPc, std::memory_order_relaxed);
    }
  });
}

void Softmmu::flush_context_asid(Context& c, uint32_t asid) {
  auto drop = [&](const Aux& a) { return !a.global && (asid == kNoAsid || a.asid == asid); };
  for (uint32_t m = c.filled_mmu_idx; m; m &= m - 1) {
    const unsigned mi = unsigned(__builtin_ctz(m));
    for (unsigned i = 0; i < kTlbEntries; ++i)
      if (drop(c.aux[mi * kTlbEntries + i])) c.table[mi][i] = kEmpty;
  }
  for (Victim& v : c.victims)
    if (drop(v.aux)) v.e = kEmpty;
  if (JumpCacheEntry* jc = jc_of(c)) clear_marked_jc_slots(jc, c.nonglobal_jc);
}

// An x86 guest does this on every CR3 write: only the MMU indexes in use are scanned, and only
// the jump-cache slots that may hold a block on a non-global page are cleared (the kernel's code
// is on global pages and stays). A context of another ASID holds none of asid's entries.
void Softmmu::flush_asid(uint16_t asid) {
  for_each_context([&](Context& c) {
    if (c.mixed || c.asid == asid) flush_context_asid(c, asid);
  });
}

void Softmmu::note_jump_cache_fill(uint64_t pc, unsigned mmu_idx, bool two_pages) {
  Context& c = *cur_;
  const unsigned idx = tlb_index(pc);
  const bool global =
      mmu_idx < kNumMmuIdx && !two_pages &&
      (tlb_entry(mmu_idx, idx).addr_code & (kPageMask | kTlbInvalid)) == page_of(pc) &&
      tlb_aux(mmu_idx, idx).global;
  const unsigned slot = jump_cache_index(pc);
  const unsigned group = jump_cache_group(pc);
  const unsigned bit = jc_page_bit(page_of(pc));
  c.jc_pages[group][bit / 64] |= 1ull << (bit % 64);
  c.filled_jc.slots[slot / 64] |= 1ull << (slot % 64);
  c.filled_jc.groups |= 1ull << group;
  if (global) {
    c.nonglobal_jc.slots[slot / 64] &= ~(1ull << (slot % 64));
  } else {
    c.nonglobal_jc.slots[slot / 64] |= 1ull << (slot % 64);
    c.nonglobal_jc.groups |= 1ull << group;
  }
}

void Softmmu::flush_mmu_idx(unsigned mmu_idx) {
  if (mmu_idx >= kNumMmuIdx) return;
  for_each_context([&](Context& c) {
    for (TlbEntry& e : c.table[mmu_idx]) e = kEmpty;
    for (unsigned i = 0; i < kVictims; ++i) c.victims[mmu_idx * kVictims + i].e = kEmpty;
  });
}

// Runs on the thread that translated the page's first block, concurrently with this TLB's
// owner. The flag is set with an atomic OR so that it can never write back a stale entry the
// owner has just replaced or flushed; at worst it flags an entry that now maps another page,
// which only sends that page's writes through the slow path once (it clears the flag).
void Softmmu::protect_code_page(uint64_t phys_page) {
  auto flag = [](uint64_t& addr_write) {
    std::atomic_ref<uint64_t>(addr_write).fetch_or(kTlbNotDirty, std::memory_order_relaxed);
  };
  // No entry maps the page: the caller registered it before (the fence orders that store
  // before this load, as fill()'s locked RMW does its entry before its registration check).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  const unsigned bit = phys_bit(phys_page);
  for_each_context([&](Context& c) {
    if (!(c.phys_filter[bit / 64].load(std::memory_order_relaxed) & (uint64_t(1) << (bit % 64))))
      return;
    for (unsigned m = 0; m < kNumMmuIdx; ++m)
      for (unsigned i = 0; i < kTlbEntries; ++i) {
        TlbEntry& e = c.table[m][i];
        if (c.aux[m * kTlbEntries + i].phys_page == phys_page && !(e.addr_write & kTlbInvalid))
          flag(e.addr_write);
      }
    for (Victim& v : c.victims)
      if (v.aux.phys_page == phys_page && !(v.e.addr_write & kTlbInvalid)) flag(v.e.addr_write);
  });
}

bool Softmmu::victim_swap(uint64_t vaddr, Access access, unsigned mmu_idx) {
  const uint64_t page = page_of(vaddr);
  for (unsigned i = 0; i < kVictims; ++i) {
    Victim& v = cur_->victims[mmu_idx * kVictims + i];
    if ((compare_of(v.e, access) & (kPageMask | kTlbInvalid)) != page) continue;
    const unsigned idx = tlb_index(vaddr);
    std::swap(tlb_entry(mmu_idx, idx), v.e);
    std::swap(tlb_aux(mmu_idx, idx), v.aux);
    return true;
  }
  return false;
}

bool Softmmu::refill(uint64_t vaddr, Access access, unsigned mmu_idx, uint64_t insn_pc) {
  return victim_swap(vaddr, access, mmu_idx) || fill(vaddr, access, mmu_idx, insn_pc);
}

bool Softmmu::fill(uint64_t vaddr, Access access, unsigned mmu_idx, uint64_t insn_pc) {
  Translation t;
  cpu_.pc = insn_pc;  // the translator may raise a fault; its exception needs the faulting PC
  if (!translator_.translate(vaddr, access, mmu_idx, t)) return false;

  const uint64_t vpage = page_of(vaddr);
  const uint64_t ppage = page_of(t.phys);
  const hw::RegionRef r = as_.find(ppage);
  const bool whole_page =
      r && r->kind != hw::RegionKind::Mmio && ppage - r->base <= r->size - kPageSize;

  TlbEntry e;
  e.addend = 0;
  uint64_t flags = whole_page ? 0 : kTlbMmio;
  // Data accesses to a watched page take the slow path, which checks the watch ranges.
  const bool watched =
      (watch_ && watch_->any_watchpoints() && watch_->page_watched(vpage)) ||
      (arch_watch_ && arch_watch_->any_watchpoints() && arch_watch_->page_watched(vpage));
  const uint64_t watch = watched ? kTlbWatch : 0;
  e.addr_read = vpage | flags | watch | (t.readable ? 0 : kTlbInvalid);
  e.addr_code = vpage | flags | (t.executable ? 0 : kTlbInvalid);
  uint64_t wflags = flags | watch;
  if (whole_page && r->kind == hw::RegionKind::Rom) wflags |= kTlbMmio;  // writes are dropped
  e.addr_write = vpage | wflags | (t.writable ? 0 : kTlbInvalid);
  if (whole_page) e.addend = uintptr_t(r->host + (ppage - r->base)) - vpage;

  const unsigned idx = tlb_index(vaddr);
  Context& c = *cur_;
  TlbEntry& slot = c.table[mmu_idx][idx];
  if (!is_empty(slot)) {
    unsigned& next = c.victim_next[mmu_idx];
    c.victims[mmu_idx * kVictims + next] = Victim{slot, c.aux[mmu_idx * kTlbEntries + idx]};
    next = (next + 1) % kVictims;
  }
  slot = e;
  c.aux[mmu_idx * kTlbEntries + idx] = Aux{ppage, t.asid, t.global};
  c.filled_mmu_idx |= 1u << mmu_idx;
  if (!t.global) {
    if (c.asid == kNoAsid) c.asid = t.asid;
    if (c.asid != t.asid) c.mixed = true;  // see Context
  }
  // Writes to a page holding translated code must take the slow path. The check comes after
  // the entry is published and the page's filter bit set (a locked RMW: neither store passes
  // the load below): a thread registering the page's first block concurrently (registration,
  // then the filter and the scan) either is seen here, or its protect_code_page() finds the
  // bit and this entry. Only this thread writes through the entry meanwhile.
  const unsigned bit = phys_bit(ppage);
  c.phys_filter[bit / 64].fetch_or(uint64_t(1) << (bit % 64), std::memory_order_seq_cst);
  if (whole_page && code_ && code_->is_code_page(ppage))
    std::atomic_ref<uint64_t>(slot.addr_write).fetch_or(kTlbNotDirty);
  return true;
}

bool Softmmu::watch_stops(uint64_t vaddr, unsigned size, Access a, uint64_t insn_pc) {
  const bool write = a == Access::Write;
  if (watch_ && watch_->any_watchpoints() && watch_->watch_hit(vaddr, size, write, watch_hit_)) {
    cpu_.pc = insn_pc;  // stop before the access: nothing is read or written
    cpu_.pending_exit = uint32_t(PendingExit::Debug);
    return true;
  }
  WatchHit hit;
  if (arch_watch_ && arch_watch_->any_watchpoints() &&
      arch_watch_->watch_hit(vaddr, size, write, hit)) {
    cpu_.pc = insn_pc;
    translator_.raise_watchpoint(vaddr, hit.addr, a);
    return true;
  }
  return false;
}

bool Softmmu::probe_two_pages(uint64_t vaddr, ir::MemOp m, Access a, uint64_t insn_pc) {
  const uint64_t wrap = m.addr32 ? 0xffffffffull : ~0ull;
  const uint64_t second = (page_of(vaddr) + kPageSize) & wrap;
  for (uint64_t p : {vaddr, second}) {
    const unsigned i = tlb_index(p);
    const TlbEntry& e = tlb_entry(m.mmu_idx, i);
    uint64_t cmp = a == Access::Write ? e.addr_write : e.addr_read;
    if ((cmp & (kPageMask | kTlbInvalid)) != page_of(p) && !refill(p, a, m.mmu_idx, insn_pc))
      return false;
    const uint64_t phys = tlb_aux(m.mmu_idx, i).phys_page | (p & ~kPageMask);
    if (!as_.find(p == vaddr ? phys : phys & kPageMask)) {
      cpu_.pc = insn_pc;
      translator_.raise_bus_error(p, phys, a);
      return false;
    }
  }
  return true;
}

bool Softmmu::access_vec(uint64_t vaddr, uint64_t* data, ir::MemOp m, Access a, uint64_t insn_pc) {
  const unsigned size = m.size();
  if (size > kMaxVecBytes) return false;  // not from the verifier (VecLoad/VecStore: 16 or 32)
  if (m.required && (vaddr & (size - 1))) {
    cpu_.pc = insn_pc;
    translator_.raise_required_alignment_fault(vaddr, a);
    return false;
  }
  if (watch_stops(vaddr, size, a, insn_pc)) return false;
  if (m.align && (vaddr & (m.align_bytes() - 1))) {
    cpu_.pc = insn_pc;
    translator_.raise_alignment_fault(vaddr, a);
    return false;
  }
  if ((vaddr & ~kPageMask) + size > kPageSize && !probe_two_pages(vaddr, m, a, insn_pc))
    return false;
  // Quadword by quadword: each one access (split into bytes only where it crosses the page).
  const uint64_t wrap = m.addr32 ? 0xffffffffull : ~0ull;
  const ir::MemOp q{3, false, m.mmu_idx, false, m.addr32};
  for (unsigned i = 0; i < size / 8; ++i) {
    const uint64_t va = (vaddr + 8 * i) & wrap;
    if (a == Access::Write)
      access_slow(va, data[i], q, a, insn_pc);
    else
      data[i] = access_slow(va, 0, q, a, insn_pc);
    if (cpu_.pending_exit) return false;
  }
  return true;
}

bool Softmmu::load_vec(uint64_t vaddr, ir::MemOp m, uint64_t insn_pc, uint64_t* data) {
  return access_vec(vaddr, data, m, Access::Read, insn_pc);
}

bool Softmmu::store_vec(uint64_t vaddr, const uint64_t* data, ir::MemOp m, uint64_t insn_pc) {
  uint64_t copy[kMaxVecBytes / 8] = {};
  for (unsigned i = 0; i < m.size() / 8 && i < kMaxVecBytes / 8; ++i) copy[i] = data[i];
  return access_vec(vaddr, copy, m, Access::Write, insn_pc);
}

uint64_t Softmmu::access_slow(uint64_t vaddr, uint64_t value, ir::MemOp m, Access a,
                              uint64_t insn_pc) {
  const unsigned size = m.size();
  if (watch_stops(vaddr, size, a, insn_pc)) return 0;
  if (m.align && (vaddr & (size - 1))) {
    cpu_.pc = insn_pc;
    translator_.raise_alignment_fault(vaddr, a);
    return 0;
  }
  if ((vaddr & ~kPageMask) + size > kPageSize) {
    // Crosses a page: make sure both pages are accessible before touching either. A 32-bit
    // address wraps to 0 at 4 GiB (MemOp::addr32).
    const uint64_t wrap = m.addr32 ? 0xffffffffull : ~0ull;
    ir::MemOp byte{0, false, m.mmu_idx, false, m.addr32};
    if (!probe_two_pages(vaddr, m, a, insn_pc)) return 0;
    uint64_t result = 0;
    for (unsigned i = 0; i < size; ++i) {
      if (a == Access::Write) {
        access_slow((vaddr + i) & wrap, (value >> (8 * i)) & 0xff, byte, a, insn_pc);
      } else {
        result |= access_slow((vaddr + i) & wrap, 0, byte, a, insn_pc) << (8 * i);
      }
      if (cpu_.pending_exit) return 0;
    }
    return result;
  }

  const unsigned idx = tlb_index(vaddr);
  TlbEntry* e = &tlb_entry(m.mmu_idx, idx);
  uint64_t cmp = a == Access::Write ? e->addr_write : e->addr_read;
  if ((cmp & (kPageMask | kTlbInvalid)) != page_of(vaddr)) {
    if (!refill(vaddr, a, m.mmu_idx, insn_pc)) return 0;
    e = &tlb_entry(m.mmu_idx, idx);
    cmp = a == Access::Write ? e->addr_write : e->addr_read;
    if (cmp & kTlbInvalid) {
      // The translator granted the access yet marked it invalid: treat as a bus error.
      cpu_.pc = insn_pc;
      translator_.raise_bus_error(vaddr, 0, a);
      return 0;
    }
  }
  const Aux& aux = tlb_aux(m.mmu_idx, idx);
  const uint64_t phys = aux.phys_page | (vaddr & ~kPageMask);

  if (cmp & kTlbMmio) {
    hw::MemResult r;
    uint64_t v = 0;
    if (a == Access::Write) {
      r = as_.write(phys, size, value, attrs_);
    } else {
      r = as_.read(phys, size, v, attrs_);
    }
    if (r != hw::MemResult::Ok) {
      cpu_.pc = insn_pc;
      translator_.raise_bus_error(vaddr, phys, a);
      return 0;
    }
    return v & (size >= 8 ? ~0ull : (1ull << (size * 8)) - 1);
  }
  uint8_t* host = reinterpret_cast<uint8_t*>(vaddr + e->addend);
  if (a == Access::Write) {
    if (cmp & kTlbNotDirty) {
      if (code_ && code_->is_code_page(aux.phys_page) && !code_write(phys, size, insn_pc)) return 0;
      if (!code_ || !code_->is_code_page(aux.phys_page)) e->addr_write &= ~kTlbNotDirty;
    }
    hw::host_store(host, size, value);
    return 0;
  }
  return hw::host_load(host, size);
}

uint8_t* Softmmu::atomic_host(uint64_t vaddr, unsigned size, unsigned mmu_idx, uint64_t insn_pc) {
  if (mmu_idx >= kNumMmuIdx || (vaddr & ~kPageMask) + size > kPageSize) return nullptr;
  const unsigned idx = tlb_index(vaddr);
  TlbEntry* e = &tlb_entry(mmu_idx, idx);
  if ((e->addr_write & (kPageMask | kTlbInvalid)) != page_of(vaddr)) {
    if (!refill(vaddr, Access::Write, mmu_idx, insn_pc)) return nullptr;
    e = &tlb_entry(mmu_idx, idx);
    if (e->addr_write & kTlbInvalid) {
      cpu_.pc = insn_pc;
      translator_.raise_bus_error(vaddr, 0, Access::Write);
      return nullptr;
    }
  }
  if (e->addr_write & (kTlbMmio | kTlbWatch)) return nullptr;
  if (e->addr_write & kTlbNotDirty) {
    const uint64_t page = tlb_aux(mmu_idx, idx).phys_page;
    if (code_ && code_->is_code_page(page) &&
        !code_write(page | (vaddr & ~kPageMask), size, insn_pc))
      return nullptr;
  }
  return reinterpret_cast<uint8_t*>(vaddr + e->addend);
}

uint8_t* Softmmu::bulk_host(uint64_t vaddr, uint64_t len, Access access, unsigned mmu_idx,
                            uint64_t insn_pc) {
  if (mmu_idx >= kNumMmuIdx || len == 0 || (vaddr & ~kPageMask) + len > kPageSize) return nullptr;
  const bool write = access == Access::Write;
  const unsigned idx = tlb_index(vaddr);
  TlbEntry* e = &tlb_entry(mmu_idx, idx);
  uint64_t cmp = write ? e->addr_write : e->addr_read;
  if ((cmp & (kPageMask | kTlbInvalid)) != page_of(vaddr)) {
    if (!refill(vaddr, access, mmu_idx, insn_pc)) return nullptr;
    e = &tlb_entry(mmu_idx, idx);
    cmp = write ? e->addr_write : e->addr_read;
  }
  // An invalid entry after a granted walk is the slow path's bus error; the others are its
  // device, code-invalidation and watchpoint work.
  if (cmp & (kTlbInvalid | kTlbMmio | kTlbWatch | kTlbNotDirty)) return nullptr;
  return reinterpret_cast<uint8_t*>(vaddr + e->addend);
}

uint64_t Softmmu::atomic(uint64_t vaddr, ir::MemOp m, unsigned kind, uint64_t operand,
                         uint64_t expected, uint64_t insn_pc) {
  const unsigned size = m.size();
  if (m.align && (vaddr & (size - 1))) {
    cpu_.pc = insn_pc;
    translator_.raise_alignment_fault(vaddr, Access::Write);
    return 0;
  }
  if (watch_stops(vaddr, size, Access::Write, insn_pc)) return 0;
  // A host atomic that spans two cache lines is a split lock (a bus lock the host kernel may
  // throttle or trap): such an access is a read then a write, as on MMIO.
  const bool split = ((vaddr & 63) + size) > 64;
  uint8_t* host = atomic_host(vaddr, size, m.mmu_idx, insn_pc);
  if (host && !split) return host_atomic(host, size, kind, operand, expected);
  if (cpu_.pending_exit) return 0;
  // Not plain RAM within one page (atomic_host checked write permission: an atomic faults as a
  // write): a read, then a write.
  const ir::MemOp plain{m.size_log2, false, m.mmu_idx, false, m.addr32};
  const uint64_t old = access_slow(vaddr, 0, plain, Access::Read, insn_pc);
  if (cpu_.pending_exit) return 0;
  const uint64_t mask = size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
  uint64_t value = operand;
  switch (kind) {
    case unsigned(ir::AtomicOp::Add):
      value = old + operand;
      break;
    case unsigned(ir::AtomicOp::And):
      value = old & operand;
      break;
    case unsigned(ir::AtomicOp::Or):
      value = old | operand;
      break;
    case unsigned(ir::AtomicOp::Xor):
      value = old ^ operand;
      break;
    case unsigned(ir::AtomicOp::Xchg):
      break;
    default:
      if (old != (expected & mask)) return old;
      break;
  }
  access_slow(vaddr, value & mask, plain, Access::Write, insn_pc);
  return cpu_.pending_exit ? 0 : old;
}

bool Softmmu::atomic_cmpxchg16(uint64_t vaddr, unsigned mmu_idx, uint64_t expected[2],
                               const uint64_t desired[2], uint64_t insn_pc) {
  if (vaddr & 15) {  // CMPXCHG16B requires alignment (#GP in the guest's terms)
    cpu_.pc = insn_pc;
    translator_.raise_alignment_fault(vaddr, Access::Write);
    return false;
  }
  if (watch_stops(vaddr, 16, Access::Write, insn_pc)) return false;
  if (uint8_t* host = atomic_host(vaddr, 16, mmu_idx, insn_pc)) {
    unsigned __int128 old = (unsigned __int128)expected[1] << 64 | expected[0];
    const unsigned __int128 give = (unsigned __int128)desired[1] << 64 | desired[0];
    __atomic_compare_exchange_n(reinterpret_cast<unsigned __int128*>(host), &old, give, false,
                                __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    expected[0] = uint64_t(old);
    expected[1] = uint64_t(old >> 64);
    return true;
  }
  if (cpu_.pending_exit) return false;
  const ir::MemOp q{3, false, uint8_t(mmu_idx), false};
  uint64_t old[2];
  for (unsigned i = 0; i < 2; ++i) {
    old[i] = access_slow(vaddr + 8 * i, 0, q, Access::Read, insn_pc);
    if (cpu_.pending_exit) return false;
  }
  // As the CPU does, a failed compare writes the old value back.
  const bool equal = old[0] == expected[0] && old[1] == expected[1];
  for (unsigned i = 0; i < 2; ++i) {
    access_slow(vaddr + 8 * i, equal ? desired[i] : old[i], q, Access::Write, insn_pc);
    if (cpu_.pending_exit) return false;
  }
  expected[0] = old[0];
  expected[1] = old[1];
  return true;
}

uint64_t Softmmu::load(uint64_t vaddr, ir::MemOp m, uint64_t insn_pc) {
  return access_slow(vaddr, 0, m, Access::Read, insn_pc);
}

void Softmmu::store(uint64_t vaddr, uint64_t value, ir::MemOp m, uint64_t insn_pc) {
  access_slow(vaddr, value, m, Access::Write, insn_pc);
}

bool Softmmu::code_write(uint64_t phys, uint64_t len, uint64_t insn_pc) {
  if (!code_->invalidate_phys_from(phys, len, insn_pc) || code_write_retry_) return true;
  cpu_.pc = insn_pc;
  cpu_.pending_exit = uint32_t(PendingExit::CodeModified);
  return false;
}

const uint8_t* Softmmu::fetch_page(uint64_t vaddr, unsigned mmu_idx, uint64_t& phys) {
  return fetch_page(vaddr, mmu_idx, phys, vaddr);
}

const uint8_t* Softmmu::probe_fetch(uint64_t vaddr, unsigned mmu_idx, uint64_t& phys) {
  if (mmu_idx >= kNumMmuIdx) return nullptr;
  const unsigned idx = tlb_index(vaddr);
  if ((tlb_entry(mmu_idx, idx).addr_code & (kPageMask | kTlbInvalid)) != page_of(vaddr) &&
      !victim_swap(vaddr, Access::Fetch, mmu_idx))
    return nullptr;
  const TlbEntry& e = tlb_entry(mmu_idx, idx);
  if (e.addr_code & (kTlbMmio | kTlbInvalid)) return nullptr;
  phys = tlb_aux(mmu_idx, idx).phys_page | (vaddr & ~kPageMask);
  return reinterpret_cast<const uint8_t*>(vaddr + e.addend);
}

const uint8_t* Softmmu::fetch_page(uint64_t vaddr, unsigned mmu_idx, uint64_t& phys,
                                   uint64_t insn_pc) {
  const unsigned idx = tlb_index(vaddr);
  TlbEntry* e = &tlb_entry(mmu_idx, idx);
  if ((e->addr_code & (kPageMask | kTlbInvalid)) != page_of(vaddr)) {
    if (!refill(vaddr, Access::Fetch, mmu_idx, insn_pc)) return nullptr;
    e = &tlb_entry(mmu_idx, idx);
  }
  const Aux& aux = tlb_aux(mmu_idx, idx);
  phys = aux.phys_page | (vaddr & ~kPageMask);
  if (e->addr_code & (kTlbMmio | kTlbInvalid)) {
    cpu_.pc = insn_pc;
    translator_.raise_bus_error(vaddr, phys, Access::Fetch);
    return nullptr;
  }
  return reinterpret_cast<const uint8_t*>(vaddr + e->addend);
}

bool Softmmu::debug_access(uint64_t vaddr, unsigned mmu_idx, uint8_t* buf, uint64_t len, bool write,
                           bool phys) {
  // Page by page, since consecutive virtual pages need not be physically contiguous.
  while (len) {
    uint64_t n = std::min<uint64_t>(len, kPageSize - (vaddr & ~kPageMask));
    uint64_t pa = vaddr;
    if (!phys && !translator_.debug_translate(vaddr, mmu_idx, pa)) return false;
    bool ok = write ? as_.write_bytes(pa, buf, n) : as_.read_bytes(pa, buf, n);
    if (!ok) return false;
    if (write && code_ && code_->is_code_page(pa & kPageMask)) code_->invalidate_phys(pa, n);
    vaddr += n, buf += n, len -= n;
  }
  return true;
}

uint64_t slow_load(CpuCommon* cpu, uint64_t vaddr, uint64_t memop, uint64_t insn_pc) {
  return cpu->mmu->load(vaddr, ir::MemOp::decode(memop), insn_pc);
}

uint64_t slow_atomic(CpuCommon* cpu, uint64_t vaddr, uint64_t operand, uint64_t expected,
                     uint64_t desc, uint64_t insn_pc) {
  return cpu->mmu->atomic(vaddr, ir::MemOp::decode(desc & 0xffffffff), unsigned(desc >> 32),
                          operand, expected, insn_pc);
}

void slow_store(CpuCommon* cpu, uint64_t vaddr, uint64_t value, uint64_t memop, uint64_t insn_pc) {
  cpu->mmu->store(vaddr, value, ir::MemOp::decode(memop), insn_pc);
}

void slow_load_vec(CpuCommon* cpu, uint64_t vaddr, uint64_t memop, uint64_t insn_pc,
                   uint64_t* data) {
  const ir::MemOp m = ir::MemOp::decode(memop);
  if (!cpu->mmu->load_vec(vaddr, m, insn_pc, data))
    for (unsigned i = 0; i < m.size() / 8 && i < kMaxVecBytes / 8; ++i) data[i] = 0;
}

void slow_store_vec(CpuCommon* cpu, uint64_t vaddr, const uint64_t* data, uint64_t memop,
                    uint64_t insn_pc) {
  cpu->mmu->store_vec(vaddr, data, ir::MemOp::decode(memop), insn_pc);
}

}  // namespace orrery::tcg::softmmu
