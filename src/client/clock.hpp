// The time source of the client's deadlines and reconnect timers. Tests use a manual clock, so
// timeouts and back-off decisions are deterministic. Not part of the stable API.
#pragma once

#include <chrono>

namespace enos::device::detail {

class Clock {
public:
    using time_point = std::chrono::steady_clock::time_point;
    virtual ~Clock() = default;
    virtual time_point now() const = 0;
    /// A manual clock only moves when a test advances it; due timers then run in run_due_timers().
    virtual bool manual() const { return false; }
};

class SteadyClock final : public Clock {
public:
    time_point now() const override { return std::chrono::steady_clock::now(); }
};

} // namespace enos::device::detail
