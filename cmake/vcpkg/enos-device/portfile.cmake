# vcpkg port: builds the library only (no tests, tools, examples or benchmarks) and installs the
# same CMake package and pkg-config file that `cmake --install` produces. Static or shared follows
# the triplet (vcpkg passes BUILD_SHARED_LIBS). Use it as an overlay port:
#   vcpkg install enos-device --overlay-ports=<sdk>/cmake/vcpkg
# SOURCE_PATH points at a checkout; replace with vcpkg_from_git once the repository is published.
set(SOURCE_PATH "${CMAKE_CURRENT_LIST_DIR}/../../..")

vcpkg_cmake_configure(
  SOURCE_PATH "${SOURCE_PATH}"
  OPTIONS
    -DENOS_DEVICE_BUILD_TESTS=OFF
    -DENOS_DEVICE_BUILD_EXAMPLES=OFF
    -DENOS_DEVICE_BUILD_TOOLS=OFF
    -DENOS_DEVICE_BUILD_BENCH=OFF
    -DENOS_DEVICE_INSTALL=ON)
vcpkg_cmake_install()
vcpkg_cmake_config_fixup(PACKAGE_NAME EnosDevice CONFIG_PATH lib/cmake/EnosDevice)
vcpkg_fixup_pkgconfig()
file(REMOVE_RECURSE "${CURRENT_PACKAGES_DIR}/debug/include")
vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/LICENSE")
