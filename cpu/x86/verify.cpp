// See verify.h.
#include "cpu/x86/verify.h"

#include <capstone/capstone.h>

#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <vector>

#include "cpu/x86/cpu.h"
#include "cpu/x86/state_compare.h"
#include "hw/core/address_space.h"
#include "hw/core/log.h"

namespace orrery::cpu::x86 {
namespace {

using tcg::exec::Engine;
using tcg::exec::Tier;

std::string_view tier_name(Tier t) {
  switch (t) {
    case Tier::Interp:
      return "interp";
    case Tier::Baseline:
      return "baseline";
    case Tier::Llvm:
      return "llvm";
    case Tier::Auto:
      return "auto";
  }
  return "?";
}

/// The stores of one side's step, each with the byte it overwrote, in order.
struct StoreLog {
  struct Entry {
    uint64_t phys;
    uint8_t old;
  };
  std::vector<Entry> entries;
  bool device = false;  // a data access reached MMIO
  void clear() {
    entries.clear();
    device = false;
  }
};

/// Every data access of one CPU takes the softmmu's slow path (all pages "watched"), which
/// tells this recorder of it before it happens; system helpers' stores come through
/// X86Cpu::StoreObserver. The reference's recorder also stops an MMIO access before it reaches
/// the device (the reference must never have side effects) and kicks its CPU.
class Recorder final : public tcg::softmmu::WatchpointChecker, public X86Cpu::StoreObserver {
 public:
  Recorder(X86Cpu& cpu, StoreLog& log, bool stop_devices)
      : cpu_(cpu), log_(log), stop_devices_(stop_devices) {}

  bool any_watchpoints() const override { return true; }
  bool page_watched(uint64_t vpage) const override {
    (void)vpage;
    return true;
  }
  bool watch_hit(uint64_t vaddr, unsigned size, bool write,
                 tcg::softmmu::WatchHit& hit) const override {
    uint64_t page = ~0ull, phys_page = 0;
    for (unsigned i = 0; i < size; ++i) {
      const uint64_t la = vaddr + i;
      if ((la & ~0xfffull) != page) {
        const X86Walk w = walk_page_tables(cpu_.state(), cpu_.memory(), la, AccessKind{}, false);
        if (!w.ok) return false;  // the access faults: nothing is stored
        page = la & ~0xfffull;
        phys_page = w.phys & ~0xfffull;
      }
      const uint64_t phys = phys_page | (la & 0xfff);
      const uint8_t* host = cpu_.memory().host_ptr(phys, 1);
      if (!host) {
        log_.device = true;
        if (stop_devices_) {
          hit.addr = la;
          cpu_.kick();
          return true;
        }
        continue;
      }
      if (write) log_.entries.push_back({phys, *host});
    }
    return false;
  }
  void before_store(uint64_t phys, unsigned len) override {
    for (unsigned i = 0; i < len; ++i)
      if (const uint8_t* host = cpu_.memory().host_ptr(phys + i, 1))
        log_.entries.push_back({phys + i, *host});
  }

 private:
  X86Cpu& cpu_;
  StoreLog& log_;
  bool stop_devices_;
};

/// The reference CPU's board: no interrupt controller answers, resets are the test's business.
class NoPlatform final : public X86Platform {
 public:
  int acknowledge_interrupt() override { return -1; }
};

using ByteMap = std::map<uint64_t, uint8_t>;

/// Most reference blocks run to catch up with one test block.
constexpr unsigned kMaxCatchUpBlocks = 4;
constexpr unsigned kMaxRefRuns = 1u << 20;

class VerifyVcpu final : public X86Vcpu {
 public:
  VerifyVcpu(const X86VcpuSpec& spec, Engine& test_engine, Engine& ref_engine,
             const VerifyOptions& opt)
      : opt_(opt),
        memory_(spec.memory),
        ref_engine_(ref_engine),
        test_engine_(test_engine),
        test_(spec.model, spec.index, spec.memory, spec.io_ports, test_engine, spec.platform),
        ref_(spec.model, spec.index, spec.memory, ref_io_, ref_engine, no_platform_),
        test_rec_(test_, test_log_, false),
        ref_rec_(ref_, ref_log_, true),
        start_(std::make_unique<X86State>()) {
    test_.frontend().set_injected_bug(opt.inject);
    for (X86Cpu* c : {&test_, &ref_}) c->exec().set_block_step(true);
    test_.mmu().set_watchpoints(&test_rec_);
    ref_.mmu().set_watchpoints(&ref_rec_);
    test_.set_store_observer(&test_rec_);
    ref_.set_store_observer(&ref_rec_);
  }

