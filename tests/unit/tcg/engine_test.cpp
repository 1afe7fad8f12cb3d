// The dispatcher with a toy variable-length guest (byte-aligned PCs, instructions of 1 to 5
// bytes that may cross a page): block keys with a code-segment base, blocks spanning two pages,
// fetch faults on the second page, and precise self-modifying code, in every tier.
#include <gtest/gtest.h>

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <string_view>
#include <thread>

#include "hw/core/address_space.h"
#include "hw/core/log.h"
#include "tcg/baseline/baseline.h"
#include "tcg/exec/engine.h"
#include "tcg/ir/emitter.h"
#include "tests/unit/tier_name.h"

namespace orrery::tcg {
namespace {

using exec::Tier;
using ir::Emitter;
using ir::Type;
using softmmu::kPageSize;

struct ToyState {
  CpuCommon common;
  uint64_t r[2] = {};
  uint64_t cs = 0;  // the code-segment base (ToyFrontend::cs_base)
};
constexpr uint32_t reg(unsigned i) {
  return uint32_t(offsetof(ToyState, r) + 8 * i);
}

// The toy ISA. Every instruction's length follows from its first byte.
enum ToyOp : uint8_t {
  kHalt = 0x00,    // 1 byte: exit to the board (ExitReason::Hypercall)
  kAddI = 0x01,    // 2 bytes: r0 += imm8
  kMovI = 0x02,    // 5 bytes: r0 = imm32
  kStore = 0x03,   // 5 bytes: [imm32] = low byte of r1
  kNop = 0x04,     // 1 byte
  kIp = 0x05,      // 1 byte: r0 = pc - cs base (an x86-style IP: depends on the CS base)
  kLoop = 0x06,    // 1 byte: r0 += 1, r1 -= 1; back to the block's start while r1 != 0
  kCall = 0x07,    // 1 byte: r0 = r0 * 3 + 1 in a helper
  kReq = 0x08,     // 1 byte: a helper sets exit_request when r1 == 5 (another thread's request)
  kPc = 0x09,      // 1 byte: r0 = its own pc (an AArch64 ADR: a PC-relative value)
  kLoopTo = 0x0a,  // 3 bytes: r0 += 1, r1 -= 1; to address imm16 while r1 != 0
};

uint64_t toy_helper(CpuCommon*, uint64_t a, uint64_t, uint64_t) {
  return a * 3 + 1;
}
constexpr ir::Helper kToyHelper{"toy_mul3_add1", toy_helper};
uint64_t toy_request(CpuCommon* cpu, uint64_t r1, uint64_t, uint64_t) {
  if (r1 == 5) cpu->exit_request.store(1);
  return 0;
}
constexpr ir::Helper kToyRequest{"toy_request_exit", toy_request};
unsigned toy_length(uint8_t op) {
  switch (op) {
    case kAddI:
      return 2;
    case kMovI:
    case kStore:
      return 5;
    case kLoopTo:
      return 3;
    default:
      return 1;
  }
}

class ToyFrontend : public exec::Frontend {
 public:
  void translate(CpuCommon& cpu, const exec::CodeReader& code, const exec::TranslateOptions& opt,
                 ir::Block& b) override {
    // Another thread's exit request landing after run()'s check, before the block's entry.
    if (request_exit_on_translate) cpu.exit_request.store(1);
    ++translations;
    Emitter e(b);
    const uint64_t cs = reinterpret_cast<ToyState&>(cpu).cs;
    uint64_t pc = b.guest_pc;
    for (unsigned n = 0;; ++n) {
      if (n == opt.max_insns) {
        e.jump(pc);
        break;
      }
      uint8_t bytes[5] = {};
      size_t got = code.copy(pc, bytes, 5);
      const unsigned len = got ? toy_length(bytes[0]) : 5;
      if (got < len && (code.extend(), got = code.copy(pc, bytes, 5)) < len) {
        // Cannot read the whole instruction: end the block before it, or report the fetch fault
        // when it is the first (the CodeReader protocol).
        if (n == 0)
          e.exit(ir::ExitReason::FetchFault, pc);
        else
          e.jump(pc);
        break;
      }
      uint32_t imm = 0;
      std::memcpy(&imm, bytes + 1, len > 1 ? len - 1 : 0);
      e.insn_start(pc);
      const uint64_t next = pc + len;
      bool done = false;
      switch (bytes[0]) {
        case kHalt:
          e.exit(ir::ExitReason::Hypercall, next);
          done = true;
          break;
        case kAddI:
          e.set_reg(reg(0), e.add(e.get_reg(Type::I64, reg(0)), e.c64(imm & 0xff)));
          break;
        case kMovI:
          e.set_reg(reg(0), e.c64(imm));
          break;
        case kStore:
          e.store(e.c64(imm), e.trunc(Type::I8, e.get_reg(Type::I64, reg(1))), ir::MemOp{});
          break;
        case kNop:
          break;
        case kCall:
          e.set_reg(reg(0), e.call(kToyHelper, {e.get_reg(Type::I64, reg(0))}));
          break;
        case kIp:
          e.set_reg(reg(0), e.c64(pc - cs));
          break;
        case kReq:
          e.call(kToyRequest, {e.get_reg(Type::I64, reg(1))});
          break;
        case kPc:
          e.set_reg(reg(0), e.pc_rel(pc));
          break;
        case kLoop:
        case kLoopTo: {
          e.set_reg(reg(0), e.add(e.get_reg(Type::I64, reg(0)), e.c64(1)));
          const ir::Value r1 = e.sub(e.get_reg(Type::I64, reg(1)), e.c64(1));
          e.set_reg(reg(1), r1);
          const uint64_t to = bytes[0] == kLoop ? b.guest_pc : imm & 0xffff;
          e.branch(e.xor_(e.cmp(ir::Cond::Eq, r1, e.c64(0)), e.c1(true)), to, next);
          done = true;
          break;
        }
        default:
          e.exit(ir::ExitReason::Undefined, pc, bytes[0]);
          done = true;
          break;
      }
      pc = next;
      if (done) break;
    }
    b.guest_size = uint32_t(pc - b.guest_pc);
    b.pc_relative = pc_relative;  // kIp's CS base aside, every PC-derived value is relative
  }
  unsigned fetch_mmu_idx(const CpuCommon&) const override { return 0; }
  uint64_t compute_tb_flags(const CpuCommon&) const override { return 0; }
  bool request_exit_on_translate = false;
  bool pc_relative = false;  // mark blocks ir::Block::pc_relative
  int translations = 0;      // blocks the frontend translated
  uint64_t cs_base(const CpuCommon& cpu) const override {
    return reinterpret_cast<const ToyState&>(cpu).cs;
  }
};

constexpr uint64_t kRam = 0x100000, kRamSize = 0x10000;
constexpr uint64_t kHandler = 0x8000;  // virtual; where a fault "vectors" to (a kHalt)

/// Maps virtual pages to RAM pages, with execute permission per page. A fault records its
/// address and the PC it reports and continues at kHandler.
class ToyMmu : public softmmu::PageTranslator {
 public:
  explicit ToyMmu(CpuCommon& c) : cpu(c) {}
  bool translate(uint64_t vaddr, softmmu::Access a, unsigned, softmmu::Translation& out) override {
    ++walks;
    const Page* p = nullptr;
    if (auto it = asid_map.find({asid, vaddr & softmmu::kPageMask}); it != asid_map.end())
      p = &it->second;
    else if (auto m = map.find(vaddr & softmmu::kPageMask); m != map.end())
      p = &m->second;
    if (!p || (a == softmmu::Access::Fetch && !p->exec)) {
      raise(vaddr);
      return false;
    }
    out.phys = p->phys | (vaddr & ~softmmu::kPageMask);
    out.executable = p->exec;
    out.global = p->global;
    out.asid = asid;
    return true;
  }
  bool debug_translate(uint64_t vaddr, unsigned, uint64_t& phys) override {
    auto it = map.find(vaddr & softmmu::kPageMask);
    if (it == map.end()) return false;
    phys = it->second.phys | (vaddr & ~softmmu::kPageMask);
    return true;
  }
  void raise_bus_error(uint64_t vaddr, uint64_t, softmmu::Access) override { raise(vaddr); }
  void raise_alignment_fault(uint64_t vaddr, softmmu::Access) override { raise(vaddr); }
  void raise(uint64_t vaddr) {
    ++faults;
    fault_addr = vaddr;
    fault_pc = cpu.pc;  // the softmmu sets it to the faulting instruction's PC
    cpu.pc = kHandler;
    cpu.pending_exit = uint32_t(PendingExit::Exception);
  }
  struct Page {
    uint64_t phys;
    bool exec;
    bool global = true;
  };
  CpuCommon& cpu;
  std::map<uint64_t, Page> map;
  // Pages of one address space (non-global), looked up first: {asid, virtual page}.
  std::map<std::pair<uint16_t, uint64_t>, Page> asid_map;
  uint16_t asid = 0;
  int walks = 0;
  int faults = 0;
  uint64_t fault_addr = 0, fault_pc = 0;
};

class EngineTest : public ::testing::TestWithParam<Tier> {
 protected:
  void SetUp() override {
    ASSERT_EQ(as.add_ram("ram", kRam, kRamSize), "");
    // Virtual page i maps to RAM page i (0x0000.. -> kRam..), all executable.
    for (uint64_t v = 0; v < kRamSize; v += kPageSize) mmu_map.map[v] = {kRam + v, true};
    exec::EngineOptions opt;
    opt.tier = GetParam();
    engine = std::make_unique<exec::Engine>(opt, log);
    const std::string err = engine->init();
    if (!err.empty()) GTEST_SKIP() << err;
    vcpu = std::make_unique<exec::VcpuExec>(*engine, frontend, st.common, mmu);
    poke(kHandler, {kHalt});
  }
  void TearDown() override {
    vcpu.reset();
    engine.reset();
  }
  /// restart_engine, with the old engine gone first: its pack is saved before the new one
  /// lists the directory.
  void next_engine(const exec::EngineOptions& opt) {
    vcpu.reset();
    engine.reset();
    restart_engine(opt);
  }
  void restart_engine(const exec::EngineOptions& opt) {
    vcpu.reset();
    engine = std::make_unique<exec::Engine>(opt, log);
    ASSERT_EQ(engine->init(), "");
    // The packs are indexed in the background: these tests count hits from the first block.
    if (exec::TranslationCache* tc = engine->translation_cache()) tc->wait_loaded();
    vcpu = std::make_unique<exec::VcpuExec>(*engine, frontend, st.common, mmu);
  }
  void poke(uint64_t vaddr, std::initializer_list<uint8_t> bytes) {
    std::vector<uint8_t> v(bytes);
    ASSERT_TRUE(mmu.debug_access(vaddr, 0, v.data(), v.size(), true));
  }
  static std::vector<uint8_t> mov(uint32_t imm) {
    return {kMovI, uint8_t(imm), uint8_t(imm >> 8), uint8_t(imm >> 16), uint8_t(imm >> 24)};
  }
  void poke(uint64_t vaddr, const std::vector<uint8_t>& v) {
    std::vector<uint8_t> copy(v);
    ASSERT_TRUE(mmu.debug_access(vaddr, 0, copy.data(), copy.size(), true));
  }
  /// Runs from pc to a kHalt; returns the PC after it.
  uint64_t run_from(uint64_t pc) {
    st.common.pc = pc;
    exec::RunResult r = vcpu->run();
    EXPECT_EQ(r.kind, exec::RunResult::Kind::Exit);
    EXPECT_EQ(r.reason, ir::ExitReason::Hypercall);
    return st.common.pc;
  }

