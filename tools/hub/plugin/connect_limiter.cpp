#include "connect_limiter.hpp"

namespace enos::hub::plugin {

namespace {

std::string ms(std::chrono::milliseconds d) {
    return std::to_string(d.count()) + " ms";
}

} // namespace

std::string ConnectLimiter::admit(const std::string& device, Clock::time_point now) {
    if (!limits_.enabled) return {};
    History& h = devices_[device];
    if (now < h.blocked_until) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(h.blocked_until - now);
        return "connection rate limit: device blocked for another " + ms(left);
    }
    while (!h.attempts.empty() && now - h.attempts.front() >= limits_.window)
        h.attempts.pop_front();
    const bool too_soon = !h.attempts.empty() && now - h.attempts.back() < limits_.min_interval;
    h.attempts.push_back(now);
    if (static_cast<int>(h.attempts.size()) > limits_.window_max) {
        h.attempts.clear();
        h.blocked_until = now + limits_.block;
        return "connection rate limit: more than " + std::to_string(limits_.window_max) +
               " connects within " + ms(limits_.window) + ", device blocked for " + ms(limits_.block);
    }
    if (too_soon)
        return "connection rate limit: less than " + ms(limits_.min_interval) + " since the previous connect";
    return {};
}

} // namespace enos::hub::plugin
