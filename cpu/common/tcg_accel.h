// What every TCG accelerator shares, whatever its guest: one translation engine behind the
// board's memory (stale translations, TLB flushes), its code cache and its debugger. A guest's
// TCG accelerator is TcgAccel<ItsAcceleratorInterface> plus create_vcpu.
#pragma once

#include <functional>
#include <string_view>
#include <utility>

#include "tcg/exec/engine.h"

namespace orrery::cpu {

template <class Base>
class TcgAccel : public Base {
 public:
  explicit TcgAccel(tcg::exec::Engine& engine) : engine_(engine) {}
  std::string_view name() const override { return "tcg"; }
  hw::GuestWriteObserver* write_observer() override { return &engine_; }
  hw::MemoryListener* memory_listener() override { return &engine_; }
  void set_code_full_hook(std::function<void()> hook) override {
    engine_.set_code_full_hook(std::move(hook));
  }
  void flush_code() override { engine_.flush(); }
  void set_debug_stop_listener(std::function<void(bool stopped)> listener) override {
    engine_.debug().set_stop_listener(std::move(listener));
  }

 protected:
  tcg::exec::Engine& engine_;
};

}  // namespace orrery::cpu
