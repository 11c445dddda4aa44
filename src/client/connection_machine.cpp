#include "client/connection_machine.hpp"

namespace enos::device::detail {
namespace {

bool is_refusal(const Error& e) {
    return e == errc::bad_credentials || e == errc::not_authorized || e == errc::identifier_rejected ||
           e == errc::protocol_rejected;
}

ConnectionEvent event_of(ConnectionEventKind kind, ConnectionState state, Error reason = {}) {
    ConnectionEvent event;
    event.kind = kind;
    event.state = state;
    event.reason = std::move(reason);
    return event;
}

} // namespace

ConnectionMachine::ConnectionMachine(BackoffPolicy policy, std::uint64_t seed, bool auto_reconnect,
                                     std::chrono::milliseconds retry_after_refusal)
    : auto_reconnect_(auto_reconnect), retry_after_refusal_(retry_after_refusal), backoff_(policy, seed) {}

std::uint64_t ConnectionMachine::begin(bool activation, Clock::time_point now) {
    const std::uint64_t session = ++session_;
    state_ = ConnectionState::connecting;
    retry_attempt_ = 0;
    attempts_[session].activation = activation;
    backoff_.record_attempt(now);
    return session;
}

std::optional<std::uint64_t> ConnectionMachine::retry_due(std::uint64_t session, Clock::time_point now) {
    if (session != session_ || closing_ || state_ != ConnectionState::waiting_retry) return std::nullopt;
    const std::uint64_t attempt = ++session_;
    state_ = ConnectionState::connecting;
    attempts_[attempt].automatic = true;
    backoff_.record_attempt(now);
    return attempt;
}

ConnectionMachine::Attempt* ConnectionMachine::current(std::uint64_t session) {
    if (session != session_ || closing_) return nullptr;
    auto it = attempts_.find(session);
    return it == attempts_.end() ? nullptr : &it->second;
}

ConnectionMachine::Attempt* ConnectionMachine::link_up(std::uint64_t session, Clock::time_point now) {
    Attempt* attempt = current(session);
    if (!attempt) return nullptr;
    attempt->link_up = true;
    backoff_.record_answer(now); // the platform's limits count CONNECTs as the hub sees them
    return attempt;
}

const ConnectionMachine::Attempt* ConnectionMachine::connected(std::uint64_t session, Events& events) {
    Attempt* attempt = current(session);
    if (!attempt) return nullptr;
    state_ = ConnectionState::connected;
    backoff_.reset();
    retry_attempt_ = 0;
    attempt->finished = true;
    attempt->queue_told = false;
    if (!attempt->activation) {
        ConnectionEvent event = event_of(ConnectionEventKind::connected, state_);
        event.reconnect = attempt->automatic;
        events.push_back(event);
    }
    return attempt;
}

void ConnectionMachine::queue_told(std::uint64_t session) {
    auto it = attempts_.find(session);
    if (it == attempts_.end()) return;
    if (it->second.automatic)
        attempts_.erase(it); // nobody waits for automatic attempts
    else
        it->second.queue_told = true;
}

bool ConnectionMachine::settled(std::uint64_t session) const {
    auto it = attempts_.find(session);
    return it == attempts_.end() || (it->second.finished && it->second.queue_told);
}

Status ConnectionMachine::take_result(std::uint64_t session) {
    auto it = attempts_.find(session);
    if (it == attempts_.end()) return Error{errc::disconnected, "the connect attempt was superseded"};
    Status result = std::move(it->second.result);
    attempts_.erase(it);
    return result;
}

std::optional<ConnectionMachine::Failure> ConnectionMachine::failed(std::uint64_t session, const Error& error,
                                                                    Clock::time_point now, Events& events) {
    Attempt* attempt = current(session);
    if (!attempt || attempt->finished) return std::nullopt;
    ++session_; // whatever this attempt still reports is stale now
    Failure failure;
    failure.link_was_up = attempt->link_up;
    attempt->finished = true;
    attempt->result = error;
    const bool automatic = attempt->automatic;
    if (automatic) attempts_.erase(session);
    const bool retrying = automatic && keep_connected_ && auto_reconnect_;
    if (is_refusal(error)) {
        // A wrong secret or a disabled device does not heal quickly, and every CONNECT counts against
        // the platform's limits: connect() reports it at once; a reconnect keeps trying, but slowly.
        if (retrying && retry_after_refusal_.count() > 0) {
            events.push_back(event_of(ConnectionEventKind::refused, ConnectionState::waiting_retry, error));
            failure.retry = schedule_retry(error, now, retry_after_refusal_, events);
        } else {
            keep_connected_ = false;
            state_ = ConnectionState::disconnected;
            events.push_back(event_of(ConnectionEventKind::refused, state_, error));
        }
    } else if (retrying) {
        failure.retry = schedule_retry(error, now, std::chrono::milliseconds(0), events);
    } else {
        state_ = ConnectionState::disconnected;
    }
    return failure;
}

std::optional<ConnectionMachine::Retry> ConnectionMachine::lost(const Error& cause, Clock::time_point now,
                                                                Events& events) {
    end_session(Error{errc::disconnected, cause.detail});
    if (keep_connected_ && auto_reconnect_) {
        events.push_back(event_of(ConnectionEventKind::lost, ConnectionState::waiting_retry, cause));
        return schedule_retry(cause, now, std::chrono::milliseconds(0), events);
    }
    state_ = ConnectionState::disconnected;
    events.push_back(event_of(ConnectionEventKind::lost, state_, cause));
    return std::nullopt;
}

void ConnectionMachine::disconnect(const Error& why, Events& events) {
    keep_connected_ = false;
    const bool was_up = state_ != ConnectionState::disconnected;
    end_session(why);
    state_ = ConnectionState::disconnected;
    if (was_up) events.push_back(event_of(ConnectionEventKind::closed, state_));
}

bool ConnectionMachine::close(const Error& why, Events& events) {
    if (closing_) return false;
    closing_ = true;
    end_session(why);
    const bool was_up = state_ != ConnectionState::disconnected; // disconnect() already said so
    state_ = ConnectionState::closed;
    if (was_up) events.push_back(event_of(ConnectionEventKind::closed, state_));
    return true;
}

void ConnectionMachine::end_activation_link() {
    ++session_;
    if (!closing_) state_ = ConnectionState::disconnected;
}

std::chrono::milliseconds ConnectionMachine::after_activation(Clock::time_point now) {
    const std::chrono::milliseconds wait = backoff_.next_delay(now); // one CONNECT per second at most
    backoff_.reset();
    return wait;
}

void ConnectionMachine::end_session(const Error& why) {
    ++session_;
    for (auto& [id, attempt] : attempts_) {
        attempt.queue_told = true; // a link that ended is never handed to the queue: nobody waits for it
        if (attempt.finished) continue;
        attempt.finished = true;
        attempt.result = why;
    }
}

ConnectionMachine::Retry ConnectionMachine::schedule_retry(const Error& why, Clock::time_point now,
                                                           std::chrono::milliseconds at_least,
                                                           Events& events) {
    state_ = ConnectionState::waiting_retry;
    ConnectionEvent event = event_of(ConnectionEventKind::retrying, state_, why);
    event.retry_in = std::max(backoff_.next_delay(now), at_least);
    event.attempt = ++retry_attempt_;
    events.push_back(event);
    return Retry{session_, event.retry_in};
}

} // namespace enos::device::detail
