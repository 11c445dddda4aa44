// The one thread that runs user code: command handlers, response callbacks, connection events.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

namespace enos::device::detail {

class Dispatcher {
public:
    using Task = std::function<void()>;

    Dispatcher();
    ~Dispatcher();
    Dispatcher(const Dispatcher&) = delete;
    Dispatcher& operator=(const Dispatcher&) = delete;

    /// Queues a task; false once stop() began, and then `task` is left untouched for the caller.
    /// `batched`: the task may wait for the end of a nap (see set_awaited()); others wake the thread.
    bool post(Task&& task, bool batched = false);
    bool on_dispatcher_thread() const noexcept;

    /// How many replies the client awaits. While PipelineTuning::naps() says so, the thread naps
    /// when it runs out of tasks instead of sleeping until woken; a batched task then waits at most
    /// one nap for the thread. Commands and connection events wake it at once.
    void set_awaited(std::size_t replies) noexcept {
        state_->awaited.store(replies, std::memory_order_relaxed);
    }

    /// Runs what is queued, then ends the thread. Bounded: if a task is still running when `bound`
    /// expires, the thread is left to finish it alone and drops the rest. Called on the dispatcher
    /// thread itself (from inside a task), it runs the queue inline and lets the thread end after the
    /// current task.
    void stop(std::chrono::milliseconds bound);

private:
    // Shared with the thread, so a detached thread never touches a destroyed Dispatcher.
    struct State {
        std::mutex mutex;
        std::condition_variable wake;
        std::condition_variable idle;
        std::deque<Task> tasks;
        bool accepting = true;
        bool exit = false;
        bool busy = false;
        enum class Sleep { awake, napping, idle };
        Sleep sleep = Sleep::awake; ///< only a sleeping thread needs a notify
        std::atomic<std::size_t> awaited{0};
        std::thread::id thread_id;
    };
    static void run(const std::shared_ptr<State>& state);

    std::shared_ptr<State> state_;
    std::thread thread_;
};

} // namespace enos::device::detail
