#include "cpu/kvm/kvm.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "cpu/kvm/kvm_vcpu.h"
#include "hw/core/log.h"
#include "hw/core/ram_backing.h"

namespace orrery::cpu::kvm {
namespace {

// Where Intel's VMX keeps the real-mode TSS and identity page table: in the reserved range
// below the BIOS, as QEMU puts them.
constexpr uint64_t kTssAddr = 0xfeffd000;
constexpr uint64_t kIdentityMapAddr = 0xfeffc000;
constexpr unsigned kIoApicPins = 24;
// MSI routes follow the IOAPIC's GSIs; how many irqfds a VM makes for messages.
constexpr uint32_t kFirstMsiGsi = kIoApicPins;
constexpr size_t kMaxMsiRoutes = 256;
// kvm_irq_routing ends in a __DECLARE_FLEX_ARRAY, whose empty struct has size 1 in C++: g++
// would encode a wrong size in the ioctl number. This one carries the C size.
constexpr unsigned long kSetGsiRouting = _IOC(_IOC_WRITE, KVMIO, 0x6a, 8);

std::string errno_text(const char* what) {
  return std::string(what) + ": " + std::strerror(errno);
}

void ignore_signal(int) {}

}  // namespace

int KvmVm::kick_signal() {
  return SIGUSR1;
}

std::unique_ptr<KvmVm> KvmVm::create(const KvmOptions& options, hw::Log& log, std::string& error) {
  std::unique_ptr<KvmVm> vm(new KvmVm(options, log));
  error = vm->init();
  if (!error.empty()) return nullptr;
  return vm;
}

KvmVm::~KvmVm() {
  for (const auto& [msg, fd] : msi_routes_) ::close(fd);
  if (vm_fd_ >= 0) ::close(vm_fd_);
  if (kvm_fd_ >= 0) ::close(kvm_fd_);
}

std::string KvmVm::init() {
  kvm_fd_ = ::open(options_.device.c_str(), O_RDWR | O_CLOEXEC);
  if (kvm_fd_ < 0) return errno_text(options_.device.c_str());
  const int api = ::ioctl(kvm_fd_, KVM_GET_API_VERSION, 0);
  if (api != KVM_API_VERSION)
    return "/dev/kvm: API version " + std::to_string(api) + ", expected " +
           std::to_string(KVM_API_VERSION);
  // What this accelerator cannot do without.
  const struct {
    int cap;
    const char* name;
  } needed[] = {{KVM_CAP_USER_MEMORY, "user memory"},
                {KVM_CAP_IMMEDIATE_EXIT, "immediate exit"},
                {KVM_CAP_EXT_CPUID, "CPUID"},
                {KVM_CAP_SET_TSS_ADDR, "TSS address"}};
  for (const auto& n : needed)
    if (::ioctl(kvm_fd_, KVM_CHECK_EXTENSION, n.cap) <= 0)
      return std::string("/dev/kvm: no ") + n.name + " capability";
  vm_fd_ = ::ioctl(kvm_fd_, KVM_CREATE_VM, 0);
  if (vm_fd_ < 0) return errno_text("/dev/kvm: KVM_CREATE_VM");
  const int size = ::ioctl(kvm_fd_, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (size <= 0) return errno_text("/dev/kvm: KVM_GET_VCPU_MMAP_SIZE");
  run_size_ = size_t(size);
  readonly_mem_ = ::ioctl(vm_fd_, KVM_CHECK_EXTENSION, KVM_CAP_READONLY_MEM) > 0;
  if (const int n = ::ioctl(vm_fd_, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS); n > 0)
    max_slots_ = unsigned(n);
  if (::ioctl(vm_fd_, KVM_SET_TSS_ADDR, kTssAddr) < 0)
    return errno_text("/dev/kvm: KVM_SET_TSS_ADDR");
  uint64_t identity = kIdentityMapAddr;
  if (::ioctl(vm_fd_, KVM_CHECK_EXTENSION, KVM_CAP_SET_IDENTITY_MAP_ADDR) > 0 &&
      ::ioctl(vm_fd_, KVM_SET_IDENTITY_MAP_ADDR, &identity) < 0)
    return errno_text("/dev/kvm: KVM_SET_IDENTITY_MAP_ADDR");
  if (options_.kernel_irqchip) {
    if (::ioctl(vm_fd_, KVM_CHECK_EXTENSION, KVM_CAP_IRQCHIP) <= 0)
      return "/dev/kvm: no in-kernel irqchip (use -accel kvm,kernel-irqchip=off)";
    if (::ioctl(vm_fd_, KVM_CREATE_IRQCHIP, 0) < 0)
      return errno_text("/dev/kvm: KVM_CREATE_IRQCHIP");
    std::string err = set_gsi_routing();
    if (!err.empty()) return err;
    irqfd_ = options_.irqfd && ::ioctl(vm_fd_, KVM_CHECK_EXTENSION, KVM_CAP_IRQFD) > 0 &&
             ::ioctl(vm_fd_, KVM_CHECK_EXTENSION, KVM_CAP_IRQ_ROUTING) > 0;
  }
  ioeventfd_ = options_.ioeventfd && ::ioctl(vm_fd_, KVM_CHECK_EXTENSION, KVM_CAP_IOEVENTFD) > 0;
  // The kick signal interrupts KVM_RUN (EINTR); no SA_RESTART.
  struct sigaction sa {};
  sa.sa_handler = ignore_signal;
  sigemptyset(&sa.sa_mask);
  if (::sigaction(kick_signal(), &sa, nullptr) < 0) return errno_text("sigaction");
  return {};
}

std::string KvmVm::set_gsi_routing() {
  // As the pc board's MADT says: ISA IRQ n is PIC input n (but 2, the cascade) and IOAPIC pin
  // n, except IRQ 0, which is pin 2; GSIs 16-23 are IOAPIC pins only.
  std::vector<kvm_irq_routing_entry> e;
  auto add = [&](uint32_t gsi, uint32_t chip, uint32_t pin) {
    kvm_irq_routing_entry r{};
    r.gsi = gsi;
    r.type = KVM_IRQ_ROUTING_IRQCHIP;
    r.u.irqchip.irqchip = chip;
    r.u.irqchip.pin = pin;
    e.push_back(r);
  };
  for (uint32_t i = 0; i < 16; ++i) {
    if (i == 2) continue;
    add(i, i < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE, i % 8);
  }
  for (uint32_t i = 0; i < kIoApicPins; ++i) {
    if (i == 2) continue;
    add(i, KVM_IRQCHIP_IOAPIC, i == 0 ? 2 : i);
  }
  for (size_t i = 0; i < msi_order_.size(); ++i) {
    kvm_irq_routing_entry r{};
    r.gsi = kFirstMsiGsi + uint32_t(i);
    r.type = KVM_IRQ_ROUTING_MSI;
    r.u.msi.address_lo = uint32_t(msi_order_[i].first);
    r.u.msi.address_hi = uint32_t(msi_order_[i].first >> 32);
    r.u.msi.data = msi_order_[i].second;
    e.push_back(r);
  }
  // kvm_irq_routing's layout (its C++ sizeof differs: see kSetGsiRouting): nr, flags, entries.
  std::vector<kvm_irq_routing_entry> table(e.size() + 1);
  const uint32_t head[2] = {uint32_t(e.size()), 0};
  std::memcpy(table.data(), head, sizeof head);
  std::memcpy(reinterpret_cast<char*>(table.data()) + sizeof head, e.data(),
              e.size() * sizeof(kvm_irq_routing_entry));
  if (::ioctl(vm_fd_, kSetGsiRouting, table.data()) < 0)
    return errno_text("/dev/kvm: KVM_SET_GSI_ROUTING");
  return {};
}

int KvmVm::msi_irqfd(uint64_t address, uint32_t data) {
  std::lock_guard<std::mutex> g(msi_mu_);
  const auto key = std::make_pair(address, data);
  if (auto it = msi_routes_.find(key); it != msi_routes_.end()) return it->second;
  if (msi_order_.size() >= kMaxMsiRoutes) return -1;
  const int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) return -1;
  msi_order_.push_back(key);
  std::string err = set_gsi_routing();
  kvm_irqfd irqfd{};
  irqfd.fd = uint32_t(fd);
  irqfd.gsi = kFirstMsiGsi + uint32_t(msi_order_.size() - 1);
  if (err.empty() && ::ioctl(vm_fd_, KVM_IRQFD, &irqfd) < 0) err = errno_text("kvm: KVM_IRQFD");
  if (!err.empty()) {
    log_.log(hw::kLogUnimp, "%s\n", err.c_str());
    msi_order_.pop_back();
    set_gsi_routing();
    ::close(fd);
    return -1;
  }
  msi_routes_.emplace(key, fd);
  return fd;
}

std::unique_ptr<x86::X86Vcpu> KvmVm::create_vcpu(const x86::X86VcpuSpec& spec, std::string& error) {
  auto v = std::make_unique<KvmVcpu>(*this, spec);
  if (!v->error().empty()) {
    error = v->error();
    return nullptr;
  }
  return v;
}

void KvmVm::ram_changed(const hw::AddressSpace& as, const std::vector<hw::RamRange>& ranges) {
  (void)as;
  std::lock_guard<std::mutex> g(slots_mu_);
  std::string err;
  auto set = [&](unsigned slot, const hw::RamRange* r) {
    kvm_userspace_memory_region m{};
    m.slot = slot;
    if (r) {
      m.guest_phys_addr = r->base;
      m.memory_size = r->size;
      m.userspace_addr = reinterpret_cast<uintptr_t>(r->host);
      hw::advise_huge_pages(r->host, r->size);
      // Writes to a read-only slot exit to MMIO (the ROM drops them). Without read-only slots
      // a ROM is writable by the guest (noted once).
      if (r->readonly && readonly_mem_) m.flags = KVM_MEM_READONLY;
      if (r->readonly && !readonly_mem_ && !rom_writable_noted_) {
        rom_writable_noted_ = true;
        log_.log(hw::kLogUnimp, "kvm: no read-only memory slots; ROM at 0x%llx is writable\n",
                 static_cast<unsigned long long>(r->base));
      }
    }
    if (::ioctl(vm_fd_, KVM_SET_USER_MEMORY_REGION, &m) < 0 && err.empty())
      err = errno_text(r ? "kvm: memory slot" : "kvm: memory slot removal");
  };
  std::vector<bool> kept(ranges.size(), false);
  for (unsigned i = 0; i < slots_.size(); ++i) {
    if (!slots_[i].size) continue;
    bool keep = false;
    for (size_t j = 0; j < ranges.size() && !keep; ++j)
      if (!kept[j] && ranges[j] == slots_[i]) keep = kept[j] = true;
    if (keep) continue;
    set(i, nullptr);
    slots_[i] = {};
  }
  unsigned free = 0;
  for (size_t j = 0; j < ranges.size(); ++j) {
    if (kept[j] || !ranges[j].size) continue;
    while (free < slots_.size() && slots_[free].size) ++free;
    if (free >= max_slots_) {
      if (err.empty()) err = "kvm: more than " + std::to_string(max_slots_) + " memory slots";
      break;
    }
    if (free == slots_.size()) slots_.emplace_back();
    set(free, &ranges[j]);
    slots_[free] = ranges[j];
  }
  ram_error_ = err;
  // A failure after the start leaves guest memory unmapped there (its accesses exit to MMIO).
  if (!err.empty()) log_.write(err + "\n");
}

std::string KvmVm::ram_error() const {
  std::lock_guard<std::mutex> g(slots_mu_);
  return ram_error_;
}

std::vector<hw::RamRange> KvmVm::slots() const {
  std::lock_guard<std::mutex> g(slots_mu_);
  return slots_;
}

KvmVcpu* KvmVm::vcpu(unsigned index) const {
  std::lock_guard<std::mutex> g(vcpus_mu_);
  return index < vcpus_.size() ? vcpus_[index] : nullptr;
}

unsigned KvmVm::vcpu_count() const {
  std::lock_guard<std::mutex> g(vcpus_mu_);
  return unsigned(vcpus_.size());
}

void KvmVm::set_vcpu(unsigned index, KvmVcpu* v) {
  std::lock_guard<std::mutex> g(vcpus_mu_);
  if (index >= vcpus_.size()) vcpus_.resize(index + 1, nullptr);
  vcpus_[index] = v;
  while (!vcpus_.empty() && !vcpus_.back()) vcpus_.pop_back();
}

void KvmVm::init_kernel_pic(uint8_t master_base, uint8_t slave_base, uint8_t master_mask,
                            uint8_t slave_mask) {
  const struct {
    uint32_t chip;
    uint8_t base, mask;
  } pics[] = {{KVM_IRQCHIP_PIC_MASTER, master_base, master_mask},
              {KVM_IRQCHIP_PIC_SLAVE, slave_base, slave_mask}};
  for (const auto& p : pics) {
    kvm_irqchip c{};
    c.chip_id = p.chip;
    if (::ioctl(vm_fd_, KVM_GET_IRQCHIP, &c) < 0) {
      log_.log(hw::kLogUnimp, "kvm: KVM_GET_IRQCHIP: %s\n", std::strerror(errno));
      return;
    }
    kvm_pic_state& s = c.chip.pic;
    // After ICW1-ICW4 (edge, cascade, 8086 mode) and OCW1.
    s.irq_base = p.base;
    s.imr = p.mask;
    s.init_state = 0;
    s.init4 = 1;
    s.auto_eoi = 0;
    s.isr = s.irr = 0;
    if (::ioctl(vm_fd_, KVM_SET_IRQCHIP, &c) < 0)
      log_.log(hw::kLogUnimp, "kvm: KVM_SET_IRQCHIP: %s\n", std::strerror(errno));
  }
}

void KvmVm::Gsi::set_irq(unsigned gsi, bool level) {
  kvm_irq_level l{};
  l.irq = gsi;
  l.level = level ? 1 : 0;
  if (::ioctl(vm_.vm_fd_, KVM_IRQ_LINE, &l) < 0)
    vm_.log_.log(hw::kLogGuestErrors, "kvm: KVM_IRQ_LINE %u: %s\n", gsi, std::strerror(errno));
}

bool KvmVm::Msi::deliver_msi(const hw::MsiMessage& msg) {
  // Only messages the kernel's APICs take get a route (it would refuse the others).
  if (vm_.irqfd_ && (msg.address >> 20) == 0xfee) {
    const int fd = vm_.msi_irqfd(msg.address, msg.data);
    const uint64_t one = 1;
    if (fd >= 0 && ::write(fd, &one, sizeof one) == sizeof one) {
      vm_.irqfd_msis_.fetch_add(1);
      return true;
    }
  }
  vm_.signalled_msis_.fetch_add(1);
  kvm_msi m{};
  m.address_lo = uint32_t(msg.address);
  m.address_hi = uint32_t(msg.address >> 32);
  m.data = msg.data;
  // Outside the APIC's 0xfeexxxxx window the kernel refuses the message.
  return ::ioctl(vm_.vm_fd_, KVM_SIGNAL_MSI, &m) >= 0;
}

bool KvmVm::IoEvents::add_io_event(int eventfd, const hw::IoEventMatch& m) {
  kvm_ioeventfd e{};
  e.fd = eventfd;
  e.addr = m.addr;
  e.len = m.len;
  if (m.io_port) e.flags |= KVM_IOEVENTFD_FLAG_PIO;
  if (m.match_data && m.len) {
    e.flags |= KVM_IOEVENTFD_FLAG_DATAMATCH;
    e.datamatch = m.data;
  }
  if (::ioctl(vm_.vm_fd_, KVM_IOEVENTFD, &e) >= 0) return true;
  vm_.log_.log(hw::kLogUnimp, "kvm: KVM_IOEVENTFD at 0x%llx: %s\n",
               static_cast<unsigned long long>(m.addr), std::strerror(errno));
  return false;
}

void KvmVm::IoEvents::remove_io_event(int eventfd, const hw::IoEventMatch& m) {
  kvm_ioeventfd e{};
  e.fd = eventfd;
  e.addr = m.addr;
  e.len = m.len;
  e.flags = KVM_IOEVENTFD_FLAG_DEASSIGN;
  if (m.io_port) e.flags |= KVM_IOEVENTFD_FLAG_PIO;
  if (m.match_data && m.len) {
    e.flags |= KVM_IOEVENTFD_FLAG_DATAMATCH;
    e.datamatch = m.data;
  }
  if (::ioctl(vm_.vm_fd_, KVM_IOEVENTFD, &e) < 0)
    vm_.log_.log(hw::kLogUnimp, "kvm: KVM_IOEVENTFD removal at 0x%llx: %s\n",
                 static_cast<unsigned long long>(m.addr), std::strerror(errno));
}

}  // namespace orrery::cpu::kvm
