// x87 helpers (see fpu_helpers.h). Arithmetic is inline host x87 code between loading the
// guest's precision/rounding control (exceptions masked) and reading the host status word back;
// `asm volatile` keeps the compiler from moving the arithmetic out of that window.
#include "cpu/x86/fpu_helpers.h"

#include <Zydis/Zydis.h>

#include <cstring>

#include "cpu/x86/exception.h"

namespace orrery::cpu::x86 {

using namespace x87;

namespace {

using LD = long double;
static_assert(sizeof(LD) == 16, "the host long double must be the x87 80-bit format");

LD to_ld(const F80& r) {
  LD v = 0;
  std::memcpy(&v, &r, 10);
  return v;
}
F80 from_ld(LD v) {
  F80 r;
  std::memcpy(static_cast<void*>(&r), &v, 10);
  return r;
}
// The negative QNaN "real indefinite", a masked invalid operation's result.
F80 indefinite() {
  F80 r;
  r.mant = 0xc000000000000000ull;
  r.sign_exp = 0xffff;
  return r;
}

class Fpu {
 public:
  explicit Fpu(X86State& s) : s_(s), x_(s.x87) {}
  unsigned phys(unsigned i) const { return (x_.top + i) & 7; }
  bool empty(unsigned i) const { return !((x_.ftw >> phys(i)) & 1); }
  LD get(unsigned i) const { return to_ld(x_.st[phys(i)]); }
  void set_raw(unsigned i, const F80& v) {
    x_.st[phys(i)] = v;
    x_.ftw |= uint8_t(1u << phys(i));
  }
  void set(unsigned i, LD v) { set_raw(i, from_ld(v)); }
  void pop() {
    x_.ftw &= uint8_t(~(1u << phys(0)));
    x_.top = (x_.top + 1) & 7;
  }
  void push_raw(const F80& v) {
    x_.top = (x_.top - 1) & 7;
    set_raw(0, v);
  }
  X87State& x() { return x_; }
  X86State& s() { return s_; }

  // Accounts the host status word of an operation: exception flags, C1 (rounded up) and,
  // for an unmasked exception, ES and B. Returns false when an unmasked IE/DE/ZE means the
  // destination must not be written.
  bool account(uint16_t sw, bool keep_cc = false) {
    uint16_t flags = sw & 0x7f;
    // An unmasked pre-computation exception (IE, DE, ZE) aborts the operation: the
    // post-computation flags and C1 of the masked run the host did are not reported.
    if (flags & ~x_.fcw & (kIe | kDe | kZe)) {
      flags &= kIe | kDe | kZe | kSf;
      sw &= uint16_t(~kC1);
    }
    x_.fsw |= flags;
    if (!keep_cc) x_.fsw = uint16_t((x_.fsw & ~kC1) | (sw & kC1));
    const uint16_t unmasked = flags & ~x_.fcw & 0x3f;
    if (unmasked) x_.fsw |= kErrSum | kB;
    return !(unmasked & (kIe | kDe | kZe));
  }
  // Stack underflow (an empty source) or overflow (a push onto a full register): IE|SF with
  // C1 = overflow. Returns true when the masked response (write the indefinite) applies.
  bool stack_fault(bool overflow) {
    x_.fsw = uint16_t((x_.fsw & ~kC1) | kIe | kSf | (overflow ? kC1 : 0));
    if (!(x_.fcw & kIe)) {
      x_.fsw |= kErrSum | kB;
      return false;
    }
    return true;
  }
  void set_cc(uint16_t cc) { x_.fsw = uint16_t((x_.fsw & ~(kC0 | kC1 | kC2 | kC3)) | cc); }
  // C1 = 0 with C0 C2 C3 as they were: what silicon (the AMD oracle) does where the SDM calls
  // them undefined (loads, register moves, FXCH, FINCSTP/FDECSTP).
  void clear_c1() { x_.fsw &= uint16_t(~kC1); }

