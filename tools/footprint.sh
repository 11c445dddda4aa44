#!/usr/bin/env bash
# Footprint of the SDK: the static library, a stripped quickstart binary (x86-64 and aarch64) with
# the shared libraries it loads, and the memory of a running quickstart connected to a local
# enos-hub and posting once a second.
#   tools/footprint.sh [native build dir] [aarch64 build dir]
# Defaults: build/default (tools/run-tests.sh) and build/aarch64 (tools/cross-test.sh); each is
# built here if needed (library, quickstart and, natively, enos-hub). Prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
native=${1:-build/default}
cross=${2:-build/aarch64}

[[ -f "$native/CMakeCache.txt" ]] || cmake --preset default >/dev/null
cmake --build "$native" -j "$(nproc)" --target enos_device quickstart enos-hub enos_hub_plugin >/dev/null
have_cross=0
if [[ -f "$cross/CMakeCache.txt" ]] && command -v aarch64-linux-gnu-strip >/dev/null; then
  cmake --build "$cross" -j "$(nproc)" --target enos_device quickstart >/dev/null
  have_cross=1
fi

build=$native
source tools/demo-common.sh
kib() { echo $((($1 + 1023) / 1024)); }
bytes() { stat -c %s "$1"; }

# Library: the archive as built (with debug info), without debug info, and its code and data.
library_row() { # <arch> <archive> <strip>
  local copy=$run/lib-$1.a
  "$3" --strip-debug -o "$copy" "$2"
  local text data bss
  read -r text data bss < <(size -t "$2" | awk 'END { print $1, $2, $3 }')
  printf '| %s | libenos-device.a | %s KiB | %s KiB | text %s KiB, data %s KiB, bss %s KiB |\n' "$1" \
    "$(kib "$(bytes "$2")")" "$(kib "$(bytes "$copy")")" "$(kib "$text")" "$(kib "$data")" "$(kib "$bss")"
}
# Program: the stripped quickstart, and the shared libraries it loads (sizes of the files).
binary_row() { # <arch> <binary> <strip> <library dir>
  local copy=$run/quickstart-$1
  "$3" -o "$copy" "$2"
  local libs total=0 names=()
  libs=$(objdump -p "$2" | awk '/NEEDED/ { print $2 }')
  for l in $libs; do
    case $l in libc.so* | libm.so* | libgcc_s.so* | libstdc++.so* | ld-linux*) continue ;; esac
    local path
    path=$(readlink -f "$4/$l")
    total=$((total + $(bytes "$path")))
    names+=("${l%%.so*}")
  done
  printf '| %s | quickstart, stripped | %s KiB | | + shared %s: %s KiB |\n' "$1" \
    "$(kib "$(bytes "$copy")")" "$(IFS=,; echo "${names[*]}" | sed 's/,/, /g')" "$(kib "$total")"
}

echo "| target | file | size | without debug info | detail |"
echo "|---|---|---:|---:|---|"
library_row x86-64 "$native/src/libenos-device.a" strip
((have_cross)) && library_row aarch64 "$cross/src/libenos-device.a" aarch64-linux-gnu-strip
binary_row x86-64 "$native/examples/quickstart/quickstart" strip /usr/lib/x86_64-linux-gnu
((have_cross)) && binary_row aarch64 "$cross/examples/quickstart/quickstart" aarch64-linux-gnu-strip \
  /usr/lib/aarch64-linux-gnu
((have_cross)) || echo "(no aarch64 build in $cross: run tools/cross-test.sh first)"

# Memory: quickstart as device pkTest/dev1, sampled 10 s after its first acknowledged post.
start_hub >/dev/null
ENOS_URL="tcp://127.0.0.1:$port" ENOS_PRODUCT_KEY=pkTest ENOS_DEVICE_KEY=dev1 ENOS_DEVICE_SECRET=devSecret1 \
  "$native/examples/quickstart/quickstart" --seconds 60 >"$run/device.log" 2>&1 &
device_pid=$!
wait_for_log 300 "posted measure points"
sleep 10
status=/proc/$device_pid/status
field() { awk -v f="$1:" '$1 == f { print $2 }' "$status"; }
posts=$(grep -c "posted measure points" "$run/device.log")
echo
echo "| running quickstart (x86-64), connected, $posts posts acknowledged | value |"
echo "|---|---:|"
echo "| resident set (VmRSS) | $(field VmRSS) KiB |"
echo "| peak resident set (VmHWM) | $(field VmHWM) KiB |"
echo "| of which anonymous (RssAnon) | $(field RssAnon) KiB |"
echo "| threads | $(field Threads) |"
