// See kvm_runner.h. Guest-physical memory is one slot at 0 holding the host-built system
// structures (supervisor-only) and the user pages, identity-mapped.
#include "tests/fuzz/x86/kvm_runner.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cpuid.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

namespace orrery::tests::x86fuzz {
namespace {

// Guest-physical = linear addresses of the system structures (below the user pages).
constexpr uint64_t kPml4 = 0x1000, kPdpt = 0x2000, kPd = 0x3000, kPt = 0x4000;
constexpr uint64_t kGdt = 0x5000, kTss = 0x5800, kIdt = 0x6000;
constexpr uint64_t kHandlers = 0x7000;  // vector v's handler is one HLT at kHandlers + v
constexpr uint64_t kKernelStackTop = 0x9000;
constexpr uint64_t kMemSize = 0x40000;
// Runner stubs at CPL3 (user, read-only): the prologue XRSTORs the initial x87/SSE/AVX state
// and jumps to the snippet; the snippet's appended JMP reaches the epilogue, which XSAVEs and
// ends the run with an OUT that the TSS I/O bitmap allows at CPL3 (a KVM_EXIT_IO without any
// guest kernel code). RAX and RDX, which XRSTOR/XSAVE need, go through kSaveRax/kSaveRdx.
constexpr uint64_t kStubAddr = 0x38000, kPrologue = kStubAddr, kEpilogue = kStubAddr + 0x100;
constexpr uint64_t kSaveAddr = 0x39000;  // user RW: the XSAVE image, then the two GPR slots
constexpr uint64_t kSaveRax = kSaveAddr + 0x800, kSaveRdx = kSaveAddr + 0x808;
constexpr uint16_t kEndPort = 0x80;

constexpr uint16_t kKernelCs = 0x08, kUserDs = 0x1b, kUserCs = 0x23, kTssSel = 0x28;

constexpr uint64_t kPteP = 1, kPteW = 2, kPteU = 4;

// Host CPUID bits for user-mode ISA extensions the fuzzer uses (SDM vol. 2, CPUID):
// leaf 1 ECX: SSE3 PCLMULQDQ SSSE3 FMA CX16 SSE4.1 SSE4.2 MOVBE POPCNT AES XSAVE OSXSAVE AVX
// F16C RDRAND; leaf 1 EDX: FPU CX8 CMOV FXSR SSE SSE2; leaf 7 EBX: BMI1 AVX2 BMI2 ADX SHA;
// leaf 0x80000001 ECX: LAHF-SAHF ABM(LZCNT) SSE4A.
constexpr uint32_t kUserLeaf1Ecx = (1u << 0) | (1u << 1) | (1u << 9) | (1u << 12) | (1u << 13) |
                                   (1u << 19) | (1u << 20) | (1u << 22) | (1u << 23) | (1u << 25) |
                                   (1u << 26) | (1u << 28) | (1u << 29) | (1u << 30);
constexpr uint32_t kUserLeaf1Edx =
    (1u << 0) | (1u << 8) | (1u << 15) | (1u << 24) | (1u << 25) | (1u << 26);
constexpr uint32_t kUserLeaf7Ebx = (1u << 3) | (1u << 5) | (1u << 8) | (1u << 19) | (1u << 29);
constexpr uint32_t kUserExtEcx = (1u << 0) | (1u << 5) | (1u << 6);

// The uapi headers end kvm_cpuid2 and kvm_xsave with __DECLARE_FLEX_ARRAY, whose empty struct
// has size 1 in C++, so g++ encodes a wrong size in _IOWR and the kernel answers EINVAL. These
// ioctl numbers carry the C sizes.
constexpr unsigned long kGetSupportedCpuid = _IOC(_IOC_READ | _IOC_WRITE, KVMIO, 0x05, 8);
constexpr unsigned long kSetCpuid2 = _IOC(_IOC_WRITE, KVMIO, 0x90, 8);
constexpr size_t kXsaveSize = 4096;
constexpr unsigned long kGetXsave = _IOC(_IOC_READ, KVMIO, 0xa4, kXsaveSize);

// Vectors that push an error code.
bool has_error_code(unsigned v) {
  return v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21 || v == 29 || v == 30;
}

// Offsets in the standard (non-compacted) XSAVE image.
constexpr size_t kXsFcw = 0, kXsFsw = 2, kXsFtw = 4, kXsMxcsr = 24, kXsMxcsrMask = 28, kXsSt = 32,
                 kXsXmm = 160, kXsXstateBv = 512, kXsYmmHi = 576;

// kvm_regs fields in x86 encoding order.
constexpr __u64 kvm_regs::*kGprField[16] = {
    &kvm_regs::rax, &kvm_regs::rcx, &kvm_regs::rdx, &kvm_regs::rbx, &kvm_regs::rsp, &kvm_regs::rbp,
    &kvm_regs::rsi, &kvm_regs::rdi, &kvm_regs::r8,  &kvm_regs::r9,  &kvm_regs::r10, &kvm_regs::r11,
    &kvm_regs::r12, &kvm_regs::r13, &kvm_regs::r14, &kvm_regs::r15};

constexpr uint32_t kTssLimit = 0x68 + kEndPort / 8 + 1;

void emit(std::vector<uint8_t>& v, std::initializer_list<uint8_t> bytes) {
  v.insert(v.end(), bytes);
}
void emit32(std::vector<uint8_t>& v, uint32_t x) {
  for (int i = 0; i < 4; ++i) v.push_back(uint8_t(x >> (8 * i)));
}
// [disp32] absolute addressing: ModRM mod=00 rm=100, SIB base=101 index=100.
void emit_abs(std::vector<uint8_t>& v, uint8_t reg, uint64_t addr) {
  emit(v, {uint8_t(reg << 3 | 4), 0x25});
  emit32(v, uint32_t(addr));
}

void write_stubs(uint8_t* mem) {
  std::vector<uint8_t> p;
  emit(p, {0xb8, 7, 0, 0, 0, 0xba, 0, 0, 0, 0});  // mov eax, 7; mov edx, 0
  emit(p, {0x48, 0x0f, 0xae});                    // xrstor64 [kSaveAddr]
  emit_abs(p, 5, kSaveAddr);
  emit(p, {0x48, 0x8b});  // mov rax, [kSaveRax]
  emit_abs(p, 0, kSaveRax);
  emit(p, {0x48, 0x8b});  // mov rdx, [kSaveRdx]
  emit_abs(p, 2, kSaveRdx);
  emit(p, {0xe9});  // jmp kCodeAddr
  emit32(p, uint32_t(layout::kCodeAddr - (kPrologue + p.size() + 4)));
  std::memcpy(mem + kPrologue, p.data(), p.size());

  std::vector<uint8_t> e;
  emit(e, {0x48, 0x89});  // mov [kSaveRax], rax
  emit_abs(e, 0, kSaveRax);
  emit(e, {0x48, 0x89});  // mov [kSaveRdx], rdx
  emit_abs(e, 2, kSaveRdx);
  emit(e, {0xb8, 7, 0, 0, 0, 0xba, 0, 0, 0, 0});  // mov eax, 7; mov edx, 0 (flags untouched)
  emit(e, {0x48, 0x0f, 0xae});                    // xsave64 [kSaveAddr]
  emit_abs(e, 4, kSaveAddr);
  emit(e, {0xe6, uint8_t(kEndPort), 0x0f, 0x0b});  // out kEndPort, al; ud2
  std::memcpy(mem + kEpilogue, e.data(), e.size());
}

// The user-mode segment and control-register state every run starts from.
void set_user_sregs(kvm_sregs& sregs) {
  auto seg = [](kvm_segment& s, uint16_t sel, uint8_t type, bool code64) {
    s = kvm_segment{};
    s.selector = sel;
    s.limit = 0xffffffff;
    s.type = type;
    s.present = 1;
    s.dpl = 3;
    s.s = 1;
    s.l = code64;
    s.db = !code64;
    s.g = 1;
  };
  seg(sregs.cs, kUserCs, 0xb, true);
  seg(sregs.ss, kUserDs, 0x3, false);
  seg(sregs.ds, kUserDs, 0x3, false);
  seg(sregs.es, kUserDs, 0x3, false);
  seg(sregs.fs, kUserDs, 0x3, false);
  seg(sregs.gs, kUserDs, 0x3, false);
  sregs.tr = kvm_segment{};
  sregs.tr.selector = kTssSel;
  sregs.tr.base = kTss;
  sregs.tr.limit = kTssLimit;
  sregs.tr.type = 0xb;  // busy 64-bit TSS
  sregs.tr.present = 1;
  sregs.ldt = kvm_segment{};
  sregs.ldt.unusable = 1;
  sregs.ldt.type = 2;
  sregs.gdt.base = kGdt;
  sregs.gdt.limit = 0x37;
  sregs.idt.base = kIdt;
  sregs.idt.limit = 0xfff;
  sregs.cr0 = 0x80050033;  // PG WP NE ET MP PE
  sregs.cr3 = kPml4;
  sregs.cr4 = 0x40620;  // OSXSAVE OSXMMEXCPT OSFXSR PAE
  sregs.efer = 0x500;   // LMA LME
}

// XSAVE image (standard form) <-> the user state's x87/SSE/AVX part.
void state_to_xsave(const X86UserState& state, uint8_t* x) {
  std::memset(x, 0, 1024);
  std::memcpy(x + kXsFcw, &state.fcw, 2);
  std::memcpy(x + kXsFsw, &state.fsw, 2);
  x[kXsFtw] = state.ftw;
  std::memcpy(x + kXsMxcsr, &state.mxcsr, 4);
  uint32_t mxcsr_mask = 0xffff;
  std::memcpy(x + kXsMxcsrMask, &mxcsr_mask, 4);
  for (unsigned i = 0; i < 8; ++i) {
    std::memcpy(x + kXsSt + i * 16, &state.st[i].mantissa, 8);
    std::memcpy(x + kXsSt + i * 16 + 8, &state.st[i].sign_exp, 2);
  }
  for (unsigned i = 0; i < 16; ++i) {
    std::memcpy(x + kXsXmm + i * 16, &state.ymm[i].q[0], 16);
    std::memcpy(x + kXsYmmHi + i * 16, &state.ymm[i].q[2], 16);
  }
  uint64_t xstate_bv = 7;
  std::memcpy(x + kXsXstateBv, &xstate_bv, 8);
}

void xsave_to_state(const uint8_t* x, X86UserState& state) {
  uint64_t bv;
  std::memcpy(&bv, x + kXsXstateBv, 8);
  std::memcpy(&state.mxcsr, x + kXsMxcsr, 4);
  if (bv & 1) {
    std::memcpy(&state.fcw, x + kXsFcw, 2);
    std::memcpy(&state.fsw, x + kXsFsw, 2);
    state.ftw = x[kXsFtw];
    for (unsigned i = 0; i < 8; ++i) {
      std::memcpy(&state.st[i].mantissa, x + kXsSt + i * 16, 8);
      std::memcpy(&state.st[i].sign_exp, x + kXsSt + i * 16 + 8, 2);
    }
  } else {  // x87 in its init state
    state.fcw = 0x37f;
    state.fsw = 0;
    state.ftw = 0;
    state.st = {};
  }
  for (unsigned i = 0; i < 16; ++i) {
    if (bv & 2)
      std::memcpy(&state.ymm[i].q[0], x + kXsXmm + i * 16, 16);
    else
      state.ymm[i].q[0] = state.ymm[i].q[1] = 0;
    if (bv & 4)
      std::memcpy(&state.ymm[i].q[2], x + kXsYmmHi + i * 16, 16);
    else
      state.ymm[i].q[2] = state.ymm[i].q[3] = 0;
  }
}

uint64_t now_ns() {
  return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::steady_clock::now().time_since_epoch())
                      .count());
}

}  // namespace

