// See unicorn_runner.h. x87 and SSE state go in and out through FXRSTOR/FXSAVE run inside
// Unicorn (its FP register write API is incomplete); the YMM upper halves through the YMM
// registers. The snippet ends at the first byte after it (Unicorn's `until` address).
#include "tests/fuzz/x86/unicorn_runner.h"

#include <capstone/capstone.h>
#include <unicorn/unicorn.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace orrery::tests::x86fuzz {
namespace {

constexpr uint64_t kStubAddr = 0x38000;  // FXRSTOR stub, then FXSAVE stub (runner-only page)
constexpr uint64_t kFxAddr = 0x39000;    // FXSAVE image
constexpr uint64_t kFxrstor = kStubAddr, kFxsave = kStubAddr + 0x10;

constexpr int kGprReg[16] = {UC_X86_REG_RAX, UC_X86_REG_RCX, UC_X86_REG_RDX, UC_X86_REG_RBX,
                             UC_X86_REG_RSP, UC_X86_REG_RBP, UC_X86_REG_RSI, UC_X86_REG_RDI,
                             UC_X86_REG_R8,  UC_X86_REG_R9,  UC_X86_REG_R10, UC_X86_REG_R11,
                             UC_X86_REG_R12, UC_X86_REG_R13, UC_X86_REG_R14, UC_X86_REG_R15};

void hook_intr(uc_engine* uc, uint32_t intno, void* user) {
  static_cast<UnicornRunner*>(user)->on_interrupt(intno);
  uc_emu_stop(uc);
}

// FXSAVE image offsets (SDM vol. 1, table 10-2).
constexpr size_t kFcw = 0, kFsw = 2, kFtw = 4, kMxcsr = 24, kMxcsrMask = 28, kSt = 32, kXmm = 160,
                 kFxSize = 512;

}  // namespace

namespace {

void hook_pcmpestr(uc_engine*, uint64_t address, uint32_t, void* user) {
  static_cast<UnicornRunner*>(user)->on_pcmpestr(address);
}

// Unicorn 2.0.1 takes the explicit lengths of PCMPESTRx as int(abs(EAX)) (RAX with REX.W),
// which is negative for INT_MIN (and, with REX.W, for every magnitude whose bit 31 is set),
// then reads out of bounds and crashes the process. Snippets that would do so are refused.
bool pcmpestr_crashes(uint64_t reg, bool rex_w) {
  int64_t v = rex_w ? int64_t(reg) : int64_t(int32_t(reg));
  uint64_t mag = v < 0 ? uint64_t(0) - uint64_t(v) : uint64_t(v);
  return int32_t(uint32_t(mag)) < 0;
}

// The PCMPESTRI/PCMPESTRM instructions of a snippet (Capstone decodes only snippets that
// contain their opcode bytes).
std::vector<std::pair<uint64_t, bool>> find_pcmpestr(std::span<const uint8_t> code) {
  std::vector<std::pair<uint64_t, bool>> out;
  bool maybe = false;
  for (size_t i = 0; i + 2 < code.size(); ++i)
    if (code[i] == 0x0f && code[i + 1] == 0x3a && (code[i + 2] & 0xfe) == 0x60) maybe = true;
  if (!maybe) return out;
  csh h;
  if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK) return out;
  cs_insn* insn = nullptr;
  size_t n = cs_disasm(h, code.data(), code.size(), layout::kCodeAddr, 0, &insn);
  for (size_t i = 0; i < n; ++i) {
    if (insn[i].id != X86_INS_PCMPESTRI && insn[i].id != X86_INS_PCMPESTRM) continue;
    bool rex_w = false;
    for (unsigned b = 0; b < insn[i].size && insn[i].bytes[b] != 0x0f; ++b)
      if ((insn[i].bytes[b] & 0xf8) == 0x48) rex_w = true;
    out.push_back({insn[i].address, rex_w});
  }
  cs_free(insn, n);
  cs_close(&h);
  return out;
}

}  // namespace

void UnicornRunner::on_interrupt(uint32_t intno) {
  pending_vector_ = int(intno);
}

void UnicornRunner::on_pcmpestr(uint64_t address) {
  auto it = std::find_if(pcmpestr_.begin(), pcmpestr_.end(),
                         [&](const auto& p) { return p.first == address; });
  if (it == pcmpestr_.end()) return;
  uint64_t rax = 0, rdx = 0;
  uc_reg_read(uc_, UC_X86_REG_RAX, &rax);
  uc_reg_read(uc_, UC_X86_REG_RDX, &rdx);
  if (pcmpestr_crashes(rax, it->second) || pcmpestr_crashes(rdx, it->second)) {
    refused_ = true;
    uc_emu_stop(uc_);
  }
}

UnicornRunner::~UnicornRunner() {
  if (uc_) uc_close(uc_);
}

