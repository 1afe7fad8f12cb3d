// See orrery_runner.h. Physical memory is the KVM oracle's: system structures below the user
// pages, identity-mapped, supervisor-only; the user code page read-only.
#include "tests/fuzz/x86/orrery_runner.h"

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "cpu/x86/cpu.h"
#include "cpu/x86/cpu_models.h"
#include "cpu/x86/flags.h"
#include "hw/core/address_space.h"
#include "hw/core/log.h"

namespace orrery::tests::x86fuzz {

namespace x86 = cpu::x86;
using cpu::ExitKind;
using tcg::exec::Tier;

namespace {

constexpr uint64_t kPml4 = 0x1000, kPdpt = 0x2000, kPd = 0x3000, kPt = 0x4000;
constexpr uint64_t kGdt = 0x5000, kTss = 0x5800, kIdt = 0x6000;
constexpr uint64_t kHandlers = 0x7000;  // vector v: `out kFaultPort, al; jmp $` at +4v
constexpr uint64_t kHandlerSize = 4;
constexpr uint64_t kKernelStackTop = 0x9000;
constexpr uint64_t kMemSize = 0x40000;
constexpr uint16_t kEndPort = 0x80, kFaultPort = 0x81;
constexpr uint16_t kKernelCs = 0x08, kUserDs = 0x1b, kUserCs = 0x23, kTssSel = 0x28;
constexpr uint32_t kTssLimit = 0x68 + kEndPort / 8 + 1;
constexpr uint64_t kPteP = 1, kPteW = 2, kPteU = 4;
// The end of a snippet: out kEndPort, al; jmp $.
constexpr uint8_t kEndStub[] = {0xe6, uint8_t(kEndPort), 0xeb, 0xfe};
// Invalidated translations are reclaimed by a full flush this often.
constexpr uint64_t kFlushEvery = 4096;
// A run longer than this is an Orrery hang (snippets only branch forward).
constexpr auto kWatchdog = std::chrono::seconds(5);

const char* tier_suffix(Tier t) {
  switch (t) {
    case Tier::Interp:
      return "-interp";
    case Tier::Baseline:
      return "-baseline";
    case Tier::Llvm:
      return "-llvm";
    case Tier::Auto:
      break;
  }
  return "";
}

uint64_t now_ns() {
  return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::steady_clock::now().time_since_epoch())
                      .count());
}

}  // namespace

// The end and fault ports: remember which was written, and stop the vCPU.
class PortDevice : public hw::MmioDevice {
 public:
  hw::MemResult read(uint64_t, unsigned, uint64_t& v) override {
    v = 0;
    return hw::MemResult::Ok;
  }
  hw::MemResult write(uint64_t offset, unsigned, uint64_t) override {
    port = int(kEndPort + offset);
    cpu->kick();
    return hw::MemResult::Ok;
  }
  x86::X86Cpu* cpu = nullptr;
  int port = -1;
};

struct OrreryRunner::Machine : x86::X86Platform {
  int acknowledge_interrupt() override { return -1; }

  hw::Log log;
  hw::AddressSpace memory, io;
  PortDevice ports;
  std::unique_ptr<tcg::exec::Engine> engine;
  std::unique_ptr<x86::X86Cpu> cpu;
  x86::SegmentCache segs[x86::kNumSegs];  // the CPL3 segment state every run starts from
  uint64_t code_written = 0;              // bytes of the code page the last snippet used

  // The watchdog kicks a run that takes longer than kWatchdog.
  std::mutex mu;
  std::condition_variable cv;
  bool active = false, quit = false, fired = false;
  std::chrono::steady_clock::time_point started;
  std::thread watchdog;

