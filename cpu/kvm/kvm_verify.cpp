// See kvm_verify.h.
#include "cpu/kvm/kvm_verify.h"

#include <capstone/capstone.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <vector>

#include "cpu/kvm/kvm.h"
#include "cpu/kvm/kvm_vcpu.h"
#include "cpu/x86/cpu.h"
#include "cpu/x86/flags.h"
#include "cpu/x86/local_apic.h"
#include "cpu/x86/seg.h"
#include "cpu/x86/state_compare.h"
#include "hw/core/address_space.h"
#include "hw/core/log.h"

namespace orrery::cpu::kvm {
namespace {

using x86::ArchState;
using x86::X86Cpu;
using x86::X86State;

constexpr uint64_t kPage = 4096;
constexpr size_t kMaxOld = size_t(1) << 24;     // stored bytes kept for a re-run
constexpr unsigned kMaxNarrowSteps = 1u << 20;  // instructions re-run to name one
// KVM_GET_XSAVE with the C size of struct kvm_xsave (its flexible array has size 1 in C++).
constexpr size_t kXsaveSize = 4096;
constexpr unsigned long kGetXsave = _IOC(_IOC_READ, KVMIO, 0xa4, kXsaveSize);
// Offsets in the standard XSAVE image (SDM vol. 1, 13.4).
constexpr size_t kXsFcw = 0, kXsFsw = 2, kXsFtw = 4, kXsMxcsr = 24, kXsSt = 32, kXsXmm = 160,
                 kXsXstateBv = 512, kXsYmmHi = 576;
constexpr uint64_t kRflagsRf = 1u << 16;  // set by KVM on some exits; no architectural result
// This host's hypervisor runs CPL3 code with IOPL 0 whatever the guest set (it honours the
// TSS I/O bitmap instead), so IOPL is not compared.
constexpr uint64_t kRflagsIopl = 3u << 12;
// What an I/O or MMIO instruction may change in RFLAGS (CF PF AF ZF SF OF: CMPXCHG to MMIO).
constexpr uint64_t kRflagsStatus = 0x8d5;

// kvm_regs fields in x86 encoding order.
constexpr __u64 kvm_regs::*kGprField[16] = {
    &kvm_regs::rax, &kvm_regs::rcx, &kvm_regs::rdx, &kvm_regs::rbx, &kvm_regs::rsp, &kvm_regs::rbp,
    &kvm_regs::rsi, &kvm_regs::rdi, &kvm_regs::r8,  &kvm_regs::r9,  &kvm_regs::r10, &kvm_regs::r11,
    &kvm_regs::r12, &kvm_regs::r13, &kvm_regs::r14, &kvm_regs::r15};

std::string hex(uint64_t v) {
  return x86::hex64(v);
}

/// The instruction at cpu's PC (Capstone): its length (0: none) and text.
unsigned disassemble(X86Cpu& cpu, std::string* text = nullptr) {
  const X86State& st = cpu.state();
  uint8_t bytes[16];
  size_t n = 0;
  for (; n < sizeof bytes; ++n) {
    uint64_t phys = 0;
    if (!cpu.debug_translate(cpu.pc() + n, x86::kMmuIdxKernelNoSmap, phys)) break;
    const uint8_t* h = cpu.memory().host_ptr(phys, 1);
    if (!h) break;
    bytes[n] = *h;
  }
  const x86::SegmentCache& cs = st.seg[x86::kCs];
  cs_mode mode = CS_MODE_16;
  if ((st.efer & x86::efer::kLma) && (cs.attr & x86::seg_attr::kL))
    mode = CS_MODE_64;
  else if ((st.cr0 & x86::cr0::kPe) && (cs.attr & x86::seg_attr::kDb))
    mode = CS_MODE_32;
  csh h;
  if (cs_open(CS_ARCH_X86, mode, &h) != CS_ERR_OK) return 0;
  cs_insn* insn = nullptr;
  unsigned len = 0;
  if (cs_disasm(h, bytes, n, cpu.rip(), 1, &insn) == 1) {
    len = insn[0].size;
    if (text) *text = std::string(insn[0].mnemonic) + " " + insn[0].op_str;
    cs_free(insn, 1);
  }
  cs_close(&h);
  return len;
}

/// One device access: what a KVM exit asks for, or where TCG stopped.
struct Access {
  enum class Kind : uint8_t { None, Port, Mmio } kind = Kind::None;
  uint64_t addr = 0;  // port or guest-physical address
  unsigned size = 0;
  bool write = false;
  bool string = false;  // INS/OUTS (TCG), or a KVM port exit of more than one element
  std::string describe() const {
    if (kind == Kind::None) return "no device access";
    std::string s = std::string(write ? (kind == Kind::Port ? "OUT" : "MMIO write")
                                      : (kind == Kind::Port ? "IN" : "MMIO read")) +
                    " of " + std::to_string(size) + " bytes at " +
                    (kind == Kind::Port ? "port " : "") + hex(addr);
    if (string) s += " (string I/O)";
    return s;
  }
  /// o (TCG's) is the same access; a read-modify-write to MMIO is a write to TCG's softmmu
  /// (which checks the write first) and a read, then a write, to KVM.
  bool same(const Access& o) const {
    return kind == o.kind && addr == o.addr && size == o.size &&
           (write == o.write || (kind == Kind::Mmio && !write && o.write));
  }
};

/// TCG's side of a sync point: stops the CPU before its next port or MMIO access (the softmmu
/// takes every data access through its slow path and asks here first) and records the guest
/// pages it writes (softmmu stores and system helpers' stores).
class TcgStops final : public tcg::softmmu::WatchpointChecker,
                       public X86Cpu::StoreObserver,
                       public X86Cpu::IoGate {
 public:
  explicit TcgStops(X86Cpu& cpu) : cpu_(cpu) {}
  // Set by the softmmu's const checker, hence mutable.
  mutable Access stop;                 // where the CPU stopped (kind None: it did not)
  mutable std::set<uint64_t> written;  // guest-physical pages
  // The bytes stored since the last sync point, each with the byte it overwrote (to re-run the
  // range when it diverges); too many: dropped.
  struct Old {
    uint64_t phys;
    uint8_t byte;
  };
  mutable std::vector<Old> old;
  mutable bool old_full = false;
  void clear_old() const {
    old.clear();
    old_full = false;
  }
  void note_old(uint64_t phys) const {
    if (old_full) return;
    if (old.size() >= kMaxOld) {
      old_full = true;
      old.clear();
      return;
    }
    if (const uint8_t* h = cpu_.memory().host_ptr(phys, 1)) old.push_back({phys, *h});
  }

  bool any_watchpoints() const override { return true; }
  bool page_watched(uint64_t) const override { return true; }
  bool watch_hit(uint64_t vaddr, unsigned size, bool write,
                 tcg::softmmu::WatchHit& hit) const override {
    uint64_t page = ~0ull, phys_page = 0;
    for (unsigned i = 0; i < size; ++i) {
      const uint64_t la = vaddr + i;
      if ((la & ~0xfffull) != page) {
        const x86::X86Walk w =
            x86::walk_page_tables(cpu_.state(), cpu_.memory(), la, x86::AccessKind{}, false);
        if (!w.ok) return false;  // the access faults: the CPU raises #PF
        page = la & ~0xfffull;
        phys_page = w.phys & ~0xfffull;
      }
      const uint64_t phys = phys_page | (la & 0xfff);
      if (!cpu_.memory().host_ptr(phys, 1)) {
        stop = Access{Access::Kind::Mmio, phys, size, write, false};
        hit.addr = la;
        cpu_.kick();
        return true;
      }
      if (write) {
        written.insert(phys / kPage);
        note_old(phys);
      }
    }
    return false;
  }
  void before_store(uint64_t phys, unsigned len) override {
    for (uint64_t p = phys / kPage; p <= (phys + len - 1) / kPage; ++p) written.insert(p);
    for (unsigned i = 0; i < len; ++i) note_old(phys + i);
  }
  bool stop_before_io(uint16_t port, unsigned size, bool in, bool string) override {
    stop = Access{Access::Kind::Port, port, size, !in, string};
    cpu_.kick();
    return true;
  }

 private:
  X86Cpu& cpu_;
};

/// TCG's interrupt controller: only what the verifier hands it at a sync point. Resets go to
/// the board's.
class SyncPlatform final : public x86::X86Platform, public x86::X86LocalApic {
 public:
  explicit SyncPlatform(x86::X86Platform& board) : board_(board) {}
  /// After the comparison ends: interrupts straight from the board's controllers.
  void set_passthrough() { passthrough_ = true; }
  void set_apic(x86::X86LocalApic* a) { apic_ = a; }
  x86::X86LocalApic* apic() const { return apic_; }
  void give(int vector, X86Cpu& cpu) {
    vector_ = vector;
    cpu.set_intr(true);
    cpu_ = &cpu;
  }

