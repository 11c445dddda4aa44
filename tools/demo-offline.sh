#!/usr/bin/env bash
# The offline queue demo: a device (examples/offline_resume) posts a measure point every 100 ms with a
# persistent store; the hub's broker is stopped for a few seconds while it keeps posting, then started
# again, and the points posted during the outage arrive in the hub's store marked as resumed.
#   tools/demo-offline.sh [BUILD_DIR]      (default build/default; builds the targets it needs)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/default}
cmake --build "$build" --target enos-hub enos_hub_plugin offline_resume >/dev/null

source tools/demo-common.sh

count_rows() { "$hub" query measurepoints --dir "$run" --pk pkTest --dk dev1 | grep -c "\"identifier\":\"sample\"" || true; }

step "start enos-hub on a free port"
start_hub --no-connect-limit

step "start offline_resume (pkTest/dev1, a sample every 100 ms, store in $run/store)"
ENOS_URL="tcp://127.0.0.1:$port" ENOS_PRODUCT_KEY=pkTest ENOS_DEVICE_KEY=dev1 ENOS_DEVICE_SECRET=devSecret1 \
  "$build/examples/offline_resume/offline_resume" --store "$run/store" --interval-ms 100 --local-hub \
  >"$run/device.log" 2>&1 &
device_pid=$!
wait_for_log 300 "posted 25 (online)"
echo "rows stored so far: $(count_rows)"

step "enos-hub broker-stop: the link is down, the device keeps posting into its store"
"$hub" broker-stop --dir "$run"
wait_for_log 300 "(offline)"
wait_for_log 300 "posted 75 "
grep "(offline)" "$run/device.log" | tail -n 2

step "enos-hub broker-start: the device reconnects and replays its backlog through the resume topic"
"$hub" broker-start --dir "$run" >/dev/null
wait_for_log 300 "posted 100 (online)"
for _ in $(seq 100); do   # the backlog drains within moments; allow 10 s
  grep -q "posted [0-9]* (online) queue: depth 0" "$run/device.log" && break
  sleep 0.1
done

step "measure points in the hub's store: resumed ones were posted during the outage"
rows=$("$hub" query measurepoints --dir "$run" --pk pkTest --dk dev1 | grep "\"identifier\":\"sample\"")
echo "$rows" | grep -m 3 '"resumed":false'
echo "..."
echo "$rows" | grep -m 5 '"resumed":true'
echo "..."
echo "$(echo "$rows" | wc -l) samples stored, $(echo "$rows" | grep -c '"resumed":true') of them resumed"

step "the device's side"
kill -INT "$device_pid"; wait "$device_pid" || true; device_pid=
tail -n 4 "$run/device.log"
