#!/usr/bin/env bash
# Runs the tests of the parts that share state between threads under ThreadSanitizer: the client,
# the offline queue and its store, the transport and (when they exist) the gateway, chosen by their
# Catch tags, each test in its own process through ctest as in the rest of the suite. Needs the
# tsan preset built (cmake --preset tsan && cmake --build --preset tsan).
#   tests/sanitizers/tsan-tests.sh [extra ctest arguments]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=build/tsan
unit_tags='[client],[queue],[store],[transport],[gateway]'
integration_tags='[client],[offline],[transport],[gateway]'

# The ctest names of the tests with those tags: CMake splits a name at each ';' into several tests.
# (Catch 2 exits with the number of tests it listed.)
list() {
  "$build/tests/$1/enos-$1-tests" --list-test-names-only "$2" | sed "/^\$/d; s/^/$1:/; s/;/\n$1:/g" || true
}
wanted=$(mktemp)
trap 'rm -f "$wanted"' EXIT
{
  list unit "$unit_tags"
  list integration "$integration_tags"
} >"$wanted"

# ctest's number for each of those names ("  Test  #12: unit:commands: ...").
numbers=$(ctest --test-dir "$build" -N |
  sed -n 's/^ *Test *#\([0-9]*\): \(.*\)$/\1\t\2/p' |
  awk -F'\t' 'NR == FNR { want[$0] = 1; next } ($2 in want) { print $1 }' "$wanted" - |
  paste -sd, -)
[[ -n $numbers ]] || { echo "tsan-tests: no test matches $unit_tags / $integration_tags" >&2; exit 1; }
echo "tsan-tests: $(tr ',' '\n' <<<"$numbers" | wc -l) tests"
ctest --preset tsan -I "0,0,0,$numbers" "$@"
