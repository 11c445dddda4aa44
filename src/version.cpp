#include <enos/device/core/version.hpp>

namespace enos::device {

const char* library_version() noexcept { return ENOS_DEVICE_VERSION_STRING; }

} // namespace enos::device