  ToyState st;
  hw::Log log;
  hw::AddressSpace as;
  ToyMmu mmu_map{st.common};
  softmmu::Softmmu mmu{st.common, as, mmu_map};
  ToyFrontend frontend;
  std::unique_ptr<exec::Engine> engine;
  std::unique_ptr<exec::VcpuExec> vcpu;
};

// A block linked to itself goes round without the dispatcher (baseline code through its fast
// entry, in one frame); an exit request stops it at the next block entry with the PC of that
// block, and the run goes on from there.
TEST_P(EngineTest, ExitRequestStopsAChainedLoopAtABlockEntry) {
  poke(0x1000, {kReq, kLoop, kHalt});
  st.common.pc = 0x1000;
  st.r[1] = 100;
  exec::RunResult r = vcpu->run();
  EXPECT_EQ(r.kind, exec::RunResult::Kind::ExitRequest);
  EXPECT_EQ(st.common.pc, 0x1000u);
  EXPECT_EQ(st.r[1], 4u);
  EXPECT_EQ(st.r[0], 96u);
  exec::TranslationBlock* tb = engine->lookup(exec::TbKey{0x1000, kRam + 0x1000, 0, 0});
  ASSERT_NE(tb, nullptr);
  const exec::NativeFn fn = tb->native.load();
  if (fn && engine->is_baseline_code(fn)) {  // its exit jumps to its own fast entry
    EXPECT_EQ(tb->link[0].load(), fn);
    ASSERT_NE(tb->jump_site[0], nullptr);
    int32_t rel = 0;
    std::memcpy(&rel, tb->jump_site[0], sizeof rel);
    EXPECT_EQ(tb->jump_site[0] + 4 + rel, baseline::fast_entry(fn));
  }
  st.common.exit_request.store(0);
  r = vcpu->run();
  EXPECT_EQ(r.kind, exec::RunResult::Kind::Exit);
  EXPECT_EQ(r.reason, ir::ExitReason::Hypercall);
  EXPECT_EQ(st.r[0], 100u);
  EXPECT_EQ(st.r[1], 0u);
}

// Two blocks chained into each other: a chained jump does not store the PC (baseline code
// leaves that to the entry's exit-request path), so the stop must still report the block it
// stopped at, not the one the dispatcher last entered.
TEST_P(EngineTest, ExitRequestAfterAChainedJumpReportsTheTargetsPc) {
  poke(0x1000, {kReq, kLoopTo, 0x10, 0x10, kHalt});
  poke(0x1010, {kLoopTo, 0x00, 0x10, kHalt});
  st.common.pc = 0x1000;
  st.r[1] = 101;  // the block at 0x1000 sees 101, 99, ... 5: the request, then on to 0x1010
  exec::RunResult r = vcpu->run();
  EXPECT_EQ(r.kind, exec::RunResult::Kind::ExitRequest);
  EXPECT_EQ(st.common.pc, 0x1010u);
  EXPECT_EQ(st.r[1], 4u);
  EXPECT_EQ(st.r[0], 97u);
  st.common.exit_request.store(0);
  r = vcpu->run();
  EXPECT_EQ(r.kind, exec::RunResult::Kind::Exit);
  EXPECT_EQ(r.reason, ir::ExitReason::Hypercall);
  EXPECT_EQ(st.common.pc, 0x1005u);
  EXPECT_EQ(st.r[0], 101u);
  EXPECT_EQ(st.r[1], 0u);
}

// -accel verify steps one block per run(): an exit request the block saw at its entry means
// nothing ran, which the x86 STI shadow depends on (STI; HLT must not take an interrupt between).
TEST_P(EngineTest, BlockStepExitRequestAtBlockEntryIsNotAStep) {
  poke(0x1000, {kAddI, 5, kHalt});
  st.common.pc = 0x1000;
  vcpu->set_block_step(true);
  frontend.request_exit_on_translate = true;
  exec::RunResult r = vcpu->run();
  EXPECT_EQ(r.kind, exec::RunResult::Kind::ExitRequest);
  EXPECT_EQ(st.common.pc, 0x1000u);
  EXPECT_EQ(st.r[0], 0u);
  frontend.request_exit_on_translate = false;
  st.common.exit_request.store(0);
  r = vcpu->run();
  EXPECT_EQ(r.kind, exec::RunResult::Kind::Exit);
  EXPECT_EQ(r.reason, ir::ExitReason::Hypercall);
  EXPECT_EQ(st.r[0], 5u);
}

TEST_P(EngineTest, CsBaseIsPartOfTheBlockKey) {
  poke(0x1000, {kIp, kHalt});
  st.cs = 0x100;
  run_from(0x1000);
  EXPECT_EQ(st.r[0], 0x1000u - 0x100);
  st.cs = 0x800;  // same linear PC, another segment: another translation
  run_from(0x1000);
  EXPECT_EQ(st.r[0], 0x1000u - 0x800);
  st.cs = 0x100;
  run_from(0x1000);
  EXPECT_EQ(st.r[0], 0x1000u - 0x100);
  EXPECT_EQ(engine->stats().blocks_translated, 2u);  // one per CS base
}

TEST_P(EngineTest, AsidFlushKeepsGlobalBlocksThatShareAJumpCacheGroup) {
  // A block on a global page (the kernel's) and one on a non-global page (a process's) in the
  // same jump-cache group: an ASID flush drops only the second.
  constexpr uint64_t kGlobalPc = 0x1000, kUserPc = 0x40010;
  static_assert(jump_cache_group(kGlobalPc) == jump_cache_group(kUserPc));
  static_assert(jump_cache_index(kGlobalPc) != jump_cache_index(kUserPc));
  mmu_map.map[kUserPc & softmmu::kPageMask] = {kRam + 0x3000, true, false};
  poke(kGlobalPc, {kAddI, 1, kHalt});
  poke(kUserPc, {kAddI, 2, kHalt});
  run_from(kGlobalPc);
  run_from(kUserPc);
  EXPECT_EQ(st.r[0], 3u);
  const JumpCacheEntry* jc = st.common.jump_cache;
  ASSERT_EQ(jc[jump_cache_index(kGlobalPc)].pc.load(), kGlobalPc);
  ASSERT_EQ(jc[jump_cache_index(kUserPc)].pc.load(), kUserPc);

  mmu.flush_asid(0);
  EXPECT_EQ(jc[jump_cache_index(kGlobalPc)].pc.load(), kGlobalPc);
  EXPECT_EQ(jc[jump_cache_index(kUserPc)].pc.load(), JumpCacheEntry::kInvalidPc);

  // The user page now maps other code: it runs, and so does the kept global block.
  mmu_map.map[kUserPc & softmmu::kPageMask] = {kRam + 0x5000, true, false};
  poke(kUserPc, {kAddI, 2, kHalt});  // through the new mapping: 0x5010
  run_from(kUserPc);
  run_from(kGlobalPc);
  EXPECT_EQ(st.r[0], 6u);

  // A slot refilled with a global block is kept by the next flush.
  mmu_map.map[kUserPc & softmmu::kPageMask] = {kRam + 0x3000, true, true};
  mmu.flush_page(kUserPc);
  run_from(kUserPc);
  mmu.flush_asid(0);
  EXPECT_EQ(jc[jump_cache_index(kUserPc)].pc.load(), kUserPc);
  EXPECT_EQ(st.r[0], 8u);
}

// An arm64 kernel with KPTI switches between its ASID and the process's at every system call:
// each ASID's TLB entries and jump-cache slots stay, so switching back walks nothing, while a
// page that maps other code in each ASID runs the right code in each.
TEST_P(EngineTest, AsidSwitchKeepsEachAddressSpacesEntries) {
  constexpr uint64_t kUser = 0x40000;
  mmu_map.asid_map[{1, kUser}] = {kRam + 0x3000, true, false};
  mmu_map.asid_map[{2, kUser}] = {kRam + 0x5000, true, false};
  poke(kRam + 0x3000 - kRam, {kAddI, 1, kHalt});  // identity-mapped: virtual = phys - kRam
  poke(kRam + 0x5000 - kRam, {kAddI, 10, kHalt});
  auto in = [&](uint16_t asid) {
    mmu_map.asid = asid;
    mmu.switch_asid(asid);
  };
  in(1);
  run_from(kUser);
  in(2);
  run_from(kUser);
  EXPECT_EQ(st.r[0], 11u);
  const int walks = mmu_map.walks;
  // The slot each ASID's jump cache holds for kUser: that ASID's block.
  auto slot_phys = [&] {
    const JumpCacheEntry& e = st.common.jump_cache[jump_cache_index(kUser)];
    return e.pc.load() == kUser && e.tb ? e.tb->key.phys_pc : 0;
  };
  for (int i = 0; i < 3; ++i) {
    in(1);
    EXPECT_EQ(slot_phys(), kRam + 0x3000);
    run_from(kUser);
    in(2);
    EXPECT_EQ(slot_phys(), kRam + 0x5000);
    run_from(kUser);
  }
  EXPECT_EQ(st.r[0], 44u);
  EXPECT_EQ(mmu_map.walks, walks);  // every TLB entry stayed

  // More ASIDs than contexts: the least recently used goes, and comes back by walking.
  for (uint16_t a = 3; a < 3 + softmmu::Softmmu::kContexts; ++a) {
    mmu_map.asid_map[{a, kUser}] = {kRam + 0x3000, true, false};
    in(a);
    run_from(kUser);
  }
  EXPECT_EQ(st.r[0], 44u + softmmu::Softmmu::kContexts);
  in(2);
  const int before = mmu_map.walks;
  run_from(kUser);
  EXPECT_EQ(st.r[0], 54u + softmmu::Softmmu::kContexts);
  EXPECT_GT(mmu_map.walks, before);

  // A TLBI by ASID drops that ASID's entries wherever they are, the current ASID's too.
  in(1);
  run_from(kUser);
  mmu_map.asid_map[{2, kUser}] = {kRam + 0x3000, true, false};
  mmu_map.asid_map[{1, kUser}] = {kRam + 0x5000, true, false};
  mmu.flush_asid(2);
  mmu.flush_asid(1);
  run_from(kUser);
  in(2);
  run_from(kUser);
  EXPECT_EQ(st.r[0], 66u + softmmu::Softmmu::kContexts);
}

// The ASID can change without switch_asid (a reset, a debugger's register write): entries of
// two ASIDs then share a context, which must not serve either ASID after the next switch.
TEST_P(EngineTest, AsidChangedBehindTheSoftmmuIsNotTrusted) {
  constexpr uint64_t kUser = 0x40000;
  mmu_map.asid_map[{1, kUser}] = {kRam + 0x3000, true, false};
  mmu_map.asid_map[{2, kUser}] = {kRam + 0x5000, true, false};
  poke(0x3000, {kAddI, 1, kHalt});
  poke(0x5000, {kAddI, 10, kHalt});
  mmu_map.asid = 1;
  mmu.switch_asid(1);
  run_from(kUser);
  mmu_map.asid = 2;  // unannounced
  mmu.flush_page(kUser);
  run_from(kUser);  // ASID 2's page, filled in ASID 1's context
  EXPECT_EQ(st.r[0], 11u);
  mmu.switch_asid(2);
  run_from(kUser);
  mmu_map.asid = 1;
  mmu.switch_asid(1);
  run_from(kUser);  // ASID 1's page again, not the entry ASID 2 left
  EXPECT_EQ(st.r[0], 22u);
}

TEST_P(EngineTest, BlockSpansTwoPagesAndAWriteToEitherInvalidatesIt) {
  // kMovI at 0x1ffe crosses into 0x2000; the block goes on there.
  std::vector<uint8_t> code = mov(0x11223344);
  code.push_back(kAddI);
  code.push_back(1);
  code.push_back(kHalt);
  poke(0x1ffe, code);
  EXPECT_EQ(run_from(0x1ffe), 0x1ffe + code.size());
  EXPECT_EQ(st.r[0], 0x11223345u);
  const uint64_t translated = engine->stats().blocks_translated;
  run_from(0x1ffe);
  EXPECT_EQ(engine->stats().blocks_translated, translated);  // cached

  // A write to the part on the second page drops it.
  const uint64_t inv = engine->stats().invalidations;
  poke(0x2004, {5});  // the kAddI immediate
  EXPECT_EQ(engine->stats().invalidations, inv + 1);
  run_from(0x1ffe);
  EXPECT_EQ(st.r[0], 0x11223349u);
  // And one to the first page.
  poke(0x1fff, {0x40});
  EXPECT_EQ(engine->stats().invalidations, inv + 2);
  run_from(0x1ffe);
  EXPECT_EQ(st.r[0], 0x11223340u + 5);
}

TEST_P(EngineTest, WriteNoticeOverTheWholeSpaceFindsTheCodeAndReturns) {
  // A memory-map change over a TiB-sized PCI window (or the whole space) reaches the engine as
  // one write notice; it once visited every 4 KiB page of it (a hang for these ranges).
  constexpr uint64_t kHigh = uint64_t(1) << 45;  // beyond the lock-free code-page table
  ASSERT_EQ(as.add_ram("high", kHigh, kPageSize), "");
  mmu_map.map[0x40000] = {kHigh, true};
  poke(0x1000, {kAddI, 1, kHalt});
  poke(0x40000, {kAddI, 2, kHalt});
  run_from(0x1000);
  run_from(0x40000);
  EXPECT_EQ(st.r[0], 3u);
  uint64_t inv = engine->stats().invalidations;
  engine->guest_memory_written(kRam + 0x2000, ~uint64_t(0) - kRam);  // misses both blocks
  EXPECT_EQ(engine->stats().invalidations, inv + 1);                 // ...but the high one
  run_from(0x40000);
  inv = engine->stats().invalidations;
  engine->guest_memory_written(uint64_t(1) << 32, uint64_t(1) << 40);  // no code there
  EXPECT_EQ(engine->stats().invalidations, inv);
  engine->guest_memory_written(0, ~uint64_t(0));
  EXPECT_EQ(engine->stats().invalidations, inv + 2);
  run_from(0x1000);
  run_from(0x40000);
  EXPECT_EQ(st.r[0], 8u);
}

TEST_P(EngineTest, BlockLinkedToItselfLoopsAndSeesItsInvalidation) {
  // kNop, kLoop: a one-block loop. Once linked to itself the baseline tier goes round inside
  // its frame; every iteration must still count, and a rewrite must be seen on the next entry.
  poke(0x3000, {kNop, kLoop, kHalt});
  st.r[0] = 0;
  st.r[1] = 100000;
  EXPECT_EQ(run_from(0x3000), 0x3003u);
  EXPECT_EQ(st.r[0], 100000u);
  EXPECT_EQ(st.r[1], 0u);
  poke(0x3000, {kAddI});  // kAddI 6: r0 += 6 (the kLoop byte becomes its immediate)
  st.r[0] = 0;
  st.r[1] = 1;
  EXPECT_EQ(run_from(0x3000), 0x3003u);
  EXPECT_EQ(st.r[0], 6u);
  EXPECT_EQ(st.r[1], 1u);
}

TEST_P(EngineTest, SecondPageRemappedIsRetranslated) {
  std::vector<uint8_t> code = mov(0x55667788);
  code.push_back(kHalt);
  poke(0x1ffd, code);  // three bytes on page 0x1000, three on page 0x2000
  run_from(0x1ffd);
  EXPECT_EQ(st.r[0], 0x55667788u);
  // Virtual page 0x2000 now maps to RAM page 0x5000, which holds other bytes.
  poke(0x5000, {0x99, 0xaa, kHalt});
  mmu_map.map[0x2000] = {kRam + 0x5000, true};
  mmu.flush_page(0x2000);
  run_from(0x1ffd);
  EXPECT_EQ(st.r[0], 0xaa997788u);
}

TEST_P(EngineTest, UnfetchableSecondPageEndsTheBlockBeforeTheCrossingInstruction) {
  std::vector<uint8_t> code = {kAddI, 7, kNop};
  for (uint8_t b : mov(0x12345678)) code.push_back(b);
  code.push_back(kHalt);
  poke(0x2ffa, code);  // the kMovI at 0x2ffd crosses into the page unmapped now
  mmu_map.map.erase(0x3000);
  run_from(0x2ffa);
  EXPECT_EQ(st.r[0], 7u);  // the instructions before it ran
  EXPECT_EQ(mmu_map.faults, 1);
  EXPECT_EQ(mmu_map.fault_addr, 0x3000u);  // on the second page
  EXPECT_EQ(mmu_map.fault_pc, 0x2ffdu);    // reported at the instruction's start

  // Mapped but not executable: the same.
  mmu_map.map[0x3000] = {kRam + 0x3000, false};
  st.r[0] = 0;
  run_from(0x2ffa);
  EXPECT_EQ(st.r[0], 7u);
  EXPECT_EQ(mmu_map.faults, 2);
  EXPECT_EQ(mmu_map.fault_addr, 0x3000u);
  EXPECT_EQ(mmu_map.fault_pc, 0x2ffdu);

  // Once executable, the same code runs through.
  mmu_map.map[0x3000] = {kRam + 0x3000, true};
  st.r[0] = 0;
  EXPECT_EQ(run_from(0x2ffa), 0x3003u);
  EXPECT_EQ(st.r[0], 0x12345678u);
  EXPECT_EQ(mmu_map.faults, 2);
}

TEST_P(EngineTest, FetchFaultOnTheFirstPageReportsTheInstructionStart) {
  mmu_map.map.erase(0x4000);
  poke(0x1000, {kNop, kHalt});
  run_from(0x4010);
  EXPECT_EQ(mmu_map.faults, 1);
  EXPECT_EQ(mmu_map.fault_addr, 0x4010u);
  EXPECT_EQ(mmu_map.fault_pc, 0x4010u);
}

TEST_P(EngineTest, StoreOverItsOwnBlockRunsTheNewCode) {
  // The store rewrites the immediate of the kAddI right after it: the new one must run, in
  // every tier, and nothing after the store may run from the stale translation.
  std::vector<uint8_t> code = {kStore, 0x06, 0x10, 0, 0, kAddI, 1, kAddI, 1, kHalt};
  poke(0x1000, code);
  st.r[1] = 0x40;
  st.r[0] = 0;
  run_from(0x1000);
  EXPECT_EQ(st.r[0], 0x41u);
  EXPECT_EQ(engine->stats().invalidations, 1u);
  // Again, with the block retranslated from the new bytes (the store now writes what is there).
  st.r[0] = 0;
  run_from(0x1000);
  EXPECT_EQ(st.r[0], 0x41u);
  // A store onto the second page of a two-page block that runs it.
  // kStore at 0x2ffe crosses; kAddI at 0x3003 has its immediate at 0x3004.
  poke(0x2ffb, {kNop, kNop, kNop, kStore, 0x04, 0x30, 0, 0, kAddI, 1, kHalt});
  st.r[0] = 0;
  st.r[1] = 0x20;
  run_from(0x2ffb);
  EXPECT_EQ(st.r[0], 0x20u);
}

// Code and data on one page: a store rewrites a byte of a hot block now and then (the same
// value, so the result stays checkable), and every write invalidates the block. The new block
// with the same key must not be compiled again and again: before the back-off, tier=llvm
// compiled every retranslation and auto every one that got hot again (60 compiles here).
TEST_P(EngineTest, BlockInvalidatedAgainAndAgainStopsBeingCompiled) {
  if (GetParam() != Tier::Llvm && GetParam() != Tier::Auto) GTEST_SKIP() << "no LLVM tier";
  for (bool by_benefit : {false, true}) {
    SCOPED_TRACE(by_benefit ? "benefit rule" : "count rule");
    exec::EngineOptions opt;
    opt.tier = GetParam();
    if (!by_benefit) opt.hot_threshold = 8;  // compile at 8 executions
    opt.policy.by_benefit = by_benefit;
    restart_engine(opt);
    poke(0x1000, {kAddI, 1, kHalt});                  // the hot block: r0 += 1
    poke(0x1100, {kStore, 0x01, 0x10, 0, 0, kHalt});  // the writer: [0x1001] = r1
    st.r[0] = 0;
    st.r[1] = 1;
    constexpr int kRounds = 60, kRunsPerRound = 20;
    for (int round = 0; round < kRounds; ++round) {
      for (int i = 0; i < kRunsPerRound; ++i) {
        run_from(0x1000);
        engine->drain_compiles();
      }
      run_from(0x1100);
    }
    EXPECT_EQ(st.r[0], uint64_t(kRounds * kRunsPerRound));
    const exec::Engine::Stats s = engine->stats();
    EXPECT_GE(s.invalidations, uint64_t(kRounds));
    EXPECT_LT(s.blocks_compiled, 8u);
    if (!by_benefit) {
      EXPECT_GE(s.invalidated_compiled, 2u);  // it was compiled, then backed off
      EXPECT_GE(s.tier_deferred + s.tier_never, uint64_t(kRounds - 10));
    }
  }
}

// The persistent cache's profile: a block hot in one run (one Engine) is linked from the cache
// when the next run first translates it, so it never runs in baseline code; changed guest code
// under the same PC, or a corrupt profile file, is not used.
TEST_P(EngineTest, ProfiledBlockStartsNativeInTheNextRun) {
  if (GetParam() != Tier::Auto) GTEST_SKIP() << "the profile is the auto tier's";
  char tmpl[] = "/tmp/orrery_profile_XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  exec::EngineOptions opt;
  opt.tier = Tier::Auto;
  opt.hot_threshold = 8;
  opt.policy.by_benefit = false;  // compile at 8 executions
  opt.tcg_cache_dir = dir;
  opt.install_ahead = false;  // lookups are counted
  restart_engine(opt);
  poke(0x1000, {kAddI, 1, kHalt});
  poke(0x1200, {kAddI, 2, kHalt});  // runs once: not in the profile
  st.r[0] = 0;
  for (int i = 0; i < 20; ++i) {
    run_from(0x1000);
    engine->drain_compiles();
  }
  run_from(0x1200);
  EXPECT_EQ(engine->stats().blocks_compiled, 1u);
  EXPECT_EQ(engine->stats().ahead_linked, 0u);

  auto next_run = [&](uint64_t pc) {
    restart_engine(opt);  // the last engine wrote its profile
    run_from(pc);
    return engine->stats();
  };
  exec::Engine::Stats s = next_run(0x1000);
  EXPECT_EQ(st.r[0], 23u);  // 20 + 2 + 1
  EXPECT_EQ(s.ahead_linked, 1u);
  EXPECT_EQ(s.baseline_blocks, 0u);  // native from its first execution
  s = next_run(0x1200);
  EXPECT_EQ(s.ahead_linked + s.ahead_cached + s.ahead_compiles, 0u);

  // Other code at the profiled PC: a profile entry for other code, not used.
  poke(0x1000, {kAddI, 5, kHalt});
  s = next_run(0x1000);
  EXPECT_EQ(st.r[0], 30u);  // 25 + 5
  EXPECT_EQ(s.ahead_changed, 1u);
  EXPECT_EQ(s.ahead_linked, 0u);

  // The block ran once in that run: its profile lost it. Make it hot again, then corrupt the
  // profile file: the next run ignores it.
  restart_engine(opt);
  for (int i = 0; i < 20; ++i) {
    run_from(0x1000);
    engine->drain_compiles();
  }
  s = next_run(0x1000);
  EXPECT_EQ(s.ahead_linked, 1u);
  std::string profile;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (struct dirent* e = ::readdir(d))
      if (std::string_view(e->d_name).ends_with(".tcp")) profile = dir + "/" + e->d_name;
    ::closedir(d);
  }
  ASSERT_FALSE(profile.empty());
  vcpu.reset();
  engine.reset();  // writes the profile again
  {
    std::FILE* f = std::fopen(profile.c_str(), "r+b");
    ASSERT_TRUE(f);
    std::fseek(f, -3, SEEK_END);
    std::fputc(0x5a, f);
    std::fclose(f);
  }
  const uint64_t before = st.r[0];
  s = next_run(0x1000);
  EXPECT_EQ(st.r[0], before + 5);
  EXPECT_EQ(s.ahead_linked + s.ahead_cached + s.ahead_compiles, 0u);
  std::system(("rm -rf '" + dir + "'").c_str());
}

// Blocks keep only their IR's scalars until the LLVM tier asks for them: tier_up translates
// the guest bytes again (a block's part on a second page too), and the compiled code computes
// what the first translation's code did. A block that never gets hot keeps no instructions.
TEST_P(EngineTest, DroppedIrIsTranslatedAgainWhenTheBlockGetsHot) {
  if (GetParam() != Tier::Auto) GTEST_SKIP() << "only the auto tier drops IR";
  exec::EngineOptions opt;
  opt.tier = Tier::Auto;
  opt.hot_threshold = 8;
  opt.policy.by_benefit = false;  // compile at 8 executions
  restart_engine(opt);
  std::vector<uint8_t> two_pages = mov(0x11223344);  // crosses from 0x1fff into 0x2000
  two_pages.push_back(kAddI);
  two_pages.push_back(1);
  two_pages.push_back(kHalt);
  poke(0x1ffe, two_pages);
  poke(0x1000, {kAddI, 3, kHalt});
  poke(0x1200, {kAddI, 2, kHalt});  // runs once
  st.r[0] = 0;
  run_from(0x1200);
  const exec::TranslationBlock* cold = engine->lookup(exec::TbKey{0x1200, kRam + 0x1200, 0, 0});
  ASSERT_NE(cold, nullptr);
  EXPECT_TRUE(cold->ir_dropped);
  EXPECT_TRUE(cold->ir.insts.empty());
  EXPECT_EQ(cold->ir.guest_size, 3u);
  EXPECT_EQ(cold->ir.num_insns, 2u);

  for (int i = 0; i < 20; ++i) {
    run_from(0x1000);
    engine->drain_compiles();
    EXPECT_EQ(st.r[0], 2u + 3u * (i + 1));
  }
  for (int i = 0; i < 20; ++i) {
    run_from(0x1ffe);
    engine->drain_compiles();
    EXPECT_EQ(st.r[0], 0x11223345u);
  }
  const exec::Engine::Stats s = engine->stats();
  EXPECT_EQ(s.blocks_compiled, 2u);
  EXPECT_EQ(s.ir_rebuilt, 2u);
  EXPECT_EQ(s.ir_rebuild_failed, 0u);
  for (uint64_t pc : {0x1000, 0x1ffe}) {
    const exec::TranslationBlock* hot = engine->lookup(exec::TbKey{pc, kRam + pc, 0, 0});
    ASSERT_NE(hot, nullptr);
    EXPECT_FALSE(hot->ir_dropped);
    EXPECT_EQ(hot->ir.insts.size(), hot->ir_size);
    EXPECT_FALSE(engine->is_baseline_code(hot->native.load()));
  }
  EXPECT_TRUE(cold->ir_dropped);
}

// A region the policy compiled in one run is formed again from the profile at its head's first
// tier-up check in the next run and linked from the cache, members and all (the profile named
// only single blocks before, so a profiled loop ran as separate functions or in baseline code).
TEST_P(EngineTest, ProfiledRegionIsLinkedWholeInTheNextRun) {
  if (GetParam() != Tier::Auto) GTEST_SKIP() << "the profile is the auto tier's";
  char tmpl[] = "/tmp/orrery_profile_XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  exec::EngineOptions opt;
  opt.tier = Tier::Auto;
  opt.hot_threshold = 8;
  opt.policy.by_benefit = false;  // compile at 8 executions
  opt.tcg_cache_dir = dir;
  opt.install_ahead = false;  // lookups are counted
  restart_engine(opt);
  // Block 0x2000 (kLoop, r1 = 1: falls through) links to block 0x2001 (r0 += 3): one region.
  poke(0x2000, {kLoop, kAddI, 3, kHalt});
  auto run_rounds = [&](int n) {
    for (int i = 0; i < n; ++i) {
      st.r[1] = 1;
      run_from(0x2000);
      engine->drain_compiles();
    }
  };
  st.r[0] = 0;
  run_rounds(20);
  EXPECT_EQ(st.r[0], 80u);
  exec::Engine::Stats s = engine->stats();
  // The region of both blocks, and the member alone (it got hot too: the count rule).
  ASSERT_EQ(s.blocks_compiled, 2u);

  restart_engine(opt);  // the last engine wrote its profile
  run_rounds(20);
  EXPECT_EQ(st.r[0], 160u);
  s = engine->stats();
  EXPECT_EQ(s.ahead_regions_linked, 1u);
  EXPECT_EQ(s.ahead_linked, 1u) << "the member's own code";
  EXPECT_EQ(s.blocks_compiled, 0u) << "nothing compiled: both came from the cache";
  EXPECT_EQ(s.ahead_changed, 0u);

  // Other code in a member: the profiled region is not that code; the policy compiles anew.
  restart_engine(opt);
  poke(0x2001, {kAddI, 5});  // after the profile is read (a write now drops the blocks)
  run_rounds(20);
  EXPECT_EQ(st.r[0], 160u + 20 * 6);
  s = engine->stats();
  EXPECT_EQ(s.ahead_regions_linked, 0u);
  EXPECT_EQ(s.ahead_changed, 2u) << "the member alone and the region";
  EXPECT_GE(s.blocks_compiled, 1u);
  std::system(("rm -rf '" + dir + "'").c_str());
}

// The baseline tier's persistent translations (tcg/exec/translation_cache.h).
class TranslationCacheTest : public EngineTest {
 protected:
  void SetUp() override {
    if (GetParam() != Tier::Baseline && GetParam() != Tier::Auto)
      GTEST_SKIP() << "baseline translations are the baseline and auto tiers'";
    EngineTest::SetUp();
    char tmpl[] = "/tmp/orrery_tbp_XXXXXX";
    dir = ::mkdtemp(tmpl);
    opt.tier = GetParam();
    opt.hot_threshold = 100000;  // no LLVM code: every block runs its baseline code
    opt.policy.by_benefit = false;
    opt.tcg_cache_dir = dir;
    opt.install_ahead = false;  // lookups are counted (InstalledAhead turns it on)
    // A helper call, a softmmu store (slow path), a two-page block and a one-block loop: every
    // kind of relocation the toy guest can make.
    poke(0x1000, {kAddI, 5, kCall, kStore, 0x00, 0x30, 0, 0, kHalt});
    poke(0x1200, {kCall, kHalt});
    poke(0x1ffe, {kMovI, 7, 0, 0, 0, kAddI, 1, kHalt});
    poke(0x1100, {kLoop, kHalt});
  }
  void TearDown() override {
    EngineTest::TearDown();
    if (!dir.empty()) std::system(("rm -rf '" + dir + "'").c_str());
  }
  // Runs the programs above; their results as one string.
  std::string run_programs() {
    std::string out;
    st.r[0] = 1;
    st.r[1] = 0x42;
    run_from(0x1000);
    uint8_t m = 0;
    EXPECT_TRUE(mmu.debug_access(0x3000, 0, &m, 1, false));
    out += std::to_string(st.r[0]) + " " + std::to_string(m);
    st.r[0] = 2;
    run_from(0x1200);
    out += " " + std::to_string(st.r[0]);
    st.r[0] = 0;
    run_from(0x1ffe);
    out += " " + std::to_string(st.r[0]);
    st.r[0] = 0;
    st.r[1] = 5;
    run_from(0x1100);
    out += " " + std::to_string(st.r[0]) + " " + std::to_string(st.r[1]);
    return out;
  }
  exec::TranslationCache::Stats tc_stats() { return engine->translation_cache()->stats(); }
  // Five rounds of the loop at 0x1100, on code already installed: nothing is translated.
  void run_installed_loop() {
    frontend.translations = 0;
    st.r[0] = 0;
    st.r[1] = 5;
    run_from(0x1100);
    EXPECT_EQ(st.r[0], 5u);
    EXPECT_EQ(st.r[1], 0u);
    EXPECT_EQ(frontend.translations, 0);
  }
  // Stores pc-relative programs at 0x1300 (kPc: r0 = its PC, plus 3) and 0x1100 (a loop):
  // an engine with options o runs them, the next one loads what it stored.
  void store_pc_relative_programs(const exec::EngineOptions& o) {
    frontend.pc_relative = true;
    poke(0x1300, {kPc, kAddI, 3, kHalt});
    poke(0x1100, {kLoop, kHalt});
    next_engine(o);
    st.r[0] = 0;
    EXPECT_EQ(run_from(0x1300), 0x1304u);
    EXPECT_EQ(st.r[0], 0x1303u);
    expect_loop_at(0x1100);
  }
  // The loop at `at` counts r1 = 5 down into r0.
  void expect_loop_at(uint64_t at) {
    st.r[0] = 0;
    st.r[1] = 5;
    run_from(at);
    EXPECT_EQ(st.r[0], 5u);
    EXPECT_EQ(st.r[1], 0u);
  }
  std::vector<std::string> files(bool tmp_too = false) const {
    std::vector<std::string> v;
    if (DIR* d = ::opendir(dir.c_str())) {
      while (struct dirent* e = ::readdir(d)) {
        std::string_view n = e->d_name;
        if (n.ends_with(".tbp") || (tmp_too && n.starts_with(".tmp"))) v.emplace_back(n);
      }
      ::closedir(d);
    }
    return v;
  }
  uint64_t dir_bytes() const {
    uint64_t total = 0;
    if (DIR* d = ::opendir(dir.c_str())) {
      while (struct dirent* e = ::readdir(d)) {
        struct stat st {};
        if (e->d_name[0] != '.' && ::stat((dir + "/" + e->d_name).c_str(), &st) == 0)
          total += uint64_t(st.st_size);
      }
      ::closedir(d);
    }
    return total;
  }
  std::string dir;
  exec::EngineOptions opt;
};

TEST_P(TranslationCacheTest, RoundTripRunsTheStoredCode) {
  restart_engine(opt);
  frontend.translations = 0;
  const std::string first = run_programs();
  EXPECT_EQ(first, "19 66 7 8 5 0");  // (1+5)*3+1, 0x42; 2*3+1; 7+1; five loop rounds
  EXPECT_GE(frontend.translations, 6);
  EXPECT_EQ(tc_stats().hits, 0u);
  EXPECT_EQ(tc_stats().recorded, 5u);  // the five blocks

  restart_engine(opt);  // the last engine wrote its pack
  ASSERT_EQ(files().size(), 1u);
  EXPECT_EQ(tc_stats().loaded, 5u);
  poke(0x3000, {0});
  frontend.translations = 0;
  EXPECT_EQ(run_programs(), first);
  // Only the first block calling the helper is translated again: helpers resolve by name
  // against helpers this run's translations used. The second helper block is installed.
  EXPECT_EQ(frontend.translations, 1);
  const exec::TranslationCache::Stats s = tc_stats();
  EXPECT_EQ(s.no_helper, 1u);
  EXPECT_EQ(s.hits, 4u);
  EXPECT_EQ(s.rejected, 0u);
  EXPECT_EQ(engine->stats().baseline_blocks, engine->stats().blocks_translated);

  // Code installed from the pack is tracked like translated code: a store into it drops it.
  poke(0x1100, {kAddI, 9, kHalt});
  st.r[0] = 0;
  run_from(0x1100);
  EXPECT_EQ(st.r[0], 9u);
}

// A warm start installs stored blocks whose bytes are in memory before the guest reaches
// them (Engine::start_install_ahead): one page, helpers resolved, bytes unchanged.
TEST_P(TranslationCacheTest, InstalledAheadBlocksRunAndStayTracked) {
  next_engine(opt);
  const std::string first = run_programs();
  next_engine(opt);
  st.r[0] = 2;
  run_from(0x1200);  // makes the helper known, as a real guest's first translations do
  engine->start_install_ahead(as);
  engine->wait_install_ahead();
  // 0x1000 (its helper is known now) and both blocks at 0x1100; 0x1200 is in already and the
  // two-page block is left to lookups (its second page is checked through the TLB).
  EXPECT_EQ(engine->stats().installed_ahead, 3u);
  frontend.translations = 0;
  EXPECT_EQ(run_programs(), first);
  EXPECT_EQ(frontend.translations, 0);
  EXPECT_EQ(tc_stats().hits, 1u);  // the two-page block

  // A store into code installed ahead drops it, as for any block.
  poke(0x1100, {kAddI, 9, kHalt});
  st.r[0] = 0;
  run_from(0x1100);
  EXPECT_EQ(st.r[0], 9u);

  // Changed bytes are not installed: only 0x1100's new code is.
  next_engine(opt);
  poke(0x1000, {kAddI, 6, kCall, kStore, 0x00, 0x30, 0, 0, kHalt});
  st.r[0] = 2;
  run_from(0x1200);
  engine->start_install_ahead(as);
  engine->wait_install_ahead();
  EXPECT_EQ(engine->stats().installed_ahead, 1u);
  st.r[0] = 1;
  run_from(0x1000);
  EXPECT_EQ(st.r[0], (1u + 6) * 3 + 1) << "the changed block ran its new code";

  // With the option on, a vCPU's first run starts it.
  exec::EngineOptions on = opt;
  on.install_ahead = true;
  next_engine(on);
  st.r[0] = 2;
  run_from(0x1200);
  engine->wait_install_ahead();
  EXPECT_GE(engine->stats().installed_ahead, 1u);
  frontend.translations = 0;
  st.r[0] = 0;
  run_from(0x1100);
  EXPECT_EQ(st.r[0], 9u);
  EXPECT_EQ(frontend.translations, 0);
}

// Installed blocks are chained as the dispatcher would chain them once each exit had run: the
// loop at 0x1100 to itself and to the halt after it, before either runs. tier=baseline counts
// no executions, so nothing would tell that a block reached only through a link ran: there
// the dispatcher links as before. A block that ran only through links counts as run for the
// pack's merge (mark_installed_ran), one that never ran does not.
TEST_P(TranslationCacheTest, InstalledBlocksAreChainedAhead) {
  next_engine(opt);
  const std::string first = run_programs();
  next_engine(opt);
  st.r[0] = 2;
  run_from(0x1200);  // makes the helper known
  engine->start_install_ahead(as);
  engine->wait_install_ahead();
  exec::TranslationBlock* loop = engine->lookup(exec::TbKey{0x1100, kRam + 0x1100, 0, 0});
  exec::TranslationBlock* halt = engine->lookup(exec::TbKey{0x1101, kRam + 0x1101, 0, 0});
  ASSERT_NE(loop, nullptr);
  ASSERT_NE(halt, nullptr);
  const bool ahead = GetParam() == Tier::Auto;
  EXPECT_EQ(loop->link_tb[0], ahead ? loop : nullptr);
  EXPECT_EQ(loop->link_tb[1], ahead ? halt : nullptr);
  EXPECT_EQ(loop->link[1].load() != nullptr, ahead);
  const uint64_t ran = tc_stats().ran;  // 0x1200's block, found by its lookup
  run_installed_loop();
  engine->mark_installed_ran();
  // The loop's lookup marked it; the halt, reached through the loop's link, is marked at the
  // end (with the dispatcher's links it is looked up too).
  EXPECT_EQ(tc_stats().ran, ran + 2);
}

// Code that matches only later (loaded or patched after the start) is installed by a later
// pass of the install-ahead thread.
TEST_P(TranslationCacheTest, LaterPassesInstallCodeThatMatchesLater) {
  next_engine(opt);
  run_programs();
  next_engine(opt);
  poke(0x1100, {kAddI, 9, kHalt});  // the loop's two blocks do not match yet
  st.r[0] = 2;
  run_from(0x1200);
  engine->start_install_ahead(as);
  engine->wait_install_ahead();
  EXPECT_EQ(engine->stats().installed_ahead, 1u);  // 0x1000
  poke(0x1100, {kLoop, kHalt});                    // "loaded" now
  // Passes come 10, 20, 40 ... ms apart: wait for the condition, with a generous deadline.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (engine->stats().installed_ahead < 3 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(engine->stats().installed_ahead, 3u);
  run_installed_loop();
}

// PC-relative code (ir::Block::pc_relative) stored at one address runs at another with the same
// bytes and page offset (a kernel with KASLR, a library mapped elsewhere): found by its bytes, its
// PC-derived values, exit PCs and branch targets move with it.
TEST_P(TranslationCacheTest, PcRelativeCodeRunsAtAnotherAddress) {
  store_pc_relative_programs(opt);
  next_engine(opt);
  poke(0x3300, {kPc, kAddI, 3, kHalt});  // another page, the same offset in it
  poke(0x3100, {kLoop, kHalt});
  poke(0x2310, {kPc, kAddI, 3, kHalt});  // another offset: not the same code
  frontend.translations = 0;
  st.r[0] = 0;
  EXPECT_EQ(run_from(0x3300), 0x3304u) << "the exit PC moved";
  EXPECT_EQ(st.r[0], 0x3303u) << "the PC-relative value moved";
  expect_loop_at(0x3100);  // its branch back to its own start moved
  EXPECT_EQ(frontend.translations, 0);
  EXPECT_EQ(tc_stats().moved, 3u);  // the kPc block, the loop and its kHalt
  st.r[0] = 0;
  EXPECT_EQ(run_from(0x2310), 0x2314u);
  EXPECT_EQ(st.r[0], 0x2313u);
  EXPECT_EQ(frontend.translations, 1);
  EXPECT_EQ(tc_stats().moved, 3u);

  // Code not marked pc-relative (x86's, so far) is found only at its own address.
  frontend.pc_relative = false;
  poke(0x1500, {kPc, kAddI, 4, kHalt});
  next_engine(opt);
  run_from(0x1500);
  next_engine(opt);
  poke(0x3500, {kPc, kAddI, 4, kHalt});
  frontend.translations = 0;
  st.r[0] = 0;
  EXPECT_EQ(run_from(0x3500), 0x3504u);
  EXPECT_EQ(st.r[0], 0x3504u);
  EXPECT_EQ(frontend.translations, 1);
}

// A mapping that moved (a kernel's text under a new KASLR offset): once a lookup finds one of its
// blocks at another PC, the install-ahead thread installs the rest of it moved as far.
TEST_P(TranslationCacheTest, InstallAheadMovesAMovedMapping) {
  exec::EngineOptions o = opt;
  o.ahead_mapping_min_entries = 2;  // the three blocks of page 0x1000 are a large mapping
  store_pc_relative_programs(o);
  next_engine(o);
  mmu_map.map[0x9000] = mmu_map.map[0x1000];  // the same physical page at another address
  engine->start_install_ahead(as);
  engine->wait_install_ahead();
  EXPECT_EQ(engine->stats().installed_ahead, 0u) << "held back until the mapping is placed";
  frontend.translations = 0;
  st.r[0] = 0;
  EXPECT_EQ(run_from(0x9300), 0x9304u);  // found by its bytes: places the mapping
  EXPECT_EQ(st.r[0], 0x9303u);
  // The install-ahead thread's next pass comes at once; wait for it (generous deadline).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (engine->stats().installed_ahead < 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(engine->stats().installed_ahead, 2u) << "the loop and its halt, moved";
  expect_loop_at(0x9100);
  EXPECT_EQ(frontend.translations, 0);
  EXPECT_EQ(tc_stats().moved, 1u) << "only the first block was looked up";
}

// Stored code that the run keeps missing (a kernel with KASLR: the same bytes under new virtual
// addresses) is not installed ahead: every block would be work and memory for nothing.
TEST_P(TranslationCacheTest, InstallAheadGivesUpWhenTheCodeMoved) {
  next_engine(opt);
  const std::string first = run_programs();
  exec::EngineOptions few = opt;
  few.ahead_give_up_misses = 4;
  next_engine(few);
  // The same code at other addresses: five lookups miss, no stored block runs.
  for (uint64_t at = 0x5000; at < 0x5005; ++at) {
    poke(at, {kHalt});
    run_from(at);
  }
  ASSERT_GE(tc_stats().misses, 4u);
  engine->start_install_ahead(as);
  engine->wait_install_ahead();
  EXPECT_EQ(engine->stats().installed_ahead, 0u);
  EXPECT_EQ(run_programs(), first) << "lookups still find the stored blocks";

  // Fewer misses than the bound: installed as before (with the blocks at 0x5000 that the
  // last run stored).
  next_engine(few);
  st.r[0] = 2;
  run_from(0x1200);
  engine->start_install_ahead(as);
  engine->wait_install_ahead();
  EXPECT_EQ(engine->stats().installed_ahead, 3u + 5);
}

TEST_P(TranslationCacheTest, ChangedGuestBytesAreAMiss) {
  restart_engine(opt);
  run_programs();
  restart_engine(opt);
  poke(0x1001, {6});  // r0 += 6
  poke(0x2004, {2});  // on the second page of the two-page block: r0 += 2
  frontend.translations = 0;
  EXPECT_EQ(run_programs(), "22 66 7 9 5 0");
  const exec::TranslationCache::Stats s = tc_stats();
  EXPECT_EQ(s.rejected, 2u);
  EXPECT_EQ(frontend.translations, 2);  // the changed blocks (one also makes the helper known)
  EXPECT_GE(s.hits, 3u);
}

TEST_P(TranslationCacheTest, CorruptPackIsIgnored) {
  restart_engine(opt);
  const std::string expected = run_programs();
  const std::string config = engine->translation_cache()->config();
  restart_engine(opt);
  ASSERT_EQ(files().size(), 1u);
  const std::string path = dir + "/" + files()[0];
  std::ifstream in(path, std::ios::binary);
  const std::vector<uint8_t> pack((std::istreambuf_iterator<char>(in)),
                                  std::istreambuf_iterator<char>());
  ASSERT_GT(exec::TranslationCache::check_pack(pack, config, nullptr), 4);
  EXPECT_EQ(exec::TranslationCache::check_pack(pack, config + "x", nullptr), -1);
  std::mt19937 rng(1234);
  for (int i = 0; i < 400; ++i) {
    std::vector<uint8_t> m = pack;
    switch (i % 4) {
      case 0:
        m.resize(rng() % m.size());
        break;
      case 1:
        m[rng() % m.size()] ^= uint8_t(1 + rng() % 255);
        break;
      case 2:
        m.push_back(uint8_t(rng()));
        break;
      default:
        for (int k = 0; k < 8; ++k) m[rng() % m.size()] = uint8_t(rng());
        if (m == pack) continue;
        break;
    }
    const char* why = nullptr;
    ASSERT_EQ(exec::TranslationCache::check_pack(m, config, &why), -1) << i;
    ASSERT_NE(why, nullptr);
    if (i % 20 != 0) continue;
    // Some of them as the pack a run finds: ignored, or (a corrupt body) the entry is when the
    // run first looks it up, and the guest runs as before.
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out.write(reinterpret_cast<const char*>(m.data()), std::streamsize(m.size()));
    }
    restart_engine(opt);
    poke(0x3000, {0});
    EXPECT_EQ(run_programs(), expected) << i;
    const exec::TranslationCache::Stats s = tc_stats();
    if (s.packs_bad == 0) {
      EXPECT_GE(s.entries_bad, 1u) << i;
      EXPECT_GT(s.loaded, 0u) << i;
    } else {
      EXPECT_EQ(s.packs_bad, 1u) << i;
      EXPECT_EQ(s.loaded, 0u) << i;
    }
    vcpu.reset();
    engine.reset();  // writes a new pack: drop it, so the next round finds only its mutation
    for (const std::string& f : files())
      if (dir + "/" + f != path) ::unlink((dir + "/" + f).c_str());
  }
}

