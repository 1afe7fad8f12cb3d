// System-instruction translators: placeholders that x86-sys replaces. Each rejects its
// instruction, so the frontend names it under -d unimp and raises #UD.
#include "cpu/x86/translate_system.h"

namespace orrery::cpu::x86 {

bool sys_arpl(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_call_far(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_clac(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_cli(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_clts(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_cpuid(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_hlt(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_in(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_ins(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_int(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_invd(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_invlpg(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_invpcid(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_iret(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_jmp_far(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_lar(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_lgdt(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_lidt(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_lldt(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_lmsw(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_load_far_ptr(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_lsl(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_ltr(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_monitor(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_mov_cr(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_mov_dr(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_mov_sreg(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_mwait(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_out(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_outs(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_pop_sreg(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_push_sreg(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_rdfsbase(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_rdgsbase(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_rdmsr(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_rdpid(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_rdpmc(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_rdtsc(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_rdtscp(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_ret_far(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_sgdt(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_sidt(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_sldt(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_smsw(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_stac(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_sti(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_str(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_swapgs(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_syscall(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_sysenter(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_sysexit(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_sysret(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_verr(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_verw(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_wbinvd(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_wrfsbase(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_wrgsbase(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_wrmsr(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_xgetbv(TranslateContext& t) {
  return t.unimplemented();
}
bool sys_xsetbv(TranslateContext& t) {
  return t.unimplemented();
}

}  // namespace orrery::cpu::x86
