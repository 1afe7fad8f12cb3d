#!/usr/bin/env bash
# -accel verify,ref=kvm catches a translator bug: with inject=adc-carry the baseline tier's ADC
# ignores its carry in, and kvmtest's CPL3 checksum loop sums its carries with ADC into R8 (which
# nothing prints). KVM runs the same code natively. Passes when Orrery exits with the verify
# mode's divergence status (3), marks R8 as differing and names the ADC; exits 77
# (skipped) without a usable /dev/kvm.
#
#   verify_kvm_inject.sh ORRERY kvmtest.bin
set -u
orrery=$1
kernel=$2
if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
    echo "SKIP: no usable /dev/kvm"
    exit 77
fi
. "$(dirname "$0")/../verify_lib.sh"
verify_diverges "$orrery" -device pc-testdev -accel verify,ref=kvm,test=baseline,inject=adc-carry \
    -kernel "$kernel"
grep -q "^orrery: verify: divergence on vCPU 0 after [0-9]* sync points: KVM and baseline differ" \
    "$work/stderr" || fail "no divergence line"
grep -qE "^\* r8 +0x[0-9a-f]+ +(0x)?[0-9a-f]+" "$work/stderr" || fail "R8 not marked as differing"
# Re-run from the last sync point one instruction at a time against the interpreter, the
# difference is narrowed to the ADC.
grep -q "^narrowed with the interpreter: the instruction at RIP 0x[0-9a-f]* .* gives different results on interp and baseline:" \
    "$work/stderr" || fail "not narrowed to one instruction"
grep -A1 "^narrowed with the interpreter" "$work/stderr" | grep -qE "^  adc r8d, 0" ||
    fail "the instruction named is not the ADC"
# The checksum's own output (before the first sync point after the loop) is printed in full.
grep -q "^sum " "$work/stdout" || fail "the guest did not get to its checksum"
echo "PASS: $(grep -A1 '^narrowed with the interpreter' "$work/stderr" | tail -n 1 | sed 's/^ *//')"