  int acknowledge_interrupt() override {
    if (passthrough_)
      return apic_ ? apic_->acknowledge_interrupt() : board_.acknowledge_interrupt();
    const int v = vector_;
    vector_ = -1;
    if (cpu_) cpu_->set_intr(false);
    return v;
  }
  void request_reset() override { board_.request_reset(); }
  // The local APIC's registers are the board's.
  uint64_t apic_base() override { return apic_->apic_base(); }
  bool set_apic_base(uint64_t v) override { return apic_->set_apic_base(v); }
  uint8_t read_cr8() override { return apic_->read_cr8(); }
  void write_cr8(uint8_t v) override { apic_->write_cr8(v); }
  bool read_x2apic_msr(uint32_t i, uint64_t& v) override { return apic_->read_x2apic_msr(i, v); }
  bool write_x2apic_msr(uint32_t i, uint64_t v) override { return apic_->write_x2apic_msr(i, v); }
  uint64_t tsc_deadline() override { return apic_->tsc_deadline(); }
  void set_tsc_deadline(uint64_t v, uint64_t now) override { apic_->set_tsc_deadline(v, now); }

 private:
  x86::X86Platform& board_;
  x86::X86LocalApic* apic_ = nullptr;
  X86Cpu* cpu_ = nullptr;
  int vector_ = -1;
  bool passthrough_ = false;
};

/// One RAM or ROM range of the board and KVM's private copy of it.
struct ShadowSlot {
  hw::RamRange real;
  uint8_t* copy = nullptr;
  std::vector<uint64_t> dirty;  // KVM_GET_DIRTY_LOG's bitmap
};

class KvmVerifyAccel;

/// Tells the test engine of writes made outside the vCPUs and keeps them for KVM's RAM copy.
class DmaLog final : public hw::GuestWriteObserver {
 public:
  /// Told of each write as it happens (any thread).
  class Listener {
   public:
    virtual ~Listener() = default;
    virtual void dma_written() = 0;
  };
  explicit DmaLog(tcg::exec::Engine& e) : engine_(e) {}
  void set_listener(Listener* l) {
    std::lock_guard<std::mutex> g(mu_);
    listener_ = l;
  }
  void guest_memory_written(uint64_t addr, uint64_t len) override {
    engine_.guest_memory_written(addr, len);
    std::lock_guard<std::mutex> g(mu_);
    ranges_.push_back({addr, len});
    if (listener_) listener_->dma_written();
  }
  std::vector<hw::AddrRange> take() {
    std::lock_guard<std::mutex> g(mu_);
    return std::exchange(ranges_, {});
  }

 private:
  tcg::exec::Engine& engine_;
  std::mutex mu_;
  std::vector<hw::AddrRange> ranges_;
  Listener* listener_ = nullptr;
};

class KvmVerifyVcpu final : public x86::X86Vcpu, public DmaLog::Listener {
 public:
  KvmVerifyVcpu(KvmVerifyAccel& accel, const x86::X86VcpuSpec& spec, tcg::exec::Engine& engine,
                std::unique_ptr<KvmVcpu> kvm, const x86::VerifyOptions& opt);
  ~KvmVerifyVcpu() override;

