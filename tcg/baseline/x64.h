// A small x86-64 machine-code assembler for the baseline tier: just the instruction forms the
// code generator uses, emitted into a byte vector. Code is position-independent (internal jumps
// are rel32, data is reached RIP-relative, absolute addresses are 64-bit immediates), so the
// bytes can be copied anywhere in the code cache.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

namespace orrery::tcg::baseline {

enum Reg : uint8_t { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };

/// Condition codes (the low nibble of Jcc/SETcc/CMOVcc).
enum Cc : uint8_t {
  kO = 0x0,
  kNo = 0x1,
  kB = 0x2,
  kAe = 0x3,
  kE = 0x4,
  kNe = 0x5,
  kBe = 0x6,
  kA = 0x7,
  kS = 0x8,
  kNs = 0x9,
  kL = 0xc,
  kGe = 0xd,
  kLe = 0xe,
  kG = 0xf,
};

/// ALU operations in their /digit numbering (0x81 /n, and opcode n*8+1 / n*8+3 for r/m forms).
enum Alu : uint8_t { kAdd = 0, kOr = 1, kAdc = 2, kAnd = 4, kSub = 5, kXor = 6, kCmp = 7 };

/// Shift/rotate operations in their /digit numbering (0xC1 /n ib, 0xD3 /n).
enum Shift : uint8_t { kRor = 1, kShl = 4, kShr = 5, kSar = 7 };

/// A memory operand [base + disp], or [base + index + disp] with an index register (RSP: none).
/// Only the general-register forms (op_rm, op_rm2, lock_rm) take an index.
struct Mem {
  Reg base;
  int32_t disp;
  Reg index = RSP;
  uint8_t scale = 0;  // the index is multiplied by 1 << scale
};

struct Label {
  uint32_t id;
};

inline bool fits_i32(int64_t v) {
  return v == int64_t(int32_t(v));
}
inline bool fits_i8(int64_t v) {
  return v == int64_t(int8_t(v));
}

class X64 {
 public:
  X64() {
    buf_.resize(4096);
    labels_.reserve(32);
    fixups_.reserve(64);
  }
  /// Starts a new block, keeping the buffers' capacity.
  void reset() {
    size_ = 0;
    labels_.clear();
    fixups_.clear();
  }
  const uint8_t* data() const { return buf_.data(); }
  /// Drops the code from offset n on (a peephole retracting the last instructions). Nothing
  /// emitted there may be a label or a jump.
  void truncate(size_t n) { size_ = n; }
  size_t size() const { return size_; }
  /// Appends raw data (constants placed after the code).
  void append(const void* p, size_t n) {
    room(n);
    std::memcpy(&buf_[size_], p, n);
    size_ += n;
  }

  // --- labels -------------------------------------------------------------------------------
  Label new_label() {
    labels_.push_back(kUnbound);
    return Label{uint32_t(labels_.size() - 1)};
  }
  void bind(Label l) { labels_[l.id] = uint32_t(size_); }
  /// Patches every rel32 reference; false if a referenced label was never bound.
  bool resolve() {
    for (const Fixup& f : fixups_) {
      if (labels_[f.label] == kUnbound) return false;
      int32_t rel = int32_t(int64_t(labels_[f.label]) - int64_t(f.at + 4));
      std::memcpy(&buf_[f.at], &rel, 4);
    }
    return true;
  }
  /// RIP-relative displacement to a byte offset of this buffer (data placed after the code).
  void lea_rip(Reg dst, uint32_t target_offset) {
    rex(true, dst, 0, false);
    byte(0x8d);
    byte(uint8_t(((dst & 7) << 3) | 5));
    int32_t rel = int32_t(int64_t(target_offset) - int64_t(size_ + 4));
    imm32(uint32_t(rel));
  }
  size_t lea_rip_placeholder(Reg dst) {  // returns the offset of the rel32 to patch later
    rex(true, dst, 0, false);
    byte(0x8d);
    byte(uint8_t(((dst & 7) << 3) | 5));
    size_t at = size_;
    imm32(0);
    return at;
  }
  /// `dec dword [rip+rel32]` with the rel32 0; returns its offset (the instruction ends there).
  size_t dec32_rip_placeholder() {
    byte(0xff);
    byte(0x0d);  // ModRM: /1 (dec), RIP-relative
    const size_t at = size_;
    imm32(0);
    return at;
  }
  void patch_rip(size_t at, uint32_t target_offset) {
    int32_t rel = int32_t(int64_t(target_offset) - int64_t(at + 4));
    std::memcpy(&buf_[at], &rel, 4);
  }

