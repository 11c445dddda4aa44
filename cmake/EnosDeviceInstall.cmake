# Install rules, the CMake package (find_package(EnosDevice)) and the pkg-config file
# (enos-device.pc). The vcpkg port and the Conan recipe in cmake/ drive exactly this `cmake --install`.
include(CMakePackageConfigHelpers)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/enos DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_BINARY_DIR}/include/enos/device/client/export.hpp
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/enos/device/client)
install(TARGETS enos_device_core enos_device
        EXPORT EnosDeviceTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

set(enos_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/EnosDevice)
install(EXPORT EnosDeviceTargets NAMESPACE enos:: DESTINATION ${enos_cmake_dir})
# The config re-finds Paho and mbedTLS only for a static library (a shared one carries them).
set(ENOS_DEVICE_SHARED ${BUILD_SHARED_LIBS})
if(NOT ENOS_DEVICE_SHARED)
  set(ENOS_DEVICE_SHARED OFF)
endif()
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/EnosDeviceConfig.cmake.in
  ${PROJECT_BINARY_DIR}/EnosDeviceConfig.cmake INSTALL_DESTINATION ${enos_cmake_dir})
# 0.x releases follow the same rule: a consumer asking for 0.1 accepts any 0.y >= 0.1.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/EnosDeviceConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/EnosDeviceConfig.cmake
  ${PROJECT_BINARY_DIR}/EnosDeviceConfigVersion.cmake
  ${PROJECT_SOURCE_DIR}/cmake/FindMbedTLS.cmake
  DESTINATION ${enos_cmake_dir})

# pkg-config. A shared library keeps Paho and mbedTLS to itself (Libs.private, for --static); a
# static one needs them on every link line. Neither Paho nor Debian's mbedTLS 2.28 has a .pc file,
# so they are named by -l (with -L when they are outside the linker's default directories); zlib
# too, like them.
set(enos_pc_deps "")
foreach(library ${MbedTLS_mbedx509_LIBRARY} ${MbedTLS_mbedcrypto_LIBRARY} ${ZLIB_LIBRARIES})
  get_filename_component(dir ${library} DIRECTORY)
  if(dir AND NOT dir IN_LIST CMAKE_CXX_IMPLICIT_LINK_DIRECTORIES AND NOT "-L${dir}" IN_LIST enos_pc_deps)
    list(APPEND enos_pc_deps "-L${dir}")
  endif()
endforeach()
list(APPEND enos_pc_deps -lpaho-mqttpp3 -lpaho-mqtt3as -lmbedx509 -lmbedcrypto -lz)
list(JOIN enos_pc_deps " " enos_pc_deps)
set(ENOS_PC_CFLAGS "")
if(ENOS_DEVICE_SHARED)
  set(ENOS_PC_LIBS "-L\${libdir} -lenos-device -pthread")
  set(ENOS_PC_LIBS_PRIVATE "${enos_pc_deps}")
else()
  set(ENOS_PC_LIBS "-L\${libdir} -lenos-device ${enos_pc_deps} -pthread")
  set(ENOS_PC_LIBS_PRIVATE "")
endif()
# RapidJSON's own .pc (Debian ships one) supplies its include directory.
find_file(ENOS_RAPIDJSON_PC RapidJSON.pc PATH_SUFFIXES lib/pkgconfig share/pkgconfig
          lib/${CMAKE_LIBRARY_ARCHITECTURE}/pkgconfig)
mark_as_advanced(ENOS_RAPIDJSON_PC)
if(ENOS_RAPIDJSON_PC)
  set(ENOS_PC_REQUIRES "RapidJSON")
else()
  set(ENOS_PC_REQUIRES "")
  string(APPEND ENOS_PC_CFLAGS " -I${RAPIDJSON_INCLUDE_DIRS}")
endif()
# Relocatable: the prefix is found from the .pc file's own directory (<prefix>/<libdir>/pkgconfig).
set(ENOS_PC_PREFIX "\${pcfiledir}")
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(ENOS_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  string(REPLACE "/" ";" libdir_parts "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
  foreach(part ${libdir_parts})
    string(APPEND ENOS_PC_PREFIX "/..")
  endforeach()
endif()
foreach(kind LIBDIR INCLUDEDIR)
  set(ENOS_PC_${kind} "\${prefix}/${CMAKE_INSTALL_${kind}}")
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${kind}}")
    set(ENOS_PC_${kind} "${CMAKE_INSTALL_${kind}}")
  endif()
endforeach()
configure_file(${PROJECT_SOURCE_DIR}/cmake/enos-device.pc.in ${PROJECT_BINARY_DIR}/enos-device.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/enos-device.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
