#!/usr/bin/env bash
# Installs the Debian 12 packages the SDK, its tools and its tests need. Does nothing (and needs no
# network) when they are all present already.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libpaho-mqttpp-dev libpaho-mqtt-dev libssl-dev libmbedtls-dev rapidjson-dev zlib1g-dev catch2
  mosquitto mosquitto-dev libmosquitto-dev libsqlite3-dev openssl
  libspdlog-dev
  libmodbus-dev # examples/modbus_edge_gateway and its test
  clang libclang-rt-14-dev # tools/run-fuzz.sh: libFuzzer (libclang_rt.fuzzer) and the sanitizers
)
[[ "${1:-}" == "--bench" ]] && packages+=(libbenchmark-dev gnuplot-nox python3)
[[ "${1:-}" == "--docs" ]] && packages+=(doxygen)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