  // --- control flow ---------------------------------------------------------------------------
  /// `jmp rel32` to the next instruction, its rel32 4-byte aligned (one NOP of 1-3 bytes before
  /// it) so that it can be repointed with one atomic store while other threads run it. Returns
  /// the rel32's offset.
  size_t jmp_patchable() {
    static constexpr uint8_t kNops[3][3] = {{0x90}, {0x66, 0x90}, {0x0f, 0x1f, 0x00}};
    if (const size_t pad = (4 - (size_ + 1) % 4) % 4) append(kNops[pad - 1], pad);
    byte(0xe9);
    const size_t at = size_;
    imm32(0);
    return at;
  }
  void jmp(Label l) {
    byte(0xe9);
    ref(l);
  }
  /// `jmp rel32` with the rel32 0, for a target outside this buffer; returns the rel32's offset.
  size_t jmp_rel32_placeholder() {
    byte(0xe9);
    const size_t at = size_;
    imm32(0);
    return at;
  }
  void jcc(Cc cc, Label l) {
    byte(0x0f);
    byte(uint8_t(0x80 | cc));
    ref(l);
  }
  void call(Label l) {  // call rel32
    byte(0xe8);
    ref(l);
  }
  void call_r(Reg r) {  // call r
    if (r >= 8) byte(0x41);
    byte(0xff);
    byte(uint8_t(0xd0 | (r & 7)));
  }
  void jmp_r(Reg r) {  // jmp r
    if (r >= 8) byte(0x41);
    byte(0xff);
    byte(uint8_t(0xe0 | (r & 7)));
  }
  void ret() { byte(0xc3); }
  void push(Reg r) {
    if (r >= 8) byte(0x41);
    byte(uint8_t(0x50 | (r & 7)));
  }
  void pop(Reg r) {
    if (r >= 8) byte(0x41);
    byte(uint8_t(0x58 | (r & 7)));
  }
  /// `lock or dword [rsp], 0`: a full barrier (a locked instruction orders every earlier load
  /// and store before every later one) that leaves memory as it was; it clobbers the flags.
  /// ~2 ns against ~17 ns for mfence on this project's AMD EPYC host (QEMU uses it too).
  void lock_or_stack() {
    bytes3(0xf0, 0x83, 0x0c);
    byte(0x24);
    byte(0x00);
  }

