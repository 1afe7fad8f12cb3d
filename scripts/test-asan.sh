#!/usr/bin/env bash
# Builds Orrery with AddressSanitizer and UndefinedBehaviorSanitizer into build-asan/ (the
# "asan" preset in CMakePresets.json) and runs the unit and guest tests in that build.
#   scripts/test-asan.sh                unit and guest tests
#   scripts/test-asan.sh -R Pl011       extra ctest arguments (here: only matching tests)
# Any sanitizer report fails the test that triggered it. Prints how long the build and the
# tests took. Run scripts/setup.sh first on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
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
# abort_on_error: a report ends the process with a signal, so ctest counts a failure even where
# the program's own exit status would not show it. detect_leaks stays on: see lsan.supp.
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:strict_string_checks=1:check_initialization_order=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$root/scripts/lsan.supp:print_suppressions=0
cd build-asan
status=0
ctest --output-on-failure -j"$(nproc)" --timeout 900 -L 'unit|guest' "$@" || status=$?
t2=$(date +%s)
echo "asan: build $((t1 - t0)) s, tests $((t2 - t1)) s"
exit $status
