#!/usr/bin/env bash
# Sets up, builds, and runs a bare-metal AArch64 guest on Orrery's virt board, printing to the
# terminal. Pass extra orrery options after the script name (e.g. -accel tcg,tier=interp).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh orrery orrery_guest_programs
exec build/orrery -M virt -cpu cortex-a57 -m 128 -nographic \
  -kernel build/tests/guest/arm64/hello.elf "$@"
