#!/usr/bin/env bash
# One command: install what is missing, build everything and run the whole test suite (unit tests,
# integration tests against real enos-hub brokers that the tests start on free ports themselves, the
# package test, the fuzz corpora) once, built with AddressSanitizer and UndefinedBehaviorSanitizer
# (asan preset, warnings as errors). Then the client, queue, transport and gateway tests with
# ThreadSanitizer (tsan preset, RelWithDebInfo: tests/sanitizers/tsan-tests.sh), the fuzz targets for
# a bounded time each (tools/run-fuzz.sh; ENOS_FUZZ=0 skips them) and, last, the library and unit
# tests cross-compiled for aarch64 and run under qemu (tools/cross-test.sh; ENOS_CROSS=0 skips it).
# ENOS_SANITIZERS=0 runs the whole suite in the default preset instead of both sanitizer stages;
# ENOS_PRESET=name runs it in that preset. Each stage prints its wall and CPU time.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

# Runs a stage and prints its wall time and the CPU time of everything it ran.
timed() {
  local TIMEFORMAT="run-tests: $1: %0R s wall, %0U s user + %0S s system CPU"
  shift
  time "$@"
}

build_and_test() {
  local preset=$1
  cmake --preset "$preset" -DENOS_DEVICE_WERROR=ON
  cmake --build --preset "$preset" -j "$jobs"
  ctest --preset "$preset" -j "$jobs" --timeout 300
}

tsan_stage() {
  cmake --preset tsan -DENOS_DEVICE_WERROR=ON
  cmake --build --preset tsan -j "$jobs"
  tests/sanitizers/tsan-tests.sh -j "$jobs" --timeout 600
}

tools/install-deps.sh
# Every test runs once, in the most demanding build: the suite is not repeated per configuration.
if [[ -z "${ENOS_PRESET:-}" && "${ENOS_SANITIZERS:-1}" != 0 ]]; then
  timed asan build_and_test asan
  timed tsan tsan_stage
else
  preset="${ENOS_PRESET:-default}"
  timed "$preset" build_and_test "$preset"
fi
if [[ "${ENOS_FUZZ:-1}" != 0 ]]; then
  timed fuzz tools/run-fuzz.sh
fi
if [[ "${ENOS_CROSS:-1}" != 0 ]]; then
  timed cross tools/cross-test.sh
fi
