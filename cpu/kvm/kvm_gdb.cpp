#include "cpu/kvm/kvm_gdb.h"

#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>

#include "cpu/kvm/kvm.h"
#include "cpu/kvm/kvm_vcpu.h"
#include "cpu/x86/gdb.h"
#include "hw/core/address_space.h"
#include "hw/core/log.h"

namespace orrery::cpu::kvm {
namespace {

using namespace orrery::cpu::x86;

// kvm_msrs ends in a flexible array (see kvm_vcpu.cpp): the ioctl numbers with the C size.
constexpr unsigned long kGetMsrs = _IOC(_IOC_READ | _IOC_WRITE, KVMIO, 0x88, 8);
constexpr unsigned long kSetMsrs = _IOC(_IOC_WRITE, KVMIO, 0x89, 8);
constexpr uint32_t kMsrKernelGsBase = 0xc0000102;

struct OneMsr {
  uint32_t nmsrs = 1, pad = 0;
  kvm_msr_entry e{};
};

// DR6 (SDM vol. 3, 18.2.3): B0-B3 and BS (single step).
constexpr uint64_t kDr6Bs = 1u << 14;

__u64* gpr(kvm_regs& r, unsigned regno) {
  // gdb's amd64 order: rax rbx rcx rdx rsi rdi rbp rsp r8-r15.
  __u64* const order[16] = {&r.rax, &r.rbx, &r.rcx, &r.rdx, &r.rsi, &r.rdi, &r.rbp, &r.rsp,
                            &r.r8,  &r.r9,  &r.r10, &r.r11, &r.r12, &r.r13, &r.r14, &r.r15};
  return order[regno];
}

kvm_segment& segment(kvm_sregs& s, unsigned i) {
  kvm_segment* const order[6] = {&s.cs, &s.ss, &s.ds, &s.es, &s.fs, &s.gs};
  return *order[i];
}

}  // namespace

KvmDebug::KvmDebug(KvmVm& vm) : vm_(vm), xml_(gdb_target_xml()) {
  vm_.set_debug(this);
}

KvmDebug::~KvmDebug() {
  deactivate();
  vm_.set_debug(nullptr);
}

void KvmDebug::activate(bool start_stopped) {
  std::lock_guard<std::mutex> g(mu_);
  active_ = true;
  if (start_stopped) {
    stopping_ = true;
    event_ = GdbStopEvent{};
  }
}

void KvmDebug::set_stop_listener(std::function<void(bool)> listener) {
  std::lock_guard<std::mutex> g(listener_mu_);
  listener_ = std::move(listener);
}

void KvmDebug::notify_running() {
  std::lock_guard<std::mutex> g(listener_mu_);
  if (!told_stopped_) return;
  told_stopped_ = false;
  if (listener_) listener_(false);
}

void KvmDebug::kill() {
  {
    std::lock_guard<std::mutex> g(mu_);
    killed_ = true;
  }
  deactivate();
}

void KvmDebug::wake() {
  std::lock_guard<std::mutex> g(mu_);
  cv_.notify_all();
}

void KvmDebug::deactivate() {
  {
    std::lock_guard<std::mutex> g(mu_);
    active_ = false;
    stopping_ = false;
    event_.reset();
    clear_breaks_locked();
    cv_.notify_all();
  }
  for (unsigned i = 0; i < vm_.vcpu_count(); ++i)
    if (KvmVcpu* v = vm_.vcpu(i)) v->debug_kick();
  notify_running();
}

unsigned KvmDebug::register_count() const {
  return kGdbRegCount;
}
unsigned KvmDebug::g_register_count() const {
  return kGdbRegFsBase;
}
unsigned KvmDebug::pc_register() const {
  return kGdbRegRip;
}
unsigned KvmDebug::register_bytes(unsigned regno) const {
  return gdb_register_bytes(regno);
}
std::optional<std::string_view> KvmDebug::feature_xml(std::string_view annex) const {
  if (annex == "target.xml") return std::string_view(xml_);
  return std::nullopt;
}

unsigned KvmDebug::thread_count() const {
  return vm_.vcpu_count();
}
bool KvmDebug::thread_alive(unsigned thread) const {
  return vm_.vcpu(thread) != nullptr;
}
KvmVcpu* KvmDebug::vcpu(unsigned thread) const {
  return vm_.vcpu(thread);
}

bool KvmDebug::read_register(unsigned thread, unsigned regno, std::span<uint8_t> out) {
  KvmVcpu* v = vcpu(thread);
  if (!v || out.empty() || out.size() != register_bytes(regno)) return false;
  uint64_t val = 0;
  if (regno <= kGdbRegEflags) {
    kvm_regs r{};
    if (!v->get_regs(r)) return false;
    val = regno < 16 ? *gpr(r, regno) : regno == kGdbRegRip ? r.rip : r.rflags;
  } else if (regno < kGdbRegSt0 || regno >= kGdbRegFsBase) {
    kvm_sregs s{};
    if (!v->get_sregs(s)) return false;
    if (regno < kGdbRegSt0) {
      val = segment(s, regno - kGdbRegCs).selector;
    } else if (regno == kGdbRegFsBase) {
      val = s.fs.base;
    } else if (regno == kGdbRegGsBase) {
      val = s.gs.base;
    } else {
      const uint64_t sys[] = {s.cr0, s.cr2, s.cr3, s.cr4, s.cr8, s.efer};
      const unsigned i = regno - kGdbRegFirstSys;
      if (i < std::size(sys)) {
        val = sys[i];
      } else {
        OneMsr m;
        m.e.index = kMsrKernelGsBase;
        if (::ioctl(v->fd(), kGetMsrs, &m) != 1) return false;
        val = m.e.data;
      }
    }
  } else {
    kvm_fpu f{};
    if (::ioctl(v->fd(), KVM_GET_FPU, &f) < 0) return false;
    if (regno < kGdbRegFctrl) {
      std::memcpy(out.data(), f.fpr[regno - kGdbRegSt0], 10);  // FXSAVE keeps ST(i) order
      return true;
    }
    if (regno >= kGdbRegXmm0 && regno < kGdbRegMxcsr) {
      std::memcpy(out.data(), f.xmm[regno - kGdbRegXmm0], 16);
      return true;
    }
    switch (regno == kGdbRegMxcsr ? 8 : regno - kGdbRegFctrl) {
      case 0:
        val = f.fcw;
        break;
      case 1:
        val = f.fsw;
        break;
      case 2:  // the abridged tag (1: valid) as gdb's full tag word (11: empty)
        for (unsigned i = 0; i < 8; ++i)
          if (!(f.ftwx & (1u << i))) val |= 3u << (2 * i);
        break;
      case 4:
        val = uint32_t(f.last_ip);
        break;
      case 6:
        val = uint32_t(f.last_dp);
        break;
      case 7:
        val = f.last_opcode;
        break;
      case 8:
        val = f.mxcsr;
        break;
      default:  // the selectors: FXSAVE's 64-bit format has none
        break;
    }
  }
  std::memcpy(out.data(), &val, out.size());
  return true;
}

bool KvmDebug::write_register(unsigned thread, unsigned regno, std::span<const uint8_t> in) {
  KvmVcpu* v = vcpu(thread);
  if (!v || in.empty() || in.size() != register_bytes(regno)) return false;
  uint64_t val = 0;
  if (in.size() <= 8) std::memcpy(&val, in.data(), in.size());
  if (regno <= kGdbRegEflags) {
    kvm_regs r{};
    if (!v->get_regs(r)) return false;
    if (regno < 16)
      *gpr(r, regno) = val;
    else if (regno == kGdbRegRip)
      r.rip = val;
    else
      r.rflags = (val & 0x3f7fd5) | 2;
    return v->set_regs(r);
  }
  if (regno < kGdbRegSt0 || regno >= kGdbRegFsBase) {
    kvm_sregs s{};
    if (!v->get_sregs(s)) return false;
    if (regno < kGdbRegSt0) {
      // Only the visible selector, as the TCG target does in protected mode.
      segment(s, regno - kGdbRegCs).selector = uint16_t(val);
    } else if (regno == kGdbRegFsBase) {
      s.fs.base = val;
    } else if (regno == kGdbRegGsBase) {
      s.gs.base = val;
    } else {
      __u64* const sys[] = {&s.cr0, &s.cr2, &s.cr3, &s.cr4, &s.cr8, &s.efer};
      const unsigned i = regno - kGdbRegFirstSys;
      if (i >= std::size(sys)) {
        OneMsr m;
        m.e.index = kMsrKernelGsBase;
        m.e.data = val;
        return ::ioctl(v->fd(), kSetMsrs, &m) == 1;
      }
      *sys[i] = val;
    }
    return v->set_sregs(s);
  }
  kvm_fpu f{};
  if (::ioctl(v->fd(), KVM_GET_FPU, &f) < 0) return false;
  if (regno < kGdbRegFctrl) {
    std::memcpy(f.fpr[regno - kGdbRegSt0], in.data(), 10);
  } else if (regno >= kGdbRegXmm0 && regno < kGdbRegMxcsr) {
    std::memcpy(f.xmm[regno - kGdbRegXmm0], in.data(), 16);
  } else {
    switch (regno == kGdbRegMxcsr ? 8 : regno - kGdbRegFctrl) {
      case 0:
        f.fcw = uint16_t(val);
        break;
      case 1:
        f.fsw = uint16_t(val);
        break;
      case 2:
        f.ftwx = 0;
        for (unsigned i = 0; i < 8; ++i)
          if (((val >> (2 * i)) & 3) != 3) f.ftwx |= uint8_t(1u << i);
        break;
      case 4:
        f.last_ip = val;
        break;
      case 6:
        f.last_dp = val;
        break;
      case 7:
        f.last_opcode = uint16_t(val & 0x7ff);
        break;
      case 8:
        f.mxcsr = uint32_t(val) & 0xffff;
        break;
      default:
        return true;  // no selectors to set
    }
  }
  return ::ioctl(v->fd(), KVM_SET_FPU, &f) >= 0;
}

std::optional<uint64_t> KvmDebug::translate(KvmVcpu& v, uint64_t linear) {
  kvm_translation t{};
  t.linear_address = linear;
  if (::ioctl(v.fd(), KVM_TRANSLATE, &t) < 0 || !t.valid) return std::nullopt;
  return t.physical_address;
}

bool KvmDebug::access_memory(unsigned thread, uint64_t addr, uint8_t* buf, size_t len, bool phys,
                             bool write) {
  KvmVcpu* v = vcpu(thread);
  if (!v) v = vcpu(0);
  if (!v) return false;
  while (len) {
    // Page by page: each page translates on its own.
    const size_t n = std::min<uint64_t>(len, 0x1000 - (addr & 0xfff));
    uint64_t pa = addr;
    if (!phys) {
      std::optional<uint64_t> t = translate(*v, addr);
      if (!t) return false;
      pa = *t;
    }
    // RAM only: a debugger's read must not reach a device register.
    uint8_t* host = v->memory().host_ptr(pa, n);
    if (!host) return false;
    if (write)
      std::memcpy(host, buf, n);
    else
      std::memcpy(buf, host, n);
    addr += n;
    buf += n;
    len -= n;
  }
  return true;
}

bool KvmDebug::read_memory(unsigned thread, uint64_t addr, std::span<uint8_t> out, bool phys) {
  if (!access_memory(thread, addr, out.data(), out.size(), phys, false)) return false;
  // The debugger sees the bytes under its own INT3s.
  std::lock_guard<std::mutex> g(mu_);
  for (const auto& [linear, b] : sw_) {
    const uint64_t at = phys ? b.phys : linear;
    if (at >= addr && at - addr < out.size()) out[at - addr] = b.saved;
  }
  return true;
}

bool KvmDebug::write_memory(unsigned thread, uint64_t addr, std::span<const uint8_t> in,
                            bool phys) {
  return access_memory(thread, addr, const_cast<uint8_t*>(in.data()), in.size(), phys, true);
}

bool KvmDebug::insert_break(GdbBreak type, uint64_t addr, uint64_t len) {
  if (type == GdbBreak::Software) {
    // INT3 through vCPU 0's page tables (the address gdb means for every thread).
    std::lock_guard<std::mutex> g(mu_);
    if (sw_.count(addr)) return true;
    KvmVcpu* v = vcpu(0);
    if (!v) return false;
    const std::optional<uint64_t> pa = translate(*v, addr);
    uint8_t* host = pa ? v->memory().host_ptr(*pa, 1) : nullptr;
    if (!host) return false;
    sw_[addr] = {*pa, *host};
    *host = 0xcc;
    ++generation_;
    return true;
  }
  // A watchpoint covers 1, 2, 4 or 8 aligned bytes (one debug register each).
  const bool watch = type != GdbBreak::Hardware;
  if (watch && ((len != 1 && len != 2 && len != 4 && len != 8) || (addr & (len - 1)))) return false;
  if (!watch) len = 1;
  std::lock_guard<std::mutex> g(mu_);
  for (const Slot& s : slots_)
    if (s.used && s.type == type && s.addr == addr && s.len == len) return true;
  for (Slot& s : slots_) {
    if (s.used) continue;
    s = {true, type, addr, len};
    ++generation_;
    return true;
  }
  return false;
}

bool KvmDebug::remove_break(GdbBreak type, uint64_t addr, uint64_t len) {
  std::lock_guard<std::mutex> g(mu_);
  if (type == GdbBreak::Software) {
    remove_sw_locked(addr);
    return true;
  }
  const bool watch = type != GdbBreak::Hardware;
  if (!watch) len = 1;
  for (Slot& s : slots_) {
    if (s.used && s.type == type && s.addr == addr && s.len == len) {
      s = {};
      ++generation_;
    }
  }
  return true;
}

void KvmDebug::remove_sw_locked(uint64_t addr) {
  auto it = sw_.find(addr);
  if (it == sw_.end()) return;
  KvmVcpu* v = vcpu(0);
  uint8_t* host = v ? v->memory().host_ptr(it->second.phys, 1) : nullptr;
  if (host && *host == 0xcc) *host = it->second.saved;
  sw_.erase(it);
  ++generation_;
}

void KvmDebug::clear_breaks_locked() {
  while (!sw_.empty()) remove_sw_locked(sw_.begin()->first);
  slots_ = {};
  ++generation_;
}

kvm_guest_debug KvmDebug::guest_debug_locked(bool step) const {
  kvm_guest_debug d{};
  uint64_t dr7 = 0;
  for (unsigned i = 0; i < slots_.size(); ++i) {
    const Slot& s = slots_[i];
    if (!s.used) continue;
    d.arch.debugreg[i] = s.addr;
    // DR7 (SDM vol. 3, 18.2.4): Gi, R/Wi (00 execute, 01 write, 11 read/write), LENi (00 1
    // byte, 01 2, 11 4, 10 8).
    uint64_t rw = 0, ln = 0;
    if (s.type == GdbBreak::Write) rw = 1;
    if (s.type == GdbBreak::Read || s.type == GdbBreak::Access) rw = 3;
    if (s.len == 2) ln = 1;
    if (s.len == 4) ln = 3;
    if (s.len == 8) ln = 2;
    dr7 |= (2ull << (2 * i)) | (rw << (16 + 4 * i)) | (ln << (18 + 4 * i));
  }
  d.arch.debugreg[7] = dr7;
  if (dr7 || step || !sw_.empty()) d.control = KVM_GUESTDBG_ENABLE;
  if (dr7) d.control |= KVM_GUESTDBG_USE_HW_BP;
  if (!sw_.empty()) d.control |= KVM_GUESTDBG_USE_SW_BP;
  if (step) d.control |= KVM_GUESTDBG_SINGLESTEP;
  return d;
}

void KvmDebug::checkpoint(KvmVcpu& v) {
  const unsigned i = v.index();
  std::unique_lock<std::mutex> lk(mu_);
  if (actions_.size() <= i) actions_.resize(i + 1, GdbResume::Continue);
  if (parked_.size() <= i) parked_.resize(i + 1, false);
  if (applied_.size() <= i) applied_.resize(i + 1, 0);
  auto held = [&] {
    if (killed_) return !v.stop_requested();
    return active_ && (stopping_ || actions_[i] == GdbResume::Stay);
  };
  if (held()) {
    parked_[i] = true;
    cv_.notify_all();
    cv_.wait(lk, [&] { return !held(); });
    parked_[i] = false;
  }
  if (applied_[i] == generation_) return;
  applied_[i] = generation_;
  const kvm_guest_debug d = guest_debug_locked(active_ && actions_[i] == GdbResume::Step);
  lk.unlock();
  if (::ioctl(v.fd(), KVM_SET_GUEST_DEBUG, &d) < 0)
    vm_.log().log(hw::kLogUnimp, "kvm: KVM_SET_GUEST_DEBUG: %s\n", std::strerror(errno));
}

void KvmDebug::stop_all_locked(const GdbStopEvent& e) {
  if (stopping_) return;  // another vCPU's event came first
  stopping_ = true;
  event_ = e;
  for (unsigned i = 0; i < vm_.vcpu_count(); ++i)
    if (KvmVcpu* v = vm_.vcpu(i)) v->debug_kick();
}

void KvmDebug::debug_exit(KvmVcpu& v, const kvm_debug_exit_arch& arch) {
  std::lock_guard<std::mutex> g(mu_);
  if (!active_) return;
  GdbStopEvent e;
  e.thread = v.index();
  e.kind = GdbStopKind::Step;
  e.addr = arch.pc;
  if (arch.exception == 3) {
    // KVM reports the INT3's own address: gdb expects the PC there, as after a TCG break.
    e.kind = GdbStopKind::SwBreak;
    if (!sw_.count(arch.pc)) return;  // not ours: the guest's own INT3 (lost; see the header)
    stop_all_locked(e);
    return;
  }
  for (unsigned i = 0; i < slots_.size(); ++i) {
    if (!(arch.dr6 & (1u << i)) || !slots_[i].used) continue;
    switch (slots_[i].type) {
      case GdbBreak::Software:
        e.kind = GdbStopKind::SwBreak;
        break;
      case GdbBreak::Hardware:
        e.kind = GdbStopKind::HwBreak;
        break;
      case GdbBreak::Write:
        e.kind = GdbStopKind::Watch;
        e.addr = slots_[i].addr;
        break;
      case GdbBreak::Read:
        e.kind = GdbStopKind::ReadWatch;
        e.addr = slots_[i].addr;
        break;
      default:
        e.kind = GdbStopKind::AccessWatch;
        e.addr = slots_[i].addr;
        break;
    }
    break;
  }
  if (e.kind == GdbStopKind::Step && !(arch.dr6 & kDr6Bs) && arch.exception != 1) return;
  // Stepping stops after one instruction: the vCPU steps no further once resumed.
  if (v.index() < actions_.size() && actions_[v.index()] == GdbResume::Step) {
    actions_[v.index()] = GdbResume::Continue;
    ++generation_;
  }
  stop_all_locked(e);
}

void KvmDebug::request_stop() {
  std::lock_guard<std::mutex> g(mu_);
  stop_all_locked(GdbStopEvent{});
}

std::optional<GdbStopEvent> KvmDebug::wait_stop(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lk(mu_);
  const bool ok = cv_.wait_for(lk, timeout, [&] {
    if (!stopping_) return false;
    const unsigned n = vm_.vcpu_count();
    for (unsigned i = 0; i < n; ++i)
      if (vm_.vcpu(i) && (i >= parked_.size() || !parked_[i])) return false;
    return true;
  });
  if (!ok) return std::nullopt;
  const GdbStopEvent e = event_ ? *event_ : GdbStopEvent{};
  lk.unlock();
  std::lock_guard<std::mutex> g(listener_mu_);
  if (!told_stopped_) {
    told_stopped_ = true;
    if (listener_) listener_(true);
  }
  return e;
}

void KvmDebug::resume(std::span<const GdbResume> per_thread) {
  notify_running();  // first: a vCPU may stop again at once
  std::lock_guard<std::mutex> g(mu_);
  const unsigned n = vm_.vcpu_count();
  actions_.assign(std::max<size_t>(n, actions_.size()), GdbResume::Continue);
  for (size_t i = 0; i < per_thread.size() && i < actions_.size(); ++i) actions_[i] = per_thread[i];
  event_.reset();
  stopping_ = false;
  ++generation_;
  cv_.notify_all();
}

void KvmDebug::detach() {
  notify_running();
  std::lock_guard<std::mutex> g(mu_);
  clear_breaks_locked();
  actions_.assign(actions_.size(), GdbResume::Continue);
  event_.reset();
  stopping_ = false;
  ++generation_;
  cv_.notify_all();
}

}  // namespace orrery::cpu::kvm
