#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds Orrery and runs every test with ctest.
#   scripts/test.sh            all tests
#   scripts/test.sh -L unit    only one label (unit, guest, cli, fuzz, system)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
cd build
ctest --output-on-failure -j"$(nproc)" --timeout 600 "$@"
