#!/usr/bin/env bash
# The soak run (not part of CI): one device under mixed traffic (measure points, events, questions,
# commands from the hub) for N minutes behind a fault proxy that cuts, stalls, delays and throttles
# its link, refuses its connects, while the hub's broker is restarted now and then. Afterwards it
# checks that the hub stored every measure point and event the device accepted, and that the
# device's RSS and open descriptors did not grow by 1 % or more after the warm-up.
#
#   tools/soak.sh [MINUTES] [extra enos-soak run options, e.g. --seed 42 --rate 200]
#
# Builds enos-hub and enos-soak in build/${ENOS_PRESET:-default} (configure that preset first).
# Exit code 0 when every check passed. The fault log goes to stderr, the report to stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes="${1:-10}"
shift || true
build="build/${ENOS_PRESET:-default}"
nice -n 10 cmake --build "$build" --target enos-hub enos_hub_plugin enos-soak >/dev/null

hub="$build/tools/hub/enos-hub"
run=$(mktemp -d)
cleanup() {
  "$hub" stop --dir "$run" >/dev/null 2>&1 || true
  rm -rf "$run"
}
trap cleanup EXIT

# The connect limit is off: the soak reconnects after every fault, far more often than a device
# in the field may (the fault tests check the limit itself).
"$hub" start --registry tests/integration/registry.json --dir "$run" --port 0 --no-connect-limit \
  --owner-pid $$ >/dev/null
"$build/tools/soak/enos-soak" run --hub-dir "$run" --hub "$hub" --minutes "$minutes" "$@"