 private:
  X86State& s_;
  X87State& x_;
};

// Runs f(cc) on the host FPU with the guest's precision and rounding control; returns the
// exception flags raised and the C0..C3 that f captured into cc right after its instruction.
template <class F>
uint16_t on_host_fpu(uint16_t fcw, F&& f) {
  uint16_t saved, sw, cc = 0xffff;  // 0xffff: f captured nothing (ES is never set here)
  const uint16_t cw = uint16_t((fcw & 0x0f00) | 0x7f);
  asm volatile("fnstcw %0" : "=m"(saved));
  asm volatile("fnclex\n\tfldcw %0" ::"m"(cw) : "memory");
  f(cc);
  asm volatile("fnstsw %0" : "=m"(sw)::"memory");
  asm volatile("fnclex\n\tfldcw %0" ::"m"(saved) : "memory");
  // The status captured right after the instruction is exact; the final one may also hold
  // the compiler's stack shuffling (e.g. popping an output FPTAN did not push).
  return cc == 0xffff ? uint16_t(sw & 0x7f) : uint16_t(cc & ~(0x3800 | kErrSum | kB));
}

// Each host instruction captures its own status word (`cc`): the compiler's register shuffling
// after it (FSTP) would clobber C1 (round-up) and leave C0/C2/C3 undefined.
#define X87_UNARY(insn) asm volatile(insn "\n\tfnstsw %1" : "=t"(r), "=a"(cc) : "0"(a))
#define X87_BINARY(insn) asm volatile(insn "\n\tfnstsw %1" : "=t"(r), "=a"(cc) : "0"(a), "u"(b))

LD arith(unsigned mn, LD a, LD b, uint16_t& cc) {
  LD r;
  switch (mn) {
    case ZYDIS_MNEMONIC_FADD:
    case ZYDIS_MNEMONIC_FADDP:
    case ZYDIS_MNEMONIC_FIADD:
      X87_BINARY("fadd %%st(1), %%st");
      break;
    case ZYDIS_MNEMONIC_FSUB:
    case ZYDIS_MNEMONIC_FSUBP:
    case ZYDIS_MNEMONIC_FISUB:
      X87_BINARY("fsub %%st(1), %%st");
      break;
    case ZYDIS_MNEMONIC_FMUL:
    case ZYDIS_MNEMONIC_FMULP:
    case ZYDIS_MNEMONIC_FIMUL:
      X87_BINARY("fmul %%st(1), %%st");
      break;
    default:  // FDIV*
      X87_BINARY("fdiv %%st(1), %%st");
      break;
  }
  return r;
}

// ST(0) op m16int/m32int/m32fp/m64fp, with the host's memory-operand instruction (its
// exception priorities differ from converting first: a QNaN ST(0) hides a denormal operand).
#define X87_MEM(insn, T) \
  asm volatile(insn " %3\n\tfnstsw %1" : "=t"(r), "=a"(cc) : "0"(a), "m"(*(const T*)&lo))
#define X87_MEM_OP(name)               \
  switch (k) {                         \
    case kInt16:                       \
      X87_MEM("fi" name "s", int16_t); \
      break;                           \
    case kInt32:                       \
      X87_MEM("fi" name "l", int32_t); \
      break;                           \
    case kF32:                         \
      X87_MEM("f" name "s", float);    \
      break;                           \
    default:                           \
      X87_MEM("f" name "l", double);   \
      break;                           \
  }
LD arith_mem(unsigned mn, MemKind k, LD a, uint64_t lo, uint16_t& cc) {
  LD r;
  switch (mn) {
    case ZYDIS_MNEMONIC_FADD:
    case ZYDIS_MNEMONIC_FIADD:
      X87_MEM_OP("add");
      break;
    case ZYDIS_MNEMONIC_FSUB:
    case ZYDIS_MNEMONIC_FISUB:
      X87_MEM_OP("sub");
      break;
    case ZYDIS_MNEMONIC_FSUBR:
    case ZYDIS_MNEMONIC_FISUBR:
      X87_MEM_OP("subr");
      break;
    case ZYDIS_MNEMONIC_FMUL:
    case ZYDIS_MNEMONIC_FIMUL:
      X87_MEM_OP("mul");
      break;
    case ZYDIS_MNEMONIC_FDIV:
    case ZYDIS_MNEMONIC_FIDIV:
      X87_MEM_OP("div");
      break;
    default:
      X87_MEM_OP("divr");
      break;
  }
  return r;
}
#undef X87_MEM
// FCOM/FICOM with a memory operand: C3 C2 C0.
uint16_t compare_mem(MemKind k, LD a, uint64_t lo) {
  uint16_t cc;
#define X87_CMP(insn, T) \
  asm volatile(insn " %1\n\tfnstsw %0" : "=a"(cc) : "m"(*(const T*)&lo), "t"(a))
  switch (k) {
    case kInt16:
      X87_CMP("ficoms", int16_t);
      break;
    case kInt32:
      X87_CMP("ficoml", int32_t);
      break;
    case kF32:
      X87_CMP("fcoms", float);
      break;
    default:
      X87_CMP("fcoml", double);
      break;
  }
#undef X87_CMP
  return cc & (kC0 | kC2 | kC3);
}

bool reversed(unsigned mn) {
  switch (mn) {
    case ZYDIS_MNEMONIC_FSUBR:
    case ZYDIS_MNEMONIC_FSUBRP:
    case ZYDIS_MNEMONIC_FISUBR:
    case ZYDIS_MNEMONIC_FDIVR:
    case ZYDIS_MNEMONIC_FDIVRP:
    case ZYDIS_MNEMONIC_FIDIVR:
      return true;
    default:
      return false;
  }
}
unsigned base_op(unsigned mn) {
  switch (mn) {
    case ZYDIS_MNEMONIC_FSUBR:
    case ZYDIS_MNEMONIC_FSUBRP:
    case ZYDIS_MNEMONIC_FISUBR:
      return ZYDIS_MNEMONIC_FSUB;
    case ZYDIS_MNEMONIC_FDIVR:
    case ZYDIS_MNEMONIC_FDIVRP:
    case ZYDIS_MNEMONIC_FIDIVR:
      return ZYDIS_MNEMONIC_FDIV;
    default:
      return mn;
  }
}

// A memory operand as a long double (inside the host window: m32/m64 SNaNs and denormals
// raise IE/DE there, as on hardware).
LD load_mem(MemKind k, uint64_t lo, uint64_t hi) {
  LD r;  // loads leave C1 = 0 (set by the callers)
  switch (k) {
    case kInt16:
      return LD(int16_t(lo));
    case kInt32:
      return LD(int32_t(lo));
    case kInt64:
      return LD(int64_t(lo));
    case kF32: {
      const uint32_t v = uint32_t(lo);
      asm volatile("flds %1" : "=t"(r) : "m"(v));
      return r;
    }
    case kF64:
      asm volatile("fldl %1" : "=t"(r) : "m"(lo));
      return r;
    case kBcd: {
      const uint64_t m[2] = {lo, hi};
      asm volatile("fbld %1" : "=t"(r) : "m"(*reinterpret_cast<const char(*)[10]>(m)));
      return r;
    }
    default: {
      F80 f;
      f.mant = lo;
      f.sign_exp = uint16_t(hi);
      return to_ld(f);
    }
  }
}

// ST(0) converted for a store (FST/FIST/FISTTP/FBSTP); [lo, hi] of the stored bytes.
void store_mem(unsigned mn, MemKind k, LD v, uint64_t out[2], uint16_t& cc) {
  out[0] = out[1] = 0;
  const bool trunc = mn == ZYDIS_MNEMONIC_FISTTP;
  switch (k) {
    case kInt16: {
      int16_t i;
      if (trunc)
        asm volatile("fld %%st(0)\n\tfisttps %0\n\tfnstsw %1" : "=m"(i), "=a"(cc) : "t"(v));
      else
        asm volatile("fists %0\n\tfnstsw %1" : "=m"(i), "=a"(cc) : "t"(v));
      out[0] = uint16_t(i);
      break;
    }
    case kInt32: {
      int32_t i;
      if (trunc)
        asm volatile("fld %%st(0)\n\tfisttpl %0\n\tfnstsw %1" : "=m"(i), "=a"(cc) : "t"(v));
      else
        asm volatile("fistl %0\n\tfnstsw %1" : "=m"(i), "=a"(cc) : "t"(v));
      out[0] = uint32_t(i);
      break;
    }
    case kInt64: {
      int64_t i;
      if (trunc)
        asm volatile("fld %%st(0)\n\tfisttpll %0\n\tfnstsw %1" : "=m"(i), "=a"(cc) : "t"(v));
      else
        asm volatile("fld %%st(0)\n\tfistpll %0\n\tfnstsw %1" : "=m"(i), "=a"(cc) : "t"(v));
      out[0] = uint64_t(i);
      break;
    }
    case kF32: {
      uint32_t f;
      asm volatile("fsts %0\n\tfnstsw %1" : "=m"(f), "=a"(cc) : "t"(v));
      out[0] = f;
      break;
    }
    case kF64:
      asm volatile("fstl %0\n\tfnstsw %1" : "=m"(out[0]), "=a"(cc) : "t"(v));
      break;
    case kBcd:
      asm volatile("fld %%st(0)\n\tfbstp %0\n\tfnstsw %1"
                   : "=m"(*reinterpret_cast<char(*)[10]>(out)), "=a"(cc)
                   : "t"(v));
      break;
    default: {
      const F80 f = from_ld(v);
      out[0] = f.mant;
      out[1] = f.sign_exp;
      break;
    }
  }
}

// FCOM-family compare of a with b: C3 C2 C0 (or ZF PF CF for FCOMI) from the host.
uint16_t compare(LD a, LD b, bool quiet) {
  bool z, p, c;
  if (quiet)
    asm volatile("fucomi %%st(1), %%st" : "=@ccz"(z), "=@ccp"(p), "=@ccc"(c) : "t"(a), "u"(b));
  else
    asm volatile("fcomi %%st(1), %%st" : "=@ccz"(z), "=@ccp"(p), "=@ccc"(c) : "t"(a), "u"(b));
  return uint16_t((z ? kC3 : 0) | (p ? kC2 : 0) | (c ? kC0 : 0));
}

uint64_t eflags_of(uint16_t cc) {
  return ((cc & kC3) ? eflags::kZf : 0) | ((cc & kC2) ? eflags::kPf : 0) |
         ((cc & kC0) ? eflags::kCf : 0);
}

uint64_t x87_op(X86State& s, uint64_t packed, uint64_t lo, uint64_t hi) {
  Fpu f(s);
  const unsigned mn = packed & 0xffff;
  const unsigned d = (packed >> kDstShift) & 7, sr = (packed >> kSrcShift) & 7;
  const MemKind mk = MemKind((packed >> kMemShift) & 7);
  const uint16_t fcw = s.x87.fcw;
  switch (mn) {
    // ---- Loads ----
    case ZYDIS_MNEMONIC_FLD:
    case ZYDIS_MNEMONIC_FILD:
    case ZYDIS_MNEMONIC_FBLD: {
      const bool src_empty = mk == kNone && f.empty(sr);
      const LD src = mk == kNone ? f.get(sr) : LD(0);
      if (src_empty) {  // before overflow: an empty source is underflow (C1 = 0) on silicon
        if (f.stack_fault(false)) f.push_raw(indefinite());
        return 0;
      }
      if (!f.empty(7)) {  // the register that becomes ST(0) is in use: overflow
        if (f.stack_fault(true)) f.push_raw(indefinite());
        return 0;
      }
      if (mk == kNone || mk == kF80) {  // register and m80 loads never raise
        mk == kNone ? f.push_raw(from_ld(src)) : f.push_raw(from_ld(load_mem(mk, lo, hi)));
        f.clear_c1();
        return 0;
      }
      volatile LD v = 0;
      const uint16_t sw = on_host_fpu(fcw, [&](uint16_t& cc) { v = load_mem(mk, lo, hi); });
      if (f.account(sw)) f.push_raw(from_ld(v));
      f.clear_c1();
      return 0;
    }
    case ZYDIS_MNEMONIC_FLD1:
    case ZYDIS_MNEMONIC_FLDZ:
    case ZYDIS_MNEMONIC_FLDPI:
    case ZYDIS_MNEMONIC_FLDL2E:
    case ZYDIS_MNEMONIC_FLDL2T:
    case ZYDIS_MNEMONIC_FLDLG2:
    case ZYDIS_MNEMONIC_FLDLN2: {
      if (!f.empty(7)) {
        if (f.stack_fault(true)) f.push_raw(indefinite());
        return 0;
      }
      volatile LD v = 0;
      on_host_fpu(fcw, [&](uint16_t& cc) {
        LD r;
        switch (mn) {
          case ZYDIS_MNEMONIC_FLD1:
            asm volatile("fld1" : "=t"(r));
            break;
          case ZYDIS_MNEMONIC_FLDZ:
            asm volatile("fldz" : "=t"(r));
            break;
          case ZYDIS_MNEMONIC_FLDPI:
            asm volatile("fldpi" : "=t"(r));
            break;
          case ZYDIS_MNEMONIC_FLDL2E:
            asm volatile("fldl2e" : "=t"(r));
            break;
          case ZYDIS_MNEMONIC_FLDL2T:
            asm volatile("fldl2t" : "=t"(r));
            break;
          case ZYDIS_MNEMONIC_FLDLG2:
            asm volatile("fldlg2" : "=t"(r));
            break;
          default:
            asm volatile("fldln2" : "=t"(r));
            break;
        }
        v = r;
      });
      f.push_raw(from_ld(v));
      f.clear_c1();
      return 0;
    }
    // ---- Stores ----
    case ZYDIS_MNEMONIC_FST:
    case ZYDIS_MNEMONIC_FSTP:
    case ZYDIS_MNEMONIC_FIST:
    case ZYDIS_MNEMONIC_FISTP:
    case ZYDIS_MNEMONIC_FISTTP:
    case ZYDIS_MNEMONIC_FBSTP: {
      const bool pops = mn != ZYDIS_MNEMONIC_FST && mn != ZYDIS_MNEMONIC_FIST;
      // kPhaseLo/kPhaseHi: only compute the stored bytes (the translator stores them before
      // the committing call, so a faulting store leaves the FPU unchanged).
      const bool compute_only = packed & (kPhaseLo | kPhaseHi);
      const bool hi_phase = packed & kPhaseHi;
      uint64_t out[2] = {0, 0};
      if (f.empty(0)) {
        const bool masked = compute_only || f.stack_fault(false);
        if (mk == kNone) {
          if (masked) f.set_raw(d, indefinite());
        } else {
          // The masked response stores the indefinite of the destination format.
          static const uint64_t kIndef[] = {
              0, 0x8000, 0x80000000, 0x8000000000000000ull, 0xffc00000, 0xfff8000000000000ull};
          out[0] = mk == kF80 ? indefinite().mant : mk == kBcd ? 0 : kIndef[mk];
          out[1] = mk == kF80 ? 0xffff : mk == kBcd ? 0xffff : 0;
          if (mk == kBcd) out[0] = 0xc000000000000000ull;
        }
        if (pops && !compute_only) f.pop();
        return hi_phase ? out[1] : out[0];
      }
      const LD v = f.get(0);
      if (mk == kNone) {  // FST/FSTP ST(i): a register copy
        f.set(d, v);
        f.clear_c1();
        if (pops) f.pop();
        return 0;
      }
      const uint16_t sw = on_host_fpu(fcw, [&](uint16_t& cc) {
        uint64_t tmp[2];
        store_mem(mn, mk, v, tmp, cc);
        volatile uint64_t* o = out;
        o[0] = tmp[0];
        o[1] = tmp[1];
      });
      if (compute_only) return hi_phase ? out[1] : out[0];
      f.account(sw);
      if (pops) f.pop();
      return hi_phase ? out[1] : out[0];
    }
    // ---- Arithmetic ----
    case ZYDIS_MNEMONIC_FADD:
    case ZYDIS_MNEMONIC_FADDP:
    case ZYDIS_MNEMONIC_FIADD:
    case ZYDIS_MNEMONIC_FSUB:
    case ZYDIS_MNEMONIC_FSUBP:
    case ZYDIS_MNEMONIC_FISUB:
    case ZYDIS_MNEMONIC_FSUBR:
    case ZYDIS_MNEMONIC_FSUBRP:
    case ZYDIS_MNEMONIC_FISUBR:
    case ZYDIS_MNEMONIC_FMUL:
    case ZYDIS_MNEMONIC_FMULP:
    case ZYDIS_MNEMONIC_FIMUL:
    case ZYDIS_MNEMONIC_FDIV:
    case ZYDIS_MNEMONIC_FDIVP:
    case ZYDIS_MNEMONIC_FIDIV:
    case ZYDIS_MNEMONIC_FDIVR:
    case ZYDIS_MNEMONIC_FDIVRP:
    case ZYDIS_MNEMONIC_FIDIVR: {
      const bool pops = mn == ZYDIS_MNEMONIC_FADDP || mn == ZYDIS_MNEMONIC_FSUBP ||
                        mn == ZYDIS_MNEMONIC_FSUBRP || mn == ZYDIS_MNEMONIC_FMULP ||
                        mn == ZYDIS_MNEMONIC_FDIVP || mn == ZYDIS_MNEMONIC_FDIVRP;
      const unsigned dst = mk == kNone ? d : 0;
      if (f.empty(dst) || (mk == kNone && f.empty(sr))) {
        if (f.stack_fault(false)) f.set_raw(dst, indefinite());
        if (pops) f.pop();
        return 0;
      }
      const LD a = f.get(dst);
      const LD b0 = mk == kNone ? f.get(sr) : LD(0);
      volatile LD v = 0;
      const uint16_t sw = on_host_fpu(fcw, [&](uint16_t& cc) {
        if (mk != kNone) {
          v = arith_mem(mn, mk, a, lo, cc);
          return;
        }
        v = reversed(mn) ? arith(base_op(mn), b0, a, cc) : arith(base_op(mn), a, b0, cc);
      });
      if (f.account(sw)) f.set(dst, v);
      if (pops) f.pop();
      return 0;
    }
    // ---- Compares ----
    case ZYDIS_MNEMONIC_FCOM:
    case ZYDIS_MNEMONIC_FCOMP:
    case ZYDIS_MNEMONIC_FCOMPP:
    case ZYDIS_MNEMONIC_FUCOM:
    case ZYDIS_MNEMONIC_FUCOMP:
    case ZYDIS_MNEMONIC_FUCOMPP:
    case ZYDIS_MNEMONIC_FICOM:
    case ZYDIS_MNEMONIC_FICOMP:
    case ZYDIS_MNEMONIC_FTST:
    case ZYDIS_MNEMONIC_FCOMI:
    case ZYDIS_MNEMONIC_FCOMIP:
    case ZYDIS_MNEMONIC_FUCOMI:
    case ZYDIS_MNEMONIC_FUCOMIP: {
      const unsigned pops = (mn == ZYDIS_MNEMONIC_FCOMPP || mn == ZYDIS_MNEMONIC_FUCOMPP) ? 2
                            : (mn == ZYDIS_MNEMONIC_FCOMP || mn == ZYDIS_MNEMONIC_FUCOMP ||
                               mn == ZYDIS_MNEMONIC_FICOMP || mn == ZYDIS_MNEMONIC_FCOMIP ||
                               mn == ZYDIS_MNEMONIC_FUCOMIP)
                                ? 1
                                : 0;
      const bool quiet = mn == ZYDIS_MNEMONIC_FUCOM || mn == ZYDIS_MNEMONIC_FUCOMP ||
                         mn == ZYDIS_MNEMONIC_FUCOMPP || mn == ZYDIS_MNEMONIC_FUCOMI ||
                         mn == ZYDIS_MNEMONIC_FUCOMIP;
      const bool to_eflags = mn == ZYDIS_MNEMONIC_FCOMI || mn == ZYDIS_MNEMONIC_FCOMIP ||
                             mn == ZYDIS_MNEMONIC_FUCOMI || mn == ZYDIS_MNEMONIC_FUCOMIP;
      const bool tst = mn == ZYDIS_MNEMONIC_FTST;
      uint16_t cc = kC3 | kC2 | kC0;
      if (f.empty(0) || (mk == kNone && !tst && f.empty(sr))) {
        f.stack_fault(false);
      } else {
        const LD a = f.get(0);
        const LD b0 = mk == kNone && !tst ? f.get(sr) : LD(0);
        volatile uint16_t r = 0;
        const uint16_t sw = on_host_fpu(fcw, [&](uint16_t& cc) {
          (void)cc;
          r = mk == kNone ? compare(a, b0, quiet) : compare_mem(mk, a, lo);
        });
        f.account(sw, to_eflags);  // FCOMI keeps C1 (FCOM sets it below)
        cc = r;
      }
      uint64_t ret = 0;
      if (to_eflags) {  // FCOMI/FUCOMI(P): C0..C3 unaffected, C1 too (AMD) unless a stack fault
        ret = eflags_of(cc);
      } else {
        f.set_cc(cc);
      }
      for (unsigned i = 0; i < pops; ++i) f.pop();
      return ret;
    }
    case ZYDIS_MNEMONIC_FXAM: {
      const F80 v = f.x().st[f.phys(0)];
      uint16_t cc = (v.sign_exp & 0x8000) ? kC1 : 0;
      if (f.empty(0)) {
        cc |= kC3 | kC0;
      } else {
        uint16_t sw;
        const LD a = to_ld(v);
        asm volatile("fxam\n\tfnstsw %0" : "=a"(sw) : "t"(a));
        cc = sw & (kC0 | kC1 | kC2 | kC3);
      }
      f.set_cc(cc);
      return 0;
    }
    // ---- Register operations ----
    case ZYDIS_MNEMONIC_FXCH: {
      if (f.empty(0) || f.empty(sr)) {
        if (!f.stack_fault(false)) return 0;
        if (f.empty(0)) f.set_raw(0, indefinite());
        if (f.empty(sr)) f.set_raw(sr, indefinite());
      }
      const F80 a = f.x().st[f.phys(0)], b = f.x().st[f.phys(sr)];
      f.set_raw(0, b);
      f.set_raw(sr, a);
      f.clear_c1();
      return 0;
    }
    case ZYDIS_MNEMONIC_FFREE:
      f.x().ftw &= uint8_t(~(1u << f.phys(sr)));
      return 0;
    case ZYDIS_MNEMONIC_FFREEP:
      f.x().ftw &= uint8_t(~(1u << f.phys(sr)));
      f.pop();
      return 0;
    case ZYDIS_MNEMONIC_FINCSTP:
      f.x().top = (f.x().top + 1) & 7;
      f.clear_c1();
      return 0;
    case ZYDIS_MNEMONIC_FDECSTP:
      f.x().top = (f.x().top - 1) & 7;
      f.clear_c1();
      return 0;
    case ZYDIS_MNEMONIC_FNINIT:
      s.x87.fcw = 0x037f;
      s.x87.fsw = 0;
      s.x87.top = 0;
      s.x87.ftw = 0;
      s.x87.fip = s.x87.fdp = 0;
      s.x87.fop = 0;
      s.x87.fcs = s.x87.fds = 0;
      return 0;
    case ZYDIS_MNEMONIC_FNCLEX:
      s.x87.fsw &= uint16_t(~(0xff | kB));
      return 0;
    case ZYDIS_MNEMONIC_FCMOVB:
    case ZYDIS_MNEMONIC_FCMOVE:
    case ZYDIS_MNEMONIC_FCMOVBE:
    case ZYDIS_MNEMONIC_FCMOVU:
    case ZYDIS_MNEMONIC_FCMOVNB:
    case ZYDIS_MNEMONIC_FCMOVNE:
    case ZYDIS_MNEMONIC_FCMOVNBE:
    case ZYDIS_MNEMONIC_FCMOVNU: {
      // lo: the condition, evaluated by the translator.
      if (f.empty(0) || f.empty(sr)) {
        if (f.stack_fault(false)) f.set_raw(0, indefinite());
        return 0;
      }
      if (lo) f.set_raw(0, f.x().st[f.phys(sr)]);  // C0..C3 unchanged, C1 too (AMD)
      return 0;
    }
    // ---- Unary and transcendental: ST(0) (and ST(1)) through the host instruction ----
    case ZYDIS_MNEMONIC_FCHS:
    case ZYDIS_MNEMONIC_FABS:
    case ZYDIS_MNEMONIC_FSQRT:
    case ZYDIS_MNEMONIC_FRNDINT:
    case ZYDIS_MNEMONIC_F2XM1:
    case ZYDIS_MNEMONIC_FSIN:
    case ZYDIS_MNEMONIC_FCOS: {
      if (f.empty(0)) {
        if (f.stack_fault(false)) f.set_raw(0, indefinite());
        return 0;
      }
      const LD a = f.get(0);
      volatile LD v = 0;
      const uint16_t sw = on_host_fpu(fcw, [&](uint16_t& cc) {
        LD r;
        switch (mn) {
          case ZYDIS_MNEMONIC_FCHS:
            X87_UNARY("fchs");
            break;
          case ZYDIS_MNEMONIC_FABS:
            X87_UNARY("fabs");
            break;
          case ZYDIS_MNEMONIC_FSQRT:
            X87_UNARY("fsqrt");
            break;
          case ZYDIS_MNEMONIC_FRNDINT:
            X87_UNARY("frndint");
            break;
          case ZYDIS_MNEMONIC_F2XM1:
            X87_UNARY("f2xm1");
            break;
          case ZYDIS_MNEMONIC_FSIN:
            X87_UNARY("fsin");
            break;
          default:
            X87_UNARY("fcos");
            break;
        }
        v = r;
      });
      const bool ok = f.account(sw);
      // C2: FSIN/FCOS operand out of range; C0 C3 (and C2 elsewhere) undefined: kept.
      const bool trig = mn == ZYDIS_MNEMONIC_FSIN || mn == ZYDIS_MNEMONIC_FCOS;
      f.set_cc((f.x().fsw & (kC0 | kC1 | kC3 | (trig ? 0 : kC2))) | (trig ? sw & kC2 : 0));
      if (ok) f.set(0, v);
      return 0;
    }
    case ZYDIS_MNEMONIC_FSCALE:
    case ZYDIS_MNEMONIC_FPREM:
    case ZYDIS_MNEMONIC_FPREM1:
    case ZYDIS_MNEMONIC_FPATAN:
    case ZYDIS_MNEMONIC_FYL2X:
    case ZYDIS_MNEMONIC_FYL2XP1: {
      const bool pops =
          mn == ZYDIS_MNEMONIC_FPATAN || mn == ZYDIS_MNEMONIC_FYL2X || mn == ZYDIS_MNEMONIC_FYL2XP1;
      const unsigned dst = pops ? 1 : 0;
      if (f.empty(0) || f.empty(1)) {
        // FPREM/FPREM1 clear C2 ("complete") on a stack fault too; C0 C3 stay (AMD).
        if (mn == ZYDIS_MNEMONIC_FPREM || mn == ZYDIS_MNEMONIC_FPREM1) f.x().fsw &= uint16_t(~kC2);
        if (f.stack_fault(false)) f.set_raw(dst, indefinite());
        if (pops) f.pop();
        return 0;
      }
      const LD a = f.get(0), b = f.get(1);
      volatile LD v = 0;
      const uint16_t sw = on_host_fpu(fcw, [&](uint16_t& cc) {
        LD r;
        switch (mn) {
          case ZYDIS_MNEMONIC_FSCALE:
            X87_BINARY("fscale");
            break;
          case ZYDIS_MNEMONIC_FPREM:
            X87_BINARY("fprem");
            break;
          case ZYDIS_MNEMONIC_FPREM1:
            X87_BINARY("fprem1");
            break;
          case ZYDIS_MNEMONIC_FPATAN:
            asm volatile("fpatan\n\tfnstsw %1" : "=t"(r), "=a"(cc) : "0"(a), "u"(b) : "st(1)");
            break;
          case ZYDIS_MNEMONIC_FYL2X:
            asm volatile("fyl2x\n\tfnstsw %1" : "=t"(r), "=a"(cc) : "0"(a), "u"(b) : "st(1)");
            break;
          default:
            asm volatile("fyl2xp1\n\tfnstsw %1" : "=t"(r), "=a"(cc) : "0"(a), "u"(b) : "st(1)");
            break;
        }
        v = r;
      });
      const bool prem = mn == ZYDIS_MNEMONIC_FPREM || mn == ZYDIS_MNEMONIC_FPREM1;
      const bool ok = f.account(sw, prem);
      // An invalid or NaN operand computes no quotient: C0 C3 stay as they were, C1 C2 are
      // cleared (AMD); the host's own C0/C3 there are stale.
      const bool no_quotient = (sw & kIe) || __builtin_isnan(a) || __builtin_isnan(b);
      if (prem) f.set_cc(no_quotient ? f.x().fsw & (kC0 | kC3) : sw & (kC0 | kC1 | kC2 | kC3));
      if (ok) f.set(dst, v);
      if (pops) f.pop();
      return 0;
    }
    case ZYDIS_MNEMONIC_FPTAN:
    case ZYDIS_MNEMONIC_FSINCOS:
    case ZYDIS_MNEMONIC_FXTRACT: {
      if (f.empty(0) || !f.empty(7)) {
        const bool over = !f.empty(0);
        if (f.stack_fault(over)) {
          f.set_raw(0, indefinite());
          f.push_raw(indefinite());
        }
        return 0;
      }
      const LD a = f.get(0);
      volatile LD v0 = 0, v1 = 0;
      const uint16_t sw = on_host_fpu(fcw, [&](uint16_t& cc) {
        LD t0, t1;
        switch (mn) {
          case ZYDIS_MNEMONIC_FPTAN:
            asm volatile("fptan\n\tfnstsw %2" : "=t"(t0), "=u"(t1), "=a"(cc) : "0"(a));
            break;
          case ZYDIS_MNEMONIC_FSINCOS:
            asm volatile("fsincos\n\tfnstsw %2" : "=t"(t0), "=u"(t1), "=a"(cc) : "0"(a));
            break;
          default:
            asm volatile("fxtract\n\tfnstsw %2" : "=t"(t0), "=u"(t1), "=a"(cc) : "0"(a));
            break;
        }
        v0 = t0;
        v1 = t1;
      });
      const bool ok = f.account(sw);
      const bool trig = mn != ZYDIS_MNEMONIC_FXTRACT;  // C2 defined (out of range)
      f.set_cc((f.x().fsw & (kC0 | kC1 | kC3 | (trig ? 0 : kC2))) | (trig ? sw & kC2 : 0));
      if (ok && !(trig && (sw & kC2))) {  // C2: out of range, ST(0) unchanged and nothing pushed
        f.set(0, v1);
        f.push_raw(from_ld(v0));
      }
      return 0;
    }
    default:
      return 0;
  }
}

uint64_t helper_x87(tcg::CpuCommon* c, uint64_t packed, uint64_t lo, uint64_t hi) {
  return x87_op(state_of(c), packed, lo, hi);
}

uint64_t helper_x87_mf(tcg::CpuCommon* c, uint64_t, uint64_t insn_pc, uint64_t) {
  raise_exception(state_of(c), vec::kMf, -1, insn_pc);
  return 0;
}

// ---- Save images ----

unsigned image_size(Image k) {
  switch (k) {
    case kEnv16:
      return 14;
    case kEnv32:
      return 28;
    case kSave16:
      return 94;
    case kSave32:
      return 108;
    default:
      return 512;
  }
}

template <class T>
void put(uint8_t* img, unsigned off, T v) {
  std::memcpy(img + off, &v, sizeof v);
}
template <class T>
T take(const uint8_t* img, unsigned off) {
  T v;
  std::memcpy(&v, img + off, sizeof v);
  return v;
}

void build_image(const X86State& s, Image k, uint64_t arg, uint8_t* img) {
  const bool wide = arg & 0x80;
  const unsigned n_xmm = (arg & 0x40) ? 16 : 8;
  const X87State& x = s.x87;
  std::memset(img, 0, 512);
  const unsigned regs_at = k == kSave16 ? 14 : k == kSave32 ? 28 : k == kFxsave ? 32 : 0;
  if (k == kFxsave) {
    put<uint16_t>(img, 0, x.fcw);
    put<uint16_t>(img, 2, status_word(x));
    img[4] = x.ftw;
    put<uint16_t>(img, 6, x.fop);
    if (wide) {
      put<uint64_t>(img, 8, x.fip);
      put<uint64_t>(img, 16, x.fdp);
    } else {
      put<uint32_t>(img, 8, uint32_t(x.fip));
      put<uint16_t>(img, 12, x.fcs);
      put<uint32_t>(img, 16, uint32_t(x.fdp));
      put<uint16_t>(img, 20, x.fds);
    }
    put<uint32_t>(img, 24, s.mxcsr);
    put<uint32_t>(img, 28, 0xffff);
    for (unsigned i = 0; i < 8; ++i) std::memcpy(img + 32 + 16 * i, &x.st[(x.top + i) & 7], 10);
    for (unsigned i = 0; i < n_xmm; ++i) std::memcpy(img + 160 + 16 * i, &s.ymm[i], 16);
    return;
  }
  const bool e32 = k == kEnv32 || k == kSave32;
  const unsigned w = e32 ? 4 : 2;
  put<uint16_t>(img, 0, x.fcw);
  put<uint16_t>(img, w, status_word(x));
  put<uint16_t>(img, 2 * w, full_tag_word(x));
  if (e32) {
    // The upper halves of the FCW/FSW/FTW doublewords read as ones, as hardware stores them.
    put<uint16_t>(img, 2, 0xffff);
    put<uint16_t>(img, 6, 0xffff);
    put<uint16_t>(img, 10, 0xffff);
    put<uint32_t>(img, 12, uint32_t(x.fip));
    put<uint16_t>(img, 16, x.fcs);
    put<uint16_t>(img, 18, uint16_t(x.fop & 0x7ff));
    put<uint32_t>(img, 20, uint32_t(x.fdp));
    put<uint16_t>(img, 24, x.fds);
  } else {
    put<uint16_t>(img, 6, uint16_t(x.fip));
    put<uint16_t>(img, 8, x.fcs);
    put<uint16_t>(img, 10, uint16_t(x.fdp));
    put<uint16_t>(img, 12, x.fds);
  }
  if (regs_at)
    for (unsigned i = 0; i < 8; ++i)
      std::memcpy(img + regs_at + 10 * i, &x.st[(x.top + i) & 7], 10);
}

void parse_image(X86State& s, Image k, uint64_t arg, const uint8_t* img) {
  const bool wide = arg & 0x80;
  const unsigned n_xmm = (arg & 0x40) ? 16 : 8;
  X87State& x = s.x87;
  if (k == kFxsave) {
    x.fcw = uint16_t((take<uint16_t>(img, 0) & 0x1f3f) | 0x40);
    const uint16_t sw = take<uint16_t>(img, 2);
    x.top = (sw >> 11) & 7;
    x.fsw = sw & ~0x3800;
    x.ftw = img[4];
    x.fop = take<uint16_t>(img, 6) & 0x7ff;
    if (wide) {
      x.fip = take<uint64_t>(img, 8);
      x.fdp = take<uint64_t>(img, 16);
    } else {
      x.fip = take<uint32_t>(img, 8);
      x.fcs = take<uint16_t>(img, 12);
      x.fdp = take<uint32_t>(img, 16);
      x.fds = take<uint16_t>(img, 20);
    }
    s.mxcsr = take<uint32_t>(img, 24);  // reserved bits were checked before the restore
    for (unsigned i = 0; i < 8; ++i)
      std::memcpy(static_cast<void*>(&x.st[(x.top + i) & 7]), img + 32 + 16 * i, 10);
    for (unsigned i = 0; i < n_xmm; ++i)
      std::memcpy(static_cast<void*>(&s.ymm[i]), img + 160 + 16 * i, 16);
    return;
  }
  const bool e32 = k == kEnv32 || k == kSave32;
  const unsigned w = e32 ? 4 : 2;
  x.fcw = uint16_t((take<uint16_t>(img, 0) & 0x1f3f) | 0x40);
  const uint16_t sw = take<uint16_t>(img, w);
  x.top = (sw >> 11) & 7;
  x.fsw = sw & ~0x3800;
  const uint16_t tw = take<uint16_t>(img, 2 * w);
  x.ftw = 0;
  for (unsigned p = 0; p < 8; ++p)
    if (((tw >> (2 * p)) & 3) != 3) x.ftw |= uint8_t(1u << p);
  if (e32) {
    x.fip = take<uint32_t>(img, 12);
    x.fcs = take<uint16_t>(img, 16);
    x.fop = take<uint16_t>(img, 18) & 0x7ff;
    x.fdp = take<uint32_t>(img, 20);
    x.fds = take<uint16_t>(img, 24);
  } else {
    x.fip = take<uint16_t>(img, 6);
    x.fcs = take<uint16_t>(img, 8);
    x.fdp = take<uint16_t>(img, 10);
    x.fds = take<uint16_t>(img, 12);
  }
  const unsigned regs_at = k == kSave16 ? 14 : k == kSave32 ? 28 : 0;
  if (regs_at)
    for (unsigned i = 0; i < 8; ++i)
      std::memcpy(static_cast<void*>(&x.st[(x.top + i) & 7]), img + regs_at + 10 * i, 10);
}

uint64_t helper_image_read(tcg::CpuCommon* c, uint64_t arg, uint64_t, uint64_t) {
  uint8_t img[512 + 8];
  const Image k = Image(arg & 7);
  build_image(state_of(c), k, arg, img);
  const unsigned off = unsigned(arg >> 8) % image_size(k);
  return take<uint64_t>(img, off);
}

uint64_t helper_image_write(tcg::CpuCommon* c, uint64_t arg, uint64_t bytes, uint64_t mask) {
  uint8_t img[512 + 8];
  X86State& s = state_of(c);
  const Image k = Image(arg & 7);
  build_image(s, k, arg, img);
  const unsigned off = unsigned(arg >> 8) % image_size(k);
  for (unsigned i = 0; i < 8; ++i)
    if ((mask >> i) & 1) img[off + i] = uint8_t(bytes >> (8 * i));
  parse_image(s, k, arg, img);
  return 0;
}

// ---- XSAVE family: x87 (component 0), SSE (1) and AVX (2), 832 bytes, the compacted form of
// these three components has the standard layout too ----

constexpr unsigned kXsaveBytes = 832, kXsaveHeader = 512, kXsaveAvx = 576;

uint64_t rfbm_of(const X86State& s) {
  return s.xcr0 & (uint32_t(s.gpr[kRax]) | uint64_t(uint32_t(s.gpr[kRdx])) << 32) & 7;
}
// The component that byte o of the image belongs to (bit mask of RFBM bits that select it;
// 0: not part of a component).
uint64_t component_of(unsigned o) {
  if (o >= 24 && o < 32) return 6;  // MXCSR, MXCSR_MASK: with SSE or AVX
  if (o < 160) return 1;
  if (o < 416) return 2;
  if (o >= kXsaveAvx && o < kXsaveBytes) return 4;
  return 0;
}
void build_xsave(const X86State& s, uint64_t arg, uint8_t* img) {
  build_image(s, kFxsave, arg, img);
  std::memset(img + 512, 0, kXsaveBytes - 512);
  for (unsigned i = 0; i < 16; ++i) std::memcpy(img + kXsaveAvx + 16 * i, &s.ymm[i].q[2], 16);
}

// fn(cpu, offset << 8 | flags (bit 3: XSAVEC), old memory qword): the qword XSAVE stores.
uint64_t helper_xsave_read(tcg::CpuCommon* c, uint64_t arg, uint64_t old, uint64_t) {
  const X86State& s = state_of(c);
  const unsigned off = unsigned(arg >> 8) % kXsaveBytes;
  const uint64_t rfbm = rfbm_of(s);
  if (off == kXsaveHeader) return (old & ~rfbm) | (rfbm & s.xcr0);  // XSTATE_BV (all in use)
  if (off == kXsaveHeader + 8) return (arg & 8) ? rfbm | 1ull << 63 : old;  // XCOMP_BV
  uint8_t img[kXsaveBytes + 8];
  build_xsave(s, arg, img);
  uint64_t v = 0;
  for (unsigned i = 0; i < 8; ++i) {
    const bool sel = component_of(off + i) & rfbm;
    v |= uint64_t(sel ? img[off + i] : uint8_t(old >> (8 * i))) << (8 * i);
  }
  return v;
}

// fn(cpu, offset << 8 | flags, memory qword, XSTATE_BV): XRSTOR of one qword: selected
// components take the memory bytes when XSTATE_BV has them, else their initial state.
uint64_t helper_xrstor_write(tcg::CpuCommon* c, uint64_t arg, uint64_t v, uint64_t xstate_bv) {
  X86State& s = state_of(c);
  const unsigned off = unsigned(arg >> 8) % kXsaveBytes;
  const uint64_t rfbm = rfbm_of(s);
  uint8_t img[kXsaveBytes + 8];
  build_xsave(s, arg, img);
  bool changed = false;
  for (unsigned i = 0; i < 8; ++i) {
    const unsigned o = off + i;
    const uint64_t comp = component_of(o) & rfbm;
    if (!comp) continue;
    const bool from_mem = (o >= 24 && o < 28) || (comp & xstate_bv);  // MXCSR: always loaded
    uint8_t init = 0;
    if (o == 0) init = 0x7f;  // FCW 0x037f
    if (o == 1) init = 0x03;
    img[o] = from_mem ? uint8_t(v >> (8 * i)) : init;
    changed = true;
  }
  if (!changed) return 0;
  parse_image(s, kFxsave, arg, img);
  for (unsigned i = 0; i < 16; ++i) std::memcpy(&s.ymm[i].q[2], img + kXsaveAvx + 16 * i, 16);
  return 0;
}

// fn(cpu, XSTATE_BV, XCOMP_BV, (header bytes 16..63 nonzero) | MXCSR << 32): nonzero when
// XRSTOR must raise #GP.
uint64_t helper_xrstor_check(tcg::CpuCommon* c, uint64_t xstate_bv, uint64_t xcomp_bv,
                             uint64_t misc) {
  const X86State& s = state_of(c);
  const uint64_t rfbm = rfbm_of(s);
  if (misc & 1) return 1;
  if ((rfbm & 6) && ((misc >> 32) & 0xffff0000u)) return 1;
  if (xcomp_bv >> 63) {
    if ((xcomp_bv & ~(1ull << 63)) & ~s.xcr0) return 1;
    if (xstate_bv & ~xcomp_bv) return 1;
    return 0;
  }
  return xcomp_bv != 0 || (xstate_bv & ~s.xcr0) != 0;
}

}  // namespace

uint16_t x87::full_tag_word(const X87State& x) {
  uint16_t tw = 0;
  for (unsigned p = 0; p < 8; ++p) {
    unsigned tag = 3;
    if ((x.ftw >> p) & 1) {
      const F80& r = x.st[p];
      const unsigned exp = r.sign_exp & 0x7fff;
      if (exp == 0x7fff || (exp != 0 && !(r.mant >> 63)) || (exp == 0 && r.mant))
        tag = 2;  // NaN, infinity, unsupported, denormal
      else if (exp == 0)
        tag = 1;
      else
        tag = 0;
    }
    tw |= uint16_t(tag << (2 * p));
  }
  return tw;
}

const tcg::ir::Helper kHelperX87{"x86_x87", helper_x87};
const tcg::ir::Helper kHelperX87Mf{"x86_x87_mf", helper_x87_mf};
const tcg::ir::Helper kHelperFpImageRead{"x86_fp_image_read", helper_image_read};
const tcg::ir::Helper kHelperXsaveRead{"x86_xsave_read", helper_xsave_read};
const tcg::ir::Helper kHelperXrstorWrite{"x86_xrstor_write", helper_xrstor_write};
const tcg::ir::Helper kHelperXrstorCheck{"x86_xrstor_check", helper_xrstor_check};
const tcg::ir::Helper kHelperFpImageWrite{"x86_fp_image_write", helper_image_write};

}  // namespace orrery::cpu::x86
