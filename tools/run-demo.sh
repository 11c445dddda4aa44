#!/usr/bin/env bash
# One command: install what is missing, build, and run the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
cmake --preset default >/dev/null
cmake --build --preset default -j "$(nproc)" --target enos-demo
build/default/examples/demo/enos-demo
