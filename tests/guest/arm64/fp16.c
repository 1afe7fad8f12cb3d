// FEAT_FP16 and FEAT_DotProd on -cpu max: half-precision scalar and vector arithmetic, fused
// multiply-add, square root, rounding, compares, conversions to and from integers and fixed
// point, across-lanes and pairwise reductions, under FPCR rounding modes, FZ16, DN and AHP, with
// the FPSR flags each raises; SDOT/UDOT (vector and by element); and the same FP16 and DotProd
// code run at EL0. Expected output from qemu-system-aarch64 -cpu max.
#pragma GCC target("arch=armv8.2-a+fp16+dotprod")
#include <arm_neon.h>

#include "rt.h"
#include "vectors.h"

typedef uint16_t h16;

static const h16 vals[] = {
    0x0000, 0x8000, 0x3c00, 0xbc00, 0x2e66 /* 0.1 */,  0x7bff /* 65504 */, 0x0001, 0x03ff,
    0x0400, 0x7c00, 0xfc00, 0x7e00, 0x7d01 /* sNaN */, 0x4248 /* 3.14 */,  0xc500, 0x5640,
};
#define NV (sizeof vals / sizeof vals[0])

static void set_fpcr(uint64_t v) {
  WRITE_SYSREG(fpcr, v);
  WRITE_SYSREG(fpsr, 0);
}

static uint64_t fpsr(void) {
  return READ_SYSREG(fpsr);
}

#define BINOP(name, insn)                                                              \
  static h16 name(h16 a, h16 b) {                                                      \
    h16 r;                                                                             \
    __asm__ volatile("fmov h1, %w1\n fmov h2, %w2\n" insn " h0, h1, h2\n fmov %w0, h0" \
                     : "=r"(r)                                                         \
                     : "r"(a), "r"(b)                                                  \
                     : "v0", "v1", "v2");                                              \
    return r;                                                                          \
  }
BINOP(h_add, "fadd")
BINOP(h_sub, "fsub")
BINOP(h_mul, "fmul")
BINOP(h_div, "fdiv")
BINOP(h_max, "fmax")
BINOP(h_minnm, "fminnm")
BINOP(h_abd, "fabd")
BINOP(h_mulx, "fmulx")

static h16 h_fma(h16 a, h16 b, h16 c) {
  h16 r;
  __asm__ volatile(
      "fmov h1, %w1\n fmov h2, %w2\n fmov h3, %w3\n fmadd h0, h1, h2, h3\n"
      "fmov %w0, h0"
      : "=r"(r)
      : "r"(a), "r"(b), "r"(c)
      : "v0", "v1", "v2", "v3");
  return r;
}

#define UNOP(name, insn)                                            \
  static h16 name(h16 a) {                                          \
    h16 r;                                                          \
    __asm__ volatile("fmov h1, %w1\n" insn " h0, h1\n fmov %w0, h0" \
                     : "=r"(r)                                      \
                     : "r"(a)                                       \
                     : "v0", "v1");                                 \
    return r;                                                       \
  }
UNOP(h_sqrt, "fsqrt")
UNOP(h_frintx, "frintx")
UNOP(h_frinta, "frinta")

// A table of op over every pair of vals under one FPCR: a hash of the results, printed with
// the FPSR flags accumulated over the table and the results of a few pairs.
static void table2(const char* what, h16 (*op)(h16, h16), uint64_t fpcr_v) {
  set_fpcr(fpcr_v);
  uint32_t hash = 0;
  for (unsigned i = 0; i < NV; i++)
    for (unsigned j = 0; j < NV; j++) hash = hash * 31 + op(vals[i], vals[j]);
  uint64_t flags = fpsr();
  printf("%s fpcr %lx: hash %08x fpsr %lx; 1op0.1 %04x 3.14op-5 %04x max.op.max %04x\n", what,
         fpcr_v, hash, flags, op(0x3c00, 0x2e66), op(0x4248, 0xc500), op(0x7bff, 0x7bff));
}