  ExitKind run() override {
    for (;;) {
      const Step r = step();
      if (r.diverged) report_and_exit(r);
      if (r.exit != ExitKind::Step) {
        exit_status_ = test_.exit_status();
        exit_message_ = test_.exit_message();
        return r.exit;
      }
    }
  }
  void kick() override {
    inputs_.fetch_add(1);
    test_.kick();
  }

  unsigned index() const override { return test_.index(); }
  void reset_power_on() override { test_.reset_power_on(); }
  void reset_multiboot(uint32_t entry, uint32_t eax, uint32_t ebx) override {
    test_.reset_multiboot(entry, eax, ebx);
  }
  void reset_long_mode(const LongModeEntry& e) override { test_.reset_long_mode(e); }
  void init_wait_for_sipi() override { test_.init_wait_for_sipi(); }
  void request_reset() override {
    inputs_.fetch_add(1);
    test_.request_reset();
  }
  void set_intr(bool level) override {
    inputs_.fetch_add(1);
    test_.set_intr(level);
  }
  void raise_nmi() override {
    inputs_.fetch_add(1);
    test_.raise_nmi();
  }
  void init_ipi() override {
    inputs_.fetch_add(1);
    test_.init_ipi();
  }
  void startup_ipi(uint8_t vector) override {
    inputs_.fetch_add(1);
    test_.startup_ipi(vector);
  }
  void set_local_apic(X86LocalApic* apic) override { test_.set_local_apic(apic); }
  void set_clock(const hw::Clock* clock) override {
    test_.set_clock(clock);
    ref_.set_clock(clock);
  }

 private:
  struct Step {
    ExitKind exit = ExitKind::Step;
    bool diverged = false;
    std::string why;  // the reference did something the test did not
    uint64_t start_pc = 0;
    ArchState ref, test;
    ByteMap original, ref_bytes, test_bytes;  // final bytes of each side's stores
  };

  uint8_t* host(uint64_t phys) const { return memory_.host_ptr(phys, 1); }
  void tell_engines(uint64_t phys) {
    test_engine_.guest_memory_written(phys, 1);
    ref_engine_.guest_memory_written(phys, 1);
  }

