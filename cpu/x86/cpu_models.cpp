#include "cpu/x86/cpu_models.h"

#include <cstring>

#include "cpu/x86/host_features.h"
#include "cpu/x86/state.h"

namespace orrery::cpu::x86 {

namespace {

using namespace feat;

// Leaf 1 EDX of every model: what a P6-class CPU with SSE2 has (QEMU's qemu64 set).
constexpr uint32_t kBaseEdx = kFpu | kDe | kPse | kTsc | kMsr | kPae | kMce | kCx8 | kApic | kSep |
                              kMtrr | kPge | kMca | kCmov | kPat | kPse36 | kClflush | kMmx |
                              kFxsr | kSse | kSse2;
// AMD mirrors these leaf 1 EDX bits in leaf 0x80000001 EDX.
constexpr uint32_t kAmdAliases = 0x0183f3ff;

constexpr CpuModel kModels[] = {
    {
        .name = "qemu64",
        .description = "QEMU's default 64-bit CPU (SSE3, no AVX)",
        .vendor = "AuthenticAMD",
        .model_id = "QEMU Virtual CPU version 2.5+",
        .family = 15,
        .model = 107,
        .stepping = 1,
        .max_leaf = 0xd,
        .max_ext_leaf = 0x8000000a,
        .leaf1_edx = kBaseEdx,
        .leaf1_ecx = kSse3 | kCx16 | kHypervisor,
        .ext1_ecx = kLahfLm,
        .ext1_edx = (kBaseEdx & kAmdAliases) | kSyscall | kNx | kLm,
        .xcr0_supported = 1,
    },
    {
        .name = "max",
        .description = "every feature Orrery implements",
        .vendor = "GenuineIntel",
        .model_id = "Orrery x86-64 max CPU",
        .family = 6,
        .model = 85,
        .stepping = 4,
        .max_leaf = 0xd,
        .max_ext_leaf = 0x80000008,
        // VME (with PVI): QEMU 7.2's TCG lacks it, so qemu64 goes without, as in QEMU.
        .leaf1_edx = kBaseEdx | kVme,
        // AVX, AVX2, FMA and F16C only where the host has them (cpuid() masks them).
        .leaf1_ecx = kSse3 | kPclmul | kSsse3 | kFma | kCx16 | kPcid | kSse41 | kSse42 | kX2apic |
                     kMovbe | kPopcnt | kTscDeadline | kAes | kXsave | kAvx | kF16c | kRdrand |
                     kHypervisor,
        .leaf7_ebx = kFsgsbase | kBmi1 | kAvx2 | kSmep | kBmi2 | kErms | kInvpcid | kRdseed | kAdx |
                     kSmap | kClflushopt | kSha,
        .leaf7_ecx = kUmip | kRdpid,
        .leaf7_edx = kSpecCtrl,
        .ext1_ecx = kLahfLm | kAbm,
        .ext1_edx = kSyscall | kNx | kPdpe1gb | kRdtscp | kLm,
        .leafd1_eax = kXsaveopt,
        .xcr0_supported = 7,  // x87, SSE and AVX state (AVX only on an AVX host)
        .phys_bits = 40,
        .virt_bits = 48,
    },
};

uint32_t str4(const char* s, unsigned off) {
  char b[4] = {0, 0, 0, 0};
  const size_t n = std::strlen(s);
  for (unsigned i = 0; i < 4; ++i)
    if (off + i < n) b[i] = s[off + i];
  uint32_t v;
  std::memcpy(&v, b, 4);
  return v;
}

uint32_t signature(const CpuModel& m) {
  const uint32_t fam = m.family > 15 ? 15 : m.family;
  const uint32_t ext_fam = m.family > 15 ? m.family - 15 : 0;
  return (m.stepping & 0xf) | ((m.model & 0xf) << 4) | (fam << 8) | (((m.model >> 4) & 0xf) << 16) |
         (ext_fam << 20);
}

/// XSAVE area size for the components in xcr0 (legacy area + header, AVX at 576).
uint32_t xsave_size(uint64_t xcr0) {
  return (xcr0 & 4) ? 832 : 576;
}

}  // namespace

std::span<const CpuModel> cpu_models() {
  return kModels;
}

const CpuModel* find_cpu_model(std::string_view name) {
  for (const CpuModel& m : kModels)
    if (name == m.name) return &m;
  return nullptr;
}

const CpuModel& default_cpu_model() {
  return kModels[0];
}

CpuidResult cpuid(const CpuModel& m, uint32_t leaf, uint32_t subleaf, unsigned apic_id,
                  bool osxsave, uint64_t xcr0) {
  CpuidResult r;
  // Out-of-range leaves return the highest basic leaf (Intel's documented behaviour).
  if (leaf >= 0x80000000u ? leaf > m.max_ext_leaf : leaf > m.max_leaf) leaf = m.max_leaf;
  switch (leaf) {
    case 0:
      r.eax = m.max_leaf;
      r.ebx = str4(m.vendor, 0);
      r.edx = str4(m.vendor, 4);
      r.ecx = str4(m.vendor, 8);
      break;
    case 1:
      r.eax = signature(m);
      r.ebx = (apic_id << 24) | (8u << 8);  // CLFLUSH line size 64 bytes
      r.ecx = m.leaf1_ecx | (osxsave && (m.leaf1_ecx & kXsave) ? kOsxsave : 0);
      {  // what the host cannot run is not offered (host_features.h)
        const HostSimd& h = host_simd();
        const uint32_t missing =
            (h.sse3 ? 0 : kSse3) | (h.ssse3 ? 0 : kSsse3) | (h.sse41 ? 0 : kSse41) |
            (h.sse42 ? 0 : kSse42) | (h.aes ? 0 : kAes) | (h.pclmul ? 0 : kPclmul) |
            (h.avx ? 0 : kAvx | kFma | kF16c) | (h.fma ? 0 : kFma) | (h.f16c ? 0 : kF16c);
        r.ecx &= ~missing;
      }
      r.edx = m.leaf1_edx;
      break;
    case 2:  // descriptors: 64-byte prefetch, L1/L2 caches, TLBs (one iteration)
      r.eax = 0x00000001;
      r.ecx = 0x0000004d;
      r.edx = 0x002c307d;
      break;
    case 4: {
      // Deterministic cache parameters: L1d 32K, L1i 32K, L2 4M, then no more.
      struct Cache {
        uint32_t type, level, ways, sets;
      };
      static constexpr Cache kCaches[] = {{1, 1, 8, 64}, {2, 1, 8, 64}, {3, 2, 16, 4096}};
      if (subleaf < 3) {
        const Cache& c = kCaches[subleaf];
        r.eax = c.type | (c.level << 5) | (1u << 8);
        r.ebx = ((c.ways - 1) << 22) | 63;  // one partition, 64-byte lines
        r.ecx = c.sets - 1;
        r.edx = 0;
      }
      break;
    }
    case 6:
      r.eax = 4;  // ARAT: the APIC timer keeps running in deep C-states
      break;
    case 7:
      if (subleaf == 0) {
        r.ebx = m.leaf7_ebx &
                ~((host_simd().sha ? 0 : kSha) | (host_simd().avx && host_simd().avx2 ? 0 : kAvx2));
        r.ecx = m.leaf7_ecx;
        r.edx = m.leaf7_edx;
      }
      break;
    case 0xd:
      if (!(m.leaf1_ecx & kXsave)) break;
      if (subleaf == 0) {
        r.eax = uint32_t(xcr0_supported(m));
        r.ebx = xsave_size(xcr0);
        r.ecx = xsave_size(xcr0_supported(m));
        r.edx = uint32_t(xcr0_supported(m) >> 32);
      } else if (subleaf == 1) {
        r.eax = m.leafd1_eax;
      } else if (subleaf == 2 && (xcr0_supported(m) & 4)) {
        r.eax = 256;
        r.ebx = 576;
      }
      break;
    case 0x80000000:
      r.eax = m.max_ext_leaf;
      r.ebx = str4(m.vendor, 0);
      r.edx = str4(m.vendor, 4);
      r.ecx = str4(m.vendor, 8);
      break;
    case 0x80000001:
      r.eax = signature(m);
      r.ecx = m.ext1_ecx;
      r.edx = m.ext1_edx;
      break;
    case 0x80000002:
    case 0x80000003:
    case 0x80000004: {
      const unsigned off = (leaf - 0x80000002) * 16;
      r.eax = str4(m.model_id, off);
      r.ebx = str4(m.model_id, off + 4);
      r.ecx = str4(m.model_id, off + 8);
      r.edx = str4(m.model_id, off + 12);
      break;
    }
    case 0x80000005:  // AMD L1 cache and TLB: 64K 2-way... as QEMU reports them
      r.eax = 0x01ff01ff;
      r.ebx = 0x01ff01ff;
      r.ecx = 0x40020140;
      r.edx = 0x40020140;
      break;
    case 0x80000006:  // L2: 512K, 16-way, 64-byte lines
      r.ecx = 0x02008140;
      break;
    case 0x80000008:
      r.eax = m.phys_bits | (uint32_t(m.virt_bits) << 8);
      break;
    default:
      break;
  }
  return r;
}

uint64_t xcr0_supported(const CpuModel& m) {
  return m.xcr0_supported & ~(host_simd().avx ? 0 : 4ull);
}

uint64_t cr4_valid_bits(const CpuModel& m) {
  uint64_t v = cr4::kDe | cr4::kPse | cr4::kPae | cr4::kMce | cr4::kPge | cr4::kPce | cr4::kOsfxsr |
               cr4::kOsxmmexcpt | cr4::kTsd;
  if (m.leaf1_edx & feat::kVme) v |= cr4::kVme | cr4::kPvi;
  if (m.leaf1_ecx & feat::kPcid) v |= cr4::kPcide;
  if (m.leaf1_ecx & feat::kXsave) v |= cr4::kOsxsave;
  if (m.leaf7_ebx & feat::kFsgsbase) v |= cr4::kFsgsbase;
  if (m.leaf7_ebx & feat::kSmep) v |= cr4::kSmep;
  if (m.leaf7_ebx & feat::kSmap) v |= cr4::kSmap;
  if (m.leaf7_ecx & feat::kUmip) v |= cr4::kUmip;
  return v;
}

uint64_t efer_valid_bits(const CpuModel& m) {
  uint64_t v = 0;
  if (m.ext1_edx & feat::kSyscall) v |= 1u << 0;
  if (m.ext1_edx & feat::kLm) v |= 1u << 8;
  if (m.ext1_edx & feat::kNx) v |= 1u << 11;
  return v;
}

}  // namespace orrery::cpu::x86