  // --- moves ----------------------------------------------------------------------------------
  /// dst = imm, in the shortest form (zero-extending 32-bit, sign-extending 32-bit, or 64-bit);
  /// keep_flags avoids the flag-clobbering xor for zero.
  void mov_imm(Reg dst, uint64_t imm, bool keep_flags = false) {
    if (imm == 0 && !keep_flags) {
      alu_rr(kXor, false, dst, dst);
    } else if (imm <= 0xffffffffull) {  // also 0 when the flags must survive
      if (dst >= 8) byte(0x41);
      byte(uint8_t(0xb8 | (dst & 7)));
      imm32(uint32_t(imm));
    } else if (fits_i32(int64_t(imm))) {
      rex(true, 0, dst, false);
      byte(0xc7);
      byte(uint8_t(0xc0 | (dst & 7)));
      imm32(uint32_t(imm));
    } else {
      rex(true, 0, dst, false);
      byte(uint8_t(0xb8 | (dst & 7)));
      imm64(imm);
    }
  }
  /// dst = imm in the 10-byte form whatever its value (a site patched later); returns the
  /// offset of the immediate.
  size_t mov_imm64(Reg dst, uint64_t imm) {
    rex(true, 0, dst, false);
    byte(uint8_t(0xb8 | (dst & 7)));
    const size_t at = size_;
    imm64(imm);
    return at;
  }
  void mov_rr(bool w, Reg dst, Reg src) { op_rr(0x89, w, src, dst); }
  /// dst = [m], 8/16/32/64 bits, zero-extended.
  void load(unsigned size, Reg dst, Mem m) {
    switch (size) {
      case 1:
        op_rm2(0x0f, 0xb6, false, dst, m);
        break;
      case 2:
        op_rm2(0x0f, 0xb7, false, dst, m);
        break;
      case 4:
        op_rm(0x8b, false, dst, m);
        break;
      default:
        op_rm(0x8b, true, dst, m);
        break;
    }
  }
  /// dst = [m] sign-extended to 64 bits.
  void load_sx(unsigned size, Reg dst, Mem m) {
    switch (size) {
      case 1:
        op_rm2(0x0f, 0xbe, true, dst, m);
        break;
      case 2:
        op_rm2(0x0f, 0xbf, true, dst, m);
        break;
      case 4:
        op_rm(0x63, true, dst, m);
        break;
      default:
        op_rm(0x8b, true, dst, m);
        break;
    }
  }
  /// [m] = low size bytes of src.
  void store(unsigned size, Mem m, Reg src) {
    switch (size) {
      case 1:
        op_rm(0x88, false, src, m, /*byte_reg=*/true);
        break;
      case 2:
        byte(0x66);
        op_rm(0x89, false, src, m);
        break;
      case 4:
        op_rm(0x89, false, src, m);
        break;
      default:
        op_rm(0x89, true, src, m);
        break;
    }
  }
  /// lock op [m], reg for 1/2/4/8 bytes: o2 is the 0F-map opcode of the byte form (cmpxchg
  /// 0xb0: compares with rax/eax/ax/al; xadd 0xc0).
  void lock_rm(uint8_t o2, unsigned size, Mem m, Reg reg) {
    byte(0xf0);
    if (size == 2) byte(0x66);
    rex_m(size == 8, reg, m, size == 1);
    byte(0x0f);
    byte(uint8_t(o2 + (size == 1 ? 0 : 1)));
    modrm_mem(reg, m);
  }
  /// xchg [m], reg (locked by the CPU), 1/2/4/8 bytes.
  void xchg_mr(unsigned size, Mem m, Reg reg) {
    if (size == 2) byte(0x66);
    op_rm(size == 1 ? 0x86 : 0x87, size == 8, reg, m, size == 1);
  }
  void store_imm8(Mem m, uint8_t imm) {  // mov byte [m], imm8
    op_rm(0xc6, false, Reg(0), m);
    byte(imm);
  }
  void store_imm32(bool w, Mem m, int32_t imm) {  // mov dword/qword [m], simm32
    op_rm(0xc7, w, Reg(0), m);
    imm32(uint32_t(imm));
  }
  /// dst = zero-extend low 8/16 bits of src (32-bit destination clears the upper half).
  void movzx_rr(unsigned size, Reg dst, Reg src) {
    op_rr2(0x0f, size == 1 ? 0xb6 : 0xb7, false, dst, src, size == 1);
  }
  /// dst = sign-extend low 8/16/32 bits of src to 64 bits.
  void movsx_rr(unsigned size, Reg dst, Reg src) {
    if (size == 4) {
      op_rr(0x63, true, dst, src);
    } else {
      op_rr2(0x0f, size == 1 ? 0xbe : 0xbf, true, dst, src, size == 1);
    }
  }

