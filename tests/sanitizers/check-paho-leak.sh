#!/usr/bin/env bash
# The leak that lsan.supp suppresses is Paho's: the raw-Paho program paho_inflight_leak.cpp leaks
# when it replaces its client after a lost link with QoS 1 publishes on their way out, every
# reported allocation made inside libpaho-mqtt3as; the suppression file silences that; keeping the
# client leaks nothing. (A run that is to leak repeats outages until it does, up to 10; the others
# make 2.)
#   check-paho-leak.sh <paho-inflight-leak binary> <lsan.supp>
set -euo pipefail
program=$1 suppressions=$2
out=$(mktemp)
trap 'rm -f "$out"' EXIT

if LSAN_OPTIONS= "$program" replace >"$out" 2>&1; then
  echo "raw Paho no longer leaks: remove the libpaho-mqtt3as entry from lsan.supp"
  exit 1
fi
grep -q "LeakSanitizer: detected memory leaks" "$out" || { cat "$out"; exit 1; }
# Each leak's first frame after the allocator.
if grep -E '^ +#1 ' "$out" | grep -v -q "libpaho-mqtt3as"; then
  echo "a leak outside Paho:"
  cat "$out"
  exit 1
fi
echo "replace: $(grep -o 'leaked in [0-9]* allocation(s)' "$out" | tail -n 1), all in libpaho-mqtt3as"

LSAN_OPTIONS="suppressions=$suppressions" "$program" replace 2 >"$out" 2>&1 || { cat "$out"; exit 1; }
echo "replace with lsan.supp: no report"
LSAN_OPTIONS= "$program" reuse 2 >"$out" 2>&1 || { cat "$out"; exit 1; }
echo "reuse: no leak"
