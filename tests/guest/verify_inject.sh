#!/usr/bin/env bash
# -accel verify catches a translator bug: with inject=adc-carry the baseline tier's ADC ignores
# its carry in (the interpreter's does not), and intops (int32) runs ADC with CF set. Passes
# when Orrery exits with the verify mode's divergence status (3) and names an ADC instruction,
# its address and the differing registers.
#
#   verify_inject.sh ORRERY int32.elf
set -u
orrery=$1
elf=$2
. "$(dirname "$0")/verify_lib.sh"
verify_diverges "$orrery" -accel verify,test=baseline,inject=adc-carry -kernel "$elf"
grep -q "^orrery: verify: divergence on vCPU 0 .* the instruction at 0x[0-9a-f]* (linear 0x[0-9a-f]*)" \
    "$work/stderr" || fail "no divergence line naming one instruction"
grep -A1 "^instruction:" "$work/stderr" | grep -qE "^  [0-9a-f]{4}:0x[0-9a-f]+  adc " ||
    fail "the instruction named is not an ADC"
grep -qE "^\* " "$work/stderr" || fail "no register or memory marked as differing"
echo "PASS: $(grep -A1 '^instruction:' "$work/stderr" | tail -n 1 | sed 's/^ *//')"
