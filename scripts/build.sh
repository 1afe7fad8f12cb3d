#!/usr/bin/env bash
# Configures and builds Orrery into build/ (Ninja, RelWithDebInfo).
#   scripts/build.sh               everything
#   scripts/build.sh T1 T2 ...     only these targets
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
if [ $# -gt 0 ]; then
  cmake --build build --target "$@"
else
  cmake --build build
fi
