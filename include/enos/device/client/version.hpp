// The compiled library's own version, to compare with the headers' ENOS_DEVICE_VERSION_STRING.
#pragma once

#include <enos/device/client/export.hpp>
#include <enos/device/core/version.hpp>

namespace enos::device {

/// Version of the compiled library (may differ from the headers' if mixed up at link time).
ENOS_DEVICE_API const char* library_version() noexcept;

} // namespace enos::device
