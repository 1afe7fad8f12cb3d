// ORC LLJIT session and the compile pipeline: lower -> verify -> function passes -> object file
// (our own reused codegen pipeline) -> LLJIT links it. Each module gets its own LLVMContext,
// freed once its object is emitted, so per-block constants do not accumulate over a long run.
// Measurements behind the choices here: tcg/llvm/README.md.
#include "tcg/llvm/jit.h"

#include <elf.h>
#include <atomic>
#include <cinttypes>
#include <cstring>
#include <ctime>

#include <map>
#include <optional>
#include <unordered_map>

#include <llvm/ADT/SmallPtrSet.h>
#include <llvm/Config/llvm-config.h>
#include <llvm/ExecutionEngine/JITLink/JITLinkMemoryManager.h>
#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/ExecutionEngine/Orc/ObjectLinkingLayer.h>
#include <llvm/IR/CFG.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/IR/Verifier.h>
#include <llvm/MC/MCContext.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/CommandLine.h>
#include <llvm/Support/Process.h>
#include <llvm/Support/SmallVectorMemoryBuffer.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/Transforms/InstCombine/InstCombine.h>
#include <llvm/Transforms/Scalar/DeadStoreElimination.h>
#include <llvm/Transforms/Scalar/EarlyCSE.h>
#include <llvm/Transforms/Scalar/SROA.h>
#include <llvm/Transforms/Scalar/SimplifyCFG.h>

#include "tcg/llvm/code_cache.h"
#include "tcg/llvm/lower.h"

namespace orrery::tcg::llvm {

namespace orc = ::llvm::orc;
namespace jitlink = ::llvm::jitlink;

namespace {

// JITLink's in-process memory manager, counting what it maps and refusing modules past a
// limit. The sizes come from the same page-based layout the base class maps: one slab of
// standard + finalize segments per module, the finalize part unmapped once the module is
// finalized, the rest when its allocation is deallocated (ResourceTracker::remove).
class CountingMemoryManager : public jitlink::InProcessMemoryManager {
 public:
  CountingMemoryManager(uint64_t page_size, size_t limit)
      : InProcessMemoryManager(page_size), page_size_(page_size), limit_(limit) {}

  size_t live() const { return live_.load(std::memory_order_relaxed); }
  bool full() const { return full_.load(std::memory_order_relaxed); }
  void clear_full() { full_.store(false, std::memory_order_relaxed); }

  using InProcessMemoryManager::allocate;
  void allocate(const jitlink::JITLinkDylib* jd, jitlink::LinkGraph& g,
                OnAllocatedFunction on_allocated) override {
    jitlink::BasicLayout layout(g);
    auto sizes = layout.getContiguousPageBasedLayoutSizes(page_size_);
    if (!sizes) return on_allocated(sizes.takeError());
    const size_t total = sizes->total(), standard = sizes->StandardSegs;
    if (limit_ && live() + total > limit_) {
      full_.store(true, std::memory_order_relaxed);
      return on_allocated(ll::make_error<ll::StringError>("LLVM tier code memory full",
                                                          ll::inconvertibleErrorCode()));
    }
    live_.fetch_add(total, std::memory_order_relaxed);
    InProcessMemoryManager::allocate(
        jd, g,
        [this, total, standard, on_allocated = std::move(on_allocated)](AllocResult r) mutable {
          if (!r) {
            live_.fetch_sub(total, std::memory_order_relaxed);
            return on_allocated(r.takeError());
          }
          on_allocated(std::make_unique<Counted>(*this, std::move(*r), total, standard));
        });
  }

  using InProcessMemoryManager::deallocate;
  void deallocate(std::vector<FinalizedAlloc> allocs,
                  OnDeallocatedFunction on_deallocated) override {
    {
      std::lock_guard<std::mutex> g(mu_);
      for (const FinalizedAlloc& a : allocs) {
        auto it = finalized_.find(a.getAddress().getValue());
        if (it == finalized_.end()) continue;
        live_.fetch_sub(it->second, std::memory_order_relaxed);
        finalized_.erase(it);
      }
    }
    InProcessMemoryManager::deallocate(std::move(allocs), std::move(on_deallocated));
  }

