#include "cpu/x86/flags.h"

namespace orrery::cpu::x86 {

uint64_t compute_arith_flags(CcOp op, uint64_t dst, uint64_t src, uint64_t src2) {
  using namespace eflags;
  if (op == CcOp::Eflags || op >= CcOp::Count_) return 0;
  const unsigned bits = cc_op_size(op) * 8;
  const uint64_t m = bits == 64 ? ~0ull : (1ull << bits) - 1;
  const uint64_t sign = 1ull << (bits - 1);
  const uint64_t res = dst & m, b = src & m;
  const bool cin = src2 & 1;
  uint64_t f = 0;
  if (res == 0) f |= kZf;
  if (res & sign) f |= kSf;
  if (!(__builtin_popcountll(res & 0xff) & 1)) f |= kPf;
  const unsigned group = (uint32_t(op) - 1) >> 2;  // Add, Adc, Sub, Sbb, Logic, Inc, ...
  uint64_t a = 0;
  bool cf = false, of = false, af = false;
  switch (group) {
    case 0:  // Add
    case 1:  // Adc
      a = (res - b - (group == 1 ? cin : 0)) & m;
      cf = group == 1 && cin ? res <= b : res < b;
      of = (~(a ^ b) & (a ^ res)) & sign;
      af = (a ^ b ^ res) & 0x10;
      break;
    case 2:  // Sub
    case 3:  // Sbb
      a = (res + b + (group == 3 ? cin : 0)) & m;
      cf = group == 3 && cin ? a <= b : a < b;
      of = ((a ^ b) & (a ^ res)) & sign;
      af = (a ^ b ^ res) & 0x10;
      break;
    case 4:  // Logic
      break;
    case 5:  // Inc
      cf = src != 0;
      of = res == sign;
      af = (res & 0xf) == 0;
      break;
    case 6:  // Dec
      cf = src != 0;
      of = res == sign - 1;
      af = (res & 0xf) == 0xf;
      break;
    case 7:  // Shl: src is the value shifted by count - 1
      cf = (src >> (bits - 1)) & 1;
      of = bool(res & sign) != cf;
      break;
    case 8:  // Sar (SHR/SAR)
      cf = src & 1;
      of = (res ^ b) & sign;
      break;
    case 9:  // Mul
      cf = of = src != 0;
      break;
    case 10:  // Bmi
      cf = src != 0;
      break;
  }
  if (cf) f |= kCf;
  if (of) f |= kOf;
  if (af) f |= kAf;
  return f;
}

uint64_t compute_eflags(const X86State& s) {
  const CcOp op = CcOp(s.cc_op);
  if (op == CcOp::Eflags) return s.eflags | eflags::kFixed1;
  return (s.eflags & ~eflags::kArith) | eflags::kFixed1 |
         compute_arith_flags(op, s.cc_dst, s.cc_src, s.cc_src2);
}

void set_eflags(X86State& s, uint64_t value, uint64_t writable_mask) {
  const uint64_t cur = compute_eflags(s);
  s.eflags = ((cur & ~writable_mask) | (value & writable_mask) | eflags::kFixed1) &
             ~(uint64_t(1) << 3 | uint64_t(1) << 5 | uint64_t(1) << 15) & 0x3fffffull;
  s.cc_op = uint32_t(CcOp::Eflags);
}

}  // namespace orrery::cpu::x86
