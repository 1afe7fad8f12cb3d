#include "cpu/kvm/kvm_vcpu.h"

#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "cpu/kvm/kvm_gdb.h"
#include "cpu/x86/cpu.h"
#include "cpu/x86/cpu_models.h"
#include "hw/core/address_space.h"
#include "hw/core/log.h"

namespace orrery::cpu::kvm {
namespace {

// The uapi headers end kvm_cpuid2 and kvm_msrs with __DECLARE_FLEX_ARRAY, whose empty struct
// has size 1 in C++, so g++ encodes a wrong size in _IOWR and the kernel answers EINVAL. These
// ioctl numbers carry the C sizes.
constexpr unsigned long kGetSupportedCpuid = _IOC(_IOC_READ | _IOC_WRITE, KVMIO, 0x05, 8);
constexpr unsigned long kSetCpuid2 = _IOC(_IOC_WRITE, KVMIO, 0x90, 8);
constexpr unsigned long kSetMsrs = _IOC(_IOC_WRITE, KVMIO, 0x89, 8);
constexpr unsigned kMaxCpuidEntries = 256;

constexpr uint64_t kApicBaseDefault = 0xfee00000 | (1u << 11);  // enabled
constexpr uint64_t kApicBaseBsp = 1u << 8;

// MSRs a reset puts back (SDM vol. 3, table 10-1 "IA-32 and Intel 64 processor states following
// power-up, reset, or INIT"), with their reset values.
constexpr struct {
  uint32_t index;
  uint64_t value;
} kResetMsrs[] = {
    {0x10, 0},                    // IA32_TSC: every vCPU starts at 0 together
    {0x174, 0},                   // IA32_SYSENTER_CS
    {0x175, 0},                   // IA32_SYSENTER_ESP
    {0x176, 0},                   // IA32_SYSENTER_EIP
    {0x277, 0x0007040600070406},  // IA32_PAT
    {0xc0000081, 0},              // STAR
    {0xc0000082, 0},              // LSTAR
    {0xc0000083, 0},              // CSTAR
    {0xc0000084, 0},              // FMASK
    {0xc0000102, 0},              // KERNEL_GS_BASE
};

// kvm_cpuid2 and kvm_msrs with room for their entries (same layout as the uapi structs).
struct CpuidBuf {
  uint32_t nent, padding;
  kvm_cpuid_entry2 entries[kMaxCpuidEntries];
};

kvm_segment flat_segment(uint16_t sel, uint8_t type, bool code64, bool db) {
  kvm_segment s{};
  s.base = 0;
  s.limit = 0xffffffff;
  s.selector = sel;
  s.type = type;
  s.present = 1;
  s.dpl = 0;
  s.s = 1;
  s.l = code64;
  s.db = db;
  s.g = 1;
  return s;
}

void system_segments(kvm_sregs& s) {
  s.tr = kvm_segment{};
  s.tr.type = 0xb;  // busy 32-bit TSS, as after reset
  s.tr.present = 1;
  s.tr.limit = 0xffff;
  s.ldt = kvm_segment{};
  s.ldt.type = 2;
  s.ldt.present = 1;
  s.ldt.limit = 0xffff;
}

}  // namespace

KvmVcpu::KvmVcpu(KvmVm& vm, const x86::X86VcpuSpec& spec)
    : vm_(vm),
      index_(spec.index),
      memory_(spec.memory),
      io_(spec.io_ports),
      platform_(spec.platform) {
  error_ = init(spec.model);
  if (error_.empty()) vm_.set_vcpu(index_, this);
}

KvmVcpu::~KvmVcpu() {
  if (vm_.vcpu(index_) == this) vm_.set_vcpu(index_, nullptr);
  if (run_) ::munmap(run_, vm_.run_size());
  if (fd_ >= 0) ::close(fd_);
}

std::string KvmVcpu::init(const x86::CpuModel& model) {
  fd_ = ::ioctl(vm_.vm_fd(), KVM_CREATE_VCPU, static_cast<unsigned long>(index_));
  if (fd_ < 0) return std::string("KVM_CREATE_VCPU: ") + std::strerror(errno);
  void* p = ::mmap(nullptr, vm_.run_size(), PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
  if (p == MAP_FAILED) return std::string("mmap of kvm_run: ") + std::strerror(errno);
  run_ = static_cast<kvm_run*>(p);
  std::string err = setup_cpuid(model);
  if (!err.empty()) return err;
  reset_power_on();
  return error_;
}

std::string KvmVcpu::setup_cpuid(const x86::CpuModel& model) {
  CpuidBuf buf{};
  buf.nent = kMaxCpuidEntries;
  if (::ioctl(vm_.kvm_fd(), kGetSupportedCpuid, &buf) < 0)
    return std::string("KVM_GET_SUPPORTED_CPUID: ") + std::strerror(errno);
  // -cpu max (and host) keeps everything KVM supports; another model keeps only its own
  // feature bits of what KVM supports (the vendor, family and cache leaves stay the host's).
  const bool all = std::strcmp(model.name, "max") == 0;
  const bool kernel_apic = vm_.irqchip_in_kernel();
  for (unsigned i = 0; i < buf.nent && i < kMaxCpuidEntries; ++i) {
    kvm_cpuid_entry2& e = buf.entries[i];
    switch (e.function) {
      case 1:
        e.ebx = (e.ebx & 0x00ffffff) | (index_ << 24);  // initial APIC ID
        if (!all) {
          e.edx &= model.leaf1_edx;
          e.ecx &= model.leaf1_ecx | x86::feat::kHypervisor;
        }
        // x2APIC and TSC deadline are features of the kernel's local APIC.
        if (!kernel_apic) e.ecx &= ~(x86::feat::kX2apic | x86::feat::kTscDeadline);
        break;
      case 7:
        if (!all && e.index == 0) {
          e.ebx &= model.leaf7_ebx;
          e.ecx &= model.leaf7_ecx;
          e.edx &= model.leaf7_edx;
        }
        break;
      case 0xb:
      case 0x1f:
        e.edx = index_;  // x2APIC ID
        break;
      case 0x80000001:
        if (!all) {
          e.ecx &= model.ext1_ecx;
          e.edx &= model.ext1_edx;
        }
        break;
      default:
        break;
    }
  }
  if (::ioctl(fd_, kSetCpuid2, &buf) < 0)
    return std::string("KVM_SET_CPUID2: ") + std::strerror(errno);
  return {};
}

bool KvmVcpu::ioctl_ok(unsigned long req, const void* arg, const char* what) {
  if (::ioctl(fd_, req, arg) >= 0) return true;
  error_ = std::string(what) + ": " + std::strerror(errno);
  return false;
}

bool KvmVcpu::reset_common(uint64_t apic_base_flags) {
  (void)apic_base_flags;
  // x87 and SSE in their initial state (FNINIT, MXCSR 0x1f80), XCR0 = x87.
  kvm_fpu fpu{};
  fpu.fcw = 0x37f;
  fpu.mxcsr = 0x1f80;
  if (!ioctl_ok(KVM_SET_FPU, &fpu, "KVM_SET_FPU")) return false;
  if (::ioctl(vm_.kvm_fd(), KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0) {
    kvm_xcrs xcrs{};
    xcrs.nr_xcrs = 1;
    xcrs.xcrs[0].xcr = 0;
    xcrs.xcrs[0].value = 1;
    if (!ioctl_ok(KVM_SET_XCRS, &xcrs, "KVM_SET_XCRS")) return false;
  }
  struct {
    uint32_t nmsrs, pad;
    kvm_msr_entry e[std::size(kResetMsrs)];
  } msrs{};
  msrs.nmsrs = std::size(kResetMsrs);
  for (size_t i = 0; i < std::size(kResetMsrs); ++i) {
    msrs.e[i].index = kResetMsrs[i].index;
    msrs.e[i].data = kResetMsrs[i].value;
  }
  // KVM_SET_MSRS answers how many it set; an MSR the host lacks stops the list early.
  const int set = ::ioctl(fd_, kSetMsrs, &msrs);
  if (set < 0) {
    error_ = std::string("KVM_SET_MSRS: ") + std::strerror(errno);
    return false;
  }
  if (unsigned(set) < std::size(kResetMsrs))
    vm_.log().log(hw::kLogUnimp, "kvm: MSR 0x%x not settable\n", kResetMsrs[set].index);
  kvm_mp_state mp{};
  mp.mp_state = KVM_MP_STATE_RUNNABLE;
  if (vm_.irqchip_in_kernel() && !ioctl_ok(KVM_SET_MP_STATE, &mp, "KVM_SET_MP_STATE")) return false;
  std::lock_guard<std::mutex> g(mu_);
  wait_sipi_ = false;
  sipi_vector_ = -1;
  intr_ = nmi_ = false;
  reset_pending_.store(false);
  return true;
}

void KvmVcpu::reset_power_on() {
  if (!reset_common(0)) return;
  kvm_sregs s{};
  if (!ioctl_ok(KVM_GET_SREGS, &s, "KVM_GET_SREGS")) return;
  auto real = [](kvm_segment& seg, uint16_t sel, uint64_t base, uint8_t type) {
    seg = kvm_segment{};
    seg.selector = sel;
    seg.base = base;
    seg.limit = 0xffff;
    seg.type = type;
    seg.present = 1;
    seg.s = 1;
  };
  real(s.cs, 0xf000, 0xffff0000, 0xb);
  for (kvm_segment* seg : {&s.ds, &s.es, &s.fs, &s.gs, &s.ss}) real(*seg, 0, 0, 0x3);
  system_segments(s);
  s.gdt = {0, 0xffff, {}};
  s.idt = {0, 0xffff, {}};
  s.cr0 = 0x60000010;  // CD NW ET
  s.cr2 = s.cr3 = s.cr4 = 0;
  s.efer = 0;
  s.apic_base = kApicBaseDefault | (index_ == 0 ? kApicBaseBsp : 0);
  if (!ioctl_ok(KVM_SET_SREGS, &s, "KVM_SET_SREGS")) return;
  kvm_regs r{};
  r.rip = 0xfff0;
  r.rflags = 2;
  r.rdx = 0x600;  // a family-6 processor signature, as KVM reports after reset
  ioctl_ok(KVM_SET_REGS, &r, "KVM_SET_REGS");
}

void KvmVcpu::reset_multiboot(uint32_t entry, uint32_t eax, uint32_t ebx) {
  if (!reset_common(0)) return;
  kvm_sregs s{};
  if (!ioctl_ok(KVM_GET_SREGS, &s, "KVM_GET_SREGS")) return;
  s.cs = flat_segment(0x08, 0xb, false, true);
  for (kvm_segment* seg : {&s.ds, &s.es, &s.fs, &s.gs, &s.ss})
    *seg = flat_segment(0x10, 0x3, false, true);
  system_segments(s);
  s.gdt = {0, 0xffff, {}};
  s.idt = {0, 0xffff, {}};
  s.cr0 = 0x11;  // PE ET
  s.cr2 = s.cr3 = s.cr4 = 0;
  s.efer = 0;
  s.apic_base = kApicBaseDefault | (index_ == 0 ? kApicBaseBsp : 0);
  if (!ioctl_ok(KVM_SET_SREGS, &s, "KVM_SET_SREGS")) return;
  kvm_regs r{};
  r.rip = entry;
  r.rax = eax;
  r.rbx = ebx;
  r.rflags = 2;
  ioctl_ok(KVM_SET_REGS, &r, "KVM_SET_REGS");
}

void KvmVcpu::reset_long_mode(const x86::LongModeEntry& e) {
  if (!reset_common(0)) return;
  kvm_sregs s{};
  if (!ioctl_ok(KVM_GET_SREGS, &s, "KVM_GET_SREGS")) return;
  s.cs = flat_segment(e.code_sel, 0xb, true, false);
  for (kvm_segment* seg : {&s.ds, &s.es, &s.fs, &s.gs, &s.ss})
    *seg = flat_segment(e.data_sel, 0x3, false, true);
  system_segments(s);
  s.gdt = {e.gdt_base, e.gdt_limit, {}};
  s.idt = {0, 0, {}};
  s.cr0 = 0x80000011;  // PG ET PE
  s.cr3 = e.cr3;
  s.cr4 = 0x20;    // PAE
  s.efer = 0x500;  // LME LMA
  s.apic_base = kApicBaseDefault | (index_ == 0 ? kApicBaseBsp : 0);
  if (!ioctl_ok(KVM_SET_SREGS, &s, "KVM_SET_SREGS")) return;
  kvm_regs r{};
  r.rip = e.rip;
  r.rsi = e.rsi;
  r.rsp = e.rsp;
  r.rflags = 2;
  ioctl_ok(KVM_SET_REGS, &r, "KVM_SET_REGS");
}

void KvmVcpu::init_wait_for_sipi() {
  reset_power_on();
  if (vm_.irqchip_in_kernel()) {
    kvm_mp_state mp{};
    mp.mp_state = KVM_MP_STATE_INIT_RECEIVED;
    ioctl_ok(KVM_SET_MP_STATE, &mp, "KVM_SET_MP_STATE");
    return;
  }
  std::lock_guard<std::mutex> g(mu_);
  wait_sipi_ = true;
}

void KvmVcpu::request_reset() {
  reset_pending_.store(true);
  kick();
}

void KvmVcpu::set_intr(bool level) {
  std::lock_guard<std::mutex> g(mu_);
  intr_ = level;
  if (level) cv_.notify_all();
  // A vCPU inside KVM_RUN must come out to take it (it asks for a window next time).
  if (level && in_run_) {
    __atomic_store_n(&run_->immediate_exit, 1, __ATOMIC_SEQ_CST);
    ::pthread_kill(thread_, KvmVm::kick_signal());
  }
}

void KvmVcpu::raise_nmi() {
  std::lock_guard<std::mutex> g(mu_);
  nmi_ = true;
  cv_.notify_all();
  if (in_run_) {
    __atomic_store_n(&run_->immediate_exit, 1, __ATOMIC_SEQ_CST);
    ::pthread_kill(thread_, KvmVm::kick_signal());
  }
}

void KvmVcpu::init_ipi() {
  // Orrery's local APIC (kernel-irqchip=off): the AP resets at its next stop and waits.
  std::lock_guard<std::mutex> g(mu_);
  wait_sipi_ = true;
  sipi_vector_ = -1;
  cv_.notify_all();
}

void KvmVcpu::startup_ipi(uint8_t vector) {
  std::lock_guard<std::mutex> g(mu_);
  if (!wait_sipi_) return;
  sipi_vector_ = vector;
  cv_.notify_all();
}

void KvmVcpu::kick() {
  kick_pending_.store(true);
  __atomic_store_n(&run_->immediate_exit, 1, __ATOMIC_SEQ_CST);
  {
    std::lock_guard<std::mutex> g(mu_);
    cv_.notify_all();
    if (in_run_) ::pthread_kill(thread_, KvmVm::kick_signal());
  }
  // A vCPU the debugger parked after a kill leaves when the board kicks it.
  if (KvmDebug* d = vm_.debug()) d->wake();
}

void KvmVcpu::debug_kick() {
  debug_kick_.store(true);
  __atomic_store_n(&run_->immediate_exit, 1, __ATOMIC_SEQ_CST);
  std::lock_guard<std::mutex> g(mu_);
  cv_.notify_all();
  if (in_run_) ::pthread_kill(thread_, KvmVm::kick_signal());
}

bool KvmVcpu::set_sregs(const kvm_sregs& s) {
  return ::ioctl(fd_, KVM_SET_SREGS, &s) >= 0;
}

bool KvmVcpu::get_regs(kvm_regs& r) {
  return ::ioctl(fd_, KVM_GET_REGS, &r) >= 0;
}
bool KvmVcpu::set_regs(const kvm_regs& r) {
  return ::ioctl(fd_, KVM_SET_REGS, &r) >= 0;
}
bool KvmVcpu::get_sregs(kvm_sregs& s) {
  return ::ioctl(fd_, KVM_GET_SREGS, &s) >= 0;
}

ExitKind KvmVcpu::fail(const std::string& message) {
  exit_message_ = "kvm: vCPU " + std::to_string(index_) + ": " + message;
  kvm_regs r{};
  kvm_sregs s{};
  if (get_regs(r) && get_sregs(s)) {
    char where[64];
    std::snprintf(where, sizeof where, " at %04x:%08llx", s.cs.selector,
                  static_cast<unsigned long long>(r.rip));
    exit_message_ += where;
  }
  return ExitKind::Error;
}

bool KvmVcpu::handle_io() {
  const auto& io = run_->io;
  if (io.size != 1 && io.size != 2 && io.size != 4) return false;
  auto* data = reinterpret_cast<uint8_t*>(run_) + io.data_offset;
  if (io.data_offset + uint64_t(io.size) * io.count > vm_.run_size()) return false;
  const hw::MemAttrs attrs = hw::MemAttrs::cpu(index_);
  for (uint32_t i = 0; i < io.count; ++i, data += io.size) {
    uint64_t v = 0;
    if (io.direction == KVM_EXIT_IO_OUT) {
      std::memcpy(&v, data, io.size);
      io_.write(io.port, io.size, v, attrs);
    } else {
      // Nothing at the port: the bus floats high.
      if (io_.read(io.port, io.size, v, attrs) != hw::MemResult::Ok) v = ~uint64_t(0);
      std::memcpy(data, &v, io.size);
    }
  }
  return true;
}

bool KvmVcpu::handle_mmio() {
  auto& m = run_->mmio;
  if (m.len != 1 && m.len != 2 && m.len != 4 && m.len != 8) return false;
  uint64_t v = 0;
  // The local APIC page is banked by the vCPU that accesses it.
  const hw::MemAttrs attrs = hw::MemAttrs::cpu(index_);
  if (m.is_write) {
    std::memcpy(&v, m.data, m.len);
    // A write to ROM (a read-only slot) lands here; the ROM drops it as on TCG.
    const hw::RegionRef r = memory_.find(m.phys_addr);
    if (r && r->kind == hw::RegionKind::Rom)
      vm_.log().log(hw::kLogGuestErrors, "kvm: write of %u bytes to ROM at 0x%llx: ignored\n",
                    m.len, static_cast<unsigned long long>(m.phys_addr));
    if (memory_.write(m.phys_addr, m.len, v, attrs) != hw::MemResult::Ok)
      vm_.log().log(hw::kLogGuestErrors, "kvm: write of %u bytes to 0x%llx: nothing there\n", m.len,
                    static_cast<unsigned long long>(m.phys_addr));
  } else {
    if (memory_.read(m.phys_addr, m.len, v, attrs) != hw::MemResult::Ok) {
      vm_.log().log(hw::kLogGuestErrors, "kvm: read of %u bytes at 0x%llx: nothing there\n", m.len,
                    static_cast<unsigned long long>(m.phys_addr));
      v = ~uint64_t(0);
    }
    std::memcpy(m.data, &v, m.len);
  }
  return true;
}

void KvmVcpu::inject_interrupt() {
  bool intr, nmi;
  {
    std::lock_guard<std::mutex> g(mu_);
    intr = intr_;
    nmi = nmi_;
    nmi_ = false;
  }
  if (nmi && ::ioctl(fd_, KVM_NMI, 0) < 0)
    vm_.log().log(hw::kLogUnimp, "kvm: KVM_NMI: %s\n", std::strerror(errno));
  run_->request_interrupt_window = 0;
  if (!intr) return;
  if (!run_->ready_for_interrupt_injection || !(run_->if_flag)) {
    run_->request_interrupt_window = 1;
    return;
  }
  // The acknowledge cycle: the local APIC's (or the PIC's behind ExtINT) vector.
  const int vector = apic_ ? apic_->acknowledge_interrupt() : platform_.acknowledge_interrupt();
  if (vector < 0) return;  // spurious: the line fell meanwhile
  kvm_interrupt irq{};
  irq.irq = uint32_t(vector);
  if (::ioctl(fd_, KVM_INTERRUPT, &irq) < 0)
    vm_.log().log(hw::kLogUnimp, "kvm: KVM_INTERRUPT: %s\n", std::strerror(errno));
}

void KvmVcpu::wait_in_hlt() {
  std::unique_lock<std::mutex> lk(mu_);
  // EFLAGS.IF is in kvm_run after every exit.
  cv_.wait(lk, [&] {
    return kick_pending_.load() || reset_pending_.load() || nmi_ || (intr_ && run_->if_flag) ||
           wait_sipi_ || debug_kick_.load();
  });
}

ExitKind KvmVcpu::run() {
  if (!error_.empty()) return fail(error_);
  {
    std::lock_guard<std::mutex> g(mu_);
    thread_ = ::pthread_self();
    in_run_ = true;
  }
  // The kick signal must reach this thread (other threads may block it).
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, KvmVm::kick_signal());
  ::pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  struct Leave {
    KvmVcpu& v;
    ~Leave() {
      std::lock_guard<std::mutex> g(v.mu_);
      v.in_run_ = false;
    }
  } leave{*this};

  const bool user_irqchip = !vm_.irqchip_in_kernel();
  for (;;) {
    if (reset_pending_.exchange(false)) return ExitKind::Reset;
    if (kick_pending_.exchange(false)) {
      __atomic_store_n(&run_->immediate_exit, 0, __ATOMIC_SEQ_CST);
      return ExitKind::Kicked;
    }
    if (KvmDebug* d = vm_.debug()) {
      debug_kick_.store(false);
      d->checkpoint(*this);
      if (reset_pending_.load() || kick_pending_.load()) continue;
    } else {
      debug_kick_.store(false);
    }
    if (user_irqchip) {
      // An AP waiting for its STARTUP IPI runs nothing (Orrery's APIC sends it).
      std::unique_lock<std::mutex> lk(mu_);
      if (wait_sipi_) {
        cv_.wait(lk,
                 [&] { return sipi_vector_ >= 0 || kick_pending_.load() || debug_kick_.load(); });
        if (debug_kick_.load() && sipi_vector_ < 0) {
          lk.unlock();
          if (KvmDebug* d = vm_.debug()) d->checkpoint(*this);
          continue;
        }
        if (sipi_vector_ < 0) continue;
        const int vec = sipi_vector_;
        wait_sipi_ = false;
        sipi_vector_ = -1;
        lk.unlock();
        kvm_sregs s{};
        kvm_regs r{};
        if (!get_sregs(s)) return fail("KVM_GET_SREGS");
        s.cs.selector = uint16_t(vec << 8);
        s.cs.base = uint64_t(vec) << 12;
        r.rip = 0;
        r.rflags = 2;
        if (::ioctl(fd_, KVM_SET_SREGS, &s) < 0 || !set_regs(r)) return fail("STARTUP IPI state");
      }
    }
    if (user_irqchip) inject_interrupt();
    const int rc = ::ioctl(fd_, KVM_RUN, 0);
    if (rc < 0) {
      if (errno == EINTR || errno == EAGAIN) {
        // A kick, or an interrupt to inject: immediate_exit stays set until the kick is seen.
        if (!kick_pending_.load()) __atomic_store_n(&run_->immediate_exit, 0, __ATOMIC_SEQ_CST);
        // A debug kick is seen at the top of the loop.
        continue;
      }
      return fail(std::string("KVM_RUN: ") + std::strerror(errno));
    }
    switch (run_->exit_reason) {
      case KVM_EXIT_IO:
        io_exits_.fetch_add(1, std::memory_order_relaxed);
        if (!handle_io())
          return fail("port I/O exit of " + std::to_string(run_->io.size) + " bytes at port " +
                      std::to_string(run_->io.port));
        break;
      case KVM_EXIT_MMIO:
        mmio_exits_.fetch_add(1, std::memory_order_relaxed);
        if (!handle_mmio())
          return fail("MMIO exit of " + std::to_string(run_->mmio.len) + " bytes");
        break;
      case KVM_EXIT_HLT:
        // Only without the kernel irqchip (the kernel's own HLT otherwise sleeps in KVM_RUN).
        wait_in_hlt();
        break;
      case KVM_EXIT_IRQ_WINDOW_OPEN:
      case KVM_EXIT_INTR:
        break;
      case KVM_EXIT_SHUTDOWN:
        // A triple fault resets the machine, as on TCG.
        platform_.request_reset();
        return ExitKind::Reset;
      case KVM_EXIT_SYSTEM_EVENT:
        if (run_->system_event.type == KVM_SYSTEM_EVENT_RESET) return ExitKind::Reset;
        if (run_->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN) return ExitKind::Shutdown;
        return fail("system event " + std::to_string(run_->system_event.type));
      case KVM_EXIT_DEBUG:
        // The debugger's breakpoint or step: the machine stops at the next checkpoint.
        if (KvmDebug* d = vm_.debug()) {
          d->debug_exit(*this, run_->debug.arch);
          break;
        }
        return ExitKind::Breakpoint;
      case KVM_EXIT_FAIL_ENTRY:
        return fail("VM entry failed (hardware reason 0x" +
                    [](uint64_t v) {
                      char b[20];
                      std::snprintf(b, sizeof b, "%llx", static_cast<unsigned long long>(v));
                      return std::string(b);
                    }(run_->fail_entry.hardware_entry_failure_reason) +
                    ")");
      case KVM_EXIT_INTERNAL_ERROR: {
        std::string msg = "KVM internal error, suberror " + std::to_string(run_->internal.suberror);
        for (uint32_t i = 0; i < run_->internal.ndata && i < 16; ++i) {
          char d[24];
          std::snprintf(d, sizeof d, " %llx",
                        static_cast<unsigned long long>(run_->internal.data[i]));
          msg += d;
        }
        return fail(msg);
      }
      default:
        return fail("unhandled KVM exit reason " + std::to_string(run_->exit_reason));
    }
  }
}

}  // namespace orrery::cpu::kvm