std::unique_ptr<UnicornRunner> UnicornRunner::create(std::string& why) {
  std::unique_ptr<UnicornRunner> r(new UnicornRunner());
  if (!r->init(why)) return nullptr;
  return r;
}

bool UnicornRunner::init(std::string& why) {
  if (uc_) uc_close(uc_);
  uc_ = nullptr;
  uc_err e = uc_open(UC_ARCH_X86, UC_MODE_64, &uc_);
  if (e != UC_ERR_OK) {
    why = std::string("uc_open: ") + uc_strerror(e);
    uc_ = nullptr;
    return false;
  }
  // A model with SSE4.2, POPCNT, MOVBE, BMI1/2, ADX (what TCG implements of Broadwell).
  uc_ctl_set_cpu_model(uc_, UC_CPU_X86_BROADWELL);
  struct Region {
    uint64_t addr, size;
    uint32_t perms;
  };
  const Region regions[] = {
      {layout::kCodeAddr, layout::kCodeSize, UC_PROT_READ | UC_PROT_EXEC},
      {layout::kDataAddr, layout::kDataSize, UC_PROT_READ | UC_PROT_WRITE},
      {layout::kStackAddr, layout::kStackSize, UC_PROT_READ | UC_PROT_WRITE},
      {kStubAddr, 0x1000, UC_PROT_READ | UC_PROT_EXEC},
      {kFxAddr, 0x1000, UC_PROT_READ | UC_PROT_WRITE},
  };
  for (const Region& r : regions) {
    if ((e = uc_mem_map(uc_, r.addr, r.size, r.perms)) != UC_ERR_OK) {
      why = std::string("uc_mem_map: ") + uc_strerror(e);
      return false;
    }
  }
  // fxrstor64 [kFxAddr]; fxsave64 [kFxAddr]
  const uint8_t rstor[] = {0x48, 0x0f, 0xae, 0x0c, 0x25, 0, 0x90, 0x03, 0};
  const uint8_t save[] = {0x48, 0x0f, 0xae, 0x04, 0x25, 0, 0x90, 0x03, 0};
  uc_mem_write(uc_, kFxrstor, rstor, sizeof rstor);
  uc_mem_write(uc_, kFxsave, save, sizeof save);
  // FXSAVE/FXRSTOR move the XMM registers only with CR4.OSFXSR; SSE needs it too.
  uint64_t cr4 = 0;
  uc_reg_read(uc_, UC_X86_REG_CR4, &cr4);
  cr4 |= 0x600;  // OSFXSR OSXMMEXCPT
  uc_reg_write(uc_, UC_X86_REG_CR4, &cr4);
  uc_hook h;
  if ((e = uc_hook_add(uc_, &h, UC_HOOK_INTR, reinterpret_cast<void*>(&hook_intr), this, 1, 0)) !=
      UC_ERR_OK) {
    why = std::string("uc_hook_add: ") + uc_strerror(e);
    return false;
  }
  return true;
}

bool UnicornRunner::run(std::span<const uint8_t> code, X86UserState& state) {
  // After some runs stopped by a hook (a refused PCMPESTRx, a #DE), Unicorn 2.0.1 can stop
  // later snippets at a #UD or #DE without reporting anything. A fresh engine runs them
  // correctly, so such a run is retried once on a new engine.
  X86UserState initial = state;
  if (!run_once(code, state)) return false;
  if (state.fault.vector != X86Fault::kStoppedUnknown && state.fault.vector != X86Fault::kRefused)
    return true;
  std::string why;
  if (!init(why)) {
    error_ = "re-creating the Unicorn engine: " + why;
    return false;
  }
  ++resets_;
  if (state.fault.vector == X86Fault::kRefused) return true;
  state = initial;
  return run_once(code, state);
}