  /// One block (or instruction, when single-stepping) on both engines; see verify.h.
  Step step() {
    Step r;
    copy_arch_state(*start_, test_.state());
    copy_arch_state(ref_.state(), test_.state());
    ref_.mode_changed();
    r.start_pc = test_.pc();
    test_log_.clear();
    const uint64_t ev = test_.async_events(), ext = test_.external_inputs();
    const uint64_t in = inputs_.load();
    r.exit = test_.run();
    // A kick or interrupt line change from another thread may end the test's block early.
    if (r.exit != ExitKind::Step || inputs_.load() != in || test_.async_events() != ev ||
        test_.external_inputs() != ext || test_log_.device) {
      // Unchecked: the reference never saw this step's stores nor its mode changes.
      ++unchecked_;
      for (const StoreLog::Entry& e : test_log_.entries)
        ref_engine_.guest_memory_written(e.phys, 1);
      return r;
    }
    // An empty TLB for the reference (also after unchecked steps it never saw): its blocks
    // then end where an instruction runs onto a page not yet fetched, a prefix of the test's
    // block, and the reference runs on to where the test's block ended (below).
    ref_.flush_tlb_all();
    for (const StoreLog::Entry& e : test_log_.entries) r.original.emplace(e.phys, e.old);
    for (const auto& [p, v] : r.original) r.test_bytes[p] = *host(p);
    for (auto it = test_log_.entries.rbegin(); it != test_log_.entries.rend(); ++it)
      *host(it->phys) = it->old;
    r.test = arch_state_of(test_.state());

    ref_log_.clear();
    const uint64_t rev = ref_.async_events(), rext = ref_.external_inputs();
    // The reference's blocks end at the first page its TLB lacks (a prefix of the test's
    // block, or the whole): it runs on until it agrees with the test, for a few blocks.
    // A REP string instruction may stop after a chunk of its iterations on one engine and not
    // the other: runs that end where they began (the same instruction, continued) do not count.
    ExitKind rk = ExitKind::Step;
    for (unsigned n = 0, runs = 0; n < kMaxCatchUpBlocks && runs < kMaxRefRuns; ++runs) {
      const uint64_t before = ref_.pc();
      rk = ref_.run();
      if (ref_.pc() != before) ++n;
      for (const StoreLog::Entry& e : ref_log_.entries) r.original.emplace(e.phys, e.old);
      for (const StoreLog::Entry& e : ref_log_.entries) r.ref_bytes[e.phys] = *host(e.phys);
      r.ref = arch_state_of(ref_.state());
      if (rk != ExitKind::Step || ref_log_.device || ref_.async_events() != rev ||
          ref_.external_inputs() != rext)
        break;
      if (diff_arch_states(r.ref, r.test).empty() && memory_diffs(r).empty()) break;
    }
    // Memory as the test engine left it (the same bytes when the two agree).
    for (const auto& [p, v] : r.original) {
      auto t = r.test_bytes.find(p);
      const uint8_t want = t != r.test_bytes.end() ? t->second : v;
      if (*host(p) != want) {
        *host(p) = want;
        tell_engines(p);
      }
    }
    if (rk != ExitKind::Step) {
      r.why = "the reference stopped with " + std::string(exit_kind_name(rk));
    } else if (ref_log_.device) {
      r.why = "the reference accessed MMIO, the test engine did not";
    } else if (ref_.async_events() != rev || ref_.external_inputs() != rext) {
      r.why = "the reference took an external input (I/O port, TSC, APIC), the test did not";
    }
    r.diverged =
        !r.why.empty() || !diff_arch_states(r.ref, r.test).empty() || !memory_diffs(r).empty();
    if (!r.diverged) ++checked_;
    return r;
  }

  static std::vector<uint64_t> memory_diffs(const Step& r) {
    std::vector<uint64_t> out;
    for (const auto& [p, v] : r.original) {
      auto a = r.ref_bytes.find(p);
      auto b = r.test_bytes.find(p);
      const uint8_t x = a != r.ref_bytes.end() ? a->second : v;
      const uint8_t y = b != r.test_bytes.end() ? b->second : v;
      if (x != y) out.push_back(p);
    }
    return out;
  }

  /// Undoes the diverging block and re-runs it one instruction at a time, to name the
  /// instruction; then prints and exits.
  [[noreturn]] void report_and_exit(const Step& block) {
    for (const auto& [p, v] : block.original) {
      *host(p) = v;
      tell_engines(p);
    }
    copy_arch_state(test_.state(), *start_);
    test_.mode_changed();
    test_.exec().set_single_step(true);
    ref_.exec().set_single_step(true);
    const Step* found = &block;
    Step insn;
    for (unsigned i = 0; i < 64; ++i) {
      insn = step();
      if (insn.diverged) {
        found = &insn;
        break;
      }
      if (insn.exit != ExitKind::Step) break;
    }
    print(*found, found == &insn);
    std::fflush(stdout);
    std::fflush(stderr);
    std::_Exit(kVerifyDivergenceExit);
  }

