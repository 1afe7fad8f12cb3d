#!/usr/bin/env bash
# Configures and builds Orrery into build/ (Ninja, RelWithDebInfo). Extra args go to the build.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build build "$@"