bool UnicornRunner::run_once(std::span<const uint8_t> code, X86UserState& state) {
  if (code.size() >= layout::kCodeSize) {
    error_ = "snippet too long";
    return false;
  }
  // The code page: snippet, then INT3s (never reached: emulation stops at the first one).
  uint8_t page[layout::kCodeSize];
  std::memset(page, 0xcc, sizeof page);
  std::memcpy(page, code.data(), code.size());
  uc_mem_write(uc_, layout::kCodeAddr, page, sizeof page);
  // Unicorn 2 does not invalidate translated blocks on uc_mem_write.
  uc_ctl_remove_cache(uc_, layout::kCodeAddr, layout::kCodeAddr + layout::kCodeSize);
  uc_mem_write(uc_, layout::kDataAddr, state.data.data(), layout::kDataSize);

  uint8_t fx[kFxSize] = {};
  std::memcpy(fx + kFcw, &state.fcw, 2);
  std::memcpy(fx + kFsw, &state.fsw, 2);
  fx[kFtw] = state.ftw;
  std::memcpy(fx + kMxcsr, &state.mxcsr, 4);
  uint32_t mask = 0xffff;
  std::memcpy(fx + kMxcsrMask, &mask, 4);
  for (unsigned i = 0; i < 8; ++i) {
    std::memcpy(fx + kSt + i * 16, &state.st[i].mantissa, 8);
    std::memcpy(fx + kSt + i * 16 + 8, &state.st[i].sign_exp, 2);
  }
  for (unsigned i = 0; i < 16; ++i) std::memcpy(fx + kXmm + i * 16, &state.ymm[i].q[0], 16);
  uc_mem_write(uc_, kFxAddr, fx, sizeof fx);
  uc_err e = uc_emu_start(uc_, kFxrstor, kFxrstor + 9, 0, 0);
  if (e != UC_ERR_OK) {
    error_ = std::string("fxrstor stub: ") + uc_strerror(e);
    return false;
  }
  for (unsigned i = 0; i < 16; ++i) {
    uint64_t y[4];
    uc_reg_read(uc_, UC_X86_REG_YMM0 + int(i), y);
    y[2] = state.ymm[i].q[2];
    y[3] = state.ymm[i].q[3];
    uc_reg_write(uc_, UC_X86_REG_YMM0 + int(i), y);
  }
  for (unsigned i = 0; i < 16; ++i) uc_reg_write(uc_, kGprReg[i], &state.gpr[i]);
  uint64_t rflags = (state.rflags & 0x0cd5) | 0x202;
  uc_reg_write(uc_, UC_X86_REG_RFLAGS, &rflags);

  pending_vector_ = -1;
  refused_ = false;
  uint64_t end = layout::kCodeAddr + code.size();
  pcmpestr_ = find_pcmpestr(code);
  std::vector<uc_hook> hooks;
  for (const auto& [addr, w] : pcmpestr_) {
    uc_hook h;
    if (uc_hook_add(uc_, &h, UC_HOOK_CODE, reinterpret_cast<void*>(&hook_pcmpestr), this, addr,
                    addr) == UC_ERR_OK)
      hooks.push_back(h);
  }
  e = uc_emu_start(uc_, layout::kCodeAddr, end, 0, 0);
  for (uc_hook h : hooks) uc_hook_del(uc_, h);
  state.fault = X86Fault{};
  for (unsigned i = 0; i < 16; ++i) uc_reg_read(uc_, kGprReg[i], &state.gpr[i]);
  uc_reg_read(uc_, UC_X86_REG_RIP, &state.rip);
  uc_reg_read(uc_, UC_X86_REG_RFLAGS, &state.rflags);
  if (refused_) {
    state.fault.vector = X86Fault::kRefused;
    return true;
  }
  switch (e) {
    case UC_ERR_OK:
      if (pending_vector_ >= 0)
        state.fault.vector = pending_vector_;
      else if (state.rip != end)
        state.fault.vector = X86Fault::kStoppedUnknown;
      break;
    case UC_ERR_INSN_INVALID:
      state.fault.vector = 6;
      break;
    case UC_ERR_READ_UNMAPPED:
    case UC_ERR_WRITE_UNMAPPED:
    case UC_ERR_FETCH_UNMAPPED:
    case UC_ERR_WRITE_PROT:
    case UC_ERR_READ_PROT:
    case UC_ERR_FETCH_PROT:
      state.fault.vector = 14;
      break;
    case UC_ERR_EXCEPTION:
      state.fault.vector = pending_vector_ >= 0 ? pending_vector_ : 13;
      break;
    default:
      error_ = std::string("uc_emu_start: ") + uc_strerror(e);
      return false;
  }

  for (unsigned i = 0; i < 16; ++i) {
    uint64_t y[4];
    uc_reg_read(uc_, UC_X86_REG_YMM0 + int(i), y);
    state.ymm[i].q[2] = y[2];
    state.ymm[i].q[3] = y[3];
  }
  uint64_t saved_rip = state.rip;
  e = uc_emu_start(uc_, kFxsave, kFxsave + 9, 0, 0);
  if (e != UC_ERR_OK) {
    error_ = std::string("fxsave stub: ") + uc_strerror(e);
    return false;
  }
  uc_mem_read(uc_, kFxAddr, fx, sizeof fx);
  std::memcpy(&state.fcw, fx + kFcw, 2);
  std::memcpy(&state.fsw, fx + kFsw, 2);
  state.ftw = fx[kFtw];
  std::memcpy(&state.mxcsr, fx + kMxcsr, 4);
  for (unsigned i = 0; i < 8; ++i) {
    std::memcpy(&state.st[i].mantissa, fx + kSt + i * 16, 8);
    std::memcpy(&state.st[i].sign_exp, fx + kSt + i * 16 + 8, 2);
  }
  for (unsigned i = 0; i < 16; ++i) std::memcpy(&state.ymm[i].q[0], fx + kXmm + i * 16, 16);
  state.rip = saved_rip;
  uc_mem_read(uc_, layout::kDataAddr, state.data.data(), layout::kDataSize);
  return true;
}

}  // namespace orrery::tests::x86fuzz