  std::string disassemble(uint64_t pc, unsigned max_insns) {
    uint8_t bytes[64];
    size_t n = 0;
    for (; n < sizeof bytes; ++n) {
      uint64_t phys = 0;
      if (!ref_.debug_translate(pc + n, kMmuIdxKernelNoSmap, phys)) break;
      const uint8_t* h = host(phys);
      if (!h) break;
      bytes[n] = *h;
    }
    const SegmentCache& cs = start_->seg[kCs];
    cs_mode mode = CS_MODE_16;
    if ((start_->efer & efer::kLma) && (cs.attr & seg_attr::kL))
      mode = CS_MODE_64;
    else if (cs.attr & seg_attr::kDb)
      mode = CS_MODE_32;
    if (!(start_->cr0 & cr0::kPe)) mode = CS_MODE_16;
    csh h;
    if (cs_open(CS_ARCH_X86, mode, &h) != CS_ERR_OK) return "  (Capstone unavailable)\n";
    const uint64_t rip = pc - cs.base;
    cs_insn* insn = nullptr;
    const size_t count = cs_disasm(h, bytes, n, rip, max_insns, &insn);
    std::string out;
    for (size_t i = 0; i < count; ++i) {
      char line[256];
      std::snprintf(line, sizeof line, "  %04x:%#010" PRIx64 "  %s %s\n", cs.selector,
                    insn[i].address, insn[i].mnemonic, insn[i].op_str);
      out += line;
    }
    if (count) cs_free(insn, count);
    cs_close(&h);
    return out.empty() ? "  (cannot disassemble)\n" : out;
  }

  void print(const Step& r, bool one_insn) {
    const std::string ref_name = "interp";
    const std::string test_name(tier_name(opt_.test));
    const uint64_t rip = r.start_pc - start_->seg[kCs].base;
    std::string out = "orrery: verify: divergence on vCPU " + std::to_string(test_.index()) +
                      " after " + std::to_string(checked_) + " checked steps (" +
                      std::to_string(unchecked_) + " unchecked): the " +
                      (one_insn ? "instruction" : "block") + " at " + hex64(rip) + " (linear " +
                      hex64(r.start_pc) + ") gives different results on " + test_name + " and " +
                      ref_name + "\n";
    if (!one_insn)
      out += "(one instruction at a time they agree: the difference is in the compiled block)\n";
    out += one_insn ? "instruction:\n" : "block (first instructions):\n";
    out += disassemble(r.start_pc, one_insn ? 1 : 8);
    if (!r.why.empty()) out += r.why + "\n";
    out += "registers after it (* = differs):\n";
    out += format_arch_states(r.ref, r.test, ref_name, test_name);
    const std::vector<uint64_t> mem = memory_diffs(r);
    if (!mem.empty()) {
      out += "memory stored (physical address: " + ref_name + " " + test_name + "):\n";
      for (uint64_t p : mem) {
        auto a = r.ref_bytes.find(p);
        auto b = r.test_bytes.find(p);
        out += "* " + hex64(p) + ": " +
               (a != r.ref_bytes.end() ? hex64(a->second) : std::string("(not stored)")) + " " +
               (b != r.test_bytes.end() ? hex64(b->second) : std::string("(not stored)")) + "\n";
      }
    }
    std::fputs(out.c_str(), stderr);
  }

  const VerifyOptions opt_;
  hw::AddressSpace& memory_;
  Engine& ref_engine_;
  Engine& test_engine_;
  hw::AddressSpace ref_io_{"verify-ref-io", 0x10000};  // empty: the reference reaches no port
  NoPlatform no_platform_;
  X86Cpu test_;
  X86Cpu ref_;
  StoreLog test_log_, ref_log_;
  Recorder test_rec_, ref_rec_;
  std::unique_ptr<X86State> start_;  // the state before the current step
  uint64_t checked_ = 0, unchecked_ = 0;
  std::atomic<uint64_t> inputs_{0};  // kicks and inputs from other threads, for step()
};

/// Tells both engines of writes made outside the vCPUs (DMA, loaders).
class BothEngines final : public hw::GuestWriteObserver {
 public:
  BothEngines(Engine& a, Engine& b) : a_(a), b_(b) {}
  void guest_memory_written(uint64_t addr, uint64_t len) override {
    a_.guest_memory_written(addr, len);
    b_.guest_memory_written(addr, len);
  }

