// The x86 page-table walk (Intel SDM vol. 3A, chapter 4): no paging, 32-bit paging (4K, and 4M
// with CR4.PSE, PSE-36 high bits), PAE paging (4K, 2M) and 4-level paging (4K, 2M, 1G), with
// U/S, R/W (CR0.WP), NX (EFER.NXE), SMEP, SMAP, global pages (CR4.PGE) and PCIDs (CR4.PCIDE).
// Accessed and dirty bits are set with a locked compare-exchange on the entry, as the processor
// does; the softmmu entry of a clean page is filled read-only so the first write walks again and
// sets D.
#include <algorithm>
#include <cinttypes>
#include <cstdio>

#include "cpu/x86/cpu.h"
#include "hw/core/address_space.h"
#include "hw/core/log.h"

namespace orrery::cpu::x86 {

using tcg::softmmu::Access;

namespace {

namespace pte {
constexpr uint64_t kP = 1, kRw = 2, kUs = 4, kA = 1u << 5, kD = 1u << 6, kPs = 1u << 7;
constexpr uint64_t kG = 1u << 8, kNx = 1ull << 63;
}  // namespace pte

/// Reads a paging-structure entry of 4 or 8 bytes; false when it is not in RAM/ROM/MMIO.
bool read_entry(const hw::AddressSpace& as, uint64_t addr, unsigned size, uint64_t& v) {
  if (const uint8_t* h = as.host_ptr(addr, size)) {
    v = size == 8 ? __atomic_load_n(reinterpret_cast<const uint64_t*>(h), __ATOMIC_ACQUIRE)
                  : __atomic_load_n(reinterpret_cast<const uint32_t*>(h), __ATOMIC_ACQUIRE);
    return true;
  }
  return as.read(addr, size, v) == hw::MemResult::Ok;
}

/// Sets bits in the entry at addr if it still holds old (a locked update on RAM). False when the
/// entry changed under us: the walk restarts.
bool set_entry_bits(const hw::AddressSpace& as, uint64_t addr, unsigned size, uint64_t old,
                    uint64_t bits) {
  if ((old & bits) == bits) return true;
  if (uint8_t* h = as.host_ptr(addr, size)) {
    if (size == 8) {
      uint64_t expected = old;
      return __atomic_compare_exchange_n(reinterpret_cast<uint64_t*>(h), &expected, old | bits,
                                         false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    }
    uint32_t expected = uint32_t(old);
    return __atomic_compare_exchange_n(reinterpret_cast<uint32_t*>(h), &expected,
                                       uint32_t(old | bits), false, __ATOMIC_SEQ_CST,
                                       __ATOMIC_SEQ_CST);
  }
  (void)as.write(addr, size, old | bits);  // tables in ROM/MMIO: best effort, not atomic
  return true;
}

struct Level {
  uint64_t addr;   // where the entry lives
  uint64_t value;  // what it held
};

}  // namespace

X86Walk walk_page_tables(const X86State& s, const hw::AddressSpace& as, uint64_t la,
                         const AccessKind& k, bool set_ad) {
  X86Walk w;
  const bool write = k.access == Access::Write;
  const bool fetch = k.access == Access::Fetch;
  if (!(s.cr0 & cr0::kPg)) {
    w.ok = true;
    w.phys = la;
    w.writable = w.executable = w.user = true;
    w.global = true;
    return w;
  }
  const bool pae = (s.cr4 & cr4::kPae) != 0;
  const bool lma = (s.efer & efer::kLma) != 0;
  const bool nxe = pae && (s.efer & efer::kNxe);
  const bool wp = (s.cr0 & cr0::kWp) != 0;
  const bool smep = (s.cr4 & cr4::kSmep) != 0;
  const bool smap = (s.cr4 & cr4::kSmap) != 0;
  const bool pge = (s.cr4 & cr4::kPge) != 0;
  // Error-code bits that describe the access, whatever the fault.
  uint32_t ec = (write ? pfec::kW : 0) | (k.user ? pfec::kU : 0);
  if (fetch && (nxe || smep)) ec |= pfec::kI;
  const uint64_t addr_mask = ((1ull << k.phys_bits) - 1) & ~0xfffull;
  const uint64_t high_rsvd =
      pae ? (~((1ull << k.phys_bits) - 1) & ~pte::kNx) & ((1ull << 63) | ((1ull << 52) - 1)) : 0;
  const uint64_t nx_rsvd = nxe ? 0 : pte::kNx;

  for (int attempt = 0; attempt < 16; ++attempt) {
    Level lv[5];
    unsigned n = 0;
    bool user = true, writable = true, nx = false;
    uint64_t leaf = 0, page_size = 0, phys_base = 0;
    bool rsvd = false, not_present = false;
    unsigned esize = pae ? 8 : 4;

    auto fetch_entry = [&](uint64_t addr, uint64_t& v) {
      if (!read_entry(as, addr, esize, v)) v = 0;  // unbacked tables read as not present
      lv[n++] = Level{addr, v};
      if (!(v & pte::kP)) {
        not_present = true;
        return false;
      }
      return true;
    };
    auto accumulate = [&](uint64_t v) {
      user = user && (v & pte::kUs);
      writable = writable && (v & pte::kRw);
      if (nxe && (v & pte::kNx)) nx = true;
    };

    if (!pae) {
      uint64_t pde;
      if (!fetch_entry((s.cr3 & 0xfffff000u) + ((la >> 22) & 0x3ff) * 4, pde)) goto fault;
      accumulate(pde);
      if ((pde & pte::kPs) && (s.cr4 & cr4::kPse)) {
        // 4M page; PSE-36 puts physical bits 39:32 in entry bits 20:13.
        if (pde & (1u << 21)) {
          rsvd = true;
          goto fault;
        }
        leaf = pde;
        page_size = 4u << 20;
        phys_base = (pde & 0xffc00000u) | (((pde >> 13) & 0xff) << 32);
        if (phys_base >> k.phys_bits) {
          rsvd = true;
          goto fault;
        }
      } else {
        uint64_t p;
        if (!fetch_entry((pde & 0xfffff000u) + ((la >> 12) & 0x3ff) * 4, p)) goto fault;
        accumulate(p);
        leaf = p;
        page_size = 4096;
        phys_base = p & 0xfffff000u;
      }
    } else {
      uint64_t table;
      unsigned level;  // of the next entry: 4 = PML4, 3 = PDPT, 2 = PD, 1 = PT
      if (lma) {
        table = s.cr3 & addr_mask;
        level = 4;
      } else {
        // PAE: the four PDPTEs (read at walk time; hardware caches them at MOV CR3).
        uint64_t pdpte;
        if (!fetch_entry((s.cr3 & 0xffffffe0u) + ((la >> 30) & 3) * 8, pdpte)) goto fault;
        if (pdpte & (high_rsvd | 0x1e6 | pte::kNx)) {
          rsvd = true;
          goto fault;
        }
        table = pdpte & addr_mask;
        level = 2;
      }
      for (;;) {
        const unsigned shift = 12 + 9 * (level - 1);
        uint64_t e;
        if (!fetch_entry(table + ((la >> shift) & 0x1ff) * 8, e)) goto fault;
        if (e & (high_rsvd | nx_rsvd)) {
          rsvd = true;
          goto fault;
        }
        const bool ps = (e & pte::kPs) != 0;
        if (ps && (level == 4 || (level == 3 && !k.gb_pages))) {
          rsvd = true;
          goto fault;
        }
        accumulate(e);
        if (level == 1 || ps) {
          page_size = 1ull << shift;
          if (level > 1) {
            // Large page: bits 12 (PAT) .. shift-1 of the address field must be clear above PAT.
            const uint64_t low = ((1ull << shift) - 1) & ~0x1fffull;
            if (e & low) {
              rsvd = true;
              goto fault;
            }
          }
          leaf = e;
          phys_base = e & addr_mask & ~(page_size - 1);
          break;
        }
        table = e & addr_mask;
        --level;
      }
    }

    {
      // Permissions (SDM 4.6). Computed for every kind of access so the TLB entry carries them.
      const bool sup = !k.user;
      bool can_read = true, can_write, can_exec;
      if (k.user) {
        can_read = user;
        can_write = user && writable;
        can_exec = user && !nx;
      } else {
        const bool smap_block = smap && user && !k.smap_exempt;
        can_read = !smap_block;
        can_write = !smap_block && (writable || !wp);
        can_exec = !nx && !(smep && user);
      }
      (void)sup;
      const bool allowed = fetch ? can_exec : write ? can_write : can_read;
      if (!allowed) {
        w.error_code = ec | pfec::kP;
        return w;
      }
      if (set_ad) {
        // Accessed on every entry used, dirty on the leaf for a write.
        bool raced = false;
        for (unsigned i = 0; i < n && !raced; ++i) {
          // PAE PDPTEs have no A bit.
          if (pae && !lma && i == 0) continue;
          uint64_t bits = pte::kA;
          if (i == n - 1 && write) bits |= pte::kD;
          if (!set_entry_bits(as, lv[i].addr, esize, lv[i].value, bits)) raced = true;
        }
        if (raced) continue;
        if (write) leaf |= pte::kD;
      }
      w.ok = true;
      w.page_size = page_size;
      w.phys = phys_base | (la & (page_size - 1));
      // A clean page is filled read-only: the first write walks again to set D.
      w.writable = can_write && (leaf & pte::kD || !set_ad);
      w.executable = can_exec;
      w.user = user;
      w.global = pge && (leaf & pte::kG);
      return w;
    }

  fault:
    w.error_code = ec | (not_present ? 0 : pfec::kP) | (rsvd ? pfec::kRsvd : 0);
    return w;
  }
  // The entries kept changing under us; report a not-present fault rather than spin.
  w.error_code = ec;
  return w;
}

namespace {

bool canonical(uint64_t la) {
  return int64_t(la << 16) >> 16 == int64_t(la);
}

}  // namespace

unsigned X86Cpu::data_mmu_idx() const {
  if (cpl() == 3) return kMmuIdxUser;
  if ((state_.cr4 & cr4::kSmap) && !(state_.eflags & eflags::kAc)) return kMmuIdxKernel;
  return kMmuIdxKernelNoSmap;
}

bool X86Cpu::translate(uint64_t vaddr, Access access, unsigned mmu_idx,
                       tcg::softmmu::Translation& out) {
  if ((state_.efer & efer::kLma) && !canonical(vaddr)) {
    raise_exception(*this, vec::kGp, 0);
    return false;
  }
  AccessKind k;
  k.access = access;
  k.user = mmu_idx == kMmuIdxUser;
  k.smap_exempt = mmu_idx != kMmuIdxKernel;
  k.phys_bits = model_.phys_bits;
  k.gb_pages = (model_.ext1_edx & feat::kPdpe1gb) != 0;
  const X86Walk w = walk_page_tables(state_, memory_, vaddr, k, true);
  if (!w.ok) {
    GuestFault f{vec::kPf, w.error_code, vaddr};
    raise_fault(*this, f);
    return false;
  }
  out = tcg::softmmu::Translation{};
  out.phys = w.phys;
  out.page_size = tcg::softmmu::kPageSize;
  out.readable = true;
  out.writable = w.writable;
  out.executable = w.executable;
  out.asid = (state_.cr4 & cr4::kPcide) ? uint16_t(state_.cr3 & 0xfff) : 0;
  out.global = w.global;
  if (w.page_size > tcg::softmmu::kPageSize) note_large_fill(vaddr, w.page_size);
  return true;
}

bool X86Cpu::debug_translate(uint64_t vaddr, unsigned mmu_idx, uint64_t& phys) {
  AccessKind k;
  k.user = mmu_idx == kMmuIdxUser;
  k.phys_bits = model_.phys_bits;
  k.gb_pages = (model_.ext1_edx & feat::kPdpe1gb) != 0;
  const X86Walk w = walk_page_tables(state_, memory_, vaddr, k, false);
  if (!w.ok && !(w.error_code & pfec::kP)) return false;
  if (!w.ok) {
    // A permission fault: the debugger may still read it; walk as the kernel without SMAP.
    k.user = false;
    const X86Walk w2 = walk_page_tables(state_, memory_, vaddr, k, false);
    if (!w2.ok) return false;
    phys = w2.phys;
    return true;
  }
  phys = w.phys;
  return true;
}

void X86Cpu::raise_bus_error(uint64_t vaddr, uint64_t phys, Access access) {
  // A PC has no bus error: data reads of nothing return 0 and writes are dropped (as QEMU's
  // unassigned memory); only executing from nothing cannot go on, which stops the vCPU as
  // QEMU stops.
  log().log(hw::kLogGuestErrors,
            "x86: %s unassigned physical 0x%" PRIx64 " (linear 0x%016" PRIx64
            ") at linear PC 0x%016" PRIx64 "\n",
            access == Access::Fetch   ? "fetching"
            : access == Access::Write ? "writing"
                                      : "reading",
            phys, vaddr, state_.common.pc);
  if (access != Access::Fetch) return;
  char msg[160];
  std::snprintf(msg, sizeof msg,
                "x86: executing from unassigned physical memory at 0x%" PRIx64
                " (linear 0x%016" PRIx64 ")",
                phys, vaddr);
  stop_message_ = msg;
  state_.common.stop_message = stop_message_.c_str();
  state_.common.pending_exit = uint32_t(tcg::PendingExit::Stop);
}

void X86Cpu::raise_alignment_fault(uint64_t vaddr, Access access) {
  (void)vaddr, (void)access;
  raise_exception(*this, vec::kAc, 0);
}

// A misaligned MOVAPS/MOVDQA or legacy-SSE 16-byte operand: #GP(0), before any #PF.
void X86Cpu::raise_required_alignment_fault(uint64_t vaddr, Access access) {
  (void)vaddr, (void)access;
  raise_exception(*this, vec::kGp, 0);
}

// ---- Linear-address accesses for system helpers ----

uint64_t X86Cpu::translate_linear(uint64_t la, Access access, unsigned mmu_idx) {
  if ((state_.efer & efer::kLma) && !canonical(la)) throw GuestFault{vec::kGp, 0, 0};
  AccessKind k;
  k.access = access;
  k.user = mmu_idx == kMmuIdxUser;
  k.smap_exempt = mmu_idx != kMmuIdxKernel;
  k.phys_bits = model_.phys_bits;
  k.gb_pages = (model_.ext1_edx & feat::kPdpe1gb) != 0;
  const X86Walk w = walk_page_tables(state_, memory_, la, k, true);
  if (!w.ok) throw GuestFault{vec::kPf, w.error_code, la};
  return w.phys;
}

uint64_t X86Cpu::read_linear(uint64_t la, unsigned size, unsigned mmu_idx) {
  uint64_t v = 0;
  for (unsigned i = 0; i < size;) {
    // Byte-wise across page boundaries; whole within a page.
    const uint64_t a = la + i;
    const unsigned in_page = unsigned(std::min<uint64_t>(size - i, 4096 - (a & 0xfff)));
    const uint64_t phys = translate_linear(a, Access::Read, mmu_idx);
    for (unsigned j = 0; j < in_page; ++j) {
      uint64_t b = 0xff;
      if (memory_.read(phys + j, 1, b, mmu_.attrs()) != hw::MemResult::Ok) b = 0xff;
      v |= (b & 0xff) << (8 * (i + j));
    }
    i += in_page;
  }
  return v;
}

void X86Cpu::write_linear(uint64_t la, unsigned size, uint64_t value, unsigned mmu_idx) {
  // Translate every page first, so a fault on the second page writes nothing.
  uint64_t phys[2] = {0, 0};
  const unsigned first = unsigned(std::min<uint64_t>(size, 4096 - (la & 0xfff)));
  phys[0] = translate_linear(la, Access::Write, mmu_idx);
  if (first < size) phys[1] = translate_linear(la + first, Access::Write, mmu_idx);
  if (store_observer_) {
    store_observer_->before_store(phys[0], first);
    if (first < size) store_observer_->before_store(phys[1], size - first);
  }
  for (unsigned i = 0; i < size; ++i) {
    const uint64_t p = i < first ? phys[0] + i : phys[1] + (i - first);
    (void)memory_.write(p, 1, (value >> (8 * i)) & 0xff, mmu_.attrs());
  }
  engine_.invalidate_phys(phys[0], first);
  if (first < size) engine_.invalidate_phys(phys[1], size - first);
}

// ---- TLB maintenance ----

void X86Cpu::flush_tlb_all() {
  mmu_.flush_all();
  large_fills_ = false;
}

void X86Cpu::flush_tlb_nonglobal() {
  // The TLB holds the current PCID's entries only (a PCID switch flushes its non-global ones).
  mmu_.flush_asid((state_.cr4 & cr4::kPcide) ? uint16_t(state_.cr3 & 0xfff) : 0);
}

void X86Cpu::note_large_fill(uint64_t la, uint64_t size) {
  const uint64_t mask = ~(size - 1);
  if (!large_fills_) {
    large_fills_ = true;
    large_addr_ = la & mask;
    large_mask_ = mask;
    large_size_ = size;
    return;
  }
  // Widen the region to the smallest aligned block holding both.
  uint64_t m = large_mask_ & mask;
  while ((large_addr_ ^ la) & m) m <<= 1;
  large_mask_ = m;
  large_addr_ &= m;
  large_size_ = std::max(large_size_, size);
}

void X86Cpu::flush_tlb_page(uint64_t la) {
  // The softmmu holds 4K pieces; when la may lie in a large page filled since the last full
  // flush, every piece of the (largest) large page around it goes. Linux's kernel mappings
  // are 2M pages: a full flush on each INVLPG there cost seconds of its boot.
  if (large_fills_ && ((la ^ large_addr_) & large_mask_) == 0) {
    mmu_.flush_range(la & ~(large_size_ - 1), large_size_);
    return;
  }
  mmu_.flush_page(la);
}

}  // namespace orrery::cpu::x86
