// Reconnect delays: exponential back-off with full jitter, pushed later when needed so that the
// platform's connect-rate limits hold (docs/protocol.md §1.7: at most 1 CONNECT per second and 4 per
// 2 minutes per device, else a 5-minute ban). Pure: the caller supplies the time and the seed.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <vector>

namespace enos::device {

struct BackoffPolicy {
    std::chrono::milliseconds initial{1000}, max{128000}; ///< jitter bound of the first retry, and its cap
    double multiplier = 2.0;                              ///< growth of the bound per retry (values < 1 act as 1)
    int window_attempts = 4;                   ///< at most this many attempts in any `window` (< 1: no limit)
    std::chrono::milliseconds window{120000};  ///< (<= 0: no limit)
    std::chrono::milliseconds min_spacing{1000}; ///< at least this long between two attempts
};

/// Computes how long to wait before the next connect attempt.
///
/// Delay n (counted from the last reset) is drawn uniformly from [0, min(max, initial * multiplier^n)]
/// ("full jitter", so that many devices cut off at once do not reconnect in step), then moved later
/// until (a) it is at least `min_spacing` after the last recorded attempt and (b) more than `window`
/// after the `window_attempts`-th most recent one, so that no closed interval of length `window`
/// ever holds more than `window_attempts` attempts. (b) only holds for attempts the caller records
/// with record_attempt() and makes no earlier than next_delay() said.
///
/// The random source is a SplitMix64 generator seeded by the caller, so a seed gives the same
/// delays on every platform; give each device its own seed (e.g. from its key and the boot time),
/// otherwise devices with equal seeds jitter identically.
class Backoff {
public:
    using Clock = std::chrono::steady_clock;

    explicit Backoff(BackoffPolicy policy = {}, std::uint64_t seed = 0) : policy_(policy), rng_state_(seed) {
        if (!(policy_.multiplier >= 1.0)) policy_.multiplier = 1.0; // also catches NaN
    }

    /// Delay from `now` until the next attempt may start; advances the exponential schedule.
    std::chrono::milliseconds next_delay(Clock::time_point now) {
        using std::chrono::milliseconds;
        const double bound = std::min(static_cast<double>(policy_.max.count()),
                                      static_cast<double>(policy_.initial.count()) *
                                          std::pow(policy_.multiplier, static_cast<double>(retries_)));
        if (retries_ < max_exponent) ++retries_;
        const auto bound_ms = bound > 0 ? static_cast<std::uint64_t>(bound) : 0;
        Clock::time_point earliest = now + milliseconds(static_cast<milliseconds::rep>(uniform(bound_ms)));

        if (!history_.empty()) earliest = std::max(earliest, history_.back() + policy_.min_spacing);
        if (window_limited() && history_.size() >= static_cast<std::size_t>(policy_.window_attempts)) {
            // One clock tick past the window, so the new attempt is strictly outside it.
            const Clock::time_point oldest = history_[history_.size() - static_cast<std::size_t>(policy_.window_attempts)];
            earliest = std::max(earliest, oldest + policy_.window + Clock::duration(1));
        }
        return std::max(milliseconds(0), std::chrono::ceil<milliseconds>(earliest - now));
    }

    /// Records that a connect attempt started at `when` (also the very first one).
    void record_attempt(Clock::time_point when) {
        history_.insert(std::upper_bound(history_.begin(), history_.end(), when), when);
        const std::size_t keep = window_limited() ? static_cast<std::size_t>(policy_.window_attempts) : 1;
        if (history_.size() > keep) history_.erase(history_.begin(), history_.end() - static_cast<std::ptrdiff_t>(keep));
    }

    /// The broker answered the most recent attempt at `when`. It counted that CONNECT no later than
    /// this, and possibly well after the attempt started (TCP and TLS come first), so the spacing to
    /// the next attempt is measured from here.
    void record_answer(Clock::time_point when) {
        if (!history_.empty() && history_.back() < when) history_.back() = when;
    }

    /// After a successful connect: the schedule starts over, the attempt history stays (the rate
    /// limits count every CONNECT, successful or not).
    void reset() noexcept { retries_ = 0; }

    /// Delays handed out since construction or the last reset().
    int retries() const noexcept { return retries_; }
    const BackoffPolicy& policy() const noexcept { return policy_; }

private:
    static constexpr int max_exponent = 1024; // the bound saturates at `max` long before this

    bool window_limited() const noexcept { return policy_.window_attempts >= 1 && policy_.window.count() > 0; }

    std::uint64_t next_random() noexcept { // SplitMix64
        std::uint64_t z = (rng_state_ += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }

    /// Uniform in [0, bound]; the modulo bias is below 2^-40 for any bound a back-off uses.
    std::uint64_t uniform(std::uint64_t bound) noexcept {
        const std::uint64_t r = next_random();
        return bound == UINT64_MAX ? r : r % (bound + 1);
    }

    BackoffPolicy policy_;
    std::uint64_t rng_state_;
    int retries_ = 0;
    std::vector<Clock::time_point> history_; ///< the most recent attempts, oldest first
};

} // namespace enos::device
