#include "client/timer_queue.hpp"

namespace enos::device::detail {

TimerQueue::TimerQueue(std::shared_ptr<const Clock> clock)
    : clock_(std::move(clock)), state_(std::make_shared<State>()) {
    if (!clock_->manual()) thread_ = std::thread([state = state_, clock = clock_] { run(state, clock); });
}

TimerQueue::~TimerQueue() {
    stop();
}

void TimerQueue::schedule(Clock::time_point when, Fn fn) {
    {
        std::lock_guard lock(state_->mutex);
        if (state_->stopped) return;
        state_->heap.push(Entry{when, state_->next_order++, std::move(fn)});
    }
    state_->wake.notify_one();
}

std::vector<TimerQueue::Fn> TimerQueue::take_due(State& state, Clock::time_point now) {
    std::vector<Fn> due;
    while (!state.heap.empty() && state.heap.top().when <= now) {
        due.push_back(std::move(const_cast<Entry&>(state.heap.top()).fn));
        state.heap.pop();
    }
    return due;
}

void TimerQueue::run_due() {
    std::vector<Fn> due;
    {
        std::lock_guard lock(state_->mutex);
        if (state_->stopped) return;
        due = take_due(*state_, clock_->now());
    }
    for (Fn& fn : due)
        fn();
}

void TimerQueue::run(const std::shared_ptr<State>& state, const std::shared_ptr<const Clock>& clock) {
    std::unique_lock lock(state->mutex);
    while (!state->stopped) {
        if (state->heap.empty()) {
            state->wake.wait(lock);
            continue;
        }
        const Clock::time_point next = state->heap.top().when;
        if (clock->now() < next) {
            state->wake.wait_until(lock, next);
            continue;
        }
        std::vector<Fn> due = take_due(*state, clock->now());
        lock.unlock();
        for (Fn& fn : due)
            fn();
        due.clear();
        lock.lock();
    }
}

void TimerQueue::stop() {
    std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> dropped;
    {
        std::lock_guard lock(state_->mutex);
        state_->stopped = true;
        dropped.swap(state_->heap);
    }
    state_->wake.notify_all();
    if (thread_.joinable()) {
        // A timer function may hold the last reference to the client and so end up here.
        if (std::this_thread::get_id() == thread_.get_id())
            thread_.detach();
        else
            thread_.join();
    }
}

} // namespace enos::device::detail