 private:
  // Forwards to the base class's in-flight allocation and keeps the count.
  class Counted : public InFlightAlloc {
   public:
    Counted(CountingMemoryManager& mm, std::unique_ptr<InFlightAlloc> inner, size_t total,
            size_t standard)
        : mm_(mm), inner_(std::move(inner)), total_(total), standard_(standard) {}
    void abandon(OnAbandonedFunction f) override {
      mm_.live_.fetch_sub(total_, std::memory_order_relaxed);
      inner_->abandon(std::move(f));
    }
    void finalize(OnFinalizedFunction f) override {
      // Captures values, not this: JITLink may destroy us before the callback runs.
      inner_->finalize([mm = &mm_, total = total_, standard = standard_,
                        f = std::move(f)](ll::Expected<FinalizedAlloc> r) mutable {
        if (r) {
          std::lock_guard<std::mutex> g(mm->mu_);
          mm->finalized_[r->getAddress().getValue()] = standard;
          mm->live_.fetch_sub(total - standard, std::memory_order_relaxed);
        } else {
          mm->live_.fetch_sub(total, std::memory_order_relaxed);
        }
        f(std::move(r));
      });
    }

   private:
    CountingMemoryManager& mm_;
    std::unique_ptr<InFlightAlloc> inner_;
    size_t total_, standard_;
  };

  const uint64_t page_size_;
  const size_t limit_;
  std::atomic<size_t> live_{0};
  std::atomic<bool> full_{false};
  std::mutex mu_;
  std::unordered_map<uint64_t, size_t> finalized_;  // allocation -> bytes still mapped
};

// Names how generated code is produced beyond JitOptions, for the persistent cache's keys:
// change it whenever that changes. pic: outside symbols through the GOT (lower.cpp extern_ptr);
// shared-volatile: BlockLowering::load_shared; nomisched: init_native_target.
constexpr const char* kCodegenVersion =
    "pic+shared-volatile+nomisched+flagstores+loopexitchecks+loadpages+lockfence";

// Whether a function of m branches back to an earlier basic block: a region's loop. Lowering
// emits a region's members in order, so every loop has such an edge.
bool has_loop(const ll::Module& m) {
  for (const ll::Function& f : m) {
    ll::SmallPtrSet<const ll::BasicBlock*, 32> seen;
    for (const ll::BasicBlock& bb : f) {
      seen.insert(&bb);
      for (const ll::BasicBlock* succ : ll::successors(&bb))
        if (seen.contains(succ)) return true;
    }
  }
  return false;
}

bool init_native_target(std::string& error) {
  // LLVM's target registry is process-wide and must be initialised exactly once.
  static const bool ok = [] {
    // No pre-RA machine scheduler: on the typical block it was ~15% of codegen CPU, and an
    // out-of-order host gains nothing measurable from it. LLVM has this switch only as a
    // (process-wide) command-line option; a value given explicitly (bench/llvm_compile_time's
    // ORRERY_LLVM_OPTS) is kept.
    auto& opts = ll::cl::getRegisteredOptions();
    if (auto it = opts.find("enable-misched"); it != opts.end() && !it->second->getNumOccurrences())
      it->second->addOccurrence(0, "enable-misched", "false");
    return !ll::InitializeNativeTarget() && !ll::InitializeNativeTargetAsmPrinter() &&
           !ll::InitializeNativeTargetAsmParser();  // the SSE FP rows are inline asm
  }();
  if (!ok) error = "LLVM: cannot initialise the native target";
  return ok;
}

ll::CodeGenOptLevel codegen_level(unsigned l) {
  switch (l) {
    case 0:
      return ll::CodeGenOptLevel::None;
    case 1:
      return ll::CodeGenOptLevel::Less;
    case 2:
      return ll::CodeGenOptLevel::Default;
    default:
      return ll::CodeGenOptLevel::Aggressive;
  }
}

// The stage times are this thread's CPU time: on a loaded host, wall time mostly measures the
// other processes.
uint64_t thread_cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return uint64_t(ts.tv_sec) * 1000000u + uint64_t(ts.tv_nsec) / 1000u;
}

uint64_t micros_since(uint64_t t0) {
  return thread_cpu_us() - t0;
}

std::vector<const exec::TranslationBlock*> members_of(const exec::TranslationBlock& tb) {
  if (tb.region.empty() || tb.region.front() != &tb) return {&tb};
  return {tb.region.begin(), tb.region.end()};
}

std::string hex16(uint64_t v) {
  char b[17];
  std::snprintf(b, sizeof b, "%016" PRIx64, v);
  return b;
}

// Renames a cached object's per-load symbols: every occurrence of `from` in its string tables
// becomes `to` (same length, so no offset moves). False when obj is not an ELF64 object this
// host can link or holds no such name.
bool rename_symbols(std::vector<char>& obj, std::string_view from, std::string_view to) {
  if (from.size() != to.size() || from.empty()) return false;
  const size_t n = obj.size();
  if (n < sizeof(Elf64_Ehdr)) return false;
  Elf64_Ehdr eh;
  std::memcpy(&eh, obj.data(), sizeof eh);
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
      eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_type != ET_REL || eh.e_machine != EM_X86_64 ||
      eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shoff > n ||
      uint64_t(eh.e_shnum) * sizeof(Elf64_Shdr) > n - eh.e_shoff)
    return false;
  size_t renamed = 0;
  for (unsigned i = 0; i < eh.e_shnum; ++i) {
    Elf64_Shdr sh;
    std::memcpy(&sh, obj.data() + eh.e_shoff + i * sizeof(Elf64_Shdr), sizeof sh);
    if (sh.sh_type != SHT_STRTAB) continue;
    if (sh.sh_offset > n || sh.sh_size > n - sh.sh_offset) return false;
    char* tab = obj.data() + sh.sh_offset;
    std::string_view view(tab, sh.sh_size);
    for (size_t at = view.find(from); at != std::string_view::npos; at = view.find(from, at + 1)) {
      std::memcpy(tab + at, to.data(), to.size());
      ++renamed;
    }
  }
  return renamed != 0;
}

}  // namespace

