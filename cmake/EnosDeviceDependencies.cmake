# Dependency lookup of the build tree (consumers re-find theirs in EnosDeviceConfig.cmake).
include(GNUInstallDirs)
find_package(Threads REQUIRED)

# RapidJSON's package config only sets RAPIDJSON_INCLUDE_DIRS; fall back to a plain header search.
find_package(RapidJSON QUIET CONFIG)
if(NOT RAPIDJSON_INCLUDE_DIRS)
  find_path(RAPIDJSON_INCLUDE_DIRS rapidjson/document.h REQUIRED)
endif()

# The compiled library: Paho MQTT C++ (over the async C client with OpenSSL), mbedTLS
# (cmake/FindMbedTLS.cmake) and zlib (GZIP payload compression).
find_package(PahoMqttCpp REQUIRED)
find_package(MbedTLS REQUIRED)
find_package(ZLIB REQUIRED)

# The whole mbedTLS stack under one name, for the project's own tests (digests against mbedTLS).
if(NOT TARGET enos_device_mbedtls)
  add_library(enos_device_mbedtls INTERFACE)
  target_link_libraries(enos_device_mbedtls INTERFACE MbedTLS::mbedtls)
endif()
