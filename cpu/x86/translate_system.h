// Translators of the system instructions (x86-sys owns these): control/debug registers,
// descriptor tables, far transfers, interrupts, I/O, MSRs, CPUID, time stamps. Each is named by
// rows of insn_table.inc and has the TranslateFn signature (see translate.h).
#pragma once

#include "cpu/x86/translate.h"

namespace orrery::cpu::x86 {

bool sys_arpl(TranslateContext& t);
bool sys_call_far(TranslateContext& t);
bool sys_clac(TranslateContext& t);
bool sys_cli(TranslateContext& t);
bool sys_clts(TranslateContext& t);
bool sys_cpuid(TranslateContext& t);
bool sys_hlt(TranslateContext& t);
bool sys_in(TranslateContext& t);
bool sys_ins(TranslateContext& t);
bool sys_int(TranslateContext& t);
bool sys_invd(TranslateContext& t);
bool sys_invlpg(TranslateContext& t);
bool sys_invpcid(TranslateContext& t);
bool sys_iret(TranslateContext& t);
bool sys_jmp_far(TranslateContext& t);
bool sys_lar(TranslateContext& t);
bool sys_lgdt(TranslateContext& t);
bool sys_lidt(TranslateContext& t);
bool sys_lldt(TranslateContext& t);
bool sys_lmsw(TranslateContext& t);
bool sys_load_far_ptr(TranslateContext& t);
bool sys_lsl(TranslateContext& t);
bool sys_ltr(TranslateContext& t);
bool sys_monitor(TranslateContext& t);
bool sys_mov_cr(TranslateContext& t);
bool sys_mov_dr(TranslateContext& t);
bool sys_mov_sreg(TranslateContext& t);
bool sys_mwait(TranslateContext& t);
bool sys_out(TranslateContext& t);
/// POPF in virtual-8086 mode at IOPL < 3: CR4.VME's 16-bit form (VIF), else #GP(0).
bool sys_popf_virtual(TranslateContext& t);
bool sys_outs(TranslateContext& t);
bool sys_pop_sreg(TranslateContext& t);
bool sys_push_sreg(TranslateContext& t);
bool sys_rdfsbase(TranslateContext& t);
bool sys_rdgsbase(TranslateContext& t);
bool sys_rdmsr(TranslateContext& t);
bool sys_rdpid(TranslateContext& t);
bool sys_rdpmc(TranslateContext& t);
bool sys_rdtsc(TranslateContext& t);
bool sys_rdtscp(TranslateContext& t);
bool sys_ret_far(TranslateContext& t);
bool sys_sgdt(TranslateContext& t);
bool sys_sidt(TranslateContext& t);
bool sys_sldt(TranslateContext& t);
bool sys_smsw(TranslateContext& t);
bool sys_stac(TranslateContext& t);
bool sys_sti(TranslateContext& t);
bool sys_str(TranslateContext& t);
bool sys_swapgs(TranslateContext& t);
bool sys_syscall(TranslateContext& t);
bool sys_sysenter(TranslateContext& t);
bool sys_sysexit(TranslateContext& t);
bool sys_sysret(TranslateContext& t);
bool sys_verr(TranslateContext& t);
bool sys_verw(TranslateContext& t);
bool sys_wbinvd(TranslateContext& t);
bool sys_wrfsbase(TranslateContext& t);
bool sys_wrgsbase(TranslateContext& t);
bool sys_wrmsr(TranslateContext& t);
bool sys_xgetbv(TranslateContext& t);
bool sys_xsetbv(TranslateContext& t);

}  // namespace orrery::cpu::x86