  // --- arithmetic -----------------------------------------------------------------------------
  void alu_rr(Alu op, bool w, Reg dst, Reg src) { op_rr(uint8_t(op * 8 + 1), w, src, dst); }
  void alu_rm(Alu op, bool w, Reg dst, Mem m) { op_rm(uint8_t(op * 8 + 3), w, dst, m); }
  void alu_ri(Alu op, bool w, Reg dst, int32_t imm) {
    if (fits_i8(imm)) {
      op_rr(0x83, w, Reg(op), dst);
      byte(uint8_t(imm));
    } else {
      op_rr(0x81, w, Reg(op), dst);
      imm32(uint32_t(imm));
    }
  }
  void alu_mi(Alu op, bool w, Mem m, int32_t imm) {  // op [m], simm
    if (fits_i8(imm)) {
      op_rm(0x83, w, Reg(op), m);
      byte(uint8_t(imm));
    } else {
      op_rm(0x81, w, Reg(op), m);
      imm32(uint32_t(imm));
    }
  }
  /// 8- or 16-bit adc (for carry/overflow of narrow adds).
  void adc_narrow(unsigned size, Reg dst, Reg src) {
    if (size == 2) byte(0x66);
    op_rr(size == 1 ? 0x10 : 0x11, false, src, dst, size == 1);
  }
  /// dst = src rotated right by amt, 64-bit, without touching flags (BMI2 RORX: VEX.LZ.F2.0F3A.W1
  /// F0 /r ib; the caller checks the host has BMI2).
  void rorx(Reg dst, Reg src, uint8_t amt) {
    byte(0xc4);
    byte(uint8_t(((~dst >> 3) & 1) << 7 | 1 << 6 | ((~src >> 3) & 1) << 5 | 3));
    byte(0xfb);  // W1, vvvv 1111 (unused), L0, pp F2
    byte(0xf0);
    byte(uint8_t(0xc0 | ((dst & 7) << 3) | (src & 7)));
    byte(amt);
  }
  void shift_cl(Shift op, bool w, Reg dst) { op_rr(0xd3, w, Reg(op), dst); }
  void shift_ri(Shift op, bool w, Reg dst, uint8_t amt) {
    op_rr(0xc1, w, Reg(op), dst);
    byte(amt);
  }
  void not_r(bool w, Reg r) { op_rr(0xf7, w, Reg(2), r); }
  void neg_r(bool w, Reg r) { op_rr(0xf7, w, Reg(3), r); }
  void mul_r(bool w, Reg src) { op_rr(0xf7, w, Reg(4), src); }    // rdx:rax = rax * src
  void imul1_r(bool w, Reg src) { op_rr(0xf7, w, Reg(5), src); }  // signed
  void imul_rr(bool w, Reg dst, Reg src) { op_rr2(0x0f, 0xaf, w, dst, src); }
  void imul_rm(bool w, Reg dst, Mem m) { op_rm2(0x0f, 0xaf, w, dst, m); }
  void imul_rri(bool w, Reg dst, Reg src, int32_t imm) {  // dst = src * simm32
    op_rr(0x69, w, dst, src);
    imm32(uint32_t(imm));
  }
  void test_rr(bool w, Reg a, Reg b) { op_rr(0x85, w, b, a); }
  void stc() { byte(0xf9); }        // CF = 1
  void bt_ri(Reg r, uint8_t bit) {  // bt r32, imm8
    op_rr2(0x0f, 0xba, false, Reg(4), r);
    byte(bit);
  }
  // SSE2 on xmm0..xmm15 (numbered like Reg). prefix is 0x66 or 0xf3 (0: none).
  void lea(Reg dst, Mem m, bool w = true) { op_rm(0x8d, w, dst, m); }  // w false: zero-extends
  void movdqu_load(unsigned xmm, Mem m) { sse_rm(0xf3, 0x6f, xmm, m); }
  void movdqu_store(Mem m, unsigned xmm) { sse_rm(0xf3, 0x7f, xmm, m); }
  void imm8(uint8_t v) { byte(v); }
  void sse_rr(uint8_t prefix, uint8_t opc, unsigned dst, unsigned src) {
    if (prefix) byte(prefix);
    rex(false, dst, src, false);
    bytes3(0x0f, opc, uint8_t(0xc0 | ((dst & 7) << 3) | (src & 7)));
  }
  /// 66 0F opc /ext ib (PSRLW/PSLLD/PSRLDQ ... by an immediate).
  void sse_shift_ri(uint8_t opc, unsigned ext, unsigned xmm, uint8_t imm) {
    sse_rr(0x66, opc, ext, xmm);
    byte(imm);
  }
  void sse_rm(uint8_t prefix, uint8_t opc, unsigned xmm, Mem m) {
    if (prefix) byte(prefix);
    rex(false, xmm, m.base, false, /*rm_is_reg=*/false);
    byte(0x0f);
    byte(opc);
    modrm_mem(Reg(xmm), m);
  }