static void table1(const char* what, h16 (*op)(h16), uint64_t fpcr_v) {
  set_fpcr(fpcr_v);
  printf("%s fpcr %lx:", what, fpcr_v);
  for (unsigned i = 0; i < NV; i++) printf(" %04x", op(vals[i]));
  printf(" fpsr %lx\n", fpsr());
}

static void fma_table(uint64_t fpcr_v) {
  set_fpcr(fpcr_v);
  uint32_t hash = 0;
  for (unsigned i = 0; i < NV; i++)
    for (unsigned j = 0; j < NV; j++)
      for (unsigned k = 0; k < NV; k += 3) hash = hash * 31 + h_fma(vals[i], vals[j], vals[k]);
  printf("fmadd fpcr %lx: hash %08x fpsr %lx\n", fpcr_v, hash, fpsr());
}

static void conversions(void) {
  set_fpcr(0);
  int32_t s32;
  uint64_t u64;
  h16 h;
  __asm__ volatile("fmov h1, %w1\n fcvtzs %w0, h1" : "=r"(s32) : "r"(0xd640) : "v1");
  printf("fcvtzs(-100) %d", s32);
  __asm__ volatile("fmov h1, %w1\n fcvtau %0, h1" : "=r"(u64) : "r"(0x7bff) : "v1");
  printf(" fcvtau(65504) %lu", u64);
  __asm__ volatile("fmov h1, %w1\n fcvtzs %w0, h1, #4" : "=r"(s32) : "r"(0x4248) : "v1");
  printf(" fcvtzs(3.14,#4) %d", s32);
  __asm__ volatile("scvtf h0, %w1\n fmov %w0, h0" : "=r"(h) : "r"(-12345) : "v0");
  printf(" scvtf(-12345) %04x", h);
  __asm__ volatile("ucvtf h0, %1\n fmov %w0, h0" : "=r"(h) : "r"(1ull << 40) : "v0");
  printf(" ucvtf(2^40) %04x", h);
  __asm__ volatile("scvtf h0, %w1, #10\n fmov %w0, h0" : "=r"(h) : "r"(3) : "v0");
  printf(" scvtf(3,#10) %04x fpsr %lx\n", h, fpsr());
  // Scalar SIMD fixed point on H: a 16-bit integer in H0 (QEMU 7.2 sign-extends it to 32
  // bits where the Arm ARM zero-extends the 16; fp_test.cpp checks the upper bits).
  uint64_t d0;
  __asm__ volatile(
      "movi v0.2d, #0xffffffffffffffff\n fmov h1, %w1\n fcvtzs h0, h1, #4\n"
      "fmov %0, d0"
      : "=r"(d0)
      : "r"(0xd640)
      : "v0", "v1");
  printf("fcvtzs h(-100,#4) h0 %04lx", d0 & 0xffff);
  __asm__ volatile(
      "movi v0.2d, #0xffffffffffffffff\n fmov h1, %w1\n ucvtf h0, h1, #2\n"
      "fmov %0, d0"
      : "=r"(d0)
      : "r"(0x8001)
      : "v0", "v1");
  printf(" ucvtf h(0x8001,#2) h0 %04lx\n", d0 & 0xffff);
  // FPCR.AHP: FCVT to and from the alternative half-precision format.
  set_fpcr(1u << 26);
  float f;
  __asm__ volatile("fmov s1, %w1\n fcvt h0, s1\n fmov %w0, h0"
                   : "=r"(h)
                   : "r"(0x47800000)
                   : "v0", "v1");
  printf("ahp: fcvt(65536.0) %04x", h);
  __asm__ volatile("fmov h1, %w1\n fcvt s0, h1\n fmov %w0, s0"
                   : "=r"(s32)
                   : "r"(0x7c00)
                   : "v0", "v1");
  printf(" fcvt(7c00) %08x", s32);
  __asm__ volatile("fmov s1, %w1\n fcvt h0, s1\n fmov %w0, h0"
                   : "=r"(h)
                   : "r"(0x7fc00000)
                   : "v0", "v1");
  printf(" fcvt(NaN) %04x fpsr %lx\n", h, fpsr());
  (void)f;
}

