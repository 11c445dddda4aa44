# Warning flags for the project's own targets (never forced on consumers).
add_library(enos_device_warnings INTERFACE)
if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  target_compile_options(enos_device_warnings INTERFACE -Wall -Wextra -Wpedantic)
endif()
option(ENOS_DEVICE_WERROR "Treat warnings as errors in the project's own targets" OFF)
if(ENOS_DEVICE_WERROR AND CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  target_compile_options(enos_device_warnings INTERFACE -Werror)
endif()

# Sanitizers for the asan (address,undefined) and tsan (thread) presets. Every finding ends the
# process with an error, so a test that triggers one fails (UBSan would otherwise only print).
# RapidJSON's internal stack trips UBSan's pointer-overflow check under clang, a known false
# positive, so that one check is left out. Suppressions for the MQTT library, which Debian builds
# without sanitizers, are in tests/sanitizers/ and given to the tests by the test presets.
set(ENOS_DEVICE_SANITIZE "" CACHE STRING "Sanitizers to build with (e.g. address,undefined or thread)")
if(ENOS_DEVICE_SANITIZE)
  add_compile_options(-fsanitize=${ENOS_DEVICE_SANITIZE} -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${ENOS_DEVICE_SANITIZE})
  if(ENOS_DEVICE_SANITIZE MATCHES "undefined" AND CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    add_compile_options(-fno-sanitize=pointer-overflow)
  endif()
endif()
