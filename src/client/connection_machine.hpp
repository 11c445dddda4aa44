// The connection state machine of docs/client.md ("States and transitions"): the state, the
// session counter that makes stale callbacks harmless, the connect attempts in flight and the
// reconnect schedule. No I/O, no lock, no timer: the client core calls it under its own lock and
// carries out what it answers (launch an attempt, arm a retry timer, emit the events).
#pragma once

#include <enos/device/client/connection.hpp>
#include <enos/device/core/backoff.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

namespace enos::device::detail {

class ConnectionMachine {
public:
    using Clock = std::chrono::steady_clock;
    using Events = std::vector<ConnectionEvent>;

    /// Outcome of one connect attempt, for connect() waiting on it.
    struct Attempt {
        bool activation = false;
        bool automatic = false;
        bool link_up = false;
        bool finished = false;
        bool queue_told = true; ///< false while a connected link is not yet handed to the offline queue
        Status result;
    };
    /// An automatic attempt to start after `delay`, if `session` is still current then.
    struct Retry {
        std::uint64_t session;
        std::chrono::milliseconds delay;
    };
    struct Failure {
        bool link_was_up = false;   ///< the attempt's half-open link must be closed
        std::optional<Retry> retry; ///< arm this retry
    };

    ConnectionMachine(BackoffPolicy policy, std::uint64_t seed, bool auto_reconnect,
                      std::chrono::milliseconds retry_after_refusal);

    ConnectionState state() const noexcept { return state_; }
    bool closing() const noexcept { return closing_; }
    /// Bumped per attempt and whenever a link ends: callbacks carrying an older one are stale.
    std::uint64_t session() const noexcept { return session_; }
    /// Whether reconnecting after a loss is wanted: a connect() succeeded and no disconnect() since.
    bool keeps_connected() const noexcept { return keep_connected_; }
    void keep_connected() noexcept { keep_connected_ = true; }

    // --- attempts -----------------------------------------------------------------------------------

    /// connect() starts an attempt (an `activation` one uses the product secret); returns its session.
    std::uint64_t begin(bool activation, Clock::time_point now);
    /// The retry timer of `session` fired: the session of the automatic attempt to launch, if any.
    std::optional<std::uint64_t> retry_due(std::uint64_t session, Clock::time_point now);
    /// The attempt of `session` while it is current; null once stale.
    Attempt* current(std::uint64_t session);
    /// The transport connected (CONNACK): the broker counted the CONNECT no later than `now`.
    Attempt* link_up(std::uint64_t session, Clock::time_point now);
    /// The command topics are subscribed: the link is up. Null when stale.
    const Attempt* connected(std::uint64_t session, Events& events);
    /// The offline queue knows about the link: a waiting connect() may return.
    void queue_told(std::uint64_t session);
    /// Whether connect() waiting on `session` may stop waiting.
    bool settled(std::uint64_t session) const;
    /// The result of a settled attempt connect() waited on; forgets the attempt.
    Status take_result(std::uint64_t session);
    /// The attempt of `session` failed; nullopt when that is stale news.
    std::optional<Failure> failed(std::uint64_t session, const Error& error, Clock::time_point now,
                                  Events& events);

    // --- ends of links ------------------------------------------------------------------------------

    /// A connected link dropped; the retry to arm, if any. Call only in state connected.
    std::optional<Retry> lost(const Error& cause, Clock::time_point now, Events& events);
    /// disconnect(): no reconnecting until the next connect().
    void disconnect(const Error& why, Events& events);
    /// The client is being destroyed; false when it already was.
    bool close(const Error& why, Events& events);
    /// The activation link was closed on purpose.
    void end_activation_link();
    /// After dynamic activation: how long until the next CONNECT is allowed; the schedule restarts.
    std::chrono::milliseconds after_activation(Clock::time_point now);

private:
    void end_session(const Error& why);
    Retry schedule_retry(const Error& why, Clock::time_point now, std::chrono::milliseconds at_least,
                         Events& events);

    const bool auto_reconnect_;
    const std::chrono::milliseconds retry_after_refusal_;
    ConnectionState state_ = ConnectionState::disconnected;
    std::uint64_t session_ = 0;
    bool closing_ = false;
    bool keep_connected_ = false;
    int retry_attempt_ = 0;
    Backoff backoff_;
    std::map<std::uint64_t, Attempt> attempts_;
};

} // namespace enos::device::detail
