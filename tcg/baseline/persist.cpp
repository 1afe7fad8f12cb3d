// What a later run needs to reuse baseline code (tcg/exec/translation_cache.h): the options
// the code depends on, and filling its run-dependent immediates in again.
#include <cstring>

#include "tcg/baseline/baseline.h"
#include "tcg/baseline/detail.h"
#include "tcg/ir/helpers.h"

namespace orrery::tcg::baseline {

std::string code_config(const Options& opt) {
  // Bump kVersion when the code a block's IR becomes changes in a way the build id does not
  // show (it always does within one build).
  static constexpr const char* kVersion = "baseline-2";
  std::string s = kVersion;
  s += opt.hot_threshold && opt.tier_up ? " count" : " nocount";
  s += opt.avx2 && detail::host_has_avx2() ? " avx2" : " sse2";
  s += opt.bmi2 && detail::host_has_bmi2() ? " bmi2" : " nobmi2";
  s += opt.registers ? " regs" : " slots";
  return s;
}

void apply_relocs(uint8_t* code, std::span<const Reloc> relocs, const exec::TranslationBlock& tb,
                  const Options& opt) {
  for (const Reloc& r : relocs) {
    uint64_t v = 0;
    switch (r.kind) {
      case RelocKind::Tb:
        v = uint64_t(reinterpret_cast<const char*>(&tb) + r.addend);
        break;
      case RelocKind::Engine:
        v = uint64_t(opt.engine);
        break;
      case RelocKind::TierUp:
        v = uint64_t(opt.tier_up);
        break;
      case RelocKind::SlowLoad:
        v = uint64_t(opt.slow_load);
        break;
      case RelocKind::SlowStore:
        v = uint64_t(opt.slow_store);
        break;
      case RelocKind::SlowAtomic:
        v = uint64_t(opt.slow_atomic);
        break;
      case RelocKind::SlowLoadVec:
        v = uint64_t(opt.slow_load_vec);
        break;
      case RelocKind::SlowStoreVec:
        v = uint64_t(opt.slow_store_vec);
        break;
      case RelocKind::GenericEval:
        v = detail::generic_eval_address();
        break;
      case RelocKind::Helper:
        v = uint64_t(r.helper->fn);
        break;
      case RelocKind::Count:
        break;
    }
    std::memcpy(code + r.at, &v, sizeof v);
  }
}

}  // namespace orrery::tcg::baseline
