// Reconnect back-off: jitter bounds, determinism, and the connect-rate guarantee (docs/protocol.md §1.7).
#include <enos/device/core/backoff.hpp>

#include "support/catch.hpp"

#include <cstdint>
#include <random>
#include <vector>

using namespace enos::device;
using namespace std::chrono_literals;
using Clock = Backoff::Clock;
using std::chrono::milliseconds;

namespace {

const Clock::time_point start = Clock::time_point{} + 1000h;

/// A policy with no rate rule, to look at the jitter alone.
BackoffPolicy jitter_only() {
    BackoffPolicy p;
    p.window_attempts = 0;
    p.min_spacing = 0ms;
    return p;
}

std::vector<milliseconds> delays(Backoff b, int n) {
    std::vector<milliseconds> out;
    for (int i = 0; i < n; ++i) out.push_back(b.next_delay(start));
    return out;
}

} // namespace

TEST_CASE("default policy is 1 s doubling to 128 s, at most 4 attempts in 120 s, 1 s apart", "[unit][backoff]") {
    const BackoffPolicy p;
    CHECK(p.initial == 1000ms);
    CHECK(p.max == 128000ms);
    CHECK(p.multiplier == 2.0);
    CHECK(p.window_attempts == 4);
    CHECK(p.window == 120000ms);
    CHECK(p.min_spacing == 1000ms);
}

TEST_CASE("same seed, same delays, different seeds, different delays", "[unit][backoff]") {
    const auto a = delays(Backoff(jitter_only(), 42), 30);
    CHECK(a == delays(Backoff(jitter_only(), 42), 30));
    CHECK(a != delays(Backoff(jitter_only(), 43), 30));
    CHECK(delays(Backoff(jitter_only(), 0), 30) != delays(Backoff(jitter_only(), 1), 30));
}

TEST_CASE("full jitter: delay n is spread over [0, min(max, initial * 2^n)]", "[unit][backoff]") {
    constexpr int retries = 12;
    constexpr int seeds = 400;
    std::vector<milliseconds> lowest(retries, milliseconds::max()), highest(retries, 0ms);
    for (std::uint64_t seed = 0; seed < seeds; ++seed) {
        Backoff b(jitter_only(), seed);
        for (int n = 0; n < retries; ++n) {
            const milliseconds d = b.next_delay(start);
            lowest[n] = std::min(lowest[n], d);
            highest[n] = std::max(highest[n], d);
        }
    }
    for (int n = 0; n < retries; ++n) {
        INFO("retry " << n);
        const milliseconds bound = std::min(128000ms, milliseconds(1000LL << n));
        CHECK(lowest[n] >= 0ms);
        CHECK(highest[n] <= bound);
        // 400 uniform draws: the extremes land within 5 % of both ends (failure odds ~1e-9).
        CHECK(lowest[n] <= bound / 20);
        CHECK(highest[n] >= bound - bound / 20);
    }
}

TEST_CASE("the bound saturates at max without overflow, and reset starts over", "[unit][backoff]") {
    Backoff b(jitter_only(), 7);
    for (int i = 0; i < 5000; ++i) REQUIRE(b.next_delay(start) <= 128000ms);
    CHECK(b.retries() > 0);
    b.reset();
    CHECK(b.retries() == 0);
    CHECK(b.next_delay(start) <= 1000ms);
    CHECK(b.next_delay(start) <= 2000ms);
}

TEST_CASE("a multiplier below 1 (or NaN) keeps the bound at initial", "[unit][backoff]") {
    for (double m : {0.5, 0.0, -3.0, std::nan("")}) {
        BackoffPolicy p = jitter_only();
        p.multiplier = m;
        Backoff b(p, 3);
        CHECK(b.policy().multiplier == 1.0);
        for (int i = 0; i < 50; ++i) REQUIRE(b.next_delay(start) <= 1000ms);
    }
}

TEST_CASE("min spacing: never two attempts closer than 1 s", "[unit][backoff]") {
    BackoffPolicy p;
    p.initial = 0ms; // the jitter alone would retry at once
    Backoff b(p, 1);
    b.record_attempt(start);
    CHECK(b.next_delay(start) == 1000ms);
    CHECK(b.next_delay(start + 400ms) == 600ms);
    CHECK(b.next_delay(start + 5s) == 0ms);
}

