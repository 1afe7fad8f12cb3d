// The cryptographic extension and saturating SIMD through compiler intrinsics, on -cpu max:
// AES-128 (FIPS-197 C.1) encrypt and decrypt with AESE/AESMC/AESD/AESIMC (the key schedule
// uses AESE for SubWord), SHA-1 and SHA-256 of "abc" with the SHA1*/SHA256* instructions,
// single SHA512*, SHA3 (EOR3, RAX1, XAR, BCAX) and PMULL results, and saturating shifts,
// narrows and doubling multiplies with FPSR.QC. Expected output from qemu-system-aarch64.
#pragma GCC target("arch=armv8.2-a+crypto+sha3+rdma")
#include <arm_neon.h>

#include "rt.h"

static void print_q(const char *what, uint8x16_t v)
{
    uint8_t b[16];
    vst1q_u8(b, v);
    printf("%s ", what);
    for (int i = 0; i < 16; i++)
        printf("%02x", b[i]);
    putchar('\n');
}

static void print_q64(const char *what, uint64x2_t v)
{
    print_q(what, vreinterpretq_u8_u64(v));
}

// ---- AES-128 ----

static uint32_t sub_word(uint32_t w)
{
    // With all four columns equal, ShiftRows is the identity, so AESE with a zero key is SubBytes.
    uint8x16_t s = vaeseq_u8(vreinterpretq_u8_u32(vdupq_n_u32(w)), vdupq_n_u8(0));
    return vgetq_lane_u32(vreinterpretq_u32_u8(s), 0);
}

static void aes128_expand(const uint8_t key[16], uint8x16_t rk[11])
{
    static const uint8_t rcon[10] = {1, 2, 4, 8, 16, 32, 64, 128, 0x1b, 0x36};
    uint32_t w[44];
    for (int i = 0; i < 4; i++)
        w[i] = key[4 * i] | key[4 * i + 1] << 8 | key[4 * i + 2] << 16 | (uint32_t)key[4 * i + 3] << 24;
    for (int i = 4; i < 44; i++) {
        uint32_t t = w[i - 1];
        if (i % 4 == 0)
            t = ((sub_word(t) >> 8) | (sub_word(t) << 24)) ^ rcon[i / 4 - 1];
        w[i] = w[i - 4] ^ t;
    }
    for (int r = 0; r < 11; r++)
        rk[r] = vreinterpretq_u8_u32(vld1q_u32(&w[4 * r]));
}

