// The cryptographic extension (AES, SHA1, SHA256, SHA512, SHA3) and PMULL: each instruction is
// one helper call (cpu/arm64/crypto.h) that reads and writes the vector registers. The
// encodings are UNDEFINED unless the CPU model's ID_AA64ISAR0_EL1 advertises the feature.
#include "cpu/arm64/crypto.h"
#include "cpu/arm64/translate.h"

namespace orrery::cpu::arm64 {

namespace {
// ID_AA64ISAR0_EL1 fields.
constexpr unsigned kIsarAes = 4, kIsarSha1 = 8, kIsarSha2 = 12, kIsarSha3 = 32;
}  // namespace

bool Translator::crypto_op(int op, u32 d, u32 n, u32 m, u32 a, u32 imm) {
  if (!fp_access_check()) return true;
  CryptoDesc c{CryptoOp(op), d, n, m, a, imm};
  e_.call(kHelperCrypto, {e_.c64(c.encode())});
  return true;
}

bool Translator::CRYPTO_AES(u32 size, u32 opc, u32 n, u32 d) {
  if (size != 0 || opc < 4 || opc > 7 || isar0_field(kIsarAes) < 1) return unallocated();
  static constexpr CryptoOp kOps[] = {CryptoOp::Aese, CryptoOp::Aesd, CryptoOp::Aesmc,
                                      CryptoOp::Aesimc};
  return crypto_op(int(kOps[opc - 4]), d, n, 0);
}

bool Translator::CRYPTO_SHA_3reg(u32 size, u32 m, u32 opc, u32 n, u32 d) {
  if (size != 0 || opc == 7) return unallocated();
  if (isar0_field(opc <= 3 ? kIsarSha1 : kIsarSha2) < 1) return unallocated();
  static constexpr CryptoOp kOps[] = {CryptoOp::Sha1c,    CryptoOp::Sha1p,   CryptoOp::Sha1m,
                                      CryptoOp::Sha1su0,  CryptoOp::Sha256h, CryptoOp::Sha256h2,
                                      CryptoOp::Sha256su1};
  return crypto_op(int(kOps[opc]), d, n, m);
}

bool Translator::CRYPTO_SHA_2reg(u32 size, u32 opc, u32 n, u32 d) {
  if (size != 0 || opc > 2) return unallocated();
  if (isar0_field(opc <= 1 ? kIsarSha1 : kIsarSha2) < 1) return unallocated();
  static constexpr CryptoOp kOps[] = {CryptoOp::Sha1h, CryptoOp::Sha1su1, CryptoOp::Sha256su0};
  return crypto_op(int(kOps[opc]), d, n, 0);
}

bool Translator::CRYPTO_SHA512_3reg(u32 m, u32 opc, u32 n, u32 d) {
  if (opc > 3) return unimplemented("SM3PARTW1/SM3PARTW2/SM4EKEY (FEAT_SM3, FEAT_SM4)");
  if (opc == 3 ? isar0_field(kIsarSha3) < 1 : isar0_field(kIsarSha2) < 2) return unallocated();
  static constexpr CryptoOp kOps[] = {CryptoOp::Sha512h, CryptoOp::Sha512h2, CryptoOp::Sha512su1,
                                      CryptoOp::Rax1};
  return crypto_op(int(kOps[opc]), d, n, m);
}

bool Translator::CRYPTO_SHA512_2reg(u32 opc, u32 n, u32 d) {
  if (opc == 1) return unimplemented("SM4E (FEAT_SM4)");
  if (opc != 0 || isar0_field(kIsarSha2) < 2) return unallocated();
  return crypto_op(int(CryptoOp::Sha512su0), d, n, 0);
}

bool Translator::CRYPTO_4reg(u32 op0, u32 m, u32 a, u32 n, u32 d) {
  if (op0 == 2) return unimplemented("SM3SS1 (FEAT_SM3)");
  if (op0 == 3 || isar0_field(kIsarSha3) < 1) return unallocated();
  return crypto_op(int(op0 == 0 ? CryptoOp::Eor3 : CryptoOp::Bcax), d, n, m, a);
}

bool Translator::XAR(u32 m, u32 imm6, u32 n, u32 d) {
  if (isar0_field(kIsarSha3) < 1) return unallocated();
  return crypto_op(int(CryptoOp::Xar), d, n, m, 0, imm6);
}

}  // namespace orrery::cpu::arm64