  ExitKind run() override;
  void kick() override {
    kick_pending_.store(true);
    __atomic_store_n(&run_->immediate_exit, 1, __ATOMIC_SEQ_CST);
    {
      std::lock_guard<std::mutex> g(mu_);
      if (in_kvm_) ::pthread_kill(thread_, KvmVm::kick_signal());
    }
    test_.kick();
  }
  unsigned index() const override { return test_.index(); }
  void reset_power_on() override {
    test_.reset_power_on();
    kvm_->reset_power_on();
    restart();
  }
  void reset_multiboot(uint32_t entry, uint32_t eax, uint32_t ebx) override {
    test_.reset_multiboot(entry, eax, ebx);
    kvm_->reset_multiboot(entry, eax, ebx);
    restart();
  }
  void reset_long_mode(const x86::LongModeEntry& e) override {
    test_.reset_long_mode(e);
    kvm_->reset_long_mode(e);
    restart();
  }
  void init_wait_for_sipi() override { test_.init_wait_for_sipi(); }
  void request_reset() override { test_.request_reset(); }
  // Interrupts wait for the next sync point (run()).
  void set_intr(bool level) override {
    intr_.store(level);
    if (passive_.load()) test_.set_intr(level);
  }
  void raise_nmi() override { test_.raise_nmi(); }
  void init_ipi() override { test_.init_ipi(); }
  void startup_ipi(uint8_t vector) override { test_.startup_ipi(vector); }
  void set_local_apic(x86::X86LocalApic* apic) override {
    board_apic_ = apic;
    sync_platform_.set_apic(apic);
    test_.set_local_apic(apic ? &sync_platform_ : nullptr);
  }
  void set_clock(const hw::Clock* clock) override { test_.set_clock(clock); }

  /// Device DMA between sync points cannot be given to both engines at the same instruction:
  /// KVM leaves KVM_RUN and the comparison ends at once (TCG, whose RAM the device wrote, runs on).
  void dma_written() override {
    if (dma_expected_.load()) return;
    async_dma_.store(true);
    __atomic_store_n(&run_->immediate_exit, 1, __ATOMIC_SEQ_CST);
    std::lock_guard<std::mutex> g(mu_);
    if (in_kvm_) ::pthread_kill(thread_, KvmVm::kick_signal());
  }

 private:
  void restart() {
    started_ = false;
    have_exit_ = false;
  }
  std::string start();
  /// KVM_RUN until a device exit; false: kicked (or an error in exit_message_).
  enum class KvmStop { Device, Halt, Shutdown, Kicked, AsyncDma, Error };
  KvmStop run_kvm();
  /// Performs kvm's pending access on the board's devices and completes its instruction.
  bool complete_kvm_access();
  bool device_access();
  ArchState kvm_state(kvm_regs& r, kvm_sregs& s);
  ArchState tcg_state() const;
  std::string system_diffs(const kvm_sregs& s) const;
  /// Pages written by either side since the last sync point whose bytes differ.
  std::vector<uint64_t> memory_diffs();
  bool descriptor_access_byte(uint64_t phys);
  bool ignored_difference(uint64_t phys, uint8_t a, uint8_t b);
  bool paging_structure_page(uint64_t page);
  void copy_dma();
  void inject_interrupt();
  [[noreturn]] void diverged(const std::string& why, const ArchState* kvm, const ArchState* tcg,
                             const std::string& sys, const std::vector<uint64_t>& pages);
  ExitKind passive(const std::string& why);
  void save_sync_state();
  std::string narrow(const std::string& test_name);
  ShadowSlot* slot_of_page(uint64_t page);

  KvmVerifyAccel& accel_;
  const x86::VerifyOptions opt_;
  hw::AddressSpace& memory_;
  hw::AddressSpace& io_;
  x86::X86Platform& board_;
  const x86::CpuModel& model_;
  SyncPlatform sync_platform_;
  X86Cpu test_;
  TcgStops stops_;
  std::unique_ptr<KvmVcpu> kvm_;
  kvm_run* run_ = nullptr;
  x86::X86LocalApic* board_apic_ = nullptr;
  std::vector<ShadowSlot> slots_;
  bool dirty_log_ = true;
  bool started_ = false;
  std::atomic<bool> passive_{false};
  uint64_t ram_gen_ = 0;    // the board's RAM layout KVM's copy follows
  bool have_exit_ = false;  // KVM waits at exit_access_ for TCG
  Access exit_access_;
  uint64_t last_sync_rip_ = 0, syncs_ = 0;
  // TCG's state at the last sync point, and whether the range since can be re-run (no
  // interrupt was injected there).
  std::unique_ptr<X86State> sync_state_ = std::make_unique<X86State>();
  bool rerunnable_ = false;
  std::atomic<bool> kick_pending_{false}, intr_{false};
  // DMA while this thread makes a device access (synchronous: both engines see it after the
  // access) or at another time.
  std::atomic<bool> dma_expected_{false}, async_dma_{false};
  std::mutex mu_;
  bool in_kvm_ = false;  // guarded by mu_
  pthread_t thread_{};
};

class KvmVerifyAccel final : public x86::X86Accelerator, public hw::RamListener {
 public:
  KvmVerifyAccel(const x86::VerifyOptions& opt, const tcg::exec::EngineOptions& base, hw::Log& log)
      : opt_(opt), base_(base), log_(log), engine_(engine_options(opt, base), log), dma_(engine_) {}

  std::string init() {
    if (std::string e = engine_.init(); !e.empty()) return e;
    KvmOptions ko;
    ko.kernel_irqchip = false;  // every interrupt goes through a sync point
    ko.ioeventfd = ko.irqfd = false;
    std::string err;
    vm_ = KvmVm::create(ko, log_, err);
    return vm_ ? std::string() : err;
  }

  std::string_view name() const override { return "verify"; }
  std::unique_ptr<x86::X86Vcpu> create_vcpu(const x86::X86VcpuSpec& spec,
                                            std::string& error) override {
    auto kvm = std::make_unique<KvmVcpu>(*vm_, spec);
    if (!kvm->error().empty()) {
      error = kvm->error();
      return nullptr;
    }
    return std::make_unique<KvmVerifyVcpu>(*this, spec, engine_, std::move(kvm), opt_);
  }
  hw::GuestWriteObserver* write_observer() override { return &dma_; }
  hw::RamListener* ram_listener() override { return this; }
  void set_code_full_hook(std::function<void()> hook) override {
    engine_.set_code_full_hook(std::move(hook));
  }
  void flush_code() override { engine_.flush(); }