static void aes128(void)
{
    static const uint8_t key[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    static const uint8_t pt[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                   0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
    uint8x16_t rk[11];
    aes128_expand(key, rk);
    uint8x16_t s = vld1q_u8(pt);
    for (int r = 0; r < 9; r++)
        s = vaesmcq_u8(vaeseq_u8(s, rk[r]));
    s = veorq_u8(vaeseq_u8(s, rk[9]), rk[10]);
    print_q("aes128 encrypt", s);
    // The equivalent inverse cipher: decryption round keys through InvMixColumns.
    s = vaesdq_u8(s, rk[10]);
    for (int r = 9; r > 0; r--)
        s = vaesdq_u8(vaesimcq_u8(s), vaesimcq_u8(rk[r]));
    s = veorq_u8(s, rk[0]);
    print_q("aes128 decrypt", s);
}

// ---- SHA-1 and SHA-256 of one padded block ----

static void abc_block(uint32_t w[16])
{
    for (int i = 0; i < 16; i++)
        w[i] = 0;
    w[0] = 0x61626380;  // "abc" then the 1 bit, big-endian words
    w[15] = 24;         // the length in bits
}

static void sha1_abc(void)
{
    static const uint32_t k[4] = {0x5a827999, 0x6ed9eba1, 0x8f1bbcdc, 0xca62c1d6};
    uint32_t h[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0};
    uint32_t blk[16];
    abc_block(blk);
    uint32x4_t w[4];
    for (int i = 0; i < 4; i++)
        w[i] = vld1q_u32(&blk[4 * i]);
    uint32x4_t abcd = vld1q_u32(h);
    uint32_t e = h[4];
    for (int i = 0; i < 20; i++) {
        uint32x4_t wk = vaddq_u32(w[i % 4], vdupq_n_u32(k[i / 5]));
        uint32_t e_next = vsha1h_u32(vgetq_lane_u32(abcd, 0));
        if (i < 5)
            abcd = vsha1cq_u32(abcd, e, wk);
        else if (i < 10 || i >= 15)
            abcd = vsha1pq_u32(abcd, e, wk);
        else
            abcd = vsha1mq_u32(abcd, e, wk);
        e = e_next;
        if (i < 16)
            w[i % 4] = vsha1su1q_u32(vsha1su0q_u32(w[i % 4], w[(i + 1) % 4], w[(i + 2) % 4]),
                                     w[(i + 3) % 4]);
    }
    uint32_t out[4];
    vst1q_u32(out, vaddq_u32(abcd, vld1q_u32(h)));
    printf("sha1(abc) %08x%08x%08x%08x%08x\n", out[0], out[1], out[2], out[3], e + h[4]);
}

static const uint32_t k256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static void sha256_abc(void)
{
    static const uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                  0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    uint32_t blk[16];
    abc_block(blk);
    uint32x4_t w[4];
    for (int i = 0; i < 4; i++)
        w[i] = vld1q_u32(&blk[4 * i]);
    uint32x4_t s0 = vld1q_u32(h), s1 = vld1q_u32(h + 4);
    for (int i = 0; i < 16; i++) {
        uint32x4_t wk = vaddq_u32(w[i % 4], vld1q_u32(&k256[4 * i]));
        uint32x4_t abcd = s0;
        s0 = vsha256hq_u32(s0, s1, wk);
        s1 = vsha256h2q_u32(s1, abcd, wk);
        if (i < 12)
            w[i % 4] = vsha256su1q_u32(vsha256su0q_u32(w[i % 4], w[(i + 1) % 4]),
                                       w[(i + 2) % 4], w[(i + 3) % 4]);
    }
    uint32_t out[8];
    vst1q_u32(out, vaddq_u32(s0, vld1q_u32(h)));
    vst1q_u32(out + 4, vaddq_u32(s1, vld1q_u32(h + 4)));
    printf("sha256(abc) ");
    for (int i = 0; i < 8; i++)
        printf("%08x", out[i]);
    putchar('\n');
}

// ---- Single SHA-512, SHA-3 and PMULL results ----

static volatile uint64_t seed[8] = {0x0123456789abcdefull, 0xfedcba9876543210ull,
                                    0x6a09e667f3bcc908ull, 0xbb67ae8584caa73bull,
                                    0x8000000000000001ull, 0x00000000000000ffull,
                                    0xdeadbeefcafef00dull, 0x5555aaaa3333ccccull};

static uint64x2_t q(int i)
{
    return vcombine_u64(vcreate_u64(seed[i]), vcreate_u64(seed[(i + 1) % 8]));
}

static void sha512_sha3_pmull(void)
{
    print_q64("sha512h", vsha512hq_u64(q(0), q(2), q(4)));
    print_q64("sha512h2", vsha512h2q_u64(q(1), q(3), q(5)));
    print_q64("sha512su0", vsha512su0q_u64(q(2), q(6)));
    print_q64("sha512su1", vsha512su1q_u64(q(3), q(5), q(7)));
    print_q64("eor3", veor3q_u64(q(0), q(3), q(6)));
    print_q64("rax1", vrax1q_u64(q(1), q(4)));
    print_q64("xar #13", vxarq_u64(q(2), q(5), 13));
    print_q64("bcax", vbcaxq_u64(q(6), q(1), q(3)));
    poly64_t a = seed[4], b = seed[6];
    print_q("pmull 1q", vreinterpretq_u8_p128(vmull_p64(a, b)));
    print_q("pmull2 1q", vreinterpretq_u8_p128(vmull_high_p64(vreinterpretq_p64_u64(q(2)),
                                                                vreinterpretq_p64_u64(q(6)))));
    poly8x8_t c = vreinterpret_p8_u64(vcreate_u64(seed[6])), d = vreinterpret_p8_u64(vcreate_u64(seed[7]));
    print_q("pmull 8h", vreinterpretq_u8_p16(vmull_p8(c, d)));
    print_q("pmul 8b", vcombine_u8(vreinterpret_u8_p8(vmul_p8(c, d)), vdup_n_u8(0)));
}

// ---- Saturating arithmetic and FPSR.QC ----

static uint64_t qc_and_clear(void)
{
    uint64_t fpsr;
    __asm__ volatile("mrs %0, fpsr" : "=r"(fpsr));
    __asm__ volatile("msr fpsr, xzr");
    return (fpsr >> 27) & 1;
}

static void saturating(void)
{
    qc_and_clear();
    int16x8_t h = vreinterpretq_s16_u64(q(4));
    int32x4_t s = vreinterpretq_s32_u64(q(6));
    print_q("sqxtn", vreinterpretq_u8_s8(vcombine_s8(vqmovn_s16(h), vdup_n_s8(0))));
    printf("qc %u\n", (unsigned)qc_and_clear());
    print_q("sqxtun2", vreinterpretq_u8_u16(vqmovun_high_s32(vdup_n_u16(7), s)));
    printf("qc %u\n", (unsigned)qc_and_clear());
    print_q("sqrshrn #5", vreinterpretq_u8_s16(vcombine_s16(vqrshrn_n_s32(s, 5), vdup_n_s16(0))));
    print_q("uqshrn #3", vreinterpretq_u8_u32(vcombine_u32(vqshrn_n_u64(q(2), 3), vdup_n_u32(0))));
    print_q("sqshl #9", vreinterpretq_u8_s16(vqshlq_n_s16(h, 9)));
    print_q("sqshlu #2", vreinterpretq_u8_u32(vqshluq_n_s32(s, 2)));
    print_q("sqrshl", vreinterpretq_u8_s16(vqrshlq_s16(h, vdupq_n_s16(-3))));
    printf("qc %u\n", (unsigned)qc_and_clear());
    print_q("uqshl", vreinterpretq_u8_u16(vqshlq_u16(vreinterpretq_u16_s16(h), vdupq_n_s16(4))));
    print_q("sqdmulh", vreinterpretq_u8_s16(vqdmulhq_s16(h, vreinterpretq_s16_u64(q(6)))));
    print_q("sqrdmulh lane", vreinterpretq_u8_s32(vqrdmulhq_laneq_s32(s, vreinterpretq_s32_u64(q(1)), 3)));
    int16x8_t min = vdupq_n_s16(-32768);
    print_q("sqdmulh min", vreinterpretq_u8_s16(vqdmulhq_s16(min, min)));
    printf("qc %u\n", (unsigned)qc_and_clear());
    print_q("sqrdmlah", vreinterpretq_u8_s16(vqrdmlahq_s16(h, vreinterpretq_s16_u64(q(2)), vreinterpretq_s16_u64(q(7)))));
    print_q("sqrdmlsh", vreinterpretq_u8_s32(vqrdmlshq_s32(s, vreinterpretq_s32_u64(q(3)), vreinterpretq_s32_u64(q(0)))));
    print_q("sqdmull2", vreinterpretq_u8_s64(vqdmull_high_s32(s, vreinterpretq_s32_u64(q(5)))));
    print_q("sqdmlal lane", vreinterpretq_u8_s32(vqdmlal_lane_s16(vreinterpretq_s32_u64(q(3)), vget_low_s16(h), vget_high_s16(h), 2)));
    print_q("suqadd", vreinterpretq_u8_s8(vuqaddq_s8(vreinterpretq_s8_u64(q(6)), vreinterpretq_u8_u64(q(7)))));
    print_q("usqadd", vsqaddq_u8(vreinterpretq_u8_u64(q(1)), vreinterpretq_s8_u64(q(4))));
    printf("qc %u\n", (unsigned)qc_and_clear());
}

int main(void)
{
    aes128();
    sha1_abc();
    sha256_abc();
    sha512_sha3_pmull();
    saturating();
    puts("crypto done");
    return 0;
}
