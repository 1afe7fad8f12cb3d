// What a later run needs to reuse baseline code (tcg/exec/translation_cache.h): the options
// the code depends on, and filling its run-dependent immediates in again.
#include <algorithm>
#include <cstring>

#include "tcg/baseline/baseline.h"
#include "tcg/baseline/detail.h"
#include "tcg/ir/helpers.h"

namespace orrery::tcg::baseline {

std::string code_config(const Options& opt) {
  // Bump kVersion when the code a block's IR becomes changes in a way the build id does not
  // show (it always does within one build).
  static constexpr const char* kVersion = "baseline-6";
  std::string s = kVersion;
  s += opt.hot_threshold && opt.tier_up ? " count" : " nocount";
  s += opt.avx2 && detail::host_has_avx2() ? " avx2" : " sse2";
  s += opt.bmi2 && detail::host_has_bmi2() ? " bmi2" : " nobmi2";
  s += opt.registers ? " regs" : " slots";
  return s;
}

uint64_t detail::reloc_value(const Reloc& r, const exec::TranslationBlock& tb, const Options& opt) {
  switch (r.kind) {
    case RelocKind::Tb:
      return uint64_t(reinterpret_cast<const char*>(&tb) + r.addend);
    case RelocKind::Engine:
      return uint64_t(opt.engine);
    case RelocKind::TierUp:
      return uint64_t(opt.tier_up);
    case RelocKind::SlowLoad:
      return uint64_t(opt.slow_load);
    case RelocKind::SlowStore:
      return uint64_t(opt.slow_store);
    case RelocKind::SlowAtomic:
      return uint64_t(opt.slow_atomic);
    case RelocKind::SlowLoadVec:
      return uint64_t(opt.slow_load_vec);
    case RelocKind::SlowStoreVec:
      return uint64_t(opt.slow_store_vec);
    case RelocKind::GenericEval:
      return detail::generic_eval_address();
    case RelocKind::Helper:
      return uint64_t(r.helper->fn);
    case RelocKind::GuestPc:
      return tb.key.pc + uint64_t(r.addend);
    case RelocKind::JumpCacheDisp:
      return uint64_t(jump_cache_index(tb.key.pc + uint64_t(r.addend))) * sizeof(JumpCacheEntry);
    case RelocKind::JumpSite:  // not linked (apply_relocs)
    case RelocKind::Counter:   // relative to the site (place)
    case RelocKind::ExitStub:  // relative to the site (place)
    case RelocKind::Count:
      break;
  }
  return 0;
}

void apply_relocs(uint8_t* code, std::span<const Reloc> relocs, const exec::TranslationBlock& tb,
                  const Options& opt) {
  for (const Reloc& r : relocs) {
    // place() filled these in: the cell it took, the code cache's stub.
    if (r.kind == RelocKind::Counter || r.kind == RelocKind::ExitStub) continue;
    const uint64_t v = detail::reloc_value(r, tb, opt);
    std::memcpy(code + r.at, &v, reloc_width(r.kind));
  }
}

uint8_t* place(exec::TranslationBlock& tb, CodeCache& cache, std::span<const uint8_t> code,
               std::span<const Reloc> relocs) {
  auto counter = std::find_if(relocs.begin(), relocs.end(),
                              [](const Reloc& r) { return r.kind == RelocKind::Counter; });
  std::atomic<uint32_t>* cell = nullptr;
  if (counter != relocs.end() && !(cell = cache.add_counter())) return nullptr;
  uint8_t* at = cache.add(code.data(), code.size());
  if (!at) return nullptr;
  // rel32s from a site to the cell or a stub: both lie in the block's CodeCache (< 2 GiB).
  auto point = [&](uint32_t site_at, const void* target) {
    uint8_t* site = at + site_at;
    const auto rel = uint32_t(int32_t(static_cast<const uint8_t*>(target) - (site + 4)));
    std::memcpy(site, &rel, sizeof rel);
  };
  if (cell) {
    tb.use_cell(cell);
    point(counter->at, cell);
  }
  for (const Reloc& r : relocs)
    if (r.kind == RelocKind::ExitStub) point(r.at, cache.exit_stub(unsigned(r.addend)));
  return at;
}

void find_jump_sites(uint8_t* code, std::span<const Reloc> relocs, uint8_t* sites[2]) {
  sites[0] = sites[1] = nullptr;
  for (const Reloc& r : relocs)
    if (r.kind == RelocKind::JumpSite && r.addend < 2) sites[r.addend] = code + r.at;
}

void patch_jump(uint8_t* site, const uint8_t* target) {
  // Both ends lie in one CodeCache, which is smaller than 2 GiB.
  const auto rel = int32_t(target ? target - (site + 4) : 0);
  __atomic_store_n(reinterpret_cast<int32_t*>(site), rel, __ATOMIC_RELAXED);
}

}  // namespace orrery::tcg::baseline