struct LlvmJit::Impl {
  JitOptions opt;
  std::unique_ptr<orc::LLJIT> jit;
  CountingMemoryManager* mem = nullptr;  // owned by jit's object linking layer
  // One resource tracker per epoch that has code: removing it frees the epoch's memory and
  // symbols. Guarded by LlvmJit::mu_.
  std::map<uint64_t, orc::ResourceTrackerSP> trackers;
  std::atomic<uint64_t> epoch{0};
  std::unique_ptr<ll::TargetMachine> tm;  // host cost model for the passes
  // Analysis managers are kept across compiles (registering them is not free) and cleared
  // after each module, since cached results point into it.
  ll::LoopAnalysisManager lam;
  ll::FunctionAnalysisManager fam;
  ll::CGSCCAnalysisManager cgam;
  ll::ModuleAnalysisManager mam;
  std::unique_ptr<ll::PassBuilder> pb;
  ll::FunctionPassManager fpm;
  // The machine-code pipeline, built once: constructing its ~80 legacy passes costs about as
  // much as compiling a small block. The AsmPrinter resets its streamer after each module, and
  // the object is written to obj_buf, which we empty before each run.
  ll::SmallVector<char, 0> obj_buf;
  std::unique_ptr<ll::raw_svector_ostream> obj_os;
  std::unique_ptr<ll::legacy::PassManager> codegen;
  std::atomic<uint64_t> next_id{0};  // symbol suffixes, under either lock
  Stats stats;                       // guarded by LlvmJit::mu_
  std::mutex* link_mu = nullptr;     // LlvmJit::mu_, which lowering takes to register helpers
  // Helper symbols defined in the main JITDylib (for good: helpers live as long as the
  // process), by name, and those registered by a lowering but not defined yet (LlvmJit::mu_).
  std::unordered_map<std::string, uint64_t> helpers;
  orc::SymbolMap pending_helpers;
  std::string cache_config;  // what the code depends on besides the blocks (cache keys)

  bool use_helper(const ir::Helper& h) {
    const uint64_t addr = reinterpret_cast<uintptr_t>(h.fn);
    auto [it, inserted] = helpers.emplace(h.name, addr);
    if (!inserted) return it->second == addr;
    pending_helpers[jit->getExecutionSession().intern(helper_symbol(h))] = {
        orc::ExecutorAddr(addr), ll::JITSymbolFlags::Exported};
    return true;
  }

  ll::Error define_pending_helpers() {
    if (pending_helpers.empty()) return ll::Error::success();
    orc::SymbolMap m;
    m.swap(pending_helpers);
    return jit->getMainJITDylib().define(orc::absoluteSymbols(std::move(m)));
  }

  /// Defines the per-member data symbols of the function with this suffix.
  ll::Error define_block_data(const exec::TranslationBlock& tb, const std::string& suffix,
                              orc::ResourceTrackerSP& tracker) {
    orc::SymbolMap m;
    const auto members = members_of(tb);
    for (size_t k = 0; k < members.size(); ++k)
      m[jit->getExecutionSession().intern(block_data_symbol(k, suffix))] = {
          orc::ExecutorAddr::fromPtr(members[k]), ll::JITSymbolFlags::Exported};
    return tracker->getJITDylib().define(orc::absoluteSymbols(std::move(m)), tracker);
  }

