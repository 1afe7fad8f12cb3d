// Unicorn (QEMU 5 TCG, x86-64) behind the X86Runner interface, with the same memory layout
// as the KVM oracle. Unicorn has no AVX: VEX-encoded snippets end in #UD there.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tests/fuzz/x86/x86_runner.h"

struct uc_struct;

namespace orrery::tests::x86fuzz {

class UnicornRunner final : public X86Runner {
 public:
  static std::unique_ptr<UnicornRunner> create(std::string& why);
  ~UnicornRunner() override;
  UnicornRunner(const UnicornRunner&) = delete;
  UnicornRunner& operator=(const UnicornRunner&) = delete;

  std::string name() const override { return "unicorn"; }
  bool run(std::span<const uint8_t> code, X86UserState& state) override;
  std::string error() const override { return error_; }
  /// How many times the engine was re-created (see run()).
  uint64_t resets() const { return resets_; }

  /// Set by the interrupt hook (Unicorn reports CPU exceptions through it).
  void on_interrupt(uint32_t intno);
  /// The code hook on PCMPESTRI/PCMPESTRM: stops before an operand that crashes Unicorn.
  void on_pcmpestr(uint64_t address);

 private:
  UnicornRunner() = default;
  bool init(std::string& why);
  bool run_once(std::span<const uint8_t> code, X86UserState& state);

  uc_struct* uc_ = nullptr;
  std::string error_;
  int pending_vector_ = -1;
  bool refused_ = false;
  uint64_t resets_ = 0;
  std::vector<std::pair<uint64_t, bool>> pcmpestr_;  // address, REX.W of each PCMPESTRx
};

}  // namespace orrery::tests::x86fuzz