static void print_h8(const char* what, float16x8_t v) {
  uint16_t b[8];
  vst1q_u16(b, vreinterpretq_u16_f16(v));
  printf("%s", what);
  for (int i = 0; i < 8; i++) printf(" %04x", b[i]);
  putchar('\n');
}

static void vectors_fp16(void) {
  static const uint16_t a_bits[8] = {0x3c00, 0x2e66, 0x7bff, 0x0001,
                                     0xc500, 0x7e00, 0x4248, 0x8000};
  static const uint16_t b_bits[8] = {0x3800, 0x2e66, 0x7bff, 0x03ff,
                                     0x4500, 0x3c00, 0xc248, 0x0000};
  float16x8_t a = vreinterpretq_f16_u16(vld1q_u16(a_bits));
  float16x8_t b = vreinterpretq_f16_u16(vld1q_u16(b_bits));
#define OPAQUE(v) __asm__ volatile("" : "+w"(v))  // computed by the guest, not folded by gcc
#define H8(what, expr)      \
  do {                      \
    OPAQUE(a);              \
    OPAQUE(b);              \
    print_h8(what, (expr)); \
  } while (0)
  set_fpcr(0);
  H8("fadd.8h", vaddq_f16(a, b));
  H8("fmul.8h", vmulq_f16(a, b));
  H8("fdiv.8h", vdivq_f16(a, b));
  H8("fmla.8h", vfmaq_f16(a, a, b));
  H8("fmla.h[3]", vfmaq_laneq_f16(a, a, b, 3));
  H8("fmaxnm.8h", vmaxnmq_f16(a, b));
  H8("faddp.8h", vpaddq_f16(a, b));
  H8("fsqrt.8h", vsqrtq_f16(b));
  H8("frintn.8h", vrndnq_f16(a));
  H8("fcvtzs.8h", vreinterpretq_f16_s16(vcvtq_s16_f16(a)));
  H8("scvtf.8h #3", vcvtq_n_f16_s16(vreinterpretq_s16_f16(a), 3));
  H8("fcmge.8h", vreinterpretq_f16_u16(vcgeq_f16(a, b)));
  OPAQUE(a);
  printf("fmaxv %04x fminnmv %04x fpsr %lx\n",
         vget_lane_u16(vreinterpret_u16_f16(vdup_n_f16(vmaxvq_f16(a))), 0),
         vget_lane_u16(vreinterpret_u16_f16(vdup_n_f16(vminnmvq_f16(a))), 0), fpsr());
  set_fpcr(1u << 19);  // FZ16: subnormal inputs and outputs are zero
  H8("fz16 fadd.8h", vaddq_f16(a, b));
  printf("fz16 fpsr %lx\n", fpsr());
  set_fpcr(3u << 22 | 1u << 25);  // RZ, DN
  H8("rz dn fadd.8h", vaddq_f16(a, b));
  printf("rz dn fpsr %lx\n", fpsr());
}

static void print_s4(const char* what, int32x4_t v) {
  int32_t b[4];
  vst1q_s32(b, v);
  printf("%s %d %d %d %d\n", what, b[0], b[1], b[2], b[3]);
}

