#!/usr/bin/env bash
# Regenerates the .expected files of the x86 guest programs from
# qemu-system-x86_64 (the reference), with the flags in programs.txt.
#
#   tests/guest/x86/update_expected.sh BUILD_DIR [NAME...]
#
# Build the programs first (cmake --build BUILD_DIR --target
# orrery_x86_guest_programs), then read the diff before committing.
set -u
if [ $# -lt 1 ]; then
    echo "usage: $0 BUILD_DIR [NAME...]" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
build=$1
shift
if [ $# -gt 0 ]; then
    names=("$@")
else
    mapfile -t names < <(grep -E '^[a-z]' "$here/programs.txt" | awk '{print $1}')
fi
status=0
for name in "${names[@]}"; do
    ORRERY=qemu UPDATE_EXPECTED=1 "$here/../run_guest.sh" - \
        "$build/tests/guest/x86/$name.elf" "$here/$name.expected" || status=1
done
exit $status
