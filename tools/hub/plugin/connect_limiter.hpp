// The platform's per-device connection limit (docs/protocol.md §1.7): at most one CONNECT per second, and
// more than four within two minutes blocks the device for five minutes. The numbers are options so
// tests can make the rule bite without waiting minutes.
#pragma once

#include <chrono>
#include <deque>
#include <string>
#include <unordered_map>

namespace enos::hub::plugin {

struct ConnectLimits {
    bool enabled = true;
    std::chrono::milliseconds min_interval{1000}; ///< between two CONNECTs of one device
    std::chrono::milliseconds window{120000};     ///< the sliding window of the attempt count
    int window_max = 4;                           ///< attempts allowed within `window`
    std::chrono::milliseconds block{300000};      ///< how long a device that exceeded it is refused
};

class ConnectLimiter {
public:
    using Clock = std::chrono::steady_clock;

    explicit ConnectLimiter(ConnectLimits limits = {}) : limits_(limits) {}

    /// Counts a CONNECT of `device` at `now`. Returns an empty string when it may proceed, otherwise
    /// why it is refused. Every attempt that is not already blocked counts, refused or not, as the
    /// platform counts connection requests, not successful logins.
    std::string admit(const std::string& device, Clock::time_point now);

    const ConnectLimits& limits() const { return limits_; }

private:
    struct History {
        std::deque<Clock::time_point> attempts; ///< within the window, oldest first
        Clock::time_point blocked_until{};
    };

    ConnectLimits limits_;
    std::unordered_map<std::string, History> devices_;
};

} // namespace enos::hub::plugin
