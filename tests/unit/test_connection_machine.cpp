// The connection state machine on its own (docs/client.md, "States and transitions"): no transport,
// no threads, the time handed in.
#include "client/connection_machine.hpp"

#include "support/catch.hpp"

using namespace enos::device;
using namespace enos::device::detail;
using namespace std::chrono_literals;

namespace {

using Kind = ConnectionEventKind;
using State = ConnectionState;

ConnectionMachine machine(bool auto_reconnect = true, std::chrono::milliseconds after_refusal = 5min) {
    return ConnectionMachine(BackoffPolicy{}, 42, auto_reconnect, after_refusal);
}

/// connect() up to the connected state; the session of that link.
std::uint64_t connect(ConnectionMachine& m, ConnectionMachine::Clock::time_point now) {
    ConnectionMachine::Events events;
    const std::uint64_t s = m.begin(false, now);
    REQUIRE(m.link_up(s, now));
    REQUIRE(m.connected(s, events));
    m.queue_told(s);
    REQUIRE(m.settled(s));
    REQUIRE(m.take_result(s));
    m.keep_connected();
    return s;
}

} // namespace

TEST_CASE("connection machine: connect() reaches connected with one event", "[unit]") {
    auto m = machine();
    const ConnectionMachine::Clock::time_point t0{};
    ConnectionMachine::Events events;
    const std::uint64_t s = m.begin(false, t0);
    CHECK(m.state() == State::connecting);
    CHECK_FALSE(m.settled(s));
    REQUIRE(m.link_up(s, t0 + 10ms));
    const ConnectionMachine::Attempt* attempt = m.connected(s, events);
    REQUIRE(attempt);
    CHECK_FALSE(attempt->automatic);
    CHECK(m.state() == State::connected);
    CHECK_FALSE(m.settled(s)); // not before the offline queue knows
    m.queue_told(s);
    CHECK(m.settled(s));
    CHECK(m.take_result(s));
    REQUIRE(events.size() == 1);
    CHECK(events[0].kind == Kind::connected);
    CHECK_FALSE(events[0].reconnect);
}

TEST_CASE("connection machine: news of a superseded attempt changes nothing", "[unit]") {
    auto m = machine();
    const ConnectionMachine::Clock::time_point t0{};
    ConnectionMachine::Events events;
    const std::uint64_t s = m.begin(false, t0);
    REQUIRE(m.failed(s, Error{errc::timeout, "no CONNACK"}, t0, events));
    CHECK(m.state() == State::disconnected);
    CHECK_FALSE(m.link_up(s, t0));
    CHECK_FALSE(m.connected(s, events));
    CHECK_FALSE(m.failed(s, Error{errc::host_unreachable, "late"}, t0, events)); // reported once
    CHECK(m.take_result(s).error() == errc::timeout);
    CHECK(events.empty()); // connect() reports a failure of its own attempt
}

TEST_CASE("connection machine: a refused connect() is reported and never retried", "[unit]") {
    auto m = machine();
    ConnectionMachine::Events events;
    const std::uint64_t s = m.begin(false, {});
    auto failure = m.failed(s, Error{errc::bad_credentials, "CONNACK 4"}, {}, events);
    REQUIRE(failure);
    CHECK_FALSE(failure->retry);
    CHECK(m.state() == State::disconnected);
    REQUIRE(events.size() == 1);
    CHECK(events[0].kind == Kind::refused);
}

TEST_CASE("connection machine: a lost link is retried, a refused retry slows down", "[unit]") {
    auto m = machine();
    const ConnectionMachine::Clock::time_point t0{};
    const std::uint64_t s = connect(m, t0);
    ConnectionMachine::Events events;
    auto retry = m.lost(Error{errc::disconnected, "gone"}, t0 + 1min, events);
    REQUIRE(retry);
    CHECK(retry->session != s);
    CHECK(m.state() == State::waiting_retry);
    REQUIRE(events.size() == 2);
    CHECK(events[0].kind == Kind::lost);
    CHECK(events[1].kind == Kind::retrying);
    CHECK(events[1].retry_in == retry->delay);

    CHECK_FALSE(m.retry_due(retry->session + 1, t0 + 2min)); // another session's timer
    auto attempt = m.retry_due(retry->session, t0 + 2min);
    REQUIRE(attempt);
    CHECK(m.state() == State::connecting);
    CHECK(m.current(*attempt)->automatic);

    events.clear();
    auto failure = m.failed(*attempt, Error{errc::not_authorized, "CONNACK 5"}, t0 + 2min, events);
    REQUIRE(failure);
    REQUIRE(failure->retry);
    CHECK(failure->retry->delay >= 5min);
    CHECK(m.state() == State::waiting_retry);
    REQUIRE(events.size() == 2);
    CHECK(events[0].kind == Kind::refused);
    CHECK(events[0].state == State::waiting_retry);
    CHECK(events[1].kind == Kind::retrying);
    CHECK(events[1].attempt == 2);
}

TEST_CASE("connection machine: without auto_reconnect a lost link stays down", "[unit]") {
    auto m = machine(false);
    connect(m, {});
    ConnectionMachine::Events events;
    CHECK_FALSE(m.lost(Error{errc::disconnected, "gone"}, {}, events));
    CHECK(m.state() == State::disconnected);
    REQUIRE(events.size() == 1);
    CHECK(events[0].state == State::disconnected);
}

TEST_CASE("connection machine: disconnect() stops retries, closing is terminal and happens once", "[unit]") {
    auto m = machine();
    connect(m, {});
    ConnectionMachine::Events events;
    auto retry = m.lost(Error{errc::disconnected, "gone"}, {}, events);
    REQUIRE(retry);
    events.clear();
    m.disconnect(Error{errc::shutting_down, "disconnect() was called"}, events);
    CHECK_FALSE(m.keeps_connected());
    CHECK_FALSE(m.retry_due(retry->session, ConnectionMachine::Clock::time_point{} + 1h));
    REQUIRE(events.size() == 1);
    CHECK(events[0].kind == Kind::closed);

    events.clear();
    CHECK(m.close(Error{errc::shutting_down, "destroyed"}, events));
    CHECK(events.empty()); // disconnect() already reported the close
    CHECK(m.state() == State::closed);
    CHECK(m.closing());
    CHECK_FALSE(m.close(Error{errc::shutting_down, "again"}, events));
    m.end_activation_link();
    CHECK(m.state() == State::closed);
}