  orc::ResourceTrackerSP& tracker_for(uint64_t epoch) {
    orc::ResourceTrackerSP& t = trackers[epoch];
    if (!t) t = jit->getMainJITDylib().createResourceTracker();
    return t;
  }

  /// Links a cached object (payload: its symbol suffix, then the object) as tb's code.
  exec::NativeFn link_cached(const exec::TranslationBlock& tb, std::vector<char>& payload,
                             uint64_t epoch, std::string& error) {
    if (payload.size() < 16) {
      error = "short payload";
      return nullptr;
    }
    const std::string old_suffix(payload.data(), 16);
    std::vector<char> obj(payload.begin() + 16, payload.end());
    const std::string suffix = hex16(next_id++);
    if (!rename_symbols(obj, old_suffix, suffix)) {
      error = "not an object of this host";
      return nullptr;
    }
    for (const exec::TranslationBlock* m : members_of(tb))
      for (const ir::Inst& in : m->ir.insts)
        if (in.op == ir::Opcode::Call || in.op == ir::Opcode::CallPure ||
            in.op == ir::Opcode::TrapIf)
          if (!use_helper(*reinterpret_cast<const ir::Helper*>(in.imm))) {
            error = "helper name clash";
            return nullptr;
          }
    orc::ResourceTrackerSP& tracker = tracker_for(epoch);
    ll::Error e = define_pending_helpers();
    if (!e) e = define_block_data(tb, suffix, tracker);
    if (!e)
      e = jit->addObjectFile(tracker, std::make_unique<ll::SmallVectorMemoryBuffer>(
                                          ll::SmallVector<char, 0>(obj.begin(), obj.end()),
                                          "orrery_cached.o", /*RequiresNullTerminator=*/false));
    if (e) {
      error = ll::toString(std::move(e));
      return nullptr;
    }
    auto sym = jit->lookup("orrery_tb_" + suffix);
    if (!sym) {
      error = ll::toString(sym.takeError());
      return nullptr;
    }
    return sym->toPtr<exec::NativeFn>();
  }

  /// tb's code linked from the cache entry for key, or null (no entry, or it did not link);
  /// counts the hit or bad link and the time. Caller holds the JIT's mutex.
  exec::NativeFn link_from_cache(const exec::TranslationBlock& tb, const std::string& key,
                                 uint64_t epoch) {
    const uint64_t t0 = thread_cpu_us();
    exec::NativeFn fn = nullptr;
    if (std::optional<std::vector<char>> payload = opt.cache->load(key)) {
      std::string err;
      fn = link_cached(tb, *payload, epoch, err);
      ++(fn ? stats.cache_hits : stats.cache_bad_links);
      if (fn) ++stats.blocks;
    }
    stats.cache_us += micros_since(t0);
    return fn;
  }

  std::unique_ptr<ll::Module> new_module(ll::LLVMContext& ctx) {
    auto m = std::make_unique<ll::Module>("orrery_tbs", ctx);
    m->setDataLayout(jit->getDataLayout());
    m->setTargetTriple(jit->getTargetTriple().str());
    return m;
  }

  /// Lowers and verifies tb into m as `name`; returns the function or null with error set.
  ll::Function* lower(const exec::TranslationBlock& tb, ll::Module& m, const std::string& suffix,
                      std::string& error, bool* relocatable = nullptr) {
    const std::string name = "orrery_tb_" + suffix;
    LinkNames names;
    names.suffix = suffix;
    names.use_helper = [this](const ir::Helper& h) {
      std::lock_guard<std::mutex> g(*link_mu);
      return use_helper(h);
    };
    names.absolute = !opt.relocatable;
    names.slow = SlowPaths{opt.slow_load, opt.slow_store, opt.slow_atomic, opt.slow_load_vec,
                           opt.slow_store_vec};
    BlockLowering low(m, std::move(names), opt.count_executions);
    error = low.lower(tb, name);
    if (relocatable) *relocatable = low.relocatable();
    if (!error.empty()) return nullptr;
    ll::Function* f = m.getFunction(name);
    std::string msg;
    ll::raw_string_ostream os(msg);
    if (ll::verifyFunction(*f, &os)) {
      os.flush();
      error = "LLVM verifier: " + msg;
      f->eraseFromParent();
      return nullptr;
    }
    return f;
  }