  // AVX2 (VEX.256, map 0F, W0) on registers 0..7 and base registers below r8, so the two-byte
  // C5 prefix suffices. pp: 1 is 66, 2 is F3.
  void vex2(unsigned vvvv, bool l256, uint8_t pp) {
    byte(0xc5);
    byte(uint8_t(0x80 | ((~vvvv & 0xf) << 3) | (l256 ? 4 : 0) | pp));
  }
  void vmovdqu_load(unsigned ymm, Mem m) {
    vex2(0, true, 2);
    byte(0x6f);
    modrm_mem(Reg(ymm), m);
  }
  void vmovdqu_store(Mem m, unsigned ymm) {
    vex2(0, true, 2);
    byte(0x7f);
    modrm_mem(Reg(ymm), m);
  }
  /// VEX.256.66.0F opc: dst = src1 op src2 (VPADDB ...; VPSHUFD with src1 0 and an imm8 after).
  void vex_rrr(uint8_t opc, unsigned dst, unsigned src1, unsigned src2) {
    vex2(src1, true, 1);
    byte(opc);
    byte(uint8_t(0xc0 | ((dst & 7) << 3) | (src2 & 7)));
  }
  /// VEX.256.66.0F opc /ext ib: dst = src shifted by imm (VPSLLW ... VPSRLDQ).
  void vex_shift_ri(uint8_t opc, unsigned ext, unsigned dst, unsigned src, uint8_t imm) {
    vex2(dst, true, 1);
    byte(opc);
    byte(uint8_t(0xc0 | ((ext & 7) << 3) | (src & 7)));
    byte(imm);
  }
  /// VEX.128 VCMPPS/PD/SS/SD dst, src1, src2, pred (pp: 0 PS, 1 PD, 2 SS, 3 SD; xmm0..7).
  void vcmp128(uint8_t pp, unsigned dst, unsigned src1, unsigned src2, uint8_t pred) {
    vex2(src1, false, pp);
    byte(0xc2);
    byte(uint8_t(0xc0 | ((dst & 7) << 3) | (src2 & 7)));
    byte(pred);
  }
  void vzeroupper() { bytes3(0xc5, 0xf8, 0x77); }

  void setcc(Cc cc, Reg dst) { op_rr2(0x0f, uint8_t(0x90 | cc), false, Reg(0), dst, true); }
  void setcc_m(Cc cc, Mem m) { op_rm2(0x0f, uint8_t(0x90 | cc), false, Reg(0), m); }  // byte
  void cmov_rr(Cc cc, bool w, Reg dst, Reg src) { op_rr2(0x0f, uint8_t(0x40 | cc), w, dst, src); }
  void cmov_rm(Cc cc, bool w, Reg dst, Mem m) { op_rm2(0x0f, uint8_t(0x40 | cc), w, dst, m); }

 private:
  static constexpr uint32_t kUnbound = ~0u;
  struct Fixup {
    size_t at;
    uint32_t label;
  };

