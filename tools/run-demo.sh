#!/usr/bin/env bash
# One command: install what is missing, build, and run the demo. Part 1: a device (examples/quickstart)
# connects to a local enos-hub, posts measure points, and answers the cloud: a service invocation and
# an RRPC call injected by the hub. Part 2 (tools/demo-offline.sh): the broker goes down while a device
# keeps posting into its offline store; when it is back, the backlog arrives marked as resumed.
# Everything runs on 127.0.0.1 on free ports and is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
cmake --preset default >/dev/null
cmake --build --preset default -j "$(nproc)" --target enos-hub enos_hub_plugin quickstart offline_resume

build=build/default
source tools/demo-common.sh

step "start enos-hub (mosquitto + EnOS plugin + cloud simulator) on a free port"
start_hub

step "start the quickstart device pkTest/dev1 against tcp://127.0.0.1:$port"
ENOS_URL="tcp://127.0.0.1:$port" ENOS_PRODUCT_KEY=pkTest ENOS_DEVICE_KEY=dev1 ENOS_DEVICE_SECRET=devSecret1 \
  "$build/examples/quickstart/quickstart" --seconds 60 >"$run/device.log" 2>&1 &
device_pid=$!
wait_for_log 300 "posted measure points"   # the first reply to a post, within 30 s
cat "$run/device.log"

step "the cloud invokes the service setPower on the device (enos-hub invoke)"
"$hub" invoke --dir "$run" --pk pkTest --dk dev1 --service setPower --params '{"power":"on"}'

step "the cloud calls the device and waits for its answer (enos-hub rrpc)"
"$hub" rrpc --dir "$run" --pk pkTest --dk dev1 --service getStatus --params '{"verbose":true}'

step "measure points the hub stored (enos-hub query measurepoints, last 4 rows)"
"$hub" query measurepoints --dir "$run" --pk pkTest --dk dev1 | tail -n 4

step "the device's side of the story"
kill -INT "$device_pid"; wait "$device_pid" || true; device_pid=
cat "$run/device.log"

step "part 2: an outage, and the breakpoint resume"
tools/demo-offline.sh "$build"