 private:
  Engine& a_;
  Engine& b_;
};

class VerifyAccelerator final : public X86Accelerator {
 public:
  VerifyAccelerator(const VerifyOptions& opt, const tcg::exec::EngineOptions& base, hw::Log& log)
      : opt_(opt),
        test_(test_options(opt, base), log),
        ref_(ref_options(base), log),
        observer_(test_, ref_) {}

  std::string init() {
    if (std::string e = test_.init(); !e.empty()) return e;
    return ref_.init();
  }

  std::string_view name() const override { return "verify"; }
  std::unique_ptr<X86Vcpu> create_vcpu(const X86VcpuSpec& spec, std::string& error) override {
    (void)error;
    return std::make_unique<VerifyVcpu>(spec, test_, ref_, opt_);
  }
  hw::GuestWriteObserver* write_observer() override { return &observer_; }
  void set_code_full_hook(std::function<void()> hook) override {
    test_.set_code_full_hook(std::move(hook));
  }
  void flush_code() override {
    test_.flush();
    ref_.flush();
  }

 private:
  static tcg::exec::EngineOptions test_options(const VerifyOptions& opt,
                                               tcg::exec::EngineOptions o) {
    o.tier = opt.test;
    o.regions = false;  // one block at a time: no multi-block regions
    return o;
  }
  static tcg::exec::EngineOptions ref_options(tcg::exec::EngineOptions o) {
    o.tier = Tier::Interp;
    return o;
  }

  VerifyOptions opt_;
  Engine test_, ref_;
  BothEngines observer_;
};

}  // namespace

std::string parse_verify_property(std::string_view key, std::string_view value, VerifyOptions& o) {
  if (key == "ref") {
    if (value != "interp" && value != "kvm")
      return "invalid ref '" + std::string(value) + "' (expected interp or kvm)";
    o.ref_kvm = value == "kvm";
    return {};
  }
  if (key == "test") {
    if (value == "interp")  // against KVM only (ui/options.cpp checks)
      o.test = Tier::Interp;
    else if (value == "baseline")
      o.test = Tier::Baseline;
    else if (value == "llvm")
      o.test = Tier::Llvm;
    else if (value == "auto")
      o.test = Tier::Auto;
    else
      return "invalid test '" + std::string(value) + "' (expected interp, baseline, llvm or auto)";
    return {};
  }
  if (key == "inject") {
    if (value == "adc-carry")
      o.inject = InjectedBug::kAdcCarry;
    else if (value == "none")
      o.inject = InjectedBug::kNone;
    else
      return "invalid inject '" + std::string(value) + "' (expected adc-carry or none)";
    return {};
  }
  return "unknown verify property '" + std::string(key) + "' (expected ref, test or inject)";
}

std::string verify_help_text() {
  return "verify          lockstep verification (pc machine): each block runs on the test\n"
         "                tier and on the interpreter from the same state; the first\n"
         "                difference is printed and Orrery exits with status 3; properties:\n"
         "                  ref=interp|kvm         the reference engine (kvm: compared at\n"
         "                                         every port-I/O and MMIO access)\n"
         "                  test=interp|baseline|llvm|auto\n"
         "                                         the engine under test (default baseline;\n"
         "                                         interp with ref=kvm)\n"
         "                  inject=adc-carry       a deliberate translator bug in the test\n"
         "                                         engine (to test the verifier)\n";
}

std::unique_ptr<X86Accelerator> make_verify_accelerator(const VerifyOptions& options,
                                                        const tcg::exec::EngineOptions& base,
                                                        hw::Log& log, std::string& error) {
  auto a = std::make_unique<VerifyAccelerator>(options, base, log);
  error = a->init();
  if (!error.empty()) return nullptr;
  return a;
}

}  // namespace orrery::cpu::x86
