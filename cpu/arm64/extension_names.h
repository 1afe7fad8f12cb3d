// Names for A64 encodings of architecture extensions no Orrery CPU model implements (ARMv8.1
// and later, and the optional Crypto extension), for the -d unimp line that reports one being
// executed. Capstone names many of them too; this table covers those it does not know.
#pragma once

#include <cstdint>

namespace orrery::cpu::arm64 {

struct ExtensionEncoding {
  uint32_t mask, value;
  const char* name;
};

// First match wins; more specific rows come first.
inline constexpr ExtensionEncoding kExtensionEncodings[] = {
    // FEAT_LSE: atomic memory operations (size 111 V=0 00 A R 1 Rs o3 opc 00 Rn Rt).
    {0x3f20fc00, 0x38200000, "LDADD"},
    {0x3f20fc00, 0x38201000, "LDCLR"},
    {0x3f20fc00, 0x38202000, "LDEOR"},
    {0x3f20fc00, 0x38203000, "LDSET"},
    {0x3f20fc00, 0x38204000, "LDSMAX"},
    {0x3f20fc00, 0x38205000, "LDSMIN"},
    {0x3f20fc00, 0x38206000, "LDUMAX"},
    {0x3f20fc00, 0x38207000, "LDUMIN"},
    {0x3f20fc00, 0x38208000, "SWP"},
    {0x3f20fc00, 0x38209000, "ST64B"},  // FEAT_LS64
    {0x3f20fc00, 0x3820a000, "ST64BV0"},
    {0x3f20fc00, 0x3820b000, "ST64BV"},
    {0x3f20fc00, 0x3820c000, "LDAPR"},  // FEAT_LRCPC
    {0x3f20fc00, 0x3820d000, "LD64B"},
    {0x3fa07c00, 0x08a07c00, "CAS"},
    {0xbfa07c00, 0x08207c00, "CASP"},
    // FEAT_LRCPC2: LDAPUR/STLUR.
    {0x3f200c00, 0x19000000, "LDAPUR/STLUR"},
    // FEAT_THE: RCWCAS, RCWCASP.
    {0xff20fc00, 0x19200800, "RCWCAS"},
    {0xff20fc00, 0x19200c00, "RCWCASP"},
    // FEAT_RDM.
    {0xbf20fc00, 0x2e008400, "SQRDMLAH"},
    {0xbf20fc00, 0x2e008c00, "SQRDMLSH"},
    {0xff20fc00, 0x7e008400, "SQRDMLAH"},
    {0xff20fc00, 0x7e008c00, "SQRDMLSH"},
    {0xbf00f400, 0x2f00d000, "SQRDMLAH"},
    {0xbf00f400, 0x2f00f000, "SQRDMLSH"},
    // FEAT_DotProd.
    {0xbf20fc00, 0x0e009400, "SDOT"},
    {0xbf20fc00, 0x2e009400, "UDOT"},
    {0xbf00f400, 0x0f00e000, "SDOT"},
    {0xbf00f400, 0x2f00e000, "UDOT"},
    // FEAT_FP16: scalar half-precision data processing (ftype 11).
    {0xff200000, 0x1ee00000, "FP16 scalar"},
    {0xff000000, 0x1fc00000, "FP16 FMADD/FMSUB"},
    // FEAT_PAuth.
    {0xffffc000, 0xdac10000, "PAC/AUT"},
    {0xffe0fc00, 0x9ac03000, "PACGA"},
    {0xff200400, 0xf8200400, "LDRAA/LDRAB"},
    {0xfe9ff800, 0xd61f0800, "BRA/BLRA/RETA"},
    // FEAT_MTE.
    {0xffe0fc00, 0x9ac01000, "IRG"},
    {0xffe0fc00, 0x9ac01400, "GMI"},
    {0xbfe0fc00, 0x9ac00000, "SUBP"},
    {0xbfc0c000, 0x91800000, "ADDG/SUBG"},
    {0xff200000, 0xd9200000, "STG/LDG"},
    {0xfe400000, 0x68000000, "STGP"},
    // FEAT_FlagM.
    {0xffe07c10, 0xba000400, "RMIF"},
    {0xffffbc1f, 0x3a00080d, "SETF8/SETF16"},
    // Crypto extension (FEAT_AES, FEAT_SHA1, FEAT_SHA256, FEAT_PMULL) and FEAT_SHA512/SHA3/SM.
    {0xffffcc00, 0x4e284800, "AES"},
    {0xffe08c00, 0x5e000000, "SHA1/SHA256"},
    {0xfffe0c00, 0x5e280800, "SHA1/SHA256"},
    {0xbfe0fc00, 0x0ee0e000, "PMULL (64-bit)"},
    {0xff000000, 0xce000000, "SHA512/SHA3/SM3/SM4"},
};

/// The extension instruction insn encodes, or null.
constexpr const char* extension_encoding_name(uint32_t insn) {
  for (const ExtensionEncoding& e : kExtensionEncodings)
    if ((insn & e.mask) == e.value) return e.name;
  return nullptr;
}

}  // namespace orrery::cpu::arm64
