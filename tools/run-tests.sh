#!/usr/bin/env bash
# One command: install what is missing, build everything, run the whole test suite (unit tests and
# integration tests against real enos-hub brokers that the tests start on free ports themselves),
# then run the fuzz targets for a bounded time (tools/run-fuzz.sh, about 3 minutes; ENOS_FUZZ=0 skips
# it), then cross-compile the library and unit tests for aarch64 and run them under qemu
# (tools/cross-test.sh; ENOS_CROSS=0 skips that step).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
preset="${ENOS_PRESET:-default}"
cmake --preset "$preset" -DENOS_DEVICE_WERROR=ON
cmake --build --preset "$preset" -j "$(nproc)"
ctest --preset "$preset" -j "$(nproc)" --timeout 300
if [[ "${ENOS_FUZZ:-1}" != 0 ]]; then
  tools/run-fuzz.sh
fi
if [[ "${ENOS_CROSS:-1}" != 0 ]]; then
  tools/cross-test.sh
fi