TEST_CASE("min spacing counts from the broker's answer when it came late", "[unit][backoff]") {
    BackoffPolicy p;
    p.initial = 0ms;
    Backoff b(p, 1);
    b.record_attempt(start);
    b.record_answer(start + 300ms); // TCP and TLS took 300 ms before the broker saw the CONNECT
    CHECK(b.next_delay(start + 400ms) == 900ms);
    b.record_answer(start - 1s); // never earlier than the attempt itself
    CHECK(b.next_delay(start + 400ms) == 900ms);
}

TEST_CASE("window rule: the fifth attempt waits until 120 s after the first", "[unit][backoff]") {
    Backoff b(BackoffPolicy{}, 1);
    for (int i = 0; i < 4; ++i) b.record_attempt(start + std::chrono::seconds(i));
    // Strictly outside the window: 120 s + one clock tick after the first, rounded up to whole ms.
    CHECK(b.next_delay(start + 3s) == 117001ms);
    // reset() after a successful connect does not forget the attempts.
    b.reset();
    CHECK(b.next_delay(start + 3s) == 117001ms);
    // Once the window has passed, only the jitter and spacing remain.
    b.reset();
    CHECK(b.next_delay(start + 200s) <= 1000ms);
}

TEST_CASE("long simulated runs never break the rate rules", "[unit][backoff]") {
    struct Variant {
        BackoffPolicy policy;
        const char* name;
    };
    std::vector<Variant> variants;
    variants.push_back({BackoffPolicy{}, "default"});
    {
        BackoffPolicy p; // the reference SDK's schedule: 8, 16, ... 128 s
        p.initial = 8000ms;
        variants.push_back({p, "8 s start"});
    }
    {
        BackoffPolicy p; // no jitter spread at all: every retry wants to go at once
        p.initial = 0ms;
        p.max = 0ms;
        variants.push_back({p, "zero delays"});
    }
    {
        BackoffPolicy p;
        p.window_attempts = 1;
        p.window = 30000ms;
        p.min_spacing = 250ms;
        variants.push_back({p, "1 per 30 s"});
    }
    {
        BackoffPolicy p;
        p.window_attempts = 6;
        p.window = 60000ms;
        p.min_spacing = 5000ms;
        p.multiplier = 3.0;
        variants.push_back({p, "6 per minute"});
    }

    for (const Variant& v : variants) {
        INFO(v.name);
        const auto window_attempts = static_cast<std::size_t>(v.policy.window_attempts);
        int pushed_by_window = 0;
        for (std::uint64_t seed = 0; seed < 60; ++seed) {
            INFO("seed " << seed);
            Backoff b(v.policy, seed);
            // Same seed without the window rule: draws the same jitter, so any longer delay of `b`
            // is the window rule at work.
            BackoffPolicy unlimited = v.policy;
            unlimited.window_attempts = 0;
            Backoff shadow(unlimited, seed);
            std::mt19937_64 world(seed); // decides when connects succeed and how long links last
            std::vector<Clock::time_point> attempts;
            Clock::time_point now = start;
            b.record_attempt(now);
            shadow.record_attempt(now);
            attempts.push_back(now);
            for (int step = 0; step < 400; ++step) {
                const bool connected = world() % 4 == 0;
                if (connected) {
                    b.reset();
                    shadow.reset();
                    // Links that drop at once are the hard case for the rate rules.
                    now += milliseconds(world() % 3 == 0 ? 0 : world() % 300000);
                }
                const milliseconds delay = b.next_delay(now);
                REQUIRE(delay >= 0ms);
                if (delay > shadow.next_delay(now)) ++pushed_by_window;
                now += delay;
                if (world() % 10 == 0) now += milliseconds(world() % 2000); // the caller ran late
                b.record_attempt(now);
                shadow.record_attempt(now);
                attempts.push_back(now);
            }
            for (std::size_t i = 1; i < attempts.size(); ++i) {
                REQUIRE(attempts[i] - attempts[i - 1] >= v.policy.min_spacing);
                if (i >= window_attempts) REQUIRE(attempts[i] - attempts[i - window_attempts] > v.policy.window);
            }
        }
        CHECK(pushed_by_window > 0); // the window rule was actually exercised
    }
}
