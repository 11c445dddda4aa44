// Counters of one DeviceClient, for monitoring and tests. A snapshot; counters only grow.
#pragma once

#include <enos/device/client/queue.hpp>

#include <cstddef>
#include <cstdint>

namespace enos::device {

struct ClientStats {
    std::uint64_t connects = 0;           ///< successful connects (first connects and reconnects)
    std::uint64_t connection_losses = 0;  ///< links that dropped without disconnect()
    std::uint64_t requests_sent = 0;      ///< requests handed to the transport (all three forms)
    std::uint64_t replies_received = 0;   ///< replies that completed a waiting request
    std::uint64_t requests_timed_out = 0; ///< completed with errc::timeout
    std::uint64_t requests_failed = 0;    ///< completed by disconnect, shutdown or a publish error
    std::uint64_t late_replies = 0;       ///< replies to requests that had already timed out or failed
    std::uint64_t unmatched_replies = 0;  ///< replies nobody waited for (fire-and-forget, unknown id)
    std::uint64_t commands_received = 0;  ///< commands from the cloud, well-formed or not
    std::uint64_t commands_replied = 0;   ///< command replies published (any code)
    std::uint64_t commands_unhandled = 0; ///< answered 1101: no handler
    std::uint64_t commands_failed = 0;    ///< answered 1102: handler threw, failed or never replied
    std::uint64_t commands_malformed = 0; ///< refused before any handler: undecodable, too large, method
                                          ///< not that of the topic, params of the wrong type (answered
                                          ///< with an error code when an id was readable)
    std::uint64_t commands_dropped = 0;   ///< not queued: too many commands waiting for the handlers
    std::uint64_t messages_ignored = 0;   ///< arrived on a topic the client does not handle, or a
                                          ///< command for a device other than this one and its
                                          ///< logged-in sub-devices
    std::size_t pending_requests = 0;     ///< waiting for their reply right now
    QueueStats queue;                     ///< the offline queue (all zero when it is disabled)
};

} // namespace enos::device
