#!/usr/bin/env bash
# Installs this build into a temporary prefix, then configures, builds and runs a consumer project
# (and the standalone examples) against it with find_package(EnosDevice).
set -euo pipefail
build_dir=$1 source_dir=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
cmake -S "$source_dir/tests/package/consumer" -B "$work/consumer" -G Ninja \
  -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/consumer" >/dev/null
LD_LIBRARY_PATH="$work/prefix/lib:${LD_LIBRARY_PATH:-}" "$work/consumer/consumer"
"$work/consumer/consumer-core-only"
for example in "$source_dir"/examples/*/; do
  [[ -f "$example/CMakeLists.txt" ]] || continue
  name=$(basename "$example")
  cmake -S "$example" -B "$work/examples/$name" -G Ninja \
    -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$work/examples/$name" >/dev/null
  echo "example $name builds against the installed package"
done
