# Dependency lookup, shared by the build tree and (through EnosDeviceConfig.cmake) by consumers.
include(GNUInstallDirs)
find_package(Threads REQUIRED)

# RapidJSON's package config only sets RAPIDJSON_INCLUDE_DIRS; fall back to a plain header search.
find_package(RapidJSON QUIET CONFIG)
if(NOT RAPIDJSON_INCLUDE_DIRS)
  find_path(RAPIDJSON_INCLUDE_DIRS rapidjson/document.h REQUIRED)
endif()

# The compiled library: Paho MQTT C++ (over the async C client with OpenSSL) and mbedTLS.
find_package(PahoMqttCpp REQUIRED)

# mbedTLS 2.28 on Debian ships no CMake package; link order matters: tls, x509, crypto.
if(NOT TARGET enos_device_mbedtls)
  find_path(MBEDTLS_INCLUDE_DIR mbedtls/md.h REQUIRED)
  find_library(MBEDTLS_LIBRARY mbedtls REQUIRED)
  find_library(MBEDX509_LIBRARY mbedx509 REQUIRED)
  find_library(MBEDCRYPTO_LIBRARY mbedcrypto REQUIRED)
  add_library(enos_device_mbedtls INTERFACE IMPORTED)
  set_target_properties(enos_device_mbedtls PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${MBEDTLS_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES "${MBEDTLS_LIBRARY};${MBEDX509_LIBRARY};${MBEDCRYPTO_LIBRARY}")
endif()
