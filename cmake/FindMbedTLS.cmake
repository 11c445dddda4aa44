# FindMbedTLS: mbedTLS as imported targets, for installs that ship no CMake package (Debian 12's
# mbedTLS 2.28). A CMake package of its own (mbedTLS 3, vcpkg, Conan's CMakeDeps) is used first.
#
# Imported targets (the names mbedTLS's own package uses; each links the next):
#   MbedTLS::mbedtls -> MbedTLS::mbedx509 -> MbedTLS::mbedcrypto
# Result variables: MbedTLS_FOUND, MbedTLS_VERSION, MbedTLS_INCLUDE_DIR, MbedTLS_LIBRARIES.
# Hints: MbedTLS_ROOT (CMake >= 3.12), or CMAKE_PREFIX_PATH.

find_package(MbedTLS QUIET CONFIG)
if(MbedTLS_FOUND AND TARGET MbedTLS::mbedx509)
  if(NOT MbedTLS_FIND_QUIETLY)
    message(STATUS "Found MbedTLS: ${MbedTLS_DIR} (CMake package, version ${MbedTLS_VERSION})")
  endif()
  return()
endif()

find_path(MbedTLS_INCLUDE_DIR mbedtls/x509_crt.h)
find_library(MbedTLS_mbedtls_LIBRARY mbedtls)
find_library(MbedTLS_mbedx509_LIBRARY mbedx509)
find_library(MbedTLS_mbedcrypto_LIBRARY mbedcrypto)
mark_as_advanced(MbedTLS_INCLUDE_DIR MbedTLS_mbedtls_LIBRARY MbedTLS_mbedx509_LIBRARY
                 MbedTLS_mbedcrypto_LIBRARY)

# The version is in mbedtls/build_info.h from 3.0 on, in mbedtls/version.h before.
foreach(header build_info.h version.h)
  if(MbedTLS_INCLUDE_DIR AND NOT MbedTLS_VERSION AND EXISTS "${MbedTLS_INCLUDE_DIR}/mbedtls/${header}")
    file(STRINGS "${MbedTLS_INCLUDE_DIR}/mbedtls/${header}" version_line
         REGEX "^#define[ \t]+MBEDTLS_VERSION_STRING[ \t]+\"[0-9.]+\"")
    if(version_line MATCHES "\"([0-9.]+)\"")
      set(MbedTLS_VERSION "${CMAKE_MATCH_1}")
    endif()
  endif()
endforeach()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(MbedTLS
  REQUIRED_VARS MbedTLS_mbedtls_LIBRARY MbedTLS_mbedx509_LIBRARY MbedTLS_mbedcrypto_LIBRARY
                MbedTLS_INCLUDE_DIR
  VERSION_VAR MbedTLS_VERSION)

if(MbedTLS_FOUND)
  set(MbedTLS_LIBRARIES ${MbedTLS_mbedtls_LIBRARY} ${MbedTLS_mbedx509_LIBRARY} ${MbedTLS_mbedcrypto_LIBRARY})
  set(dependency "")
  foreach(part mbedcrypto mbedx509 mbedtls)
    if(NOT TARGET MbedTLS::${part})
      add_library(MbedTLS::${part} UNKNOWN IMPORTED)
      set_target_properties(MbedTLS::${part} PROPERTIES
        IMPORTED_LOCATION "${MbedTLS_${part}_LIBRARY}"
        INTERFACE_INCLUDE_DIRECTORIES "${MbedTLS_INCLUDE_DIR}")
      if(dependency)
        set_target_properties(MbedTLS::${part} PROPERTIES INTERFACE_LINK_LIBRARIES ${dependency})
      endif()
    endif()
    set(dependency MbedTLS::${part})
  endforeach()
  unset(dependency)
endif()
