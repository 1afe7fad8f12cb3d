// FEAT_MTE2/MTE3 (Arm ARM D10 "The Memory Tagging Extension"; pseudocode AArch64.CheckTag,
// AArch64.ChooseNonExcludedTag, AArch64.RandomTag, AArch64.AllocationTagAccessIsEnabled).
// Memory is Tagged when its stage-1 attribute is 0xF0 (Tagged Normal Write-Back) and it lies in
// RAM with tag storage; everything else reads tag 0 and ignores tag writes.
#include "cpu/arm64/mte.h"

#include "cpu/arm64/cpu.h"
#include "cpu/arm64/exception.h"
#include "cpu/arm64/mmu.h"
#include "hw/core/address_space.h"
#include "tcg/softmmu/softmmu.h"

namespace orrery::cpu::arm64 {

using tcg::softmmu::Access;

namespace {

constexpr uint8_t kTaggedAttr = 0xf0;

unsigned logical_tag(uint64_t vaddr) {
  return unsigned(vaddr >> 56) & 0xf;
}

uint64_t with_tag(uint64_t vaddr, unsigned tag) {
  return (vaddr & ~(0xfull << 56)) | (uint64_t(tag & 0xf) << 56);
}

/// SCTLR_EL1.TCF (EL1) or TCF0 (EL0): 0 none, 1 sync, 2 async, 3 asymmetric (MTE3).
unsigned tcf(const Arm64State& s, bool el0) {
  return unsigned(s.sctlr_el1 >> (el0 ? sctlr::kTcf0Shift : sctlr::kTcfShift)) & 3;
}

/// Where a tag access for vaddr lands: the physical address when it is Tagged memory.
struct TagTarget {
  bool ok = false;      // translated (else the fault was raised when `raise` was asked)
  bool tagged = false;  // Tagged memory with storage
  uint64_t phys = 0;
};

TagTarget tag_target(tcg::CpuCommon* c, uint64_t vaddr, Access access, bool el0, bool raise) {
  Arm64State& s = state_of(*c);
  TagTarget t;
  const WalkResult r = stage1_translate(s, c->mmu->address_space(), vaddr, access, el0);
  if (r.fault != Fault::None) {
    if (raise) s.owner->raise_abort(vaddr, access, r.fault, r.level);
    return t;
  }
  t.ok = true;
  t.phys = r.phys;
  t.tagged = (s.sctlr_el1 & sctlr::kM) && r.attr == kTaggedAttr && s.tags && s.tags->covers(r.phys);
  return t;
}

}  // namespace

TagStorage::TagStorage(uint64_t base, uint64_t size)
    : base_(base), size_(size), tags_(new uint8_t[(size + 31) / 32]()) {}

uint8_t TagStorage::get(uint64_t phys) const {
  const uint64_t g = (phys - base_) / kTagGranule;
  const uint8_t b = __atomic_load_n(&tags_[g / 2], __ATOMIC_RELAXED);
  return (g & 1) ? b >> 4 : b & 0xf;
}

void TagStorage::set(uint64_t phys, uint8_t tag) {
  const uint64_t g = (phys - base_) / kTagGranule;
  uint8_t* p = &tags_[g / 2];
  const unsigned shift = (g & 1) ? 4 : 0;
  uint8_t old = __atomic_load_n(p, __ATOMIC_RELAXED);
  uint8_t want;
  do {
    want = uint8_t((old & ~(0xf << shift)) | ((tag & 0xf) << shift));
  } while (!__atomic_compare_exchange_n(p, &old, want, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
}

unsigned choose_nonexcluded_tag(unsigned tag, unsigned offset, uint16_t exclude) {
  if (exclude == 0xffff) return 0;
  tag &= 0xf;
  if (offset == 0) {
    while (exclude & (1u << tag)) tag = (tag + 1) & 0xf;
    return tag;
  }
  for (; offset; --offset) {
    do {
      tag = (tag + 1) & 0xf;
    } while (exclude & (1u << tag));
  }
  return tag;
}

unsigned random_tag(Arm64State& s) {
  unsigned seed = unsigned(s.rgsr_el1 >> 8) & 0xffff, tag = 0;
  for (unsigned i = 0; i < 4; ++i) {
    const unsigned top = ((seed >> 5) ^ (seed >> 3) ^ (seed >> 2) ^ seed) & 1;
    seed = (top << 15) | (seed >> 1);
    tag |= top << i;
  }
  s.rgsr_el1 = (s.rgsr_el1 & 0xf) | (uint64_t(seed) << 8);
  return tag;
}

bool allocation_tag_access(const Arm64State& s, bool el0) {
  return s.tags && mte_level(s) >= 2 && (s.sctlr_el1 & (el0 ? sctlr::kAta0 : sctlr::kAta));
}

uint64_t mte_tb_flags(const Arm64State& s) {
  if (!s.tags || mte_level(s) < 2) return 0;
  const bool el0 = s.el == 0;
  uint64_t f = tb_flags::kMtePresent;
  if (allocation_tag_access(s, el0)) f |= tb_flags::kMteAta;
  if (s.tco) return f;
  if (allocation_tag_access(s, el0) && tcf(s, el0) != 0) f |= tb_flags::kMteCheck;
  // EL1's LDTR/STTR are checked with EL0's controls.
  if (!el0 && allocation_tag_access(s, true) && tcf(s, true) != 0) f |= tb_flags::kMteCheckEl0;
  return f;
}

uint64_t mte_sctlr_mask(const Arm64State& s) {
  if (mte_level(s) >= 2) return ~0ull;
  uint64_t m = ~sctlr::kMteBits;
  // MTE3 adds TCF == 3; without MTE3 a write of 3 is reserved and treated as 0 here.
  return m;
}

uint64_t helper_mte_check(tcg::CpuCommon* c, uint64_t vaddr, uint64_t desc, uint64_t pc) {
  Arm64State& s = state_of(*c);
  const bool el0 = (desc & kMteEl0) != 0;
  const bool write = (desc & kMteWrite) != 0;
  const unsigned bytes = unsigned(desc & 0xffff);
  // AArch64.AccessIsTagChecked: TBI, TCMA, ATA, TCO (the block flag covers the rest).
  if (s.tco || !allocation_tag_access(s, el0)) return 0;
  const unsigned mode = tcf(s, el0);
  if (mode == 0 || !top_byte_ignored(s, vaddr)) return 0;
  const bool upper = (vaddr >> 55) & 1;
  const unsigned top5 = unsigned(vaddr >> 55) & 0x1f;
  const bool tcma = (s.tcr_el1 >> (upper ? 58 : 57)) & 1;
  if (tcma && (top5 == 0 || top5 == 0x1f)) return 0;
  const unsigned ptag = logical_tag(vaddr);
  const Access access = write ? Access::Write : Access::Read;
  const uint64_t first = vaddr & ~uint64_t(kTagGranule - 1);
  const uint64_t last = (vaddr + bytes - 1) & ~uint64_t(kTagGranule - 1);
  TagTarget t;
  uint64_t page = ~0ull;
  for (uint64_t g = first;; g += kTagGranule) {
    if ((g >> 12) != page) {  // one walk per 4K page (the smallest granule)
      page = g >> 12;
      t = tag_target(c, g, access, el0, false);
    }
    // A translation fault is the access's own to raise; untagged memory is never checked.
    if (t.ok && t.tagged) {
      const uint64_t phys = (t.phys & ~0xfffull) | (g & 0xfff);
      if (s.tags->covers(phys) && s.tags->get(phys) != ptag) {
        const uint64_t far = g == first ? vaddr : g;
        const bool sync = mode == 1 || (mode == 3 && !write);
        if (sync) {
          c->pc = pc;
          const uint32_t ec_value = s.el == 0 ? ec::kDataAbortLower : ec::kDataAbortSame;
          s.owner->raise_sync(make_esr(ec_value, (write ? 1u << 6 : 0) | kTagCheckFaultStatus), pc,
                              far, true);
        } else if (mode != 0) {
          (el0 ? s.tfsre0_el1 : s.tfsr_el1) |= upper ? 2 : 1;
        }
        return 0;
      }
    }
    if (g == last) break;
  }
  return 0;
}

uint64_t helper_mte_irg(tcg::CpuCommon* c, uint64_t xn, uint64_t xm, uint64_t) {
  Arm64State& s = state_of(*c);
  if (!allocation_tag_access(s, s.el == 0)) return with_tag(xn, 0);
  const uint16_t exclude = uint16_t(xm | s.gcr_el1);
  const unsigned start = unsigned(s.rgsr_el1) & 0xf;
  // GCR_EL1.RRND == 1 lets the choice be IMPLEMENTATION DEFINED: the LFSR serves both.
  const unsigned offset = random_tag(s);
  const unsigned rtag = choose_nonexcluded_tag(start, offset, exclude);
  s.rgsr_el1 = (s.rgsr_el1 & ~0xfull) | rtag;
  return with_tag(xn, rtag);
}

uint64_t helper_mte_addg(tcg::CpuCommon* c, uint64_t xn, uint64_t desc, uint64_t) {
  Arm64State& s = state_of(*c);
  const int64_t offset = int16_t(desc & 0xffff);
  const unsigned tag_offset = unsigned(desc >> 16) & 0xf;
  const uint64_t sum = xn + uint64_t(offset);
  if (!allocation_tag_access(s, s.el == 0)) return with_tag(sum, 0);
  return with_tag(sum, choose_nonexcluded_tag(logical_tag(xn), tag_offset, uint16_t(s.gcr_el1)));
}

uint64_t helper_mte_ldg(tcg::CpuCommon* c, uint64_t vaddr, uint64_t xt, uint64_t pc) {
  Arm64State& s = state_of(*c);
  const bool el0 = s.el == 0;
  const uint64_t a = vaddr & ~uint64_t(kTagGranule - 1);
  c->pc = pc;
  const TagTarget t = tag_target(c, a, Access::Read, el0, true);
  if (!t.ok) return 0;
  if (!allocation_tag_access(s, el0) || !t.tagged) return with_tag(xt, 0);
  return with_tag(xt, s.tags->get(t.phys));
}

namespace {

/// Writes `tag` to `granules` granules from vaddr (16-aligned), zeroing their data first when
/// asked; false after a fault was raised.
bool store_tags(tcg::CpuCommon* c, uint64_t vaddr, unsigned granules, unsigned tag, bool zero,
                uint64_t pc) {
  Arm64State& s = state_of(*c);
  const bool el0 = s.el == 0;
  const unsigned mmu_idx = el0 ? kMmuIdxEl0 : kMmuIdxEl1;
  c->pc = pc;
  if (zero) {
    tcg::ir::MemOp m;
    m.size_log2 = 3;
    m.mmu_idx = uint8_t(mmu_idx);
    for (unsigned i = 0; i < granules * kTagGranule; i += 8) {
      c->mmu->store(vaddr + i, 0, m, pc);
      if (c->pending_exit) return false;
    }
  }
  const bool ata = allocation_tag_access(s, el0);
  for (unsigned i = 0; i < granules; ++i) {
    // Even without tag access the store needs write permission (it is a write).
    const TagTarget t = tag_target(c, vaddr + i * kTagGranule, Access::Write, el0, true);
    if (!t.ok) return false;
    if (ata && t.tagged) s.tags->set(t.phys, uint8_t(tag));
  }
  return true;
}

uint64_t reg_or_zero(const Arm64State& s, unsigned r) {
  return r == 31 ? 0 : s.x[r];
}

}  // namespace

uint64_t helper_mte_stg(tcg::CpuCommon* c, uint64_t vaddr, uint64_t desc, uint64_t pc) {
  Arm64State& s = state_of(*c);
  if (vaddr & (kTagGranule - 1)) {
    c->pc = pc;
    s.owner->raise_alignment_fault(vaddr, Access::Write);
    return 0;
  }
  const unsigned tag = unsigned(desc >> 8) & 0xf;
  if (desc & kStgPair) {
    // STGP: the data pair is an unchecked store of Xt, Xt2; then the tag.
    tcg::ir::MemOp m;
    m.size_log2 = 3;
    m.mmu_idx = uint8_t(s.el == 0 ? kMmuIdxEl0 : kMmuIdxEl1);
    const uint64_t lo = reg_or_zero(s, unsigned(desc >> 16) & 31);
    const uint64_t hi = reg_or_zero(s, unsigned(desc >> 21) & 31);
    c->pc = pc;
    c->mmu->store(vaddr, lo, m, pc);
    if (c->pending_exit) return 0;
    c->mmu->store(vaddr + 8, hi, m, pc);
    if (c->pending_exit) return 0;
  }
  store_tags(c, vaddr, (desc & kStgTwo) ? 2 : 1, tag, (desc & kStgZero) != 0, pc);
  return 0;
}

uint64_t helper_mte_gm(tcg::CpuCommon* c, uint64_t vaddr, uint64_t desc, uint64_t pc) {
  Arm64State& s = state_of(*c);
  const uint64_t op = desc & 0xff;
  const uint64_t xt = reg_or_zero(s, unsigned(desc >> 8) & 31);
  const bool el0 = s.el == 0;
  switch (op) {
    case kGmLoad:
    case kGmStore: {
      const uint64_t base = vaddr & ~(kGmBlock - 1);
      const bool ata = allocation_tag_access(s, el0);
      uint64_t data = 0;
      for (unsigned i = 0; i < kGmBlock / kTagGranule; ++i) {
        const uint64_t a = base + i * kTagGranule;
        c->pc = pc;
        const TagTarget t =
            tag_target(c, a, op == kGmLoad ? Access::Read : Access::Write, el0, true);
        if (!t.ok) return 0;
        if (!ata || !t.tagged) continue;
        const unsigned index = unsigned(a >> 4) & 0xf;
        if (op == kGmLoad)
          data |= uint64_t(s.tags->get(t.phys)) << (4 * index);
        else
          s.tags->set(t.phys, uint8_t(xt >> (4 * index)));
      }
      return op == kGmLoad ? data : 0;
    }
    default: {
      // STZGM, DC GVA, DC GZVA: one DC ZVA block (64 bytes).
      constexpr unsigned kZvaBlock = 64;
      const uint64_t base = vaddr & ~uint64_t(kZvaBlock - 1);
      const unsigned tag = op == kGmStoreZero ? unsigned(xt) & 0xf : logical_tag(vaddr);
      store_tags(c, base, kZvaBlock / kTagGranule, tag, op != kGmDcGva, pc);
      return 0;
    }
  }
}

}  // namespace orrery::cpu::arm64
