# Shared by tools/run-demo.sh and tools/demo-offline.sh (sourced, with $build set): a run directory
# for one enos-hub, stopped and removed on exit together with the demo device, and small helpers.
hub=$build/tools/hub/enos-hub
run=$(mktemp -d)
device_pid=
cleanup() {
  [[ -n "$device_pid" ]] && kill "$device_pid" 2>/dev/null && wait "$device_pid" 2>/dev/null || true
  "$hub" stop --dir "$run" >/dev/null 2>&1 || true
  rm -rf "$run"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# Starts the hub on a free port (extra `enos-hub start` arguments allowed) and sets $port.
start_hub() {
  "$hub" start --registry tools/hub/registry.example.json --dir "$run" --port 0 "$@"
  port=$(grep -o '"port": *[0-9]*' "$run/hub.json" | grep -o '[0-9]*$')
}

# Waits up to $1 tenths of a second for a line matching $2 in the device log.
wait_for_log() {
  for _ in $(seq "$1"); do
    grep -q "$2" "$run/device.log" && return 0
    kill -0 "$device_pid" 2>/dev/null || { cat "$run/device.log"; exit 1; }
    sleep 0.1
  done
  echo "timed out waiting for '$2'"; cat "$run/device.log"; exit 1
}