static void dot_products(void) {
  int8_t x[16], y[16];
  for (int i = 0; i < 16; i++) {
    x[i] = (int8_t)(i * 37 - 128);
    y[i] = (int8_t)(127 - i * 19);
  }
  int8x16_t a = vld1q_s8(x), b = vld1q_s8(y);
  int32x4_t acc = {1, -2, 1000000, -2147483647};
  OPAQUE(a);
  OPAQUE(b);
  OPAQUE(acc);
  print_s4("sdot", vdotq_s32(acc, a, b));
  print_s4("sdot[2]", vdotq_laneq_s32(acc, a, b, 2));
  uint32x4_t u =
      vdotq_u32(vreinterpretq_u32_s32(acc), vreinterpretq_u8_s8(a), vreinterpretq_u8_s8(b));
  print_s4("udot", vreinterpretq_s32_u32(u));
  uint32x2_t u2 = vdot_lane_u32(vdup_n_u32(7), vget_low_u8(vreinterpretq_u8_s8(a)),
                                vget_high_u8(vreinterpretq_u8_s8(b)), 1);
  printf("udot.2s[1] %u %u\n", vget_lane_u32(u2, 0), vget_lane_u32(u2, 1));
}

// ---- EL0 ----

void handle_exception(struct frame* f, uint64_t slot) {
  if (slot == 8 && EC(f->esr) == 0x15) {  // SVC from EL0: continue after it at EL1h
    f->spsr = 0x3c5;
    return;
  }
  rt_unexpected_exception(slot, f->esr, f->elr, READ_SYSREG(far_el1));
}

static void at_el0(void) {
  uint64_t dot, fmul, fadd, flags;
  set_fpcr(0);
  __asm__ volatile(
      "movi v0.4s, #3\n"
      "movi v1.16b, #0xfe\n"  // -2 or 254
      "movi v2.16b, #5\n"
      "fmov v4.8h, #1.5\n"
      "fmov v5.8h, #-0.125\n"
      "fmov h7, #31.0\n"
      "adr x9, 1f\n"
      "msr elr_el1, x9\n"
      "mov x9, #0x3c0\n"  // EL0t, DAIF masked
      "msr spsr_el1, x9\n"
      "eret\n"
      "1:\n"
      "sdot v0.4s, v1.16b, v2.16b\n"
      "udot v0.4s, v1.16b, v2.4b[1]\n"
      "fmul v3.8h, v4.8h, v5.8h\n"
      "fdiv h6, h7, h5\n"
      "fsqrt h6, h6\n"
      "mov %0, v0.d[1]\n"
      "mov %1, v3.d[0]\n"
      "fmov %w2, h6\n"
      "mrs %3, fpsr\n"
      "svc #0\n"
      : "=&r"(dot), "=&r"(fmul), "=&r"(fadd), "=&r"(flags)
      :
      : "x9", "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "memory");
  printf("el0: dot %016lx fmul %016lx fsqrt(fdiv) %04lx fpsr %lx\n", dot, fmul, fadd & 0xffff,
         flags);
}

int main(void) {
  install_vectors();
  printf("ID_AA64PFR0 FP %lu AdvSIMD %lu, ID_AA64ISAR0 DP %lu\n",
         (READ_SYSREG(id_aa64pfr0_el1) >> 16) & 15, (READ_SYSREG(id_aa64pfr0_el1) >> 20) & 15,
         (READ_SYSREG(id_aa64isar0_el1) >> 44) & 15);
  static const uint64_t modes[] = {0, 1u << 22, 2u << 22, 3u << 22, 1u << 19, 1u << 25};
  for (unsigned m = 0; m < sizeof modes / sizeof modes[0]; m++) {
    table2("fadd", h_add, modes[m]);
    table2("fmul", h_mul, modes[m]);
    table2("fdiv", h_div, modes[m]);
    fma_table(modes[m]);
  }
  table2("fsub", h_sub, 0);
  table2("fmax", h_max, 0);
  table2("fminnm", h_minnm, 1u << 25);
  table2("fabd", h_abd, 0);
  table2("fmulx", h_mulx, 0);
  table1("fsqrt", h_sqrt, 0);
  table1("fsqrt", h_sqrt, 1u << 19);
  table1("frintx", h_frintx, 2u << 22);
  table1("frinta", h_frinta, 0);
  conversions();
  vectors_fp16();
  dot_products();
  at_el0();
  printf("fp16 done\n");
  return 0;
}
