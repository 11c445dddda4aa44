// Records a client's connection events as the dispatcher delivers them, for tests to wait on and
// inspect (thread-safe: the handler runs on the dispatcher, the checks on the test's thread).
#pragma once

#include <enos/device/client/connection.hpp>

#include <cstddef>
#include <mutex>
#include <vector>

namespace enos::test {

class ConnectionEvents {
public:
    using Event = device::ConnectionEvent;
    using Kind = device::ConnectionEventKind;

    device::ConnectionHandler handler() {
        return [this](const Event& e) {
            std::lock_guard lock(mutex_);
            events_.push_back(e);
        };
    }
    std::vector<Kind> kinds() {
        std::lock_guard lock(mutex_);
        std::vector<Kind> out;
        for (const Event& e : events_)
            out.push_back(e.kind);
        return out;
    }
    bool has(Kind kind, std::size_t count = 1) {
        std::lock_guard lock(mutex_);
        std::size_t n = 0;
        for (const Event& e : events_)
            n += e.kind == kind;
        return n >= count;
    }
    /// The n-th event of that kind (1-based); a default event if there is none yet.
    Event nth(Kind kind, std::size_t n = 1) {
        std::lock_guard lock(mutex_);
        for (const Event& e : events_)
            if (e.kind == kind && --n == 0) return e;
        return {};
    }
    /// The latest event of that kind; a default event if there is none yet.
    Event last(Kind kind) {
        std::lock_guard lock(mutex_);
        for (auto it = events_.rbegin(); it != events_.rend(); ++it)
            if (it->kind == kind) return *it;
        return {};
    }
    /// The latest event of any kind (there must be one).
    Event last() {
        std::lock_guard lock(mutex_);
        return events_.back();
    }

private:
    std::mutex mutex_;
    std::vector<Event> events_;
};

} // namespace enos::test
