// Translators not written yet (placeholders).
#include "cpu/x86/translators.h"

namespace orrery::cpu::x86 {

bool tr_aad(TranslateContext& t) {
  return t.unimplemented();
}
bool tr_aam(TranslateContext& t) {
  return t.unimplemented();
}
bool tr_adcx_adox(TranslateContext& t) {
  return t.unimplemented();
}
bool tr_andn(TranslateContext& t) {
  return t.unimplemented();
}
bool tr_bcd(TranslateContext& t) {
  return t.unimplemented();
}
bool tr_bextr(TranslateContext& t) {
  return t.unimplemented();
}
bool tr_blsx(TranslateContext& t) {
  return t.unimplemented();
}
bool tr_bsf_bsr(TranslateContext& t) {
  return t.unimplemented();
}
bool tr_bt(TranslateContext& t) {
  return t.unimplemented();
}
bool tr_bzhi(TranslateContext& t) {
  return t.unimplemented();
}
bool tr_cmps(TranslateContext& t) {
  return t.unimplemented();
}
bool tr_lods(TranslateContext& t) {
  return t.unimplemented();
}
bool tr_lzcnt_tzcnt(TranslateContext& t) {
  return t.unimplemented();
}
bool tr_movs(TranslateContext& t) {
  return t.unimplemented();
}
bool tr_mulx(TranslateContext& t) {
  return t.unimplemented();
}
bool tr_pdep_pext(TranslateContext& t) {
  return t.unimplemented();
}
bool tr_popcnt(TranslateContext& t) {
  return t.unimplemented();
}
bool tr_rcl_rcr(TranslateContext& t) {
  return t.unimplemented();
}
bool tr_rdrand(TranslateContext& t) {
  return t.unimplemented();
}
bool tr_rorx(TranslateContext& t) {
  return t.unimplemented();
}
bool tr_rotate(TranslateContext& t) {
  return t.unimplemented();
}
bool tr_scas(TranslateContext& t) {
  return t.unimplemented();
}
bool tr_shift(TranslateContext& t) {
  return t.unimplemented();
}
bool tr_shiftx(TranslateContext& t) {
  return t.unimplemented();
}
bool tr_shld_shrd(TranslateContext& t) {
  return t.unimplemented();
}
bool tr_stos(TranslateContext& t) {
  return t.unimplemented();
}

}  // namespace orrery::cpu::x86
