#include "hw/intc/lapic.h"

#include <bit>

namespace orrery::hw {

namespace {

constexpr uint32_t kIcrDeliveryStatus = 1u << 12;
// Writable bits: ICR low (vector, mode, destination mode, level, trigger, shorthand).
constexpr uint32_t kIcrLoMask = 0x000ccfff;
// Writable bits per LVT entry (timer, thermal, perf, LINT0, LINT1, error).
constexpr std::array<uint32_t, LocalApic::kLvtCount> kLvtMask = {
    0x000700ff, 0x000107ff, 0x000107ff, 0x0001a7ff, 0x0001a7ff, 0x000100ff};

bool test_bit(const std::array<uint32_t, 8>& a, unsigned v) {
  return (a[v >> 5] >> (v & 31)) & 1;
}
void set_bit(std::array<uint32_t, 8>& a, unsigned v) {
  a[v >> 5] |= 1u << (v & 31);
}
void clear_bit(std::array<uint32_t, 8>& a, unsigned v) {
  a[v >> 5] &= ~(1u << (v & 31));
}
int highest(const std::array<uint32_t, 8>& a) {
  for (int i = 7; i >= 0; --i)
    if (a[i]) return i * 32 + 31 - std::countl_zero(a[i]);
  return -1;
}

/// The register an x2APIC MSR stands for (0x800 + offset / 16).
uint32_t msr_offset(uint32_t msr) {
  return (msr - 0x800) << 4;
}

}  // namespace

LocalApic::LocalApic(Log& log, ApicBus& bus, EventLoop& loop, unsigned index, LapicOutputs& out)
    : log_(log), bus_(bus), clock_(loop.clock()), index_(index), out_(&out) {
  timer_ = std::make_unique<Timer>(loop, ClockType::kVirtual, [this] { timer_fired(); });
  reset();
}

LocalApic::~LocalApic() {
  timer_.reset();  // waits for a running handler
}

void LocalApic::reset() {
  std::lock_guard lk(mu_);
  base_ = kDefaultBase | kBaseEnable | (index_ == 0 ? kBaseBsp : 0);
  id_ = index_;
  lint_level_[0] = lint_level_[1] = false;
  // init_reset's body, without re-taking the lock.
  tpr_ = 0;
  ldr_ = 0;
  dfr_ = 0xffffffff;
  svr_ = 0xff;
  isr_ = tmr_ = irr_ = {};
  esr_ = esr_pending_ = 0;
  icr_lo_ = icr_hi_ = 0;
  for (uint32_t& l : lvt_) l = kLvtMasked;
  if (index_ == 0) lvt_[kLvtLint0] = uint32_t(ApicDelivery::kExtInt) << 8;  // QEMU's pc
  initial_ = 0;
  set_divide_locked(0);
  tsc_deadline_ = 0;
  deadline_ns_ = 0;
  next_expiry_ = -1;
  extint_msg_ = false;
  timer_->cancel();
  intr_ = false;
  out_->set_intr(false);
}

void LocalApic::disconnect() {
  std::lock_guard lk(mu_);
  out_ = &disconnected_;
}

void LocalApic::init_reset() {
  std::lock_guard lk(mu_);
  init_reset_locked();
}

void LocalApic::init_reset_locked() {
  tpr_ = 0;
  if (!(base_ & kBaseExtd)) ldr_ = 0;
  dfr_ = 0xffffffff;
  svr_ = 0xff;
  isr_ = tmr_ = irr_ = {};
  esr_ = esr_pending_ = 0;
  icr_lo_ = icr_hi_ = 0;
  for (uint32_t& l : lvt_) l = kLvtMasked;
  initial_ = 0;
  set_divide_locked(0);
  tsc_deadline_ = 0;
  deadline_ns_ = 0;
  next_expiry_ = -1;
  extint_msg_ = false;
  timer_->cancel();
  update_intr_locked();
}

// ---- the core's view ----

uint64_t LocalApic::apic_base() const {
  std::lock_guard lk(mu_);
  return base_;
}

bool LocalApic::x2apic_mode() const {
  std::lock_guard lk(mu_);
  return (base_ & kBaseExtd) != 0;
}

bool LocalApic::set_apic_base(uint64_t value) {
  std::lock_guard lk(mu_);
  const bool en = value & kBaseEnable, extd = value & kBaseExtd;
  const bool was_en = base_ & kBaseEnable, was_extd = base_ & kBaseExtd;
  // SDM 11.12.5: EXTD without EN is invalid, and x2APIC is entered only from xAPIC and left
  // only to disabled.
  if (extd && !en) return false;
  if (extd && !was_extd && !was_en) return false;
  if (!extd && was_extd && en) return false;
  if ((value & ~0xfffull) != kDefaultBase)
    log_.log(kLogUnimp, "unimp: lapic%u: APIC base moved to 0x%llx (the page stays at 0x%llx)\n",
             index_, (unsigned long long)(value & ~0xfffull), (unsigned long long)kDefaultBase);
  base_ = (value & ~kBaseBsp) | (base_ & kBaseBsp);
  if (!en && was_en) {
    // Globally disabled: the power-up state except the ID (SDM 11.4.3); LINT0 passes through.
    init_reset_locked();
    id_ = index_;
  }
  if (extd && !was_extd) {
    id_ = index_;  // the x2APIC ID is the initial APIC ID
    ldr_ = ((index_ >> 4) << 16) | (1u << (index_ & 15));
  }
  update_intr_locked();
  return true;
}

uint8_t LocalApic::read_cr8() const {
  std::lock_guard lk(mu_);
  return tpr_ >> 4;
}

void LocalApic::write_cr8(uint8_t value) {
  std::lock_guard lk(mu_);
  tpr_ = uint8_t((value & 15) << 4);
  update_intr_locked();
}

uint64_t LocalApic::tsc_deadline() const {
  std::lock_guard lk(mu_);
  return tsc_deadline_;
}

void LocalApic::set_tsc_deadline(uint64_t tsc, int64_t at_ns) {
  std::lock_guard lk(mu_);
  // Writes outside TSC-deadline mode are ignored (SDM 11.5.4.1).
  if (timer_mode_locked() != 2) return;
  tsc_deadline_ = tsc;
  deadline_ns_ = at_ns;
  timer_reload_locked(clock_.virtual_ns());
}

bool LocalApic::read_msr(uint32_t index, uint64_t& value) {
  std::lock_guard lk(mu_);
  if (!(base_ & kBaseExtd) || index < 0x800 || index > 0x8ff) return false;
  const uint32_t off = msr_offset(index);
  switch (off) {
    case kRegEoi:
    case kRegSelfIpi:
    case kRegDfr:
    case kRegApr:
    case kRegRrd:
    case kRegIcrHi:
      return false;  // write-only or absent in x2APIC mode
    case kRegIcrLo:
      value = (uint64_t(icr_hi_) << 32) | icr_lo_;
      return true;
    default:
      break;
  }
  bool ok = true;
  value = read_reg_locked(off, ok);
  return ok;
}

bool LocalApic::write_msr(uint32_t index, uint64_t value) {
  ApicMessage send;
  bool sending = false, eoi = false, ok = true;
  uint8_t eoi_vector = 0;
  {
    std::lock_guard lk(mu_);
    if (!(base_ & kBaseExtd) || index < 0x800 || index > 0x8ff) return false;
    const uint32_t off = msr_offset(index);
    // Read-only and absent registers, and reserved upper halves, fault (SDM 11.12.1.2).
    switch (off) {
      case kRegId:
      case kRegVersion:
      case kRegPpr:
      case kRegLdr:
      case kRegDfr:
      case kRegApr:
      case kRegRrd:
      case kRegIcrHi:
      case kRegTimerCurrent:
        return false;
      case kRegEoi:
      case kRegEsr:
        if (value != 0) return false;
        break;
      case kRegIcrLo:
        break;
      default:
        if (value >> 32) return false;
        if (off >= kRegIsr && off < kRegEsr) return false;
        break;
    }
    sending = write_reg_locked(off, value, true, send, eoi, eoi_vector, ok);
  }
  if (eoi) bus_.broadcast_eoi(eoi_vector);
  if (sending) bus_.deliver(send);
  return ok;
}

int LocalApic::acknowledge() {
  std::lock_guard lk(mu_);
  if (!(base_ & kBaseEnable)) return lint_level_[0] ? kAckExtInt : -1;
  if (svr_ & kSvrEnable) {
    const int v = highest_irr_locked();
    if (v >= 0 && (v & 0xf0) > (ppr_locked() & 0xf0)) {
      clear_bit(irr_, unsigned(v));
      set_bit(isr_, unsigned(v));
      update_intr_locked();
      return v;
    }
  }
  if (extint_pending_locked()) {
    extint_msg_ = false;
    update_intr_locked();
    return kAckExtInt;
  }
  // INTR went away between the request and the acknowledge (a TPR raise): spurious vector.
  if (intr_) {
    update_intr_locked();
    return svr_ & 0xff;
  }
  return -1;
}

// ---- the xAPIC page ----

MemResult LocalApic::mmio_read(uint64_t offset, unsigned size, uint64_t& value) {
  std::lock_guard lk(mu_);
  value = 0;
  if (base_ & kBaseExtd) {
    log_.log(kLogGuestErrors, "lapic%u: xAPIC page read at 0x%llx in x2APIC mode\n", index_,
             (unsigned long long)offset);
    return MemResult::Ok;
  }
  if (size != 4 || (offset & 15)) {
    log_.log(kLogGuestErrors,
             "lapic%u: %u-byte read at 0x%llx (registers are 32-bit, 16-byte "
             "aligned)\n",
             index_, size, (unsigned long long)offset);
    if (offset & 15) return MemResult::Ok;
  }
  bool ok = true;
  value = read_reg_locked(uint32_t(offset & 0xff0), ok);
  if (!ok) value = 0;
  return MemResult::Ok;
}

MemResult LocalApic::mmio_write(uint64_t offset, unsigned size, uint64_t value) {
  ApicMessage send;
  bool sending = false, eoi = false, ok = true;
  uint8_t eoi_vector = 0;
  {
    std::lock_guard lk(mu_);
    if (base_ & kBaseExtd) {
      log_.log(kLogGuestErrors, "lapic%u: xAPIC page write at 0x%llx in x2APIC mode\n", index_,
               (unsigned long long)offset);
      return MemResult::Ok;
    }
    if (size != 4 || (offset & 15)) {
      log_.log(kLogGuestErrors, "lapic%u: %u-byte write at 0x%llx ignored\n", index_, size,
               (unsigned long long)offset);
      return MemResult::Ok;
    }
    sending = write_reg_locked(uint32_t(offset & 0xff0), uint32_t(value), false, send, eoi,
                               eoi_vector, ok);
  }
  if (eoi) bus_.broadcast_eoi(eoi_vector);
  if (sending) bus_.deliver(send);
  return MemResult::Ok;
}

uint32_t LocalApic::reg(uint32_t offset) {
  std::lock_guard lk(mu_);
  bool ok = true;
  return read_reg_locked(offset, ok);
}

bool LocalApic::intr() const {
  std::lock_guard lk(mu_);
  return intr_;
}

uint32_t LocalApic::read_reg_locked(uint32_t off, bool& ok) {
  const bool x2 = base_ & kBaseExtd;
  if (off >= kRegIsr && off < kRegIsr + 0x80) return isr_[(off - kRegIsr) >> 4];
  if (off >= kRegTmr && off < kRegTmr + 0x80) return tmr_[(off - kRegTmr) >> 4];
  if (off >= kRegIrr && off < kRegIrr + 0x80) return irr_[(off - kRegIrr) >> 4];
  if (off >= kRegLvtTimer && off <= kRegLvtError) return lvt_[(off - kRegLvtTimer) >> 4];
  switch (off) {
    case kRegId:
      return x2 ? id_ : id_ << 24;
    case kRegVersion:
      return kVersion | ((kLvtCount - 1) << 16);
    case kRegTpr:
      return tpr_;
    case kRegApr: {
      // SDM 11.6.2.1 (as Pentium 4 ignores it, but the register reads this way).
      const int irrv = highest_irr_locked(), isrv = highest_isr_locked();
      const unsigned tc = tpr_ >> 4, irc = irrv < 0 ? 0 : unsigned(irrv) >> 4,
                     isc = isrv < 0 ? 0 : unsigned(isrv) >> 4;
      if (tc >= irc && tc > isc) return tpr_;
      return std::max({tc, irc, isc}) << 4;
    }
    case kRegPpr:
      return ppr_locked();
    case kRegEoi:
    case kRegRrd:
      return 0;
    case kRegLdr:
      return ldr_;
    case kRegDfr:
      return dfr_ | 0x0fffffff;
    case kRegSvr:
      return svr_;
    case kRegEsr:
      return esr_;
    case kRegIcrLo:
      return icr_lo_;
    case kRegIcrHi:
      return icr_hi_;
    case kRegTimerInit:
      return initial_;
    case kRegTimerCurrent:
      return timer_current_locked(clock_.virtual_ns());
    case kRegTimerDivide:
      return timer_divide_;
    default:
      ok = false;
      if (!x2) error_locked(kEsrIllegalReg);
      log_.log(kLogGuestErrors, "lapic%u: read of reserved register 0x%x\n", index_, off);
      return 0;
  }
}

bool LocalApic::write_reg_locked(uint32_t off, uint64_t value, bool x2, ApicMessage& send,
                                 bool& eoi, uint8_t& eoi_vector, bool& ok) {
  const uint32_t v = uint32_t(value);
  if (off >= kRegLvtTimer && off <= kRegLvtError) {
    const unsigned n = (off - kRegLvtTimer) >> 4;
    const uint32_t old = lvt_[n];
    uint32_t nv = (v & kLvtMask[n]) | (old & ~kLvtMask[n] & (kLvtRemoteIrr | kLvtPending));
    if (!(svr_ & kSvrEnable)) nv |= kLvtMasked;  // SDM 11.4.7.2: masks stay set
    lvt_[n] = nv;
    if (n == kLvtTimer) {
      if (((old ^ nv) >> 17) & 3) {
        // A mode change stops the timer: initial count and deadline are cleared.
        initial_ = 0;
        tsc_deadline_ = 0;
        deadline_ns_ = 0;
        next_expiry_ = -1;
        timer_->cancel();
      }
      timer_reload_locked(clock_.virtual_ns());
    }
    update_intr_locked();
    return false;
  }
  switch (off) {
    case kRegId:
      id_ = v >> 24;
      return false;
    case kRegTpr:
      tpr_ = uint8_t(v);
      update_intr_locked();
      return false;
    case kRegEoi:
      eoi = eoi_locked(eoi_vector);
      return false;
    case kRegLdr:
      ldr_ = v & 0xff000000;
      return false;
    case kRegDfr:
      dfr_ = v | 0x0fffffff;
      return false;
    case kRegSvr:
      svr_ = v & 0x1ff;
      if (!(svr_ & kSvrEnable))
        for (uint32_t& l : lvt_) l |= kLvtMasked;
      update_intr_locked();
      return false;
    case kRegEsr:
      esr_ = esr_pending_;
      esr_pending_ = 0;
      return false;
    case kRegIcrHi:
      icr_hi_ = v & 0xff000000;
      return false;
    case kRegIcrLo: {
      icr_lo_ = v & kIcrLoMask & ~kIcrDeliveryStatus;
      if (x2) icr_hi_ = uint32_t(value >> 32);
      send.dest = x2 ? icr_hi_ : icr_hi_ >> 24;
      send.logical = (v >> 11) & 1;
      send.mode = ApicDelivery((v >> 8) & 7);
      send.vector = uint8_t(v);
      send.assert_level = (v >> 14) & 1;
      send.level_trigger = (v >> 15) & 1;
      send.shorthand = ApicShorthand((v >> 18) & 3);
      send.source = int(index_);
      if ((send.mode == ApicDelivery::kFixed || send.mode == ApicDelivery::kLowestPriority) &&
          send.vector < 16) {
        error_locked(kEsrSendIllegal);
        return false;
      }
      if (unsigned(send.mode) == 3) {
        log_.log(kLogGuestErrors, "lapic%u: ICR with reserved delivery mode 3\n", index_);
        return false;
      }
      return true;
    }
    case kRegTimerInit:
      if (timer_mode_locked() == 2) return false;  // ignored in TSC-deadline mode
      initial_ = v;
      timer_start_ns_ = clock_.virtual_ns();
      next_expiry_ = -1;
      timer_reload_locked(timer_start_ns_);
      return false;
    case kRegTimerDivide: {
      // Keep the current count across a divider change by restarting from it.
      const int64_t now = clock_.virtual_ns();
      const uint32_t cur = timer_current_locked(now);
      set_divide_locked(v);
      if (initial_ && timer_mode_locked() != 2 && next_expiry_ >= 0) {
        timer_start_ns_ = now - (int64_t(initial_ - cur) << divide_shift_);
        timer_reload_locked(now);
      }
      return false;
    }
    case kRegSelfIpi:
      if (!x2) break;
      if (v >> 8) {
        ok = false;
        return false;
      }
      send.dest = id_;
      send.vector = uint8_t(v);
      send.shorthand = ApicShorthand::kSelf;
      send.source = int(index_);
      if (send.vector < 16) {
        error_locked(kEsrSendIllegal);
        return false;
      }
      return true;
    default:
      break;
  }
  ok = false;
  if (!x2) error_locked(kEsrIllegalReg);
  log_.log(kLogGuestErrors, "lapic%u: write of 0x%x to read-only or reserved register 0x%x\n",
           index_, v, off);
  return false;
}

// ---- interrupt state ----

int LocalApic::highest_irr_locked() const {
  return highest(irr_);
}

int LocalApic::highest_isr_locked() const {
  return highest(isr_);
}

uint8_t LocalApic::ppr_locked() const {
  const int isrv = highest_isr_locked();
  const uint8_t isr_class = isrv < 0 ? 0 : uint8_t(isrv & 0xf0);
  return (tpr_ & 0xf0) >= isr_class ? tpr_ : isr_class;
}

bool LocalApic::deliverable_locked() const {
  if (!(svr_ & kSvrEnable)) return false;
  const int v = highest_irr_locked();
  return v >= 0 && (v & 0xf0) > (ppr_locked() & 0xf0);
}

bool LocalApic::extint_pending_locked() const {
  if (extint_msg_) return true;
  const uint32_t l = lvt_[kLvtLint0];
  return lint_level_[0] && !(l & kLvtMasked) && ((l >> 8) & 7) == unsigned(ApicDelivery::kExtInt);
}

void LocalApic::update_intr_locked() {
  bool level;
  if (!(base_ & kBaseEnable))
    level = lint_level_[0];  // globally disabled: the PIC drives INTR directly
  else
    level = deliverable_locked() || extint_pending_locked();
  if (level != intr_) {
    intr_ = level;
    out_->set_intr(level);
  }
}

void LocalApic::accept_locked(uint8_t vector, bool level) {
  if (vector < 16) {
    error_locked(kEsrRecvIllegal);
    return;
  }
  set_bit(irr_, vector);
  if (level)
    set_bit(tmr_, vector);
  else
    clear_bit(tmr_, vector);
  update_intr_locked();
}

void LocalApic::error_locked(uint32_t bits) {
  const bool fresh = (esr_pending_ & bits) != bits;
  esr_pending_ |= bits;
  if (fresh && !(lvt_[kLvtError] & kLvtMasked)) {
    const uint8_t vector = uint8_t(lvt_[kLvtError]);
    // An illegal error vector does not recurse: it only records itself.
    if (vector < 16)
      esr_pending_ |= kEsrRecvIllegal;
    else
      accept_locked(vector, false);
  }
}

bool LocalApic::eoi_locked(uint8_t& vector) {
  const int v = highest_isr_locked();
  if (v < 0) return false;
  clear_bit(isr_, unsigned(v));
  update_intr_locked();
  vector = uint8_t(v);
  // Level-triggered vectors are broadcast to the IOAPICs (no directed-EOI support: version
  // bit 24 is clear).
  if (test_bit(tmr_, unsigned(v))) {
    clear_bit(tmr_, unsigned(v));
    return true;
  }
  return false;
}

void LocalApic::local_deliver_locked(Lvt n) {
  const uint32_t l = lvt_[n];
  if (l & kLvtMasked) return;
  const unsigned mode = (n == kLvtTimer || n == kLvtError) ? 0 : (l >> 8) & 7;
  switch (ApicDelivery(mode)) {
    case ApicDelivery::kFixed:
      accept_locked(uint8_t(l), (n == kLvtLint0 || n == kLvtLint1) && (l & kLvtLevel));
      return;
    case ApicDelivery::kNmi:
      out_->nmi();
      return;
    case ApicDelivery::kSmi:
      out_->smi();
      return;
    case ApicDelivery::kInit:
      init_reset_locked();
      out_->init();
      return;
    case ApicDelivery::kExtInt:
      update_intr_locked();
      return;
    default:
      log_.log(kLogGuestErrors, "lapic%u: LVT %u with reserved delivery mode %u\n", index_,
               unsigned(n), mode);
      return;
  }
}

void LocalApic::set_irq(unsigned line, bool level) {
  if (line > 1) return;
  std::lock_guard lk(mu_);
  const bool old = lint_level_[line];
  lint_level_[line] = level;
  const Lvt n = line == 0 ? kLvtLint0 : kLvtLint1;
  const uint32_t l = lvt_[n];
  if (level && !old) {
    local_deliver_locked(n);
  } else if (!level && old && !(l & kLvtMasked) && ((l >> 8) & 7) == 0 && (l & kLvtLevel)) {
    clear_bit(irr_, uint8_t(l));  // a level-triggered LINT request withdrawn
  }
  update_intr_locked();
}

// ---- the bus ----

bool LocalApic::matches(uint32_t dest, bool logical) const {
  std::lock_guard lk(mu_);
  if (!(base_ & kBaseEnable)) return false;
  const bool x2 = base_ & kBaseExtd;
  if (!logical) {
    if (x2) return dest == 0xffffffff || dest == id_;
    return (dest & 0xff) == 0xff || (dest & 0xff) == (id_ & 0xff);
  }
  if (x2) {
    const uint32_t cluster = dest >> 16;
    return (cluster == 0xffff || cluster == ldr_ >> 16) && (dest & ldr_ & 0xffff) != 0;
  }
  const uint32_t d = dest & 0xff, l = ldr_ >> 24;
  if ((dfr_ >> 28) == 0xf) return (d & l) != 0;  // flat model
  // Cluster model: cluster 15 is a broadcast to all clusters.
  return ((d >> 4) == 0xf || (d >> 4) == (l >> 4)) && (d & l & 0xf) != 0;
}

uint8_t LocalApic::arbitration_priority() const {
  std::lock_guard lk(mu_);
  return tpr_;
}

void LocalApic::receive(const ApicMessage& msg) {
  std::lock_guard lk(mu_);
  switch (msg.mode) {
    case ApicDelivery::kFixed:
    case ApicDelivery::kLowestPriority:
      accept_locked(msg.vector, msg.level_trigger);
      return;
    case ApicDelivery::kSmi:
      out_->smi();
      return;
    case ApicDelivery::kNmi:
      out_->nmi();
      return;
    case ApicDelivery::kInit:
      // INIT level de-assert only synchronises arbitration IDs (none modelled).
      if (msg.level_trigger && !msg.assert_level) return;
      init_reset_locked();
      out_->init();
      return;
    case ApicDelivery::kStartup:
      out_->startup(msg.vector);
      return;
    case ApicDelivery::kExtInt:
      extint_msg_ = true;
      update_intr_locked();
      return;
  }
  log_.log(kLogGuestErrors, "lapic%u: message with reserved delivery mode %u\n", index_,
           unsigned(msg.mode));
}

// ---- the timer ----

void LocalApic::set_divide_locked(uint32_t value) {
  timer_divide_ = value & 0xb;
  const unsigned code = (value & 3) | ((value >> 1) & 4);
  divide_shift_ = (code + 1) & 7;  // 0b111: divide by 1
}

uint32_t LocalApic::timer_current_locked(int64_t now) const {
  if (timer_mode_locked() == 2 || initial_ == 0) return 0;
  const uint64_t d = uint64_t(now - timer_start_ns_) >> divide_shift_;
  if (timer_mode_locked() == 1) return uint32_t(initial_ - d % (uint64_t(initial_) + 1));
  return d >= initial_ ? 0 : uint32_t(initial_ - d);
}

void LocalApic::timer_reload_locked(int64_t now) {
  const unsigned mode = timer_mode_locked();
  if (mode == 2) {
    if (tsc_deadline_ == 0) {
      next_expiry_ = -1;
      timer_->cancel();
      return;
    }
    next_expiry_ = deadline_ns_;
    timer_->arm_at(next_expiry_);
    return;
  }
  if (initial_ == 0 || mode == 3) {
    next_expiry_ = -1;
    timer_->cancel();
    return;
  }
  const uint64_t period = uint64_t(initial_) + 1;
  const uint64_t d = uint64_t(now - timer_start_ns_) >> divide_shift_;
  uint64_t ticks;
  if (mode == 1) {
    ticks = (d / period + 1) * period;
  } else {
    if (d >= period) {  // a one-shot count that already expired
      next_expiry_ = -1;
      timer_->cancel();
      return;
    }
    ticks = period;
  }
  next_expiry_ = timer_start_ns_ + int64_t(ticks << divide_shift_);
  timer_->arm_at(next_expiry_);
}

void LocalApic::timer_fired() {
  std::lock_guard lk(mu_);
  if (next_expiry_ < 0) return;
  const int64_t now = clock_.virtual_ns();
  if (now < next_expiry_) {
    timer_->arm_at(next_expiry_);
    return;
  }
  const unsigned mode = timer_mode_locked();
  local_deliver_locked(kLvtTimer);
  if (mode == 2) {
    tsc_deadline_ = 0;
    next_expiry_ = -1;
  } else if (mode == 1) {
    timer_reload_locked(now);
  } else {
    next_expiry_ = -1;
  }
}

}  // namespace orrery::hw