struct KvmRunner::Mapping {
  uint8_t* ptr = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (ptr) munmap(ptr, size);
  }
};

KvmRunner::~KvmRunner() {
  mem_.reset();
  run_map_.reset();
  for (int fd : {vcpu_fd_, vm_fd_, kvm_fd_})
    if (fd >= 0) close(fd);
}

std::unique_ptr<KvmRunner> KvmRunner::create(std::string& why) {
  std::unique_ptr<KvmRunner> r(new KvmRunner());
  if (!r->init(why)) return nullptr;
  return r;
}

bool KvmRunner::fail(const std::string& what) {
  error_ = what + ": " + std::strerror(errno);
  return false;
}

bool KvmRunner::init(std::string& why) {
  auto bad = [&](const char* what) {
    why = std::string(what) + ": " + std::strerror(errno);
    return false;
  };
  kvm_fd_ = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm_fd_ < 0) return bad("open /dev/kvm");
  if (ioctl(kvm_fd_, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) return bad("KVM API version");
  if (ioctl(kvm_fd_, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE) <= 0) return bad("KVM_CAP_XSAVE");
  if (ioctl(kvm_fd_, KVM_CHECK_EXTENSION, KVM_CAP_XCRS) <= 0) return bad("KVM_CAP_XCRS");
  // CPUID: what KVM reports, with the host's user-mode ISA feature bits added. This machine's
  // hypervisor leaves SSE3..AVX2 out of KVM_GET_SUPPORTED_CPUID although CPL3 code runs
  // natively; CR4.OSXSAVE and XCR0 are only accepted when the guest's CPUID has XSAVE/AVX.
  std::vector<uint8_t> cpuid_buf;
  kvm_cpuid2* cpuid = nullptr;
  for (unsigned n = 64; n <= 1024; n *= 2) {
    cpuid_buf.assign(sizeof(kvm_cpuid2) + n * sizeof(kvm_cpuid_entry2), 0);
    cpuid = reinterpret_cast<kvm_cpuid2*>(cpuid_buf.data());
    cpuid->nent = n;
    if (ioctl(kvm_fd_, kGetSupportedCpuid, cpuid) == 0) break;
    if (errno != E2BIG) return bad("KVM_GET_SUPPORTED_CPUID");
    cpuid = nullptr;
  }
  if (!cpuid) return bad("KVM_GET_SUPPORTED_CPUID");
  for (unsigned i = 0; i < cpuid->nent; ++i) {
    kvm_cpuid_entry2& e = cpuid->entries[i];
    unsigned a, b, c, d;
    __cpuid_count(e.function, e.index, a, b, c, d);
    if (e.function == 1) {
      e.ecx |= c & kUserLeaf1Ecx;
      e.edx |= d & kUserLeaf1Edx;
    } else if (e.function == 7 && e.index == 0) {
      e.ebx |= b & kUserLeaf7Ebx;
    } else if (e.function == 0x80000001) {
      e.ecx |= c & kUserExtEcx;
    }
  }
  vm_fd_ = ioctl(kvm_fd_, KVM_CREATE_VM, 0);
  if (vm_fd_ < 0) return bad("KVM_CREATE_VM");

  mem_ = std::make_unique<Mapping>();
  void* m = mmap(nullptr, kMemSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return bad("mmap guest memory");
  mem_->ptr = static_cast<uint8_t*>(m);
  mem_->size = kMemSize;
  kvm_userspace_memory_region region{};
  region.slot = 0;
  region.guest_phys_addr = 0;
  region.memory_size = kMemSize;
  region.userspace_addr = reinterpret_cast<uintptr_t>(mem_->ptr);
  if (ioctl(vm_fd_, KVM_SET_USER_MEMORY_REGION, &region) < 0)
    return bad("KVM_SET_USER_MEMORY_REGION");
  // Intel needs a TSS area for real mode even though this guest never enters it.
  ioctl(vm_fd_, KVM_SET_TSS_ADDR, 0xfffbd000ul);

  vcpu_fd_ = ioctl(vm_fd_, KVM_CREATE_VCPU, 0);
  if (vcpu_fd_ < 0) return bad("KVM_CREATE_VCPU");
  int run_size = ioctl(kvm_fd_, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (run_size <= 0) return bad("KVM_GET_VCPU_MMAP_SIZE");
  run_map_ = std::make_unique<Mapping>();
  m = mmap(nullptr, size_t(run_size), PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_fd_, 0);
  if (m == MAP_FAILED) return bad("mmap kvm_run");
  run_map_->ptr = static_cast<uint8_t*>(m);
  run_map_->size = size_t(run_size);

  if (ioctl(vcpu_fd_, kSetCpuid2, cpuid) < 0) return bad("KVM_SET_CPUID2");

  // Page tables: PML4 -> PDPT -> PD -> one PT mapping the first 2 MiB with 4 KiB pages.
  uint8_t* mem = mem_->ptr;
  auto put64 = [&](uint64_t addr, uint64_t v) { std::memcpy(mem + addr, &v, 8); };
  put64(kPml4, kPdpt | kPteP | kPteW | kPteU);
  put64(kPdpt, kPd | kPteP | kPteW | kPteU);
  put64(kPd, kPt | kPteP | kPteW | kPteU);
  for (uint64_t a = 0; a < 0x10000; a += 0x1000) put64(kPt + (a >> 12) * 8, a | kPteP | kPteW);
  for (uint64_t a = layout::kCodeAddr; a < layout::kCodeAddr + layout::kCodeSize; a += 0x1000)
    put64(kPt + (a >> 12) * 8, a | kPteP | kPteU);  // read-only for the snippet
  for (uint64_t a = layout::kDataAddr; a < layout::kDataAddr + layout::kDataSize; a += 0x1000)
    put64(kPt + (a >> 12) * 8, a | kPteP | kPteW | kPteU);
  for (uint64_t a = layout::kStackAddr; a < layout::kStackAddr + layout::kStackSize; a += 0x1000)
    put64(kPt + (a >> 12) * 8, a | kPteP | kPteW | kPteU);
  put64(kPt + (kStubAddr >> 12) * 8, kStubAddr | kPteP | kPteU);
  put64(kPt + (kSaveAddr >> 12) * 8, kSaveAddr | kPteP | kPteW | kPteU);
  write_stubs(mem);

  // GDT: null, kernel code, kernel data, user data, user code (64-bit), TSS (16 bytes).
  put64(kGdt + 0x00, 0);
  put64(kGdt + 0x08, 0x00209b0000000000ull);
  put64(kGdt + 0x10, 0x00cf93000000ffffull);
  put64(kGdt + 0x18, 0x00cff3000000ffffull);
  put64(kGdt + 0x20, 0x0020fb0000000000ull);
  uint64_t tss_lo = 0x67 | ((kTss & 0xffffff) << 16) | (0x89ull << 40) | ((kTss >> 24) << 56);
  put64(kGdt + 0x28, tss_lo);
  put64(kGdt + 0x30, kTss >> 32);
  // TSS: RSP0 for exceptions from CPL3; no I/O bitmap.
  put64(kTss + 4, kKernelStackTop);
  // I/O bitmap right after the 104-byte TSS: only kEndPort is open to CPL3. The limit covers
  // the bitmap up to that port plus the terminating 0xff byte.
  uint16_t iomap = 0x68;
  std::memcpy(mem + kTss + 0x66, &iomap, 2);
  std::memset(mem + kTss + 0x68, 0xff, kEndPort / 8 + 2);
  mem[kTss + 0x68 + kEndPort / 8] &= uint8_t(~(1u << (kEndPort % 8)));
  // IDT: 64-bit interrupt gates, DPL 0, each to its own HLT.
  for (unsigned v = 0; v < 256; ++v) {
    uint64_t h = kHandlers + v;
    uint64_t lo =
        (h & 0xffff) | (uint64_t(kKernelCs) << 16) | (0x8eull << 40) | ((h >> 16 & 0xffff) << 48);
    put64(kIdt + v * 16, lo);
    put64(kIdt + v * 16 + 8, h >> 32);
    mem[kHandlers + v] = 0xf4;
  }

  // XCR0 = x87 | SSE | AVX.
  kvm_xcrs xcrs{};
  xcrs.nr_xcrs = 1;
  xcrs.xcrs[0].xcr = 0;
  xcrs.xcrs[0].value = 7;
  if (ioctl(vcpu_fd_, KVM_SET_XCRS, &xcrs) < 0) return bad("KVM_SET_XCRS");

  // Registers travel in kvm_run (KVM_CAP_SYNC_REGS): each ioctl costs ~10 us here.
  if (ioctl(kvm_fd_, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS) <= 0) return bad("KVM_CAP_SYNC_REGS");
  kvm_sregs sregs{};
  if (ioctl(vcpu_fd_, KVM_GET_SREGS, &sregs) < 0) return bad("KVM_GET_SREGS");
  set_user_sregs(sregs);
  if (ioctl(vcpu_fd_, KVM_SET_SREGS, &sregs) < 0) return bad("KVM_SET_SREGS");
  auto* kr = reinterpret_cast<kvm_run*>(run_map_->ptr);
  kr->kvm_valid_regs = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS;
  return true;
}

bool KvmRunner::run(std::span<const uint8_t> code, X86UserState& state) {
  if (code.size() + 5 > layout::kCodeSize) {
    error_ = "snippet too long";
    return false;
  }
  uint64_t t0 = now_ns();
  uint8_t* mem = mem_->ptr;
  uint8_t* c = mem + layout::kCodeAddr;
  std::memcpy(c, code.data(), code.size());
  uint64_t end = layout::kCodeAddr + code.size();
  c[code.size()] = 0xe9;  // jmp kEpilogue
  uint32_t rel = uint32_t(kEpilogue - (end + 5));
  std::memcpy(c + code.size() + 1, &rel, 4);
  std::memset(c + code.size() + 5, 0xcc, layout::kCodeSize - code.size() - 5);
  std::memcpy(mem + layout::kDataAddr, state.data.data(), layout::kDataSize);
  state_to_xsave(state, mem + kSaveAddr);
  std::memcpy(mem + kSaveRax, &state.gpr[0], 8);
  std::memcpy(mem + kSaveRdx, &state.gpr[2], 8);

  auto* kr = reinterpret_cast<kvm_run*>(run_map_->ptr);
  kvm_regs& regs = kr->s.regs.regs;
  for (unsigned i = 0; i < 16; ++i) regs.*kGprField[i] = state.gpr[i];
  regs.rip = kPrologue;
  regs.rflags = (state.rflags & 0x40cd5) | 0x202;  // arithmetic flags, DF, AC; IF set
  kr->kvm_dirty_regs = KVM_SYNC_X86_REGS;
  if (need_sregs_) {
    set_user_sregs(kr->s.regs.sregs);
    kr->kvm_dirty_regs |= KVM_SYNC_X86_SREGS;
    need_sregs_ = false;
  }
  int rc;
  for (;;) {
    rc = ioctl(vcpu_fd_, KVM_RUN, 0);
    if (rc >= 0 || (errno != EINTR && errno != EAGAIN)) break;
    kr->kvm_dirty_regs = 0;  // a signal: resume where the guest is, do not restart it
  }
  if (rc < 0) return fail("KVM_RUN");

  for (unsigned i = 0; i < 16; ++i) state.gpr[i] = regs.*kGprField[i];
  state.rflags = regs.rflags;
  state.fault = X86Fault{};
  bool faulted = false;
  if (kr->exit_reason == KVM_EXIT_IO && kr->io.port == kEndPort) {
    state.rip = end;
    std::memcpy(&state.gpr[0], mem + kSaveRax, 8);
    std::memcpy(&state.gpr[2], mem + kSaveRdx, 8);
    xsave_to_state(mem + kSaveAddr, state);
  } else if (kr->exit_reason == KVM_EXIT_HLT && regs.rip > kHandlers &&
             regs.rip <= kHandlers + 256) {
    // An exception in the snippet (or in a stub, which the checks below catch).
    faulted = true;
    need_sregs_ = true;
    unsigned v = unsigned(regs.rip - kHandlers - 1);
    state.fault.vector = int(v);
    uint64_t sp = regs.rsp;
    if (sp < kKernelStackTop - 48 || sp > kKernelStackTop - 40) {
      error_ = "unexpected kernel stack pointer after exception " + std::to_string(v);
      return false;
    }
    auto get64 = [&](uint64_t a) {
      uint64_t val;
      std::memcpy(&val, mem + a, 8);
      return val;
    };
    if (has_error_code(v)) {
      state.fault.has_error_code = true;
      state.fault.error_code = uint32_t(get64(sp));
      sp += 8;
    }
    state.rip = get64(sp);
    state.rflags = get64(sp + 16);
    state.gpr[4] = get64(sp + 24);
    if (state.rip < layout::kCodeAddr || state.rip > end) {  // end: a trap after the last
      error_ =
          "exception " + std::to_string(v) + " outside the snippet at " + std::to_string(state.rip);
      return false;
    }
    alignas(64) uint8_t x[kXsaveSize];
    if (ioctl(vcpu_fd_, kGetXsave, x) < 0) return fail("KVM_GET_XSAVE");
    xsave_to_state(x, state);
  } else {
    need_sregs_ = true;
    error_ = "unexpected KVM exit " + std::to_string(kr->exit_reason) + " at rip " +
             std::to_string(regs.rip);
    return false;
  }
  std::memcpy(state.data.data(), mem + layout::kDataAddr, layout::kDataSize);

  uint64_t dt = now_ns() - t0;
  ++runs_;
  run_ns_ += dt;
  if (faulted) {
    ++faults_;
    fault_ns_ += dt;
  }
  return true;
}

}  // namespace orrery::tests::x86fuzz
