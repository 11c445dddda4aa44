#pragma once

#include <enos/device/core/detail/visibility.hpp>

#define ENOS_DEVICE_VERSION_MAJOR 0
#define ENOS_DEVICE_VERSION_MINOR 1
#define ENOS_DEVICE_VERSION_PATCH 0
#define ENOS_DEVICE_VERSION_STRING "0.1.0"

namespace enos::device {

/// Version of the compiled library (may differ from the headers' if mixed up at link time).
ENOS_DEVICE_VISIBLE const char* library_version() noexcept;

} // namespace enos::device
