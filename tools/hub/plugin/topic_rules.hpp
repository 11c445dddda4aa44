// Topic segregation: which topics an authenticated connection may subscribe to, publish on and have
// delivered to it. A device owns /sys/{pk}/{dk}/… and /ext/session/{pk}/{dk}/…; a gateway also the
// /sys/… topics of the sub-devices logged in through it; an integration channel only
// /sys/{pk}/integration/…; an activation connection only its two activate/info topics; the admin
// identity everything.
#pragma once

#include "identity.hpp"

#include <set>
#include <string>
#include <string_view>

namespace enos::hub::plugin {

enum class Access {
    subscribe, ///< a topic filter, may contain + and #
    publish,   ///< a topic the client publishes on
    deliver,   ///< a topic of a message about to be sent to the client
};

const char* to_string(Access access);

/// Sub-devices logged in through one gateway, as "pk/dk".
using SubDeviceSet = std::set<std::string, std::less<>>;

/// Empty when allowed, otherwise the reason for the denial (for the broker log).
std::string check_topic(const Identity& who, Access access, std::string_view topic,
                        const SubDeviceSet* logged_in_sub_devices);

/// Empty when a publish with this retain flag is allowed. Devices never retain (docs/protocol.md
/// §1.1), and a retained message would reach whoever subscribes later; only the admin identity may
/// (the simulator retains thing.activate.info, which the device subscribes to after its CONNACK).
std::string check_retain(const Identity& who, bool retain);

} // namespace enos::hub::plugin
