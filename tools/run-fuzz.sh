#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang (ASan + UBSan) in build/fuzz and runs each
# for a bounded time, starting from its committed corpus and regression inputs. Fails if any target
# finds a crash, a sanitizer error, a broken invariant, a timeout or a memory blow-up; the input
# that did it is left in build/fuzz/findings/<target>/ (commit it under tests/fuzz/regressions/).
#
#   ENOS_FUZZ_SECONDS   seconds per target (default 15: about 3 minutes with the build, on 2 cores)
#   ENOS_FUZZ_TARGETS   the targets to run (default: all), e.g. "store_recovery hub_credentials"
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${ENOS_FUZZ_SECONDS:-15}"
targets="${ENOS_FUZZ_TARGETS:-arrived_topic command_decoders reply_decoders activation store_recovery hub_credentials}"
build=build/fuzz

CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DENOS_DEVICE_FUZZ=ON -DENOS_DEVICE_WERROR=ON >/dev/null
cmake --build "$build" -j "$(nproc)"

failed=()
for target in $targets; do
  exe="$build/tests/fuzz/enos-fuzz-${target//_/-}"
  findings="$build/findings/$target"
  work="$build/corpus/$target" # what this run adds to the corpus; the committed one stays as it is
  rm -rf "$findings"
  mkdir -p "$findings" "$work"
  log="$findings/fuzz.log"
  dict=()
  case "$target" in
    command_decoders | reply_decoders | activation) dict=(-dict=tests/fuzz/json.dict) ;;
  esac
  if "$exe" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="$findings/" "${dict[@]}" \
       "$work" "tests/fuzz/corpus/$target" "tests/fuzz/regressions/$target" >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    echo "fuzz $target: ${runs:-?} executions in ${seconds} s, no finding"
  else
    echo "fuzz $target: FAILED, see $log" >&2
    grep -E "invariant broken|ERROR:|SUMMARY:|runtime error" "$log" | head -5 >&2 || true
    failed+=("$target")
  fi
done
if ((${#failed[@]})); then
  echo "fuzzing found problems in: ${failed[*]}" >&2
  exit 1
fi
