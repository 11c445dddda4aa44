// The client's one deadline queue: request timeouts, connect-attempt bounds, reconnect delays.
// Timer functions are the SDK's own short bookkeeping (they never run user code), so one thread
// serves them all.
#pragma once

#include "client/clock.hpp"

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

namespace enos::device::detail {

class TimerQueue {
public:
    using Fn = std::function<void()>;

    /// With a manual clock no thread is started: due timers run in run_due().
    explicit TimerQueue(std::shared_ptr<const Clock> clock);
    ~TimerQueue();
    TimerQueue(const TimerQueue&) = delete;
    TimerQueue& operator=(const TimerQueue&) = delete;

    /// Runs `fn` once at or after `when`, unless stopped first. Functions check themselves whether
    /// what they guard is still current (cancellation is lazy).
    void schedule(Clock::time_point when, Fn fn);
    /// Runs every timer due by the clock, on the calling thread.
    void run_due();
    /// Ends the thread after the timer running now; pending timers are dropped.
    void stop();
    const Clock& clock() const noexcept { return *clock_; }

private:
    struct Entry {
        Clock::time_point when;
        std::uint64_t order;
        Fn fn;
        bool operator>(const Entry& other) const {
            return when != other.when ? when > other.when : order > other.order;
        }
    };
    struct State {
        std::mutex mutex;
        std::condition_variable wake;
        std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap;
        std::uint64_t next_order = 0;
        bool stopped = false;
    };
    static void run(const std::shared_ptr<State>& state, const std::shared_ptr<const Clock>& clock);
    static std::vector<Fn> take_due(State& state, Clock::time_point now);

    std::shared_ptr<const Clock> clock_;
    std::shared_ptr<State> state_;
    std::thread thread_;
};

} // namespace enos::device::detail
