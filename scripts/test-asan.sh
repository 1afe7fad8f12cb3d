#!/usr/bin/env bash
# Builds Orrery with AddressSanitizer and UndefinedBehaviorSanitizer into build-asan/ (the
# "asan" preset in CMakePresets.json) and runs the unit and guest tests in that build.
#   scripts/test-asan.sh                unit and guest tests
#   scripts/test-asan.sh -R Pl011       extra ctest arguments (here: only matching tests)
# Any sanitizer report fails the test that triggered it. Prints how long the build and the
# tests took. Run scripts/setup.sh first on a fresh machine.
# UBSan's vptr check is off (-fno-sanitize=vptr): the LLVM tier's JIT file is built without
# RTTI, as LLVM's headers require, and a shared_ptr control block's vtable emitted there has no
# type info, so every make_shared elsewhere was reported as a bad member access.
# The preset keeps the sanitizers' coverage and trims the build (CI builds it cold on 2 cores):
# line tables only (-g1, enough for symbolized reports), the test code at -Og (the emulator's
# libraries stay at -O2), and no fuzz or bench programs (only the unit and guest labels run).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f build-asan/build.ninja ]; then
  launcher=()
  if command -v ccache >/dev/null; then
    launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  fi
  cmake --preset asan "${launcher[@]}" >/dev/null
fi
t0=$(date +%s)
cmake --build --preset asan -j"$(nproc)"
t1=$(date +%s)
# The test preset sets the sanitizer options (a report aborts the process, so ctest counts a
# failure; leak checking stays on, with scripts/lsan.supp) and selects the unit and guest labels.
status=0
ctest --preset asan -j"$(nproc)" --repeat until-pass:2 "$@" || status=$?
t2=$(date +%s)
echo "asan: build $((t1 - t0)) s, tests $((t2 - t1)) s"
exit $status