  /// Machine code for m as an in-memory object file.
  std::unique_ptr<ll::MemoryBuffer> emit_object(ll::Module& m) {
    obj_buf.clear();
    // The code generator reads this option per function, so the one pipeline serves both.
    tm->setFastISel(opt.fast_isel && !(opt.dag_isel_loops && has_loop(m)));
    codegen->run(m);
    return std::make_unique<ll::SmallVectorMemoryBuffer>(
        ll::SmallVector<char, 0>(obj_buf.begin(), obj_buf.end()), "orrery_tbs.o",
        /*RequiresNullTerminator=*/false);
  }

  void optimize(ll::Function& f) {
    if (opt.run_passes) fpm.run(f, fam);
  }

  void clear_analyses() {
    lam.clear();
    fam.clear();
    cgam.clear();
    mam.clear();
  }
};

std::unique_ptr<LlvmJit> LlvmJit::create(std::string& error) {
  return create(JitOptions{}, error);
}

std::unique_ptr<LlvmJit> LlvmJit::create(const JitOptions& opt, std::string& error) {
  if (!init_native_target(error)) return nullptr;
  auto impl = std::make_unique<Impl>();
  impl->opt = opt;

  auto jtmb = orc::JITTargetMachineBuilder::detectHost();
  if (!jtmb) {
    error = "LLVM: " + ll::toString(jtmb.takeError());
    return nullptr;
  }
  jtmb->setCodeGenOptLevel(codegen_level(opt.codegen_level));
  // Symbols outside the object (lower.cpp extern_ptr) are reached through the GOT.
  jtmb->setRelocationModel(ll::Reloc::PIC_);
  jtmb->setCodeModel(ll::CodeModel::Small);
  impl->cache_config =
      "llvm=" LLVM_VERSION_STRING ",codegen=" + std::string(kCodegenVersion) +
      ",cg=" + std::to_string(opt.codegen_level) + ",passes=" + std::to_string(opt.run_passes) +
      ",fastisel=" + std::to_string(opt.fast_isel) +
      ",dagloops=" + std::to_string(opt.dag_isel_loops) +
      ",count=" + std::to_string(opt.count_executions) + ",host=" + jtmb->getCPU() + ":" +
      jtmb->getFeatures().getString() + ",guest=" + opt.guest_id;
  jtmb->getOptions().EnableFastISel = opt.fast_isel;
  auto tm = jtmb->createTargetMachine();
  if (!tm) {
    error = "LLVM: " + ll::toString(tm.takeError());
    return nullptr;
  }
  impl->tm = std::move(*tm);

  // Generated code reaches the runtime through absolute symbols we define, so no platform
  // support (static initialisers, TLS) is needed; the process symbols only back libcalls LLVM
  // might emit.
  // JITLink with a counting memory manager (no EH-frame registration: generated code never
  // unwinds).
  auto page = ll::sys::Process::getPageSize();
  if (!page) {
    error = "LLVM: " + ll::toString(page.takeError());
    return nullptr;
  }
  Impl* raw = impl.get();
  const size_t limit = opt.code_limit;
  auto jit = orc::LLJITBuilder()
                 .setJITTargetMachineBuilder(std::move(*jtmb))
                 .setPlatformSetUp(orc::setUpInactivePlatform)
                 .setObjectLinkingLayerCreator(
                     [raw, page = uint64_t(*page), limit](
                         orc::ExecutionSession& es,
                         const ll::Triple&) -> ll::Expected<std::unique_ptr<orc::ObjectLayer>> {
                       auto mem = std::make_unique<CountingMemoryManager>(page, limit);
                       raw->mem = mem.get();
                       return std::make_unique<orc::ObjectLinkingLayer>(es, std::move(mem));
                     })
                 .create();
  if (!jit) {
    error = "LLVM: " + ll::toString(jit.takeError());
    return nullptr;
  }
  impl->jit = std::move(*jit);
  // Failures reach the caller through lookup(); a refused module (code memory full) is
  // expected and must not be printed on stderr.
  impl->jit->getExecutionSession().setErrorReporter(
      [](ll::Error e) { ll::consumeError(std::move(e)); });
  auto gen = orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
      impl->jit->getDataLayout().getGlobalPrefix());
  if (!gen) {
    error = "LLVM: " + ll::toString(gen.takeError());
    return nullptr;
  }
  impl->jit->getMainJITDylib().addGenerator(std::move(*gen));
  {
    // Generated code calls the slow paths by name (lower.h): defined once, for good.
    orc::SymbolMap slow;
    auto& es = impl->jit->getExecutionSession();
    slow[es.intern(kSlowLoadSymbol)] = {orc::ExecutorAddr::fromPtr(opt.slow_load),
                                        ll::JITSymbolFlags::Exported};
    slow[es.intern(kSlowStoreSymbol)] = {orc::ExecutorAddr::fromPtr(opt.slow_store),
                                         ll::JITSymbolFlags::Exported};
    slow[es.intern(kSlowAtomicSymbol)] = {orc::ExecutorAddr::fromPtr(opt.slow_atomic),
                                          ll::JITSymbolFlags::Exported};
    slow[es.intern(kSlowLoadVecSymbol)] = {orc::ExecutorAddr::fromPtr(opt.slow_load_vec),
                                           ll::JITSymbolFlags::Exported};
    slow[es.intern(kSlowStoreVecSymbol)] = {orc::ExecutorAddr::fromPtr(opt.slow_store_vec),
                                            ll::JITSymbolFlags::Exported};
    if (ll::Error e = impl->jit->getMainJITDylib().define(orc::absoluteSymbols(std::move(slow)))) {
      error = "LLVM: " + ll::toString(std::move(e));
      return nullptr;
    }
  }

  impl->obj_os = std::make_unique<ll::raw_svector_ostream>(impl->obj_buf);
  impl->codegen = std::make_unique<ll::legacy::PassManager>();
  ll::MCContext* mc = nullptr;
  if (impl->tm->addPassesToEmitMC(*impl->codegen, mc, *impl->obj_os)) {
    error = "LLVM: the host target cannot emit machine code";
    return nullptr;
  }

  impl->pb = std::make_unique<ll::PassBuilder>(impl->tm.get());
  impl->pb->registerModuleAnalyses(impl->mam);
  impl->pb->registerCGSCCAnalyses(impl->cgam);
  impl->pb->registerFunctionAnalyses(impl->fam);
  impl->pb->registerLoopAnalyses(impl->lam);
  impl->pb->crossRegisterProxies(impl->lam, impl->fam, impl->cgam, impl->mam);
  // A block is straight-line code with a few cold diamonds (TLB misses, helper exits), already
  // cleaned up by tcg/opt: what is left to win is folding flag computations, merging repeated
  // loads of CPU fields and dropping dead stores. Measured on a typical 12-instruction block
  // (see compiler_test): this pipeline costs ~0.6 ms; adding GVN and a second InstCombine
  // costs ~0.4 ms more for no measurable speed-up of the generated code. SROA turns the
  // promoted guest registers (allocas, see lower.h) into SSA values with phis across a
  // region's loops.
  impl->fpm.addPass(ll::SROAPass(ll::SROAOptions::ModifyCFG));
  impl->fpm.addPass(ll::EarlyCSEPass(/*UseMemorySSA=*/false));
  impl->fpm.addPass(ll::InstCombinePass());
  impl->fpm.addPass(ll::DSEPass());
  impl->fpm.addPass(ll::SimplifyCFGPass());

  return std::unique_ptr<LlvmJit>(new LlvmJit(std::move(impl)));
}

