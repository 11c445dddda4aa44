#!/usr/bin/env bash
# Cross-compiles the library and the unit tests for aarch64 (Debian multiarch + the cross compiler)
# and runs the unit tests under qemu-aarch64. Installs only the packages that are missing; fails
# when a test fails, and says which package could not be installed and why.
#   tools/cross-test.sh            build in build/aarch64 and run the unit tests
set -euo pipefail
cd "$(dirname "$0")/.."
build=build/aarch64
arch=arm64

sudo=""
[[ $(id -u) -ne 0 ]] && sudo="sudo"

# arm64 libraries the library and the unit tests link (zlib for GZIP payloads); the host's cross
# compiler and emulator.
# catch2 (2.13, header-only) and rapidjson-dev are architecture-independent: the host's serve.
# libc6:arm64 (pulled in by the others anyway) provides the loader the tests run with.
packages=(
  g++-aarch64-linux-gnu qemu-user "libc6:$arch"
  "libpaho-mqttpp-dev:$arch" "libpaho-mqtt-dev:$arch" "libssl-dev:$arch" "libmbedtls-dev:$arch"
  "zlib1g-dev:$arch"
  rapidjson-dev catch2 cmake ninja-build
)
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

missing=()
for p in "${packages[@]}"; do installed "$p" || missing+=("$p"); done
if ((${#missing[@]})); then
  echo "cross-test: installing ${missing[*]}"
  if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
    $sudo dpkg --add-architecture "$arch"
  fi
  $sudo apt-get update -qq
  log=$(mktemp)
  if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >"$log" 2>&1; then
    echo "cross-test: apt-get could not install ${missing[*]}:" >&2
    cat "$log" >&2
    # Name each package that apt cannot provide, with its own reason.
    for p in "${missing[@]}"; do
      installed "$p" && continue
      why=$(DEBIAN_FRONTEND=noninteractive $sudo apt-get install -s -qq --no-install-recommends "$p" 2>&1 \
            | grep -E '^E:|Depends:|Breaks:|Conflicts:' || true)
      [[ -n "$why" ]] && printf 'cross-test: %s: %s\n' "$p" "$why" >&2
    done
    rm -f "$log"
    exit 1
  fi
  rm -f "$log"
fi

# Debian's catch2 is header-only except for libCatch2WithMain.a, which is built for the host (and
# catch2:arm64 cannot be installed beside it). Build that one file for aarch64 and describe it, with
# the host's headers and CMake scripts, in a Catch2 package of the build's own.
catch2=$PWD/$build/catch2
mkdir -p "$catch2"
if [[ ! -f "$catch2/libCatch2WithMain.a" ]]; then
  printf '#define CATCH_CONFIG_MAIN\n#include <catch2/catch.hpp>\n' >"$catch2/main.cpp"
  aarch64-linux-gnu-g++ -std=c++17 -O1 -c "$catch2/main.cpp" -o "$catch2/main.o"
  aarch64-linux-gnu-ar rcs "$catch2/libCatch2WithMain.a" "$catch2/main.o"
fi
cat >"$catch2/Catch2Config.cmake" <<CONFIG
list(APPEND CMAKE_MODULE_PATH /usr/lib/cmake/Catch2)
if(NOT TARGET Catch2::Catch2)
  add_library(Catch2::Catch2 INTERFACE IMPORTED)
  set_target_properties(Catch2::Catch2 PROPERTIES INTERFACE_INCLUDE_DIRECTORIES /usr/include)
  add_library(Catch2::Catch2WithMain STATIC IMPORTED)
  set_target_properties(Catch2::Catch2WithMain PROPERTIES
    IMPORTED_LOCATION $catch2/libCatch2WithMain.a INTERFACE_LINK_LIBRARIES Catch2::Catch2)
endif()
CONFIG

# -O1 without debug info halves the build (240 s -> 130 s on 2 cores, tests run included).
cmake -S . -B "$build" -G Ninja -DCatch2_DIR="$catch2" \
  -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/toolchains/aarch64-linux-gnu.cmake" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE=-O1 \
  -DENOS_DEVICE_WERROR=ON \
  -DENOS_DEVICE_BUILD_TESTS=ON -DENOS_DEVICE_BUILD_TOOLS=OFF -DENOS_DEVICE_BUILD_BENCH=OFF \
  -DENOS_DEVICE_BUILD_EXAMPLES=ON -DENOS_DEVICE_EXAMPLES=quickstart -DENOS_DEVICE_INSTALL=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target enos-unit-tests enos-core-standalone quickstart

# The target's loader and libraries all come from the arm64 multiarch packages: the loader
# /lib/ld-linux-aarch64.so.1 and libc.so.6 from libc6:arm64, Paho, mbedTLS and OpenSSL from
# /usr/lib/aarch64-linux-gnu. QEMU_LD_PREFIX must not be the cross toolchain's /usr/aarch64-linux-gnu:
# its loader (libc6-arm64-cross, 2.36-8cross1) would then be paired with libc6:arm64's libc.so.6
# (2.36-9+deb12uN, found through /etc/ld.so.cache), and the two disagree on the layout of the
# loader's private _rtld_global (the thread stack cache list sits 8 bytes further in the newer
# libc). pthread_create then walks a list that never returns to its head and spins without a
# system call: every test that starts a thread hung that way.
export QEMU_LD_PREFIX=/
[[ -e /lib/ld-linux-aarch64.so.1 ]] \
  || { echo "cross-test: /lib/ld-linux-aarch64.so.1 is missing (libc6:$arch)" >&2; exit 1; }
readelf -h "$build/tests/unit/enos-unit-tests" | grep -q 'Machine: *AArch64' \
  || { echo "cross-test: enos-unit-tests is not an aarch64 binary" >&2; exit 1; }
qemu-aarch64 "$build/tests/unit/standalone/enos-core-standalone"
timeout 900 qemu-aarch64 "$build/tests/unit/enos-unit-tests"
echo "cross-test: aarch64 unit tests passed under qemu-aarch64"
