#include "tests/unit/x86/harness.h"

#include <cpuid.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>

#include "cpu/x86/exception.h"
#include "cpu/x86/flags.h"
#include "tests/unit/tier_name.h"

namespace orrery::cpu::x86::test {

std::string tier_name(const ::testing::TestParamInfo<Tier>& info) {
  return tcg::test::tier_name(info);
}

std::string hex(uint64_t v) {
  char b[32];
  std::snprintf(b, sizeof b, "0x%llx", (unsigned long long)v);
  return b;
}

void expect_same_records(const std::vector<uint8_t>& want, const std::vector<uint8_t>& got,
                         const std::vector<uint8_t>& in, unsigned rec_size) {
  unsigned bad = 0;
  for (size_t i = 0; i < want.size() / rec_size && bad < 3; ++i) {
    const uint8_t* w = &want[i * rec_size];
    const uint8_t* g = &got[i * rec_size];
    if (std::memcmp(w, g, rec_size) == 0) continue;
    ++bad;
    std::string d, ins;
    for (unsigned q = 0; q < rec_size / 8; ++q) {
      uint64_t a, b, c;
      std::memcpy(&a, w + 8 * q, 8);
      std::memcpy(&b, g + 8 * q, 8);
      std::memcpy(&c, &in[i * rec_size + 8 * q], 8);
      if (a != b) d += " +" + hex(8 * q) + ": want " + hex(a) + " got " + hex(b) + "\n";
      ins += " " + hex(c);
    }
    ADD_FAILURE() << "record " << i << " inputs" << ins << "\n" << d;
  }
}

void X86Test::check_records(const RecordTest& t, const std::vector<std::string>& snippets) {
  HostRunner host;
  if (!host.ok()) GTEST_SKIP() << "cannot map the host runner's region";
  auto m = make(Mode::Long64);
  for (const std::string& sn : snippets) {
    SCOPED_TRACE(sn);
    const std::vector<uint8_t> code = assemble(t.program(sn), 64);
    ASSERT_FALSE(code.empty());
    const std::vector<uint8_t> in = t.records(std::hash<std::string>{}(sn));
    host.write_data(in.data(), in.size());
    host.run(code, Regs{});
    std::vector<uint8_t> want(host.data(), host.data() + in.size());

    m->load(code);
    if (t.setup) t.setup(*m);
    m->as.write_bytes(kHostData, in.data(), in.size());
    RunResult r = m->run();
    ASSERT_EQ(r.kind, RunResult::End) << r.message << " vector " << r.vector;
    std::vector<uint8_t> got(in.size());
    m->as.read_bytes(kHostData, got.data(), got.size());
    expect_same_records(want, got, in, t.rec_size);
  }
}

namespace {

uint64_t random_simd_qword(std::mt19937_64& g) {
  static const uint32_t kSpecialF[] = {0,          0x80000000, 0x7f800000, 0xff800000,
                                       0x7fc00000, 0x7fa00000, 0x00000001, 0x807fffff,
                                       0x3f800000, 0x4f000000, 0xcf000000, 0x7f7fffff};
  static const uint64_t kSpecialD[] = {
      0x7ff0000000000000ull, 0x7ff8000000000000ull, 0x7ff4000000000000ull, 0x0000000000000001ull,
      0x41e0000000000000ull, 0xc3e0000000000000ull, 0x3ff0000000000000ull, 0x8000000000000000ull};
  auto nice_f = [&] {
    float f = float(int(g() % 2001) - 1000) / float(1 + g() % 17);
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
  };
  switch (g() % 8) {
    case 0:
    case 1:
      return g();
    case 2:
      return uint64_t(nice_f()) << 32 | nice_f();
    case 3: {
      double d = double(int64_t(g() % 200001) - 100000) / double(1 + g() % 37) *
                 (g() % 4 == 0 ? 1e300 : 1.0);
      uint64_t u;
      std::memcpy(&u, &d, 8);
      return u;
    }
    case 4:
      return uint64_t(kSpecialF[g() % 12]) << 32 | kSpecialF[g() % 12];
    case 5:
      return kSpecialD[g() % 8];
    case 6:
      return g() & 0x00ff00ff00ff00ffull;  // small lanes for the integer ops
    default:
      return uint64_t(nice_f()) << 32 | kSpecialF[g() % 12];
  }
}

}  // namespace

std::vector<uint8_t> simd_records(uint64_t seed, unsigned rec_size, unsigned recs,
                                  unsigned vec_qwords) {
  std::mt19937_64 g(seed);
  std::vector<uint8_t> r(size_t(rec_size) * recs, 0);
  static const uint32_t kMxcsr[] = {0x1f80, 0x3f80, 0x5f80, 0x7f80, 0x9fc0, 0x1fc0, 0x9f80};
  const unsigned mxcsr = 8 * vec_qwords;
  for (unsigned i = 0; i < recs; ++i) {
    uint8_t* p = &r[size_t(i) * rec_size];
    for (unsigned q = 0; q < vec_qwords; ++q) {
      uint64_t v = random_simd_qword(g);
      std::memcpy(p + 8 * q, &v, 8);
    }
    std::memcpy(p + mxcsr, &kMxcsr[i % 7], 4);
    for (unsigned k = 0; k < 3; ++k) {
      uint64_t v = g() % 3 == 0 ? g() : uint64_t(int64_t(g() % 41) - 20);
      std::memcpy(p + mxcsr + 8 + 8 * k, &v, 8);
    }
  }
  return r;
}

bool host_has(unsigned leaf, unsigned sub, int reg, unsigned bit) {
  unsigned r[4] = {};
  if (!__get_cpuid_count(leaf, sub, &r[0], &r[1], &r[2], &r[3])) return false;
  return (r[reg] >> bit) & 1;
}

std::vector<uint8_t> assemble(const std::string& src, unsigned bits) {
  char dir[] = "/tmp/orrery_x86_asmXXXXXX";
  if (!mkdtemp(dir)) {
    ADD_FAILURE() << "mkdtemp failed";
    return {};
  }
  const std::string in = std::string(dir) + "/t.asm", out = std::string(dir) + "/t.bin",
                    err = std::string(dir) + "/t.err";
  {
    std::ofstream f(in);
    f << "bits " << bits << "\n" << src << "\n";
  }
  const std::string cmd = "nasm -f bin -o " + out + " " + in + " 2>" + err;
  const int rc = std::system(cmd.c_str());
  std::vector<uint8_t> bytes;
  if (rc != 0) {
    std::ifstream e(err);
    std::stringstream ss;
    ss << e.rdbuf();
    ADD_FAILURE() << "nasm failed on:\n" << src << "\n" << ss.str();
  } else {
    std::ifstream f(out, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(f), {});
  }
  std::remove(in.c_str());
  std::remove(out.c_str());
  std::remove(err.c_str());
  rmdir(dir);
  return bytes;
}

std::vector<std::vector<uint8_t>> assemble_many(const std::vector<std::string>& srcs,
                                                unsigned bits) {
  constexpr unsigned kSlot = 512;
  std::string all;
  for (size_t i = 0; i < srcs.size(); ++i) {
    const std::string l = "case" + std::to_string(i);
    all += l + ":\n" + srcs[i] + "\n" + l + "_end:\ntimes " + std::to_string(kSlot) + "-($-" + l +
           ") db 0\n";
  }
  for (size_t i = 0; i < srcs.size(); ++i)
    all += "dw case" + std::to_string(i) + "_end-case" + std::to_string(i) + "\n";
  std::vector<uint8_t> bytes = assemble(all, bits);
  std::vector<std::vector<uint8_t>> out;
  if (bytes.size() != srcs.size() * (kSlot + 2)) return out;
  for (size_t i = 0; i < srcs.size(); ++i) {
    const size_t at = srcs.size() * kSlot + 2 * i;
    const unsigned len = bytes[at] | bytes[at + 1] << 8;
    out.emplace_back(bytes.begin() + i * kSlot, bytes.begin() + i * kSlot + len);
  }
  return out;
}

Machine::Machine(Tier tier, Mode m) : mode(m) {
  std::string err = as.add_ram("low", 0, 0x100000);
  if (err.empty()) err = as.add_ram("host", kHostBase, 0x10000);
  if (!err.empty()) {
    init_error = "cannot add RAM: " + err;
    return;
  }
  tcg::exec::EngineOptions opt;
  opt.tier = tier;
  engine = std::make_unique<tcg::exec::Engine>(opt, log);
  init_error = engine->init();
  state_ = std::make_unique<X86State>();
  frontend = std::make_unique<X86Frontend>(log);
  mmu = std::make_unique<tcg::softmmu::Softmmu>(state_->common, as, *this);
  mmu->set_code_tracker(engine.get());
  as.set_write_observer(engine.get());
  exec = std::make_unique<tcg::exec::VcpuExec>(*engine, *frontend, state_->common, *mmu);
}

Machine::~Machine() {
  exec.reset();
  mmu.reset();
}

bool Machine::translate(uint64_t vaddr, tcg::softmmu::Access, unsigned,
                        tcg::softmmu::Translation& out) {
  const uint64_t page = vaddr & ~0xfffull;
  if (page == kEndAddr || page == kIdtAddr) {
    stop_ = page == kEndAddr ? Stop::End : Stop::Idt;
    stop_addr_ = vaddr;
    state_->common.pending_exit = uint32_t(tcg::PendingExit::Stop);
    state_->common.stop_message = "harness stop";
    return false;
  }
  out = tcg::softmmu::Translation{};
  out.phys = page;
  return true;
}

void Machine::raise_bus_error(uint64_t vaddr, uint64_t, tcg::softmmu::Access) {
  stop_ = Stop::Bus;
  stop_addr_ = vaddr;
  state_->common.pending_exit = uint32_t(tcg::PendingExit::Stop);
  state_->common.stop_message = "bus error";
}

void Machine::raise_alignment_fault(uint64_t vaddr, tcg::softmmu::Access access) {
  raise_bus_error(vaddr, 0, access);
}

void Machine::raise_required_alignment_fault(uint64_t, tcg::softmmu::Access) {
  raise_exception(*state_, vec::kGp, 0, state_->common.pc);
}

void Machine::load(const std::vector<uint8_t>& code, uint64_t at) {
  std::vector<uint8_t> bytes = code;
  // jmp rel32 (rel16 in 16-bit code) to kEndAddr.
  const uint64_t next = at + bytes.size() + (mode == Mode::Real16 ? 3 : 5);
  const int64_t rel = int64_t(kEndAddr) - int64_t(next);
  bytes.push_back(0xe9);
  for (unsigned i = 0; i < (mode == Mode::Real16 ? 2u : 4u); ++i)
    bytes.push_back(uint8_t(rel >> (8 * i)));
  as.write_bytes(at, bytes.data(), bytes.size());
  std::vector<uint8_t> zero(0x1000, 0);
  as.write_bytes(kDataAddr, zero.data(), zero.size());
  engine->flush();
  engine->forget_tier_history();  // a new program, not self-modifying code: tier=llvm compiles it

  X86State& s = *state_;
  const tcg::CpuCommon saved = {};
  (void)saved;
  for (uint64_t& r : s.gpr) r = 0;
  s.gpr[kRsp] = kStackTop;
  s.cc_op = uint32_t(CcOp::Eflags);
  s.eflags = eflags::kFixed1;
  s.pending_exception = -1;
  for (unsigned i = 0; i < kNumSegs; ++i) s.seg[i] = SegmentCache{};
  s.idtr.base = kIdtAddr;
  s.idtr.limit = 0xfff;
  switch (mode) {
    case Mode::Real16:
      s.cr0 = cr0::kEt;
      s.efer = 0;
      break;
    case Mode::Prot32:
      s.cr0 = cr0::kPe | cr0::kEt;
      s.efer = 0;
      for (unsigned i = 0; i < kNumSegRegs; ++i) {
        s.seg[i].attr = seg_attr::kP | seg_attr::kS | seg_attr::kDb | seg_attr::kG | 3 |
                        (i == kCs ? seg_attr::kCode | 0xa : 0);
        s.seg[i].limit = 0xffffffff;
      }
      break;
    case Mode::Long64:
      s.cr0 = cr0::kPe | cr0::kPg | cr0::kEt;
      s.cr4 = cr4::kPae;
      s.efer = efer::kLme | efer::kLma;
      for (unsigned i = 0; i < kNumSegRegs; ++i) {
        s.seg[i].attr = seg_attr::kP | seg_attr::kS | seg_attr::kDb | seg_attr::kG | 3;
        s.seg[i].limit = 0xffffffff;
      }
      s.seg[kCs].attr = seg_attr::kP | seg_attr::kS | seg_attr::kL | seg_attr::kG | 0xb;
      break;
  }
  s.common.pc = at;
  s.common.pending_exit = 0;
  stop_ = Stop::None;
  exec->mode_changed();
}

void Machine::restart(uint64_t at) {
  state_->common.pc = at;
  state_->common.pending_exit = 0;
  state_->gpr[kRsp] = kStackTop;
}

void Machine::load_asm(const std::string& src) {
  load(assemble(src, mode == Mode::Long64 ? 64 : mode == Mode::Prot32 ? 32 : 16));
}

RunResult Machine::run() {
  exec->mode_changed();
  stop_ = Stop::None;
  state_->pending_exception = -1;
  tcg::exec::RunResult r = exec->run();
  // An exit to the CPU loop with nothing delivered (POPF, STI: TF/IF may have changed) just
  // runs on, as X86Cpu's loop does.
  while (r.kind == tcg::exec::RunResult::Kind::Exit && r.reason == tcg::ir::ExitReason::Exception &&
         state_->pending_exception < 0 && stop_ == Stop::None) {
    exec->mode_changed();
    r = exec->run();
  }
  RunResult out;
  if (r.kind == tcg::exec::RunResult::Kind::Stop) {
    if (stop_ == Stop::End) {
      out.kind = RunResult::End;
      return out;
    }
    if (stop_ == Stop::Idt) {
      out.kind = RunResult::Exception;
      const unsigned entry = mode == Mode::Long64 ? 16 : mode == Mode::Prot32 ? 8 : 4;
      out.vector = int((stop_addr_ - kIdtAddr) / entry);
      return out;
    }
    if (state_->pending_exception >= 0) {
      out.kind = RunResult::Exception;
      out.vector = state_->pending_exception;
      return out;
    }
    out.message = state_->common.stop_message ? state_->common.stop_message : "stop";
    return out;
  }
  out.message = "run returned kind " + std::to_string(int(r.kind)) + " reason " +
                std::to_string(int(r.reason));
  return out;
}

void Machine::set_regs(const Regs& r) {
  for (unsigned i = 0; i < 16; ++i) state_->gpr[i] = r.gpr[i];
  set_eflags(*state_, r.flags, eflags::kArith | eflags::kDf);
}

Regs Machine::regs() const {
  Regs r;
  for (unsigned i = 0; i < 16; ++i) r.gpr[i] = state_->gpr[i];
  r.flags = compute_eflags(*state_);
  return r;
}

uint64_t Machine::eflags() const {
  return compute_eflags(*state_);
}

uint64_t Machine::read_mem(uint64_t addr, unsigned size) const {
  uint64_t v = 0;
  as.read_bytes(addr, &v, size);
  return v;
}

void Machine::write_mem(uint64_t addr, uint64_t v, unsigned size) {
  as.write_bytes(addr, &v, size);
}

// ---- Host runner ----

namespace {
constexpr uint64_t kIn = kHostBase + 0x8000, kOut = kHostBase + 0x8100,
                   kSaveRsp = kHostBase + 0x8200;
}

HostRunner::HostRunner() {
  void* p = mmap(reinterpret_cast<void*>(kHostBase), 0x10000, PROT_READ | PROT_WRITE | PROT_EXEC,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (p == reinterpret_cast<void*>(kHostBase)) base_ = static_cast<uint8_t*>(p);
}

HostRunner::~HostRunner() {
  if (base_) munmap(base_, 0x10000);
}

void HostRunner::write_data(const void* p, size_t n, size_t offset) {
  std::memcpy(base_ + (kHostData - kHostBase) + offset, p, n);
}

const uint8_t* HostRunner::data() const {
  return base_ + (kHostData - kHostBase);
}

void HostRunner::build_wrapper() {
  static const char* names[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                  "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
  std::string pre = "default abs\npush rbx\npush rbp\npush r12\npush r13\npush r14\npush r15\n";
  pre += "mov [" + hex(kSaveRsp) + "], rsp\nmov rsp, [" + hex(kIn + 8 * 4) + "]\n";
  pre += "push qword [" + hex(kIn + 8 * 16) + "]\npopfq\n";
  for (unsigned i = 0; i < 16; ++i)
    if (i != 4) pre += std::string("mov ") + names[i] + ", [" + hex(kIn + 8 * i) + "]\n";
  std::string post;
  for (unsigned i = 0; i < 16; ++i)
    post += std::string("mov [") + hex(kOut + 8 * i) + "], " + names[i] + "\n";
  post += "pushfq\npop qword [" + hex(kOut + 8 * 16) + "]\ncld\n";
  post += "mov rsp, [" + hex(kSaveRsp) +
          "]\npop r15\npop r14\npop r13\npop r12\npop rbp\n"
          "pop rbx\nret\n";
  prologue_ = assemble(pre, 64);
  epilogue_ = assemble(post, 64);
}

Regs HostRunner::run(const std::vector<uint8_t>& code, const Regs& in) {
  if (prologue_.empty()) build_wrapper();
  const std::vector<uint8_t>& a = prologue_;
  const std::vector<uint8_t>& b = epilogue_;
  std::vector<uint8_t> all = a;
  all.insert(all.end(), code.begin(), code.end());
  all.insert(all.end(), b.begin(), b.end());
  std::memcpy(base_, all.data(), all.size());
  __builtin___clear_cache(reinterpret_cast<char*>(base_),
                          reinterpret_cast<char*>(base_ + all.size()));
  uint64_t* inp = reinterpret_cast<uint64_t*>(base_ + (kIn - kHostBase));
  for (unsigned i = 0; i < 16; ++i) inp[i] = in.gpr[i];
  inp[4] = kHostStackTop;
  inp[16] = (in.flags & (eflags::kArith | eflags::kDf)) | eflags::kFixed1;
  reinterpret_cast<void (*)()>(base_)();
  const uint64_t* outp = reinterpret_cast<const uint64_t*>(base_ + (kOut - kHostBase));
  Regs r;
  for (unsigned i = 0; i < 16; ++i) r.gpr[i] = outp[i];
  r.flags = outp[16];
  return r;
}

}  // namespace orrery::cpu::x86::test