LlvmJit::LlvmJit(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {
  impl_->link_mu = &mu_;
}

LlvmJit::~LlvmJit() = default;

exec::NativeFn LlvmJit::compile(const exec::TranslationBlock& tb, std::string* error) {
  const exec::TranslationBlock* one[1] = {&tb};
  exec::NativeFn out[1] = {nullptr};
  std::vector<std::string> errors;
  compile_batch(one, out, error ? &errors : nullptr);
  if (error) *error = out[0] ? std::string() : errors[0];
  return out[0];
}

void LlvmJit::compile_batch(std::span<const exec::TranslationBlock* const> tbs,
                            std::span<exec::NativeFn> out, std::vector<std::string>* errors,
                            uint64_t epoch) {
  std::lock_guard<std::mutex> g(codegen_mu_);
  Impl& im = *impl_;
  if (epoch == kCurrentEpoch) epoch = im.epoch.load(std::memory_order_acquire);
  if (errors) errors->assign(tbs.size(), std::string());
  std::fill(out.begin(), out.end(), nullptr);
  if (!im.opt.cache || !im.opt.relocatable) {
    std::vector<size_t> all(tbs.size());
    for (size_t i = 0; i < all.size(); ++i) all[i] = i;
    compile_group(tbs, all, out, errors, epoch, nullptr);
    return;
  }
  // With the persistent cache: link what it has; compile the rest one block per object, so
  // each object can be stored under its block's key.
  std::string key;
  for (size_t i = 0; i < tbs.size(); ++i) {
    key = CodeCache::key_material(*tbs[i], im.cache_config);
    if (!key.empty()) {
      std::lock_guard<std::mutex> link(mu_);
      if (epoch == im.epoch.load(std::memory_order_acquire) &&
          (out[i] = im.link_from_cache(*tbs[i], key, epoch)))
        continue;
    }
    const size_t one[1] = {i};
    compile_group(tbs, one, out, errors, epoch, key.empty() ? nullptr : &key);
  }
}

void LlvmJit::compile_group(std::span<const exec::TranslationBlock* const> tbs,
                            std::span<const size_t> group, std::span<exec::NativeFn> out,
                            std::vector<std::string>* errors, uint64_t epoch,
                            const std::string* cache_key) {
  Impl& im = *impl_;
  uint64_t failures = 0, lower_us = 0, opt_us = 0;  // into im.stats under mu_ (add_stats)
  auto set_error = [&](size_t i, std::string msg) {
    out[i] = nullptr;
    ++failures;
    if (errors) (*errors)[i] = std::move(msg);
  };
  auto add_stats = [&] {  // mu_ held
    im.stats.failures += failures;
    im.stats.lower_us += lower_us;
    im.stats.opt_us += opt_us;
  };

  uint64_t t0 = thread_cpu_us();
  auto ctx = std::make_unique<ll::LLVMContext>();
  std::unique_ptr<ll::Module> mod = im.new_module(*ctx);
  std::vector<std::string> suffixes(group.size());
  std::vector<ll::Function*> fns(group.size(), nullptr);
  size_t lowered = 0;
  bool relocatable = true;
  for (size_t j = 0; j < group.size(); ++j) {
    suffixes[j] = hex16(im.next_id++);
    std::string err;
    bool reloc = false;
    fns[j] = im.lower(*tbs[group[j]], *mod, suffixes[j], err, &reloc);
    relocatable = relocatable && reloc;
    if (!fns[j])
      set_error(group[j], std::move(err));
    else
      ++lowered;
  }
  lower_us = micros_since(t0);
  if (!lowered) {
    std::lock_guard<std::mutex> link(mu_);
    add_stats();
    return;
  }

  t0 = thread_cpu_us();
  for (ll::Function* f : fns)
    if (f) im.optimize(*f);
  im.clear_analyses();
  opt_us = micros_since(t0);

  // A flush ended the batch's epoch: its blocks are gone, skip the costly part (and the link:
  // the epoch's code may be released already).
  auto flushed = [&] {
    if (epoch == im.epoch.load(std::memory_order_acquire)) return false;
    for (size_t j = 0; j < group.size(); ++j)
      if (fns[j]) {
        out[group[j]] = nullptr;
        if (errors) (*errors)[group[j]] = "flushed";
      }
    return true;
  };
  if (flushed()) {
    std::lock_guard<std::mutex> link(mu_);
    add_stats();
    return;
  }

  if (im.opt.before_codegen) im.opt.before_codegen();
  t0 = thread_cpu_us();
  std::unique_ptr<ll::MemoryBuffer> obj = im.emit_object(*mod);
  mod.reset();
  ctx.reset();
  // The object as stored: the suffix its per-load names carry, then the object itself.
  std::vector<char> payload;
  if (cache_key && relocatable && lowered == group.size()) {
    payload.assign(suffixes[0].begin(), suffixes[0].end());
    payload.insert(payload.end(), obj->getBufferStart(), obj->getBufferEnd());
  }
  std::lock_guard<std::mutex> link(mu_);
  const uint64_t t_link = thread_cpu_us();
  ++im.stats.modules;
  // However this returns, the stage times and failures go into the stats (mu_ still held).
  struct OnExit {
    decltype(add_stats)& f;
    ~OnExit() { f(); }
  } on_exit{add_stats};
  if (flushed()) return;
  orc::ResourceTrackerSP& tracker = im.tracker_for(epoch);
  ll::Error e = im.define_pending_helpers();
  for (size_t j = 0; !e && j < group.size(); ++j)
    if (fns[j]) e = im.define_block_data(*tbs[group[j]], suffixes[j], tracker);
  if (!e) e = im.jit->addObjectFile(tracker, std::move(obj));
  if (e) {
    std::string msg = "LLVM: " + ll::toString(std::move(e));
    for (size_t j = 0; j < group.size(); ++j)
      if (fns[j]) set_error(group[j], msg);
    return;
  }
  // The first lookup links the object; the rest only resolve addresses.
  bool linked = false;
  for (size_t j = 0; j < group.size(); ++j) {
    if (!fns[j]) continue;
    auto sym = im.jit->lookup("orrery_tb_" + suffixes[j]);
    if (!sym) {
      set_error(group[j], "LLVM: " + ll::toString(sym.takeError()));
      continue;
    }
    out[group[j]] = sym->toPtr<exec::NativeFn>();
    ++im.stats.blocks;
    linked = true;
  }
  im.stats.link_us += micros_since(t_link);
  im.stats.codegen_us += micros_since(t0);
  // Only code that linked here is stored: another process will link the same object.
  if (linked && !payload.empty() && im.opt.cache->store(*cache_key, payload))
    ++im.stats.cache_stores;
}

bool LlvmJit::in_cache(std::span<const exec::TranslationBlock* const> members) const {
  const Impl& im = *impl_;  // opt and cache_config are set once, before any compile
  if (!im.opt.cache || !im.opt.relocatable || members.empty()) return false;
  const std::string key = CodeCache::key_material(members, im.cache_config);
  return !key.empty() && im.opt.cache->contains(key);
}

exec::NativeFn LlvmJit::try_link_cached(const exec::TranslationBlock& tb, const std::string& key,
                                        bool wait) {
  std::unique_lock<std::mutex> lk(mu_, std::defer_lock);
  if (wait)
    lk.lock();
  else if (!lk.try_lock())
    return nullptr;
  Impl& im = *impl_;
  if (!im.opt.cache || !im.opt.relocatable || key.empty()) return nullptr;
  return im.link_from_cache(tb, key, im.epoch.load(std::memory_order_acquire));
}

std::string LlvmJit::cache_key(const exec::TranslationBlock& tb) const {
  const Impl& im = *impl_;
  if (!im.opt.cache || !im.opt.relocatable) return {};
  const exec::TranslationBlock* one[1] = {&tb};  // alone, even when tb heads a region
  return CodeCache::key_material(one, im.cache_config);
}

const std::string& LlvmJit::cache_config() const {
  return impl_->cache_config;
}

std::string LlvmJit::ir_text(const exec::TranslationBlock& tb, bool optimized, std::string* error) {
  std::lock_guard<std::mutex> g(codegen_mu_);
  Impl& im = *impl_;
  ll::LLVMContext ctx;
  std::unique_ptr<ll::Module> mod = im.new_module(ctx);
  std::string err;
  ll::Function* f = im.lower(tb, *mod, "text", err);
  if (error) *error = err;
  if (!f) return {};
  if (optimized) {
    im.fpm.run(*f, im.fam);
    im.clear_analyses();
  }
  std::string text;
  ll::raw_string_ostream os(text);
  f->print(os);
  os.flush();
  return text;
}

uint64_t LlvmJit::begin_epoch() {
  return impl_->epoch.fetch_add(1, std::memory_order_acq_rel) + 1;
}

uint64_t LlvmJit::epoch() const {
  return impl_->epoch.load(std::memory_order_acquire);
}

std::string LlvmJit::release_epochs_before(uint64_t epoch) {
  std::lock_guard<std::mutex> g(mu_);
  Impl& im = *impl_;
  std::string error;
  for (auto it = im.trackers.begin(); it != im.trackers.end() && it->first < epoch;) {
    if (ll::Error e = it->second->remove())
      if (error.empty()) error = "LLVM: " + ll::toString(std::move(e));
    it = im.trackers.erase(it);
  }
  // Names are interned once per block and would otherwise stay in the pool for good.
  im.jit->getExecutionSession().getSymbolStringPool()->clearDeadEntries();
  im.mem->clear_full();
  return error;
}

std::string LlvmJit::release_all_code() {
  return release_epochs_before(~uint64_t(0));
}

size_t LlvmJit::code_bytes() const {
  return impl_->mem->live();
}

bool LlvmJit::counts_executions() const {
  return impl_->opt.count_executions;
}

bool LlvmJit::code_full() const {
  return impl_->mem->full();
}

LlvmJit::Stats LlvmJit::stats() const {
  std::lock_guard<std::mutex> g(mu_);
  return impl_->stats;
}

}  // namespace orrery::tcg::llvm
