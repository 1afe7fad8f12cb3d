// Stage-1 table walk for the EL1&0 translation regime (Arm ARM D8.2 "Translation process",
// pseudocode AArch64.TranslationTableWalk / AArch64.CheckPermission), ARMv8.0 rules: no hardware
// access-flag or dirty-bit update, no PAN, no 52-bit addresses.
#include "cpu/arm64/mmu.h"

#include "hw/core/address_space.h"

namespace orrery::cpu::arm64 {

using tcg::softmmu::Access;

namespace {

constexpr uint64_t mask_bits(unsigned n) {
  return n >= 64 ? ~0ull : (1ull << n) - 1;
}

constexpr unsigned kPaBits[8] = {32, 36, 40, 42, 44, 48, 48, 48};  // PARange/IPS encodings

/// TCR_EL1.IPS as a number of bits; a value above PARange is treated as PARange.
unsigned ips_bits(const Arm64State& s) {
  const unsigned b = kPaBits[(s.tcr_el1 >> 32) & 7];
  const unsigned pa = pa_range_bits(s);
  return b < pa ? b : pa;
}

bool granule16k_supported(const Arm64State& s) {
  return ((s.id_aa64mmfr0_el1 >> 20) & 0xf) == 1;
}

WalkResult fault(Fault f, unsigned level) {
  WalkResult r;
  r.fault = f;
  r.level = level;
  return r;
}

/// Checks the access against the computed permissions; sets the fault if denied.
void check_access(WalkResult& r, Access access) {
  const bool ok = access == Access::Read    ? r.readable
                  : access == Access::Write ? r.writable
                                            : r.executable;
  if (!ok) r.fault = Fault::Permission;
}

}  // namespace

unsigned pa_range_bits(const Arm64State& s) {
  return kPaBits[s.id_aa64mmfr0_el1 & 7];
}

bool top_byte_ignored(const Arm64State& s, uint64_t vaddr) {
  return ((vaddr >> 55) & 1) ? ((s.tcr_el1 >> 38) & 1) : ((s.tcr_el1 >> 37) & 1);
}

unsigned granule_bits(const Arm64State& s, uint64_t vaddr) {
  const uint64_t tcr = s.tcr_el1;
  if ((vaddr >> 55) & 1) {
    switch ((tcr >> 30) & 3) {  // TG1
      case 1:
        return granule16k_supported(s) ? 14 : 12;
      case 3:
        return 16;
      default:
        return 12;  // 0b10, and the reserved 0b00 treated as 4K
    }
  }
  switch ((tcr >> 14) & 3) {  // TG0
    case 1:
      return 16;
    case 2:
      return granule16k_supported(s) ? 14 : 12;
    default:
      return 12;
  }
}

uint16_t current_asid(const Arm64State& s) {
  const uint64_t ttbr = ((s.tcr_el1 >> 22) & 1) ? s.ttbr1_el1 : s.ttbr0_el1;  // TCR.A1
  uint16_t asid = uint16_t(ttbr >> 48);
  if (!((s.tcr_el1 >> 36) & 1)) asid &= 0xff;  // TCR.AS: 8-bit ASIDs
  return asid;
}

WalkResult stage1_translate(const Arm64State& s, const hw::AddressSpace& as, uint64_t vaddr,
                            Access access, bool el0) {
  if (!(s.sctlr_el1 & sctlr::kM)) {
    // Stage 1 disabled: flat, and an address beyond the PA size is an address size fault.
    if (vaddr >> pa_range_bits(s)) return fault(Fault::AddressSize, 0);
    WalkResult r;
    r.phys = vaddr;
    r.page_size = tcg::softmmu::kPageSize;
    r.readable = r.writable = r.executable = true;
    r.attr = 0;  // Device-nGnRnE for data (not modelled beyond PAR)
    r.sh = 2;
    return r;
  }

  const uint64_t tcr = s.tcr_el1;
  const bool upper = (vaddr >> 55) & 1;
  uint64_t va = vaddr;
  if (access != Access::Fetch && top_byte_ignored(s, vaddr))
    va = upper ? (va | (0xffull << 56)) : (va & mask_bits(56));

  unsigned txsz = unsigned(upper ? (tcr >> 16) & 63 : tcr & 63);
  if (txsz < 16) txsz = 16;  // out-of-range sizes are clamped (IMPLEMENTATION DEFINED choice)
  if (txsz > 39) txsz = 39;
  const unsigned inputsize = 64 - txsz;
  const bool epd = upper ? (tcr >> 23) & 1 : (tcr >> 7) & 1;
  // The VA must lie in the region: bits above inputsize all equal to bit 55's selection.
  const uint64_t high = va >> inputsize;
  const uint64_t expect = upper ? mask_bits(64 - inputsize) : 0;
  if (high != expect || epd) return fault(Fault::Translation, 0);

  const unsigned gbits = granule_bits(s, vaddr);
  const unsigned stride = gbits - 3;
  const unsigned start = 4 - (inputsize - gbits + stride - 1) / stride;
  const unsigned pa_bits = ips_bits(s);
  const uint64_t ttbr = upper ? s.ttbr1_el1 : s.ttbr0_el1;

  // The initial table holds 2^(inputsize - shift(start)) descriptors and is aligned to its size.
  const unsigned start_shift = gbits + stride * (3 - start);
  const unsigned start_bits = inputsize - start_shift;
  uint64_t table = ttbr & mask_bits(48) & ~mask_bits(start_bits + 3 < 6 ? 6 : start_bits + 3);
  if (table >> pa_bits) return fault(Fault::AddressSize, 0);

  bool ap_no_el0 = false, ap_no_write = false, uxn = false, pxn = false;
  for (unsigned level = start; level <= 3; ++level) {
    const unsigned shift = gbits + stride * (3 - level);
    const unsigned bits = level == start ? start_bits : stride;
    const uint64_t index = (va >> shift) & mask_bits(bits);
    uint64_t desc = 0;
    if (as.read(table + index * 8, 8, desc) != hw::MemResult::Ok)
      return fault(Fault::ExternalWalk, level);
    if (!(desc & 1)) return fault(Fault::Translation, level);
    const bool is_table = (desc & 2) != 0;
    if (level < 3 && is_table) {
      table = desc & mask_bits(48) & ~mask_bits(gbits);
      if (table >> pa_bits) return fault(Fault::AddressSize, level);
      // Hierarchical attributes: APTable, UXNTable (XNTable), PXNTable.
      ap_no_el0 |= (desc >> 61) & 1;
      ap_no_write |= (desc >> 62) & 1;
      uxn |= (desc >> 60) & 1;
      pxn |= (desc >> 59) & 1;
      continue;
    }
    if (level == 3 && !is_table) return fault(Fault::Translation, 3);  // reserved at level 3
    if (level < 3) {
      // Blocks exist at levels 1 and 2 with 4K, and only level 2 with 16K and 64K.
      const bool block_ok = gbits == 12 ? (level == 1 || level == 2) : level == 2;
      if (!block_ok) return fault(Fault::Translation, level);
    }
    const uint64_t out = desc & mask_bits(48) & ~mask_bits(shift);
    if (out >> pa_bits) return fault(Fault::AddressSize, level);
    if (!((desc >> 10) & 1)) return fault(Fault::AccessFlag, level);

    WalkResult r;
    r.level = level;
    r.phys = out | (va & mask_bits(shift));
    r.page_size = 1ull << shift;
    const bool ap1 = ((desc >> 6) & 1) && !ap_no_el0;  // AP[1]: EL0 access
    const bool ap2 = ((desc >> 7) & 1) || ap_no_write;  // AP[2]: read-only
    uxn |= (desc >> 54) & 1;
    pxn |= (desc >> 53) & 1;
    const bool wxn = (s.sctlr_el1 & sctlr::kWxn) != 0;
    if (el0) {
      r.readable = ap1;
      r.writable = ap1 && !ap2;
      r.executable = !uxn && !(wxn && r.writable);
    } else {
      r.readable = true;
      r.writable = !ap2;
      // Memory writable at EL0 is never executable at EL1.
      r.executable = !pxn && !(ap1 && !ap2) && !(wxn && r.writable);
    }
    r.global = !((desc >> 11) & 1);
    r.asid = current_asid(s);
    r.attr = uint8_t(s.mair_el1 >> (8 * ((desc >> 2) & 7)));
    r.sh = uint8_t((desc >> 8) & 3);
    check_access(r, access);
    return r;
  }
  return fault(Fault::Translation, 3);  // not reached
}

uint64_t par_from(const WalkResult& r) {
  if (r.fault != Fault::None)
    return 1 | (uint64_t(fault_status(r.fault, r.level)) << 1) | (1ull << 11);
  return (uint64_t(r.attr) << 56) | (r.phys & mask_bits(48) & ~0xfffull) |
         (uint64_t(r.sh) << 7) | (1ull << 11);
}

}  // namespace orrery::cpu::arm64
