#!/usr/bin/env bash
# One command: install what is missing, build everything, run the whole test suite (unit tests and
# integration tests against real enos-hub brokers that the tests start on free ports themselves).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
preset="${ENOS_PRESET:-default}"
cmake --preset "$preset" -DENOS_DEVICE_WERROR=ON
cmake --build --preset "$preset" -j "$(nproc)"
ctest --preset "$preset" -j "$(nproc)" --timeout 300
