# Install rules and the CMake package (find_package(EnosDevice)); the vcpkg port and the Conan
# recipe in cmake/ drive exactly this `cmake --install`.
include(CMakePackageConfigHelpers)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/enos DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS enos_device_core enos_device
        EXPORT EnosDeviceTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

set(enos_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/EnosDevice)
install(EXPORT EnosDeviceTargets NAMESPACE enos:: DESTINATION ${enos_cmake_dir})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/EnosDeviceConfig.cmake.in
  ${PROJECT_BINARY_DIR}/EnosDeviceConfig.cmake INSTALL_DESTINATION ${enos_cmake_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/EnosDeviceConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/EnosDeviceConfig.cmake
  ${PROJECT_BINARY_DIR}/EnosDeviceConfigVersion.cmake
  ${PROJECT_SOURCE_DIR}/cmake/EnosDeviceDependencies.cmake
  DESTINATION ${enos_cmake_dir})
