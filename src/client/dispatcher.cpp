#include "client/dispatcher.hpp"
#include "client/pipeline_tuning.hpp"

namespace enos::device::detail {

Dispatcher::Dispatcher() : state_(std::make_shared<State>()) {
    std::unique_lock lock(state_->mutex);
    thread_ = std::thread([state = state_] { run(state); });
    state_->thread_id = thread_.get_id();
}

Dispatcher::~Dispatcher() {
    stop(std::chrono::milliseconds(0));
}

bool Dispatcher::post(Task&& task, bool batched) {
    using Sleep = State::Sleep;
    bool wake;
    {
        std::lock_guard lock(state_->mutex);
        if (!state_->accepting) return false;
        state_->tasks.push_back(std::move(task));
        wake = state_->sleep == Sleep::idle || (state_->sleep == Sleep::napping && !batched);
        if (wake) state_->sleep = Sleep::awake; // one notify per sleep: later tasks need none
    }
    if (wake) state_->wake.notify_one(); // a busy thread finds the task on its next turn
    return true;
}

bool Dispatcher::on_dispatcher_thread() const noexcept {
    return std::this_thread::get_id() == state_->thread_id;
}

void Dispatcher::run(const std::shared_ptr<State>& state) {
    int empty_naps = 0; // at the limit, replies stopped coming for now: sleep until woken
    std::unique_lock lock(state->mutex);
    while (true) {
        while (!state->exit && state->tasks.empty()) {
            if (PipelineTuning::naps(state->awaited.load(std::memory_order_relaxed)) &&
                empty_naps < PipelineTuning::max_empty_naps) {
                ++empty_naps;
                state->sleep = State::Sleep::napping;
                state->wake.wait_for(lock, PipelineTuning::nap);
                continue;
            }
            state->sleep = State::Sleep::idle; // again after a spurious wake-up
            state->wake.wait(lock);
        }
        state->sleep = State::Sleep::awake;
        empty_naps = 0;
        if (state->exit) break;
        Task task = std::move(state->tasks.front());
        state->tasks.pop_front();
        state->busy = true;
        lock.unlock();
        try {
            task();
        } catch (...) {
            // Tasks wrap user code and report its exceptions themselves; nothing may end the thread.
        }
        task = nullptr; // user captures die here, outside the lock
        lock.lock();
        state->busy = false;
        if (state->tasks.empty()) state->idle.notify_all();
    }
}

void Dispatcher::stop(std::chrono::milliseconds bound) {
    if (!thread_.joinable()) return;
    if (on_dispatcher_thread()) {
        std::deque<Task> rest;
        {
            std::lock_guard lock(state_->mutex);
            state_->accepting = false;
        }
        while (true) { // tasks may queue more tasks while we drain
            {
                std::lock_guard lock(state_->mutex);
                if (state_->tasks.empty()) {
                    state_->exit = true;
                    break;
                }
                rest.swap(state_->tasks);
            }
            for (Task& task : rest) {
                try {
                    task();
                } catch (...) {
                }
            }
            rest.clear();
        }
        thread_.detach();
        return;
    }
    std::deque<Task> dropped;
    bool running;
    {
        std::unique_lock lock(state_->mutex);
        state_->accepting = false;
        state_->idle.wait_for(lock, bound, [&] { return state_->tasks.empty() && !state_->busy; });
        state_->exit = true;
        dropped.swap(state_->tasks);
        running = state_->busy;
    }
    state_->wake.notify_all();
    dropped.clear(); // outside the lock: destroying a task may post (e.g. an unanswered Responder)
    // An idle thread leaves its loop at once; one stuck in a task past the bound is left to finish alone.
    if (running)
        thread_.detach();
    else
        thread_.join();
}

} // namespace enos::device::detail