  void ram_changed(const hw::AddressSpace& as, const std::vector<hw::RamRange>& ranges) override {
    (void)as;
    std::lock_guard<std::mutex> g(mu_);
    ranges_ = ranges;
    ++ram_generation_;
  }
  std::vector<hw::RamRange> ranges(uint64_t& generation) {
    std::lock_guard<std::mutex> g(mu_);
    generation = ram_generation_;
    return ranges_;
  }
  uint64_t ram_generation() {
    std::lock_guard<std::mutex> g(mu_);
    return ram_generation_;
  }
  KvmVm& vm() { return *vm_; }
  tcg::exec::Engine& engine() { return engine_; }
  const tcg::exec::EngineOptions& base_options() const { return base_; }
  DmaLog& dma() { return dma_; }
  hw::Log& log() { return log_; }

 private:
  static tcg::exec::EngineOptions engine_options(const x86::VerifyOptions& opt,
                                                 tcg::exec::EngineOptions o) {
    o.tier = opt.test;
    return o;
  }

  x86::VerifyOptions opt_;
  tcg::exec::EngineOptions base_;
  hw::Log& log_;
  tcg::exec::Engine engine_;
  DmaLog dma_;
  std::unique_ptr<KvmVm> vm_;
  std::mutex mu_;
  std::vector<hw::RamRange> ranges_;  // guarded by mu_
  uint64_t ram_generation_ = 0;       // guarded by mu_
};

KvmVerifyVcpu::KvmVerifyVcpu(KvmVerifyAccel& accel, const x86::X86VcpuSpec& spec,
                             tcg::exec::Engine& engine, std::unique_ptr<KvmVcpu> kvm,
                             const x86::VerifyOptions& opt)
    : accel_(accel),
      opt_(opt),
      memory_(spec.memory),
      io_(spec.io_ports),
      board_(spec.platform),
      model_(spec.model),
      sync_platform_(spec.platform),
      test_(spec.model, spec.index, spec.memory, spec.io_ports, engine, sync_platform_),
      stops_(test_),
      kvm_(std::move(kvm)),
      run_(kvm_->run_struct()) {
  test_.frontend().set_injected_bug(opt.inject);
  test_.mmu().set_watchpoints(&stops_);
  test_.set_store_observer(&stops_);
  test_.set_io_gate(&stops_);
}

KvmVerifyVcpu::~KvmVerifyVcpu() {
  accel_.dma().set_listener(nullptr);
  for (ShadowSlot& s : slots_)
    if (s.copy) ::munmap(s.copy, s.real.size);
}

ShadowSlot* KvmVerifyVcpu::slot_of_page(uint64_t page) {
  const uint64_t a = page * kPage;
  for (ShadowSlot& s : slots_)
    if (a >= s.real.base && a - s.real.base < s.real.size) return &s;
  return nullptr;
}

/// KVM's RAM: a copy of the board's RAM and ROM as they are now, one slot per range, with
/// dirty-page logging where KVM has it.
std::string KvmVerifyVcpu::start() {
  const int vm = accel_.vm().vm_fd();
  for (unsigned i = 0; i < slots_.size(); ++i) {
    kvm_userspace_memory_region r{};
    r.slot = i;  // size 0 deletes
    ::ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r);
    ::munmap(slots_[i].copy, slots_[i].real.size);
  }
  slots_.clear();
  for (const hw::RamRange& range : accel_.ranges(ram_gen_)) {
    ShadowSlot s;
    s.real = range;
    void* p = ::mmap(nullptr, range.size, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return std::string("KVM's copy of guest RAM: ") + std::strerror(errno);
    s.copy = static_cast<uint8_t*>(p);
    std::memcpy(s.copy, range.host, range.size);
    s.dirty.assign((range.size / kPage + 63) / 64, 0);
    slots_.push_back(std::move(s));
    kvm_userspace_memory_region r{};
    r.slot = unsigned(slots_.size() - 1);
    r.guest_phys_addr = range.base;
    r.memory_size = range.size;
    r.userspace_addr = reinterpret_cast<uint64_t>(p);
    r.flags = KVM_MEM_LOG_DIRTY_PAGES;
    if (::ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r) < 0)
      return "KVM_SET_USER_MEMORY_REGION at " + hex(range.base) + ": " + std::strerror(errno);
  }
  (void)accel_.dma().take();  // the loaders' writes are in the copy
  async_dma_.store(false);
  accel_.dma().set_listener(this);
  stops_.written.clear();
  for (ShadowSlot& s : slots_) {
    kvm_dirty_log log{};
    log.slot = unsigned(&s - slots_.data());
    log.dirty_bitmap = s.dirty.data();
    if (::ioctl(vm, KVM_GET_DIRTY_LOG, &log) < 0) dirty_log_ = false;
  }
  started_ = true;
  save_sync_state();
  have_exit_ = false;
  return {};
}

KvmVerifyVcpu::KvmStop KvmVerifyVcpu::run_kvm() {
  {
    std::lock_guard<std::mutex> g(mu_);
    thread_ = ::pthread_self();
    in_kvm_ = true;
  }
  struct Leave {
    KvmVerifyVcpu& v;
    ~Leave() {
      std::lock_guard<std::mutex> g(v.mu_);
      v.in_kvm_ = false;
    }
  } leave{*this};
  for (;;) {
    if (kick_pending_.load()) return KvmStop::Kicked;
    if (async_dma_.load()) return KvmStop::AsyncDma;
    if (::ioctl(kvm_->fd(), KVM_RUN, 0) < 0) {
      if (errno == EINTR || errno == EAGAIN) {
        // immediate_exit stays set for a kick or DMA until it is seen; else it is stale.
        if (!kick_pending_.load() && !async_dma_.load())
          __atomic_store_n(&run_->immediate_exit, 0, __ATOMIC_SEQ_CST);
        continue;
      }
      exit_message_ = std::string("verify: KVM_RUN: ") + std::strerror(errno);
      return KvmStop::Error;
    }
    switch (run_->exit_reason) {
      case KVM_EXIT_IO:
        exit_access_ = Access{Access::Kind::Port, run_->io.port, run_->io.size,
                              run_->io.direction == KVM_EXIT_IO_OUT, run_->io.count != 1};
        return KvmStop::Device;
      case KVM_EXIT_MMIO:
        exit_access_ = Access{Access::Kind::Mmio, run_->mmio.phys_addr, run_->mmio.len,
                              run_->mmio.is_write != 0, false};
        return KvmStop::Device;
      case KVM_EXIT_HLT:
        return KvmStop::Halt;
      case KVM_EXIT_SHUTDOWN:
        return KvmStop::Shutdown;
      case KVM_EXIT_IRQ_WINDOW_OPEN:
      case KVM_EXIT_INTR:
        continue;
      default:
        exit_message_ = "verify: unhandled KVM exit reason " + std::to_string(run_->exit_reason);
        return KvmStop::Error;
    }
  }
}

bool KvmVerifyVcpu::complete_kvm_access() {
  dma_expected_.store(true);
  struct Done {
    std::atomic<bool>& f;
    ~Done() { f.store(false); }
  } done{dma_expected_};
  // A read-modify-write instruction makes a second access (the write) before it completes.
  for (unsigned i = 0; i < 4; ++i) {
    if (!device_access()) return false;
    __atomic_store_n(&run_->immediate_exit, 1, __ATOMIC_SEQ_CST);
    const int rc = ::ioctl(kvm_->fd(), KVM_RUN, 0);
    if (!kick_pending_.load()) __atomic_store_n(&run_->immediate_exit, 0, __ATOMIC_SEQ_CST);
    if (rc < 0 && errno == EINTR) return true;
    if (rc < 0) {
      exit_message_ = std::string("verify: completing KVM's access: ") + std::strerror(errno);
      return false;
    }
    if (run_->exit_reason != KVM_EXIT_MMIO) break;
    exit_access_ = Access{Access::Kind::Mmio, run_->mmio.phys_addr, run_->mmio.len,
                          run_->mmio.is_write != 0, false};
  }
  exit_message_ = "verify: KVM did not complete its access (exit reason " +
                  std::to_string(run_->exit_reason) + ")";
  return false;
}

bool KvmVerifyVcpu::device_access() {
  const hw::MemAttrs attrs = hw::MemAttrs::cpu(test_.index());
  if (exit_access_.kind == Access::Kind::Port) {
    auto* data = reinterpret_cast<uint8_t*>(run_) + run_->io.data_offset;
    uint64_t v = 0;
    if (exit_access_.write) {
      std::memcpy(&v, data, exit_access_.size);
      test_.port_out(uint16_t(exit_access_.addr), exit_access_.size, v);
    } else {
      v = test_.port_in(uint16_t(exit_access_.addr), exit_access_.size);
      std::memcpy(data, &v, exit_access_.size);
    }
  } else {
    auto& m = run_->mmio;
    uint64_t v = 0;
    if (m.is_write) {
      std::memcpy(&v, m.data, m.len);
      if (memory_.write(m.phys_addr, m.len, v, attrs) != hw::MemResult::Ok)
        accel_.log().log(hw::kLogGuestErrors,
                         "verify: write of %u bytes to 0x%llx: nothing there\n", m.len,
                         static_cast<unsigned long long>(m.phys_addr));
    } else {
      if (memory_.read(m.phys_addr, m.len, v, attrs) != hw::MemResult::Ok) v = ~uint64_t(0);
      std::memcpy(m.data, &v, m.len);
    }
  }
  return true;
}

ArchState KvmVerifyVcpu::kvm_state(kvm_regs& r, kvm_sregs& s) {
  ArchState a;
  kvm_->get_regs(r);
  kvm_->get_sregs(s);
  for (unsigned i = 0; i < 16; ++i) a.gpr[i] = r.*kGprField[i];
  a.rip = r.rip;
  a.rflags = r.rflags & ~kRflagsRf;
  alignas(64) uint8_t x[kXsaveSize] = {};
  if (::ioctl(kvm_->fd(), kGetXsave, x) == 0) {
    std::memcpy(&a.fcw, x + kXsFcw, 2);
    std::memcpy(&a.fsw, x + kXsFsw, 2);
    a.ftw = x[kXsFtw];
    std::memcpy(&a.mxcsr, x + kXsMxcsr, 4);
    for (unsigned i = 0; i < 8; ++i) {
      std::memcpy(&a.st[i].mantissa, x + kXsSt + 16 * i, 8);
      std::memcpy(&a.st[i].sign_exp, x + kXsSt + 16 * i + 8, 2);
    }
    uint64_t bv = 0;
    std::memcpy(&bv, x + kXsXstateBv, 8);
    for (unsigned i = 0; i < 16; ++i) {
      std::memcpy(&a.ymm[i][0], x + kXsXmm + 16 * i, 16);
      if (bv & 4) std::memcpy(&a.ymm[i][2], x + kXsYmmHi + 16 * i, 16);
    }
  }
  return a;
}

ArchState KvmVerifyVcpu::tcg_state() const {
  ArchState a = x86::arch_state_of(test_.state());
  a.has_system = false;  // compared by system_diffs
  a.rflags &= ~kRflagsRf;
  return a;
}

/// The system registers that matter to the code compared: CS and SS, paging and the modes.
std::string KvmVerifyVcpu::system_diffs(const kvm_sregs& s) const {
  const X86State& t = test_.state();
  std::string out;
  auto field = [&](const char* name, uint64_t k, uint64_t v) {
    if (k != v) out += std::string("* ") + name + ": kvm " + hex(k) + " tcg " + hex(v) + "\n";
  };
  field("cs.selector", s.cs.selector, t.seg[x86::kCs].selector);
  field("cs.base", s.cs.base, t.seg[x86::kCs].base);
  field("ss.selector", s.ss.selector, t.seg[x86::kSs].selector);
  field("cr0", s.cr0 & 0x8005002f, t.cr0 & 0x8005002f);  // PG AM WP NE TS EM MP PE
  field("cr3", s.cr3, t.cr3);
  field("cr4", s.cr4 & 0x406b0, t.cr4 & 0x406b0);  // OSXSAVE OSXMMEXCPT OSFXSR PGE PAE PSE
  field("efer", s.efer & 0xd01, t.efer & 0xd01);   // NXE LMA LME SCE
  field("gdtr.base", s.gdt.base, t.gdtr.base);
  field("idtr.base", s.idt.base, t.idtr.base);
  return out;
}

std::vector<uint64_t> KvmVerifyVcpu::memory_diffs() {
  std::set<uint64_t> pages = std::move(stops_.written);
  stops_.written.clear();
  const int vm = accel_.vm().vm_fd();
  for (ShadowSlot& s : slots_) {
    const uint64_t n = s.real.size / kPage;
    if (!dirty_log_) {
      for (uint64_t i = 0; i < n; ++i) pages.insert(s.real.base / kPage + i);
      continue;
    }
    kvm_dirty_log log{};
    log.slot = unsigned(&s - slots_.data());
    log.dirty_bitmap = s.dirty.data();
    if (::ioctl(vm, KVM_GET_DIRTY_LOG, &log) < 0) continue;
    for (uint64_t w = 0; w < s.dirty.size(); ++w)
      for (uint64_t bits = s.dirty[w]; bits; bits &= bits - 1)
        pages.insert(s.real.base / kPage + w * 64 + unsigned(__builtin_ctzll(bits)));
  }
  std::vector<uint64_t> out;
  for (uint64_t p : pages) {
    ShadowSlot* s = slot_of_page(p);
    if (!s || s->real.readonly) continue;
    const uint64_t off = p * kPage - s->real.base;
    const uint64_t len = std::min<uint64_t>(kPage, s->real.size - off);
    if (std::memcmp(s->real.host + off, s->copy + off, len) == 0) continue;
    for (uint64_t i = 0; i < len; ++i) {
      const uint8_t a = s->real.host[off + i], b = s->copy[off + i];
      if (a != b && !ignored_difference(p * kPage + i, a, b)) {
        out.push_back(p);
        break;
      }
    }
  }
  return out;
}

/// Differences that are not compared: the accessed bit of segment descriptors and the accessed
/// and dirty bits of paging-structure entries (which TCG and KVM set at different times).
bool KvmVerifyVcpu::ignored_difference(uint64_t phys, uint8_t a, uint8_t b) {
  if ((a ^ b) == 1 && descriptor_access_byte(phys)) return true;
  if (((a ^ b) & ~0x60) == 0 && (phys & 7) == 0 && paging_structure_page(phys / kPage)) return true;
  return false;
}

/// Whether page holds one of the current paging structures of 4-level paging (CR3's tables,
/// looked at up to a bound).
bool KvmVerifyVcpu::paging_structure_page(uint64_t page) {
  const X86State& t = test_.state();
  if (!(t.cr0 & x86::cr0::kPg) || !(t.cr4 & x86::cr4::kPae)) return false;
  std::vector<uint64_t> level{t.cr3 & ~0xfffull & ((1ull << 52) - 1)};
  unsigned seen = 0;
  for (unsigned depth = 0; depth < 4 && !level.empty(); ++depth) {
    std::vector<uint64_t> next;
    for (uint64_t table : level) {
      if (table / kPage == page) return true;
      if (++seen > 4096 || depth == 3) continue;
      const uint8_t* h = memory_.host_ptr(table, kPage);
      if (!h) continue;
      for (unsigned i = 0; i < 512; ++i) {
        uint64_t e = 0;
        std::memcpy(&e, h + 8 * i, 8);
        if (!(e & 1) || (depth > 0 && (e & 0x80))) continue;  // not present, or a large page
        next.push_back(e & 0x000ffffffffff000ull);
      }
    }
    level = std::move(next);
  }
  return false;
}

/// Whether phys holds the type byte of a GDT descriptor, whose accessed bit this host's
/// hypervisor does not set when CPL0 code it emulates loads a segment (IRETQ to CPL3).
bool KvmVerifyVcpu::descriptor_access_byte(uint64_t phys) {
  const X86State& t = test_.state();
  for (uint64_t off = 5; off + 3 <= uint64_t(t.gdtr.limit); off += 8) {
    uint64_t p = 0;
    if (test_.debug_translate(t.gdtr.base + off, x86::kMmuIdxKernelNoSmap, p) && p == phys)
      return true;
  }
  return false;
}

/// Device DMA since the last sync point, into KVM's copy.
void KvmVerifyVcpu::copy_dma() {
  for (const hw::AddrRange& r : accel_.dma().take()) {
    for (ShadowSlot& s : slots_) {
      const uint64_t lo = std::max(r.addr, s.real.base);
      const uint64_t hi = std::min(r.addr + r.len, s.real.base + s.real.size);
      if (lo < hi)
        std::memcpy(s.copy + (lo - s.real.base), s.real.host + (lo - s.real.base), hi - lo);
    }
  }
}

/// At a sync point: an external interrupt the board's controllers raised meanwhile goes to
/// both, with the vector acknowledged once, when both can take it now.
void KvmVerifyVcpu::inject_interrupt() {
  if (!intr_.load()) return;
  const X86State& t = test_.state();
  if (!(t.eflags & x86::eflags::kIf) || t.inhibit_irq || !run_->ready_for_interrupt_injection)
    return;
  const int v = board_apic_ ? board_apic_->acknowledge_interrupt() : board_.acknowledge_interrupt();
  if (v < 0) return;
  kvm_interrupt irq{};
  irq.irq = uint32_t(v);
  if (::ioctl(kvm_->fd(), KVM_INTERRUPT, &irq) < 0) {
    accel_.log().log(hw::kLogUnimp, "verify: KVM_INTERRUPT: %s\n", std::strerror(errno));
    return;
  }
  sync_platform_.give(v, test_);
  rerunnable_ = false;
}

void KvmVerifyVcpu::save_sync_state() {
  x86::copy_arch_state(*sync_state_, test_.state());
  stops_.clear_old();
  rerunnable_ = true;
}

ExitKind KvmVerifyVcpu::passive(const std::string& why) {
  if (!passive_)
    std::fprintf(stderr, "orrery: verify: %s after %" PRIu64 " sync points: TCG runs on alone\n",
                 why.c_str(), syncs_);
  passive_.store(true);
  test_.mmu().set_watchpoints(nullptr);
  test_.set_io_gate(nullptr);
  test_.set_store_observer(nullptr);
  sync_platform_.set_passthrough();
  test_.set_intr(intr_.load());
  return ExitKind::Step;
}

void KvmVerifyVcpu::diverged(const std::string& why, const ArchState* kvm, const ArchState* tcg,
                             const std::string& sys, const std::vector<uint64_t>& pages) {
  const std::string test_name = opt_.test == tcg::exec::Tier::Baseline ? "baseline"
                                : opt_.test == tcg::exec::Tier::Llvm   ? "llvm"
                                : opt_.test == tcg::exec::Tier::Interp ? "interp"
                                                                       : "auto";
  std::string out = "orrery: verify: divergence on vCPU " + std::to_string(test_.index()) +
                    " after " + std::to_string(syncs_) + " sync points: KVM and " + test_name +
                    " differ in the code run from RIP " + hex(last_sync_rip_) +
                    " (the last sync point) to this one\n";
  out += why + "\n";
  if (kvm && tcg) {
    out += "registers (* = differs):\n";
    x86::CompareMasks masks;
    masks.rflags = ~kRflagsIopl;
    out += x86::format_arch_states(*kvm, *tcg, "kvm", test_name, masks);
  }
  out += sys;
  for (uint64_t p : pages) {
    ShadowSlot* s = slot_of_page(p);
    const uint64_t off = p * kPage - s->real.base;
    for (uint64_t i = 0; i < kPage && off + i < s->real.size; ++i) {
      const uint8_t a = s->copy[off + i], b = s->real.host[off + i];
      if (a != b && !ignored_difference(p * kPage + i, a, b)) {
        out += "* memory " + hex(p * kPage + i) + ": kvm " + hex(a) + " " + test_name + " " +
               hex(b) + " (first differing byte of the page)\n";
        break;
      }
    }
  }
  if (kvm && tcg) out += narrow(test_name);
  std::fputs(out.c_str(), stderr);
  std::fflush(stdout);
  std::fflush(stderr);
  std::_Exit(x86::kVerifyDivergenceExit);
}

/// The reference's board when a range is re-run: no interrupt controller answers.
class NoPlatform final : public x86::X86Platform {
 public:
  int acknowledge_interrupt() override { return -1; }
};

/// Names the instruction: puts TCG and memory back to the last sync point and re-runs the range
/// one instruction at a time on the test engine and on the interpreter (as -accel verify,
/// ref=interp does), up to the device access. What the interpreter says is trusted.
std::string KvmVerifyVcpu::narrow(const std::string& test_name) {
  if (!rerunnable_) return "(not narrowed: an interrupt was injected at the last sync point)\n";
  if (stops_.old_full) return "(not narrowed: too many stores since the last sync point)\n";
  tcg::exec::Engine& test_engine = accel_.engine();
  tcg::exec::EngineOptions o = accel_.base_options();
  o.tier = tcg::exec::Tier::Interp;
  tcg::exec::Engine interp(o, accel_.log());
  if (!interp.init().empty()) return {};
  auto restore = [&](uint64_t phys, uint8_t v) {
    if (uint8_t* h = memory_.host_ptr(phys, 1); h && *h != v) {
      *h = v;
      test_engine.guest_memory_written(phys, 1);
      interp.guest_memory_written(phys, 1);
    }
  };
  for (auto it = stops_.old.rbegin(); it != stops_.old.rend(); ++it) restore(it->phys, it->byte);
  x86::copy_arch_state(test_.state(), *sync_state_);
  test_.mode_changed();
  test_.flush_tlb_all();
  hw::AddressSpace no_io("verify-ref-io", hw::kIoPortSpaceSize);
  NoPlatform no_platform;
  X86Cpu ref(model_, test_.index(), memory_, no_io, interp, no_platform);
  TcgStops ref_stops(ref);
  ref.mmu().set_watchpoints(&ref_stops);
  ref.set_store_observer(&ref_stops);
  ref.set_io_gate(&ref_stops);
  test_.exec().set_single_step(true);
  ref.exec().set_single_step(true);
  for (unsigned n = 0; n < kMaxNarrowSteps; ++n) {
    x86::copy_arch_state(ref.state(), test_.state());
    ref.mode_changed();
    ref.flush_tlb_all();
    std::string text;
    disassemble(test_, &text);
    const uint64_t rip = test_.rip();
    stops_.clear_old();
    stops_.stop = Access{};
    const ExitKind tk = test_.run();
    if (stops_.stop.kind != Access::Kind::None)
      return "narrowed with the interpreter: it agrees with " + test_name + " on all " +
             std::to_string(n) + " instructions up to the access (KVM differs from both)\n";
    if (tk != ExitKind::Step)
      return "(not narrowed: the re-run stopped with " + std::string(exit_kind_name(tk)) + ")\n";
    const ArchState t = x86::arch_state_of(test_.state());
    // The test's stores are undone for the interpreter, then put back.
    std::map<uint64_t, uint8_t> original, test_bytes, ref_bytes;
    for (const TcgStops::Old& e : stops_.old) original.emplace(e.phys, e.byte);
    for (const auto& [p, v] : original) test_bytes[p] = *memory_.host_ptr(p, 1);
    for (auto it = stops_.old.rbegin(); it != stops_.old.rend(); ++it) restore(it->phys, it->byte);
    ref_stops.clear_old();
    ref_stops.stop = Access{};
    const ExitKind rk = ref.run();
    for (const TcgStops::Old& e : ref_stops.old) original.emplace(e.phys, e.byte);
    for (const TcgStops::Old& e : ref_stops.old) ref_bytes[e.phys] = *memory_.host_ptr(e.phys, 1);
    const ArchState r = x86::arch_state_of(ref.state());
    bool bytes_differ = false;
    for (const auto& [p, v] : original) {
      auto a = ref_bytes.find(p), b = test_bytes.find(p);
      if ((a != ref_bytes.end() ? a->second : v) != (b != test_bytes.end() ? b->second : v))
        bytes_differ = true;
      restore(p, b != test_bytes.end() ? b->second : v);
    }
    if (rk != ExitKind::Step || ref_stops.stop.kind != Access::Kind::None || bytes_differ ||
        !x86::diff_arch_states(r, t).empty()) {
      return "narrowed with the interpreter: the instruction at RIP " + hex(rip) + " (" +
             std::to_string(n) + " instructions after the last sync point) gives different " +
             "results on interp and " + test_name + ":\n  " + text + "\n" +
             "registers after it (* = differs):\n" +
             x86::format_arch_states(r, t, "interp", test_name);
    }
  }
  return "(not narrowed within " + std::to_string(kMaxNarrowSteps) + " instructions)\n";
}

ExitKind KvmVerifyVcpu::run() {
  exit_message_.clear();
  for (;;) {
    if (kick_pending_.exchange(false)) {
      __atomic_store_n(&run_->immediate_exit, 0, __ATOMIC_SEQ_CST);
      return ExitKind::Kicked;
    }
    if (passive_) {
      const ExitKind k = test_.run();
      exit_status_ = test_.exit_status();
      exit_message_ = test_.exit_message();
      return k;
    }
    // KVM's copy of RAM is made again when the board's RAM layout changed (not while KVM waits
    // at an exit: its instruction is half done).
    if (!started_ || (!have_exit_ && accel_.ram_generation() != ram_gen_)) {
      if (std::string e = start(); !e.empty()) {
        exit_message_ = "verify: " + e;
        return ExitKind::Error;
      }
    }
    // 1. KVM to its next device access (unless it waits there already).
    if (!have_exit_) {
      const KvmStop k = run_kvm();
      if (k == KvmStop::Kicked) continue;
      if (k == KvmStop::Error) return ExitKind::Error;
      if (k == KvmStop::AsyncDma) {
        passive("device DMA arrived between sync points (an asynchronous completion)");
        continue;
      }
      if (k == KvmStop::Halt) {
        passive("the guest halted (HLT is not a sync point)");
        continue;
      }
      if (k == KvmStop::Shutdown) {
        // A triple fault: TCG must reach one too, without touching a device first.
        stops_.stop = Access{};
        ExitKind t;
        do {
          t = test_.run();
        } while (t == ExitKind::Kicked && stops_.stop.kind == Access::Kind::None &&
                 !kick_pending_.load());
        if (t == ExitKind::Reset) return t;
        if (t == ExitKind::Kicked && kick_pending_.load()) continue;
        diverged(
            "KVM shut down (triple fault); TCG did not but stopped at " + stops_.stop.describe(),
            nullptr, nullptr, {}, {});
      }
      if (exit_access_.string) {
        passive("string I/O (" + exit_access_.describe() + ") is not compared");
        continue;
      }
      have_exit_ = true;
    }
    // 2. TCG to its next device access.
    stops_.stop = Access{};
    const ExitKind t = test_.run();
    if (stops_.stop.kind == Access::Kind::None) {
      if (t == ExitKind::Kicked) continue;  // a kick from the board: seen at the top
      if (t == ExitKind::Reset)
        diverged("TCG reset the machine (triple fault or reset request); KVM made " +
                     exit_access_.describe(),
                 nullptr, nullptr, {}, {});
      exit_status_ = test_.exit_status();
      exit_message_ = test_.exit_message();
      return t;
    }
    if (async_dma_.load()) {
      passive("device DMA arrived between sync points (an asynchronous completion)");
      continue;
    }
    // 3. Compare: the access, the registers before it, the memory written since.
    kvm_regs r{};
    kvm_sregs s{};
    ArchState k = kvm_state(r, s);
    const ArchState c = tcg_state();
    // KVM may report a port or MMIO exit with RIP already past the instruction (this host's
    // hypervisor does for OUT): TCG stopped before it.
    if (k.rip != c.rip && k.rip == c.rip + disassemble(test_)) k.rip = c.rip;
    x86::CompareMasks masks;
    masks.rflags = ~kRflagsIopl;
    const std::string sys = system_diffs(s);
    const std::vector<uint64_t> pages = memory_diffs();
    if (!exit_access_.same(stops_.stop))
      diverged("KVM makes " + exit_access_.describe() + "; TCG makes " + stops_.stop.describe(), &k,
               &c, sys, pages);
    if (stops_.stop.string)
      diverged("TCG's access is string I/O (" + stops_.stop.describe() +
                   "), which -accel verify,ref=kvm does not compare",
               &k, &c, sys, pages);
    if (!x86::diff_arch_states(k, c, masks).empty() || !sys.empty() || !pages.empty())
      diverged("both make " + exit_access_.describe() + " from different states", &k, &c, sys,
               pages);
    // 4. The access, once, on the board's device; KVM finishes the instruction and TCG takes
    // its registers after it.
    have_exit_ = false;
    if (!complete_kvm_access()) return ExitKind::Error;
    copy_dma();  // what the access made a device write (a virtio doorbell's request)
    kvm_->get_regs(r);
    X86State& ts = test_.state();
    for (unsigned i = 0; i < 16; ++i) ts.gpr[i] = r.*kGprField[i];
    test_.set_rip(r.rip);
    x86::write_eflags(ts, (x86::compute_eflags(ts) & ~kRflagsStatus) | (r.rflags & kRflagsStatus));
    test_.mode_changed();
    last_sync_rip_ = r.rip;
    save_sync_state();
    ++syncs_;
    // Pages KVM wrote to finish the instruction (none for port and MMIO moves) are read next
    // time; the dirty log is cleared with them.
    inject_interrupt();
  }
}

}  // namespace

std::unique_ptr<x86::X86Accelerator> make_kvm_verify_accelerator(
    const x86::VerifyOptions& options, const tcg::exec::EngineOptions& base, hw::Log& log,
    std::string& error) {
  auto a = std::make_unique<KvmVerifyAccel>(options, base, log);
  error = a->init();
  if (!error.empty()) return nullptr;
  return a;
}

}  // namespace orrery::cpu::kvm
