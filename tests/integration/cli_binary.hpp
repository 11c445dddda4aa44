// Where the integration tests find the enos-device command line.
#pragma once

#include <cstdlib>
#include <string>
#include <unistd.h>

namespace enos::test {

/// The enos-device binary: $ENOS_DEVICE_CLI, else the one of this build tree.
inline std::string cli_binary() {
    if (const char* env = std::getenv("ENOS_DEVICE_CLI")) return env;
#ifdef ENOS_DEVICE_CLI
    return ENOS_DEVICE_CLI;
#else
    // <build>/tests/integration/enos-integration-tests -> <build>/tools/cli/enos-device
    char self[4096];
    const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    std::string path(self, n > 0 ? static_cast<std::size_t>(n) : 0);
    for (int i = 0; i < 3; ++i)
        path = path.substr(0, path.find_last_of('/'));
    return path + "/tools/cli/enos-device";
#endif
}

} // namespace enos::test
