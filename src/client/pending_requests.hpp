// The requests awaiting their reply, with their deadlines, and the keys of requests that ended
// without one, so that a late reply is told apart from a stray one. Not thread-safe: the client core
// uses it under its lock, and runs the completions it hands back after unlocking.
#pragma once

#include "client/clock.hpp"
#include <enos/device/client/device_client.hpp>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace enos::device::detail {

/// Runs exactly once with the outcome; never user code itself (it wakes a waiter or posts the
/// user's callback to the dispatcher), so it may run on any thread.
using Completion = std::function<void(Result<Response>)>;

class PendingRequests {
public:
    /// "reply topic#id" ('#' cannot appear in a topic name); raw requests have no id.
    static std::string key(const std::string& reply_topic, std::string_view id);

    std::size_t size() const noexcept { return pending_.size(); }
    bool contains(const std::string& key) const { return pending_.count(key) != 0; }
    /// The request `seq` still waits under `key` (not completed, nor replaced by a later one).
    bool waits(const std::string& key, std::uint64_t seq) const;
    std::optional<Clock::time_point> next_deadline() const;

    void add(const std::string& key, std::uint64_t seq, Clock::time_point deadline, Completion done);

    /// Takes request `seq` out without its reply (failure or timeout); its key is remembered.
    /// Empty if it no longer waits.
    Completion take(const std::string& key, std::uint64_t seq);

    enum class Match { matched, late, unmatched };
    /// A reply arrived for `key`: on `matched`, `done` is the request's completion.
    Match take_reply(const std::string& key, Completion& done);

    /// The requests whose deadline is not after `now`, with their keys, oldest deadline first.
    std::vector<std::pair<Completion, std::string>> take_expired(Clock::time_point now);

    /// Every request, when the link ends; their keys are remembered.
    std::vector<Completion> take_all();

    /// A new link: ids start again, so what ended before can no longer be told apart.
    void forget_ended();

private:
    struct Pending {
        std::uint64_t seq = 0;
        Clock::time_point deadline;
        Completion done;
    };
    using Deadline = std::pair<Clock::time_point, std::uint64_t>; ///< (when, seq)

    void remember_ended(const std::string& key);

    std::unordered_map<std::string, Pending> pending_;
    std::map<Deadline, const std::string*> deadlines_; ///< points at the key inside pending_ (stable)
    std::unordered_set<std::string> ended_;
    std::deque<std::string> ended_order_; ///< the oldest is forgotten beyond a bound
};

} // namespace enos::device::detail