  // Emission writes into a buffer kept larger than the code so far: one compare per byte.
  void room(size_t n) {
    if (size_ + n > buf_.size()) buf_.resize(std::max(buf_.size() * 2, size_ + n));
  }
  void byte(uint8_t b) {
    room(1);
    buf_[size_++] = b;
  }
  void bytes3(uint8_t a, uint8_t b, uint8_t c) {
    byte(a);
    byte(b);
    byte(c);
  }
  void imm32(uint32_t v) {
    uint8_t b[4];
    std::memcpy(b, &v, 4);
    append(b, 4);
  }
  void imm64(uint64_t v) {
    uint8_t b[8];
    std::memcpy(b, &v, 8);
    append(b, 8);
  }
  void ref(Label l) {
    fixups_.push_back({size_, l.id});
    imm32(0);
  }
  /// REX prefix for reg (ModRM.reg) and rm (ModRM.rm or base); byte_regs forces one so that
  /// registers 4..7 name spl/bpl/sil/dil in 8-bit forms.
  void rex(bool w, unsigned reg, unsigned rm, bool byte_regs, bool rm_is_reg = true) {
    uint8_t r = uint8_t(0x40 | (w ? 8 : 0) | ((reg >> 3) << 2) | (rm >> 3));
    const bool byte_reg_4_7 = byte_regs && ((reg & 0xf) >= 4 || (rm_is_reg && (rm & 0xf) >= 4));
    if (r != 0x40 || byte_reg_4_7) byte(r);
  }
  /// REX prefix for a memory operand: as rex(), plus REX.X for an index register.
  void rex_m(bool w, unsigned reg, Mem m, bool byte_regs) {
    uint8_t r =
        uint8_t(0x40 | (w ? 8 : 0) | ((reg >> 3) << 2) | ((m.index >> 3) << 1) | (m.base >> 3));
    if (r != 0x40 || (byte_regs && (reg & 0xf) >= 4)) byte(r);
  }
  void op_rr(uint8_t opc, bool w, Reg reg, Reg rm, bool byte_regs = false) {
    rex(w, reg, rm, byte_regs);
    byte(opc);
    byte(uint8_t(0xc0 | ((reg & 7) << 3) | (rm & 7)));
  }
  void op_rr2(uint8_t o1, uint8_t o2, bool w, Reg reg, Reg rm, bool byte_regs = false) {
    rex(w, reg, rm, byte_regs);
    byte(o1);
    byte(o2);
    byte(uint8_t(0xc0 | ((reg & 7) << 3) | (rm & 7)));
  }
  void modrm_mem(Reg reg, Mem m) {
    const uint8_t base = m.base & 7;
    const uint8_t mod = (m.disp == 0 && base != RBP) ? 0 : fits_i8(m.disp) ? 1 : 2;
    if (m.index != RSP) {  // SIB
      byte(uint8_t((mod << 6) | ((reg & 7) << 3) | 4));
      byte(uint8_t((m.scale << 6) | ((m.index & 7) << 3) | base));
    } else {
      byte(uint8_t((mod << 6) | ((reg & 7) << 3) | base));
      if (base == RSP) byte(0x24);  // SIB: no index, base rsp/r12
    }
    if (mod == 1) byte(uint8_t(m.disp));
    if (mod == 2) imm32(uint32_t(m.disp));
  }
  void op_rm(uint8_t opc, bool w, Reg reg, Mem m, bool byte_regs = false) {
    rex_m(w, reg, m, byte_regs);
    byte(opc);
    modrm_mem(reg, m);
  }
  void op_rm2(uint8_t o1, uint8_t o2, bool w, Reg reg, Mem m) {
    rex_m(w, reg, m, false);
    byte(o1);
    byte(o2);
    modrm_mem(reg, m);
  }

  std::vector<uint8_t> buf_;
  size_t size_ = 0;
  std::vector<uint32_t> labels_;
  std::vector<Fixup> fixups_;
};

}  // namespace orrery::tcg::baseline
