#!/usr/bin/env bash
# The installed package, as users get it, for both kinds of library:
# - static: this build, installed into a temporary prefix;
# - shared: the library alone (BUILD_SHARED_LIBS=ON, nothing else), configured from the same source
#   in a temporary build directory without optimisation (it checks linking, not speed).
# For each: a consumer project with find_package(EnosDevice) links enos::device and enos::device_core
# alone and runs; pkg-config resolves enos-device.pc and a program built from its flags alone runs.
# Then every example builds standalone against the static package.
# A sanitizer build (asan/tsan presets) installs instrumented objects: whatever links the static
# package gets the same -fsanitize flags, as a user's sanitizer build would. The shared library is
# left out there: built without sanitizers it would be the default build's check over again.
#   check-install.sh <build dir> <source dir>
set -euo pipefail
build_dir=$1 source_dir=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
quiet() { "$@" >"$work/log" 2>&1 || { cat "$work/log"; exit 1; }; }

sanitize=$(sed -n 's/^ENOS_DEVICE_SANITIZE:STRING=//p' "$build_dir/CMakeCache.txt")
flags=${sanitize:+-fsanitize=$sanitize}
kinds=(static)
[[ -z $sanitize ]] && kinds+=(shared)
# Consumers are built optimised as users would, except with sanitizers: there -O3 on top of the
# instrumentation more than doubled this test's time (181 s against 76 s) and checks nothing more.
build_type=Release
[[ -n $sanitize ]] && build_type=None

cmake --install "$build_dir" --prefix "$work/static" >/dev/null

if [[ -z $sanitize ]]; then
  quiet cmake -S "$source_dir" -B "$work/shared-build" -G Ninja -DCMAKE_BUILD_TYPE=None \
    -DBUILD_SHARED_LIBS=ON -DENOS_DEVICE_INSTALL=ON -DENOS_DEVICE_BUILD_TESTS=OFF \
    -DENOS_DEVICE_BUILD_EXAMPLES=OFF -DENOS_DEVICE_BUILD_TOOLS=OFF -DENOS_DEVICE_BUILD_BENCH=OFF
  quiet cmake --build "$work/shared-build"
  cmake --install "$work/shared-build" --prefix "$work/shared" >/dev/null
fi

for kind in "${kinds[@]}"; do
  prefix=$work/$kind
  library=$(find "$prefix" -name "libenos-device.a" -o -name "libenos-device.so" | head -n 1)
  case $kind in
    static) [[ $library == *.a ]] ;;
    shared) [[ $library == *.so ]] ;;
  esac || { echo "$kind: no libenos-device of that kind installed"; exit 1; }
  [[ -f "$prefix/include/enos/device/client/export.hpp" ]]

  quiet cmake -S "$source_dir/tests/package/consumer" -B "$work/consumer-$kind" -G Ninja \
    -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=$build_type \
    -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags"
  quiet cmake --build "$work/consumer-$kind"
  "$work/consumer-$kind/consumer"
  "$work/consumer-$kind/consumer-core-only"
  if [[ $kind == shared ]]; then
    # Not `ldd | grep -q`: grep leaving early can end ldd with SIGPIPE, a failure under pipefail.
    libraries=$(ldd "$work/consumer-$kind/consumer")
    grep -q "libenos-device.so" <<<"$libraries" \
      || { echo "shared: the consumer does not load libenos-device.so"; exit 1; }
  fi
  echo "$kind: find_package(EnosDevice): enos::device and enos::device_core consumers run"

  pc_dir=$(dirname "$(find "$prefix" -name enos-device.pc | head -n 1)")
  pc_flags=$(PKG_CONFIG_PATH="$pc_dir" pkg-config --cflags --libs enos-device)
  # shellcheck disable=SC2086 # the flags are words
  quiet c++ -std=c++17 $flags -o "$work/pc-consumer-$kind" "$source_dir/tests/package/consumer/main.cpp" $pc_flags \
    -Wl,-rpath,"$(PKG_CONFIG_PATH="$pc_dir" pkg-config --variable=libdir enos-device)"
  "$work/pc-consumer-$kind" >/dev/null
  echo "$kind: pkg-config enos-device: $pc_flags"
done

for example in "$source_dir"/examples/*/; do
  [[ -f "$example/CMakeLists.txt" ]] || continue
  name=$(basename "$example")
  quiet cmake -S "$example" -B "$work/examples/$name" -G Ninja \
    -DCMAKE_PREFIX_PATH="$work/static" -DCMAKE_BUILD_TYPE=$build_type \
    -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags"
  quiet cmake --build "$work/examples/$name"
  echo "example $name builds against the installed package"
done
