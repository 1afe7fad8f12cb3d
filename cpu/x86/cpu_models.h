// The x86 CPU models -cpu accepts and the CPUID leaves they answer. `qemu64` (the default) has
// QEMU's qemu64 identification and base feature set; `max` advertises everything Orrery
// implements and nothing more. One CpuidFeatures table per model is the single truth: CPUID,
// the MSRs that exist and the CR4/EFER/XCR0 bits a guest may set are all derived from it.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace orrery::cpu::x86 {

/// CPUID feature bits by leaf/register (Intel SDM vol. 2A, CPUID).
namespace feat {
// Leaf 1 EDX.
constexpr uint32_t kFpu = 1u << 0, kVme = 1u << 1, kDe = 1u << 2, kPse = 1u << 3;
constexpr uint32_t kTsc = 1u << 4, kMsr = 1u << 5, kPae = 1u << 6, kMce = 1u << 7;
constexpr uint32_t kCx8 = 1u << 8, kApic = 1u << 9, kSep = 1u << 11, kMtrr = 1u << 12;
constexpr uint32_t kPge = 1u << 13, kMca = 1u << 14, kCmov = 1u << 15, kPat = 1u << 16;
constexpr uint32_t kPse36 = 1u << 17, kClflush = 1u << 19, kMmx = 1u << 23;
constexpr uint32_t kFxsr = 1u << 24, kSse = 1u << 25, kSse2 = 1u << 26;
// Leaf 1 ECX.
constexpr uint32_t kSse3 = 1u << 0, kPclmul = 1u << 1, kSsse3 = 1u << 9, kFma = 1u << 12;
constexpr uint32_t kCx16 = 1u << 13, kPcid = 1u << 17, kSse41 = 1u << 19, kSse42 = 1u << 20;
constexpr uint32_t kX2apic = 1u << 21, kTscDeadline = 1u << 24;
constexpr uint32_t kMovbe = 1u << 22, kPopcnt = 1u << 23, kAes = 1u << 25;
constexpr uint32_t kXsave = 1u << 26, kOsxsave = 1u << 27, kAvx = 1u << 28, kF16c = 1u << 29;
constexpr uint32_t kRdrand = 1u << 30, kHypervisor = 1u << 31;
// Leaf 7 subleaf 0 EBX.
constexpr uint32_t kFsgsbase = 1u << 0, kBmi1 = 1u << 3, kAvx2 = 1u << 5, kSmep = 1u << 7;
constexpr uint32_t kBmi2 = 1u << 8, kErms = 1u << 9, kInvpcid = 1u << 10, kRdseed = 1u << 18;
constexpr uint32_t kAdx = 1u << 19, kSmap = 1u << 20, kClflushopt = 1u << 23, kSha = 1u << 29;
// Leaf 7 subleaf 0 ECX.
constexpr uint32_t kUmip = 1u << 2, kRdpid = 1u << 22;
// Leaf 7 subleaf 0 EDX.
constexpr uint32_t kSpecCtrl = 1u << 26;
// Leaf 0x80000001 ECX.
constexpr uint32_t kLahfLm = 1u << 0, kAbm = 1u << 5;
// Leaf 0x80000001 EDX.
constexpr uint32_t kSyscall = 1u << 11, kNx = 1u << 20, kPdpe1gb = 1u << 26;
constexpr uint32_t kRdtscp = 1u << 27, kLm = 1u << 29;
// Leaf 0xd subleaf 1 EAX.
constexpr uint32_t kXsaveopt = 1u << 0;
}  // namespace feat

struct CpuModel {
  const char* name;
  const char* description;
  const char* vendor;    // 12 characters
  const char* model_id;  // brand string, up to 47 characters
  uint32_t family = 15, model = 107, stepping = 1;
  uint32_t max_leaf = 0xd, max_ext_leaf = 0x8000000a;
  uint32_t leaf1_edx = 0, leaf1_ecx = 0;
  uint32_t leaf7_ebx = 0, leaf7_ecx = 0, leaf7_edx = 0;
  uint32_t ext1_ecx = 0, ext1_edx = 0;
  uint32_t leafd1_eax = 0;      // XSAVEOPT etc.
  uint64_t xcr0_supported = 1;  // x87 (and SSE, AVX when present)
  uint8_t phys_bits = 40, virt_bits = 48;

  bool has(uint32_t reg, uint32_t bit) const { return (reg & bit) != 0; }
};

std::span<const CpuModel> cpu_models();
/// The model called name, or null.
const CpuModel* find_cpu_model(std::string_view name);
/// The model boards use when -cpu is not given (qemu64).
const CpuModel& default_cpu_model();

struct CpuidResult {
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
};

/// What CPUID returns for leaf/subleaf on the vCPU with APIC ID apic_id, given the current
/// CR4.OSXSAVE and XCR0 (they show in leaf 1 ECX and leaf 0xd).
CpuidResult cpuid(const CpuModel& m, uint32_t leaf, uint32_t subleaf, unsigned apic_id,
                  bool osxsave, uint64_t xcr0);

/// The XCR0 bits XSETBV accepts: the model's, less AVX state on a host without AVX.
uint64_t xcr0_supported(const CpuModel& m);

/// The CR4 bits a guest may set on this model (others #GP).
uint64_t cr4_valid_bits(const CpuModel& m);
/// The EFER bits a guest may set (SCE, LME, NXE as advertised; LMA is read-only).
uint64_t efer_valid_bits(const CpuModel& m);

}  // namespace orrery::cpu::x86
