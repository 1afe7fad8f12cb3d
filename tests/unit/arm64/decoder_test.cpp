// The decode table: no row is shadowed by earlier rows, known encodings reach the intended row,
// unallocated encodings match nothing, and the bitmask-immediate decoder agrees with a direct
// construction of every valid pattern.
#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <vector>

#include "cpu/arm64/bitmask.h"
#include "cpu/arm64/decoder.h"

namespace orrery::cpu::arm64::test {
namespace {

/// A set of encodings: the words w with (w & mask) == value.
struct Cube {
  uint32_t mask, value;
};

/// c minus d as disjoint cubes.
void subtract(const Cube& c, const Cube& d, std::vector<Cube>& out) {
  const uint32_t common = c.mask & d.mask;
  if ((c.value & common) != (d.value & common)) {  // disjoint
    out.push_back(c);
    return;
  }
  Cube rest = c;
  for (int b = 31; b >= 0; --b) {
    const uint32_t bit = 1u << b;
    if (!(d.mask & bit) || (c.mask & bit)) continue;
    // The part of rest where this bit differs from d is outside d.
    out.push_back(Cube{rest.mask | bit, rest.value | (~d.value & bit)});
    rest.mask |= bit;
    rest.value |= d.value & bit;
  }
  // What remains lies inside d.
}

TEST(Arm64Decoder, NoRowIsShadowed) {
  for (size_t i = 0; i < kNumInsnIds; ++i) {
    const DecodeRow& row = kDecodeTable[i];
    std::vector<Cube> live = {Cube{row.mask, row.value}};
    for (size_t j = 0; j < i && !live.empty(); ++j) {
      std::vector<Cube> next;
      for (const Cube& c : live)
        subtract(c, Cube{kDecodeTable[j].mask, kDecodeTable[j].value}, next);
      live.swap(next);
      ASSERT_LT(live.size(), 100000u) << "cube explosion at row " << row.name;
    }
    ASSERT_FALSE(live.empty()) << "row " << row.name << " (" << row.bits
                               << ") is shadowed by earlier rows";
    // A witness decodes to this row through the bucketed lookup.
    uint32_t witness = live.front().value;
    std::optional<InsnId> id = decode(witness);
    ASSERT_TRUE(id.has_value()) << row.name;
    EXPECT_EQ(*id, row.id) << "witness 0x" << std::hex << witness << " of " << row.name
                           << " decodes as " << decode_row(*id).name;
  }
}

TEST(Arm64Decoder, FieldsAreExtractedMsbFirst) {
  // ADR's immediate is immhi:immlo, from two places: "0ll10000hhhhhhhhhhhhhhhhhhhddddd".
  EXPECT_EQ(decode_detail::extract(
                0x70000000u, decode_detail::field_mask("0ll10000hhhhhhhhhhhhhhhhhhhddddd", 'l')),
            3u);
  // TBZ's bit number is b5:b40.
  const char* tbz = "b0110110bbbbbiiiiiiiiiiiiiittttt";
  EXPECT_EQ(decode_detail::extract(0xb6f80000u, decode_detail::field_mask(tbz, 'b')), 63u);
  EXPECT_EQ(decode_detail::field_letters(tbz).count, 3u);
}

struct DecodeCase {
  uint32_t word;
  const char* row;
  const char* text;
};

// Encodings from aarch64-linux-gnu-as (tests/unit/arm64/asm_to_hex.py).
const DecodeCase kCases[] = {
    {0x100091a3, "ADR", "adr x3, .+0x1234"},
    {0x90000004, "ADRP", "adrp x4, .+0x5000"},
    {0x91048fe0, "ADD_imm", "add x0, sp, #0x123"},
    {0x11400420, "ADD_imm", "add w0, w1, #1, lsl #12"},
    {0xb1001020, "ADDS_imm", "adds x0, x1, #4"},
    {0x3100103f, "ADDS_imm", "cmn w1, #4"},
    {0xd10043ff, "SUB_imm", "sub sp, sp, #16"},
    {0xf13ffc62, "SUBS_imm", "subs x2, x3, #0xfff"},
    {0xf100003f, "SUBS_imm", "cmp x1, #0"},
    {0x92401c20, "AND_imm", "and x0, x1, #0xff"},
    {0x32010420, "ORR_imm", "orr w0, w1, #0x80000001"},
    {0xb200f3e0, "ORR_imm", "mov x0, #0x5555555555555555"},
    {0xd27ff820, "EOR_imm", "eor x0, x1, #0xfffffffffffffffe"},
    {0x721c0c20, "ANDS_imm", "ands w0, w1, #0xf0"},
    {0xf240003f, "ANDS_imm", "tst x1, #1"},
    {0x92a000a0, "MOVN", "movn x0, #5, lsl #16"},
    {0x12800020, "MOVN", "mov w0, #-2"},
    {0xd2e24680, "MOVZ", "movz x0, #0x1234, lsl #48"},
    {0x72b7dde0, "MOVK", "movk w0, #0xbeef, lsl #16"},
    {0x93432420, "SBFM", "sbfm x0, x1, #3, #9"},
    {0x13037c20, "SBFM", "asr w0, w1, #3"},
    {0x93401c20, "SBFM", "sxtb x0, w1"},
    {0xb37c1c20, "BFM", "bfi x0, x1, #4, #8"},
    {0x33021820, "BFM", "bfxil w0, w1, #2, #5"},
    {0xd3485c20, "UBFM", "ubfx x0, x1, #8, #16"},
    {0xd37df020, "UBFM", "lsl x0, x1, #3"},
    {0x531f7c20, "UBFM", "lsr w0, w1, #31"},
    {0x53003c20, "UBFM", "uxth w0, w1"},
    {0x93c24420, "EXTR", "extr x0, x1, x2, #17"},
    {0x13811420, "EXTR", "ror w0, w1, #5"},
    {0x14000040, "B", "b .+0x100"},
    {0x97fff000, "BL", "bl .-0x4000"},
    {0xb4000203, "CBZ", "cbz x3, .+0x40"},
    {0x35ffffc7, "CBNZ", "cbnz w7, .-8"},
    {0xb6f80061, "TBZ", "tbz x1, #63, .+12"},
    {0x371fffa1, "TBNZ", "tbnz w1, #3, .-12"},
    {0x54000081, "B_cond", "b.ne .+16"},
    {0x5400008e, "B_cond", "b.al .+16"},
    {0xd61f0220, "BR", "br x17"},
    {0xd63f0100, "BLR", "blr x8"},
    {0xd65f03c0, "RET", "ret"},
    {0xd65f0060, "RET", "ret x3"},
    {0xd4000841, "SVC", "svc #0x42"},
    {0xd4000002, "HVC", "hvc #0"},
    {0xd4207d00, "BRK", "brk #0x3e8"},
    {0xd69f03e0, "ERET", "eret"},
    {0xd503201f, "HINT", "nop"},
    {0xd503203f, "HINT", "yield"},
    {0xd503205f, "HINT", "wfe"},
    {0xd503207f, "HINT", "wfi"},
    {0xd503209f, "HINT", "sev"},
    {0xd50320bf, "HINT", "sevl"},
    {0xd5033f5f, "CLREX", "clrex"},
    {0xd5033f9f, "DSB", "dsb sy"},
    {0xd5033b9f, "DSB", "dsb ish"},
    {0xd50339bf, "DMB", "dmb ishld"},
    {0xd5033abf, "DMB", "dmb ishst"},
    {0xd5033fdf, "ISB", "isb"},
    {0xd50041bf, "MSR_imm", "msr spsel, #1"},
    {0xd5034fdf, "MSR_imm", "msr daifset, #0xf"},
    {0xd50342ff, "MSR_imm", "msr daifclr, #2"},
    {0xd50b7420, "SYS", "dc zva, x0"},
    {0xd50b7e21, "SYS", "dc civac, x1"},
    {0xd508751f, "SYS", "ic iallu"},
    {0xd50b7522, "SYS", "ic ivau, x2"},
    {0xd508871f, "SYS", "tlbi vmalle1"},
    {0xd51bd040, "MSR_reg", "msr tpidr_el0, x0"},
    {0xd51b4201, "MSR_reg", "msr nzcv, x1"},
    {0xd5181002, "MSR_reg", "msr sctlr_el1, x2"},
    {0xd5380000, "MRS", "mrs x0, midr_el1"},
    {0xd53be041, "MRS", "mrs x1, cntvct_el0"},
    {0xd5384242, "MRS", "mrs x2, currentel"},
    {0x8a020c20, "AND_shift", "and x0, x1, x2, lsl #3"},
    {0x0a620420, "BIC_shift", "bic w0, w1, w2, lsr #1"},
    {0xaa82fc20, "ORR_shift", "orr x0, x1, x2, asr #63"},
    {0xaa0103e0, "ORR_shift", "mov x0, x1"},
    {0x2ae21c20, "ORN_shift", "orn w0, w1, w2, ror #7"},
    {0xaa2103e0, "ORN_shift", "mvn x0, x1"},
    {0xca020020, "EOR_shift", "eor x0, x1, x2"},
    {0x4a220020, "EON_shift", "eon w0, w1, w2"},
    {0xea020020, "ANDS_shift", "ands x0, x1, x2"},
    {0x6a02003f, "ANDS_shift", "tst w1, w2"},
    {0xea221020, "BICS_shift", "bics x0, x1, x2, lsl #4"},
    {0x8b023020, "ADD_shift", "add x0, x1, x2, lsl #12"},
    {0x2b820c20, "ADDS_shift", "adds w0, w1, w2, asr #3"},
    {0xcb420820, "SUB_shift", "sub x0, x1, x2, lsr #2"},
    {0xcb0103e0, "SUB_shift", "neg x0, x1"},
    {0xeb020020, "SUBS_shift", "subs x0, x1, x2"},
    {0x6b02003f, "SUBS_shift", "cmp w1, w2"},
    {0x8b214be0, "ADD_ext", "add x0, sp, w1, uxtw #2"},
    {0x8b22603f, "ADD_ext", "add sp, x1, x2"},
    {0xab228020, "ADDS_ext", "adds x0, x1, w2, sxtb"},
    {0xcb22a420, "SUB_ext", "sub x0, x1, w2, sxth #1"},
    {0x6b221020, "SUBS_ext", "subs w0, w1, w2, uxtb #4"},
    {0xeb2263ff, "SUBS_ext", "cmp sp, x2"},
    {0x9a020020, "ADC", "adc x0, x1, x2"},
    {0x3a020020, "ADCS", "adcs w0, w1, w2"},
    {0xda020020, "SBC", "sbc x0, x1, x2"},
    {0x5a0103e0, "SBC", "ngc w0, w1"},
    {0xfa020020, "SBCS", "sbcs x0, x1, x2"},
    {0xba420023, "CCMN_reg", "ccmn x1, x2, #3, eq"},
    {0x7a42b020, "CCMP_reg", "ccmp w1, w2, #0, lt"},
    {0xba5f882f, "CCMN_imm", "ccmn x1, #31, #15, hi"},
    {0xfa451824, "CCMP_imm", "ccmp x1, #5, #4, ne"},
    {0x9a82a020, "CSEL", "csel x0, x1, x2, ge"},
    {0x1a823420, "CSINC", "csinc w0, w1, w2, lo"},
    {0x9a9f17e0, "CSINC", "cset x0, eq"},
    {0xda824020, "CSINV", "csinv x0, x1, x2, mi"},
    {0x5a9f03e0, "CSINV", "csetm w0, ne"},
    {0xda826420, "CSNEG", "csneg x0, x1, x2, vs"},
    {0x5a81d420, "CSNEG", "cneg w0, w1, gt"},
    {0x9ac20820, "UDIV", "udiv x0, x1, x2"},
    {0x1ac20c20, "SDIV", "sdiv w0, w1, w2"},
    {0x9ac22020, "LSLV", "lsl x0, x1, x2"},
    {0x1ac22420, "LSRV", "lsr w0, w1, w2"},
    {0x9ac22820, "ASRV", "asr x0, x1, x2"},
    {0x1ac22c20, "RORV", "ror w0, w1, w2"},
    {0xdac00020, "RBIT", "rbit x0, x1"},
    {0x5ac00420, "REV16", "rev16 w0, w1"},
    {0xdac00420, "REV16", "rev16 x0, x1"},
    {0x5ac00820, "REV_w", "rev w0, w1"},
    {0xdac00820, "REV32", "rev32 x0, x1"},
    {0xdac00c20, "REV_x", "rev x0, x1"},
    {0x5ac01020, "CLZ", "clz w0, w1"},
    {0xdac01420, "CLS", "cls x0, x1"},
    {0x9b020c20, "MADD", "madd x0, x1, x2, x3"},
    {0x1b027c20, "MADD", "mul w0, w1, w2"},
    {0x9b028c20, "MSUB", "msub x0, x1, x2, x3"},
    {0x9b02fc20, "MSUB", "mneg x0, x1, x2"},
    {0x9b220c20, "SMADDL", "smaddl x0, w1, w2, x3"},
    {0x9b227c20, "SMADDL", "smull x0, w1, w2"},
    {0x9b228c20, "SMSUBL", "smsubl x0, w1, w2, x3"},
    {0x9b427c20, "SMULH", "smulh x0, x1, x2"},
    {0x9ba20c20, "UMADDL", "umaddl x0, w1, w2, x3"},
    {0x9ba27c20, "UMADDL", "umull x0, w1, w2"},
    {0x9ba28c20, "UMSUBL", "umsubl x0, w1, w2, x3"},
    {0x9bc27c20, "UMULH", "umulh x0, x1, x2"},
    {0xc8037c41, "STXR", "stxr w3, x1, [x2]"},
    {0x08037fe1, "STXR", "stxrb w3, w1, [sp]"},
    {0x4803fc41, "STLXR", "stlxrh w3, w1, [x2]"},
    {0x885f7c41, "LDXR", "ldxr w1, [x2]"},
    {0x085f7c41, "LDXR", "ldxrb w1, [x2]"},
    {0xc85ffc41, "LDAXR", "ldaxr x1, [x2]"},
    {0xc8230881, "STXP", "stxp w3, x1, x2, [x4]"},
    {0x88238881, "STLXP", "stlxp w3, w1, w2, [x4]"},
    {0xc87f0881, "LDXP", "ldxp x1, x2, [x4]"},
    {0x887f8881, "LDAXP", "ldaxp w1, w2, [x4]"},
    {0xc89ffc41, "STLR", "stlr x1, [x2]"},
    {0x089ffc41, "STLR", "stlrb w1, [x2]"},
    {0x88dffc41, "LDAR", "ldar w1, [x2]"},
    {0x48dffc41, "LDAR", "ldarh w1, [x2]"},
    {0x58000800, "LDR_lit", "ldr x0, .+0x100"},
    {0x18ffffe0, "LDR_lit", "ldr w0, .-4"},
    {0x98000040, "LDRSW_lit", "ldrsw x0, .+8"},
    {0xd8000040, "PRFM_lit", "prfm pldl1keep, .+8"},
    {0x1c000040, "LDR_lit_fp", "ldr s0, .+8"},
    {0x5c000041, "LDR_lit_fp", "ldr d1, .+8"},
    {0x9c000082, "LDR_lit_fp", "ldr q2, .+16"},
    {0xa9bf0be1, "LDSTP", "stp x1, x2, [sp, #-16]!"},
    {0xa8c17bfd, "LDSTP", "ldp x29, x30, [sp], #16"},
    {0x29410861, "LDSTP", "ldp w1, w2, [x3, #8]"},
    {0xa8000861, "LDSTP", "stnp x1, x2, [x3]"},
    {0x287f0861, "LDSTP", "ldnp w1, w2, [x3, #-8]"},
    {0x69410861, "LDPSW", "ldpsw x1, x2, [x3, #8]"},
    {0x68ff0861, "LDPSW", "ldpsw x1, x2, [x3], #-8"},
    {0xad010400, "LDSTP_fp", "stp q0, q1, [x0, #32]"},
    {0x6cc107e0, "LDSTP_fp", "ldp d0, d1, [sp], #16"},
    {0x2dbf0c22, "LDSTP_fp", "stp s2, s3, [x1, #-8]!"},
    {0xac400440, "LDSTP_fp", "ldnp q0, q1, [x2]"},
    {0xf9802020, "PRFM_imm", "prfm pldl1keep, [x1, #64]"},
    {0xf8a27833, "PRFM_reg", "prfm pstl2strm, [x1, x2, lsl #3]"},
    {0xf89fd020, "PRFUM", "prfum pldl1keep, [x1, #-3]"},
    {0xf9400420, "LDST_uimm", "ldr x0, [x1, #8]"},
    {0x393ffc20, "LDST_uimm", "strb w0, [x1, #4095]"},
    {0x79800420, "LDST_uimm", "ldrsh x0, [x1, #2]"},
    {0x39c00020, "LDST_uimm", "ldrsb w0, [x1]"},
    {0xb9800420, "LDST_uimm", "ldrsw x0, [x1, #4]"},
    {0xf85ff020, "LDST_unscaled", "ldur x0, [x1, #-1]"},
    {0x78003020, "LDST_unscaled", "sturh w0, [x1, #3]"},
    {0x38900020, "LDST_unscaled", "ldursb x0, [x1, #-256]"},
    {0xf8408420, "LDST_post", "ldr x0, [x1], #8"},
    {0x781fe420, "LDST_post", "strh w0, [x1], #-2"},
    {0xf8408820, "LDST_unpriv", "ldtr x0, [x1, #8]"},
    {0x38000820, "LDST_unpriv", "sttrb w0, [x1]"},
    {0xb8404c20, "LDST_pre", "ldr w0, [x1, #4]!"},
    {0xf81f0fe0, "LDST_pre", "str x0, [sp, #-16]!"},
    {0xf8626820, "LDST_reg", "ldr x0, [x1, x2]"},
    {0xf8627820, "LDST_reg", "ldr x0, [x1, x2, lsl #3]"},
    {0x38624820, "LDST_reg", "ldrb w0, [x1, w2, uxtw]"},
    {0x7822d820, "LDST_reg", "strh w0, [x1, w2, sxtw #1]"},
    {0xb8a2f820, "LDST_reg", "ldrsw x0, [x1, x2, sxtx #2]"},
    {0x3dc00420, "LDST_uimm_fp", "ldr q0, [x1, #16]"},
    {0xfd000420, "LDST_uimm_fp", "str d0, [x1, #8]"},
    {0x3d400420, "LDST_uimm_fp", "ldr b0, [x1, #1]"},
    {0x7d000420, "LDST_uimm_fp", "str h0, [x1, #2]"},
    {0xbd400420, "LDST_uimm_fp", "ldr s0, [x1, #4]"},
    {0x3cdff020, "LDST_unscaled_fp", "ldur q0, [x1, #-1]"},
    {0xbc003020, "LDST_unscaled_fp", "stur s0, [x1, #3]"},
    {0x3cc10420, "LDST_post_fp", "ldr q0, [x1], #16"},
    {0xfc1f8420, "LDST_post_fp", "str d0, [x1], #-8"},
    {0xbc404c20, "LDST_pre_fp", "ldr s0, [x1, #4]!"},
    {0x3c9e0fe0, "LDST_pre_fp", "str q0, [sp, #-32]!"},
    {0x3ce27820, "LDST_reg_fp", "ldr q0, [x1, x2, lsl #4]"},
    {0xfc225820, "LDST_reg_fp", "str d0, [x1, w2, uxtw #3]"},
    {0x1e260020, "FMOV_gen", "fmov w0, s1"},
    {0x1e270020, "FMOV_gen", "fmov s0, w1"},
    {0x9e660020, "FMOV_gen", "fmov x0, d1"},
    {0x9e670020, "FMOV_gen", "fmov d0, x1"},
    {0x9eae0020, "FMOV_gen", "fmov x0, v1.d[1]"},
    {0x9eaf0020, "FMOV_gen", "fmov v0.d[1], x1"},
    {0x1e204020, "FMOV_reg", "fmov s0, s1"},
    {0x1e604020, "FMOV_reg", "fmov d0, d1"},
    {0x4f07e7e0, "MOVI", "movi v0.16b, #0xff"},
    {0x4f002640, "MOVI", "movi v0.4s, #0x12, lsl #8"},
    {0x2f05e540, "MOVI", "movi d0, #0xff00ff00ff00ff00"},
    {0x6f00e400, "MOVI", "movi v0.2d, #0"},
    {0x6f008640, "MOVI", "mvni v0.8h, #0x12"},
    {0x4f005420, "MOVI", "orr v0.4s, #0x1, lsl #16"},
    {0x2f009460, "MOVI", "bic v0.4h, #0x3"},
    {0x4f03f600, "MOVI", "fmov v0.4s, #1.0"},
    {0x6f04f480, "MOVI", "fmov v0.2d, #-2.5"},
    {0x4e140420, "DUP_elem", "dup v0.4s, v1.s[2]"},
    {0x4e010c20, "DUP_gen", "dup v0.16b, w1"},
    {0x4e080c20, "DUP_gen", "dup v0.2d, x1"},
    {0x4e0c1c20, "INS_gen", "mov v0.s[1], w1"},
    {0x4e181c20, "INS_gen", "mov v0.d[1], x1"},
    {0x4e0e2c20, "SMOV", "smov x0, v1.h[3]"},
    {0x0e1f2c20, "SMOV", "smov w0, v1.b[15]"},
    {0x0e133c20, "UMOV", "umov w0, v1.b[9]"},
    {0x4e183c20, "UMOV", "mov x0, v1.d[1]"},
    {0x0e1c3c20, "UMOV", "mov w0, v1.s[3]"},
    {0x6e180420, "INS_elem", "mov v0.d[1], v1.d[0]"},
    {0x6e076420, "INS_elem", "mov v0.b[3], v1.b[12]"},
    {0x4e221c20, "AND_vec", "and v0.16b, v1.16b, v2.16b"},
    {0x0e621c20, "BIC_vec", "bic v0.8b, v1.8b, v2.8b"},
    {0x4ea21c20, "ORR_vec", "orr v0.16b, v1.16b, v2.16b"},
    {0x4ea11c20, "ORR_vec", "mov v0.16b, v1.16b"},
    {0x4ee21c20, "ORN_vec", "orn v0.16b, v1.16b, v2.16b"},
    {0x2e221c20, "EOR_vec", "eor v0.8b, v1.8b, v2.8b"},
    {0x6e621c20, "BSL_vec", "bsl v0.16b, v1.16b, v2.16b"},
    {0x6ea21c20, "BIT_vec", "bit v0.16b, v1.16b, v2.16b"},
    {0x2ee21c20, "BIF_vec", "bif v0.8b, v1.8b, v2.8b"},
    {0x4ea28420, "ADD_vec", "add v0.4s, v1.4s, v2.4s"},
    {0x6e628420, "SUB_vec", "sub v0.8h, v1.8h, v2.8h"},
    {0x4e229c20, "MUL_vec", "mul v0.16b, v1.16b, v2.16b"},
    {0x4ea29420, "MLA_vec", "mla v0.4s, v1.4s, v2.4s"},
    {0x6e629420, "MLS_vec", "mls v0.8h, v1.8h, v2.8h"},
    {0x4e205820, "CNT", "cnt v0.16b, v1.16b"},
    {0x0e212820, "XTN", "xtn v0.8b, v1.8h"},
    {0x4e212820, "XTN", "xtn2 v0.16b, v1.8h"},
    {0x0e31b820, "ADDV", "addv b0, v1.8b"},
    {0x6e303820, "UADDLV", "uaddlv h0, v1.16b"},
    {0x4e021820, "UZP1", "uzp1 v0.16b, v1.16b, v2.16b"},
    {0x0e022820, "TRN1", "trn1 v0.8b, v1.8b, v2.8b"},
    {0x4e823820, "ZIP1", "zip1 v0.4s, v1.4s, v2.4s"},
    {0x4e425820, "UZP2", "uzp2 v0.8h, v1.8h, v2.8h"},
    {0x0e426820, "TRN2", "trn2 v0.4h, v1.4h, v2.4h"},
    {0x4ec27820, "ZIP2", "zip2 v0.2d, v1.2d, v2.2d"},
    {0x4f110420, "SSHR", "sshr v0.8h, v1.8h, #15"},
    {0x6f3d0420, "USHR", "ushr v0.4s, v1.4s, #3"},
    {0x4f7f5420, "SHL", "shl v0.2d, v1.2d, #63"},
    {0x0f0d8420, "SHRN", "shrn v0.8b, v1.8h, #3"},
    {0x4f2f8420, "SHRN", "shrn2 v0.4s, v1.2d, #17"},
    {0x4f14a420, "SSHLL", "sshll2 v0.4s, v1.8h, #4"},
    {0x0f08a420, "SSHLL", "sxtl v0.8h, v1.8b"},
    {0x2f08a420, "USHLL", "ushll v0.8h, v1.8b, #0"},
    {0x6f20a420, "USHLL", "uxtl2 v0.2d, v1.4s"},
    {0x9ac24c20, "CRC32", "crc32x w0, w1, x2"},
    {0x1ac25020, "CRC32C", "crc32cb w0, w1, w2"},
    // FP/SIMD rows (fp_test.cpp and fp_differential_test.cpp test their semantics).
    {0x1e61c020, "FP_1src", "fsqrt d0, d1"},
    {0x1e622820, "FP_2src", "fadd d0, d1, d2"},
    {0x1f020c20, "FP_3src", "fmadd s0, s1, s2, s3"},
    {0x1e7e9000, "FMOV_imm", "fmov d0, #-1.25"},
    {0x1e602038, "FCMP", "fcmpe d1, #0.0"},
    {0x1e620425, "FCCMP", "fccmp d1, d2, #5, eq"},
    {0x1e226c20, "FCSEL", "fcsel s0, s1, s2, vs"},
    {0x9e780020, "FCVT_int", "fcvtzs x0, d1"},
    {0x9e42d020, "FCVT_fixed", "scvtf d0, x1, #12"},
    {0x6ea28c20, "SIMD_3same", "cmeq v0.4s, v1.4s, v2.4s"},
    {0x4e200820, "SIMD_2misc", "rev64 v0.16b, v1.16b"},
    {0x6e30a820, "SIMD_across", "umaxv b0, v1.16b"},
    {0x2ea21020, "SIMD_3diff", "uaddw v0.2d, v1.2d, v2.2s"},
    {0x6e021820, "EXT", "ext v0.16b, v1.16b, v2.16b, #3"},
    {0x4e020020, "TBL", "tbl v0.16b, {v1.16b}, v2.16b"},
    {0x5e180420, "DUP_scalar", "mov d0, v1.d[1]"},
    {0x6f0d4420, "SIMD_shift_imm", "sri v0.16b, v1.16b, #3"},
    {0x5ee23c20, "SIMD_scalar_3same", "cmge d0, d1, d2"},
    {0x5ee1b820, "SIMD_scalar_2misc", "fcvtzs d0, d1"},
    {0x7f410420, "SIMD_scalar_shift_imm", "ushr d0, d1, #63"},
    {0x4c407000, "LDST_multi", "ld1 {v0.16b}, [x0]"},
    {0x4cdf0c24, "LDST_multi_post", "ld4 {v4.2d, v5.2d, v6.2d, v7.2d}, [x1], #64"},
    {0x4d40c020, "LDST_single", "ld1r {v0.16b}, [x1]"},
    {0x4d9f8420, "LDST_single_post", "st1 {v0.d}[1], [x1], #8"},
    // Crypto, saturating and by-element rows (crypto_test.cpp and simd_sat_test.cpp test them).
    {0x4e284820, "CRYPTO_AES", "aese v0.16b, v1.16b"},
    {0x5e024020, "CRYPTO_SHA_3reg", "sha256h q0, q1, v2.4s"},
    {0x5e280820, "CRYPTO_SHA_2reg", "sha1h s0, s1"},
    {0xce628020, "CRYPTO_SHA512_3reg", "sha512h q0, q1, v2.2d"},
    {0xcec08020, "CRYPTO_SHA512_2reg", "sha512su0 v0.2d, v1.2d"},
    {0xce220c20, "CRYPTO_4reg", "bcax v0.16b, v1.16b, v2.16b, v3.16b"},
    {0xce823420, "XAR", "xar v0.2d, v1.2d, v2.2d, #13"},
    {0x6e428420, "SIMD_3same_extra", "sqrdmlah v0.8h, v1.8h, v2.8h"},
    {0x7e828c20, "SIMD_scalar_3same_extra", "sqrdmlsh s0, s1, s2"},
    {0x5e62d020, "SIMD_scalar_3diff", "sqdmull s0, h1, h2"},
    {0x4f72c820, "SIMD_elem", "sqdmulh v0.8h, v1.8h, v2.h[7]"},
    {0x5fa21820, "SIMD_scalar_elem", "fmla s0, s1, v2.s[3]"},
    {0x7e30d820, "SIMD_scalar_pairwise", "faddp s0, v1.2s"},
    // FEAT_SM3 and the FEAT_FP16 groups (crypto_test.cpp and fp_differential_test.cpp).
    {0xce42b020, "CRYPTO_SM3TT", "sm3tt1a v0.4s, v1.4s, v2.s[3]"},
    {0x2e423c20, "SIMD_3same_fp16", "fdiv v0.4h, v1.4h, v2.4h"},
    {0x5e421c20, "SIMD_scalar_3same_fp16", "fmulx h0, h1, h2"},
    {0x4ef8f820, "SIMD_2misc_fp16", "fabs v0.8h, v1.8h"},
    {0x5ef9b820, "SIMD_scalar_2misc_fp16", "fcvtzs h0, h1"},
    // FEAT_MTE (mte_test.cpp).
    {0x9ac21020, "IRG", "irg x0, x1, x2"},
    {0x9ac21423, "GMI", "gmi x3, x1, x2"},
    {0xbac20023, "SUBP", "subps x3, x1, x2"},
    {0xd1810820, "ADDG", "subg x0, x1, #16, #2"},
    {0xd9e02820, "LDST_tag", "stz2g x0, [x1, #32]"},
    {0xd9e00023, "LDST_tag", "ldgm x3, [x1]"},
    {0x69811404, "STGP", "stgp x4, x5, [x0, #32]!"},
};

TEST(Arm64Decoder, KnownEncodingsReachTheirRow) {
  for (const DecodeCase& c : kCases) {
    std::optional<InsnId> id = decode(c.word);
    ASSERT_TRUE(id.has_value()) << c.text;
    EXPECT_STREQ(decode_row(*id).name, c.row) << c.text;
  }
}

TEST(Arm64Decoder, EveryRowHasAKnownEncoding) {
  std::set<std::string> covered;
  for (const DecodeCase& c : kCases) covered.insert(c.row);
  for (const DecodeRow& r : kDecodeTable) EXPECT_TRUE(covered.count(r.name)) << r.name;
}

TEST(Arm64Decoder, UnallocatedEncodingsMatchNothing) {
  const uint32_t words[] = {
      0x00000000,  // udf #0
      0x00001234,  // udf #0x1234
      0xd4400000,  // hlt #0 (halting debug is not implemented)
      0xd4000003,  // smc #0 (no EL3)
      0xb8208020,  // swp w0, w0, [x1] (LSE, not in ARMv8.0)
      0x88a07c41,  // cas w0, w1, [x2] (LSE)
  };
  for (uint32_t w : words) EXPECT_FALSE(decode(w).has_value()) << std::hex << w;
}

// DecodeBitMasks by construction: every esize, run length and rotation.
TEST(Arm64Decoder, BitmaskImmediatesMatchConstruction) {
  std::set<uint64_t> distinct;
  for (unsigned N = 0; N < 2; ++N)
    for (unsigned imms = 0; imms < 64; ++imms)
      for (unsigned immr = 0; immr < 64; ++immr) {
        std::optional<uint64_t> got = decode_bit_masks(N, imms, immr, true);
        // Expected: esize from the position of the highest zero in N:~imms' leading ones.
        unsigned esize = 0;
        if (N) {
          esize = 64;
        } else {
          for (unsigned e = 32; e >= 2; e /= 2)
            if (!(imms & e)) {
              esize = e;
              break;
            }
        }
        if (esize == 0) {
          EXPECT_FALSE(got.has_value());
          continue;
        }
        // For esize < 64, the bits of imms above log2(esize) must be ones then a zero.
        unsigned ones = (imms & (esize - 1)) + 1;
        bool prefix_ok = N || ((imms | (esize * 2 - 1)) == 63 && !(imms & esize));
        if (!prefix_ok || ones == esize) {
          EXPECT_FALSE(got.has_value()) << N << " " << imms << " " << immr;
          continue;
        }
        unsigned r = immr & (esize - 1);
        uint64_t elem = 0;
        for (unsigned b = 0; b < ones; ++b) elem |= 1ull << ((b + esize - r) % esize);
        uint64_t want = 0;
        for (unsigned pos = 0; pos < 64; pos += esize) want |= elem << pos;
        ASSERT_TRUE(got.has_value()) << N << " " << imms << " " << immr;
        EXPECT_EQ(*got, want) << N << " " << imms << " " << immr;
        distinct.insert(want);
        if (!N) {
          std::optional<uint64_t> w = decode_bit_masks(N, imms, immr, false);
          ASSERT_TRUE(w.has_value());
          EXPECT_EQ(*w, want & 0xffffffffu);
        }
      }
  EXPECT_EQ(distinct.size(), 5334u);  // the well-known count of 64-bit logical immediates
  EXPECT_FALSE(decode_bit_masks(1, 0, 0, false).has_value());  // N=1 needs sf=1
}

}  // namespace
}  // namespace orrery::cpu::arm64::test
