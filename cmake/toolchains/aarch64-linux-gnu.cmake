# Cross-compiling for 64-bit ARM Linux with Debian's cross compiler (g++-aarch64-linux-gnu) against
# the arm64 multiarch development packages (libpaho-mqttpp-dev:arm64, libmbedtls-dev:arm64, ...):
#   cmake -S . -B build/aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake
# tools/cross-test.sh installs those packages, builds the library and the unit tests with this file
# and runs the tests under qemu-aarch64.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(ENOS_CROSS_TRIPLE aarch64-linux-gnu)
set(CMAKE_C_COMPILER ${ENOS_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${ENOS_CROSS_TRIPLE}-g++)
# Multiarch: arm64 libraries and package configs live under /usr/lib/aarch64-linux-gnu, headers
# under /usr/include (shared with the host) and /usr/include/aarch64-linux-gnu.
set(CMAKE_LIBRARY_ARCHITECTURE ${ENOS_CROSS_TRIPLE})
set(CMAKE_FIND_ROOT_PATH /usr/${ENOS_CROSS_TRIPLE} /)
# pkg-config (FindOpenSSL uses it) must read the target's .pc files, not the host's.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/${ENOS_CROSS_TRIPLE}/pkgconfig:/usr/share/pkgconfig)
# Programs are the host's; libraries and packages only the target's (never an x86-64 one).
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Lets ctest and Catch2's test discovery run target binaries on the build machine, with the loader
# and libc of libc6:arm64 (/lib/ld-linux-aarch64.so.1). Not -L /usr/${ENOS_CROSS_TRIPLE}: that
# loader is from the cross toolchain's glibc build, which does not match libc6:arm64's libc.so.6
# (the one /etc/ld.so.cache names), and threads hang in pthread_create with the pair.
find_program(ENOS_QEMU_AARCH64 qemu-aarch64)
if(ENOS_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${ENOS_QEMU_AARCH64} -L /)
endif()
