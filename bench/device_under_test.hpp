// What bench/client_vs_paho.cpp needs from a device implementation: the SDK's DeviceClient and the
// hand-written raw-Paho device both provide it, so every workload runs the same code around them.
#pragma once

#include "client_bench_common.hpp"

#include <enos/device/core/value.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace bench {

/// Where replies are counted: `done` once per reply, `failed` also when its code was not 200.
struct Tally {
    Counter done;
    std::atomic<std::int64_t> failed{0};
    void record(bool ok) {
        if (!ok) ++failed;
        done.add();
    }
};

class DeviceUnderTest {
public:
    virtual ~DeviceUnderTest() = default;
    /// Connects and subscribes the command topics, i.e. until the device can send and receive;
    /// returns the seconds that took.
    virtual double connect_seconds() = 0;
    /// Fire-and-forget measure-point post at QoS 0.
    virtual void post_qos0(const enos::device::Points& points, std::int64_t time_ms) = 0;
    /// Measure-point post at QoS 1 whose reply is counted in `tally` when it arrives.
    virtual void post_qos1(const enos::device::Points& points, std::int64_t time_ms, Tally& tally) = 0;
    /// Measure-point post at QoS 1 that returns once its reply is counted in `tally` (window 1);
    /// false if the reply did not come within `patience`.
    virtual bool post_qos1_and_wait(const enos::device::Points& points, std::int64_t time_ms, Tally& tally,
                                    std::chrono::seconds patience) {
        const std::int64_t target = tally.done.value() + 1;
        post_qos1(points, time_ms, tally);
        return tally.done.wait_for_at_least(target, Clock::now() + patience);
    }
    /// Before connect: answer RRPC requests by echoing their params as data.
    virtual void answer_rrpc_by_echo() = 0;
    /// Requests still waiting for their reply.
    virtual std::size_t pending() = 0;
};

} // namespace bench
