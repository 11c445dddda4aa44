# `cmake --build <dir> --target docs`: the API reference of the public headers (include/), as HTML
# in <build>/docs/html. The target exists only when Doxygen is installed (Debian: doxygen); nothing
# else depends on it.
find_package(Doxygen QUIET)
if(NOT DOXYGEN_FOUND)
  return()
endif()
set(DOXYGEN_PROJECT_NAME "EnOS Device SDK for C++")
set(DOXYGEN_PROJECT_NUMBER ${PROJECT_VERSION})
set(DOXYGEN_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/docs)
set(DOXYGEN_GENERATE_LATEX NO)
set(DOXYGEN_EXTRACT_ALL YES)
set(DOXYGEN_RECURSIVE YES)
set(DOXYGEN_FILE_PATTERNS *.hpp)
set(DOXYGEN_EXCLUDE_PATTERNS */detail/*)
set(DOXYGEN_EXCLUDE_SYMBOLS detail "*::detail::*")
set(DOXYGEN_STRIP_FROM_INC_PATH ${PROJECT_SOURCE_DIR}/include ${PROJECT_BINARY_DIR}/include)
set(DOXYGEN_STRIP_FROM_PATH ${PROJECT_SOURCE_DIR}/include ${PROJECT_BINARY_DIR}/include)
set(DOXYGEN_ENABLE_PREPROCESSING YES)
# The export macros are attributes, not part of the documented signatures.
set(DOXYGEN_MACRO_EXPANSION YES)
set(DOXYGEN_EXPAND_ONLY_PREDEF YES)
set(DOXYGEN_PREDEFINED "ENOS_DEVICE_API=" "ENOS_DEVICE_VISIBLE=")
set(DOXYGEN_USE_MDFILE_AS_MAINPAGE ${PROJECT_SOURCE_DIR}/docs/api-mainpage.md)
set(DOXYGEN_WARN_IF_UNDOCUMENTED NO)
set(DOXYGEN_QUIET YES)
doxygen_add_docs(docs
  ${PROJECT_SOURCE_DIR}/docs/api-mainpage.md ${PROJECT_SOURCE_DIR}/include
  ${PROJECT_BINARY_DIR}/include/enos/device/client/export.hpp
  COMMENT "API reference (Doxygen) in ${PROJECT_BINARY_DIR}/docs/html")