// Two processes run and store into one directory at once, several runs each (so both merge
// packs while the other writes): every run's guest results are right, and a later run loads
// intact packs only, with no temporary file left.
TEST_P(TranslationCacheTest, TwoProcessesShareADirectory) {
  if (GetParam() != Tier::Baseline) GTEST_SKIP() << "no compile thread across fork()";
  vcpu.reset();
  engine.reset();
  auto work = [&](int proc) {
    int bad = 0;
    for (int round = 0; round < 6; ++round) {
      restart_engine(opt);
      poke(0x3000, {0});
      if (run_programs() != "19 66 7 8 5 0") ++bad;
      // Code of its own each round, so every run has entries to store.
      for (unsigned k = 0; k < 20; ++k) {
        poke(0x4000 + 8 * k, {kAddI, uint8_t(round), kAddI, uint8_t(proc * 20 + k), kHalt});
        st.r[0] = 0;
        run_from(0x4000 + 8 * k);
        if (st.r[0] != uint64_t(round + proc * 20 + k)) ++bad;
      }
      bad += int(tc_stats().packs_bad);
      vcpu.reset();
      engine.reset();
    }
    return bad;
  };
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(work(1) == 0 ? 0 : 1);
  EXPECT_EQ(work(0), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  restart_engine(opt);
  EXPECT_EQ(tc_stats().packs_bad, 0u);
  EXPECT_GE(tc_stats().loaded, 5u);
  poke(0x3000, {0});
  EXPECT_EQ(run_programs(), "19 66 7 8 5 0");
  EXPECT_EQ(tc_stats().hits, 4u);
  for (const std::string& n : files(true)) EXPECT_FALSE(n.starts_with(".tmp")) << n;
}

// Packs count against cache-size with the LLVM tier's entries: past it the least recently used
// files go.
TEST_P(TranslationCacheTest, PacksStayWithinTheSizeBound) {
  opt.tcg_cache_bytes = 64 * 1024;
  uint64_t evicted_some = 0;
  for (int round = 0; round < 8; ++round) {
    restart_engine(opt);
    for (unsigned k = 0; k < 100; ++k) {
      poke(0x4000 + 8 * k, {kAddI, uint8_t(round), kAddI, uint8_t(k), kHalt});
      st.r[0] = 0;
      run_from(0x4000 + 8 * k);
      ASSERT_EQ(st.r[0], uint64_t(round + k));
    }
    vcpu.reset();
    engine.reset();
    const uint64_t bytes = dir_bytes();
    EXPECT_LE(bytes, opt.tcg_cache_bytes) << round;
    if (round > 0 && bytes < uint64_t(round + 1) * 16 * 1024) ++evicted_some;
  }
  EXPECT_GT(evicted_some, 0u);
  // The newest pack fits: a merge of packs that together pass the bound keeps only part of them
  // (it used to write them all, and eviction then deleted the merged pack too).
  EXPECT_FALSE(files().empty());
}

INSTANTIATE_TEST_SUITE_P(Tiers, TranslationCacheTest, ::testing::Values(Tier::Baseline, Tier::Auto),
                         test::tier_name);

INSTANTIATE_TEST_SUITE_P(Tiers, EngineTest,
                         ::testing::Values(Tier::Interp, Tier::Baseline, Tier::Llvm, Tier::Auto),
                         test::tier_name);

}  // namespace
}  // namespace orrery::tcg