  ~Machine() override {
    if (watchdog.joinable()) {
      {
        std::lock_guard lk(mu);
        quit = true;
      }
      cv.notify_all();
      watchdog.join();
    }
  }
  void watch() {
    std::unique_lock lk(mu);
    while (!quit) {
      cv.wait_for(lk, std::chrono::milliseconds(100));
      if (active && !fired && std::chrono::steady_clock::now() - started > kWatchdog) {
        fired = true;
        cpu->kick();
      }
    }
  }
  void put64(uint64_t pa, uint64_t v) { memory.write_bytes(pa, &v, 8); }
  uint64_t get64(uint64_t pa) const {
    uint64_t v = 0;
    memory.read_bytes(pa, &v, 8);
    return v;
  }
};

OrreryRunner::OrreryRunner(Tier tier) : tier_(tier) {}
OrreryRunner::~OrreryRunner() = default;

std::string OrreryRunner::name() const {
  return std::string("orrery") + tier_suffix(tier_);
}

std::unique_ptr<OrreryRunner> OrreryRunner::create(Tier tier, std::string& why) {
  std::unique_ptr<OrreryRunner> r(new OrreryRunner(tier));
  if (!r->init(why)) return nullptr;
  return r;
}

std::unique_ptr<OrreryRunner> make_orrery_runner(const std::string& target, std::string& why) {
  for (Tier t : {Tier::Auto, Tier::Interp, Tier::Baseline, Tier::Llvm})
    if (target == std::string("orrery") + tier_suffix(t)) return OrreryRunner::create(t, why);
  why = "not an Orrery target (orrery, orrery-interp, orrery-baseline, orrery-llvm)";
  return nullptr;
}

bool OrreryRunner::init(std::string& why) {
  m_ = std::make_unique<Machine>();
  Machine& m = *m_;
  why = m.memory.add_ram("ram", 0, kMemSize);
  if (why.empty()) why = m.io.add_mmio("fuzz-ports", kEndPort, 2, m.ports);
  if (!why.empty()) return false;
  tcg::exec::EngineOptions opt;
  opt.tier = tier_;
  m.engine = std::make_unique<tcg::exec::Engine>(opt, m.log);
  why = m.engine->init();
  if (!why.empty()) return false;
  m.memory.set_write_observer(m.engine.get());
  const x86::CpuModel* model = x86::find_cpu_model("max");
  if (!model) {
    why = "no x86 CPU model 'max'";
    return false;
  }
  m.cpu = std::make_unique<x86::X86Cpu>(*model, 0, m.memory, m.io, *m.engine, m);
  m.ports.cpu = m.cpu.get();

  // Page tables: the first 2 MiB in 4 KiB pages; system pages supervisor-only.
  m.put64(kPml4, kPdpt | kPteP | kPteW | kPteU);
  m.put64(kPdpt, kPd | kPteP | kPteW | kPteU);
  m.put64(kPd, kPt | kPteP | kPteW | kPteU);
  for (uint64_t a = 0; a < 0x10000; a += 0x1000) m.put64(kPt + (a >> 12) * 8, a | kPteP | kPteW);
  auto map_user = [&](uint64_t base, uint64_t size, uint64_t flags) {
    for (uint64_t a = base; a < base + size; a += 0x1000)
      m.put64(kPt + (a >> 12) * 8, a | kPteP | kPteU | flags);
  };
  map_user(layout::kCodeAddr, layout::kCodeSize, 0);  // read-only for the snippet
  map_user(layout::kDataAddr, layout::kDataSize, kPteW);
  map_user(layout::kStackAddr, layout::kStackSize, kPteW);

  // GDT: null, kernel code, kernel data, user data, user code (64-bit), TSS.
  m.put64(kGdt + 0x00, 0);
  m.put64(kGdt + 0x08, 0x00209b0000000000ull);
  m.put64(kGdt + 0x10, 0x00cf93000000ffffull);
  m.put64(kGdt + 0x18, 0x00cff3000000ffffull);
  m.put64(kGdt + 0x20, 0x0020fb0000000000ull);
  m.put64(kGdt + 0x28, 0x67 | ((kTss & 0xffffff) << 16) | (0x89ull << 40) | ((kTss >> 24) << 56));
  m.put64(kGdt + 0x30, kTss >> 32);
  // TSS: RSP0; the I/O bitmap opens kEndPort only.
  m.put64(kTss + 4, kKernelStackTop);
  const uint16_t iomap = 0x68;
  m.memory.write_bytes(kTss + 0x66, &iomap, 2);
  std::vector<uint8_t> bitmap(kEndPort / 8 + 2, 0xff);
  bitmap[kEndPort / 8] &= uint8_t(~(1u << (kEndPort % 8)));
  m.memory.write_bytes(kTss + 0x68, bitmap.data(), bitmap.size());
  // IDT: 64-bit interrupt gates, DPL 0, each to its own stub.
  for (unsigned v = 0; v < 256; ++v) {
    const uint64_t h = kHandlers + kHandlerSize * v;
    m.put64(kIdt + v * 16, (h & 0xffff) | (uint64_t(kKernelCs) << 16) | (0x8eull << 40) |
                               ((h >> 16 & 0xffff) << 48));
    m.put64(kIdt + v * 16 + 8, h >> 32);
    const uint8_t stub[kHandlerSize] = {0xe6, uint8_t(kFaultPort), 0xeb, 0xfe};
    m.memory.write_bytes(h, stub, sizeof stub);
  }

  // The system state (as the KVM oracle's KVM_SET_SREGS), kept for every run.
  x86::X86State& s = m.cpu->state();
  s.cr0 = 0x80050033;  // PG AM WP NE ET MP PE
  s.cr3 = kPml4;
  s.cr4 = x86::cr4::kOsxsave | x86::cr4::kOsxmmexcpt | x86::cr4::kOsfxsr | x86::cr4::kPae;
  s.efer = x86::efer::kLma | x86::efer::kLme;
  s.xcr0 = 7 & model->xcr0_supported;
  s.gdtr = {kGdt, 0x37};
  s.idtr = {kIdt, 0xfff};
  namespace sa = x86::seg_attr;
  const uint16_t user = uint16_t(3u << sa::kDplShift) | sa::kP | sa::kS | sa::kG;
  for (unsigned r = 0; r < x86::kNumSegRegs; ++r)
    m.segs[r] = {kUserDs, uint16_t(user | 0x3 | sa::kDb), 0xffffffff, 0};
  m.segs[x86::kCs] = {kUserCs, uint16_t(user | 0xb | sa::kL), 0xffffffff, 0};
  m.segs[x86::kLdtr] = {0, 0x2, 0, 0};
  m.segs[x86::kTr] = {kTssSel, uint16_t(sa::kP | 0xb), kTssLimit, kTss};
  m.watchdog = std::thread([&m] { m.watch(); });
  return true;
}

