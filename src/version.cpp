#include <enos/device/client/version.hpp>

namespace enos::device {

const char* library_version() noexcept { return ENOS_DEVICE_VERSION_STRING; }

} // namespace enos::device
