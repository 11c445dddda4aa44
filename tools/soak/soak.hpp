// enos-soak: a device under mixed traffic behind a fault proxy, for hours if need be, checked for
// lost messages and for memory or descriptors that grow. tools/soak.sh starts enos-hub and runs it.
//
//   enos-soak run --hub-dir DIR --hub PATH --minutes M ...   the driver: proxy, faults, checks
//   enos-soak device --url URL --pk PK --dk DK --secret S    the device it measures (a child process)
//
// The device prints one status line per second on stdout, {"name":integer,...}; the driver reads
// the latest one. SIGTERM asks the device to stop producing, wait until everything it accepted has
// been answered, and print a last line with "final":1.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace enos::soak {

int device_main(int argc, char** argv);
int run_main(int argc, char** argv);

using StatusLine = std::map<std::string, std::int64_t>;

std::string format_status(const StatusLine& status);
/// The last complete status line in `output` (several lines), if there is one.
std::optional<StatusLine> last_status(std::string_view output);

} // namespace enos::soak