bool OrreryRunner::run(std::span<const uint8_t> code, X86UserState& state) {
  if (code.size() + sizeof kEndStub > layout::kCodeSize) {
    error_ = "snippet too long";
    return false;
  }
  const uint64_t t0 = now_ns();
  Machine& m = *m_;
  if (runs_ && runs_ % kFlushEvery == 0) m.engine->flush();

  // The code page through the guest-memory API: the engine drops its translations.
  std::vector<uint8_t> page(std::max<uint64_t>(m.code_written, code.size() + sizeof kEndStub),
                            0xcc);
  std::memcpy(page.data(), code.data(), code.size());
  std::memcpy(page.data() + code.size(), kEndStub, sizeof kEndStub);
  m.memory.write_bytes(layout::kCodeAddr, page.data(), page.size());
  m.code_written = code.size() + sizeof kEndStub;
  m.memory.write_bytes(layout::kDataAddr, state.data.data(), layout::kDataSize);
  const uint64_t end = layout::kCodeAddr + code.size();

  // The user state, straight into X86State.
  x86::X86State& s = m.cpu->state();
  for (unsigned i = 0; i < x86::kNumSegs; ++i) s.seg[i] = m.segs[i];
  for (unsigned i = 0; i < 16; ++i) s.gpr[i] = state.gpr[i];
  s.eflags = x86::eflags::kFixed1;
  s.cc_op = uint32_t(x86::CcOp::Eflags);
  x86::set_eflags(s, (state.rflags & 0x40cd5) | 0x202, ~0ull);
  s.x87.fcw = state.fcw;
  s.x87.top = uint8_t((state.fsw >> 11) & 7);
  s.x87.fsw = uint16_t(state.fsw & ~0x3800);
  s.x87.ftw = state.ftw;
  for (unsigned i = 0; i < 8; ++i) {
    x86::F80& r = s.x87.st[(s.x87.top + i) & 7];
    r.mant = state.st[i].mantissa;
    r.sign_exp = state.st[i].sign_exp;
  }
  s.mxcsr = state.mxcsr;
  for (unsigned i = 0; i < 16; ++i)
    for (unsigned q = 0; q < 4; ++q) s.ymm[i].q[q] = state.ymm[i].q[q];
  s.pending_exception = -1;
  s.inhibit_irq = s.nmi_blocked = s.halted = 0;
  s.common.pending_exit = 0;
  m.cpu->set_rip(layout::kCodeAddr);
  m.cpu->mode_changed();

  m.ports.port = -1;
  {
    std::lock_guard lk(m.mu);
    m.active = true;
    m.fired = false;
    m.started = std::chrono::steady_clock::now();
  }
  ExitKind k;
  for (;;) {
    k = m.cpu->run();
    if (k != ExitKind::Kicked || m.ports.port >= 0) break;
    // A watchdog kick left over from a finished run returns at once: run again.
    std::lock_guard lk(m.mu);
    if (m.fired) break;
  }
  {
    std::lock_guard lk(m.mu);
    m.active = false;
  }

  for (unsigned i = 0; i < 16; ++i) state.gpr[i] = s.gpr[i];
  state.rflags = x86::compute_eflags(s);
  state.fault = X86Fault{};
  const uint64_t rip = m.cpu->rip();
  const bool in_handlers = rip >= kHandlers && rip < kHandlers + 256 * kHandlerSize;
  if (k == ExitKind::Kicked && m.ports.port == kEndPort && !in_handlers) {
    state.rip = end;
  } else if (k == ExitKind::Kicked && m.ports.port == kFaultPort && in_handlers) {
    const unsigned v = unsigned((rip - kHandlers) / kHandlerSize);
    state.fault.vector = int(v);
    uint64_t sp = s.gpr[x86::kRsp];
    if (sp < kKernelStackTop - 48 || sp > kKernelStackTop - 40) {
      error_ = "unexpected kernel stack pointer after exception " + std::to_string(v);
      return false;
    }
    if (x86::has_error_code(v)) {
      state.fault.has_error_code = true;
      state.fault.error_code = uint32_t(m.get64(sp));
      sp += 8;
    }
    state.rip = m.get64(sp);
    state.rflags = m.get64(sp + 16);
    state.gpr[x86::kRsp] = m.get64(sp + 24);
  } else {
    // A hang, a triple fault or a vCPU stop: Orrery's bug, reported as a mismatch.
    ++stuck_;
    state.fault.vector = X86Fault::kStoppedUnknown;
    state.rip = rip;
  }
  state.fsw = uint16_t((s.x87.fsw & ~0x3800) | (s.x87.top & 7) << 11);
  state.fcw = s.x87.fcw;
  state.ftw = s.x87.ftw;
  for (unsigned i = 0; i < 8; ++i) {
    const x86::F80& r = s.x87.st[(s.x87.top + i) & 7];
    state.st[i] = {r.mant, r.sign_exp};
  }
  state.mxcsr = s.mxcsr;
  for (unsigned i = 0; i < 16; ++i)
    for (unsigned q = 0; q < 4; ++q) state.ymm[i].q[q] = s.ymm[i].q[q];
  m.memory.read_bytes(layout::kDataAddr, state.data.data(), layout::kDataSize);

  ++runs_;
  run_ns_ += now_ns() - t0;
  return true;
}

}  // namespace orrery::tests::x86fuzz
